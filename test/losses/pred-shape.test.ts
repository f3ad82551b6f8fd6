/**
 * `buildLoss(options, { predShape })`: losses on predictions shaped as a network gives them. A
 * multi-label [B, K, L] (a dense detection head, labels on the last axis) is the same loss as its
 * [B·K, L] — every reduction, both forms, probs and logits, the function form, the gradient and
 * the per-label vector — and a binary loss takes any rank. Bad shapes are one-line UsageErrors.
 */
import { UsageError } from '../../src/errors';
import { BuildExtras, LossOptions, buildLoss, ioShapes, normalizeOptions } from '../../src/losses';
import { attachLoss } from '../../src/attach';
import { predShapeProblem } from '../../src/losses/shapes';
import { Graph, buildModel, decodeModel, op, serializeModel } from '../../src/onnx';
import { createEvaluator } from '../../src/runtime';
import { checkCudaPlacement } from '../../src/onnx/placement';
import { mulberry32 } from '../../scripts/prng';
import { recordModel } from '../helpers/record-model';
import { expectClose, runModel } from '../helpers/ort';
import { checkModel } from '../property/model-checks';

const B = 2;
const K = 3;
const L = 4;
const rnd = mulberry32(5);
const probs = Array.from({ length: B * K * L }, () => Math.fround(0.01 + 0.98 * rnd()));
const bits = probs.map(() => (rnd() < 0.4 ? 1 : 0));

const CASES: [string, LossOptions][] = [];
for (const form of ['arith', 'onehot'] as const) {
  for (const input of ['probs', 'logits'] as const) {
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      CASES.push([`${form} ${input} ${reduction}`, { task: 'multilabel', form, input, reduction, withGrad: true }]);
    }
  }
}
CASES.push(['per-label α, function form', { task: 'multilabel', alpha: [0.1, 0.4, 0.6, 0.9], asFunction: true, withGrad: true }]);
CASES.push(['float64, γ 1.5, opset 18', { task: 'multilabel', dtype: 'float64', gamma: 1.5, opset: 18, withGrad: true }]);

describe('multilabel predictions of rank 3, labels last', () => {
  it.each(CASES)('%s: the same loss, gradient and per-label vector as [B·K, L]', async (name, options) => {
    const o = normalizeOptions(options);
    const perLabel = o.reduction !== 'none';
    const flat = buildLoss(options, { perLabel });
    const extras: BuildExtras = { perLabel, predShape: ['B', 'K', Array.isArray(o.alpha) ? L : 'L'] };
    const deep = buildLoss(options, extras);
    checkModel(deep, extras);
    recordModel(`pred-shape-${name}`, deep.bytes);
    expect(checkCudaPlacement(deep.bytes).offGpu).toEqual([]);
    expect(decodeModel(deep.bytes).graph.inputs.map((i) => i.shape)).toEqual([
      ['B', 'K', Array.isArray(o.alpha) ? L : 'L'],
      ['B', 'K', Array.isArray(o.alpha) ? L : 'L'],
    ]);
    const x = o.input === 'logits' ? probs.map((p) => Math.fround(Math.log(p / (1 - p)))) : probs;
    const a = await runModel(flat.bytes, { pred: { dtype: o.dtype, dims: [B * K, L], data: x }, target: { dtype: o.dtype, dims: [B * K, L], data: bits } });
    const b = await runModel(deep.bytes, { pred: { dtype: o.dtype, dims: [B, K, L], data: x }, target: { dtype: o.dtype, dims: [B, K, L], data: bits } });
    expect(b.loss.dims).toEqual(o.reduction === 'none' ? [B, K, L] : []);
    expect(b.grad.dims).toEqual([B, K, L]);
    expectClose(b.loss.data, a.loss.data, 1e-6, 1e-9);
    expectClose(b.grad.data, a.grad.data, 1e-6, 1e-9);
    if (perLabel) {
      expect(b.loss_per_label.dims).toEqual([L]);
      expectClose(b.loss_per_label.data, a.loss_per_label.data, 1e-6, 1e-9);
    }
  });

  it('binary predictions of any rank: the mean over every element', async () => {
    const flat = buildLoss({});
    const deep = buildLoss({}, { predShape: ['B', K, L] });
    const a = await runModel(flat.bytes, { pred: { dtype: 'float32', dims: [B * K * L], data: probs }, target: { dtype: 'float32', dims: [B * K * L], data: bits } });
    const b = await runModel(deep.bytes, { pred: { dtype: 'float32', dims: [B, K, L], data: probs }, target: { dtype: 'float32', dims: [B, K, L], data: bits } });
    expectClose(b.loss.data, a.loss.data, 1e-6, 1e-9);
  });

  it.each<[string, LossOptions, BuildExtras['predShape'], RegExp]>([
    ['multilabel of rank 1', { task: 'multilabel' }, ['N'], /^predShape \[N\]: multilabel predictions must be \[N, L\] or of higher rank, labels on the last axis \(or on labelAxis\)$/],
    ['multiclass of rank 3', { task: 'multiclass' }, ['B', 'K', 'C'], /^predShape \[B, K, C\]: multiclass predictions must be \[N, C\] \(or \[B, C, …\] with labelAxis 1\)$/],
    ['a label count α does not have', { task: 'multilabel', alpha: [0.1, 0.2] }, ['B', 'K', 3], /^predShape \[B, K, 3\] has 3 labels on its last axis, but alpha lists 2 values, one per label$/],
    ['a label count the positive weights do not have', { task: 'multilabel', posWeight: [1, 2] }, ['B', 5], /^predShape \[B, 5\] has 5 labels on its last axis, but posWeight lists 2 values, one per label$/],
    ['a class count the class weights do not have', { task: 'multiclass', classWeight: [1, 2, 3] }, ['N', 5], /^predShape \[N, 5\] has 5 classes on its last axis, but classWeight lists 3 values, one per class$/],
    ['a negative size', { task: 'binary' }, [-1], /^predShape must be a list of sizes \(integers >= 0\) or names, got \[-1\]$/],
    ['rank 0', { task: 'binary' }, [], /^predShape \[\]: binary predictions must be of rank 1 or more$/],
  ])('refuses %s', (_name, options, predShape, message) => {
    expect(() => buildLoss(options, { predShape })).toThrow(UsageError);
    expect(() => buildLoss(options, { predShape })).toThrow(message);
  });

  it("a default shape the options do not fit is named as the loss's, with predShape as the way out (the API)", () => {
    expect(() => buildLoss({ task: 'multilabel', labelAxis: 2 })).toThrow(/^the loss's predictions are \[N, L\]: labelAxis 2 is not an axis of predictions of rank 2 after the first \(1 to 1, or -1 to -1\); give predShape$/);
    // A caller that names options its own way (the CLI, which has no predShape): its names, no predShape.
    expect(() => buildLoss({ task: 'multilabel', labelAxis: 2 }, { label: (o) => `--${o}` })).toThrow(/^the loss's predictions are \[N, L\]: --labelAxis 2 is not an axis of predictions of rank 2 after the first \(1 to 1, or -1 to -1\)$/);
    // perImage's default holds the images on an axis of their own.
    expect(ioShapes(normalizeOptions({ perImage: true })).pred).toEqual(['B', 'K']);
    expect(ioShapes(normalizeOptions({ task: 'multilabel', perImage: true, alpha: [0.1, 0.2, 0.3] })).pred).toEqual(['B', 'K', 3]);
  });

  it('the builder, attach and the evaluator state the same shape rule (src/data/rules.ts)', async () => {
    const o = normalizeOptions({ task: 'multiclass' });
    const rule = predShapeProblem(o, [2, 5, 3]) as string;
    expect(rule).toBe('multiclass predictions must be [N, C] (or [B, C, …] with labelAxis 1)');
    expect(() => buildLoss(o, { predShape: [2, 5, 3] })).toThrow(`predShape [2, 5, 3]: ${rule}`);
    const g = new Graph({ opset: 17 });
    g.output(op.sigmoid(g.input('x', 'float32', [2, 5, 3])), 'out');
    expect(() => attachLoss(serializeModel(buildModel(g)), { output: 'out', task: 'multiclass' }, { source: 'net.onnx' })).toThrow(`net.onnx: output 'out' has shape [2, 5, 3]; ${rule}`);
    const ev = await createEvaluator({ loss: { task: 'multiclass' } });
    await expect(ev.add({ pred: new Float32Array(30), target: new BigInt64Array(10), dims: [2, 5, 3] })).rejects.toThrow(`batch 0: pred has dims [2, 5, 3]; ${rule}`);
    await ev.close();
  });

  it('ioShapes gives the target its shape: like pred, or [N] for multiclass', () => {
    expect(ioShapes(normalizeOptions({ task: 'multilabel' }), ['B', 'K', 5])).toEqual({ pred: ['B', 'K', 5], target: ['B', 'K', 5] });
    expect(ioShapes(normalizeOptions({ task: 'multiclass', alpha: [0.2, 0.8] }), ['N', 'C'])).toEqual({ pred: ['N', 2], target: ['N'] });
  });
});

describe('channel-first [B, C, H, W] with a weight per row [B, H, W]', () => {
  // A weight per row broadcasts on the label axis (axis 1), not at the end: loss and gradient are
  // those of the same weights repeated over the C labels as an element weight.
  const [b, c, h, w] = [2, 3, 2, 2];
  const n = b * c * h * w;
  const r = mulberry32(11);
  const pred = Array.from({ length: n }, () => Math.fround(2 * r() - 1));
  const rowW = Array.from({ length: b * h * w }, () => Math.fround(2 * r()));
  const repeated = Array.from({ length: n }, (_, i) => rowW[Math.floor(i / (c * h * w)) * h * w + (i % (h * w))]);
  it.each([
    ['multilabel', { task: 'multilabel', targets: 'hard' } as LossOptions, Array.from({ length: n }, () => (r() < 0.4 ? 1 : 0)), [b, c, h, w]],
    ['multiclass', { task: 'multiclass' } as LossOptions, Array.from({ length: b * h * w }, () => Math.floor(r() * c)), [b, h, w]],
  ] as const)('%s', async (task, options, target, targetShape) => {
    const base: LossOptions = { ...options, input: 'logits', labelAxis: 1, reduction: 'sum', withGrad: true, dtype: 'float64' };
    const sample = buildLoss({ ...base, weight: 'sample' }, { predShape: ['B', c, h, w] });
    const feeds = {
      pred: { dtype: 'float64', dims: [b, c, h, w], data: pred },
      target: { dtype: task === 'multiclass' ? 'int64' : 'float64', dims: [...targetShape], data: [...target] },
    } as const;
    const got = await runModel(sample.bytes, { ...feeds, weight: { dtype: 'float64', dims: [b, h, w], data: rowW } });
    if (task === 'multilabel') {
      const element = buildLoss({ ...base, weight: 'element' }, { predShape: ['B', c, h, w] });
      const want = await runModel(element.bytes, { ...feeds, weight: { dtype: 'float64', dims: [b, c, h, w], data: repeated } });
      expectClose(got.loss.data, want.loss.data, 1e-12, 0);
      expectClose(got.grad.data, want.grad.data, 1e-12, 0);
    } else {
      // Multiclass: the unweighted gradient times each pixel's weight, on every class.
      const plain = await runModel(buildLoss(base, { predShape: ['B', c, h, w] }).bytes, feeds);
      const none = await runModel(buildLoss({ ...base, weight: 'sample', reduction: 'none' }, { predShape: ['B', c, h, w] }).bytes, { ...feeds, weight: { dtype: 'float64', dims: [b, h, w], data: rowW } });
      expectClose(got.loss.data, [none.loss.data.reduce((x, y) => x + y, 0)], 1e-12, 0);
      expectClose(got.grad.data, plain.grad.data.map((g, i) => g * repeated[i]), 1e-12, 0);
    }
  });
});
