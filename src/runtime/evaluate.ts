/**
 * `evaluate()`: the focal loss of a prediction file against a target file (`.npy`, C order), of
 * any size — a source of the evaluator (evaluator.ts) that reads batches of whole rows through the
 * read-ahead stream (file-batches.ts), so memory is bounded by the batch size. With `out`, the
 * per-element losses stream into an `.npy` (the loss dtype; the pred file's shape for binary and
 * multilabel, [N] for multiclass), renamed into place only when everything succeeded. On the CPU,
 * with more than one thread and many batches, one-thread sessions side by side (pool.ts), each
 * reading and running whole batches (streamFiles).
 *
 * The model: built from loss options, where `dtype` is the prediction file's (float16/32/64) and
 * `targetDtype` the target file's (a float target of another width than pred is converted in JS,
 * exactly: it holds 0 and 1); or a focal-onnx model file (`model`), whose types the files must
 * match.
 *
 * The files' shapes are docs/guide.md's (eval): checked by src/data/rules.ts's checkData, binary files read
 * flat (MONAI's spatialMean then divides by the spatial size of the prediction file's shape:
 * BatchData.inputDims).
 */
import * as path from 'path';
import { performance } from 'perf_hooks';
import { DataError, UsageError } from '../errors';
import { NpyDType, NpyHeader, NpyReader, NpyTypedArray, NpyWriter, alignedTypedArrayFor } from '../io/npy';
import { FocalOptions, Label, LossOptions, TargetDType, normalizeOptions, plain } from '../losses';
import { BatchOutcome, InputSpec, asFileError } from './batch';
import { targetBlockRows } from './eval-outputs';
import { diagnosticsOptions } from '../diagnostics/accumulate';
import { EvalCore, EvaluatorResult, ModelPlan, SourceOptions, checkPerElement, evalSpec, planFromModel, planFromOptions, positiveCount } from './evaluator';
import { checkModelExternalData, loadModelFile, modelFolder } from './model-file';
import { checkData, filePart, isFloatType, lossLayout, product, targetTypeProblem } from '../data/rules';
import { labelAxisProblem, shapeText } from '../losses/shapes';
import { FileBatchReader, FileBatches, batchCount, batchRowsOf, fileBatch, readAhead } from './file-batches';
import { EvalPool } from './pool';
import { DEFAULT_THREADS, SessionOptions } from './session';

/**
 * Default batch: about this many prediction elements (rounded down to whole rows, at least one).
 * Measured end to end (read, check, run, accumulate) on a 2-core CPU over 16M float32 binary
 * elements, best of 5, with the graph sums and checks: 64K 165, 256K 230, 1M 185 million
 * elements/s with 2 threads (165, 200, 135 with 1). Smaller batches pay onnxruntime's per-run
 * overhead, larger ones fall out of the caches; 256K also keeps the buffers at a few MB.
 */
export const DEFAULT_BATCH_ELEMENTS = 1 << 18;

/** At most this many worker sessions besides the caller's (pool.ts); more threads become intra-op threads of each. */
export const MAX_WORKERS = 4;

/**
 * The fewest batches for which a file source starts the worker pool (pool.ts): below it one
 * session of every thread. A worker joins ~60–90 ms after its start (a V8 isolate, the batch code,
 * onnxruntime's binding, its session), while the caller's one-thread session runs batches alone.
 * Measured on 2 idle cores against one session of two threads, pool / one session (whole process,
 * in process; 256K-element batches): 16 batches 1.05, 1.16; 32: 1.05, 1.09; 64: 0.97, 0.99; 128:
 * 0.88, 0.83 (bench/README.md, "The worker pool, back").
 */
export const MIN_POOL_BATCHES = 64;

export interface EvaluateProgress {
  /** Prediction elements done, and in all. */
  readonly done: number;
  readonly total: number;
  /** Seconds since the first batch started. */
  readonly seconds: number;
}

export interface EvaluateOptions extends FileSourceOptions {
  /** The prediction `.npy` file (the targets: `target`). */
  readonly pred: string;
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
  /** Called after every batch. */
  readonly onProgress?: (progress: EvaluateProgress) => void;
}

/** The evaluator's result (evaluator.ts), with the files and the batching. */
export interface EvaluateResult extends FileSourceResult {
  readonly pred: string;
}

// ---- options ------------------------------------------------------------------------------------

/**
 * What a source's files decide of the loss options, with one normalization of the rest (the
 * preset, the flags) to learn the task: the target type (`float`: the predictions' own; checked
 * against the task's rules, src/data/rules.ts) and, for a weight file with no weight kind given (or 'none',
 * as the CLI's normalized flags say), the kind its size says: one weight per prediction is per
 * element where the losses are (multilabel without labelMean), anything else per sample.
 * `counts`: the predictions' count and rows under those options.
 */
export function lossFromFiles(loss: LossOptions, target: NpyHeader, weight: NpyHeader | undefined, label: Label, counts: (o: FocalOptions) => { predictions: number; perRow: number }): LossOptions {
  const weightGiven = loss.weight !== undefined && loss.weight !== 'none';
  const { targetDtype: _t, ...rest } = loss;
  const o = normalizeOptions({ ...rest, ...(weight && !weightGiven ? { weight: 'sample' as const } : {}), asFunction: false, withGrad: false }, label);
  const t = target.dtype;
  const problem = targetTypeProblem(o, t);
  if (problem) throw new DataError(`${target.path}: dtype ${target.descr} (${t}); ${problem}`);
  // Float targets: the predictions' float type, or the float type asked for (other widths are converted).
  const given = loss.targetDtype;
  const floatGiven = given !== undefined && (given === 'float' || isFloatType(given));
  const targetDtype: LossOptions['targetDtype'] = isFloatType(t) ? (floatGiven ? given : 'float') : (t as TargetDType);
  if (given !== undefined && (isFloatType(t) ? !floatGiven : given !== t)) {
    throw new UsageError(`${label('targetDtype')} ${given} does not match ${target.path}, which holds ${t}; drop ${label('targetDtype')} (the target file decides)`);
  }
  let kind = o.weight;
  if (weight && !weightGiven) {
    const { predictions, perRow } = counts(o);
    const perElement = o.task === 'multilabel' && !o.labelMean && weight.count === predictions && weight.count !== perRow;
    kind = perElement ? 'element' : 'sample';
  }
  return { ...loss, targetDtype, weight: kind };
}

/** Loss options for a built model: the prediction file decides `dtype`, the others as lossFromFiles says. */
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
  // Rows: all axes but the label axis (the last, or labelAxis).
  const resolved = lossFromFiles({ ...loss, dtype: pred.dtype }, target, weight, label, (o) => ({ predictions: pred.count, perRow: pred.shape.length >= 2 && !labelAxisProblem(o, pred.shape.length) ? lossLayout(o, pred.shape).rows : pred.count }));
  return normalizeOptions({ ...resolved, asFunction: false, withGrad: false }, label);
}

// ---- shapes -------------------------------------------------------------------------------------

/**
 * How the files split into rows — what a batch holds whole: one element of a binary file
 * (flattened, as the seed does; perImage: whole images), else one item of the files' first axis
 * ([L] labels, [K, L] boxes of labels, [C] classes, [C, H, W] a channel-first image) — and into
 * per-element losses (the rows, and FileRun's lossRow and outShape, the latter `out`'s shape).
 */
interface Rows extends Pick<FileRun, 'lossRow' | 'outShape'> {
  /** Rows in the files. */
  readonly rows: number;
  /** The dims of one row of predictions: [] (a binary element) or the file's shape after the first axis. */
  readonly rowDims: readonly number[];
  /** Binary files read flat: the file's shape, which the batches' dims ([n]) do not show (BatchData.inputDims). */
  readonly inputDims?: readonly number[];
}

function rowsFor(plan: ModelPlan, pred: NpyHeader, target: NpyHeader, weight: NpyHeader | undefined, label: Label): Rows {
  const o = plan.options;
  const ps = pred.shape;
  // Binary targets are read flat, as the predictions: their count decides, not their shape.
  const whole = checkData(o, { pred: { where: pred.path, what: '' }, dims: ps, target: { ...filePart(target), shaped: o.task !== 'binary' }, ...(weight ? { weight: filePart(weight) } : {}), fixed: plan.fixed, label });
  if (pred.count === 0) throw new DataError(`${pred.path}: holds no elements (shape ${shapeText(ps)}); nothing to evaluate`);
  const rows = o.task === 'binary' && !o.perImage ? pred.count : ps[0];
  if (o.task === 'binary' && !o.perImage) return { rows, rowDims: [], lossRow: 1, outShape: ps, inputDims: ps };
  return { rows, rowDims: ps.slice(1), lossRow: product(whole.lossDims.slice(1)), outShape: o.task === 'binary' ? ps : whole.lossDims };
}

// ---- the model ----------------------------------------------------------------------------------

function planFromFile(file: string, pred: NpyHeader, target: NpyHeader, label: Label): ModelPlan {
  const m = loadModelFile(file);
  const plan = planFromModel(m.bytes, m.info.graph, m.options, file, undefined, label);
  checkModelExternalData(m);
  // planFromModel without an output gives the input 'pred' (or refuses the model).
  const { pred: p, target: t } = plan.inputs as { pred: InputSpec; target: InputSpec };
  if (pred.dtype !== p.dtype) {
    throw new DataError(`${pred.path}: dtype ${pred.dtype}, but ${file} takes ${p.dtype} predictions; convert the file or export a ${pred.dtype} model (${label('dtype')} ${pred.dtype})`);
  }
  if (target.dtype !== t.dtype && !(isFloatType(target.dtype) && isFloatType(t.dtype))) {
    throw new DataError(`${target.path}: dtype ${target.dtype}, but ${file} takes ${t.dtype} targets; convert the file or use a model made with ${label('targetDtype')} ${target.dtype}`);
  }
  return plan;
}

/**
 * Where the file sources' outcomes go: each batch's outcome accumulated by the core in batch order,
 * its per-element losses appended to `out` (written by onnxruntime straight into two reused arrays:
 * batch k uses array k % 2, so the append of batch k − 1 may still be in flight while k runs), and
 * progress.
 */
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

// ---- the loop ------------------------------------------------------------------------------------

/** What both file sources (`evaluate`, `evaluateNetwork`) take besides their inputs and model. */
export interface FileSourceOptions extends SourceOptions {
  /** The targets (`.npy`). */
  readonly target: string;
  /** Weights (`.npy`), for a loss whose model takes a `weight` input: one per prediction or one per row. */
  readonly weight?: string;
  /** Where to write the per-element losses (`.npy`, the loss dtype); needs a model of reduction none. */
  readonly out?: string;
}

/** What both file sources give besides the evaluator's result. */
export interface FileSourceResult extends EvaluatorResult {
  /** Rows per batch (the last may have fewer). */
  readonly batchRows: number;
  readonly target: string;
  readonly weight?: string;
  readonly out?: string;
}

/** A file source's files, opened and checked, as the stream reads them into the core (streamFiles). */
export interface FileRun {
  /**
   * The model, whose graph additions (evalSpec: ~10 ms and more) streamFiles builds after it has
   * started the pool's workers, whose own start overlaps it; the type the targets come in; what to
   * do when `out` meets a model that reduces (checkPerElement's hint).
   */
  readonly plan: ModelPlan;
  readonly targetType: NpyDType;
  readonly outHint: string;
  /** The shape of `out`, the per-element losses (of the loss dtype). */
  readonly outShape: readonly number[];
  /** How the files split into batches, and their readers in `files`' order (each file's rowElements: its count over the rows). */
  readonly batches: Omit<FileBatches, 'files'>;
  readonly readers: readonly NpyReader[];
  /** Per-element losses per row. */
  readonly lossRow: number;
  readonly progress: (rows: number, seconds: number) => void;
}

/**
 * The worker sessions (pool.ts) a file run starts besides the caller's: on the CPU, with more than
 * one thread and at least MIN_POOL_BATCHES batches, min(threads − 1, MAX_WORKERS); none with `out`
 * (the per-element losses are written here in order, and an interrupted write exits at once, which
 * a running worker cannot survive), with diagnostics (their accumulator takes every batch's
 * per-element losses), on CUDA, with one thread, or for fewer batches.
 */
export function poolWorkers(options: FileSourceOptions, batches: number): number {
  const threads = options.threads ?? DEFAULT_THREADS();
  if ((options.ep ?? 'cpu') !== 'cpu' || options.out !== undefined || diagnosticsOptions(options.diagnostics) || threads < 2 || batches < MIN_POOL_BATCHES) return 0;
  return Math.min(threads - 1, MAX_WORKERS);
}

/**
 * The loop every file source shares: `setup` opens the files (with `open`) and checks them, then
 * their batches run through one core into one sink (OutcomeSink): read ahead by one stream into one
 * session, or (poolWorkers) read by index and run by one-thread sessions side by side — the
 * caller's and its workers' (pool.ts) —, their outcomes taken in batch order. On any failure `out`
 * is left as it was; the workers, the readers and the session are closed either way.
 */
export async function streamFiles(options: FileSourceOptions, inputs: readonly (readonly [string | undefined, string])[], setup: (open: (file: string) => NpyReader) => FileRun | Promise<FileRun>): Promise<FileSourceResult> {
  checkOutPath(options.out, [...inputs, [options.target, 'targets'], [options.weight, 'weights']]);
  const readers: NpyReader[] = [];
  let core: EvalCore | undefined;
  let writer: NpyWriter | undefined;
  let pool: EvalPool | undefined;
  try {
    const run = await setup((file) => {
      const r = NpyReader.open(file);
      readers.push(r);
      return r;
    });
    const { plan } = run;
    const label = options.label ?? plain;
    // `out` is written batch by batch: not the normalized loss's, divided by the whole input's Σ F at the end.
    if (plan.options.normalized && options.out !== undefined) throw new UsageError(`${label('normalized')} divides by the whole input's Σ(1 − p_t)^γ, known only at the end; ${label('out')} would write the losses before that division: drop one of them`);
    if (options.out !== undefined) checkPerElement(plan, `${label('out')} needs`, run.outHint);
    // A weight file and the model's `weight` input come together.
    const model = plan.modelFile ?? 'the loss';
    if (plan.inputs.weight && options.weight === undefined) throw new UsageError(`${model}: takes weights (an input 'weight'); give them with ${label('weight')}, a .npy file of one weight per prediction or per row`);
    if (options.weight !== undefined && !plan.inputs.weight) throw new UsageError(`${options.weight}: weights given, but ${model} takes none (no input 'weight')`);
    const l: FileBatches = { ...run.batches, files: run.readers.map(({ header: h }) => ({ path: h.path, dtype: h.dtype, shape: h.shape, rowElements: h.count / run.batches.rows })) };
    // A model file's side files resolve from its folder, whatever the working directory.
    const session: SessionOptions = { spinning: false, ...options, ...(plan.modelFile !== undefined ? { modelName: plan.modelFile, externalDataDir: modelFolder(plan.modelFile) } : {}) };
    const workers = poolWorkers(options, batchCount(l));
    // The workers start while this thread builds the graph, and load their sessions while it loads its own (pool.ts).
    if (workers > 0) pool = EvalPool.start(workers, batchCount(l));
    const spec = await asFileError(plan.modelFile, 'cannot be evaluated', () => evalSpec(plan, run.targetType, false, options.diagnostics, options.label));
    if (pool) {
      const { graphOptimization, spinning, externalDataDir } = session;
      const threads = Math.max(1, Math.floor(((options.threads ?? DEFAULT_THREADS()) - 1) / workers));
      pool.setUp({ spec, batches: l, session: { threads, graphOptimization, spinning, externalDataDir } });
    }
    core = await EvalCore.open(spec, workers > 0 ? { ...session, threads: 1 } : session);
    const lossType = spec.options.dtype;
    if (options.out !== undefined) writer = NpyWriter.create(options.out, lossType, run.outShape);
    const sink = new OutcomeSink(core, writer, lossType, Math.min(l.batchRows, l.rows) * run.lossRow, run.progress);
    const ev = core;
    try {
      if (pool) {
        const here = new FileBatchReader(l, run.readers);
        pool.runHereToo((k) => ev.run(here.read(k)));
        let k = 0;
        for await (const outcome of pool.outcomes()) await sink.take(outcome, batchRowsOf(l, k++));
      } else {
        let start = 0;
        for await (const data of readAhead(run.readers.map((reader, i) => ({ reader, rowElements: l.files[i].rowElements })), l.batchRows)) {
          const n = Math.min(l.batchRows, l.rows - start);
          await sink.take(await ev.run(fileBatch(l, data, start, n, sink.into(n * run.lossRow))), n);
          start += n;
        }
      }
      await sink.finish();
    } finally {
      await sink.settle();
    }
    return {
      ...core.result({ seconds: sink.seconds(), sessions: workers + 1 }),
      batchRows: l.batchRows,
      target: options.target,
      ...(options.weight !== undefined ? { weight: options.weight } : {}),
      ...(options.out !== undefined ? { out: options.out } : {}),
    };
  } finally {
    writer?.abort();
    // The pool first: the runner here may still be reading a batch from these files.
    await pool?.close();
    for (const r of readers) r.close();
    await core?.release();
  }
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
  const batchSize = positiveCount('batch size', options.batchSize ?? DEFAULT_BATCH_ELEMENTS);
  positiveCount('threads', options.threads);
  const result = await streamFiles(options, [[options.pred, 'predictions']], async (open) => {
    const readers = [options.pred, options.target, ...(options.weight !== undefined ? [options.weight] : [])].map(open);
    const [pred, target, weight] = readers.map((r) => r.header);
    const plan = options.model !== undefined ? planFromFile(options.model, pred, target, label) : planFromOptions(resolveBuildOptions(options.loss ?? {}, pred, target, label, weight), label, pred.shape.length);
    const layout = rowsFor(plan, pred, target, weight, label);
    // Whole rows; and whole blocks of the graph's sums (eval-outputs.ts) where that takes off less
    // than 1/16 of the batch (otherwise the blocks tile it by a divisor of its rows).
    const rowElements = pred.count / layout.rows;
    const blockRows = targetBlockRows(layout.lossRow);
    const wholeRows = Math.max(1, Math.floor(batchSize / rowElements));
    const batchRows = wholeRows >= 16 * blockRows ? wholeRows - (wholeRows % blockRows) : wholeRows;
    return {
      plan,
      targetType: target.dtype,
      outHint: `use a model exported with ${label('reduction')} none, or loss options instead of ${label('model')}`,
      outShape: layout.outShape,
      batches: { rows: layout.rows, batchRows, rowDims: layout.rowDims, pred: 0, target: 1, ...(weight ? { weight: 2 } : {}), ...(layout.inputDims ? { inputDims: layout.inputDims } : {}) },
      readers,
      lossRow: layout.lossRow,
      progress: (done, seconds) => options.onProgress?.({ done: Math.min(done, layout.rows) * rowElements, total: pred.count, seconds }),
    };
  });
  return { ...result, pred: options.pred, out: options.out };
}
