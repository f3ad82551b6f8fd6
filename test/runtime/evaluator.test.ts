/**
 * The in-memory evaluator (src/runtime/evaluator.ts, `createEvaluator`): golden cases of the seed
 * fed as batches of every size (one row to the whole case), typed arrays and onnxruntime Tensors,
 * every target type, the running result, float64 accumulation across batches, multi-label
 * predictions of rank > 2, models given as bytes or files, a loss with a `weight` input, and the
 * one-line errors that name the batch and the element — after which the evaluator goes on.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { DataError, UsageError } from '../../src/errors';
import { f32ToF16Bits } from '../../src/io/float16';
import { writeNpy } from '../../src/io/npy';
import { LossOptions, buildLoss } from '../../src/losses';
import { decodeModelProto, serializeModel } from '../../src/onnx';
import { checkBinaryTargets, checkPredictions, pairFine } from '../../src/data/checks';
import { CudaUnavailableError } from '../../src/runtime/session';
import * as session from '../../src/runtime/session';
import { EvalCore, EvaluatorBatch, EvaluatorResult, SMALL_BATCH_ELEMENTS, createEvaluator } from '../../src/runtime/evaluator';
import { evaluate } from '../../src/runtime/evaluate';
import { mulberry32 } from '../../scripts/prng';
import { scratchDir } from '../helpers/cli';
import { FIXTURES, FixtureCase, RTOL, caseOptions, expectNear } from '../helpers/fixtures';

const dir = scratchDir('focal-evaluator-');

/** The case's rows [from, to) as a batch of typed arrays of the case's types. */
function slice(c: FixtureCase, from: number, to: number): EvaluatorBatch {
  const F = c.dtype === 'float64' ? Float64Array : Float32Array;
  if (c.task === 'binary') return { pred: F.from(c.pred.slice(from, to)), target: F.from(c.target.slice(from, to)) };
  const row = c.predShape[c.predShape.length - 1];
  const pred = F.from(c.pred.slice(from * row, to * row));
  const dims = [to - from, row];
  if (c.task === 'multiclass') return { pred, target: BigInt64Array.from(c.target.slice(from, to), BigInt), dims };
  return { pred, target: F.from(c.target.slice(from * row, to * row)), dims };
}

const rowsOf = (c: FixtureCase): number => (c.task === 'binary' ? c.pred.length : c.pred.length / c.predShape[c.predShape.length - 1]);

function expectCase(c: FixtureCase, r: EvaluatorResult): void {
  const rtol = RTOL[c.dtype];
  if (c.reduction === 'none') expectNear([r.sum], [(c.loss as number[]).reduce((a, b) => a + b, 0)], rtol * 4, `${c.id} sum`);
  else expectNear([r.loss], [c.loss as number], rtol, `${c.id} loss`);
  if (c.perLabel && c.reduction !== 'none') expectNear(r.perLabel as number[], c.perLabel, rtol, `${c.id} perLabel`);
}

// ---- golden cases -------------------------------------------------------------------------------

const SELECTED = FIXTURES.filter((c) => /-000$/.test(c.id) || (Array.isArray(c.alpha) && c.task === 'multilabel'));

describe('golden cases of the seed, as batches', () => {
  it('selects cases of every task, input and reduction', () => {
    expect(new Set(SELECTED.map((c) => `${c.task} ${c.input} ${c.reduction}`)).size).toBe(18);
  });

  it.each(SELECTED.map((c) => [c.id, c]))('%s: one row at a time, and all at once', async (_id, c) => {
    for (const step of [1, rowsOf(c)]) {
      const ev = await createEvaluator({ loss: caseOptions(c), threads: 1 });
      try {
        for (let i = 0; i < rowsOf(c); i += step) await ev.add(slice(c, i, Math.min(rowsOf(c), i + step)));
        const r = ev.result();
        expect(r.batches).toBe(Math.ceil(rowsOf(c) / step));
        expect(r.count).toBe(c.task === 'multiclass' ? rowsOf(c) : c.pred.length);
        expect(r.ep).toBe('cpu');
        expectCase(c, r);
      } finally {
        await ev.close();
      }
    }
  });

  it('gives what evaluate() gives on the same data as files', async () => {
    const c = FIXTURES.find((x) => x.task === 'multilabel' && x.reduction === 'mean' && Array.isArray(x.alpha)) as FixtureCase;
    const pred = path.join(dir(), 'gold-p.npy');
    const target = path.join(dir(), 'gold-t.npy');
    writeNpy(pred, c.dtype, c.predShape, (c.dtype === 'float64' ? Float64Array : Float32Array).from(c.pred));
    writeNpy(target, c.dtype, c.targetShape, (c.dtype === 'float64' ? Float64Array : Float32Array).from(c.target));
    const files = await evaluate({ pred, target, loss: caseOptions(c), threads: 1 });
    const ev = await createEvaluator({ loss: caseOptions(c), threads: 1 });
    await ev.add(slice(c, 0, rowsOf(c)));
    const mem = ev.result();
    await ev.close();
    for (const k of ['loss', 'mean', 'sum', 'count', 'elements', 'rows', 'batches', 'reduction', 'ep', 'sessions'] as const) expect([k, mem[k]]).toEqual([k, files[k]]);
    expect(mem.perLabel).toEqual(files.perLabel);
    expect(mem.options).toEqual(files.options);
  });
});

describe('the README example', () => {
  it('gives what it says: 0.0801170 over 9 elements, perLabel [0.0208, 0.0083, 0.2112]', async () => {
    const ev = await createEvaluator({ loss: { task: 'multilabel', alpha: [0.25, 0.5, 0.75] }, ep: 'cpu' });
    await ev.add({ pred: Float32Array.from([0.9, 0.2, 0.6, 0.1, 0.7, 0.3]), target: Uint8Array.from([1, 0, 1, 0, 1, 1]), dims: [2, 3] });
    await ev.add({ pred: Float32Array.from([0.4, 0.8, 0.5]), target: Uint8Array.from([0, 1, 1]), dims: [1, 3] });
    const { loss, count, perLabel } = ev.result();
    await ev.close();
    // The seed's formula in float64 on the float32 inputs.
    const p = [0.9, 0.2, 0.6, 0.1, 0.7, 0.3, 0.4, 0.8, 0.5].map(Math.fround);
    const t = [1, 0, 1, 0, 1, 1, 0, 1, 1];
    const alpha = [0.25, 0.5, 0.75];
    const el = p.map((x, i) => {
      const pt = t[i] ? x : 1 - x;
      const a = t[i] ? alpha[i % 3] : 1 - alpha[i % 3];
      return -a * (1 - pt) ** 2 * Math.log(pt);
    });
    expect(count).toBe(9);
    expect(Math.abs(loss / (el.reduce((a, b) => a + b) / 9) - 1)).toBeLessThan(1e-6);
    expect(loss.toFixed(7)).toBe('0.0801170');
    expect((perLabel as number[]).map((x) => x.toFixed(4))).toEqual(['0.0208', '0.0083', '0.2112']);
    [0, 1, 2].forEach((l) => expect(Math.abs((perLabel as number[])[l] / ((el[l] + el[l + 3] + el[l + 6]) / 3) - 1)).toBeLessThan(1e-6));
  });
});

// ---- inputs -------------------------------------------------------------------------------------

describe('batch arrays', () => {
  const rnd = mulberry32(11);
  const n = 500;
  const probs = Array.from({ length: n }, () => rnd());
  const bits = probs.map(() => (rnd() < 0.3 ? 1 : 0));

  async function lossOf(batch: EvaluatorBatch, loss: LossOptions = {}): Promise<number> {
    const ev = await createEvaluator({ loss, threads: 1 });
    try {
      await ev.add(batch);
      return ev.result().loss;
    } finally {
      await ev.close();
    }
  }

  it('takes targets of every type alike (converted to the model’s), and Tensors', async () => {
    const pred = Float32Array.from(probs);
    const reference = await lossOf({ pred, target: Float32Array.from(bits) });
    const targets: EvaluatorBatch['target'][] = [
      Float64Array.from(bits),
      Uint16Array.from(bits, f32ToF16Bits),
      Uint8Array.from(bits),
      Int32Array.from(bits),
      BigInt64Array.from(bits, BigInt),
      new ort.Tensor('bool', Uint8Array.from(bits), [n]),
      new ort.Tensor('float32', Float32Array.from(bits), [n]),
    ];
    for (const target of targets) expect(await lossOf({ pred, target })).toBe(reference);
    expect(await lossOf({ pred: new ort.Tensor('float32', pred, [n]), target: Uint8Array.from(bits) })).toBe(reference);
    // A model that takes uint8 targets gives the same loss.
    expect(Math.abs((await lossOf({ pred, target: Uint8Array.from(bits) }, { targetDtype: 'uint8' })) / reference - 1)).toBeLessThan(1e-7);
  });

  it('takes float64 and float16 predictions for a model of that dtype', async () => {
    const r32 = await lossOf({ pred: Float32Array.from(probs), target: Uint8Array.from(bits) });
    const r64 = await lossOf({ pred: Float64Array.from(probs), target: Uint8Array.from(bits) }, { dtype: 'float64' });
    const r16 = await lossOf({ pred: Uint16Array.from(probs, f32ToF16Bits), target: Uint8Array.from(bits) }, { dtype: 'float16' });
    expect(Math.abs(r64 / r32 - 1)).toBeLessThan(1e-6);
    expect(Math.abs(r16 / r32 - 1)).toBeLessThan(2e-3);
  });

  it('takes multilabel predictions of rank > 2, labels on the last axis ([B, K, L], a dense detection head)', async () => {
    const B = 4;
    const K = 25;
    const L = 5;
    const pred = Float32Array.from({ length: B * K * L }, (_, i) => probs[i % n]);
    const target = Uint8Array.from({ length: B * K * L }, (_, i) => bits[(i * 7) % n]);
    const loss: LossOptions = { task: 'multilabel', alpha: [0.1, 0.3, 0.5, 0.7, 0.9] };
    const ev3 = await createEvaluator({ loss, threads: 1 });
    const ev2 = await createEvaluator({ loss, threads: 1 });
    try {
      await ev3.add({ pred, target, dims: [B, K, L] });
      await ev2.add({ pred, target, dims: [B * K, L] });
      const r3 = ev3.result();
      const r2 = ev2.result();
      expect(r3.count).toBe(B * K * L);
      expect(r3.rows).toBe(B * K);
      expect(r3.loss).toBe(r2.loss);
      expect(r3.perLabel).toEqual(r2.perLabel);
      expect(r3.perLabel).toHaveLength(L);
      // A bad element is named by its index in the batch's dims.
      const bad = target.slice();
      bad[1 * K * L + 3 * L + 2] = 3;
      await expect(ev3.add({ pred, target: bad, dims: [B, K, L] })).rejects.toThrow(/^batch 1: target element 142 \(index \[1, 3, 2\]\) is 3; multilabel targets must be 0 or 1$/);
      await expect(ev3.add({ pred, target, dims: [B, K * L] })).rejects.toThrow(/^batch 2: pred has 125 labels \(dims \[4, 125\]\), but alpha lists 5 values, one per label$/);
    } finally {
      await ev3.close();
      await ev2.close();
    }
  });
});

// ---- accumulation -------------------------------------------------------------------------------

describe('accumulation', () => {
  it('gives the running loss after every batch (result() at any time)', async () => {
    const rnd = mulberry32(3);
    const ev = await createEvaluator({ loss: { reduction: 'sum' }, threads: 1 });
    const element = (p: number, t: number): number => {
      const pt = Math.min(1, Math.max(1e-4, t ? p : 1 - p));
      const at = t ? 0.25 : 0.75;
      return -at * (1 - pt) ** 2 * Math.log(pt);
    };
    try {
      expect(ev.result().count).toBe(0);
      let reference = 0;
      let count = 0;
      for (const size of [1, 2, 3, 1000, 1, 70_000]) {
        const pred = Float32Array.from({ length: size }, () => rnd());
        const target = Float32Array.from({ length: size }, () => (rnd() < 0.2 ? 1 : 0));
        for (let i = 0; i < size; i++) reference += element(pred[i], target[i]);
        count += size;
        await ev.add({ pred, target });
        const r = ev.result();
        expect(r.count).toBe(count);
        expect(r.elements).toBe(count);
        expect(Math.abs(r.loss / reference - 1)).toBeLessThan(2e-6);
        expect(r.mean).toBe(r.sum / count);
      }
      expect(ev.result().batches).toBe(6);
    } finally {
      await ev.close();
    }
  });

  it('checks and feeds a batch of the dims before it as any other: its own target type and count (what a shape decides is reused)', async () => {
    const rnd = mulberry32(9);
    const batch = (n: number, float = false) => {
      const target = Uint8Array.from({ length: n * 3 }, () => (rnd() < 0.3 ? 1 : 0));
      return { pred: Float32Array.from({ length: n * 3 }, () => rnd()), target: float ? Float32Array.from(target) : target, dims: [n, 3] };
    };
    const loss = { task: 'multilabel', reduction: 'sum' } as const;
    const ev = await createEvaluator({ loss, threads: 1 });
    try {
      let expected = 0;
      for (const [k, b] of [batch(4), batch(4, true), batch(2), batch(4), batch(4, true)].entries()) {
        const alone = await createEvaluator({ loss, threads: 1 });
        await alone.add(b);
        expected += alone.result().sum;
        await alone.close();
        await ev.add(b);
        expect(Math.abs(ev.result().sum / expected - 1)).toBeLessThan(1e-12);
        if (k === 3) {
          await expect(ev.add({ ...batch(4), target: new Uint8Array(11) })).rejects.toThrow(/^batch 4: target holds 11 elements; expected one per prediction: 12 \(pred dims \[4, 3\]\)$/);
          await expect(ev.add({ ...batch(4), target: new Float64Array(12).fill(0.5) })).rejects.toThrow(/^batch 5: target element 0 \(row 0, column 0\) is 0.5; multilabel targets must be 0 or 1$/);
        }
      }
      expect(ev.result().batches).toBe(5);
    } finally {
      await ev.close();
    }
  });

  it('accumulates in float64 across batches: a sum a float32 accumulator would lose', async () => {
    // As in evaluate.test.ts: one loss ≈ 2.3, then 1,199 batches of 50 losses ≈ 2.5e-10 each.
    const n = 60_000;
    const batch = 50;
    const element = (x: number): number => {
      const pt = Math.min(1, Math.max(1e-4, x));
      return -0.25 * (1 - pt) ** 2 * Math.log(pt);
    };
    const reference = element(0) + (n - 1) * element(Math.fround(0.999));
    const ev = await createEvaluator({ loss: { reduction: 'sum' }, threads: 1 });
    try {
      for (let b = 0; b < n / batch; b++) {
        const pred = new Float32Array(batch).fill(0.999);
        if (b === 0) pred[0] = 0;
        await ev.add({ pred, target: new Uint8Array(batch).fill(1) });
      }
      expect(Math.abs(ev.result().loss / reference - 1)).toBeLessThan(1e-6);
    } finally {
      await ev.close();
    }
  });

  it('runs batches added without waiting in turn, and a bad one adds nothing', async () => {
    const ev = await createEvaluator({ loss: { reduction: 'sum' }, threads: 1 });
    const good = { pred: Float32Array.from([0.2, 0.9]), target: Float32Array.from([0, 1]) };
    try {
      const settled = await Promise.allSettled([ev.add(good), ev.add({ pred: Float32Array.from([0.5, 2]), target: Float32Array.from([0, 1]) }), ev.add(good)]);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(String((settled[1] as PromiseRejectedResult).reason.message)).toBe('batch 1: pred element 1 is 2; probabilities must be in [0, 1] (for scores or logits, use input logits)');
      const alone = await createEvaluator({ loss: { reduction: 'sum' }, threads: 1 });
      await alone.add(good);
      const r = ev.result();
      expect(r.batches).toBe(2);
      expect(r.count).toBe(4);
      expect(r.loss).toBe(2 * alone.result().loss);
      await alone.close();
    } finally {
      await ev.close();
    }
  });

  it('close waits for the batches still running, a refused last one included, then refuses more', async () => {
    const ev = await createEvaluator({ loss: { reduction: 'sum' }, threads: 1 });
    const good = { pred: Float32Array.from([0.2, 0.9]), target: Float32Array.from([0, 1]) };
    const first = ev.add(good);
    const refused = ev.add({ pred: Float32Array.from([0.5, 2]), target: Float32Array.from([0, 1]) });
    const closing = ev.close();
    await expect(first).resolves.toBeUndefined();
    await expect(refused).rejects.toThrow('batch 1: pred element 1 is 2');
    await expect(closing).resolves.toBeUndefined();
    expect(ev.result().batches).toBe(1);
    await expect(ev.add(good)).rejects.toThrow('batch 2: the evaluator is closed');
  });
});

// ---- one session, one mechanism ---------------------------------------------------------------------

describe('one session, and one mechanism for memory and files', () => {
  it('opens one session for all the batches it is given, and one more at the first small batch (SMALL_BATCH_ELEMENTS)', async () => {
    const spy = jest.spyOn(session, 'createSession');
    try {
      const ev = await createEvaluator({ threads: 1 });
      expect(spy).toHaveBeenCalledTimes(1);
      const big = SMALL_BATCH_ELEMENTS + 2;
      for (let k = 0; k < 3; k++) await ev.add({ pred: new Float32Array(big).fill(0.3), target: new Float32Array(big) });
      expect(spy).toHaveBeenCalledTimes(1);
      for (let k = 0; k < 5; k++) await ev.add({ pred: Float32Array.from([0.2, 0.7]), target: Float32Array.from([0, 1]) });
      await ev.add({ pred: new Float32Array(big).fill(0.3), target: new Float32Array(big) });
      await ev.close();
      expect(spy).toHaveBeenCalledTimes(2);
      // Both graphs give the same losses: 4 big batches of p = 0.3, t = 0, and 5 of [0.2, 0.7] against [0, 1].
      const near = (p: number, t: number): number => -(t ? 0.25 * (1 - p) ** 2 * Math.log(p) : 0.75 * p ** 2 * Math.log(1 - p));
      const sum = 4 * big * near(0.3, 0) + 5 * (near(0.2, 0) + near(0.7, 1));
      expect(Math.abs(ev.result().sum - sum)).toBeLessThan(1e-6 * sum);
    } finally {
      spy.mockRestore();
    }
  });

  it('the one-pass check of a small batch (pairFine) passes exactly what the separate checks pass', () => {
    const ok = (p: number[], t: number[], F: typeof Float32Array | typeof Float64Array = Float32Array): boolean =>
      pairFine(F === Float32Array ? 'float32' : 'float64', F.from(p), F === Float32Array ? 'float32' : 'float64', F.from(t));
    expect(ok([0, 1, 0.5, -0], [0, 1, -0, 1])).toBe(true);
    for (const bad of [1.0000001, -1e-40, NaN, Infinity, -Infinity]) expect([bad, ok([0.5, bad], [0, 1])]).toEqual([bad, false]);
    for (const bad of [0.5, -1, 2, Infinity, NaN, 1e-30]) expect([bad, ok([0.5, 0.5], [0, bad])]).toEqual([bad, false]);
    expect(ok([0.5, 1 + 1e-12], [0, 1], Float64Array)).toBe(false);
    // Lengths in JS (below 64 pairs) and in WebAssembly around its lanes (4 float32, 2 float64;
    // the rest padded), a bad value at the ends and in the middle, in arrays that are views at an
    // offset: the same answer as the separate checks.
    const fine = (p: Float32Array | Float64Array, t: Float32Array | Float64Array): boolean => {
      const place = { file: 'b', start: 0, shape: [p.length] };
      try {
        checkPredictions(place, p instanceof Float32Array ? 'float32' : 'float64', p, true);
        checkBinaryTargets(place, t instanceof Float32Array ? 'float32' : 'float64', t, 'binary');
        return true;
      } catch {
        return false;
      }
    };
    for (const F of [Float32Array, Float64Array]) {
      const type = F === Float32Array ? 'float32' : 'float64';
      for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 63, 64, 65, 66, 67, 2048, 2049, 2050, 2051, 2052, 2053, 2054, 2055]) {
        for (const k of new Set([0, 1, 2, 3, n >> 1, n - 4, n - 3, n - 2, n - 1].filter((x) => x >= 0))) {
          for (const [bad, inPred] of [[NaN, true], [1.5, true], [-1e-30, true], [-0, true], [NaN, false], [0.5, false], [-0, false], [Infinity, false]] as const) {
            const p = new F(n + 3).fill(0.25).subarray(1, n + 1);
            const t = new F(n + 1).fill(1).subarray(1);
            (inPred ? p : t)[k] = bad;
            expect([n, k, bad, inPred, pairFine(type, p, type, t)]).toEqual([n, k, bad, inPred, fine(p, t)]);
          }
        }
      }
    }
    // Larger than the module's first page of memory (it grows): a bad last element still shows.
    const p = new Float64Array(40_000).fill(0.5);
    const t = new Float64Array(40_000);
    expect(pairFine('float64', p, 'float64', t)).toBe(true);
    p[39_999] = 2;
    expect(pairFine('float64', p, 'float64', t)).toBe(false);
    // Other types, or types that differ, are left to the separate checks.
    expect(pairFine('float16', new Uint16Array(2), 'float16', new Uint16Array(2))).toBe(false);
    expect(pairFine('float32', new Float32Array(2), 'uint8', new Uint8Array(2))).toBe(false);
  });

  it('checks small batches in JS as large ones in the graph: the same one-line errors', async () => {
    const ev = await createEvaluator({ threads: 1 });
    try {
      for (const n of [8, SMALL_BATCH_ELEMENTS + 8]) {
        const pred = new Float32Array(n).fill(0.5);
        pred[5] = 1.5;
        await expect(ev.add({ pred, target: new Float32Array(n) })).rejects.toThrow(/^batch \d+: pred element 5 is 1\.5; probabilities must be in \[0, 1\]/);
        const target = new Float32Array(n);
        target[6] = 0.5;
        await expect(ev.add({ pred: new Float32Array(n).fill(0.5), target })).rejects.toThrow(/^batch \d+: target element 6 is 0\.5; binary targets must be 0 or 1$/);
      }
      expect(ev.result().batches).toBe(0);
    } finally {
      await ev.close();
    }
  });

  it('evaluate() feeds the evaluator: every batch of the files is run and accumulated by EvalCore', async () => {
    const run = jest.spyOn(EvalCore.prototype, 'run');
    const accept = jest.spyOn(EvalCore.prototype, 'accept');
    try {
      const pred = path.join(dir(), 'mech-p.npy');
      const target = path.join(dir(), 'mech-t.npy');
      writeNpy(pred, 'float32', [100], Float32Array.from({ length: 100 }, (_, i) => (i + 0.5) / 100));
      writeNpy(target, 'uint8', [100], Uint8Array.from({ length: 100 }, (_, i) => i % 2));
      const r = await evaluate({ pred, target, batchSize: 10, threads: 1 });
      expect(r.batches).toBe(10);
      expect(run).toHaveBeenCalledTimes(10);
      expect(accept).toHaveBeenCalledTimes(10);
    } finally {
      run.mockRestore();
      accept.mockRestore();
    }
  });
});

// ---- models -------------------------------------------------------------------------------------

describe('models', () => {
  const pred = Float32Array.from([0.1, 0.8, 0.35, 0.6, 0.99, 0.02]);
  const target = Float32Array.from([0, 1, 1, 0, 1, 0]);

  it('takes a focal-onnx model as bytes or as a file, whatever its reduction', async () => {
    const built = await createEvaluator({ loss: { gamma: 1.5 }, threads: 1 });
    await built.add({ pred, target });
    const expected = built.result().loss;
    await built.close();
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      const bytes = buildLoss({ gamma: 1.5, reduction }).bytes;
      const file = path.join(dir(), `m-${reduction}.onnx`);
      fs.writeFileSync(file, bytes);
      for (const model of [bytes, file]) {
        const ev = await createEvaluator({ model, threads: 1 });
        try {
          await ev.add({ pred: pred.subarray(0, 2), target: target.subarray(0, 2) });
          await ev.add({ pred: pred.subarray(2), target: target.subarray(2) });
          const r = ev.result();
          expect(r.model).toBe(typeof model === 'string' ? file : 'the model');
          expect(Math.abs((reduction === 'sum' ? r.loss / 6 : r.loss) / expected - 1)).toBeLessThan(1e-6);
        } finally {
          await ev.close();
        }
      }
    }
  });

  /** The binary loss (reduction none) times an input `weight` [N]: a loss graph that takes weights. */
  function weightedModel(): Uint8Array {
    const m = decodeModelProto(buildLoss({ reduction: 'none' }).bytes);
    const g = m.graph as onnx.GraphProto;
    for (const n of g.node) n.output = (n.output ?? []).map((o) => (o === 'loss' ? 'loss_unweighted' : o));
    g.node.push(onnx.NodeProto.fromObject({ opType: 'Mul', input: ['loss_unweighted', 'weight'], output: ['loss'], name: 'weighted' }));
    g.input.push(onnx.ValueInfoProto.fromObject({ name: 'weight', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }] } } } }));
    return serializeModel(m);
  }

  it('feeds `weight` to a loss that takes it, from memory and from files', async () => {
    const model = weightedModel();
    const weight = Float32Array.from([1, 0, 2, 0.5, 1, 3]);
    const plain = await createEvaluator({ loss: { reduction: 'none' }, threads: 1 });
    const ev = await createEvaluator({ model, threads: 1 });
    try {
      const each: number[] = [];
      for (let i = 0; i < 6; i++) {
        const one = await createEvaluator({ loss: { reduction: 'none' }, threads: 1 });
        await one.add({ pred: pred.subarray(i, i + 1), target: target.subarray(i, i + 1) });
        each.push(one.result().sum);
        await one.close();
      }
      const expected = each.reduce((a, l, i) => a + weight[i] * l, 0);
      await ev.add({ pred, target, weight });
      expect(Math.abs(ev.result().sum / expected - 1)).toBeLessThan(1e-6);
      await expect(ev.add({ pred, target })).rejects.toThrow(/^batch 1: weight is missing; the evaluator's loss takes weights/);
      await expect(ev.add({ pred, target, weight: Float32Array.from([1, 1, -1, 1, 1, 1]) })).rejects.toThrow(/^batch 2: weight element 2 is -1; weights must be finite and >= 0$/);
      await expect(ev.add({ pred, target, weight: Float32Array.from([1, 1]) })).rejects.toThrow(/^batch 3: weight holds 2 elements; expected one weight per prediction \(6\)/);
      await expect(plain.add({ pred, target, weight })).rejects.toThrow(/^batch 0: has weights, but the evaluator's loss takes none/);

      const files = ['p', 't', 'w'].map((x) => path.join(dir(), `weighted-${x}.npy`));
      writeNpy(files[0], 'float32', [6], pred);
      writeNpy(files[1], 'float32', [6], target);
      writeNpy(files[2], 'float32', [6], weight);
      const modelFile = path.join(dir(), 'weighted.onnx');
      fs.writeFileSync(modelFile, model);
      const r = await evaluate({ pred: files[0], target: files[1], weight: files[2], model: modelFile, threads: 1, batchSize: 4 });
      expect(Math.abs(r.sum / expected - 1)).toBeLessThan(1e-6);
      expect(r.batches).toBe(2);
      await expect(evaluate({ pred: files[0], target: files[1], model: modelFile, threads: 1 })).rejects.toThrow(/takes weights \(an input 'weight'\); give them with weight, a \.npy file of one weight per prediction or per row$/);
      // Loss options with a weight file: its shape decides the weight input (here one per element = per sample).
      const fromFlags = await evaluate({ pred: files[0], target: files[1], weight: files[2], threads: 1, batchSize: 4 });
      expect(fromFlags.options.weight).toBe('sample');
      expect(Math.abs(fromFlags.sum / expected - 1)).toBeLessThan(1e-6);
      await expect(evaluate({ pred: files[0], target: files[1], weight: files[2], loss: { weight: 'none' }, model: undefined, threads: 1 })).resolves.toBeDefined();
    } finally {
      await plain.close();
      await ev.close();
    }
  });
});

// ---- a network and its loss ------------------------------------------------------------------------

describe('a network and its loss in one model (`output`, batches of the network’s inputs)', () => {
  /** x [N, 3] → Sigmoid → `probs` (also an output) → the multilabel loss (reduction none) on it. */
  function networkModel(): Uint8Array {
    const m = decodeModelProto(buildLoss({ task: 'multilabel', reduction: 'none' }).bytes);
    const g = m.graph as onnx.GraphProto;
    for (const n of g.node) n.input = (n.input ?? []).map((i) => (i === 'pred' ? 'probs' : i));
    const pred = g.input.find((i) => i.name === 'pred') as onnx.ValueInfoProto;
    g.input = g.input.filter((i) => i.name !== 'pred');
    g.input.unshift(onnx.ValueInfoProto.fromObject({ ...pred.toJSON(), name: 'x' }));
    g.node.unshift(onnx.NodeProto.fromObject({ opType: 'Sigmoid', input: ['x'], output: ['probs'], name: 'net' }));
    g.output.push(onnx.ValueInfoProto.fromObject({ ...pred.toJSON(), name: 'probs' }));
    return serializeModel(m);
  }
  const x = Float32Array.from([-2, 0.5, 3, 1, -1, 0, 0.25, 4, -3]);
  const t = Uint8Array.from([0, 1, 1, 1, 0, 0, 1, 1, 0]);

  it('feeds the inputs, takes the output as the predictions, and gives the loss of those predictions', async () => {
    const model = networkModel();
    const net = await createEvaluator({ model, output: 'probs', threads: 1 });
    const plain = await createEvaluator({ loss: { task: 'multilabel' }, threads: 1 });
    try {
      await net.add({ inputs: { x: new ort.Tensor('float32', x.subarray(0, 6), [2, 3]) }, target: t.subarray(0, 6), dims: [2, 3] });
      await net.add({ inputs: { x: new ort.Tensor('float32', x.subarray(6), [1, 3]) }, target: t.subarray(6), dims: [1, 3] });
      const probs = Float32Array.from(x, (v) => 1 / (1 + Math.exp(-v)));
      await plain.add({ pred: probs, target: t, dims: [3, 3] });
      const a = net.result();
      const b = plain.result();
      expect(a.count).toBe(9);
      expect(a.batches).toBe(2);
      expect(Math.abs(a.loss / b.loss - 1)).toBeLessThan(1e-6);
      (a.perLabel as number[]).forEach((v, i) => expect(Math.abs(v / (b.perLabel as number[])[i] - 1)).toBeLessThan(1e-6));
      // The network's output is checked as predictions are, named by its output.
      await expect(net.add({ inputs: { x: new ort.Tensor('float32', Float32Array.from([0, NaN, 0]), [1, 3]) }, target: t.subarray(0, 3), dims: [1, 3] })).rejects.toThrow(
        /^batch 2: output 'probs' element 1 \(row 0, column 1\) is NaN; predictions must be finite$/,
      );
      await expect(net.add({ inputs: { x: new ort.Tensor('float32', x.subarray(0, 3), [1, 3]) }, target: Uint8Array.from([0, 2, 1]), dims: [1, 3] })).rejects.toThrow(
        /^batch 3: target element 1 \(row 0, column 1\) is 2; multilabel targets must be 0 or 1$/,
      );
      await expect(net.add({ inputs: { x: new ort.Tensor('float32', x.subarray(0, 3), [1, 3]) }, target: t.subarray(0, 6), dims: [2, 3] })).rejects.toThrow(
        /^batch 4: the network's output 'probs' has dims \[1, 3\], but the batch's predictions were to be \[2, 3\]$/,
      );
      await expect(net.add({ pred: probs, target: t, dims: [3, 3] })).rejects.toThrow(/^batch 5: has pred, but the evaluator's model computes its predictions \(output 'probs'\); give its inputs$/);
      await expect(net.add({ inputs: {}, target: t, dims: [3, 3] })).rejects.toThrow(/^batch 6: inputs lacks 'x'; the model takes 'x'$/);
      await expect(net.add({ inputs: { x: new ort.Tensor('float32', x, [3, 3]), y: new ort.Tensor('float32', x, [3, 3]) }, target: t, dims: [3, 3] })).rejects.toThrow(/^batch 7: inputs has 'y', which the model does not take/);
      expect(net.result().batches).toBe(2);
    } finally {
      await net.close();
      await plain.close();
    }
    await expect(createEvaluator({ model, output: 'nope' })).rejects.toThrow(/^the model: has no output 'nope'; its outputs are loss, probs$/);
    await expect(createEvaluator({ output: 'probs' })).rejects.toThrow(/^output names an output of a model/);
  });
});

// ---- errors -------------------------------------------------------------------------------------

describe('errors name the batch and the element, and the evaluator goes on', () => {
  let ev: Awaited<ReturnType<typeof createEvaluator>>;
  let ml: Awaited<ReturnType<typeof createEvaluator>>;
  let mc: Awaited<ReturnType<typeof createEvaluator>>;
  beforeAll(async () => {
    ev = await createEvaluator({ threads: 1 });
    ml = await createEvaluator({ loss: { task: 'multilabel' }, threads: 1 });
    mc = await createEvaluator({ loss: { task: 'multiclass', input: 'logits' }, threads: 1 });
  });
  afterAll(async () => {
    await Promise.all([ev.close(), ml.close(), mc.close()]);
  });

  const p2 = Float32Array.from([0.5, 0.5, 0.5, 0.5]);
  it.each<[string, () => Promise<unknown>, RegExp, typeof UsageError]>([
    ['a NaN prediction', () => ev.add({ pred: Float32Array.from([0.5, NaN]), target: Float32Array.from([0, 1]) }), /^batch \d+: pred element 1 is NaN; predictions must be finite$/, DataError],
    ['a target 0.5', () => ev.add({ pred: Float32Array.from([0.5, 0.5, 0.5]), target: Float32Array.from([0, 1, 0.5]) }), /^batch \d+: target element 2 is 0\.5; binary targets must be 0 or 1$/, DataError],
    ['an int32 target 2', () => ev.add({ pred: Float32Array.from([0.5, 0.5]), target: Int32Array.from([2, 1]) }), /^batch \d+: target element 0 is 2; binary targets must be 0 or 1$/, DataError],
    ['a multilabel target, by row and column', () => ml.add({ pred: p2, target: Uint8Array.from([0, 1, 1, 7]), dims: [2, 2] }), /^batch \d+: target element 3 \(row 1, column 1\) is 7; multilabel targets must be 0 or 1$/, DataError],
    ['a class index out of range', () => mc.add({ pred: p2, target: BigInt64Array.from([0n, 2n]), dims: [2, 2] }), /^batch \d+: target element 1 is 2; class indices must be in \[0, 2\)$/, DataError],
    ['an infinite logit', () => mc.add({ pred: Float32Array.from([0, 1, Infinity, 0]), target: Int32Array.from([0, 1]), dims: [2, 2] }), /^batch \d+: pred element 2 \(row 1, column 0\) is Infinity; predictions must be finite$/, DataError],
    ['too few targets', () => ev.add({ pred: p2, target: Float32Array.from([0, 1]) }), /^batch \d+: target holds 2 elements; expected one per prediction: 4 \(pred dims \[4\]\)$/, DataError],
    ['multiclass targets of floats', () => mc.add({ pred: p2, target: Float32Array.from([0, 1]), dims: [2, 2] }), /^batch \d+: target holds float32; multiclass targets are class indices/, DataError],
    ['dims that do not fit pred', () => ml.add({ pred: p2, target: p2, dims: [3, 2] }), /^batch \d+: dims \[3, 2\] make 6 elements, but pred holds 4$/, UsageError],
    ['no dims for multilabel', () => ml.add({ pred: p2, target: p2 }), /^batch \d+: dims is required for task multilabel/, UsageError],
    ['rank 1 for multilabel', () => ml.add({ pred: p2, target: p2, dims: [4] }), /^batch \d+: pred has dims \[4\]; multilabel predictions must be \[N, L\]/, DataError],
    ['another label count than before', () => ml.add({ pred: p2, target: p2, dims: [1, 4] }), /^batch \d+: pred has 4 labels \(dims \[1, 4\]\), but the batches before it had 2$/, DataError],
    ['float64 predictions for a float32 model', () => ev.add({ pred: Float64Array.from([0.5]), target: Float64Array.from([1]) }), /^batch \d+: pred holds float64, but the evaluator's model takes float32 predictions; create the evaluator with dtype float64/, UsageError],
    ['a plain array', () => ev.add({ pred: [0.5] as unknown as Float32Array, target: Float32Array.from([1]) }), /^batch \d+: pred must be a typed array .* got an array$/, UsageError],
    ['an unknown field', () => ev.add({ pred: p2, target: p2, wieght: p2 } as unknown as EvaluatorBatch), /^batch \d+: unknown field 'wieght'/, UsageError],
    ['a Tensor of strings', () => ev.add({ pred: new ort.Tensor('string', ['a'], [1]), target: p2 }), /^batch \d+: pred is a Tensor of type string/, UsageError],
  ])('%s', async (_name, go, message, kind) => {
    // The multilabel evaluator has taken a batch of 2 labels before (the label-count case).
    if (ml.result().batches === 0) await ml.add({ pred: p2, target: Float32Array.from([0, 1, 1, 0]), dims: [2, 2] });
    const before = [ev, ml, mc].map((e) => e.result().count);
    const err = await go().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(kind);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
    expect([ev, ml, mc].map((e) => e.result().count)).toEqual(before);
  });

  it('numbers the batches as they were added, failed ones included', async () => {
    const e = await createEvaluator({ threads: 1 });
    const ok = { pred: Float32Array.from([0.5]), target: Float32Array.from([1]) };
    await e.add(ok);
    await expect(e.add({ pred: Float32Array.from([2]), target: Float32Array.from([1]) })).rejects.toThrow(/^batch 1: /);
    await e.add(ok);
    await expect(e.add({ pred: Float32Array.from([-1]), target: Float32Array.from([1]) })).rejects.toThrow(/^batch 3: /);
    expect(e.result().batches).toBe(2);
    await e.close();
    await e.close();
    await expect(e.add(ok)).rejects.toThrow(/^batch 4: the evaluator is closed$/);
  });

  it('refuses weights that do not fit the loss weight input it was built with, before the run', async () => {
    const pred = Float32Array.from([0.2, 0.3, 0.5, 0.6, 0.3, 0.1]);
    const target = BigInt64Array.from([2n, 0n]);
    const mc = await createEvaluator({ loss: { task: 'multiclass', weight: 'sample' }, threads: 1 });
    const perPrediction = { pred, target, dims: [2, 3], weight: new Float32Array(6).fill(1) };
    const err = await mc.add(perPrediction).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toBe('batch 0: weight holds 6 elements; expected one weight per row (2) (pred dims [2, 3])');
    await mc.add({ ...perPrediction, weight: Float32Array.from([1, 2]) });
    expect(mc.result().count).toBe(2);
    await mc.close();
    const ml = await createEvaluator({ loss: { task: 'multilabel', weight: 'element' }, threads: 1 });
    const mlBatch = { pred, target: Float32Array.from([1, 0, 0, 1, 0, 1]), dims: [2, 3] };
    await expect(ml.add({ ...mlBatch, weight: Float32Array.from([1, 2]) })).rejects.toThrow(/^batch 0: weight holds 2 elements; expected one weight per prediction \(6\) \(pred dims \[2, 3\]\)$/);
    await ml.add({ ...mlBatch, weight: new Float32Array(6).fill(0.5) });
    expect(ml.result().count).toBe(6);
    await ml.close();
  });

  it('refuses bad options and models in one line', async () => {
    await expect(createEvaluator({ loss: { gamma: -1 } })).rejects.toThrow(/^gamma must be a finite number >= 0, got -1$/);
    await expect(createEvaluator({ loss: {}, model: new Uint8Array(0) })).rejects.toThrow(/^give a model or loss options, not both$/);
    await expect(createEvaluator({ model: Uint8Array.from([1, 2, 3]) })).rejects.toThrow(UsageError);
    await expect(createEvaluator({ model: path.join(dir(), 'missing.onnx') })).rejects.toThrow(/missing\.onnx: cannot read: file does not exist/);
    await expect(createEvaluator({ threads: 0 })).rejects.toThrow(/^threads must be a positive integer, got 0$/);
  });

  it('on CUDA without its provider libraries, says so in one line', async () => {
    const err = await createEvaluator({ ep: 'cuda' }).catch((e: unknown) => e);
    // With the provider installed and a GPU (a device check), the evaluator opens on it instead.
    if (err instanceof Error) {
      expect(err).toBeInstanceOf(CudaUnavailableError);
      expect(err.message).toMatch(/^ep cuda: .*, or use ep cpu$/);
    } else {
      const e = err as Awaited<ReturnType<typeof createEvaluator>>;
      await e.add({ pred: Float32Array.from([0.5]), target: Float32Array.from([1]) });
      expect(e.result().ep).toBe('cuda');
      await e.close();
    }
  });
});
