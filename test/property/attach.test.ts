/**
 * Property: for any valid option set (arbitraries.ts, with and without the gradient) attached to
 * a network whose output has the task's shape — rank 1 to 3 for binary, [N, …, L] for multi-label,
 * [N, C] for multi-class — at the option set's opset and dtype, and whose names may be the loss's
 * own (`target`, `loss`, `grad`, the builder's `mul_0` …), the combined model: keeps the network's
 * inputs and outputs first and the loss's after them, under the names `names` gives, with every
 * value defined once; would run wholly on CUDA (static placement check); and, run in
 * onnxruntime-node, gives the network's output bit-identical to the network alone and the loss
 * (and `grad`) bit-identical to the standalone loss model fed that output.
 */
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { attachLoss } from '../../src/attach';
import { buildLoss } from '../../src/losses';
import { DType, Graph, buildModel, decodeModel, op, serializeModel } from '../../src/onnx';
import { checkCudaPlacement, formatPlacement } from '../../src/onnx/placement';
import { toOrtTensor } from '../helpers/ort';
import { Case, caseArb, lossOptions } from './arbitraries';
import { fcParams } from './fc-config';

const NAMES = ['x', 'out', 'target', 'loss', 'grad', 'weight', 'pred', 'mul_0', 'constant_0', 'focal_target'];

interface AttachCase {
  readonly c: Case;
  readonly withGrad: boolean;
  readonly input: string;
  readonly output: string;
  /** Extra axes between N and L (multilabel) or after N (binary): the output's shape. */
  readonly middle: number[];
}

const attachArb: fc.Arbitrary<AttachCase> = caseArb.chain((c) =>
  fc
    .record({
      withGrad: fc.boolean(),
      // The network's own Mul by 1 takes the builder's name constant_0 for its constant, as the loss's first constant does.
      names: fc.uniqueArray(fc.constantFrom(...NAMES), { minLength: 2, maxLength: 2 }).filter(([, out]) => out !== 'constant_0'),
      middle: c.options.task === 'multiclass' ? fc.constant([] as number[]) : fc.constantFrom([] as number[], [1], [2]),
    })
    .map(({ withGrad, names, middle }) => ({ c, withGrad, input: names[0], output: names[1], middle })),
);

/** The output's dims: binary [n, …middle], multilabel [n, …middle, L] (n·L elements split), multiclass [n, C]. */
function outputDims(a: AttachCase): number[] {
  const { c } = a;
  if (c.options.task === 'multiclass') return [c.n, c.cols];
  if (c.options.task === 'multilabel' && c.deepShape) return [...c.deepShape];
  // The data has n·cols elements: the middle axes take a factor from n where they divide it.
  const m = a.middle.reduce((x, y) => x * y, 1);
  const rows = c.n % m === 0 ? c.n / m : c.n;
  const mid = c.n % m === 0 ? a.middle : [];
  return c.options.task === 'binary' ? [rows, ...mid] : [rows, ...mid, c.cols];
}

/** A network x → x·1 (exact) named as the case says, at the option set's opset and dtype. */
function network(a: AttachCase, dims: number[]): Uint8Array {
  const g = new Graph({ opset: a.c.options.opset });
  const x = g.input(a.input, a.c.options.dtype, ['N', ...dims.slice(1)]);
  g.output(op.mul(x, 1), a.output);
  return serializeModel(buildModel(g));
}

const sameBits = (p: ort.Tensor, q: ort.Tensor): boolean => {
  const u = p.data as Float32Array;
  const v = q.data as Float32Array;
  return p.type === q.type && Buffer.from(u.buffer, u.byteOffset, u.byteLength).equals(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
};

async function runBytes(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const s = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], logSeverityLevel: 4 });
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

/** The loss's other inputs for predictions of `dims`: target, and weight (as caseDims shapes them). */
function lossFeeds(a: AttachCase, dims: number[], targetDtype: DType): Record<string, ort.Tensor> {
  const o = a.c.options;
  const target = o.task === 'multiclass' && o.targets !== 'soft' ? [dims[0]] : dims;
  const feeds: Record<string, ort.Tensor> = { target: toOrtTensor({ dtype: targetDtype, dims: target, data: a.c.target }) };
  const w = o.weight ?? 'none';
  if (w !== 'none' && a.c.weight) {
    const rows = o.task === 'multilabel' ? dims.slice(0, -1) : o.task === 'multiclass' ? dims.slice(0, 1) : dims;
    const element = o.task === 'multilabel' && !o.labelMean ? dims : rows;
    feeds.weight = toOrtTensor({ dtype: o.dtype, dims: w === 'sample' ? rows : element, data: a.c.weight });
  }
  return feeds;
}

async function check(a: AttachCase): Promise<void> {
  const o = a.c.options;
  const dims = outputDims(a);
  const net = network(a, dims);
  const options = { ...lossOptions(o), withGrad: a.withGrad };
  const att = attachLoss(net, { ...options, output: a.output });
  const standalone = buildLoss(options, { predShape: dims });
  const own = standalone.inputs.map((i) => i.name).filter((n) => n !== 'pred');

  // Signature and names.
  const lossOut = standalone.outputs.map((x) => x.name);
  if (JSON.stringify(att.inputs.map((i) => i.name)) !== JSON.stringify([a.input, ...own.map((n) => att.names[n])])) throw new Error(`inputs ${JSON.stringify(att.inputs)}`);
  if (JSON.stringify(att.outputs.map((i) => i.name)) !== JSON.stringify([a.output, ...lossOut.map((n) => att.names[n])])) throw new Error(`outputs ${JSON.stringify(att.outputs)}`);
  const info = decodeModel(att.bytes);
  const defined = new Set([...info.graph.inputs.map((i) => i.name), ...info.graph.initializers.map((i) => i.name)]);
  for (const n of info.graph.nodes) {
    for (const i of n.inputs) if (i && !defined.has(i)) throw new Error(`'${i}' read before it is defined`);
    for (const x of n.outputs) {
      if (defined.has(x)) throw new Error(`'${x}' defined twice`);
      defined.add(x);
    }
  }
  const placement = checkCudaPlacement(att.bytes);
  if (!placement.ok) throw new Error(`placement: ${formatPlacement(placement).join('; ')}`);

  // Values: the network's output as alone, the loss as the standalone model's on it.
  const x = toOrtTensor({ dtype: o.dtype, dims, data: a.c.pred });
  const feeds = lossFeeds(a, dims, att.options.targetDtype);
  for (const n of own) if (!feeds[n]) throw new Error(`no data for the loss's input ${n}`);
  const renamed: Record<string, ort.Tensor> = {};
  for (const n of own) renamed[att.names[n]] = feeds[n];
  const alone = await runBytes(net, { [a.input]: x });
  const both = await runBytes(att.bytes, { [a.input]: x, ...renamed });
  if (!sameBits(both[a.output], alone[a.output])) throw new Error('the network output changed');
  const ref = await runBytes(standalone.bytes, { pred: alone[a.output], ...feeds });
  for (const n of lossOut) {
    if (!sameBits(both[att.names[n]], ref[n])) throw new Error(`${n} differs from the standalone loss model's`);
  }
}

describe('attachLoss, over option sets and networks', () => {
  it('keeps the network, prefixes only what collides, runs on CUDA, and computes the standalone loss', async () => {
    await fc.assert(fc.asyncProperty(attachArb, check), fcParams(60));
  }, 120_000);
});
