/**
 * The function form (`asFunction`): the loss as one node of the custom domain `ai.focal`
 * (BinaryFocalLoss, MultiLabelFocalLoss, MultiClassFocalLoss) with attributes alpha, gamma, eps and
 * reduction, defined by a model-local function whose body is standard ops only (flat: no nested
 * function calls, which onnxruntime mishandles — shared/design/ONNX-FACTS.md).
 *
 * Numbers: ONNX function attributes are FLOAT (float32), so the function form computes with α, γ
 * and eps rounded to float32 even in a float64 model. It is compared with the flat form built from
 * those rounded parameters (Math.fround): float64 within 1e-12 and float32 within 1e-6 relative to
 * the largest magnitude. (The two bodies may round differently in the last bit: the flat graph folds
 * log eps in float64 before storing it and specialises γ = 2 as m·m, the function computes in the
 * graph's type and calls Pow. On the golden cases they measure bit-identical in onnxruntime-node
 * 1.30.) Its gradient also meets the bound against PyTorch (GRAD_RTOL): the float32
 * parameters move a float64 gradient by at most 4e-8 relative on the golden cases.
 * onnxruntime-web gets the same comparison in test/web/fixtures.test.ts.
 */
import { FUNCTION_NAMES, FOCAL_DOMAIN, buildLoss } from '../../src/losses';
import { AttrInfo, decodeModel, irVersionFor } from '../../src/onnx';
import { FIXTURES, FixtureCase, GRAD_RTOL, caseDims, caseOptions, expectNear, froundOptions } from '../helpers/fixtures';
import { HostTensor, runModel } from '../helpers/ort';
import { recordModel } from '../helpers/record-model';

/** Function form vs the flat form with float32-rounded parameters. */
const FUNCTION_RTOL = { float32: 1e-6, float64: 1e-12 } as const;

function caseInputs(c: FixtureCase, targetDtype: HostTensor['dtype']): Record<string, HostTensor> {
  const dims = caseDims(c);
  return {
    pred: { dtype: c.dtype, dims: dims.pred, data: c.pred },
    target: { dtype: targetDtype, dims: dims.target, data: c.target },
  };
}

describe('the ai.focal node and its function', () => {
  const TASKS = ['binary', 'multilabel', 'multiclass'] as const;
  describe.each([13, 17, 21])('opset %i', (opset) => {
    it.each(TASKS.flatMap((task) => [false, true].map((withGrad) => [task, withGrad] as const)))('%s, withGrad %p', (task, withGrad) => {
      const alpha = task === 'binary' ? 0.25 : [0.2, 0.8];
      const m = buildLoss({ task, opset, alpha, gamma: 1.5, eps: 1e-3, reduction: 'sum', asFunction: true, withGrad });
      recordModel(`function-structure-${task}${withGrad ? '-grad' : ''}`, m.bytes);
      const d = decodeModel(m.bytes);
      expect(d.irVersion).toBe(Math.max(irVersionFor(opset), 8));
      expect(d.opsets).toEqual({ '': opset, [FOCAL_DOMAIN]: 1 });
      const outputs = withGrad ? ['loss', 'grad'] : ['loss'];
      // One node: the custom op with its attributes (floats are float32 on the wire).
      expect(d.graph.nodes).toHaveLength(1);
      const [node] = d.graph.nodes;
      expect(node).toMatchObject({ opType: FUNCTION_NAMES[task], domain: FOCAL_DOMAIN, inputs: ['pred', 'target'], outputs });
      expect(node.attributes).toEqual<Record<string, AttrInfo>>({
        alpha: typeof alpha === 'number' ? Math.fround(alpha) : alpha.map(Math.fround),
        gamma: 1.5,
        eps: Math.fround(1e-3),
        reduction: 'sum',
      });
      // One function, its body flat: standard ops only, of the model's opset.
      expect(d.functions).toHaveLength(1);
      const [f] = d.functions;
      expect(f).toMatchObject({ domain: FOCAL_DOMAIN, name: FUNCTION_NAMES[task], inputs: ['pred', 'target'], outputs, opsets: { '': opset } });
      expect(f.attributes).toEqual(['alpha', 'eps', 'gamma', 'reduction']);
      expect(f.nodes.every((n) => n.domain === '')).toBe(true);
      expect(f.nodes.some((n) => n.opType === FUNCTION_NAMES[task])).toBe(false);
      // α, γ and eps come from the caller: Constants with ref_attr_name.
      const refs = f.nodes.flatMap((n) => Object.values(n.attributes)).filter((a): a is { ref: string } => !!a && typeof a === 'object' && 'ref' in a);
      expect(new Set(refs.map((r) => r.ref))).toEqual(new Set(['alpha', 'gamma', 'eps']));
    });
  });

  it('has no alpha attribute when unweighted', () => {
    const d = decodeModel(buildLoss({ alpha: 'none', asFunction: true }).bytes);
    expect(Object.keys(d.graph.nodes[0].attributes).sort()).toEqual(['eps', 'gamma', 'reduction']);
    expect(d.functions[0].attributes).toEqual(['eps', 'gamma', 'reduction']);
  });
});

describe('function form = flat form with float32 parameters, loss and grad (every golden case, onnxruntime-node)', () => {
  test.each(FIXTURES.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const fn = buildLoss(caseOptions(c, { asFunction: true, withGrad: true }));
    const flat = buildLoss(froundOptions(caseOptions(c, { withGrad: true })));
    recordModel(`function-${c.id}`, fn.bytes);
    const inputs = caseInputs(c, fn.options.targetDtype);
    const a = await runModel(fn.bytes, inputs);
    const b = await runModel(flat.bytes, inputs);
    const rtol = FUNCTION_RTOL[c.dtype];
    expectNear(a.loss.data, b.loss.data, rtol, `${c.id} loss: function vs flat`);
    expectNear(a.grad.data, b.grad.data, rtol, `${c.id} grad: function vs flat`);
    expectNear(a.grad.data, c.grad, GRAD_RTOL, `${c.id} grad of the function form vs PyTorch`);
  });
});

describe('onnxruntime without ahead-of-time function inlining', () => {
  it.each(['binary', 'multilabel', 'multiclass'] as const)('%s: the same numbers', async (task) => {
    const c = FIXTURES.find((f) => f.task === task && f.input === 'logits' && f.dtype === 'float32' && f.alpha !== null);
    if (!c) throw new Error(`no ${task} fixture`);
    const fn = buildLoss(caseOptions(c, { asFunction: true, withGrad: true }));
    const inputs = caseInputs(c, fn.options.targetDtype);
    const inlined = await runModel(fn.bytes, inputs);
    const late = await runModel(fn.bytes, inputs, { extra: { session: { disable_aot_function_inlining: '1' } } });
    expect(late.loss.data).toEqual(inlined.loss.data);
    expect(late.grad.data).toEqual(inlined.grad.data);
  });
});
