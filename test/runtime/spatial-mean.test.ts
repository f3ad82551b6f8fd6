/**
 * MONAI's sum (`--spatial-mean --reduction sum`: the spatial axes averaged first, then summed)
 * through eval equals the exported graph on the same shape (buildLoss with that predShape, on
 * onnxruntime-node), whatever source the batches come from: binary files of every rank (read as
 * runs of their elements, the spatial size from the file's shape), binary batches from memory
 * (their `dims`), a binary network output [B, 1, H, W]; and `perLabel` under it is each label's sum
 * over the same divisor, equal to the graph's `loss_per_label` and adding up to the loss (rank
 * ≥ 3: the spatial size; rank 2: every element), with ignored targets and the normalized loss
 * too. A flat binary batch, whose spatial size cannot be read, is one line asking for its dims.
 */
import * as fs from 'fs';
import * as path from 'path';
import { LossOptions, buildLoss } from '../../src/losses';
import { Graph, buildModel, op, serializeModel } from '../../src/onnx';
import { createEvaluator, evaluate, evaluateNetwork } from '../../src/runtime';
import { runCli, scratchDir } from '../helpers/cli';
import { npyFiles } from '../helpers/npy-files';
import { runModel } from '../helpers/ort';

const dir = scratchDir();
const npy = npyFiles(dir, 'sm');
const prod = (d: readonly number[]): number => d.reduce((a, b) => a * b, 1);
const close = (got: number, want: number, rel = 1e-12): void => expect(Math.abs(got - want)).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(want)));

const probs = (n: number): number[] => Array.from({ length: n }, (_, i) => 0.03 + 0.94 * ((i * 0.6180339887) % 1));
const bits = (n: number): number[] => Array.from({ length: n }, (_, i) => (i % 3 === 1 || i % 7 === 0 ? 1 : 0));

/** The exported graph's outputs for float64 predictions of `shape` (targets alike, or `tShape`). */
async function graph(options: LossOptions, shape: number[], pred: number[], target: number[], extras: { perLabel?: boolean } = {}, tShape = shape, tType: 'float64' | 'int64' = 'float64') {
  const m = buildLoss({ ...options, dtype: 'float64' }, { predShape: shape, ...extras });
  return runModel(m.bytes, { pred: { dtype: 'float64', dims: shape, data: pred }, target: { dtype: tType, dims: tShape, data: target } });
}

const BINARY: LossOptions = { task: 'binary', reduction: 'sum', spatialMean: true };
// Rank 1 and 2: every element's mean; rank 3 [B, N, W]: W (axis 1 the channel, as MONAI reads it); [B, 1, H, W]: H·W.
const SHAPES: number[][] = [[24], [4, 6], [2, 3, 4], [2, 1, 3, 4], [2, 1, 2, 3, 2]];

describe('binary: eval with spatialMean equals the exported graph on the same shape', () => {
  test.each(SHAPES.map((s) => [s.join('x'), s] as const))('files %s, in one batch and in batches that split the images', async (_n, shape) => {
    const n = prod(shape);
    const pred = probs(n);
    const target = bits(n);
    const want = (await graph(BINARY, shape, pred, target)).loss.data[0];
    const p = npy('float64', shape, pred);
    const t = npy('float64', shape, target);
    for (const batchSize of [1 << 18, 5, 1]) {
      const r = await evaluate({ loss: BINARY, pred: p, target: t, batchSize, threads: 1 });
      close(r.loss, want);
    }
    // The targets' shape is not read (binary: one per prediction): a flat target file gives the same.
    const flatTarget = npy('float64', [n], target);
    close((await evaluate({ loss: BINARY, pred: p, target: flatTarget, threads: 1 })).loss, want);
  });

  it("the CLI on [B, 1, H, W] float32: MONAI's l.mean(dim=(2, 3)).sum()", async () => {
    const shape = [2, 1, 3, 4];
    const pred = probs(24).map(Math.fround);
    const target = bits(24);
    const p = npy('float32', shape, pred);
    const t = npy('float32', shape, target);
    const r = await runCli(['eval', '--pred', p, '--target', t, '--task', 'binary', '--spatial-mean', '--reduction', 'sum', '--json']);
    expect(r.stderr).toBe('');
    // The per-element losses of the graph (reduction none), averaged over H·W and summed.
    const el = (await graph({ task: 'binary', reduction: 'none' }, shape, pred, target)).loss.data;
    close(JSON.parse(r.stdout).loss, el.reduce((a, b) => a + b, 0) / 12, 1e-6);
    // The report says which sum it is.
    const text = await runCli(['eval', '--pred', p, '--target', t, '--task', 'binary', '--spatial-mean', '--reduction', 'sum']);
    expect(text.stdout).toMatch(/^loss +[\d.]+ \(MONAI's sum, the spatial axes averaged first, over 24 elements\)$/m);
  });

  test.each(SHAPES.map((s) => [s.join('x'), s] as const))('memory %s: one batch with its dims, and one batch per image', async (_n, shape) => {
    const n = prod(shape);
    const pred = probs(n);
    const target = bits(n);
    const want = (await graph(BINARY, shape, pred, target)).loss.data[0];
    const ev = await createEvaluator({ loss: { ...BINARY, dtype: 'float64' }, threads: 1 });
    await ev.add({ pred: Float64Array.from(pred), target: Float64Array.from(target), dims: shape });
    close(ev.result().loss, want);
    await ev.close();
    if (shape.length < 3) return; // (rank ≤ 2 is every element's mean: a row per batch is another input)
    const per = await createEvaluator({ loss: { ...BINARY, dtype: 'float64' }, threads: 1 });
    const k = n / shape[0];
    for (let b = 0; b < shape[0]; b++) {
      await per.add({ pred: Float64Array.from(pred.slice(b * k, (b + 1) * k)), target: Float64Array.from(target.slice(b * k, (b + 1) * k)), dims: [1, ...shape.slice(1)] });
    }
    close(per.result().loss, want);
    await per.close();
  });

  it('memory: a flat batch without dims is one line asking for them (its spatial size cannot be read)', async () => {
    const ev = await createEvaluator({ loss: BINARY, threads: 1 });
    await expect(ev.add({ pred: Float32Array.from(probs(24)), target: Float32Array.from(bits(24)) })).rejects.toThrow(
      /^batch 0: dims is required with spatialMean \(MONAI's sum divides by the spatial size, read from it\): the predictions' shape, \[B, 1, H, W\] \(or \[N\]: the mean of every element\)$/,
    );
    // Without spatialMean a flat batch is [n], as before.
    const plain = await createEvaluator({ loss: { task: 'binary', reduction: 'sum' }, threads: 1 });
    await plain.add({ pred: Float32Array.from(probs(24)), target: Float32Array.from(bits(24)) });
    expect(plain.result().count).toBe(24);
    await ev.close();
    await plain.close();
  });

  it('--network: a binary output [B, 1, H, W] equals the graph on it', async () => {
    const shape = [3, 1, 2, 4];
    const n = prod(shape);
    const pred = probs(n);
    const target = bits(n);
    const want = (await graph(BINARY, shape, pred, target)).loss.data[0];
    // The network: its input as its output (Identity), B symbolic.
    const g = new Graph({ opset: 18, name: 'identity' });
    g.output(op.identity(g.input('x', 'float64', ['B', ...shape.slice(1)])), 'prob');
    const net = path.join(dir(), 'binary-net.onnx');
    fs.writeFileSync(net, serializeModel(buildModel(g)));
    const x = npy('float64', shape, pred);
    const t = npy('float64', shape, target);
    for (const batchSize of [1 << 18, prod(shape.slice(1))]) {
      const r = await evaluateNetwork({ network: net, output: 'prob', feeds: { x }, target: t, loss: BINARY, batchSize, threads: 1 });
      close(r.loss, want);
    }
  });
});

describe('perLabel under spatialMean: each label over the same divisor, adding up to the loss', () => {
  const ML: LossOptions = { task: 'multilabel', input: 'logits', eps: 0, alpha: 'none', reduction: 'sum', spatialMean: true };
  const logits = (n: number): number[] => Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + 0.3) * 3);
  const CASES: [string, LossOptions, number[]][] = [
    ['channel-first [B, C, H, W] (labelAxis 1): H·W', { ...ML, labelAxis: 1 }, [2, 3, 2, 4]],
    ['one label channel-first [B, 1, H, W]', { ...ML, labelAxis: 1 }, [2, 1, 3, 4]],
    ['labels last [B, H, W, L]: H·W', ML, [2, 3, 2, 4]],
    ['[N, L]: every element', ML, [6, 4]],
    ['[N, L] with ignored targets: every element, the ignored too', { ...ML, ignoreIndex: 255 }, [6, 4]],
    ['normalized, [B, C, H, W]', { ...ML, labelAxis: 1, normalized: true }, [2, 3, 2, 4]],
    ['normalized label, [B, C, H, W]', { ...ML, labelAxis: 1, normalized: 'label' }, [2, 3, 2, 4]],
  ];

  test.each(CASES)('%s: files and memory equal the graph', async (_n, options, shape) => {
    const n = prod(shape);
    const pred = logits(n);
    const target = bits(n).map((v, i) => (options.ignoreIndex !== undefined && i % 5 === 2 ? 255 : v));
    const g = await graph(options, shape, pred, target, { perLabel: true });
    const want = g.loss.data[0];
    const wantLabels = g.loss_per_label.data;
    // The graph's own labels add up to its loss.
    close(wantLabels.reduce((a, b) => a + b, 0), want, 1e-12);
    const p = npy('float64', shape, pred);
    const t = npy('float64', shape, target);
    for (const batchSize of [1 << 18, prod(shape.slice(1))]) {
      const r = await evaluate({ loss: options, pred: p, target: t, batchSize, threads: 1 });
      close(r.loss, want);
      expect(r.perLabel).toHaveLength(wantLabels.length);
      (r.perLabel as number[]).forEach((v, l) => close(v, wantLabels[l]));
    }
    const ev = await createEvaluator({ loss: { ...options, dtype: 'float64' }, threads: 1 });
    await ev.add({ pred: Float64Array.from(pred), target: Float64Array.from(target), dims: shape });
    const m = ev.result();
    close(m.loss, want);
    (m.perLabel as number[]).forEach((v, l) => close(v, wantLabels[l]));
    await ev.close();
  });

  it('the CLI prints the labels divided as the loss is', async () => {
    const shape = [2, 1, 3, 4];
    const pred = logits(24);
    const target = bits(24);
    const r = await runCli(['eval', '--like', 'monai', '--reduction', 'sum', '--label-axis', '1', '--pred', npy('float64', shape, pred), '--target', npy('float64', shape, target), '--json']);
    expect(r.stderr).toBe('');
    const j = JSON.parse(r.stdout) as { loss: number; perLabel: number[] };
    expect(j.perLabel).toHaveLength(1);
    close(j.perLabel[0], j.loss);
    close(j.loss, (await graph({ like: 'monai', reduction: 'sum', labelAxis: 1 }, shape, pred, target)).loss.data[0]);
  });
});

describe("perLabel under weighted-mean: each label's Σ w·l over its Σ w, as the graph on that label alone", () => {
  // Labels last [N, L] and channel-first [B, C, H, W]; a weight per prediction and per row.
  const CASES: [string, number[], number | undefined, 'element' | 'sample'][] = [
    ['[N, L], a weight per prediction', [5, 3], undefined, 'element'],
    ['[N, L], a weight per row', [5, 3], undefined, 'sample'],
    ['[B, C, H, W] (labelAxis 1), a weight per prediction', [2, 3, 2, 2], 1, 'element'],
    ['[B, C, H, W] (labelAxis 1), a weight per row [B, H, W]', [2, 3, 2, 2], 1, 'sample'],
  ];

  test.each(CASES)('%s: files and memory', async (_n, shape, labelAxis, weight) => {
    const options: LossOptions = { task: 'multilabel', reduction: 'weighted-mean', weight, ...(labelAxis !== undefined ? { labelAxis } : {}) };
    const n = prod(shape);
    const a = labelAxis ?? shape.length - 1;
    const L = shape[a];
    const S = prod(shape.slice(a + 1));
    const label = (i: number): number => Math.floor(i / S) % L;
    const row = (i: number): number => Math.floor(i / (L * S)) * S + (i % S);
    const pred = probs(n);
    const target = bits(n);
    const rowShape = shape.filter((_, k) => k !== a);
    const w = Array.from({ length: weight === 'element' ? n : n / L }, (_, i) => [0.5, 2, 0, 1.25, 3][(i * 7) % 5]);
    const wOf = (i: number): number => (weight === 'element' ? w[i] : w[row(i)]);
    // Each label alone: the binary graph's weighted mean of its elements.
    const want: number[] = [];
    for (let l = 0; l < L; l++) {
      const idx = [...Array(n).keys()].filter((i) => label(i) === l);
      const m = buildLoss({ task: 'binary', reduction: 'weighted-mean', weight: 'element', dtype: 'float64' }, { predShape: [idx.length] });
      const r = await runModel(m.bytes, {
        pred: { dtype: 'float64', dims: [idx.length], data: idx.map((i) => pred[i]) },
        target: { dtype: 'float64', dims: [idx.length], data: idx.map((i) => target[i]) },
        weight: { dtype: 'float64', dims: [idx.length], data: idx.map(wOf) },
      });
      want.push(r.loss.data[0]);
    }
    const whole = buildLoss({ ...options, dtype: 'float64' }, { predShape: shape });
    const wantLoss = (await runModel(whole.bytes, { pred: { dtype: 'float64', dims: shape, data: pred }, target: { dtype: 'float64', dims: shape, data: target }, weight: { dtype: 'float64', dims: weight === 'element' ? shape : rowShape, data: w } })).loss.data[0];
    const p = npy('float64', shape, pred);
    const t = npy('float64', shape, target);
    // (The weights are exact in float16: each weight type sums them the same.)
    for (const wType of ['float64', 'float32', 'float16'] as const) {
      const wf = npy(wType, weight === 'element' ? shape : rowShape, w);
      for (const batchSize of [1 << 18, prod(shape.slice(1))]) {
        const r = await evaluate({ loss: options, pred: p, target: t, weight: wf, batchSize, threads: 1 });
        close(r.loss, wantLoss);
        (r.perLabel as number[]).forEach((v, l) => close(v, want[l]));
        expect(r.perLabel).toHaveLength(L);
      }
    }
    const ev = await createEvaluator({ loss: { ...options, dtype: 'float64' }, threads: 1 });
    await ev.add({ pred: Float64Array.from(pred), target: Float64Array.from(target), weight: Float64Array.from(w), dims: shape });
    close(ev.result().loss, wantLoss);
    (ev.result().perLabel as number[]).forEach((v, l) => close(v, want[l]));
    await ev.close();
  });
});
