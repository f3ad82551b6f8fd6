/**
 * The evaluator's extra outputs, added to a focal-onnx model (built from options or read from a
 * file) so that per batch only a few numbers cross into JavaScript:
 *
 * - `loss_sum` (float64 scalar): the sum of the per-element losses, for a model whose `loss` output
 *   is per element (reduction none), summed in blocks: the losses are reshaped to
 *   `focal_eval_blocks` — an int64 input the evaluator feeds each run, [R, K] (or [R, K, L] for
 *   multilabel) with R·K the batch's rows — each block of K is summed in the loss type (float16 is
 *   first cast to float32), the R block sums are cast to float64 and summed. A block of ~256
 *   elements (multilabel: 32 or more rows of each label) sums in float32 within ~1e-7 of its float64 sum, and every later addition is in
 *   float64 (at 10^8 elements the result is 1.7e-9 from a float64 reference; blocks of 1024 gave
 *   2.3e-8 at the same speed); in the graph this costs ~0.2 ns an element on one thread, and it splits across
 *   onnxruntime's threads, where a Cast of every element to float64 and a float64 ReduceSum
 *   (~0.5 ns) ran on one thread whatever the thread count. For multilabel also `loss_label_sums`
 *   (float64 [L]): each label column's sum, of which `loss_sum` is the sum. Channel-first losses
 *   ([X, C, S], the labels on axis 1) are blocked as [X, C, R, K] instead, each label's blocks
 *   summed over X and R (channelBlockShape). perImage sums `loss_image_scaled` in place of `loss`.
 * - `check_pred_min`, `check_pred_max`: ReduceMin / ReduceMax of `pred` (float32 / float64 only):
 *   a probability outside [0, 1] or an infinite prediction shows there. onnxruntime's ReduceMin /
 *   ReduceMax do not reliably carry a NaN through (it depends on where it sits in the vector); a
 *   NaN prediction shows in the loss instead: every focal-onnx graph carries it through (Clip,
 *   Log, the products and the masked sums keep NaN), so `loss_sum` (or a reduced `loss`) is NaN.
 * - `check_target`: Σ|t·(1 − t)| (ReduceL1), for float targets: 0 exactly when every target is 0
 *   or 1, positive for anything else (for a tiny t the product is t itself, never rounded to 0,
 *   and a sum of non-negative terms never shrinks), NaN for a NaN. For soft targets (`'soft'`)
 *   Σ|t − clip(t, 0, 1)|: 0 exactly when every target is in [0, 1] (t − 0 and t − 1 are exact
 *   near the bounds), NaN for a NaN.
 *
 * The evaluator reads these outputs and, only for a batch that looks wrong, scans it in JavaScript
 * to name the first bad element (src/data/checks.ts): the same messages, for a few reductions per batch
 * instead of a JS loop over every element (~1.2 ns an element for predictions, up to ~5 for 0/1
 * float targets, whose two-way branch mispredicts; the reductions cost ~0.2 each and run on every
 * intra-op thread).
 *
 * The new nodes and initializers are named `focal_eval_*`; they read only the graph's inputs and
 * its `loss` output, so they work on any focal-onnx model, flat or function form.
 */
import type { onnx } from 'onnx-proto';
import { DTYPES } from '../onnx/dtype';
import { decodeModelProto, serializeModel } from '../onnx';
import { AttributeType, encodeMessageOf } from '../onnx/proto';
import { EVAL_INPUTS, EVAL_OUTPUTS } from './eval-blocks';

export { BLOCK_ELEMENTS, EVAL_INPUTS, EVAL_OUTPUTS, blockRows, blockShape, channelBlockShape, targetBlockRows } from './eval-blocks';

export interface EvalOutputsSpec {
  /** Add `loss_sum` (needs a per-element `loss`), and `loss_label_sums` for multilabel. */
  readonly sums: false | 'total' | 'labels';
  /**
   * Sum in float64 from the start (small batches): every loss cast to float64, then `loss_sum`
   * one ReduceSum (no block input), `loss_label_sums` over one block of the whole batch.
   */
  readonly float64Sums?: boolean;
  /** Add `check_pred_min` / `check_pred_max` (pred must be float32 or float64). */
  readonly checkPred: boolean;
  /** The predictions' value: the input `pred` (default), or a network's output the loss takes. */
  readonly predName?: string;
  /** Add `check_target` (target must be float32 or float64): of 0/1 targets, or of soft ones in [0, 1]. */
  readonly checkTarget: boolean | 'soft';
  /**
   * Other losses on the same inputs (focal-onnx models of reduction none, built with the same
   * input shapes: the diagnostics' γ / α sweep), merged into this model and summed as `loss` is
   * (their own `sumOf` output, which each then has): outputs `sweepOutputs(i)` (`loss`, `sum`, and
   * `focalSum` where the model has `focal_sum`).
   */
  readonly sweep?: readonly onnx.IModelProto[];
  /** The per-element losses summed: `loss` (default), or an output shaped like it (perImage's `loss_image_scaled`). */
  readonly sumOf?: string;
  /**
   * Label sums around a label axis that is not the last (channel-first losses): that axis of
   * `loss`. The losses are then blocked as [X, C, R, K] (channelBlockShape), each block of K summed
   * in the loss type, the block sums in float64 over X and R.
   */
  readonly labelAxis?: number;
  /** Also each swept loss's label sums (`sums: 'labels'`), as outputs `sweepOutputs(i).labelSums` (normalized 'label'). */
  readonly sweepLabelSums?: boolean;
}

/** The outputs of swept loss i (EvalOutputsSpec.sweep). */
export function sweepOutputs(i: number): { loss: string; sum: string; focalSum: string; labelSums: string } {
  return { loss: `focal_sweep${i}_loss`, sum: `focal_sweep${i}_sum`, focalSum: `focal_sweep${i}_focal_sum`, labelSums: `focal_eval_s${i}_label_sums` };
}

/**
 * Merges the loss models `sweeps` into `g`: their nodes renamed
 * (`focal_sweep{i}_…`), their `pred` the graph's predictions `predName`, `target` and `weight` the
 * graph's own; their outputs (`loss`, `focal_sum`, `loss_image_scaled`) added as outputs. Returns
 * the names of their outputs `summed` (`loss`, or perImage's `loss_image_scaled`).
 */
function mergeSweeps(g: onnx.GraphProto, sweeps: readonly onnx.IModelProto[], predName: string, summed: string): string[] {
  const shared = new Map<string, string>([['pred', predName], ['target', 'target'], ['weight', 'weight']]);
  // A node that computes what one already in the graph computes (the same operator, attributes
  // and inputs) is not added: its outputs are that node's. The swept losses then share every node
  // before their γ / α (the clip, the log, the target terms) with the evaluated loss and with each
  // other, and the values are the same, bit for bit, as each loss built alone.
  const computed = new Map<string, string[]>();
  // Keys by the protobuf bytes of attributes, the same for plain and decoded messages.
  const bytesKey = (name: string, m: object): string => Buffer.from(encodeMessageOf(name, m)).toString('latin1');
  const keyOf = (n: onnx.INodeProto, inputs: readonly string[]): string =>
    JSON.stringify([n.domain ?? '', n.opType, inputs, (n.attribute ?? []).map((a) => bytesKey('AttributeProto', a))]);
  for (const n of g.node) if ((n.output ?? []).length) computed.set(keyOf(n, n.input ?? []), n.output ?? []);
  return sweeps.map((sweep, i) => {
    const sg = modelOf(sweep).graph as onnx.GraphProto;
    // The builder writes its constants as Constant nodes (merged as nodes, below), never initializers.
    if (sg.initializer.length) throw new Error('eval outputs: a swept loss with initializers');
    const prefix = `focal_sweep${i}_`;
    const names = new Map(shared);
    const rename = (n: string): string => (n === '' ? n : (names.get(n) ?? `${prefix}${n}`));
    const outputs = new Set((sg.output ?? []).map((o) => o.name ?? ''));
    for (const n of sg.node) {
      if ((n.attribute ?? []).some((a) => a.g || (a.graphs && a.graphs.length))) throw new Error('eval outputs: a swept loss with subgraphs');
      const inputs = (n.input ?? []).map(rename);
      const key = keyOf(n, inputs);
      const same = computed.get(key);
      if (same && !(n.output ?? []).some((o) => outputs.has(o))) {
        (n.output ?? []).forEach((o, k) => names.set(o, same[k]));
        continue;
      }
      n.input = inputs;
      n.output = (n.output ?? []).map(rename);
      n.name = `${prefix}${n.name ?? ''}`;
      computed.set(key, n.output);
      g.node.push(n);
    }
    for (const o of sg.output) {
      o.name = rename(o.name ?? '');
      g.output.push(o);
    }
    return rename(summed);
  });
}

const P = 'focal_eval_';

function elemType(g: onnx.IGraphProto, name: string, list: 'input' | 'output'): number {
  const v = (g[list] ?? []).find((x) => x.name === name) ?? (list === 'input' ? (g.output ?? []).find((x) => x.name === name) : undefined);
  const t = v?.type?.tensorType?.elemType;
  if (!t) throw new Error(`eval outputs: the model has no ${list} '${name}' of a known tensor type`);
  return t;
}

function node(opType: string, inputs: string[], output: string, attrs: onnx.IAttributeProto[] = []): onnx.INodeProto {
  return { opType, input: inputs, output: [output], name: output, attribute: attrs };
}

const INT = AttributeType.INT;
const keepdims0: onnx.IAttributeProto = { name: 'keepdims', type: INT, i: 0 };

function scalarOut(name: string, elem: number, dims: (number | string)[] = []): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: elem, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

/** A model to add to: the bytes decoded, or a copy of a builder's model object (which stays as it is). */
function modelOf(source: Uint8Array | onnx.IModelProto): onnx.ModelProto {
  if (source instanceof Uint8Array) return decodeModelProto(source);
  const model = structuredClone(source) as onnx.ModelProto;
  const g = model.graph as onnx.GraphProto;
  for (const list of ['node', 'input', 'output', 'initializer'] as const) g[list] ??= [];
  return model;
}

/**
 * The model (its bytes, or the builder's model object: no decoding) with the outputs `spec` asks
 * for added (see the top of this file).
 */
export function addEvalOutputs(source: Uint8Array | onnx.IModelProto, spec: EvalOutputsSpec): Uint8Array {
  if (!spec.sums && !spec.checkPred && !spec.checkTarget) return source instanceof Uint8Array ? source : serializeModel(source);
  const model = modelOf(source);
  const g = model.graph as onnx.GraphProto;
  const F64 = DTYPES.float64.code;
  const nodes: onnx.INodeProto[] = [];
  const outputs: onnx.IValueInfoProto[] = [];
  const inputs: onnx.IValueInfoProto[] = [];
  const inits: onnx.ITensorProto[] = [];

  const sweeps = spec.sweep ? mergeSweeps(g, spec.sweep, spec.predName ?? 'pred', spec.sumOf ?? 'loss') : [];
  const labels = spec.sums === 'labels';
  const channels = labels && spec.labelAxis !== undefined;
  const ints = (name: string, values: number[]): onnx.ITensorProto => ({ name: `${P}${name}`, dataType: DTYPES.int64.code, dims: [values.length], int64Data: values });
  const blocksInput = (rank: number): onnx.IValueInfoProto => ({ name: EVAL_INPUTS.blocks, type: { tensorType: { elemType: DTYPES.int64.code, shape: { dim: [{ dimValue: rank }] } } } });
  if (spec.sums) {
    // The block shape, fed with each run: all but a small batch's total (one float64 ReduceSum).
    if (channels) {
      inputs.push(blocksInput(4));
      inits.push(ints('axis3', [3]), ints('axes02', [0, 2]));
    } else if (labels || !spec.float64Sums) {
      inputs.push(blocksInput(labels ? 3 : 2));
      inits.push(ints('axis1', [1]));
    }
    if (labels && !channels) inits.push(ints('axis0', [0]));
  }
  /**
   * The nodes that sum the per-element losses `loss` into `sumName` (float64): cast to float64
   * first (small batches), or summed in blocks in their type (float16 as float32), the block sums
   * in float64; multi-label each label's column first (into `labelSums`).
   */
  const sumsOf = (loss: string, prefix: string, sumName: string, labelSums: string | undefined): void => {
    const lossType = elemType(g, loss, 'output');
    let each = loss;
    if (spec.float64Sums || lossType === DTYPES.float16.code) {
      each = `${prefix}loss${spec.float64Sums ? 64 : 32}`;
      nodes.push(node('Cast', [loss], each, [{ name: 'to', type: INT, i: spec.float64Sums ? F64 : DTYPES.float32.code }]));
    }
    if (!labelSums && spec.float64Sums) {
      nodes.push(node('ReduceSum', [each], sumName, [keepdims0]));
      outputs.push(scalarOut(sumName, F64));
      return;
    }
    nodes.push(node('Reshape', [each, EVAL_INPUTS.blocks], `${prefix}blocked`));
    // Channel-first labels: [X, C, R, K], blocks on the last axis; else [R, K(, L)], on axis 1.
    nodes.push(node('ReduceSum', [`${prefix}blocked`, channels ? `${P}axis3` : `${P}axis1`], `${prefix}block_sums`, [keepdims0]));
    let blockSums = `${prefix}block_sums`;
    if (!spec.float64Sums && lossType !== F64) {
      blockSums = `${prefix}block_sums64`;
      nodes.push(node('Cast', [`${prefix}block_sums`], blockSums, [{ name: 'to', type: INT, i: F64 }]));
    }
    if (labelSums) {
      nodes.push(node('ReduceSum', [blockSums, channels ? `${P}axes02` : `${P}axis0`], labelSums, [keepdims0]));
      nodes.push(node('ReduceSum', [labelSums], sumName, [keepdims0]));
      if (labelSums === EVAL_OUTPUTS.labelSums || spec.sweepLabelSums) {
        // The evaluated loss's label sums are an output too (a swept loss's for normalized 'label').
        const lossDims = (g.output ?? []).find((o) => o.name === loss)?.type?.tensorType?.shape?.dim ?? [];
        const L = lossDims[channels ? (spec.labelAxis as number) : lossDims.length - 1];
        // dimParam first: a decoded dim without a dimValue still reads the prototype's 0.
        outputs.push(scalarOut(labelSums, F64, [L?.dimParam ? L.dimParam : L?.dimValue != null ? Number(L.dimValue) : 'L']));
      }
    } else {
      nodes.push(node('ReduceSum', [blockSums], sumName, [keepdims0]));
    }
    outputs.push(scalarOut(sumName, F64));
  };
  if (spec.sums) {
    sumsOf(spec.sumOf ?? 'loss', P, EVAL_OUTPUTS.sum, labels ? EVAL_OUTPUTS.labelSums : undefined);
    // A swept loss is summed exactly as the evaluated one is (diagnostics.ts): its own `sumOf`.
    sweeps.forEach((loss, i) => sumsOf(loss, `${P}s${i}_`, sweepOutputs(i).sum, labels ? sweepOutputs(i).labelSums : undefined));
  }
  if (spec.checkPred) {
    const pred = spec.predName ?? 'pred';
    const t = elemType(g, pred, 'input');
    nodes.push(node('ReduceMin', [pred], EVAL_OUTPUTS.predMin, [keepdims0]));
    nodes.push(node('ReduceMax', [pred], EVAL_OUTPUTS.predMax, [keepdims0]));
    outputs.push(scalarOut(EVAL_OUTPUTS.predMin, t), scalarOut(EVAL_OUTPUTS.predMax, t));
  }
  if (spec.checkTarget) {
    const t = elemType(g, 'target', 'input');
    const scalar = (name: string, v: number): onnx.ITensorProto => ({ name: `${P}${name}`, dataType: t, dims: [], ...(t === F64 ? { doubleData: [v] } : { floatData: [v] }) });
    inits.push(scalar('one', 1));
    if (spec.checkTarget === 'soft') {
      inits.push(scalar('zero', 0));
      nodes.push(node('Clip', ['target', `${P}zero`, `${P}one`], `${P}t01`));
      nodes.push(node('Sub', ['target', `${P}t01`], `${P}tout`));
      nodes.push(node('ReduceL1', [`${P}tout`], EVAL_OUTPUTS.target, [keepdims0]));
    } else {
      nodes.push(node('Sub', [`${P}one`, 'target'], `${P}u`));
      nodes.push(node('Mul', ['target', `${P}u`], `${P}tu`));
      nodes.push(node('ReduceL1', [`${P}tu`], EVAL_OUTPUTS.target, [keepdims0]));
    }
    outputs.push(scalarOut(EVAL_OUTPUTS.target, t));
  }
  // Plain objects beside the decoded messages: the encoder takes both (src/onnx/proto.ts).
  g.node.push(...(nodes as onnx.NodeProto[]));
  g.input.push(...(inputs as onnx.ValueInfoProto[]));
  g.output.push(...(outputs as onnx.ValueInfoProto[]));
  g.initializer.push(...(inits as onnx.TensorProto[]));
  return serializeModel(model);
}
