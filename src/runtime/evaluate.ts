/**
 * The streaming evaluator: the focal loss of a prediction file against a target file (`.npy`, C
 * order), of any size, in batches of whole rows, so memory is bounded by the batch size.
 *
 * The model: either built here from loss options, or a focal-onnx model file (`model`), whose
 * options are read back from its `focal.*` metadata.
 * - Built: `dtype` is the prediction file's (float16/32/64) and `targetDtype` the target file's
 *   (a float target of another width than pred is converted in JS, exactly: it holds 0 and 1).
 *   The graph is built with reduction `none` (and `validInputs`: every batch is checked, see
 *   below), and the evaluator adds `loss_sum`: the per-element losses summed in the graph in
 *   blocks of ~256 (in the loss type), the block sums in float64 (per label too,
 *   `loss_label_sums`, for multi-label; eval-outputs.ts). Only that number leaves onnxruntime per
 *   batch, and the batches' sums are added here in float64. No long float32 reduction touches the
 *   result: onnxruntime's float32 ReduceSum drifts with the count it reduces (measured: 1e-6
 *   relative at 64K elements, 7e-6 at 256K, 4e-5 at 1M; ~2e-3 at 16M), whereas a block of 256
 *   rounds to ~1e-7 and the errors of the blocks average out (the result is within ~2e-9 of a
 *   float64 reference at 10^8 elements). Batches are tiled by blocks of the largest divisor of
 *   their rows up to the block size (a large batch is rounded down to whole blocks first). The
 *   per-element losses leave the graph only for `out`.
 * - A model file: used as it is, with the same outputs added. Its reduction decides: `mean` — each
 *   batch's mean times its count; `sum` — each batch's sum; `none` — `loss_sum`, as above. The
 *   batch values are accumulated in float64, but each batch's own float32 reduction limits the
 *   precision to about 1e-5 relative (7e-6 at 256K elements per batch); `none` models have none
 *   of that.
 * Then mean = total / count, where count is the number of per-element losses (N·L, N, or the
 * elements of a binary file), and `perLabel` (multi-label) is each label column's mean over N
 * (its sum for reduction sum): the seed's per-label vector.
 *
 * Shapes: binary — any shapes with the same element count (flattened, as the seed does);
 * multilabel — pred and target [N, L]; multiclass — pred [N, C], target [N].
 *
 * Reading overlaps computing: batch k+1 is read (on libuv's thread pool, into the other of two
 * reused page-aligned buffers, see NpyReader.batches) while batch k is checked and run. File
 * buffers are wrapped in tensors without copying.
 *
 * Data checks run on every batch (checks.ts); the first bad element ends the run with a one-line
 * `DataError` (predictions before targets). float32 / float64 predictions and float targets are
 * checked in the graph — `check_pred_min`, `check_pred_max`, `check_target` and a NaN `loss_sum`
 * (eval-outputs.ts) — and only a batch that fails there is scanned in JS, to name the element:
 * a JS scan of every element costs more than the loss graph itself (~1.2 ns an element for
 * predictions, up to ~5 for 0/1 float targets, whose two-way branch mispredicts). Other types
 * (float16, integer and bool targets, class indices) are scanned in JS before the run. With
 * `out`, the per-element losses stream into an `.npy` (the loss dtype; the pred
 * file's shape for binary, [N, L] or [N] otherwise) through a temporary file that is renamed into
 * place only when everything succeeded.
 */
import * as path from 'path';
import { performance } from 'perf_hooks';
import { DataError, UsageError } from '../errors';
import { f16BitsToF32 } from '../io/float16';
import { NpyDType, NpyHeader, NpyReader, NpyTypedArray, NpyWriter, alignedTypedArrayFor } from '../io/npy';
import { FocalOptions, Label, LossOptions, Reduction, TargetDType, buildLoss, normalizeOptions } from '../losses';
import { TensorInfo } from '../onnx';
import { BatchOutcome, BatchRunner, BatchSpec, EvalGraph, Layout, asFileError } from './batch';
import { EVAL_OUTPUTS, addEvalOutputs, targetBlockRows } from './eval-outputs';
import { loadModelFile } from './model-file';
import { EvalPool } from './pool';
import { DEFAULT_THREADS, ExecutionProvider, HostTensor, Session, SessionOptions, TensorDType, createSession } from './session';

/**
 * Default batch: about this many prediction elements (rounded down to whole rows, at least one).
 * Measured end to end (read, check, run, accumulate) on a 2-core CPU over 16M float32 binary
 * elements, best of 5, with the graph sums and checks: 64K 165, 256K 230, 1M 185 million
 * elements/s with 2 threads (165, 200, 135 with 1). Smaller batches pay onnxruntime's per-run
 * overhead, larger ones fall out of the caches; 256K also keeps the buffers at a few MB.
 */
export const DEFAULT_BATCH_ELEMENTS = 1 << 18;

/** At most this many worker sessions besides this thread's (pool.ts); more threads become intra-op threads of each. */
export const MAX_WORKERS = 4;

/**
 * The fewest batches for which the worker pool is worth starting: the workers join ~15 ms after
 * this thread's session (which runs batches alone meanwhile), and starting and stopping them costs
 * the whole process ~10 ms. Measured on 2 cores (float32, default batches, 6 interleaved runs,
 * whole process / in-process against one session of two threads): 4M elements (16 batches)
 * 210–215 / 138–168 M/s against 203–225 / 86–135; 8M (32) 223–244 / 186–208 against 217–240 /
 * 132–178; 16M (64) 248–255 / 240–251 against 256–340 / 102–203, multilabel 16M 255–271 /
 * 198–237 against 266–363 / 116–188. From 64 batches both are faster.
 */
export const MIN_POOL_BATCHES = 64;

export interface EvaluateProgress {
  /** Prediction elements done, and in all. */
  readonly done: number;
  readonly total: number;
  /** Seconds since the first batch started. */
  readonly seconds: number;
}

export interface EvaluateOptions extends SessionOptions {
  /** The prediction and target `.npy` files. */
  readonly pred: string;
  readonly target: string;
  /** A focal-onnx model file to evaluate with (its options from its metadata) … */
  readonly model?: string;
  /**
   * … or the loss options to build the model from (the default: the seed's binary loss). `dtype`
   * and `targetDtype` default to the files' types; given, they must match them.
   */
  readonly loss?: LossOptions;
  /**
   * Prediction elements per batch, rounded down to whole rows, and to whole blocks of the graph's
   * sums where that takes off less than 1/16 (default DEFAULT_BATCH_ELEMENTS).
   */
  readonly batchSize?: number;
  /** Where to write the per-element losses (`.npy`); needs reduction none from a model file. */
  readonly out?: string;
  /** Called after every batch. */
  readonly onProgress?: (progress: EvaluateProgress) => void;
  /** Names options in messages (the CLI passes its flag names). */
  readonly label?: Label;
}

export interface EvaluateResult {
  /** The loss under the options' reduction: the mean (also for `none`) or the sum. */
  readonly loss: number;
  readonly reduction: Reduction;
  readonly mean: number;
  readonly sum: number;
  /** Number of per-element losses: N·L (multilabel), N (multiclass), or the elements (binary). */
  readonly count: number;
  /** Multi-label: each label's mean over N (its sum for reduction sum) — the seed's per-label vector. */
  readonly perLabel?: number[];
  /** Prediction elements and rows read. */
  readonly elements: number;
  readonly rows: number;
  readonly batches: number;
  readonly batchRows: number;
  readonly ep: ExecutionProvider;
  /** Sessions that ran batches side by side: 1, or this thread's and the workers' (pool.ts). */
  readonly sessions: number;
  /** Seconds of streaming (read, check, run, accumulate, write); and of loading the session. */
  readonly seconds: number;
  readonly loadSeconds: number;
  /** Prediction elements per second of streaming. */
  readonly elementsPerSecond: number;
  readonly options: FocalOptions;
  /** The model file, or undefined when the model was built from options. */
  readonly model?: string;
  readonly pred: string;
  readonly target: string;
  readonly out?: string;
}

const plain: Label = (o) => o;
const FLOAT_TYPES: readonly NpyDType[] = ['float16', 'float32', 'float64'];
const isFloatType = (d: string): d is 'float16' | 'float32' | 'float64' => (FLOAT_TYPES as readonly string[]).includes(d);
const shapeText = (s: readonly (number | string | null)[]): string => `[${s.map((d) => d ?? '?').join(', ')}]`;

// ---- options ------------------------------------------------------------------------------------

/** Loss options for a built model: the files decide `dtype` and `targetDtype`. */
function resolveBuildOptions(loss: LossOptions, pred: NpyHeader, target: NpyHeader, label: Label): FocalOptions {
  if (!isFloatType(pred.dtype)) {
    throw new DataError(`${pred.path}: dtype ${pred.descr} (${pred.dtype}); predictions must be float16, float32 or float64`);
  }
  if (loss.dtype !== undefined && loss.dtype !== pred.dtype) {
    throw new UsageError(
      `${label('dtype')} ${loss.dtype} does not match ${pred.path}, which holds ${pred.dtype}; ` +
        `drop ${label('dtype')} (the prediction file decides) or convert the file`,
    );
  }
  const task = loss.task ?? 'binary';
  const t = target.dtype;
  let targetDtype: TargetDType;
  if (task === 'multiclass') {
    if (t !== 'int64' && t !== 'int32') {
      throw new DataError(`${target.path}: dtype ${target.descr} (${t}); multiclass targets are class indices: save them as int64 or int32`);
    }
    targetDtype = t;
  } else if (isFloatType(t)) targetDtype = 'float';
  else if (t === 'uint8' || t === 'bool' || t === 'int32' || t === 'int64') targetDtype = t;
  else {
    throw new DataError(`${target.path}: dtype ${target.descr} (${t}); ${task} targets must be float, uint8, bool, int32 or int64`);
  }
  if (loss.targetDtype !== undefined) {
    const given = loss.targetDtype === pred.dtype ? 'float' : loss.targetDtype;
    if (given !== targetDtype) {
      throw new UsageError(
        `${label('targetDtype')} ${loss.targetDtype} does not match ${target.path}, which holds ${t}; ` +
          `drop ${label('targetDtype')} (the target file decides)`,
      );
    }
  }
  return normalizeOptions({ ...loss, dtype: pred.dtype, targetDtype, asFunction: false, withGrad: false }, label);
}

// ---- shapes -------------------------------------------------------------------------------------

function layoutFor(o: FocalOptions, pred: NpyHeader, target: NpyHeader): Layout {
  const ps = pred.shape;
  const ts = target.shape;
  let layout: Layout;
  switch (o.task) {
    case 'binary':
      if (pred.count !== target.count) {
        throw new DataError(
          `${target.path}: holds ${target.count} elements (shape ${shapeText(ts)}) but ${pred.path} holds ${pred.count} ` +
            `(shape ${shapeText(ps)}); binary targets need one per prediction`,
        );
      }
      layout = { rows: pred.count, predRow: 1, targetRow: 1, lossRow: 1, outShape: ps };
      break;
    case 'multilabel':
      if (ps.length !== 2) throw new DataError(`${pred.path}: shape ${shapeText(ps)}; multilabel predictions must be [N, L]`);
      if (ts.length !== 2 || ts[0] !== ps[0] || ts[1] !== ps[1]) {
        throw new DataError(`${target.path}: shape ${shapeText(ts)} does not match ${pred.path}, shape ${shapeText(ps)}; multilabel targets must be [N, L] like the predictions`);
      }
      layout = { rows: ps[0], predRow: ps[1], targetRow: ps[1], lossRow: ps[1], outShape: ps };
      break;
    case 'multiclass':
      if (ps.length !== 2) throw new DataError(`${pred.path}: shape ${shapeText(ps)}; multiclass predictions must be [N, C]`);
      if (ts.length !== 1 || ts[0] !== ps[0]) {
        throw new DataError(
          `${target.path}: shape ${shapeText(ts)}; multiclass targets must be [N] = [${ps[0]}], one class index per row of ${pred.path} ` +
            `(shape ${shapeText(ps)})${ts.length === 2 && ts[0] === ps[0] && ts[1] === 1 ? '; save t.reshape(-1)' : ''}`,
        );
      }
      layout = { rows: ps[0], predRow: ps[1], targetRow: 1, lossRow: 1, outShape: [ps[0]] };
      break;
  }
  if (pred.count === 0) throw new DataError(`${pred.path}: holds no elements (shape ${shapeText(ps)}); nothing to evaluate`);
  return layout;
}

/** Checks the files' row length against a fixed label / class dimension of the model. */
function checkModelDims(o: FocalOptions, inputs: readonly { name: string; shape: readonly (number | string | null)[] | null }[], pred: NpyHeader, layout: Layout, source: string): void {
  if (o.task === 'binary') return;
  const predInput = inputs.find((i) => i.name === 'pred');
  const fixed = predInput?.shape?.[1];
  if (typeof fixed === 'number' && fixed !== layout.predRow) {
    const what = o.task === 'multilabel' ? 'labels' : 'classes';
    throw new DataError(`${pred.path}: has ${layout.predRow} ${what} (shape ${shapeText(pred.shape)}) but ${source} is for ${fixed} ${what}`);
  }
}

// ---- the model and how its outputs are accumulated ----------------------------------------------

interface Plan {
  readonly options: FocalOptions;
  /** The model's bytes: read already (a file), or built now (options; ~10 ms, so after the workers start). */
  readonly build: () => Uint8Array;
  readonly modelFile?: string;
  /** The reduction the graph itself applies to each batch. */
  readonly graphReduction: Reduction;
  /** Element types the model takes. */
  readonly predType: TensorDType;
  readonly targetType: TensorDType;
}

function tensorType(info: TensorInfo | undefined, file: string, name: string): TensorDType {
  const ok: readonly string[] = ['float16', 'float32', 'float64', 'int8', 'int32', 'int64', 'uint8', 'bool'];
  if (!info || !ok.includes(info.dtype)) {
    throw new UsageError(`${file}: has no input '${name}' of a supported element type; expected a focal-onnx model`);
  }
  return info.dtype as TensorDType;
}

function planFromFile(file: string, pred: NpyHeader, target: NpyHeader, out: string | undefined): { plan: Plan; layout: Layout } {
  const m = loadModelFile(file);
  if (!m.options) {
    throw new UsageError(
      `${file}: has no focal.* metadata, so its loss options are unknown (not written by focal-onnx); ` +
        "export one with 'focal-onnx export', or give the loss flags instead of --model",
    );
  }
  const o = m.options;
  const predType = tensorType(m.info.graph.inputs.find((i) => i.name === 'pred'), file, 'pred');
  const targetType = tensorType(m.info.graph.inputs.find((i) => i.name === 'target'), file, 'target');
  if (!m.info.graph.outputs.some((x) => x.name === 'loss')) throw new UsageError(`${file}: has no output 'loss'; expected a focal-onnx model`);
  if (pred.dtype !== predType) {
    throw new DataError(`${pred.path}: dtype ${pred.dtype}, but ${file} takes ${predType} predictions; convert the file or export a ${pred.dtype} model (--dtype ${pred.dtype})`);
  }
  if (target.dtype !== targetType && !(isFloatType(target.dtype) && isFloatType(targetType))) {
    throw new DataError(`${target.path}: dtype ${target.dtype}, but ${file} takes ${targetType} targets; convert the file or export a model with --target-dtype ${target.dtype}`);
  }
  if (out !== undefined && o.reduction !== 'none') {
    throw new UsageError(
      `--out needs the per-element losses, but ${file} has reduction ${o.reduction}; ` +
        'use a model exported with --reduction none, or the loss flags instead of --model',
    );
  }
  const layout = layoutFor(o, pred, target);
  checkModelDims(o, m.info.graph.inputs, pred, layout, file);
  return { plan: { options: o, build: () => m.bytes, modelFile: file, graphReduction: o.reduction, predType, targetType }, layout };
}

function planFromOptions(loss: LossOptions, pred: NpyHeader, target: NpyHeader, label: Label): { plan: Plan; layout: Layout } {
  const o = resolveBuildOptions(loss, pred, target, label);
  const layout = layoutFor(o, pred, target);
  if (Array.isArray(o.alpha) && o.task !== 'binary' && o.alpha.length !== layout.predRow) {
    const what = o.task === 'multilabel' ? 'labels' : 'classes';
    throw new UsageError(`${label('alpha')} lists ${o.alpha.length} values, one per ${what.slice(0, -1)}, but ${pred.path} has ${layout.predRow} ${what} (shape ${shapeText(pred.shape)})`);
  }
  return {
    plan: {
      options: o,
      // Every batch is checked (in the graph or in JS), so the graph may assume valid inputs.
      build: () => buildLoss({ ...o, reduction: 'none' }, { validInputs: true }).bytes,
      graphReduction: 'none',
      predType: o.dtype,
      targetType: o.targetDtype,
    },
    layout,
  };
}

// ---- accumulation -------------------------------------------------------------------------------

class Accumulator {
  total = 0;
  readonly labelSums: Float64Array | undefined;
  private scratch: Float32Array | undefined;

  constructor(
    private readonly reduction: Reduction,
    labels: number | undefined,
  ) {
    this.labelSums = labels === undefined ? undefined : new Float64Array(labels);
  }

  /** Adds a batch's float64 sums from the graph (`loss_sum`, and `loss_label_sums` for multilabel). */
  addSums(total: number, labels: Float64Array | undefined): void {
    this.total += total;
    const sums = this.labelSums;
    if (sums && labels) for (let l = 0; l < sums.length; l++) sums[l] += labels[l];
  }

  /** Adds a batch's `loss` output; `count` is its number of per-element losses. */
  add(loss: HostTensor, count: number): void {
    if (this.reduction !== 'none') {
      const v = loss.dtype === 'float16' ? f16BitsToF32((loss.data as Uint16Array)[0]) : Number((loss.data as Float32Array)[0]);
      this.total += this.reduction === 'mean' ? v * count : v;
      return;
    }
    let values: Float32Array | Float64Array;
    if (loss.dtype === 'float16') {
      const bits = loss.data as Uint16Array;
      if (!this.scratch || this.scratch.length < bits.length) this.scratch = new Float32Array(bits.length);
      values = this.scratch.subarray(0, bits.length);
      for (let i = 0; i < bits.length; i++) values[i] = f16BitsToF32(bits[i]);
    } else values = loss.data as Float32Array | Float64Array;
    let s = 0;
    const sums = this.labelSums;
    if (sums) {
      const L = sums.length;
      for (let i = 0; i < values.length; i += L) {
        for (let l = 0; l < L; l++) {
          const x = values[i + l];
          sums[l] += x;
          s += x;
        }
      }
    } else {
      for (let i = 0; i < values.length; i++) s += values[i];
    }
    this.total += s;
  }
}

// ---- the evaluator's graph -----------------------------------------------------------------------

/** The model with the evaluator's outputs (eval-outputs.ts); see EvalGraph (batch.ts). */
const realFloat = (d: string): boolean => d === 'float32' || d === 'float64';

function evalGraph(bytes: Uint8Array, o: FocalOptions, graphReduction: Reduction, pred: NpyHeader, target: NpyHeader, predType: TensorDType, targetType: TensorDType): EvalGraph {
  const sums = graphReduction === 'none';
  const predInGraph = realFloat(pred.dtype) && pred.dtype === predType;
  const targetInGraph = o.task !== 'multiclass' && realFloat(target.dtype) && target.dtype === targetType;
  const withOutputs = addEvalOutputs(bytes, { sums: sums ? (o.task === 'multilabel' ? 'labels' : 'total') : false, checkPred: predInGraph, checkTarget: targetInGraph });
  const fetches: string[] = sums ? [EVAL_OUTPUTS.sum] : ['loss'];
  if (sums && o.task === 'multilabel') fetches.push(EVAL_OUTPUTS.labelSums);
  if (predInGraph) fetches.push(EVAL_OUTPUTS.predMin, EVAL_OUTPUTS.predMax);
  if (targetInGraph) fetches.push(EVAL_OUTPUTS.target);
  return { bytes: withOutputs, sums, predInGraph, targetInGraph, fetches };
}

// ---- the loop -----------------------------------------------------------------------------------

function samePath(a: string, b: string): boolean {
  return path.resolve(a) === path.resolve(b);
}

/**
 * Evaluates the focal loss of `options.pred` against `options.target`; see the top of this file.
 * User mistakes (files, shapes, data, options) are `UsageError` / `DataError`s; on any failure an
 * `out` file is left as it was.
 */
export async function evaluate(options: EvaluateOptions): Promise<EvaluateResult> {
  const label = options.label ?? plain;
  if (options.model !== undefined && options.loss !== undefined) {
    throw new UsageError('give a model file or loss options, not both');
  }
  const batchSize = options.batchSize ?? DEFAULT_BATCH_ELEMENTS;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new UsageError(`batch size must be a positive integer, got ${batchSize}`);
  const threads = options.threads ?? DEFAULT_THREADS();
  if (!Number.isSafeInteger(threads) || threads < 1) throw new UsageError(`threads must be a positive integer, got ${threads}`);
  if (options.out !== undefined) {
    for (const [file, what] of [
      [options.pred, 'predictions'],
      [options.target, 'targets'],
    ] as const) {
      if (samePath(options.out, file)) throw new UsageError(`${options.out}: is also the ${what} file; write the losses elsewhere`);
    }
  }

  const predReader = NpyReader.open(options.pred);
  let targetReader: NpyReader | undefined;
  let session: Session | undefined;
  let pool: EvalPool | undefined;
  let writer: NpyWriter | undefined;
  try {
    targetReader = NpyReader.open(options.target);
    const pred = predReader.header;
    const target = targetReader.header;
    const { plan, layout } =
      options.model !== undefined ? planFromFile(options.model, pred, target, options.out) : planFromOptions(options.loss ?? {}, pred, target, label);
    const o = plan.options;
    // Whole rows; and whole blocks of the graph's sums (eval-outputs.ts) where that takes off less
    // than 1/16 of the batch (otherwise the blocks tile it by a divisor of its rows).
    const blockRows = targetBlockRows(layout.lossRow);
    const wholeRows = Math.max(1, Math.floor(batchSize / layout.predRow));
    const batchRows = wholeRows >= 16 * blockRows ? wholeRows - (wholeRows % blockRows) : wholeRows;

    const batchCount = Math.ceil(layout.rows / batchRows);
    const wantLoss = options.out !== undefined;
    // On the CPU, with more than one thread and enough batches (MIN_POOL_BATCHES): this thread's
    // session of one thread and worker threads' (pool.ts says why), each reading and running whole
    // batches. The workers start first, while this thread builds the graph and loads its session,
    // and join as they have loaded theirs (~0.05 s from here). Otherwise (CUDA, one thread, a
    // small file, `out`) one session here of every thread, reading the next batch while this one
    // runs. Not with `out`: the per-element losses are written here in order, and an interrupted
    // write exits at once, which a running worker cannot survive.
    const workers =
      (options.ep ?? 'cpu') === 'cpu' && !wantLoss && threads > 1 && batchCount >= MIN_POOL_BATCHES ? Math.min(threads - 1, MAX_WORKERS) : 0;
    // Each worker is a whole V8 isolate with its own onnxruntime (measured: ~20 MB more peak memory
    // each); past MAX_WORKERS, the threads are shared out as intra-op threads instead.
    if (workers > 0) pool = EvalPool.start(workers, batchCount);

    const graph = await asFileError(plan.modelFile, 'cannot be evaluated', () =>
      evalGraph(plan.build(), o, plan.graphReduction, pred, target, plan.predType, plan.targetType),
    );
    const spec: BatchSpec = {
      options: o,
      layout,
      pred,
      target,
      predType: plan.predType,
      targetType: plan.targetType,
      graphReduction: plan.graphReduction,
      graph,
      modelFile: plan.modelFile,
      batchRows,
    };
    if (pool) pool.setUp({ spec, graphOptimization: options.graphOptimization, threads: Math.max(1, Math.floor((threads - 1) / workers)) });
    const t0 = performance.now();
    session = await asFileError(plan.modelFile, 'onnxruntime cannot load it', () =>
      createSession(graph.bytes, { ...options, threads: workers > 0 ? 1 : options.threads, modelName: plan.modelFile }),
    );
    if (pool) {
      const runner = new BatchRunner(spec, session);
      const pr = predReader;
      const tr = targetReader;
      pool.runHereToo((k) => runner.runAt(k, pr, tr));
    }
    const loadSeconds = (performance.now() - t0) / 1000;
    if (options.out !== undefined) writer = NpyWriter.create(options.out, o.dtype, layout.outShape);

    const acc = new Accumulator(plan.graphReduction, o.task === 'multilabel' ? layout.lossRow : undefined);
    const started = performance.now();
    let rowsDone = 0;
    let batches = 0;
    let appending: Promise<void> | undefined;

    /** Adds a batch's outcome, in batch order: the sums, the per-element losses to `out`, progress. */
    const consume = async (outcome: BatchOutcome): Promise<void> => {
      if (outcome.sum !== undefined) acc.addSums(outcome.sum, outcome.labelSums);
      else acc.add(outcome.loss as HostTensor, outcome.rows * layout.lossRow);
      if (writer) {
        await appending;
        // Awaited before the next append (or at the end); a failure arriving in between must not
        // be an unhandled rejection.
        const append = writer.append((outcome.loss as HostTensor).data as NpyTypedArray);
        append.catch(() => undefined);
        appending = append;
      }
      rowsDone += outcome.rows;
      batches++;
      options.onProgress?.({ done: rowsDone * layout.predRow, total: pred.count, seconds: (performance.now() - started) / 1000 });
    };

    if (pool) {
      try {
        for await (const outcome of pool.outcomes()) await consume(outcome);
        await appending;
      } finally {
        await Promise.allSettled([appending]);
      }
    } else {
      const runner = new BatchRunner(spec, session);
      // Per-element losses go straight into two reused arrays (onnxruntime writes them there):
      // batch k uses array k % 2, so the append of batch k - 1 may still be in flight while k runs.
      const lossBatch = Math.min(batchRows, layout.rows) * layout.lossRow;
      const lossBuffers =
        plan.graphReduction === 'none' && writer ? [alignedTypedArrayFor(o.dtype, lossBatch), alignedTypedArrayFor(o.dtype, lossBatch)] : undefined;
      const predBatches = predReader.batches(batchRows * layout.predRow);
      const targetBatches = targetReader.batches(batchRows * layout.targetRow);
      let pending: [Promise<IteratorResult<{ start: number; data: NpyTypedArray }>>, Promise<IteratorResult<{ start: number; data: NpyTypedArray }>>] | undefined;
      const next = (): typeof pending => {
        const pair: NonNullable<typeof pending> = [predBatches.next(), targetBatches.next()];
        for (const x of pair) x.catch(() => undefined); // awaited below; never left unhandled
        return pair;
      };
      try {
        pending = next();
        let [p, t] = await Promise.all(pending!);
        while (!p.done && !t.done) {
          pending = next(); // reads batch k+1 into the other buffers while batch k runs
          const into = lossBuffers?.[batches % 2].subarray(0, p.value.data.length / layout.predRow * layout.lossRow);
          await consume(await runner.run(p.value.data, t.value.data, p.value.start, t.value.start, into));
          [p, t] = await Promise.all(pending!);
        }
        pending = undefined;
        if (!p.done || !t.done) throw new Error('prediction and target batches are out of step');
        await appending;
      } finally {
        if (pending) await Promise.allSettled(pending);
        await Promise.allSettled([appending]);
        await Promise.allSettled([predBatches.return(), targetBatches.return()]);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    if (writer) await writer.commit();

    const count = layout.rows * layout.lossRow;
    const sum = acc.total;
    const mean = sum / count;
    let perLabel: number[] | undefined;
    if (acc.labelSums && plan.graphReduction === 'none') {
      perLabel = Array.from(acc.labelSums, (s) => (o.reduction === 'sum' ? s : s / layout.rows));
    }
    return {
      loss: o.reduction === 'sum' ? sum : mean,
      reduction: o.reduction,
      mean,
      sum,
      count,
      perLabel,
      elements: pred.count,
      rows: layout.rows,
      batches,
      batchRows,
      ep: session.ep,
      sessions: workers + 1,
      seconds,
      loadSeconds,
      elementsPerSecond: seconds > 0 ? pred.count / seconds : Infinity,
      options: o,
      model: plan.modelFile,
      pred: options.pred,
      target: options.target,
      out: options.out,
    };
  } finally {
    writer?.abort();
    // The pool first: its runner here may still be reading a batch from these files.
    await pool?.close();
    predReader.close();
    targetReader?.close();
    await session?.release();
  }
}
