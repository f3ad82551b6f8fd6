/**
 * The evaluator's worker pool (src/runtime/pool.ts, eval-worker.ts): with more than one thread
 * and more than one batch (and no `out`), batches run in worker threads; the results must be
 * those of one session in this thread — sums, per-label vectors, models that reduce, every file
 * type the evaluator takes — and errors must be the same: the first bad element in file order
 * whichever worker meets it, a model file onnxruntime refuses named in one line. The workers run
 * the build's eval-worker.js (`npm test` builds first).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { mulberry32 } from '../../scripts/prng';
import { DataError, UsageError } from '../../src/errors';
import { NpyDType } from '../../src/io/npy';
import { onnx } from 'onnx-proto';
import { LossOptions, buildLoss } from '../../src/losses';
import { decodeModelProto, serializeModel } from '../../src/onnx';
import { EvaluateOptions, EvaluateResult, MIN_POOL_BATCHES, evaluate } from '../../src/runtime/evaluate';
import { scratchDir } from '../helpers/cli';
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

/** One session in this thread, and the pool (3 threads: this thread's session and 2 workers). */
async function both(o: EvaluateOptions): Promise<[EvaluateResult, EvaluateResult]> {
  const one = await evaluate({ ...o, threads: 1 });
  const pool = await evaluate({ ...o, threads: 3 });
  expect(one.sessions).toBe(1);
  expect(pool.sessions).toBe(3);
  return [one, pool];
}

// The pool starts from MIN_POOL_BATCHES batches: batches of 250 elements (41 rows of 6) make 144 or more.
const BATCH = 250;

function expectSame(one: EvaluateResult, pool: EvaluateResult): void {
  expect(pool.batches).toBe(one.batches);
  expect(pool.count).toBe(one.count);
  // The same batches and blocks in both: the same sums, to the order of float64 additions.
  expect(Math.abs(pool.loss - one.loss)).toBeLessThanOrEqual(1e-13 * Math.abs(one.loss));
  one.perLabel?.forEach((v, i) => expect(Math.abs((pool.perLabel as number[])[i] - v)).toBeLessThanOrEqual(1e-13 * Math.abs(v)));
  expect(pool.perLabel === undefined).toBe(one.perLabel === undefined);
}

describe('the worker pool gives the results of one session', () => {
  it.each([
    ['binary float32', { task: 'binary' }, 'float32', 'float32'],
    ['binary float64 logits, uint8 targets', { task: 'binary', input: 'logits' }, 'float64', 'uint8'],
    ['binary onehot, float16 predictions', { task: 'binary', form: 'onehot' }, 'float16', 'float32'],
    ['binary, float64 targets converted for float32 predictions', { task: 'binary' }, 'float32', 'float64'],
    ['multilabel per-label α', { task: 'multilabel', alpha: [0.1, 0.2, 0.3, 0.6, 0.7, 0.9] }, 'float32', 'float32'],
    ['multilabel sum, bool targets', { task: 'multilabel', reduction: 'sum' }, 'float32', 'bool'],
    ['multiclass logits', { task: 'multiclass', input: 'logits' }, 'float32', 'int64'],
  ] as [string, LossOptions, NpyDType, NpyDType][])('%s', async (_name, loss, predType, targetType) => {
    const multiclass = loss.task === 'multiclass';
    const shape = loss.task === 'binary' ? [N * L] : [N, L];
    const pred = npy(predType, shape, loss.input === 'logits' ? logits : probs);
    const target = multiclass ? npy(targetType, [N], classes) : npy(targetType, shape, bits);
    const [one, pool] = await both({ pred, target, loss, batchSize: BATCH });
    expect(one.batches).toBeGreaterThanOrEqual(MIN_POOL_BATCHES);
    expectSame(one, pool);
  });

  it('a model file that reduces (mean) and one per element (none)', async () => {
    const pred = npy('float32', [N * L], probs);
    const target = npy('float32', [N * L], bits);
    for (const reduction of ['mean', 'none'] as const) {
      const model = path.join(dir(), `m-${reduction}.onnx`);
      fs.writeFileSync(model, buildLoss({ reduction }).bytes);
      const [one, pool] = await both({ pred, target, model, batchSize: BATCH });
      expectSame(one, pool);
    }
  });

  it('reports progress once per batch, in order, to the end', async () => {
    const pred = npy('float32', [N * L], probs);
    const target = npy('float32', [N * L], bits);
    const done: number[] = [];
    const res = await evaluate({ pred, target, batchSize: BATCH, threads: 2, onProgress: (p) => done.push(p.done) });
    expect(res.sessions).toBe(2);
    expect(done).toHaveLength(res.batches);
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(done[done.length - 1]).toBe(N * L);
  });
});

describe('what a worker loads', () => {
  it('no protobuf code: the graph comes as bytes (protobufjs and onnx-proto add ~20 ms to every start)', () => {
    // The build's worker script, as the pool runs it, loaded in a fresh process (outside a worker
    // thread it only finds it has no parent port).
    const script = path.resolve(__dirname, '../../dist/src/runtime/eval-worker.js');
    const loaded = execFileSync(process.execPath, ['-e', `require(${JSON.stringify(script)}); console.log(JSON.stringify(Object.keys(require.cache)))`], {
      encoding: 'utf8',
    });
    const files = JSON.parse(loaded) as string[];
    expect(files.some((f) => f.includes('onnxruntime-node'))).toBe(true);
    expect(files.filter((f) => /protobufjs|onnx-proto|[\\/]src[\\/](onnx|losses)[\\/]/.test(f))).toEqual([]);
  });
});

describe('errors from the pool are those of one session', () => {
  it('names the first bad element in file order, whichever worker meets it and however late', async () => {
    const target = npy('float32', [N * L], bits);
    const p = [...probs];
    p[30_001] = NaN; // batch 30
    p[7_500] = 1.5; // batch 7: the first in file order
    p[35_999] = -1; // the last batch
    const pred = npy('float32', [N * L], p);
    // 10 threads: MAX_WORKERS workers of 2 intra-op threads each, and this thread's session.
    for (const threads of [2, 3, 5, 10]) {
      const e = await evaluate({ pred, target, batchSize: BATCH, threads }).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(DataError);
      expect((e as Error).message).toMatch(/element 7500 is 1\.5; probabilities must be in \[0, 1\]/);
    }
  });

  it('a bad target checked in JS (uint8 of 3) and a bad prediction later: the target first', async () => {
    const t = [...bits];
    t[12_345] = 3;
    const p = [...probs];
    p[20_000] = NaN;
    const e = await evaluate({ pred: npy('float32', [N * L], p), target: npy('uint8', [N * L], t), batchSize: BATCH, threads: 2 }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(DataError);
    expect((e as Error).message).toMatch(/element 12345 is 3; binary targets must be 0 or 1/);
  });

  it('a model that fails after the workers started (before their setup): the error, and the workers stop', async () => {
    const pred = npy('float32', [N * L], probs);
    const target = npy('float32', [N * L], bits);
    // Its 'loss' output has no element type: accepted when planning (the workers start), refused
    // when the evaluator's outputs are added to it (before the workers get their setup).
    const m = decodeModelProto(buildLoss({ reduction: 'none' }).bytes);
    const loss = (m.graph as onnx.GraphProto).output.find((o) => o.name === 'loss') as onnx.ValueInfoProto;
    (loss.type as onnx.TypeProto).tensorType = null;
    const model = path.join(dir(), 'untyped-loss.onnx');
    fs.writeFileSync(model, serializeModel(m));
    const started = Date.now();
    const e = await evaluate({ pred, target, model, batchSize: BATCH, threads: 3 }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message.startsWith(`${model}: cannot be evaluated: `)).toBe(true);
    // The workers were closed before they loaded anything, not left to the 30 s grace.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a model file onnxruntime refuses: one UsageError naming the file, from the workers', async () => {
    const pred = npy('float32', [N * L], probs);
    const target = npy('float32', [N * L], bits);
    // Valid protobuf and focal-onnx metadata (so this thread accepts it), an operator no runtime knows.
    const m = decodeModelProto(buildLoss({ reduction: 'none' }).bytes);
    (m.graph as onnx.GraphProto).node[0].opType = 'NoSuchOperator';
    const model = path.join(dir(), 'unknown-op.onnx');
    fs.writeFileSync(model, serializeModel(m));
    for (const threads of [1, 2]) {
      const e = await evaluate({ pred, target, model, batchSize: BATCH, threads }).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(UsageError);
      expect((e as Error).message).toContain(`${model}: onnxruntime cannot load the model: `);
      expect((e as Error).message).not.toContain('\n');
    }
  });
});
