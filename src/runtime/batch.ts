/**
 * One batch of the streaming evaluator (evaluate.ts): check it, run the model on it, and return
 * what the evaluator accumulates. The same code runs in the evaluator's own thread (CUDA, one CPU
 * thread) and in its worker threads (eval-worker.ts, several CPU sessions), so everything a
 * `BatchRunner` is made from (`BatchSpec`) is plain data that a worker can receive.
 */
import { DataError, UsageError } from '../errors';
import { NpyDType, NpyHeader, NpyReader, NpyTypedArray, alignedTypedArrayFor, typedArrayFor } from '../io/npy';
import type { FocalOptions, Reduction } from '../losses';
import { checkBinaryTargets, checkClassIndices, checkPredictions, convertBinaryTargets } from './checks';
import { EVAL_INPUTS, EVAL_OUTPUTS, blockShape } from './eval-blocks';
import { HostTensor, Session, TensorDType } from './session';

/** How the files map to rows and per-element losses. */
export interface Layout {
  /** Rows (N; the elements for binary). */
  readonly rows: number;
  /** Prediction and target elements per row. */
  readonly predRow: number;
  readonly targetRow: number;
  /** Per-element losses per row. */
  readonly lossRow: number;
  /** Shape of the per-element losses (`out`). */
  readonly outShape: readonly number[];
}

/**
 * The model with the evaluator's outputs (eval-outputs.ts), and which work they take off the JS
 * side: the float64 batch sums (for a per-element `loss`; the per-element losses then leave the
 * graph only for `out`), and the data checks as reductions (float32 / float64 predictions; float
 * binary and multi-label targets of the model's own type). Everything else is checked in JS.
 */
export interface EvalGraph {
  readonly bytes: Uint8Array;
  readonly sums: boolean;
  readonly predInGraph: boolean;
  readonly targetInGraph: boolean;
  /** The outputs to fetch besides a pre-allocated `loss`. */
  readonly fetches: readonly string[];
}

/** Everything a batch runner needs, as plain data (structured-cloneable, for worker threads). */
export interface BatchSpec {
  readonly options: FocalOptions;
  readonly layout: Layout;
  readonly pred: NpyHeader;
  readonly target: NpyHeader;
  /** Element types the model takes. */
  readonly predType: TensorDType;
  readonly targetType: TensorDType;
  /** The reduction the graph itself applies to each batch. */
  readonly graphReduction: Reduction;
  readonly graph: EvalGraph;
  /** The user's model file, when the model came from one (its failures are then the user's). */
  readonly modelFile?: string;
  /** Rows per batch (the last may have fewer). */
  readonly batchRows: number;
}

/** What one batch contributes. */
export interface BatchOutcome {
  readonly rows: number;
  /** The batch's float64 sum of per-element losses (graphs with sums), and per label (multilabel). */
  readonly sum?: number;
  readonly labelSums?: Float64Array;
  /** The `loss` output: per element (wanted for `out`), or the batch's mean / sum (models that reduce). */
  readonly loss?: HostTensor;
}

/**
 * Runs `step`; when the model came from a user's file, a failure there (onnxruntime refusing the
 * graph, an output of no known type, …) is the file's problem: a one-line UsageError naming it.
 * For a model built here, the same failure is our bug and propagates as it is.
 */
export async function asFileError<T>(file: string | undefined, what: string, step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (e) {
    if (file === undefined || e instanceof UsageError) throw e;
    const message = String((e as Error)?.message ?? e);
    // onnxruntime's messages carry its source path and status codes before the reason.
    const reason = message.split('\n')[0].replace(/^.*\[ONNXRuntimeError\] : \d+ : [A-Z_]+ : /, '').slice(0, 300);
    throw new UsageError(`${file}: ${what}: ${reason}`);
  }
}

/** A scalar output as a number. */
function scalar(t: HostTensor | undefined): number {
  return t ? Number((t.data as Float32Array | Float64Array)[0]) : NaN;
}

/**
 * Whether the graph's check outputs say the batch is fine (false: scan it in JS). A NaN
 * prediction shows as a NaN loss (eval-outputs.ts); a NaN loss from valid data, if a model made
 * one, passes the scan and stays.
 */
function graphChecksPass(g: EvalGraph, result: Record<string, HostTensor>, probs: boolean): boolean {
  if (g.predInGraph) {
    const lo = scalar(result[EVAL_OUTPUTS.predMin]);
    const hi = scalar(result[EVAL_OUTPUTS.predMax]);
    if (probs ? !(lo >= 0 && hi <= 1) : !(Number.isFinite(lo) && Number.isFinite(hi))) return false;
    if (Number.isNaN(scalar(result[g.sums ? EVAL_OUTPUTS.sum : 'loss']))) return false;
  }
  return !g.targetInGraph || scalar(result[EVAL_OUTPUTS.target]) === 0;
}

/** Checks and runs batches on one session; see the top of this file. */
export class BatchRunner {
  private readonly targetBuffer: NpyTypedArray | undefined;
  private readBuffers: [NpyTypedArray, NpyTypedArray] | undefined;

  constructor(
    private readonly spec: BatchSpec,
    private readonly session: Session,
  ) {
    const { target, targetType, layout, batchRows } = spec;
    // A float target of another width than the model's is converted here (exactly: it holds 0 and 1).
    this.targetBuffer = target.dtype !== targetType ? typedArrayFor(targetType as NpyDType, Math.min(batchRows, layout.rows) * layout.targetRow) : undefined;
  }

  /**
   * Batch k of the files (rows k·batchRows …), read synchronously from `pred` and `target` into
   * buffers of this runner's own, then run: for a caller that reads and runs batches in turn (the
   * evaluator's pool, where another session computes meanwhile).
   */
  runAt(k: number, pred: NpyReader, target: NpyReader): Promise<BatchOutcome> {
    const { layout, batchRows } = this.spec;
    const first = Math.min(batchRows, layout.rows);
    this.readBuffers ??= [alignedTypedArrayFor(this.spec.pred.dtype, first * layout.predRow), alignedTypedArrayFor(this.spec.target.dtype, first * layout.targetRow)];
    const [pb, tb] = this.readBuffers;
    const start = k * batchRows;
    const rows = Math.min(batchRows, layout.rows - start);
    const p = pb.subarray(0, rows * layout.predRow) as NpyTypedArray;
    const t = tb.subarray(0, rows * layout.targetRow) as NpyTypedArray;
    pred.readIntoSync(p, start * layout.predRow);
    target.readIntoSync(t, start * layout.targetRow);
    return this.run(p, t, start * layout.predRow, start * layout.targetRow);
  }

  /**
   * The batch `p` (prediction elements from `pStart`) against `t` (target elements from
   * `tStart`). With `into`, the per-element losses are written there (an array of exactly the
   * batch's losses; onnxruntime writes into it) and returned as `loss`. Bad data is a DataError naming the first bad element, predictions
   * before targets.
   */
  async run(p: NpyTypedArray, t: NpyTypedArray, pStart: number, tStart: number, into?: NpyTypedArray): Promise<BatchOutcome> {
    const { options: o, layout, pred, target, graph: g } = this.spec;
    const probs = o.input === 'probs';
    const rows = p.length / layout.predRow;
    // The checks, in this order: predictions, then targets (the first bad element of the first
    // that fails is the error). Those the graph does run on its outputs below; the others here.
    const checkPred = (): void => checkPredictions({ file: pred.path, start: pStart, shape: pred.shape }, pred.dtype, p, probs);
    const checkTarget = (): void => {
      const place = { file: target.path, start: tStart, shape: target.shape };
      if (o.task === 'multiclass') checkClassIndices(place, target.dtype, t, layout.predRow);
      else checkBinaryTargets(place, target.dtype, t, o.task);
    };
    if (!g.predInGraph) checkPred();
    if (!g.targetInGraph) {
      try {
        checkTarget();
      } catch (e) {
        if (g.predInGraph) checkPred();
        throw e;
      }
    }
    let feedTarget = t;
    if (this.targetBuffer) {
      feedTarget = this.targetBuffer.subarray(0, t.length) as NpyTypedArray;
      convertBinaryTargets(target.dtype as 'float32', t, this.spec.targetType as 'float32', feedTarget);
    }
    const multilabel = o.task === 'multilabel';
    const predDims = o.task === 'binary' ? [rows] : [rows, layout.predRow];
    const targetDims = multilabel ? [rows, layout.targetRow] : [rows];
    const lossDims = multilabel ? [rows, layout.lossRow] : [rows];
    const feeds: Record<string, HostTensor> = {
      pred: { dtype: this.spec.predType, dims: predDims, data: p } as HostTensor,
      target: { dtype: this.spec.targetType, dims: targetDims, data: feedTarget } as HostTensor,
    };
    if (g.sums) {
      const blocks = blockShape(rows, multilabel ? layout.lossRow : undefined);
      feeds[EVAL_INPUTS.blocks] = { dtype: 'int64', dims: [blocks.length], data: BigInt64Array.from(blocks, BigInt) };
    }
    const fetches: Record<string, HostTensor | null> = {};
    if (into) fetches.loss = { dtype: o.dtype, dims: lossDims, data: into } as HostTensor;
    for (const name of g.fetches) fetches[name] = null;
    const result = await asFileError(this.spec.modelFile, 'onnxruntime cannot run it on this data', () => this.session.run(feeds, fetches));
    if ((g.predInGraph || g.targetInGraph) && !graphChecksPass(g, result, probs)) {
      // Something in this batch is off: find and name it. (A NaN loss from valid data, were a
      // model to make one, passes the scan and counts, as it would without the graph checks.)
      checkPred();
      checkTarget();
    }
    if (!g.sums) return { rows, loss: result.loss };
    return {
      rows,
      sum: scalar(result[EVAL_OUTPUTS.sum]),
      labelSums: result[EVAL_OUTPUTS.labelSums]?.data as Float64Array | undefined,
      loss: result.loss,
    };
  }
}

/** A thrown error as plain data (to cross from a worker thread), and back. */
export interface ErrorData {
  readonly kind: 'usage' | 'data' | 'bug';
  readonly message: string;
  readonly stack?: string;
}

export function errorToData(e: unknown): ErrorData {
  if (e instanceof DataError) return { kind: 'data', message: e.message };
  if (e instanceof UsageError) return { kind: 'usage', message: e.message };
  const err = e instanceof Error ? e : new Error(String(e));
  return { kind: 'bug', message: err.message, stack: err.stack };
}

export function errorFromData(d: ErrorData): Error {
  if (d.kind === 'data') return new DataError(d.message);
  if (d.kind === 'usage') return new UsageError(d.message);
  const err = new Error(d.message);
  if (d.stack) err.stack = d.stack;
  return err;
}
