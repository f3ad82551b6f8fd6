/**
 * The one stream every file source feeds the evaluator's core through (prediction files for
 * `evaluate()`, a network's input files for `evaluateNetwork()`), and the one sink its outcomes
 * go to:
 *
 * - `readAhead`: `.npy` files read in lockstep in batches of whole rows; batch k+1 is read (on
 *   libuv's thread pool, into the other of each reader's two reused page-aligned buffers, see
 *   NpyReader.batches) while the caller computes on batch k.
 * - `OutcomeSink`: each batch's outcome accumulated by the core in batch order, its per-element
 *   losses appended to `out` (written by onnxruntime straight into two reused arrays: batch k uses
 *   array k % 2, so the append of batch k − 1 may still be in flight while k runs), and progress.
 */
import * as path from 'path';
import { performance } from 'perf_hooks';
import { UsageError } from '../errors';
import { NpyDType, NpyReader, NpyTypedArray, NpyWriter, alignedTypedArrayFor } from '../io/npy';
import type { BatchOutcome } from './batch';
import type { EvalCore } from './evaluator';

/** One file of a stream: its reader, and its elements per row. */
export interface StreamPart {
  readonly reader: NpyReader;
  readonly rowElements: number;
}

/** The parts' batches of `batchRows` rows, in lockstep, batch k+1 read while k is used; see the top of this file. */
export async function* readAhead(parts: readonly StreamPart[], batchRows: number): AsyncGenerator<NpyTypedArray[], void, undefined> {
  const iterators = parts.map((p) => p.reader.batches(batchRows * Math.max(1, p.rowElements)));
  const next = (): Promise<IteratorResult<{ data: NpyTypedArray }>>[] => {
    const all = iterators.map((it) => it.next());
    for (const x of all) x.catch(() => undefined); // awaited below; never left unhandled
    return all;
  };
  let pending: ReturnType<typeof next> | undefined = next();
  try {
    for (;;) {
      const got = await Promise.all(pending);
      pending = undefined;
      if (got.some((g) => g.done)) {
        if (!got.every((g) => g.done)) throw new Error("the files' batches are out of step");
        return;
      }
      pending = next(); // batch k+1 into the other buffers while batch k runs
      yield got.map((g) => (g.value as { data: NpyTypedArray }).data);
    }
  } finally {
    if (pending) await Promise.allSettled(pending);
    await Promise.allSettled(iterators.map((it) => it.return(undefined)));
  }
}

/** Where a stream's outcomes go; see the top of this file. */
export class OutcomeSink {
  private appending: Promise<void> | undefined;
  private readonly buffers: NpyTypedArray[] | undefined;
  private k = 0;
  private done = 0;
  private readonly started = performance.now();

  /**
   * `out`: the per-element losses' writer (of `lossType`, `batchLosses` a batch at most), or none.
   * `progress`: called after each batch with the rows done and the seconds since the start.
   */
  constructor(
    private readonly core: EvalCore,
    private readonly out: NpyWriter | undefined,
    lossType: NpyDType,
    batchLosses: number,
    private readonly progress?: (rows: number, seconds: number) => void,
  ) {
    this.buffers = out ? [alignedTypedArrayFor(lossType, batchLosses), alignedTypedArrayFor(lossType, batchLosses)] : undefined;
  }

  /** The array the next batch's `count` per-element losses go into (with `out`). */
  into(count: number): NpyTypedArray | undefined {
    return this.buffers?.[this.k % 2].subarray(0, count) as NpyTypedArray | undefined;
  }

  /** Adds the outcome of the next batch (of `rows` rows) in batch order. */
  async take(outcome: BatchOutcome, rows: number): Promise<void> {
    this.core.accept(outcome);
    this.k++;
    if (this.out) {
      await this.appending;
      // Awaited before the next append (or at the end); a failure in between is not unhandled.
      const append = this.out.append(outcome.loss?.data as NpyTypedArray);
      append.catch(() => undefined);
      this.appending = append;
    }
    this.done += rows;
    this.progress?.(this.done, this.seconds());
  }

  seconds(): number {
    return (performance.now() - this.started) / 1000;
  }

  /** Waits for the last append and renames `out` into place. */
  async finish(): Promise<void> {
    await this.appending;
    await this.out?.commit();
  }

  /** After a failure: lets the last append settle. (`out` itself is aborted by its owner.) */
  async settle(): Promise<void> {
    await Promise.allSettled([this.appending]);
  }
}

/** Refuses an `out` that is one of the inputs (`[file, what it holds]`). */
export function checkOutPath(out: string | undefined, inputs: readonly (readonly [string | undefined, string])[]): void {
  if (out === undefined) return;
  for (const [file, what] of inputs) {
    if (file !== undefined && path.resolve(out) === path.resolve(file)) throw new UsageError(`${out}: is also the ${what} file; write the losses elsewhere`);
  }
}
