/**
 * The file sources' worker pool (src/runtime/pool.ts, eval-worker.ts, file-batches.ts): on the CPU
 * with more than one thread and at least MIN_POOL_BATCHES batches (no `out`, no diagnostics), the
 * caller's one-thread session and worker threads' each read and run whole batches. The results
 * must be those of one session, bit for bit (every session has one thread, the outcomes are added
 * in batch order) — for every task and file layout: weights, channel-first, per image, a model
 * file, a network's files —, the errors must be the same (the first bad element in file order,
 * whichever session meets it), and nothing may be left running. The workers run the build's
 * eval-worker.js (`npm test` builds first).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { mulberry32 } from '../../scripts/prng';
import { NpyDType, readNpy, typedArrayFor, writeNpy } from '../../src/io/npy';
import { onnx } from 'onnx-proto';
import { LossOptions, buildLoss } from '../../src/losses';
import { decodeModelProto, serializeModel } from '../../src/onnx';
import { EvaluateOptions, EvaluateResult, MIN_POOL_BATCHES, evaluate } from '../../src/runtime/evaluate';
import { evaluateNetwork } from '../../src/runtime/evaluate-network';
import { scratchDir } from '../helpers/cli';
import { NETWORKS_DIR, network } from '../helpers/networks';
import { npyFiles } from '../helpers/npy-files';

const dir = scratchDir('focal-pool-');
const npy = npyFiles(dir, 'p');

const N = 6000;
const L = 6;
const r = mulberry32(7);
const probs = Array.from({ length: N * L }, () => r());
const logits = probs.map((p) => 8 * p - 4);
const bits: number[] = probs.map(() => (r() < 0.3 ? 1 : 0));
const classes = Array.from({ length: N }, () => Math.floor(r() * L));
const weights = probs.map(() => r() * 2);

// Batches of 250 elements (41 rows of 6) make 144 or more: the pool starts from MIN_POOL_BATCHES.
const BATCH = 250;

/** The outcome, or what it threw. */
function settle<T>(p: Promise<T>): Promise<T | unknown> {
  return p.then(
    (x) => x,
    (e: unknown) => e,
  );
}

/** One session (1 thread), and the pool with 1 and 2 workers (2 and 3 threads): the same result, bit for bit. */
async function expectSameAsOne(o: EvaluateOptions): Promise<EvaluateResult> {
  const one = await evaluate({ ...o, threads: 1 });
  expect(one.sessions).toBe(1);
  expect(one.batches).toBeGreaterThanOrEqual(MIN_POOL_BATCHES);
  for (const threads of [2, 3]) {
    const pool = await evaluate({ ...o, threads });
    expect(pool.sessions).toBe(threads);
    const { seconds: _s, loadSeconds: _l, elementsPerSecond: _e, sessions: _n, ...same } = pool;
    const { seconds: _s1, loadSeconds: _l1, elementsPerSecond: _e1, sessions: _n1, ...want } = one;
    expect(same).toEqual(want);
    expect(Object.is(pool.loss, one.loss)).toBe(true);
  }
  return one;
}

describe('the pool gives the result of one session, bit for bit', () => {
  it.each([
    ['binary float32', { task: 'binary' }, 'float32', 'float32'],
    ['binary float64 logits, uint8 targets', { task: 'binary', input: 'logits' }, 'float64', 'uint8'],
    ['binary onehot, float16 predictions', { task: 'binary', form: 'onehot' }, 'float16', 'float32'],
    ['multilabel per-label α', { task: 'multilabel', alpha: [0.1, 0.2, 0.3, 0.6, 0.7, 0.9] }, 'float32', 'float32'],
    ['multilabel sum, bool targets', { task: 'multilabel', reduction: 'sum' }, 'float32', 'bool'],
    ['multiclass logits, ignore 0, normalize positives', { task: 'multiclass', input: 'logits', ignoreIndex: 0, normalize: 'positives' }, 'float32', 'int64'],
  ] as [string, LossOptions, NpyDType, NpyDType][])('%s', async (_name, loss, predType, targetType) => {
    const multiclass = loss.task === 'multiclass';
    const shape = loss.task === 'binary' ? [N * L] : [N, L];
    const pred = npy(predType, shape, loss.input === 'logits' ? logits : probs);
    const target = multiclass ? npy(targetType, [N], classes) : npy(targetType, shape, bits);
    const one = await expectSameAsOne({ pred, target, loss, batchSize: BATCH });
    if (loss.task === 'multilabel') expect(one.perLabel).toHaveLength(L);
  });

  it('weights: one per prediction (binary weighted-mean) and one per row (multilabel, perLabel)', async () => {
    const w = npy('float32', [N * L], weights);
    await expectSameAsOne({ pred: npy('float32', [N * L], probs), target: npy('float32', [N * L], bits), weight: w, loss: { reduction: 'weighted-mean' }, batchSize: BATCH });
    const one = await expectSameAsOne({
      pred: npy('float32', [N, L], probs),
      target: npy('float32', [N, L], bits),
      weight: npy('float64', [N], weights.slice(0, N)),
      loss: { task: 'multilabel', reduction: 'weighted-mean' },
      batchSize: BATCH,
    });
    expect(one.weightSum).toBeGreaterThan(0);
  });

  it('channel-first [B, C, H, W]: multi-label and multi-class (class indices [B, H, W])', async () => {
    // 100 images of 6 × 10 × 6: one image a batch.
    const [B, C, H, W] = [100, L, 10, 6];
    const pred = npy('float32', [B, C, H, W], logits);
    await expectSameAsOne({ pred, target: npy('float32', [B, C, H, W], bits), loss: { task: 'multilabel', labelAxis: 1, input: 'logits' }, batchSize: C * H * W });
    await expectSameAsOne({ pred, target: npy('int64', [B, H, W], classes), loss: { task: 'multiclass', labelAxis: 1, input: 'logits' }, batchSize: C * H * W });
  });

  it('per image: binary [B, K] and multi-label [B, K, L] normalized by positives', async () => {
    await expectSameAsOne({ pred: npy('float32', [100, 360], probs), target: npy('float32', [100, 360], bits), loss: { task: 'binary', perImage: true }, batchSize: 360 });
    const one = await expectSameAsOne({
      pred: npy('float32', [100, 60, L], probs),
      target: npy('float32', [100, 60, L], bits),
      loss: { task: 'multilabel', perImage: true, normalize: 'positives' },
      batchSize: 60 * L,
    });
    expect(one.images).toBe(100);
  });

  it('a model file that reduces (mean) and one per element (none)', async () => {
    const pred = npy('float32', [N * L], probs);
    const target = npy('float32', [N * L], bits);
    for (const reduction of ['mean', 'none'] as const) {
      const model = path.join(dir(), `m-${reduction}.onnx`);
      fs.writeFileSync(model, buildLoss({ reduction }).bytes);
      await expectSameAsOne({ pred, target, model, batchSize: BATCH });
    }
  });

  it("a network's input files (evaluateNetwork), one row a batch", async () => {
    const n = network('tagger');
    const times = Math.ceil(80 / n.inputShape[0]);
    const rowX = n.inputShape.slice(1).reduce((a, b) => a * b, 1);
    const x = path.join(dir(), 'net-x.npy');
    writeNpy(x, 'float32', [n.inputShape[0] * times, ...n.inputShape.slice(1)], Float32Array.from({ length: n.x.length * times }, (_, i) => n.x[i % n.x.length]));
    const flat = (n.target as unknown[]).flat(4) as number[];
    const t = path.join(dir(), 'net-t.npy');
    writeNpy(t, 'float32', [n.outputShape[0] * times, ...n.outputShape.slice(1)], Float32Array.from({ length: flat.length * times }, (_, i) => flat[i % flat.length]));
    const o = { network: path.join(NETWORKS_DIR, n.models[0].file), output: n.output, feeds: { [n.input]: x }, target: t, loss: n.loss, batchSize: rowX };
    const one = await evaluateNetwork({ ...o, threads: 1 });
    expect(one.batches).toBeGreaterThanOrEqual(MIN_POOL_BATCHES);
    const pool = await evaluateNetwork({ ...o, threads: 2 });
    expect([one.sessions, pool.sessions]).toEqual([1, 2]);
    expect(Object.is(pool.loss, one.loss)).toBe(true);
    expect(pool.perLabel).toEqual(one.perLabel);
    expect(Math.abs(one.loss - n.referenceLoss)).toBeLessThan(2e-6 * n.referenceLoss);
  });

  it("a network with its weights in a side file (the workers' sessions find it from the network's folder)", async () => {
    const FIX = path.join(__dirname, '..', 'fixtures', 'external');
    const times = 40;
    const repeat = (name: string): string => {
      const a = readNpy(path.join(FIX, name));
      const data = typedArrayFor(a.header.dtype, a.data.length * times);
      for (let k = 0; k < times; k++) (data as Float32Array).set(a.data as Float32Array, k * a.data.length);
      const file = path.join(dir(), `ext-${name}`);
      writeNpy(file, a.header.dtype, [a.header.shape[0] * times, ...a.header.shape.slice(1)], data);
      return file;
    };
    const o = { network: path.join(FIX, 'tagger.onnx'), output: 'logits', feeds: { features: repeat('x.npy') }, target: repeat('target.npy'), loss: { task: 'multilabel', input: 'logits', alpha: 0.25, gamma: 2 } as LossOptions, batchSize: 32 };
    const one = await evaluateNetwork({ ...o, threads: 1 });
    expect(one.batches).toBeGreaterThanOrEqual(MIN_POOL_BATCHES);
    const pool = await evaluateNetwork({ ...o, threads: 2 });
    expect([one.sessions, pool.sessions]).toEqual([1, 2]);
    expect(Object.is(pool.loss, one.loss)).toBe(true);
  });

  it('reports progress once per batch, in order, to the end', async () => {
    const done: number[] = [];
    const res = await evaluate({ pred: npy('float32', [N * L], probs), target: npy('float32', [N * L], bits), batchSize: BATCH, threads: 2, onProgress: (p) => done.push(p.done) });
    expect(res.sessions).toBe(2);
    expect(done).toHaveLength(res.batches);
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(done[done.length - 1]).toBe(N * L);
  });
});

describe('where the pool is not used', () => {
  it('out, diagnostics, one thread, fewer than MIN_POOL_BATCHES batches: one session', async () => {
    const pred = npy('float32', [N * L], probs);
    const target = npy('float32', [N * L], bits);
    const out = path.join(dir(), 'losses.npy');
    expect((await evaluate({ pred, target, batchSize: BATCH, threads: 2, out })).sessions).toBe(1);
    expect((await evaluate({ pred, target, batchSize: BATCH, threads: 2, diagnostics: true })).sessions).toBe(1);
    expect((await evaluate({ pred, target, batchSize: BATCH, threads: 1 })).sessions).toBe(1);
    const few = await evaluate({ pred, target, batchSize: Math.ceil((N * L) / (MIN_POOL_BATCHES - 1)), threads: 2 });
    expect(few.batches).toBeLessThan(MIN_POOL_BATCHES);
    expect(few.sessions).toBe(1);
  });
});

describe('what a worker loads', () => {
  it('no graph builder or protobuf code: the graph comes as bytes', () => {
    // The build's worker script, as the pool runs it, loaded in a fresh process (outside a worker
    // thread it only finds it has no parent port).
    const script = path.resolve(__dirname, '../../dist/src/runtime/eval-worker.js');
    const loaded = execFileSync(process.execPath, ['-e', `require(${JSON.stringify(script)}); console.log(JSON.stringify(Object.keys(require.cache)))`], { encoding: 'utf8' });
    const files = JSON.parse(loaded) as string[];
    expect(files.some((f) => f.includes('onnxruntime-node'))).toBe(true);
    expect(files.filter((f) => /protobufjs|onnx-proto|[\\/]src[\\/]onnx[\\/]|[\\/]src[\\/]losses[\\/](?!shapes\.js|vocabulary\.js)|eval-outputs/.test(f))).toEqual([]);
  });
});

describe('errors from the pool are those of one session', () => {
  /** The error of threads 1, and the same error (class and message) from the pool. */
  async function sameError(o: EvaluateOptions, threads = [2, 3, 5, 10]): Promise<Error> {
    const one = (await settle(evaluate({ ...o, threads: 1 }))) as Error;
    expect(one).toBeInstanceOf(Error);
    for (const t of threads) {
      const e = (await settle(evaluate({ ...o, threads: t }))) as Error;
      expect([t, e.constructor.name, e.message]).toEqual([t, one.constructor.name, one.message]);
    }
    return one;
  }

  it('names the first bad element in file order, whichever session meets it and however late', async () => {
    const p = [...probs];
    p[30_001] = NaN; // batch 30
    p[7_500] = 1.5; // batch 7 (on a worker or this thread): the first in file order
    p[35_999] = -1; // the last batch
    // 10 threads: MAX_WORKERS workers of 2 intra-op threads each, and this thread's session.
    const e = await sameError({ pred: npy('float32', [N * L], p), target: npy('float32', [N * L], bits), batchSize: BATCH });
    expect(e.name).toBe('DataError');
    expect(e.message).toMatch(/element 7500 is 1\.5; probabilities must be in \[0, 1\]/);
  });

  it('a bad target checked in JS (uint8 of 3) and a bad prediction later: the target first', async () => {
    const t = [...bits];
    t[12_345] = 3;
    const p = [...probs];
    p[20_000] = NaN;
    const e = await sameError({ pred: npy('float32', [N * L], p), target: npy('uint8', [N * L], t), batchSize: BATCH }, [2, 3]);
    expect(e.message).toMatch(/element 12345 is 3; binary targets must be 0 or 1/);
  });

  it('a bad weight in a late batch', async () => {
    const w = [...weights];
    w[33_333] = -1;
    const e = await sameError({ pred: npy('float32', [N * L], probs), target: npy('float32', [N * L], bits), weight: npy('float32', [N * L], w), loss: { reduction: 'weighted-mean' }, batchSize: BATCH }, [2]);
    expect(e.name).toBe('DataError');
    expect(e.message).toContain('33333');
  });

  it('a model file onnxruntime refuses: one UsageError naming the file', async () => {
    // Valid protobuf and focal-onnx metadata (so the plan accepts it), an operator no runtime knows.
    const m = decodeModelProto(buildLoss({ reduction: 'none' }).bytes);
    (m.graph as onnx.GraphProto).node[0].opType = 'NoSuchOperator';
    const model = path.join(dir(), 'unknown-op.onnx');
    fs.writeFileSync(model, serializeModel(m));
    const e = await sameError({ pred: npy('float32', [N * L], probs), target: npy('float32', [N * L], bits), model, batchSize: BATCH }, [2, 3]);
    expect(e.name).toBe('UsageError');
    expect(e.message.startsWith(`${model}: `)).toBe(true);
    expect(e.message).not.toContain('\n');
  });
});

describe('nothing is left running', () => {
  it('a process that evaluated with the pool, and one whose pool met a bad element, exit by themselves', () => {
    const p = [...probs];
    p[20_000] = NaN;
    const files = { good: npy('float32', [N * L], probs), bad: npy('float32', [N * L], p), target: npy('float32', [N * L], bits) };
    const lib = path.resolve(__dirname, '../../dist/src/index.js');
    const program = `
const { evaluate } = require(${JSON.stringify(lib)});
const f = ${JSON.stringify(files)};
(async () => {
  const ok = await evaluate({ pred: f.good, target: f.target, batchSize: ${BATCH}, threads: 3 });
  const bad = await evaluate({ pred: f.bad, target: f.target, batchSize: ${BATCH}, threads: 3 }).then(() => 'no error', (e) => e.name);
  console.log(JSON.stringify({ sessions: ok.sessions, bad }));
})();
`;
    // No process.exit: the process ends only once every worker has exited.
    const out = execFileSync(process.execPath, ['-e', program], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ sessions: 3, bad: 'DataError' });
  });
});
