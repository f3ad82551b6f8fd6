/**
 * The streaming evaluator (src/runtime/evaluate.ts): golden cases of the seed end to end (files
 * in, loss and per-label vector out, with built models and model files), streaming across many
 * batches giving the results of one batch, float64 accumulation, every target / prediction type,
 * `out`, and each data check.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DataError, UsageError } from '../../src/errors';
import { readNpy } from '../../src/io/npy';
import { LossOptions, buildLoss } from '../../src/losses';
import { EvaluateOptions, EvaluateResult, evaluate } from '../../src/runtime/evaluate';
import { mulberry32 } from '../../scripts/prng';
import { scratchDir } from '../helpers/cli';
import { npyFiles } from '../helpers/npy-files';
import { FIXTURES, FixtureCase, RTOL, caseOptions, expectNear } from '../helpers/fixtures';

const dir = scratchDir('focal-eval-');
let serial = 0;
/** Writes `values` as an .npy of `dtype` and `shape` in the scratch directory; returns its path. */
const npy = npyFiles(dir);

function writeCase(c: FixtureCase): { pred: string; target: string } {
  return {
    pred: npy(c.dtype, c.predShape, c.pred),
    target: c.task === 'multiclass' ? npy('int64', c.targetShape, c.target) : npy(c.dtype, c.targetShape, c.target),
  };
}

/** Deterministic pseudo-random numbers in [0, 1). */
const random = mulberry32;

const run = (o: Omit<EvaluateOptions, 'threads'> & { threads?: number }): Promise<EvaluateResult> => evaluate({ threads: 1, ...o });

// ---- golden cases -------------------------------------------------------------------------------

/** Per (task, input, reduction): the first case, the multi-dimensional ones and the per-label α ones. */
const SELECTED = FIXTURES.filter((c) => /-000$/.test(c.id) || /multi-dimensional/.test(c.note ?? '') || (Array.isArray(c.alpha) && c.task === 'multilabel'));

function checkAgainstCase(c: FixtureCase, r: EvaluateResult, out?: string): void {
  const rtol = RTOL[c.dtype];
  if (c.reduction === 'none') {
    const expected = c.loss as number[];
    const written = readNpy(out as string);
    expect(written.header.dtype).toBe(c.dtype);
    expect(written.header.shape).toEqual(c.task === 'multiclass' ? [c.predShape[0]] : c.predShape);
    expectNear(Array.from(written.data as Float32Array), expected, rtol, `${c.id} per-element losses`);
    expectNear([r.sum], [expected.reduce((a, b) => a + b, 0)], rtol * 4, `${c.id} sum`);
  } else {
    expectNear([r.loss], [c.loss as number], rtol, `${c.id} loss`);
  }
  if (c.perLabel) {
    expect(r.perLabel).toBeDefined();
    expectNear(r.perLabel as number[], c.perLabel, rtol, `${c.id} perLabel`);
  }
}

describe('golden cases of the seed, end to end', () => {
  it('selects cases of every task, input and reduction', () => {
    expect(new Set(SELECTED.map((c) => `${c.task} ${c.input} ${c.reduction}`)).size).toBe(18);
  });

  it.each(SELECTED.map((c) => [c.id, c]))('%s, model built from the options', async (_id, c) => {
    const files = writeCase(c);
    const out = c.reduction === 'none' ? path.join(dir(), `${c.id}-out.npy`) : undefined;
    const r = await run({ ...files, loss: caseOptions(c), batchSize: 5, out });
    expect(r.reduction).toBe(c.reduction);
    expect(r.count).toBe(c.task === 'multiclass' ? c.predShape[0] : c.pred.length);
    expect(r.ep).toBe('cpu');
    checkAgainstCase(c, r, out);
  });

  it.each(SELECTED.filter((c) => /-000$/.test(c.id)).map((c) => [c.id, c]))('%s, from a model file', async (_id, c) => {
    const files = writeCase(c);
    const model = path.join(dir(), `${c.id}.onnx`);
    fs.writeFileSync(model, buildLoss(caseOptions(c)).bytes);
    const out = c.reduction === 'none' ? path.join(dir(), `${c.id}-model-out.npy`) : undefined;
    const r = await run({ ...files, model, batchSize: 3, out });
    expect(r.model).toBe(model);
    checkAgainstCase({ ...c, perLabel: c.reduction === 'none' ? c.perLabel : undefined }, r, out);
  });
});

// ---- streaming ----------------------------------------------------------------------------------

describe('streaming', () => {
  const rnd = random(7);
  const N = 201;
  const L = 3;
  const probs = Array.from({ length: N * L }, () => rnd());
  const bits = Array.from({ length: N * L }, () => (rnd() < 0.2 ? 1 : 0));
  const classes = Array.from({ length: N }, () => Math.floor(rnd() * L));

  it.each([
    ['binary', { task: 'binary' } as LossOptions, [N * L], [N * L], 'float32', bits],
    ['multilabel', { task: 'multilabel', reduction: 'sum', alpha: [0.2, 0.5, 0.9] } as LossOptions, [N, L], [N, L], 'uint8', bits],
    ['multiclass', { task: 'multiclass', input: 'logits' } as LossOptions, [N, L], [N], 'int32', classes],
  ] as const)('%s: many batches give the results of one', async (_name, loss, predShape, targetShape, targetType, targets) => {
    const pred = npy('float32', [...predShape], probs);
    const target = npy(targetType, [...targetShape], targets);
    const results: EvaluateResult[] = [];
    const outs: string[] = [];
    for (const batchSize of [1 << 20, 1, 7, 64]) {
      const out = path.join(dir(), `stream-${serial++}.npy`);
      const progress: number[] = [];
      const r = await run({ pred, target, loss, batchSize, out, onProgress: (p) => progress.push(p.done) });
      results.push(r);
      outs.push(out);
      expect(progress).toHaveLength(r.batches);
      expect(progress[progress.length - 1]).toBe(N * L);
    }
    const rows = loss.task === 'binary' ? N * L : N;
    const rowLength = loss.task === 'binary' ? 1 : L;
    expect(results.map((r) => r.batches)).toEqual([1, 1, 7, 64].map((b) => Math.ceil(rows / Math.max(1, Math.floor(b / rowLength)))).fill(1, 0, 1));
    // onnxruntime's vectorized kernels (Log, Exp, …) round an element at a batch's tail a few
    // float32 ulps differently from one in the vector body, so the per-element losses agree to
    // float32 rounding; so do the per-label sums, whose float32 blocks (of up to 256 elements)
    // group other rows in other batchings; the totals agree closer still.
    const elements = outs.map((o) => Array.from(readNpy(o).data as Float32Array));
    for (let k = 1; k < outs.length; k++) {
      elements[k].forEach((x, i) => expect(Math.abs(x - elements[0][i])).toBeLessThanOrEqual(1e-6 * Math.abs(elements[0][i])));
      expect(Math.abs(results[k].loss / results[0].loss - 1)).toBeLessThan(1e-7);
      results[k].perLabel?.forEach((v, i) => expect(Math.abs(v / (results[0].perLabel as number[])[i] - 1)).toBeLessThan(1e-6));
    }
  });

  it('accumulates in float64: a sum a float32 accumulator would lose', async () => {
    // One element of loss ≈ 2.3 (p = 0 for t = 1, clamped at eps) then 59,999 of loss ≈ 2.5e-10
    // (p = 0.999 for t = 1), in batches of 50. Each batch adds 1.25e-8, below half an ulp of 2.3
    // in float32 (1.2e-7): a float32 total would stay at the first element, 6.5e-6 relative too low.
    const n = 60_000;
    const batch = 50;
    const p = new Float32Array(n).fill(0.999);
    p[0] = 0;
    const pred = npy('float32', [n], p);
    const target = npy('uint8', [n], new Uint8Array(n).fill(1));
    const element = (x: number): number => {
      const pt = Math.min(1, Math.max(1e-4, x));
      return -0.25 * (1 - pt) ** 2 * Math.log(pt);
    };
    const reference = element(0) + (n - 1) * element(Math.fround(0.999));
    let f32 = Math.fround(element(0));
    for (let b = 0; b < n / batch; b++) f32 = Math.fround(f32 + Math.fround((b === 0 ? batch - 1 : batch) * element(Math.fround(0.999))));
    expect(Math.abs(f32 / reference - 1)).toBeGreaterThan(5e-6);

    for (const loss of [{ reduction: 'sum' }, { reduction: 'mean' }] as LossOptions[]) {
      const r = await run({ pred, target, loss, batchSize: batch });
      expect(r.batches).toBe(n / batch);
      const expected = loss.reduction === 'sum' ? reference : reference / n;
      expect(Math.abs(r.loss / expected - 1)).toBeLessThan(1e-6);
    }
  });
});

// ---- element types ------------------------------------------------------------------------------

describe('element types', () => {
  const rnd = random(11);
  const n = 300;
  const p = Array.from({ length: n }, () => rnd());
  const t = Array.from({ length: n }, () => (rnd() < 0.3 ? 1 : 0));

  it('takes float32, float64, float16, uint8, bool, int32 and int64 targets alike', async () => {
    const pred = npy('float32', [n], p);
    const base = await run({ pred, target: npy('float32', [n], t) });
    for (const dtype of ['float64', 'float16', 'uint8', 'bool', 'int32', 'int64'] as const) {
      const r = await run({ pred, target: npy(dtype, [n], t) });
      expect([dtype, r.loss]).toEqual([dtype, base.loss]);
      const expectedTarget = dtype === 'float64' || dtype === 'float16' ? 'float32' : dtype;
      expect(r.options.targetDtype).toBe(expectedTarget);
    }
  });

  it('takes float64 and float16 predictions (the model follows the file)', async () => {
    const target = npy('uint8', [n], t);
    const r32 = await run({ pred: npy('float32', [n], p), target });
    const r64 = await run({ pred: npy('float64', [n], p), target });
    const r16 = await run({ pred: npy('float16', [n], p), target: npy('float32', [n], t) });
    expect(r64.options.dtype).toBe('float64');
    expect(r16.options.dtype).toBe('float16');
    expect(Math.abs(r64.loss / r32.loss - 1)).toBeLessThan(1e-6);
    expect(Math.abs(r16.loss / r32.loss - 1)).toBeLessThan(2e-3);
  });

  it('writes float16 losses for float16 predictions', async () => {
    const out = path.join(dir(), 'f16-out.npy');
    const r = await run({ pred: npy('float16', [3, 4], p.slice(0, 12)), target: npy('bool', [3, 4], t.slice(0, 12)), loss: { reduction: 'none' }, out });
    const written = readNpy(out);
    expect(written.header.dtype).toBe('float16');
    expect(written.header.shape).toEqual([3, 4]);
    expect(r.count).toBe(12);
  });

  it('refuses a --dtype or --target-dtype the files do not hold', async () => {
    const pred = npy('float32', [n], p);
    const target = npy('uint8', [n], t);
    await expect(run({ pred, target, loss: { dtype: 'float64' } })).rejects.toThrow(/^dtype float64 does not match .*a\d+\.npy, which holds float32/);
    await expect(run({ pred, target, loss: { targetDtype: 'int64' } })).rejects.toThrow(/^targetDtype int64 does not match .*, which holds uint8/);
    await expect(run({ pred, target, loss: { targetDtype: 'uint8', dtype: 'float32' } })).resolves.toMatchObject({ count: n });
  });
});

// ---- data checks --------------------------------------------------------------------------------

describe('data checks: one line naming the file, the first bad element and its value', () => {
  const ok = [0.1, 0.9, 0.4, 0.6, 0.2, 0.8];
  const bin = [0, 1, 0, 1, 1, 0];
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ['binary target 0.5', () => run({ pred: npy('float32', [6], ok), target: npy('float32', [6], [0, 1, 0, 0.5, 1, 0], 'bt.npy') }), /^.*bt\.npy: element 3 is 0\.5; binary targets must be 0 or 1$/],
    ['float32 target 0.1 printed as 0.1', () => run({ pred: npy('float32', [6], ok), target: npy('float32', [6], [0, 0.1, 0, 0, 1, 0]) }), /element 1 is 0\.1; binary/],
    ['multilabel uint8 target 2', () => run({ pred: npy('float32', [2, 3], ok), target: npy('uint8', [2, 3], [0, 1, 0, 1, 1, 2], 'mt.npy'), loss: { task: 'multilabel' } }), /mt\.npy: element 5 \(row 1, column 2\) is 2; multilabel targets must be 0 or 1$/],
    ['bool target byte 2', () => run({ pred: npy('float32', [6], ok), target: npy('bool', [6], [0, 1, 2, 0, 0, 0]) }), /element 2 is the byte 2; binary targets must be 0 or 1/],
    ['int64 target -1', () => run({ pred: npy('float32', [6], ok), target: npy('int64', [6], [-1, 1, 0, 0, 0, 0]) }), /element 0 is -1; binary/],
    ['int64 target 2^32', () => run({ pred: npy('float32', [6], ok), target: npy('int64', [6], [0, 4294967296, 0, 0, 0, 0]) }), /element 1 is 4294967296; binary/],
    ['int32 target 3', () => run({ pred: npy('float32', [6], ok), target: npy('int32', [6], [0, 1, 0, 0, 0, 3]) }), /element 5 is 3; binary/],
    ['float16 target 0.5', () => run({ pred: npy('float32', [6], ok), target: npy('float16', [6], [0, 1, 0.5, 0, 0, 0]) }), /element 2 is 0\.5; binary/],
    ['float64 target NaN', () => run({ pred: npy('float32', [6], ok), target: npy('float64', [6], [0, 1, 0, 0, NaN, 0]) }), /element 4 is NaN; binary targets/],
    ['float32 target Infinity', () => run({ pred: npy('float32', [6], ok), target: npy('float32', [6], [0, Infinity, 0, 0, 0, 0]) }), /element 1 is Infinity; binary targets/],
    ['class index C', () => run({ pred: npy('float32', [2, 3], ok), target: npy('int64', [2], [0, 3], 'ct.npy'), loss: { task: 'multiclass' } }), /ct\.npy: element 1 is 3; class indices must be in \[0, 3\)$/],
    ['class index -1 (int32)', () => run({ pred: npy('float32', [2, 3], ok), target: npy('int32', [2], [-1, 0]), loss: { task: 'multiclass' } }), /element 0 is -1; class indices must be in \[0, 3\)/],
    ['probability 1.5', () => run({ pred: npy('float32', [6], [0.1, 0.2, 1.5, 0, 0, 0], 'pp.npy'), target: npy('uint8', [6], bin) }), /pp\.npy: element 2 is 1\.5; probabilities must be in \[0, 1\]/],
    ['probability -0.25 (float16)', () => run({ pred: npy('float16', [6], [0.1, -0.25, 1, 0, 0, 0]), target: npy('uint8', [6], bin) }), /element 1 is -0\.25; probabilities must be in \[0, 1\]/],
    ['prediction NaN (probs)', () => run({ pred: npy('float32', [6], [0.1, 0.2, 0.3, NaN, 0, 0]), target: npy('uint8', [6], bin) }), /element 3 is NaN; predictions must be finite/],
    ['prediction Infinity (logits)', () => run({ pred: npy('float64', [6], [0.1, 20, -3, 0, -Infinity, 0]), target: npy('uint8', [6], bin), loss: { input: 'logits' } }), /element 4 is -Infinity; predictions must be finite/],
    ['prediction NaN (float16 logits)', () => run({ pred: npy('float16', [2, 3], [0.1, 20, -3, 0, NaN, 0]), target: npy('uint8', [2, 3], bin), loss: { task: 'multilabel', input: 'logits' } }), /element 4 \(row 1, column 1\) is NaN; predictions must be finite/],
  ];

  it.each(cases)('%s', async (_name, go, message) => {
    const err = await go().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
  });

  it('reports the global index of an element in a later batch', async () => {
    const n = 2000;
    const t = new Array<number>(n).fill(0);
    t[1234] = 7;
    await expect(run({ pred: npy('float32', [n], new Array(n).fill(0.5)), target: npy('int32', [n], t), batchSize: 100 })).rejects.toThrow(/element 1234 is 7; binary targets must be 0 or 1/);
    const m = new Array<number>(n).fill(0.5);
    m[1999] = 2;
    await expect(run({ pred: npy('float32', [1000, 2], m), target: npy('uint8', [1000, 2], new Array(n).fill(1)), loss: { task: 'multilabel' }, batchSize: 10 })).rejects.toThrow(/element 1999 \(row 999, column 1\) is 2; probabilities/);
  });
});

describe('shape and file checks', () => {
  const p6 = [0.1, 0.9, 0.4, 0.6, 0.2, 0.8];
  const t6 = [0, 1, 0, 1, 1, 0];
  const cases: [string, () => Promise<unknown>, RegExp, typeof UsageError][] = [
    ['binary: element counts differ', () => run({ pred: npy('float32', [2, 3], p6), target: npy('float32', [5], t6.slice(0, 5)) }), /holds 5 elements \(shape \[5\]\); expected one per prediction: 6 \(.* shape \[2, 3\]\)$/, DataError],
    ['multilabel: target shape differs', () => run({ pred: npy('float32', [2, 3], p6), target: npy('float32', [3, 2], t6), loss: { task: 'multilabel' } }), /shape \[3, 2\]; multilabel targets must be shaped like the predictions, .* shape \[2, 3\]$/, DataError],
    ['multilabel: 1-D predictions', () => run({ pred: npy('float32', [6], p6), target: npy('float32', [6], t6), loss: { task: 'multilabel' } }), /shape \[6\]; multilabel predictions must be \[N, L\]/, DataError],
    ['multiclass: target [N, 1]', () => run({ pred: npy('float32', [2, 3], p6), target: npy('int64', [2, 1], [0, 1]), loss: { task: 'multiclass' } }), /multiclass targets must be \[2\], one class index per row of .*; save t\.reshape\(-1\)$/, DataError],
    ['multiclass: float targets', () => run({ pred: npy('float32', [2, 3], p6), target: npy('float32', [2], [0, 1]), loss: { task: 'multiclass' } }), /multiclass targets are class indices: save them as int64 or int32/, DataError],
    ['α per label of the wrong length', () => run({ pred: npy('float32', [2, 3], p6), target: npy('float32', [2, 3], t6), loss: { task: 'multilabel', alpha: [0.1, 0.2] } }), /: has 3 labels \(shape \[2, 3\]\), but alpha lists 2 values, one per label$/, UsageError],
    ['no elements', () => run({ pred: npy('float32', [0], []), target: npy('float32', [0], []) }), /holds no elements \(shape \[0\]\); nothing to evaluate/, DataError],
    ['integer predictions', () => run({ pred: npy('int32', [6], [0, 1, 0, 1, 0, 1]), target: npy('float32', [6], t6) }), /dtype <i4 \(int32\); predictions must be float16, float32 or float64/, DataError],
    ['int8 targets', () => run({ pred: npy('float32', [6], p6), target: npy('int8', [6], t6) }), /dtype \|i1 \(int8\); binary targets must be float, uint8, bool, int32 or int64/, DataError],
    ['a missing file', () => run({ pred: path.join(dir(), 'nope.npy'), target: npy('float32', [6], t6) }), /nope\.npy: cannot read: file does not exist/, UsageError],
    ['model and options both', () => run({ pred: 'p', target: 't', model: 'm', loss: {} }), /give a model file or loss options, not both/, UsageError],
    ['a batch size of 0', () => run({ pred: npy('float32', [6], p6), target: npy('float32', [6], t6), batchSize: 0 }), /^batch size must be a positive integer, got 0$/, UsageError],
    ['a fractional thread count', () => run({ pred: npy('float32', [6], p6), target: npy('float32', [6], t6), threads: 2.5 }), /^threads must be a positive integer, got 2\.5$/, UsageError],
    ['no threads', () => run({ pred: npy('float32', [6], p6), target: npy('float32', [6], t6), threads: 0 }), /^threads must be a positive integer, got 0$/, UsageError],
  ];

  it.each(cases)('%s', async (_name, go, message, kind) => {
    const err = await go().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(kind);
    expect((err as Error).message).toMatch(message);
  });

  it('refuses a truncated file, and a header that claims more data than the file holds, before allocating', async () => {
    const good = npy('float32', [6], p6);
    const target = npy('float32', [6], t6);
    const bytes = fs.readFileSync(good);
    const truncated = path.join(dir(), 'truncated.npy');
    fs.writeFileSync(truncated, bytes.subarray(0, bytes.length - 3));
    await expect(run({ pred: truncated, target })).rejects.toThrow(/truncated\.npy: header claims 24 bytes of data .* but the file holds 21 bytes after the header \(truncated\?\)/);
    // A header for 10^12 float32 elements over 24 bytes of data: refused from the header alone.
    const huge = path.join(dir(), 'huge.npy');
    const header = bytes.subarray(0, 128).toString('latin1').replace("'shape': (6,), ", "'shape': (1000000000000,), ").slice(0, 128);
    fs.writeFileSync(huge, Buffer.concat([Buffer.from(header, 'latin1'), bytes.subarray(128)]));
    await expect(run({ pred: huge, target })).rejects.toThrow(/huge\.npy: header claims 4000000000000 bytes/);
    const garbage = path.join(dir(), 'garbage.npy');
    fs.writeFileSync(garbage, 'hello, world');
    await expect(run({ pred: garbage, target })).rejects.toThrow(/garbage\.npy: not a \.npy file/);
  });
});

// ---- model files --------------------------------------------------------------------------------

describe('model files', () => {
  const p6 = [0.1, 0.9, 0.4, 0.6, 0.2, 0.8];
  const t6 = [0, 1, 0, 1, 1, 0];

  function model(options: LossOptions, name = `m${serial++}.onnx`): string {
    const file = path.join(dir(), name);
    fs.writeFileSync(file, buildLoss(options).bytes);
    return file;
  }

  it('reads the options from the metadata and matches the built model', async () => {
    const pred = npy('float32', [3, 2], p6);
    const target = npy('float32', [3, 2], t6);
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      const loss: LossOptions = { task: 'multilabel', reduction, gamma: 1.5, alpha: [0.3, 0.6] };
      const fromFile = await run({ pred, target, model: model(loss) });
      const built = await run({ pred, target, loss });
      expect(fromFile.options).toEqual(built.options);
      expect(Math.abs(fromFile.loss / built.loss - 1)).toBeLessThan(1e-6);
      if (reduction === 'none') expect(fromFile.perLabel).toEqual(built.perLabel);
      else expect(fromFile.perLabel).toBeUndefined();
    }
  });

  it('runs the function form', async () => {
    const r = await run({ pred: npy('float32', [6], p6), target: npy('bool', [6], t6), model: model({ asFunction: true, targetDtype: 'bool' }) });
    const flat = await run({ pred: npy('float32', [6], p6), target: npy('bool', [6], t6) });
    expect(Math.abs(r.loss / flat.loss - 1)).toBeLessThan(1e-6);
  });

  it.each([
    ['a model without focal.* metadata', async () => {
      const bytes = Buffer.from(buildLoss({}).bytes);
      const file = path.join(dir(), 'plain.onnx');
      // Strip the metadata by rebuilding through the decoded proto.
      const { decodeModelProto, serializeModel } = await import('../../src/onnx');
      const proto = decodeModelProto(bytes);
      proto.metadataProps = [];
      fs.writeFileSync(file, serializeModel(proto));
      return run({ pred: npy('float32', [6], p6), target: npy('float32', [6], t6), model: file });
    }, /plain\.onnx: has no focal\.\* metadata, so its loss options are unknown/],
    ['--out with a reducing model', () => run({ pred: npy('float32', [6], p6), target: npy('float32', [6], t6), model: model({}, 'mean.onnx'), out: path.join(dir(), 'x.npy') }), /^out needs the per-element losses, but .*mean\.onnx has reduction mean/],
    ['predictions of another type', () => run({ pred: npy('float64', [6], p6), target: npy('float32', [6], t6), model: model({}, 'f32.onnx') }), /dtype float64, but .*f32\.onnx takes float32 predictions/],
    ['integer targets for a float-target model', () => run({ pred: npy('float32', [6], p6), target: npy('int64', [6], t6), model: model({}, 'ft.onnx') }), /dtype int64, but .*ft\.onnx takes float32 targets; .*made with targetDtype int64$/],
    ['labels of another count than the model', () => run({ pred: npy('float32', [2, 3], p6), target: npy('float32', [2, 3], t6), model: model({ task: 'multilabel', alpha: [0.2, 0.4] }, 'l2.onnx') }), /has 3 labels \(shape \[2, 3\]\), but .*l2\.onnx is for 2 labels/],
    ['not an ONNX file', () => {
      const file = path.join(dir(), 'text.onnx');
      fs.writeFileSync(file, 'not a model at all, just some text');
      return run({ pred: npy('float32', [6], p6), target: npy('float32', [6], t6), model: file });
    }, /text\.onnx: not an ONNX model/],
  ] as [string, () => Promise<unknown>, RegExp][])('refuses %s', async (_name, go, message) => {
    const err = await go().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(message);
  });

  it('converts float targets of another width for a model', async () => {
    const m = model({}, 'conv.onnx');
    const a = await run({ pred: npy('float32', [6], p6), target: npy('float32', [6], t6), model: m });
    const b = await run({ pred: npy('float32', [6], p6), target: npy('float64', [6], t6), model: m });
    expect(b.loss).toBe(a.loss);
  });
});

// ---- out ----------------------------------------------------------------------------------------

describe('out', () => {
  it('leaves no file behind when a later batch fails, and an existing file untouched', async () => {
    const n = 1000;
    const t = new Array<number>(n).fill(1);
    t[900] = 3;
    const pred = npy('float32', [n], new Array(n).fill(0.5));
    const target = npy('float32', [n], t);
    const sub = fs.mkdtempSync(path.join(dir(), 'out-'));
    const out = path.join(sub, 'losses.npy');
    await expect(run({ pred, target, out, batchSize: 50 })).rejects.toThrow(/element 900 is 3/);
    expect(fs.readdirSync(sub)).toEqual([]);
    fs.writeFileSync(out, 'keep me');
    await expect(run({ pred, target, out, batchSize: 50 })).rejects.toThrow(DataError);
    expect(fs.readdirSync(sub)).toEqual(['losses.npy']);
    expect(fs.readFileSync(out, 'utf8')).toBe('keep me');
  });

  it('refuses to write over an input', async () => {
    const pred = npy('float32', [2], [0.5, 0.5]);
    await expect(run({ pred, target: npy('float32', [2], [0, 1]), out: pred })).rejects.toThrow(/is also the predictions file/);
  });

  it('writes per-element losses in the prediction file’s shape (binary), whatever the reduction', async () => {
    const out = path.join(dir(), 'shape-out.npy');
    const r = await run({ pred: npy('float32', [2, 3, 1], [0.1, 0.9, 0.4, 0.6, 0.2, 0.8]), target: npy('float32', [6], [0, 1, 0, 1, 1, 0]), loss: { reduction: 'sum' }, out, batchSize: 4 });
    const written = readNpy(out);
    expect(written.header.shape).toEqual([2, 3, 1]);
    const sum = Array.from(written.data as Float32Array).reduce((a, b) => a + b, 0);
    expect(Math.abs(sum / r.loss - 1)).toBeLessThan(1e-6);
    expect(r.out).toBe(out);
  });
});

// ---- multi-label predictions of rank > 2 ----------------------------------------------------------

describe('multilabel files of rank > 2, labels on the last axis (a dense detection head, [B, K, L])', () => {
  const B = 80;
  const K = 7;
  const L = 3;
  const rnd = random(21);
  const probs = Array.from({ length: B * K * L }, () => rnd());
  const bits = probs.map(() => (rnd() < 0.25 ? 1 : 0));
  const loss: LossOptions = { task: 'multilabel', alpha: [0.2, 0.5, 0.8] };

  it('gives the loss and per-label vector of the [B·K, L] files: built, from a rank-3 model file, with out, and side by side', async () => {
    const flat = await run({ pred: npy('float32', [B * K, L], probs), target: npy('uint8', [B * K, L], bits), loss });
    const pred = npy('float32', [B, K, L], probs);
    const target = npy('uint8', [B, K, L], bits);
    const out = path.join(dir(), `rank3-${serial++}.npy`);
    const model = path.join(dir(), 'rank3.onnx');
    fs.writeFileSync(model, buildLoss({ ...loss, targetDtype: 'uint8', reduction: 'none' }, { predShape: ['B', 'K', L] }).bytes);
    for (const r of [
      await run({ pred, target, loss, batchSize: 50 }),
      await run({ pred, target, loss: { ...loss, reduction: 'none' }, out, batchSize: 100 }),
      await run({ pred, target, model, batchSize: 64 }),
      await evaluate({ pred, target, loss, batchSize: 21, threads: 3 }),
    ]) {
      expect(r.count).toBe(B * K * L);
      expect(r.rows).toBe(B * K);
      expect(Math.abs(r.loss / flat.loss - 1)).toBeLessThan(1e-6);
      r.perLabel?.forEach((v, i) => expect(Math.abs(v / (flat.perLabel as number[])[i] - 1)).toBeLessThan(1e-6));
      expect(r.perLabel).toHaveLength(L);
    }
    expect((await evaluate({ pred, target, loss, batchSize: 21, threads: 3 })).sessions).toBe(3);
    const written = readNpy(out);
    expect(written.header.shape).toEqual([B, K, L]);
  });

  it('names a bad element by its index in the file', async () => {
    const bad: number[] = bits.slice();
    bad[(5 * K + 2) * L + 1] = 4;
    await expect(run({ pred: npy('float32', [B, K, L], probs), target: npy('uint8', [B, K, L], bad), loss, batchSize: 30 })).rejects.toThrow(
      /a\d+\.npy: element 112 \(index \[5, 2, 1\]\) is 4; multilabel targets must be 0 or 1$/,
    );
    await expect(run({ pred: npy('float32', [B, K, L], probs), target: npy('uint8', [B, L, K], bits), loss })).rejects.toThrow(/shape \[80, 3, 7\]; multilabel targets must be shaped like the predictions, .* shape \[80, 7, 3\]$/);
  });
});
