/**
 * `evaluate()`: the focal loss of a prediction file against a target file (`.npy`, C order), of
 * any size — a reader that feeds the evaluator (evaluator.ts: the model, its graph additions, the
 * data checks, the float64 accumulation) batches of whole rows, so memory is bounded by the batch
 * size.
 *
 * The model: built from loss options, where `dtype` is the prediction file's (float16/32/64) and
 * `targetDtype` the target file's (a float target of another width than pred is converted in JS,
 * exactly: it holds 0 and 1); or a focal-onnx model file (`model`), whose types the files must
 * match.
 *
 * Shapes: binary — any shapes with the same element count (flattened, as the seed does);
 * multilabel — pred and target alike, [N, L] or of higher rank with the labels on the last axis;
 * multiclass — pred [N, C], target [N]. A weight file (for a loss with a `weight` input) holds one
 * weight per prediction, or one per row.
 *
 * Reading overlaps computing: batch k+1 is read (on libuv's thread pool, into the other of two
 * reused page-aligned buffers, see NpyReader.batches) while batch k is checked and run. File
 * buffers are wrapped in tensors without copying. On the CPU, for large files, one-thread
 * sessions side by side (pool.ts) each read and run whole batches, and this evaluator accumulates
 * their outcomes in order. With `out`, the per-element losses stream into an `.npy` (the loss
 * dtype; the pred file's shape for binary and multilabel, [N] for multiclass) through a temporary
 * file that is renamed into place only when everything succeeded.
 */
import * as path from 'path';
import { performance } from 'perf_hooks';
import { DataError, UsageError } from '../errors';
import { NpyDType, NpyHeader, NpyReader, NpyTypedArray, NpyWriter, alignedTypedArrayFor } from '../io/npy';
import { FocalOptions, Label, LossOptions, TargetDType, normalizeOptions, rowSource } from '../losses';
import { BatchOutcome, InputSpec, asFileError } from './batch';
import { targetBlockRows } from './eval-outputs';
import { EvalCore, EvaluatorResult, ModelPlan, checkLabelAxis, evalSpec, planFromModel, planFromOptions } from './evaluator';
import { FileBatchReader, FileLayout, FileName, FileStream, fileBatch, fileStreams } from './file-batches';
import { loadModelFile } from './model-file';
import { EvalPool } from './pool';
import { DEFAULT_THREADS, HostTensor, SessionOptions } from './session';

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
  /** Weights (`.npy`), for a loss whose model takes a `weight` input: one per prediction or one per row. */
  readonly weight?: string;
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

/** The evaluator's result (evaluator.ts), with the files and the batching. */
export interface EvaluateResult extends EvaluatorResult {
  /** Rows per batch (the last may have fewer). */
  readonly batchRows: number;
  readonly pred: string;
  readonly target: string;
  readonly weight?: string;
  readonly out?: string;
}

const plain: Label = (o) => o;
const FLOAT_TYPES: readonly NpyDType[] = ['float16', 'float32', 'float64'];
const isFloatType = (d: string): d is 'float16' | 'float32' | 'float64' => (FLOAT_TYPES as readonly string[]).includes(d);
const shapeText = (s: readonly (number | string | null)[]): string => `[${s.map((d) => d ?? '?').join(', ')}]`;
const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

// ---- options ------------------------------------------------------------------------------------

/**
 * Loss options for a built model: the files decide `dtype` and `targetDtype`, and a weight file's
 * shape the weight input (`weight`: one per row is `sample`, one per per-element loss `element`).
 */
function resolveBuildOptions(loss: LossOptions, pred: NpyHeader, target: NpyHeader, label: Label, weight?: NpyHeader): FocalOptions {
  if (!isFloatType(pred.dtype)) {
    throw new DataError(`${pred.path}: dtype ${pred.descr} (${pred.dtype}); predictions must be float16, float32 or float64`);
  }
  if (loss.dtype !== undefined && loss.dtype !== pred.dtype) {
    throw new UsageError(
      `${label('dtype')} ${loss.dtype} does not match ${pred.path}, which holds ${pred.dtype}; ` +
        `drop ${label('dtype')} (the prediction file decides) or convert the file`,
    );
  }
  // The preset decides the task, the target format and soft targets where the flags do not.
  const preset = loss.like ? normalizeOptions({ like: loss.like, task: loss.task, targetFormat: loss.targetFormat, targets: loss.targets }, label) : undefined;
  const task = loss.task ?? preset?.task ?? 'binary';
  const index = task === 'multilabel' && (loss.targetFormat ?? preset?.targetFormat) === 'index';
  const soft = (loss.targets ?? preset?.targets) === 'soft';
  const t = target.dtype;
  let targetDtype: TargetDType;
  if (task === 'multiclass' && soft) {
    if (!isFloatType(t)) throw new DataError(`${target.path}: dtype ${target.descr} (${t}); soft multiclass targets are rows of class probabilities: save them as float`);
    targetDtype = 'float';
  } else if (task === 'multiclass' || index) {
    if (t !== 'int64' && t !== 'int32') {
      throw new DataError(`${target.path}: dtype ${target.descr} (${t}); ${index ? 'index' : 'multiclass'} targets are class indices: save them as int64 or int32`);
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
  const base = { ...loss, dtype: pred.dtype, targetDtype, asFunction: false, withGrad: false };
  // A weight file with no weight kind given (or 'none', as the CLI's normalized flags say): its
  // shape decides. One weight per prediction is per element where the losses are (multilabel
  // without labelMean); anything else (one per row; binary, multiclass) per sample. rowsFor then
  // checks the count.
  if (!weight || (loss.weight !== undefined && loss.weight !== 'none')) return normalizeOptions(base, label);
  const o = normalizeOptions({ ...base, weight: 'sample' }, label);
  const perRow = pred.count / (pred.shape[pred.shape.length - 1] || 1);
  const perElement = o.task === 'multilabel' && !o.labelMean && weight.count === pred.count && weight.count !== perRow;
  return perElement ? normalizeOptions({ ...o, weight: 'element' }, label) : o;
}

// ---- shapes -------------------------------------------------------------------------------------


/** How the files split into rows (file-batches.ts), before the batch size is chosen. */
type Rows = Omit<FileLayout, 'batchRows'>;

function rowsFor(o: FocalOptions, pred: NpyHeader, target: NpyHeader, weight: NpyHeader | undefined, label: Label): Rows {
  const ps = pred.shape;
  const ts = target.shape;
  checkLabelAxis(o, ps, pred.path, label);
  let rows: Omit<Rows, 'weight'>;
  switch (o.task) {
    case 'binary':
      if (pred.count !== target.count) {
        throw new DataError(
          `${target.path}: holds ${target.count} elements (shape ${shapeText(ts)}) but ${pred.path} holds ${pred.count} ` +
            `(shape ${shapeText(ps)}); binary targets need one per prediction`,
        );
      }
      rows = { rows: pred.count, rowDims: [], lossRow: 1, outShape: ps, pred: { header: pred, rowElements: 1 }, target: { header: target, rowElements: 1 } };
      break;
    case 'multilabel': {
      if (ps.length < 2) throw new DataError(`${pred.path}: shape ${shapeText(ps)}; multilabel predictions must be [N, L] (or of higher rank, labels on the last axis)`);
      if (o.targetFormat === 'index') {
        const want = ps.slice(0, -1);
        if (ts.length !== want.length || ts.some((d, i) => d !== want[i])) {
          throw new DataError(`${target.path}: shape ${shapeText(ts)}; index targets must be ${shapeText(want)}, one class index in [0, ${ps[ps.length - 1]}] per row of ${pred.path} (shape ${shapeText(ps)})`);
        }
        const row = product(ps.slice(1));
        rows = { rows: ps[0], rowDims: ps.slice(1), lossRow: row, outShape: ps, pred: { header: pred, rowElements: row }, target: { header: target, rowElements: row / ps[ps.length - 1] } };
        break;
      }
      if (ts.length !== ps.length || ts.some((d, i) => d !== ps[i])) {
        throw new DataError(`${target.path}: shape ${shapeText(ts)} does not match ${pred.path}, shape ${shapeText(ps)}; multilabel targets must be shaped like the predictions`);
      }
      const row = product(ps.slice(1));
      // labelMean: one loss per row of labels (the label axis averaged away).
      const lossRow = o.labelMean ? row / ps[ps.length - 1] : row;
      const outShape = o.labelMean ? ps.slice(0, -1) : ps;
      rows = { rows: ps[0], rowDims: ps.slice(1), lossRow, outShape, pred: { header: pred, rowElements: row }, target: { header: target, rowElements: row } };
      break;
    }
    case 'multiclass':
      if (o.targets === 'soft') {
        if (ps.length !== 2) throw new DataError(`${pred.path}: shape ${shapeText(ps)}; multiclass predictions must be [N, C]`);
        if (ts.length !== 2 || ts[0] !== ps[0] || ts[1] !== ps[1]) {
          throw new DataError(`${target.path}: shape ${shapeText(ts)}; soft multiclass targets must be [N, C] = ${shapeText(ps)}, a row of class probabilities per row of ${pred.path}`);
        }
        rows = { rows: ps[0], rowDims: [ps[1]], lossRow: 1, outShape: [ps[0]], pred: { header: pred, rowElements: ps[1] }, target: { header: target, rowElements: ps[1] } };
        break;
      }
      if (ps.length !== 2) throw new DataError(`${pred.path}: shape ${shapeText(ps)}; multiclass predictions must be [N, C]`);
      if (ts.length !== 1 || ts[0] !== ps[0]) {
        throw new DataError(
          `${target.path}: shape ${shapeText(ts)}; multiclass targets must be [N] = [${ps[0]}], one class index per row of ${pred.path} ` +
            `(shape ${shapeText(ps)})${ts.length === 2 && ts[0] === ps[0] && ts[1] === 1 ? '; save t.reshape(-1)' : ''}`,
        );
      }
      rows = { rows: ps[0], rowDims: [ps[1]], lossRow: 1, outShape: [ps[0]], pred: { header: pred, rowElements: ps[1] }, target: { header: target, rowElements: 1 } };
      break;
  }
  if (pred.count === 0) throw new DataError(`${pred.path}: holds no elements (shape ${shapeText(ps)}); nothing to evaluate`);
  if (!weight) return rows;
  // One weight per prediction, or one per row (all axes but the last).
  const perRow = o.task === 'binary' ? pred.count : product(ps.slice(0, -1));
  let w: FileStream;
  if (weight.count === pred.count) w = { header: weight, rowElements: rows.pred.rowElements };
  else if (weight.count === perRow) w = { header: weight, rowElements: rows.pred.rowElements / ps[ps.length - 1] };
  else {
    throw new DataError(
      `${weight.path}: holds ${weight.count} elements (shape ${shapeText(weight.shape)}); expected one weight per prediction (${pred.count}) ` +
        `or one per row (${perRow}) of ${pred.path} (shape ${shapeText(ps)})`,
    );
  }
  if (!isFloatType(weight.dtype)) throw new DataError(`${weight.path}: dtype ${weight.descr} (${weight.dtype}); weights must be float16, float32 or float64`);
  return { ...rows, weight: w };
}

// ---- the model ----------------------------------------------------------------------------------

function planFromFile(file: string, pred: NpyHeader, target: NpyHeader, out: string | undefined): ModelPlan {
  const m = loadModelFile(file);
  const plan = planFromModel(m.bytes, m.info, m.options, file);
  const o = plan.options;
  // planFromModel without an output gives the input 'pred' (or refuses the model).
  const { pred: p, target: t } = plan.inputs as { pred: InputSpec; target: InputSpec };
  if (pred.dtype !== p.dtype) {
    throw new DataError(`${pred.path}: dtype ${pred.dtype}, but ${file} takes ${p.dtype} predictions; convert the file or export a ${pred.dtype} model (--dtype ${pred.dtype})`);
  }
  if (target.dtype !== t.dtype && !(isFloatType(target.dtype) && isFloatType(t.dtype))) {
    throw new DataError(`${target.path}: dtype ${target.dtype}, but ${file} takes ${t.dtype} targets; convert the file or export a model with --target-dtype ${target.dtype}`);
  }
  if (out !== undefined && o.reduction !== 'none') {
    throw new UsageError(
      `--out needs the per-element losses, but ${file} has reduction ${o.reduction}; ` +
        'use a model exported with --reduction none, or the loss flags instead of --model',
    );
  }
  return plan;
}

/** Checks the files' row length against a fixed label / class count of the model (a per-label α, or a model file's pred input). */
function checkModelRow(plan: ModelPlan, pred: NpyHeader, label: Label): void {
  const o = plan.options;
  if (o.task === 'binary' || plan.fixedRow === undefined) return;
  const have = pred.shape[pred.shape.length - 1];
  if (have === plan.fixedRow) return;
  const what = o.task === 'multilabel' ? 'labels' : 'classes';
  if (plan.modelFile !== undefined) throw new DataError(`${pred.path}: has ${have} ${what} (shape ${shapeText(pred.shape)}) but ${plan.modelFile} is for ${plan.fixedRow} ${what}`);
  throw new UsageError(`${rowSource(o, label)?.text ?? `the loss is for ${plan.fixedRow} ${what}`}, but ${pred.path} has ${have} ${what} (shape ${shapeText(pred.shape)})`);
}

// ---- the loop -----------------------------------------------------------------------------------

function samePath(a: string, b: string): boolean {
  return path.resolve(a) === path.resolve(b);
}

type Pending = Promise<IteratorResult<{ start: number; data: NpyTypedArray }>>[];

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
      [options.weight, 'weights'],
    ] as const) {
      if (file !== undefined && samePath(options.out, file)) throw new UsageError(`${options.out}: is also the ${what} file; write the losses elsewhere`);
    }
  }

  const readers: Partial<Record<FileName, NpyReader>> = {};
  let core: EvalCore | undefined;
  let pool: EvalPool | undefined;
  let writer: NpyWriter | undefined;
  try {
    const pred = (readers.pred = NpyReader.open(options.pred)).header;
    const target = (readers.target = NpyReader.open(options.target)).header;
    const weight = options.weight !== undefined ? (readers.weight = NpyReader.open(options.weight)).header : undefined;
    const plan =
      options.model !== undefined ? planFromFile(options.model, pred, target, options.out) : planFromOptions(resolveBuildOptions(options.loss ?? {}, pred, target, label, weight), label);
    const o = plan.options;
    if (o.normalized && options.out !== undefined) {
      throw new UsageError(`${label('normalized')} divides by the whole input's Σ(1 − p_t)^γ, known only at the end; --out would write the losses before that division: drop one of them`);
    }
    checkModelRow(plan, pred, label);
    const rows = rowsFor(o, pred, target, weight, label);
    // Whole rows; and whole blocks of the graph's sums (eval-outputs.ts) where that takes off less
    // than 1/16 of the batch (otherwise the blocks tile it by a divisor of its rows).
    const rowElements = rows.pred.rowElements;
    const blockRows = targetBlockRows(rows.lossRow);
    const wholeRows = Math.max(1, Math.floor(batchSize / rowElements));
    const batchRows = wholeRows >= 16 * blockRows ? wholeRows - (wholeRows % blockRows) : wholeRows;
    const layout: FileLayout = { ...rows, batchRows };

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

    const spec = await asFileError(plan.modelFile, 'cannot be evaluated', () => evalSpec(plan, target.dtype));
    if (spec.inputs.weight && !weight) throw new UsageError(`${plan.modelFile ?? 'the loss'}: takes weights (an input 'weight'); give the weight file`);
    if (weight && !spec.inputs.weight) throw new UsageError(`${options.weight}: weights given, but ${plan.modelFile ?? 'the loss'} takes none (no input 'weight')`);
    if (pool) pool.setUp({ spec, layout, graphOptimization: options.graphOptimization, threads: Math.max(1, Math.floor((threads - 1) / workers)) });
    core = await EvalCore.open(spec, { ...options, threads: workers > 0 ? 1 : options.threads });
    if (pool) {
      const here = new FileBatchReader(layout, readers);
      const c = core;
      pool.runHereToo((k) => c.run(here.read(k)));
    }
    if (options.out !== undefined) writer = NpyWriter.create(options.out, o.dtype, layout.outShape);

    const started = performance.now();
    let rowsDone = 0;
    let appending: Promise<void> | undefined;
    const ev = core;

    /** Adds a batch's outcome, in batch order: to the evaluator, the per-element losses to `out`, progress. */
    const consume = async (outcome: BatchOutcome, batchRowCount: number): Promise<void> => {
      ev.accept(outcome);
      if (writer) {
        await appending;
        // Awaited before the next append (or at the end); a failure arriving in between must not
        // be an unhandled rejection.
        const append = writer.append((outcome.loss as HostTensor).data as NpyTypedArray);
        append.catch(() => undefined);
        appending = append;
      }
      rowsDone += batchRowCount;
      options.onProgress?.({ done: Math.min(rowsDone, layout.rows) * rowElements, total: pred.count, seconds: (performance.now() - started) / 1000 });
    };

    if (pool) {
      try {
        let k = 0;
        for await (const outcome of pool.outcomes()) await consume(outcome, Math.min(batchRows, layout.rows - batchRows * k++));
        await appending;
      } finally {
        await Promise.allSettled([appending]);
      }
    } else {
      // Per-element losses go straight into two reused arrays (onnxruntime writes them there):
      // batch k uses array k % 2, so the append of batch k - 1 may still be in flight while k runs.
      const lossBatch = Math.min(batchRows, layout.rows) * layout.lossRow;
      const lossBuffers =
        plan.graphReduction === 'none' && writer ? [alignedTypedArrayFor(o.dtype, lossBatch), alignedTypedArrayFor(o.dtype, lossBatch)] : undefined;
      const streams = fileStreams(layout);
      const iterators = streams.map(([name, s]) => (readers[name] as NpyReader).batches(batchRows * s.rowElements));
      let pending: Pending | undefined;
      const next = (): Pending => {
        const all = iterators.map((it) => it.next());
        for (const x of all) x.catch(() => undefined); // awaited below; never left unhandled
        return all;
      };
      try {
        pending = next();
        let got = await Promise.all(pending);
        let k = 0;
        while (got.every((g) => !g.done)) {
          pending = next(); // reads batch k+1 into the other buffers while batch k runs
          const start = k * batchRows;
          const n = Math.min(batchRows, layout.rows - start);
          const data: Partial<Record<FileName, NpyTypedArray>> = {};
          streams.forEach(([name], i) => (data[name] = (got[i].value as { data: NpyTypedArray }).data));
          const into = lossBuffers?.[k % 2].subarray(0, n * layout.lossRow);
          await consume(await ev.run(fileBatch(layout, start, n, data as Record<FileName, NpyTypedArray>, into)), n);
          k++;
          got = await Promise.all(pending);
        }
        pending = undefined;
        if (!got.every((g) => g.done)) throw new Error('the files\' batches are out of step');
        await appending;
      } finally {
        if (pending) await Promise.allSettled(pending);
        await Promise.allSettled([appending]);
        await Promise.allSettled(iterators.map((it) => it.return()));
      }
    }
    const seconds = (performance.now() - started) / 1000;
    if (writer) await writer.commit();
    return {
      ...core.result({ seconds, sessions: workers + 1 }),
      batchRows,
      pred: options.pred,
      target: options.target,
      ...(options.weight !== undefined ? { weight: options.weight } : {}),
      out: options.out,
    };
  } finally {
    writer?.abort();
    // The pool first: its runner here may still be reading a batch from these files.
    await pool?.close();
    for (const r of Object.values(readers)) r?.close();
    await core?.release();
  }
}
