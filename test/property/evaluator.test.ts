/**
 * Property: the in-memory evaluator (createEvaluator) gives the same result however a data set
 * is split into batches — any batch sizes, from one row up, multi-label of rank 2 or 3 — and that
 * result is the float64 reference of the seed's formula within the float32 tolerance; the running
 * count after every batch is the rows added so far.
 *
 * Seeded (fc-config.ts): FOCAL_FC_SEED=<n> explores another seed, FOCAL_FC_RUNS=<factor> runs more.
 */
import fc from 'fast-check';
import { LossOptions } from '../../src/losses';
import { EvaluatorBatch, createEvaluator } from '../../src/runtime/evaluator';
import { mulberry32 } from '../../scripts/prng';
import { focalElements, compensatedSum } from '../helpers/focal-reference';
import { fcParams } from './fc-config';

interface SplitCase {
  readonly task: 'binary' | 'multilabel' | 'multiclass';
  readonly input: 'probs' | 'logits';
  readonly reduction: 'mean' | 'sum';
  readonly gamma: number;
  readonly rows: number;
  readonly cols: number;
  /** Multilabel batches as [1, n, L] instead of [n, L]. */
  readonly deep: boolean;
  /** Batch sizes in rows, cycled until the rows are used up. */
  readonly sizes: number[];
  readonly seed: number;
}

const splitArb: fc.Arbitrary<SplitCase> = fc.record({
  task: fc.constantFrom('binary' as const, 'multilabel' as const, 'multiclass' as const),
  input: fc.constantFrom('probs' as const, 'logits' as const),
  reduction: fc.constantFrom('mean' as const, 'sum' as const),
  gamma: fc.constantFrom(0, 1, 2, 2.5),
  rows: fc.integer({ min: 1, max: 300 }),
  cols: fc.integer({ min: 2, max: 5 }),
  deep: fc.boolean(),
  sizes: fc.array(fc.integer({ min: 1, max: 120 }), { minLength: 1, maxLength: 6 }),
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
});

async function checkSplit(c: SplitCase): Promise<void> {
  const rnd = mulberry32(c.seed);
  const row = c.task === 'binary' ? 1 : c.cols;
  const pred = Float32Array.from({ length: c.rows * row }, () => (c.input === 'logits' ? 8 * rnd() - 4 : rnd()));
  if (c.task === 'multiclass' && c.input === 'probs') {
    for (let r = 0; r < c.rows; r++) {
      const s = pred.subarray(r * row, (r + 1) * row).reduce((a, b) => a + b, 0);
      for (let j = 0; j < row; j++) pred[r * row + j] = Math.fround(pred[r * row + j] / s);
    }
  }
  const target =
    c.task === 'multiclass' ? Int32Array.from({ length: c.rows }, () => Math.floor(rnd() * row)) : Uint8Array.from({ length: c.rows * row }, () => (rnd() < 0.3 ? 1 : 0));
  const loss: LossOptions = { task: c.task, input: c.input, reduction: c.reduction, gamma: c.gamma };
  const ev = await createEvaluator({ loss, threads: 1 });
  try {
    let done = 0;
    for (let k = 0; done < c.rows; k++) {
      const n = Math.min(c.sizes[k % c.sizes.length], c.rows - done);
      const p = pred.subarray(done * row, (done + n) * row);
      const t = c.task === 'multiclass' ? target.subarray(done, done + n) : target.subarray(done * row, (done + n) * row);
      const dims = c.task === 'binary' ? [n] : c.task === 'multilabel' && c.deep ? [1, n, row] : [n, row];
      await ev.add({ pred: p, target: t, dims } as EvaluatorBatch);
      done += n;
      if (ev.result().rows !== done) throw new Error(`after ${k + 1} batches: ${ev.result().rows} rows, expected ${done}`);
    }
    const r = ev.result();
    const elements = focalElements(
      { task: c.task, input: c.input, alpha: 0.25, gamma: c.gamma, eps: 1e-4, reduction: 'none' },
      { pred: Array.from(pred), target: Array.from(target), cols: row },
    );
    const sum = compensatedSum(elements);
    const expected = c.reduction === 'sum' ? sum : sum / elements.length;
    // float32 graphs: a few float32 ulps per element, relative to the sum of magnitudes.
    if (!(Math.abs(r.loss - expected) <= 2e-5 * Math.abs(expected) + 1e-6)) throw new Error(`loss ${r.loss}, expected ${expected}`);
    if (r.count !== elements.length) throw new Error(`count ${r.count}, expected ${elements.length}`);
  } finally {
    await ev.close();
  }
}

describe('property: the evaluator’s result does not depend on how the data is split into batches', () => {
  it('for random tasks, data and batch sizes (one row and up), against the float64 reference', async () => {
    await fc.assert(fc.asyncProperty(splitArb, checkSplit), fcParams(40));
  });
});
