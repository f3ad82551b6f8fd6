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
