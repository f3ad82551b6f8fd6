/**
 * The evaluator's graph outputs (src/runtime/eval-outputs.ts): the batch sums, in blocks of the
 * shape fed as `focal_eval_blocks`, agree with a float64 sum of the per-element `loss` (to float32
 * rounding inside a block; exactly where each block is one element), and the data checks done as reductions in the graph
 * catch every bad element the JS scan would — values a float32 reduction could hide (a target of
 * 1e-30, of 1 − 2^-24, a NaN anywhere in a vectorized batch) — and report the same first element,
 * predictions before targets, while −0 passes as 0.
 */
import * as path from 'path';
import { DataError } from '../../src/errors';
import { NpyDType, NpyTypedArray, typedArrayFor, writeNpy } from '../../src/io/npy';
import { LossOptions, buildLoss } from '../../src/losses';
import { decodeModel } from '../../src/onnx';
import { EVAL_INPUTS, EVAL_OUTPUTS, addEvalOutputs, blockRows, blockShape, targetBlockRows } from '../../src/runtime/eval-outputs';
import { evaluate } from '../../src/runtime/evaluate';
import { scratchDir } from '../helpers/cli';
import { runModel } from '../helpers/ort';

const dir = scratchDir('focal-eval-out-');
let serial = 0;

function npy(dtype: NpyDType, shape: number[], values: ArrayLike<number>): string {
  const file = path.join(dir(), `g${serial++}.npy`);
  const data = typedArrayFor(dtype, values.length);
  for (let i = 0; i < values.length; i++) {
    if (dtype === 'int64') (data as BigInt64Array)[i] = BigInt(values[i]);
    else (data as Float32Array)[i] = values[i];
  }
  writeNpy(file, dtype, shape, data as NpyTypedArray);
  return file;
}

async function failure(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(DataError);
  return e as Error;
}

describe('addEvalOutputs', () => {
  it.each([
    ['binary float32', { task: 'binary' }, [7], 'total'],
    ['binary float32, many blocks', { task: 'binary' }, [3000], 'total'],
    ['binary float64 onehot', { task: 'binary', dtype: 'float64', form: 'onehot' }, [7], 'total'],
    ['multilabel per-label α', { task: 'multilabel', alpha: [0.2, 0.7] }, [4, 2], 'labels'],
    ['multilabel per-label α, many blocks', { task: 'multilabel', alpha: [0.2, 0.7, 0.5] }, [1024, 3], 'labels'],
    ['multilabel float16', { task: 'multilabel', dtype: 'float16' }, [3, 3], 'labels'],
    ['multiclass', { task: 'multiclass' }, [600, 3], 'total'],
  ] as [string, LossOptions, number[], 'total' | 'labels'][])('%s: the sums are block sums of the loss output, added in float64', async (_name, options, shape, sums) => {
    const m = buildLoss({ ...options, reduction: 'none' });
    const real = options.dtype !== 'float16';
    const multiclass = options.task === 'multiclass';
    const bytes = addEvalOutputs(m.bytes, { sums, checkPred: real, checkTarget: real && !multiclass });
    const n = shape.reduce((a, b) => a * b, 1);
    const p = Array.from({ length: n }, (_, i) => ((i * 0.37) % 1) + 0.001);
    const t = Array.from({ length: multiclass ? shape[0] : n }, (_, i) => (multiclass ? i % shape[1] : i % 3 === 0 ? 1 : 0));
    const dtype = options.dtype ?? 'float32';
    const rows = shape[0];
    const labels = sums === 'labels' ? shape[1] : undefined;
    for (const blocks of [blockShape(rows, labels), labels ? [rows, 1, labels] : [rows, 1]]) {
      const out = await runModel(bytes, {
        pred: { dtype, dims: shape, data: p },
        target: multiclass ? { dtype: 'int64', dims: [rows], data: t } : { dtype, dims: shape, data: t },
        [EVAL_INPUTS.blocks]: { dtype: 'int64', dims: [blocks.length], data: blocks },
      });
      // One-element blocks are summed in float64 only: the float64 sum of the loss output, to the
      // last bit but for the order of the additions.
      const tol = blocks[1] === 1 ? 1e-15 : 1e-6;
      const loss = out.loss.data;
      const total = loss.reduce((a, b) => a + b, 0);
      expect(out[EVAL_OUTPUTS.sum].dtype).toBe('float64');
      expect(Math.abs(out[EVAL_OUTPUTS.sum].data[0] - total)).toBeLessThanOrEqual(tol * total);
      if (labels) {
        out[EVAL_OUTPUTS.labelSums].data.forEach((v, l) => {
          const col = loss.filter((_, i) => i % labels === l).reduce((a, b) => a + b, 0);
          expect(Math.abs(v - col)).toBeLessThanOrEqual(tol * col);
        });
      }
      if (real) {
        expect(out[EVAL_OUTPUTS.predMin].data[0]).toBeCloseTo(Math.min(...p), 6);
        expect(out[EVAL_OUTPUTS.predMax].data[0]).toBeCloseTo(Math.max(...p), 6);
        if (!multiclass) expect(out[EVAL_OUTPUTS.target].data[0]).toBe(0);
      }
    }
  });

  it('tiles every batch exactly with blocks of at most 256 elements, or of 32+ rows of L labels', () => {
    expect(targetBlockRows(1)).toBe(256);
    expect(targetBlockRows(8)).toBe(128);
    expect(targetBlockRows(16)).toBe(64);
    expect(targetBlockRows(1000)).toBe(32);
    expect(blockShape(262144, undefined)).toEqual([1024, 256]);
    expect(blockShape(16384, 16)).toEqual([256, 64, 16]);
    expect(blockShape(100000, undefined)).toEqual([400, 250]);
    expect(blockShape(7, undefined)).toEqual([1, 7]);
    expect(blockShape(1, 5)).toEqual([1, 1, 5]);
    // A prime number of rows: one-row blocks (float64 from the first addition), still exact.
    expect(blockShape(1031, undefined)).toEqual([1031, 1]);
    expect(blockShape(257, undefined)).toEqual([257, 1]);
    for (const rows of [1, 2, 3, 97, 1024, 1025, 4096, 65537, 99991, 262143]) {
      for (const len of [1, 3, 16, 100, 5000]) {
        const k = blockRows(rows, len);
        expect(rows % k).toBe(0);
        expect(k).toBeLessThanOrEqual(targetBlockRows(len));
      }
    }
  });

  it('leaves a model alone when nothing is asked for', () => {
    const m = buildLoss({});
    expect(addEvalOutputs(m.bytes, { sums: false, checkPred: false, checkTarget: false })).toBe(m.bytes);
    expect(Buffer.from(addEvalOutputs(m.model, { sums: false, checkPred: false, checkTarget: false })).equals(Buffer.from(m.bytes))).toBe(true);
  });

  it.each([
    ['multilabel', { task: 'multilabel' }, 'L'],
    ['multilabel, 3 labels fixed by α', { task: 'multilabel', alpha: [0.2, 0.7, 0.5] }, 3],
    ['channel-first multilabel', { task: 'multilabel', labelAxis: 1, predShape: ['N', 'C', 'S'] }, 'C'],
  ] as [string, LossOptions & { predShape?: string[] }, string | number][])(
    '%s: the same model from the bytes or from the builder object (left as it was), its label sums of the loss\'s label dim',
    (_name, { predShape, ...options }, dim) => {
      const m = buildLoss({ ...options, reduction: 'none' }, predShape ? { predShape } : {});
      const before = JSON.stringify(m.model);
      const spec = { sums: 'labels' as const, checkPred: true, checkTarget: true, ...(options.labelAxis ? { labelAxis: 1 } : {}) };
      const fromBytes = addEvalOutputs(m.bytes, spec);
      expect(Buffer.from(addEvalOutputs(m.model, spec)).equals(Buffer.from(fromBytes))).toBe(true);
      expect(JSON.stringify(m.model)).toBe(before);
      const out = decodeModel(fromBytes).graph.outputs.find((o) => o.name === EVAL_OUTPUTS.labelSums);
      expect(out?.shape).toEqual([dim]);
    },
  );
});

describe('the evaluator graph for checked inputs (BuildExtras.validInputs)', () => {
  it.each([
    ['binary float32', { task: 'binary' }, 'float32'],
    ['binary float64 α 0.1', { task: 'binary', dtype: 'float64', alpha: 0.1 }, 'float64'],
    ['multilabel per-label α, γ 1.5', { task: 'multilabel', alpha: [0.3, 0.9], gamma: 1.5 }, 'float32'],
  ] as [string, LossOptions, 'float32' | 'float64'][])('%s: the same bits as the exported model for probabilities in [0, 1]', async (_name, options, dtype) => {
    const n = 4096;
    const p = Array.from({ length: n }, (_, i) => [0, 1, 1e-30, 1e-5, 0.5, 1 - 2 ** -24, 0.9999][i % 7] ?? ((i * 0.618) % 1));
    for (let i = 7; i < n; i += 7) p[i] = (i * 0.618034) % 1;
    const t = Array.from({ length: n }, (_, i) => ((i * 7919) % 3 === 0 ? 1 : 0));
    const shape = options.task === 'multilabel' ? [n / 2, 2] : [n];
    const feeds = { pred: { dtype, dims: shape, data: p }, target: { dtype, dims: shape, data: t } };
    const general = await runModel(buildLoss({ ...options, reduction: 'none' }).bytes, feeds);
    const checked = await runModel(buildLoss({ ...options, reduction: 'none' }, { validInputs: true }).bytes, feeds);
    expect(checked.loss.data).toEqual(general.loss.data);
  });
});

describe('data checks inside the graph', () => {
  const n = 1000;
  const ok = Array.from({ length: n }, (_, i) => ((i * 0.618) % 1) * 0.98 + 0.01);
  const bin: number[] = Array.from({ length: n }, (_, i) => (i % 4 === 0 ? 1 : 0));
  const run = (pred: string, target: string, loss: LossOptions = {}, batchSize = 256): Promise<unknown> => evaluate({ pred, target, loss, batchSize, threads: 1 });

  it.each([
    ['a target of 1e-30', 1e-30, /element 777 is 1e-30; binary targets must be 0 or 1/],
    ['a target just below 1', 1 - 2 ** -24, /element 777 is 0\.99999994; binary targets must be 0 or 1/],
    ['a target of -1', -1, /element 777 is -1; binary targets/],
    ['a NaN target', NaN, /element 777 is NaN; binary targets/],
  ])('finds %s', async (_name, value, message) => {
    const t = [...bin];
    t[777] = value;
    for (const form of ['arith', 'onehot'] as const) {
      const e = await failure(run(npy('float32', [n], ok), npy('float32', [n], t), { form }));
      expect(e.message).toMatch(message);
    }
  });

  it('finds a NaN prediction wherever it sits in a batch (vector body and tail), in either form', async () => {
    const target = npy('float32', [n], bin);
    for (const at of [0, 1, 7, 8, 63, 64, 255, 256, 511, 999]) {
      const p = [...ok];
      p[at] = NaN;
      const pred = npy('float32', [n], p);
      for (const form of ['arith', 'onehot'] as const) {
        const e = await failure(run(pred, target, { form }));
        expect(e.message).toMatch(new RegExp(`element ${at} is NaN; predictions must be finite`));
      }
    }
  });

  it('finds a NaN logit, and a NaN in multiclass predictions (the loss carries it)', async () => {
    const z = ok.map((x) => 8 * x - 4);
    z[321] = NaN;
    for (const form of ['arith', 'onehot'] as const) {
      for (const eps of [1e-4, 0]) {
        const e = await failure(run(npy('float32', [n], z), npy('float32', [n], bin), { input: 'logits', form, eps }));
        expect(e.message).toMatch(/element 321 is NaN; predictions must be finite/);
      }
    }
    const q = ok.slice(0, 999);
    q[400] = NaN;
    const classes = Array.from({ length: 333 }, (_, i) => i % 3);
    for (const input of ['probs', 'logits'] as const) {
      const e = await failure(run(npy('float32', [333, 3], q), npy('int64', [333], classes), { task: 'multiclass', input }));
      expect(e.message).toMatch(/element 400 \(row 133, column 1\) is NaN; predictions must be finite/);
    }
  });

  it('finds probabilities outside [0, 1] and infinite logits in float64 files', async () => {
    const p = [...ok];
    p[500] = 1.0000001;
    expect((await failure(run(npy('float64', [n], p), npy('float64', [n], bin)))).message).toMatch(/element 500 is 1\.0000001; probabilities must be in \[0, 1\]/);
    const z = ok.map((x) => 8 * x - 4);
    z[300] = -Infinity;
    const e = await failure(run(npy('float64', [n], z), npy('float64', [n], bin), { input: 'logits' }));
    expect(e.message).toMatch(/element 300 is -Infinity; predictions must be finite/);
  });

  it('reports the prediction before the target when a batch has both wrong', async () => {
    const p = [...ok];
    const t = [...bin];
    t[10] = 0.5;
    p[20] = 2;
    expect((await failure(run(npy('float32', [n], p), npy('float32', [n], t)))).message).toMatch(/element 20 is 2; probabilities must be in \[0, 1\]/);
    // An integer target checked in JS, a float prediction checked in the graph: the same order.
    const e = await failure(run(npy('float32', [n], p), npy('int32', [n], t.map((x) => (x === 0.5 ? 3 : x)))));
    expect(e.message).toMatch(/element 20 is 2; probabilities/);
  });

  it('passes −0 as 0, in predictions and targets, and multilabel rows across batches', async () => {
    const p = [...ok];
    const t = [...bin];
    p[5] = -0;
    t[6] = -0;
    await expect(run(npy('float32', [n], p), npy('float32', [n], t))).resolves.toMatchObject({ count: n });
    const e = await failure(run(npy('float32', [n / 4, 4], ok), npy('float32', [n / 4, 4], bin.map((x, i) => (i === 997 ? 0.25 : x))), { task: 'multilabel' }, 64));
    expect(e.message).toMatch(/element 997 \(row 249, column 1\) is 0\.25; multilabel targets must be 0 or 1/);
  });
});
