/**
 * Property: for any valid option set and any data that fits it, the model `buildLoss` makes
 * passes the project's checks (model-checks.ts) and, run in onnxruntime-node, equals the
 * independent float64 reference of the seed's formula (test/helpers/focal-reference.ts) within
 * the tolerance derived in tolerance.ts.
 *
 * Seeded (fc-config.ts): FOCAL_FC_SEED=<n> explores another seed, FOCAL_FC_RUNS=<factor> runs more.
 */
import fc from 'fast-check';
import { BuildExtras, buildLoss } from '../../src/losses';
import { RefOptions, focalElements, focalLoss, froundParams, compensatedSum } from '../helpers/focal-reference';
import { runModel } from '../helpers/ort';
import { recordModel } from '../helpers/record-model';
import { Case, caseArb, caseDims, casePredShape, lossOptions, roundTo } from './arbitraries';
import { fcParams } from './fc-config';
import { checkModel } from './model-checks';
import { mismatch, toleranceFor } from './tolerance';

function refOptions(c: Case): RefOptions {
  const o = c.options;
  const r: RefOptions = {
    task: o.task,
    input: o.input,
    alpha: o.alpha === 'none' ? null : o.alpha,
    gamma: o.gamma,
    eps: o.eps,
    reduction: o.reduction,
    targets: o.targets,
    labelSmoothing: o.labelSmoothing,
    labelMean: o.labelMean && o.task === 'multilabel',
    softForm: o.targets === 'soft' || (o.labelSmoothing ?? 0) > 0,
    // The soft form's probability clip as the model holds it: float32 constants (or attributes) round.
    // (A float64 function's eps is a float32 attribute, which froundParams rounds below.)
    ...(o.dtype !== 'float64' ? { clipBounds: [Math.fround(o.eps), Math.fround(1 - (o.asFunction ? Math.fround(o.eps) : o.eps))] as const } : {}),
  };
  // The function form's body reads α, γ and eps from float32 attributes. (A flat float32 model
  // rounds its derived constants — α − 1, 1 − 2α, log eps — each to float32, which is within the
  // tolerance; rounding α first would not be, e.g. for α = 0.99994 and a target 0.)
  return o.asFunction ? froundParams(r) : r;
}

let built = 0;

async function checkCase(c: Case): Promise<void> {
  const predShape = casePredShape(c);
  const extras: BuildExtras = { ...(c.perLabel ? { perLabel: true } : {}), ...(predShape ? { predShape } : {}) };
  const m = buildLoss(lossOptions(c.options), extras);
  // A sample for CI's ONNX checker (every fourth model; the names say what they are).
  if (built++ % 4 === 0) {
    const o = c.options;
    recordModel(`property-${o.task}-${o.input}-${o.form}-${o.dtype}-opset${o.opset}${o.asFunction ? '-fn' : ''}-${built}`, m.bytes);
  }
  checkModel(m, extras);

  const d = caseDims(c);
  const out = await runModel(m.bytes, {
    pred: { dtype: m.options.dtype, dims: d.pred, data: c.pred },
    target: { dtype: m.options.targetDtype, dims: d.target, data: c.target },
    ...(d.weight && c.weight ? { weight: { dtype: m.options.dtype, dims: d.weight, data: c.weight } } : {}),
  });

  const ro = refOptions(c);
  const w = c.options.weight ?? 'none';
  const data = { pred: c.pred, target: c.target, cols: c.cols, ...(c.weight && w !== 'none' ? { weight: c.weight, weightPer: w } : {}) };
  const expected = focalLoss(ro, data);
  const r = c.options.input === 'logits' ? Math.max(1, ...c.pred.map(Math.abs)) : 1;
  const tol = toleranceFor(c.options.dtype, r);
  const elements = c.options.task === 'multiclass' || (c.options.labelMean && c.options.task === 'multilabel') ? c.n : c.pred.length;
  // Weights (≤ 2) scale each element's absolute error; the soft multiclass loss sums C terms a row.
  const scale = (c.weight ? 2 : 1) * (c.options.task === 'multiclass' && (c.options.targets === 'soft' || (c.options.labelSmoothing ?? 0) > 0) ? c.cols : 1);
  const what = mismatch(out.loss.data, expected, tol, (c.options.reduction === 'sum' ? elements : 1) * scale);
  if (what) throw new Error(`loss: ${what}`);
  if (out.loss.dtype !== c.options.dtype) throw new Error(`loss dtype ${out.loss.dtype}, expected ${c.options.dtype}`);

  if (c.perLabel) {
    // The seed's per-label vector: each label column's mean (or sum) over the N rows.
    const el = focalElements(ro, data);
    const cols = Array.from({ length: c.cols }, (_, l) => {
      const s = compensatedSum(el.filter((_, i) => i % c.cols === l));
      return c.options.reduction === 'sum' ? s : s / c.n;
    });
    const w = mismatch(out.loss_per_label.data, cols, tol, c.options.reduction === 'sum' ? c.n : 1);
    if (w) throw new Error(`loss_per_label: ${w}`);
  }
}

describe('property: built models equal the float64 reference', () => {
  it('for random valid options and data (build → checks → onnxruntime → reference)', async () => {
    await fc.assert(fc.asyncProperty(caseArb, checkCase), fcParams(150));
  });

  // A few hand-picked corners the random search reaches only rarely, checked the same way.
  it.each<[string, Partial<Case['options']>, number[], number[]]>([
    ['probs at the clamp floor and at 0 and 1', { task: 'binary', input: 'probs', eps: 1e-4 }, [0, 1, 1e-4, 1 - 1e-4, 5e-5], [1, 0, 1, 0, 1]],
    ['stable logits far past saturation', { task: 'binary', input: 'logits', eps: 0 }, [-300, 300, -30, 30, 0], [1, 0, 1, 0, 1]],
    ['clamped logits far past saturation', { task: 'binary', input: 'logits', eps: 1e-4 }, [-300, 300, -9.3, 9.3, 0], [1, 0, 1, 0, 1]],
    ['γ = 0 and α = 1: plain cross entropy of the positives', { task: 'binary', alpha: 1, gamma: 0 }, [0.3, 0.9, 0.5], [1, 0, 1]],
  ])('corner: %s', async (_name, over, pred, target) => {
    for (const dtype of ['float32', 'float64', 'float16'] as const) {
      for (const asFunction of [false, true]) {
        for (const form of ['arith', 'onehot'] as const) {
          const options = {
            task: 'binary' as const,
            input: 'probs' as const,
            alpha: 0.25,
            gamma: 2,
            reduction: 'none' as const,
            eps: 1e-4,
            dtype,
            targetDtype: 'float' as const,
            opset: 17,
            form,
            asFunction,
            ...over,
          };
          await checkCase({ options, n: pred.length, cols: 1, pred: pred.map((x) => roundTo(dtype, x)), target, perLabel: false });
        }
      }
    }
  });
});

/**
 * Known bugs, kept as executable records: each `it.failing` passes while the bug is there and
 * starts failing once it is fixed — then make it an `it` (a regression test) and drop any
 * workaround it names.
 */
describe('accuracy: known bugs and regressions', () => {
  const relErr = (got: number, want: number): number => Math.abs(got - want) / Math.abs(want);

  // Regressions (fixed): the arith form computed −α_t = (α − 1) + t·(1 − 2α), which cancels for
  // t = 1 — a relative error of ~u/α on positive elements (6e-4 at α = 1e-4 in float32) — and, in
  // a float64 model with an integer target, onnxruntime's optimizer dropped the Mul by 1 − 2α once
  // that rounded to 1.0f (α < 1.5e-8), flipping the sign of every positive element's loss.
  it('arith form, float32, α = 1e-4: the loss of positives is accurate to 1e-5', async () => {
    const pred = [0.3, 0.6, 0.9];
    const target = [1, 1, 1];
    const m = buildLoss({ alpha: 1e-4, form: 'arith', reduction: 'none' });
    const out = await runModel(m.bytes, { pred: { dtype: 'float32', dims: [3], data: pred }, target: { dtype: 'float32', dims: [3], data: target } });
    const want = focalLoss({ task: 'binary', input: 'probs', alpha: 1e-4, gamma: 2, eps: 1e-4, reduction: 'none' }, { pred: pred.map(Math.fround), target });
    out.loss.data.forEach((g, i) => expect(relErr(g, want[i])).toBeLessThan(1e-5));
  });

  it('arith form, float64, int64 target, α = 1e-9: the loss of a positive is positive and accurate', async () => {
    const m = buildLoss({ alpha: 1e-9, gamma: 0, dtype: 'float64', targetDtype: 'int64', reduction: 'none' });
    const out = await runModel(m.bytes, { pred: { dtype: 'float64', dims: [2], data: [0.5, 0.9] }, target: { dtype: 'int64', dims: [2], data: [1, 1] } });
    expect(out.loss.data[0]).toBeGreaterThan(0);
    expect(relErr(out.loss.data[0], 1e-9 * Math.log(2))).toBeLessThan(1e-12);
  });

  // log σ(z) for a confident element: log1p without a Log1p op (Goldberg), not log(1 + e).
  it('float32 logits: the loss of a confident element is accurate to 1e-5 relative', async () => {
    const xs = [8, 12, 16, 20];
    const m = buildLoss({ input: 'logits', eps: 0, reduction: 'none' });
    const out = await runModel(m.bytes, { pred: { dtype: 'float32', dims: [4], data: xs }, target: { dtype: 'float32', dims: [4], data: [1, 1, 1, 1] } });
    const want = focalLoss({ task: 'binary', input: 'logits', alpha: 0.25, gamma: 2, eps: 0, reduction: 'none' }, { pred: xs, target: [1, 1, 1, 1] });
    out.loss.data.forEach((g, i) => expect(relErr(g, want[i])).toBeLessThan(1e-5));
  });
});

