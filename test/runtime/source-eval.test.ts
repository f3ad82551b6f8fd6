/**
 * eval on the golden cases from the libraries' own source files (test/fixtures/source-cases.json):
 * every case eval can express — all but mmdet's avg_factor as a graph input — gives the library's
 * loss through eval, within 1e-10 relative (the cases are float64): from .npy files (`evaluate`,
 * in one batch and in batches of one row or image; the CLI for some), and from memory
 * (`createEvaluator`, one batch and one batch per image). Channel-first cases (`labelAxis` 1:
 * MONAI, smp, kornia on [B, C, H, W]) are read as they are — equal to the same data transposed to
 * labels-last through eval, with weights (of the predictions' and of the rows' shape) and `--out`
 * (kornia's reduction none, in the user's layout) — and through `--network` (a channel-first
 * network's output). torchvision's per-image RetinaNet loss (`perImage`) equals the exported
 * graph on onnxruntime-node. Shapes that do not fit are one line naming the flag. Diagnostics
 * on MONAI's channel-first and torchvision's per-image cases sweep to the library's loss.
 */
import * as path from 'path';
import { UsageError } from '../../src/errors';
import { readNpy } from '../../src/io/npy';
import { LossOptions, buildLoss } from '../../src/losses';
import { Graph, buildModel, op, serializeModel } from '../../src/onnx';
import { createEvaluator, evaluate, evaluateNetwork } from '../../src/runtime';
import { runCli, scratchDir } from '../helpers/cli';
import { npyFiles } from '../helpers/npy-files';
import { runModel } from '../helpers/ort';
import { SOURCE_CASES, SourceCase, indexTargets, sourceInputs } from '../helpers/source-fixtures';
import * as fs from 'fs';

const dir = scratchDir();
const npy = npyFiles(dir, 'src');

const prod = (d: readonly number[]): number => d.reduce((a, b) => a * b, 1);
const channelFirst = (c: SourceCase): boolean => c.options.labelAxis !== undefined && c.options.labelAxis !== -1 && c.predShape.length > 2;
/** Every case eval expresses: mmdet's avg_factor is a number here (normalize 7), so all of them. */
const CASES = SOURCE_CASES.filter((c) => c.options.normalize !== 'input');
/** The library's number: the loss, or for reduction none (kornia's) the mean eval reports. */
const wanted = (c: SourceCase): number => (typeof c.loss === 'number' ? c.loss : c.loss.reduce((a, b) => a + b, 0) / c.loss.length);
const close = (got: number, want: number, rel = 1e-10): void => expect(Math.abs(got - want)).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(want)));

function files(c: SourceCase): { pred: string; target: string } {
  return { pred: npy('float64', c.predShape, c.pred), target: npy(indexTargets(c) ? 'int64' : 'float64', c.targetShape, c.target) };
}
const targetArray = (c: SourceCase, values = c.target): Float64Array | BigInt64Array => (indexTargets(c) ? BigInt64Array.from(values, (v) => BigInt(v)) : Float64Array.from(values));

/** `values` of `dims` with axis 1 moved last ([B, C, …] to [B, …, C]): the same data, labels last. */
function labelsLast(values: readonly number[], dims: readonly number[]): number[] {
  const [B, C] = dims;
  const S = prod(dims.slice(2));
  const out = new Array<number>(values.length);
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let s = 0; s < S; s++) out[(b * S + s) * C + c] = values[(b * C + c) * S + s];
  return out;
}
const lastDims = (dims: readonly number[]): number[] => [dims[0], ...dims.slice(2), dims[1]];

describe('every source case through eval equals the library', () => {
  it('covers MONAI sum / mean on [N, C] and [B, C, H, W] (and binary [B, 1, H, W]), smp normalized channel-first, kornia, and torchvision on 3 and 2 images', () => {
    const names = CASES.map((c) => c.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'monai sum [N, C]', 'monai sum [B, C, H, W]', 'monai mean [N, C]', 'monai mean [B, C, H, W]', 'monai sum binary [B, 1, H, W]', 'smp multiclass normalized [B, C, H, W]',
        'kornia focal_loss sum [B, C, H, W]', 'torchvision RetinaNet classification loss, 3 images', 'torchvision RetinaNet classification loss, 2 images',
      ]),
    );
    expect(CASES.length).toBe(SOURCE_CASES.length);
  });

  test.each(CASES.map((c) => [`${c.library}: ${c.name}`, c] as const))('files: %s', async (_n, c) => {
    const f = files(c);
    // One batch, and batches of one row (one image, for channel-first and per-image files).
    for (const batchSize of [1 << 18, prod(c.predShape.slice(1))]) {
      const r = await evaluate({ loss: c.options as LossOptions, pred: f.pred, target: f.target, batchSize, threads: 1 });
      close(r.loss, wanted(c));
      if (c.options.perImage) expect(r.images).toBe(c.predShape[0]);
    }
  });

  test.each(CASES.map((c) => [`${c.library}: ${c.name}`, c] as const))('memory: %s', async (_n, c) => {
    const ev = await createEvaluator({ loss: { ...(c.options as LossOptions), dtype: 'float64' }, threads: 1 });
    const one = await createEvaluator({ loss: { ...(c.options as LossOptions), dtype: 'float64' }, threads: 1 });
    try {
      await ev.add({ pred: Float64Array.from(c.pred), target: targetArray(c), dims: c.predShape });
      close(ev.result().loss, wanted(c));
      // One batch per image (a row of [N, C]).
      const B = c.predShape[0];
      const p = c.pred.length / B;
      const t = c.target.length / B;
      for (let b = 0; b < B; b++) {
        await one.add({ pred: Float64Array.from(c.pred.slice(b * p, (b + 1) * p)), target: targetArray(c, c.target.slice(b * t, (b + 1) * t)), dims: [1, ...c.predShape.slice(1)] });
      }
      close(one.result().loss, wanted(c));
    } finally {
      await ev.close();
      await one.close();
    }
  });

  it('the CLI: MONAI sum on [B, C, H, W] (--label-axis 1) and torchvision per image', async () => {
    const monai = SOURCE_CASES.find((c) => c.name === 'monai sum [B, C, H, W]') as SourceCase;
    const m = files(monai);
    const a = await runCli(['eval', '--like', 'monai', '--reduction', 'sum', '--label-axis', '1', '--pred', m.pred, '--target', m.target, '--json']);
    expect(a.code).toBe(0);
    close(JSON.parse(a.stdout).loss, monai.loss as number);
    const tv = SOURCE_CASES.find((c) => c.options.perImage) as SourceCase;
    const t = files(tv);
    const b = await runCli(['eval', '--task', 'multilabel', '--input', 'logits', '--eps', '0', '--alpha', '0.25', '--target-format', 'index', '--ignore-index', '-2', '--normalize', 'positives', '--per-image', '--pred', t.pred, '--target', t.target, '--json']);
    expect(b.code).toBe(0);
    close(JSON.parse(b.stdout).loss, tv.loss as number);
  });
});

describe('channel-first through eval equals the same data labels-last', () => {
  const FIRST = CASES.filter(channelFirst);

  test.each(FIRST.map((c) => [c.name, c] as const))('%s', async (_n, c) => {
    const f = files(c);
    const lastPred = npy('float64', lastDims(c.predShape), labelsLast(c.pred, c.predShape));
    // Index targets ([B, H, W]) are the same; dense and soft ones move their labels last too.
    const dense = c.targetShape.length === c.predShape.length;
    const lastTarget = dense ? npy('float64', lastDims(c.targetShape), labelsLast(c.target, c.targetShape)) : f.target;
    const { labelAxis: _a, ...rest } = c.options;
    const a = await evaluate({ loss: c.options as LossOptions, pred: f.pred, target: f.target, threads: 1 });
    if (c.options.task === 'multiclass') {
      // Multiclass reads [N, C]: the pixels as rows.
      const C = c.predShape[1];
      const rows = prod(c.predShape) / C;
      const p2 = npy('float64', [rows, C], labelsLast(c.pred, c.predShape));
      const t2 = npy('int64', [rows], c.target);
      const b = await evaluate({ loss: rest as LossOptions, pred: p2, target: t2, threads: 1 });
      close(a.loss, b.loss, 1e-12);
      return;
    }
    const b = await evaluate({ loss: rest as LossOptions, pred: lastPred, target: lastTarget, threads: 1 });
    close(a.loss, b.loss, 1e-12);
    expect(a.rows).toBe(b.rows);
    if (b.perLabel) (a.perLabel as number[]).forEach((v, l) => close(v, (b.perLabel as number[])[l], 1e-12));
  });

  describe('weights', () => {
    const c = SOURCE_CASES.find((x) => x.name === 'monai mean [B, C, H, W]') as SourceCase;
    const [B, C, H, W] = c.predShape;
    const wElem = Array.from({ length: prod(c.predShape) }, (_, i) => ((i * 37) % 11) / 5);
    const wRow = Array.from({ length: B * H * W }, (_, i) => ((i * 13) % 7) / 3);

    it('per element [B, C, H, W] and per row [B, H, W]: equal to labels-last, and to the exported graph', async () => {
      const f = files(c);
      const { labelAxis: _a, ...rest } = c.options;
      const lastPred = npy('float64', lastDims(c.predShape), labelsLast(c.pred, c.predShape));
      const lastTarget = npy('float64', lastDims(c.targetShape), labelsLast(c.target, c.targetShape));
      for (const [w, shape, lastW, lastShape, kind] of [
        [wElem, c.predShape, labelsLast(wElem, c.predShape), lastDims(c.predShape), 'element'],
        [wRow, [B, H, W], wRow, [B, H, W], 'sample'],
      ] as const) {
        const a = await evaluate({ loss: c.options as LossOptions, pred: f.pred, target: f.target, weight: npy('float64', [...shape], w), threads: 1 });
        const b = await evaluate({ loss: rest as LossOptions, pred: lastPred, target: lastTarget, weight: npy('float64', [...lastShape], lastW), threads: 1 });
        close(a.loss, b.loss, 1e-12);
        // The exported graph on the user's channel-first layout, its weight input as given.
        const m = buildLoss({ ...(c.options as LossOptions), dtype: 'float64', weight: kind }, { predShape: c.predShape });
        const r = await runModel(m.bytes, { ...sourceInputs(c, 'float64'), weight: { dtype: 'float64', dims: [...shape], data: [...w] } });
        close(a.loss, r.loss.data[0], 1e-12);
        // From memory, in batches of one image.
        const ev = await createEvaluator({ loss: { ...(c.options as LossOptions), dtype: 'float64', weight: kind }, threads: 1 });
        const per = w.length / B;
        for (let k = 0; k < B; k++) {
          const p = prod(c.predShape.slice(1));
          await ev.add({ pred: Float64Array.from(c.pred.slice(k * p, (k + 1) * p)), target: Float64Array.from(c.target.slice(k * p, (k + 1) * p)), weight: Float64Array.from(w.slice(k * per, (k + 1) * per)), dims: [1, C, H, W] });
        }
        close(ev.result().loss, a.loss, 1e-12);
        await ev.close();
      }
    });

    it('a weight file of the right count but another shape is one line naming both shapes', async () => {
      const f = files(c);
      const w = npy('float64', [B, H, W, C], wElem);
      const r = await runCli(['eval', '--like', 'monai', '--label-axis', '1', '--pred', f.pred, '--target', f.target, '--weight', w]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(`weights must have the shape of the predictions [${c.predShape.join(', ')}]`);
      expect(r.stderr).toContain(`or of the rows [${[B, H, W].join(', ')}]`);
    });
  });

  it("--out: kornia's reduction none per pixel [B, H, W], in the user's layout", async () => {
    const c = SOURCE_CASES.find((x) => x.name.startsWith('kornia focal_loss none')) as SourceCase;
    const f = files(c);
    const out = path.join(dir(), 'kornia-out.npy');
    const r = await runCli(['eval', '--task', 'multiclass', '--input', 'logits', '--eps', '0', '--gamma', '1.5', '--alpha', '0.5,0.5,0.5', '--reduction', 'none', '--label-axis', '1', '--pred', f.pred, '--target', f.target, '--out', out, '--batch-size', String(prod(c.predShape.slice(1)))]);
    expect(r.code).toBe(0);
    const got = readNpy(out);
    expect(got.header.shape).toEqual(c.targetShape);
    (c.loss as number[]).forEach((v, i) => close(Number(got.data[i]), v, 1e-12));
  });

  it('--out: multilabel [B, C, H, W] losses equal the exported graph reduction none, element by element', async () => {
    const c = SOURCE_CASES.find((x) => x.name === 'monai mean [B, C, H, W]') as SourceCase;
    const f = files(c);
    const out = path.join(dir(), 'monai-out.npy');
    const r = await evaluate({ loss: c.options as LossOptions, pred: f.pred, target: f.target, out, batchSize: 2 * prod(c.predShape.slice(1)), threads: 1 });
    close(r.loss, c.loss as number);
    const got = readNpy(out);
    expect(got.header.shape).toEqual(c.predShape);
    const m = buildLoss({ ...(c.options as LossOptions), dtype: 'float64', reduction: 'none' }, { predShape: c.predShape });
    const want = (await runModel(m.bytes, sourceInputs(c, 'float64'))).loss.data;
    want.forEach((v, i) => close(Number(got.data[i]), v, 1e-12));
  });

  it('--network: a channel-first network output [B, C, H, W] gives the same as its predictions saved as a file', async () => {
    for (const name of ['monai sum [B, C, H, W]', 'smp multiclass normalized [B, C, H, W]', 'kornia focal_loss sum [B, C, H, W]']) {
      const c = SOURCE_CASES.find((x) => x.name === name) as SourceCase;
      // The network: its input as its output (Identity), [B, C, H, W] with B symbolic.
      const g = new Graph({ opset: 18, name: 'identity' });
      g.output(op.identity(g.input('x', 'float64', ['B', ...c.predShape.slice(1)])), 'logits');
      const net = path.join(dir(), `net-${c.predShape.join('x')}-${name.length}.onnx`);
      fs.writeFileSync(net, serializeModel(buildModel(g)));
      const f = files(c);
      const r = await evaluateNetwork({ network: net, output: 'logits', feeds: { x: f.pred }, target: f.target, loss: c.options as LossOptions, batchSize: prod(c.predShape.slice(1)), threads: 1 });
      close(r.loss, c.loss as number);
      const cli = await runCli(['eval', '--network', net, '--output', 'logits', '--feed', `x=${f.pred}`, '--target', f.target, '--label-axis', '1', ...(name.startsWith('monai') ? ['--like', 'monai', '--reduction', 'sum'] : name.startsWith('smp') ? ['--like', 'smp', '--task', 'multilabel', '--target-format', 'index', '--normalized', 'label'] : ['--task', 'multiclass', '--input', 'logits', '--eps', '0', '--alpha', '0.75,0.25,0.25,0.25', '--reduction', 'sum']), '--json']);
      expect(cli.stderr).toBe('');
      close(JSON.parse(cli.stdout).loss, c.loss as number);
    }
  });
});

describe('labelAxis on [N, C] and in memory', () => {
  const c = SOURCE_CASES.find((x) => x.name === 'monai mean [N, C]') as SourceCase;
  const first = SOURCE_CASES.find((x) => x.name === 'monai sum [B, C, H, W]') as SourceCase;

  it('labelAxis 1 on [N, C] names the last axis: the same loss as without it (files and memory)', async () => {
    const f = files(c);
    const plain = await evaluate({ loss: c.options as LossOptions, pred: f.pred, target: f.target, threads: 1 });
    const axis = await evaluate({ loss: { ...(c.options as LossOptions), labelAxis: 1 }, pred: f.pred, target: f.target, threads: 1 });
    close(axis.loss, plain.loss, 1e-12);
    // In memory the rank is not known when the graph is built: [N, C] runs as [N, C, 1].
    const ev = await createEvaluator({ loss: { ...(c.options as LossOptions), dtype: 'float64', labelAxis: 1 }, threads: 1 });
    await ev.add({ pred: Float64Array.from(c.pred), target: targetArray(c), dims: c.predShape });
    close(ev.result().loss, plain.loss, 1e-12);
    expect(ev.result().perLabel).toHaveLength(c.predShape[1]);
    await ev.close();
  });

  it('a --model exported channel-first (reduction none, [B, C, H, W]) gives the same loss and perLabel as the loss flags', async () => {
    for (const name of ['monai mean [B, C, H, W]', 'monai to_onehot_y sum [B, C, H, W]', 'kornia focal_loss sum [B, C, H, W]']) {
      const k = SOURCE_CASES.find((x) => x.name === name) as SourceCase;
      const f = files(k);
      const model = path.join(dir(), `first-${name.length}.onnx`);
      fs.writeFileSync(model, buildLoss({ ...(k.options as LossOptions), dtype: 'float64', reduction: 'none' }, { predShape: ['B', ...k.predShape.slice(1)] }).bytes);
      const flags = await evaluate({ loss: { ...(k.options as LossOptions), reduction: 'none' }, pred: f.pred, target: f.target, threads: 1 });
      for (const batchSize of [1 << 18, prod(k.predShape.slice(1))]) {
        const m = await evaluate({ model, pred: f.pred, target: f.target, batchSize, threads: 1 });
        close(m.loss, flags.loss, 1e-12);
        if (flags.perLabel) (m.perLabel as number[]).forEach((v, l) => close(v, (flags.perLabel as number[])[l], 1e-12));
      }
    }
  });

  it("losses: true gives each batch's per-element losses in the caller's channel-first layout", async () => {
    const ev = await createEvaluator({ loss: { ...(first.options as LossOptions), dtype: 'float64', reduction: 'none' }, losses: true, threads: 1 });
    const got = await ev.add({ pred: Float64Array.from(first.pred), target: targetArray(first), dims: first.predShape });
    expect(got?.dims).toEqual(first.predShape);
    const m = buildLoss({ ...(first.options as LossOptions), dtype: 'float64', reduction: 'none' }, { predShape: first.predShape });
    const want = (await runModel(m.bytes, sourceInputs(first, 'float64'))).loss.data;
    want.forEach((v, i) => close(Number(got?.data[i]), v, 1e-12));
    await ev.close();
  });

  it("MONAI's sum: a batch of another spatial size than the batches before it is refused, and adds nothing", async () => {
    const ev = await createEvaluator({ loss: { ...(first.options as LossOptions), dtype: 'float64' }, threads: 1 });
    await ev.add({ pred: Float64Array.from(first.pred), target: targetArray(first), dims: first.predShape });
    const [B, C, H, W] = first.predShape;
    // [B·H, C, W] holds as many elements, but a spatial size of W, not H·W.
    await expect(ev.add({ pred: Float64Array.from(first.pred), target: targetArray(first), dims: [B * H, C, W] })).rejects.toThrow(
      `batch 1: pred has dims [${B * H}, ${C}, ${W}], a spatial size of ${W}; MONAI's sum (spatialMean) divides by it, and the batches before it had a spatial size of ${H * W}`,
    );
    close(ev.result().loss, first.loss as number);
    await ev.close();
  });
});

describe('perImage: eval equals the exported graph on onnxruntime-node', () => {
  const PER = SOURCE_CASES.filter((c) => c.options.perImage);

  test.each(PER.map((c) => [c.name, c] as const))('%s', async (_n, c) => {
    const m = buildLoss({ ...(c.options as LossOptions), dtype: 'float64' }, { predShape: c.predShape });
    const graph = (await runModel(m.bytes, sourceInputs(c, 'float64'))).loss.data[0];
    close(graph, c.loss as number, 1e-12);
    const f = files(c);
    const r = await evaluate({ loss: c.options as LossOptions, pred: f.pred, target: f.target, batchSize: prod(c.predShape.slice(1)), threads: 1 });
    close(r.loss, graph, 1e-12);
    // A model file exported with perImage (reduction mean): each batch's mean over its images, times its images, added up.
    const model = path.join(dir(), `per-image-${c.predShape[0]}.onnx`);
    fs.writeFileSync(model, buildLoss({ ...(c.options as LossOptions), dtype: 'float64' }, { predShape: ['B', ...c.predShape.slice(1)] }).bytes);
    const viaModel = await evaluate({ model, pred: f.pred, target: f.target, batchSize: prod(c.predShape.slice(1)), threads: 1 });
    close(viaModel.loss, graph, 1e-12);
    expect(viaModel.images).toBe(c.predShape[0]);
  });

  it('export --per-image with no shape builds the loss on [B, K, L]: torchvision\'s numbers', async () => {
    const c = PER[0];
    const out = path.join(dir(), 'per-image-cli.onnx');
    const flags = ['--task', 'multilabel', '--input', 'logits', '--eps', '0', '--alpha', '0.25', '--target-format', 'index', '--ignore-index', '-2', '--normalize', 'positives', '--per-image'];
    const r = await runCli(['export', ...flags, '--dtype', 'float64', '--json', '-o', out]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).inputs.find((i: { name: string }) => i.name === 'pred').shape).toEqual(['B', 'K', 'L']);
    close((await runModel(fs.readFileSync(out), sourceInputs(c, 'float64'))).loss.data[0], c.loss as number, 1e-12);
    // And the API's default is the same graph.
    expect(Buffer.from(buildLoss({ ...(c.options as LossOptions), dtype: 'float64' }).bytes).equals(fs.readFileSync(out))).toBe(true);
  });

  // Beside torchvision's: binary [B, K], a number, ignored elements, channel-first multiclass.
  const OTHER: [string, LossOptions, number[], 'float64' | 'int64', (i: number) => number][] = [
    ['binary [B, K], positives', { task: 'binary', input: 'logits', normalize: 'positives', ignoreIndex: -1 }, [3, 10], 'float64', (i) => (i % 5 === 0 ? -1 : i % 3 === 0 ? 1 : 0)],
    ['multilabel [B, K, L], normalize 2', { task: 'multilabel', normalize: 2 }, [2, 4, 3], 'float64', (i) => (i % 4 === 1 ? 1 : 0)],
    ['multilabel [B, K, L], elements not ignored', { task: 'multilabel', ignoreIndex: 255 }, [3, 4, 2], 'float64', (i) => (i % 7 === 0 ? 255 : i % 2)],
    ['multiclass [B, C, H, W] (--label-axis 1), elements not ignored', { task: 'multiclass', input: 'logits', labelAxis: 1, ignoreIndex: 255 }, [2, 3, 2, 3], 'int64', (i) => (i % 5 === 0 ? 255 : i % 3)],
  ];
  test.each(OTHER)('%s', async (_n, options, shape, tdtype, t) => {
    const loss: LossOptions = { ...options, perImage: true };
    const n = prod(shape);
    const pred = Array.from({ length: n }, (_, i) => (options.input === 'logits' ? Math.sin(i + 1) * 2 : 0.05 + 0.9 * ((i * 0.37) % 1)));
    const tShape = options.task === 'multiclass' ? [shape[0], ...shape.slice(2)] : shape;
    const target = Array.from({ length: prod(tShape) }, (_, i) => t(i));
    const m = buildLoss({ ...loss, dtype: 'float64' }, { predShape: shape });
    const graph = (await runModel(m.bytes, { pred: { dtype: 'float64', dims: shape, data: pred }, target: { dtype: tdtype, dims: tShape, data: target } })).loss.data[0];
    const p = npy('float64', shape, pred);
    const tf = npy(tdtype, tShape, target);
    for (const batchSize of [1 << 18, prod(shape.slice(1))]) {
      const r = await evaluate({ loss, pred: p, target: tf, batchSize, threads: 1 });
      close(r.loss, graph, 1e-12);
      expect(r.images).toBe(shape[0]);
    }
  });

  it('--network: the dense head [B, K, C] per image equals its output saved as a file', async () => {
    const net = path.join(__dirname, '..', 'fixtures', 'networks', 'dense-dynamo.onnx');
    const B = 2;
    const K = 16;
    const C = 5;
    const fmap = npy('float32', [B, 8, 4, 4], Array.from({ length: B * 128 }, (_, i) => Math.sin(i)));
    // Index targets [B, K]: a class, C for background, -2 between thresholds.
    const t = npy('int64', [B, K], Array.from({ length: B * K }, (_, i) => (i % 7 === 0 ? -2 : i % 3 === 0 ? i % C : C)));
    const loss: LossOptions = { task: 'multilabel', input: 'logits', eps: 0, alpha: 0.25, targetFormat: 'index', ignoreIndex: -2, normalize: 'positives', perImage: true };
    const r = await evaluateNetwork({ network: net, output: 'cls_logits', feeds: { fmap }, target: t, loss, batchSize: 128, threads: 1 });
    expect(r.images).toBe(B);
    // The network's output, as a file, through eval and through the exported graph.
    const s = await runModel(fs.readFileSync(net), { fmap: { dtype: 'float32', dims: [B, 8, 4, 4], data: Array.from({ length: B * 128 }, (_, i) => Math.fround(Math.sin(i))) } });
    const out = s.cls_logits.data;
    const p = npy('float32', [B, K, C], out);
    const e = await evaluate({ loss, pred: p, target: t, threads: 1 });
    // (float32: the network's per-element losses against the file's, each summed in its own blocks.)
    close(r.loss, e.loss, 1e-6);
    const m = buildLoss({ ...loss, dtype: 'float32' }, { predShape: [B, K, C] });
    const targets = readNpy(t);
    const g = await runModel(m.bytes, { pred: { dtype: 'float32', dims: [B, K, C], data: out }, target: { dtype: 'int64', dims: [B, K], data: Array.from(targets.data as BigInt64Array, Number) } });
    close(e.loss, g.loss.data[0], 1e-6);
  });
});

describe('shapes that do not fit: one line naming the flag', () => {
  const one = (r: { code: number; stderr: string }, re: RegExp): void => {
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(re);
  };

  it('--per-image with rank-2 predictions', async () => {
    const c = SOURCE_CASES.find((x) => x.name === 'smp multiclass [N, C]') as SourceCase;
    const f = files(c);
    one(await runCli(['eval', '--like', 'smp', '--task', 'multilabel', '--target-format', 'index', '--per-image', '--pred', f.pred, '--target', f.target]), /^focal-onnx: .*: shape \[8, 3\]; --per-image needs predictions of rank 3 or more /);
    await expect(evaluate({ loss: { ...(c.options as LossOptions), perImage: true }, pred: f.pred, target: f.target })).rejects.toThrow(/: shape \[8, 3\]; perImage needs predictions of rank 3 or more/);
    const ev = await createEvaluator({ loss: { ...(c.options as LossOptions), dtype: 'float64', perImage: true } });
    await expect(ev.add({ pred: Float64Array.from(c.pred), target: targetArray(c), dims: c.predShape })).rejects.toThrow(/^batch 0: pred has dims \[8, 3\]; perImage needs predictions of rank 3 or more/);
    await ev.close();
  });

  it('--per-image multiclass with the classes last: refused before anything runs, naming the flags (the builder takes the classes on axis 1)', async () => {
    const pred = npy('float32', [2, 3, 4], Array.from({ length: 24 }, (_, i) => i / 24));
    const target = npy('int64', [2, 3], [0, 1, 2, 3, 0, 1]);
    one(await runCli(['eval', '--task', 'multiclass', '--input', 'logits', '--per-image', '--pred', pred, '--target', target]), /^focal-onnx: --per-image on predictions \[B, K, C\], the classes last: multiclass predictions must be \[N, C\] \(or \[B, C, …\] with --label-axis 1\)\n$/);
    await expect(createEvaluator({ loss: { task: 'multiclass', perImage: true } })).rejects.toThrow(/^perImage on predictions \[B, K, C\], the classes last: .* with labelAxis 1\)$/);
  });

  it('--label-axis 1 with index targets of the wrong shape', async () => {
    const c = SOURCE_CASES.find((x) => x.name === 'smp multiclass normalized [B, C, H, W]') as SourceCase;
    const f = files(c);
    const [B, , H, W] = c.predShape;
    const bad = npy('int64', [B, H * W], c.target);
    one(
      await runCli(['eval', '--like', 'smp', '--task', 'multilabel', '--target-format', 'index', '--label-axis', '1', '--pred', f.pred, '--target', bad]),
      new RegExp(`index targets with --label-axis 1 must be \\[${B}, ${H}, ${W}\\]`),
    );
    const k = SOURCE_CASES.find((x) => x.name === 'kornia focal_loss sum [B, C, H, W]') as SourceCase;
    const kf = files(k);
    const kbad = npy('int64', [k.targetShape[0], 1, ...k.targetShape.slice(1)], k.target);
    one(await runCli(['eval', '--task', 'multiclass', '--input', 'logits', '--label-axis', '1', '--pred', kf.pred, '--target', kbad]), /multiclass targets with --label-axis 1 must be \[2, 3, 5\]/);
  });

  it('--label-axis beyond the predictions, and multiclass channel-first without it', async () => {
    const c = SOURCE_CASES.find((x) => x.name === 'monai sum [B, C, H, W]') as SourceCase;
    const f = files(c);
    one(await runCli(['eval', '--like', 'monai', '--label-axis', '4', '--pred', f.pred, '--target', f.target]), /^focal-onnx: .*: shape \[2, 3, 4, 5\]; --label-axis 4 is not an axis of predictions of rank 4 after the first \(1 to 3/);
    await expect(evaluate({ loss: { like: 'monai', labelAxis: -4 }, pred: f.pred, target: f.target })).rejects.toThrow(UsageError);
    const k = SOURCE_CASES.find((x) => x.name === 'kornia focal_loss sum [B, C, H, W]') as SourceCase;
    const kf = files(k);
    one(await runCli(['eval', '--task', 'multiclass', '--pred', kf.pred, '--target', kf.target]), /multiclass predictions must be \[N, C\] \(or \[B, C, …\] with --label-axis 1\)/);
  });
});

describe('diagnostics on the source cases', () => {
  it('diagnostics with channel-first (MONAI) and per image (torchvision): the swept value at the case’s γ is the library’s loss', async () => {
    const c = SOURCE_CASES.find((x) => x.name === 'monai mean [B, C, H, W]') as SourceCase;
    const f = files(c);
    const cli = await runCli(['eval', '--like', 'monai', '--label-axis', '1', '--pred', f.pred, '--target', f.target, '--diagnostics', '--json']);
    expect([cli.code, cli.stderr]).toEqual([0, '']);
    const d = JSON.parse(cli.stdout).diagnostics as { gamma: number; perClass: unknown[]; gammaSweep: { gamma: number; loss: number }[] };
    expect(d.perClass).toHaveLength(c.predShape[1]);
    close(d.gammaSweep.find((x) => x.gamma === d.gamma)?.loss as number, wanted(c));
    const tv = SOURCE_CASES.find((x) => x.options.perImage) as SourceCase;
    const t = files(tv);
    const r = await evaluate({ loss: tv.options as LossOptions, pred: t.pred, target: t.target, batchSize: prod(tv.predShape.slice(1)), threads: 1, diagnostics: { sweepGamma: [0, tv.options.gamma as number] } });
    close(r.diagnostics?.gammaSweep[1].loss as number, wanted(tv));
  });
});
