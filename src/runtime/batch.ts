/**
 * One batch of the evaluator (evaluator.ts): check it, run the model on it, and return what the
 * evaluator accumulates. The same code runs for every source of batches — a caller's arrays
 * (`createEvaluator().add`), prediction files (`evaluate()`), a network's input files
 * (`evaluateNetwork()`); a batch (`BatchData`) is typed arrays with the places their elements are
 * named by in messages.
 */
import { DataError, UsageError } from '../errors';
import { NpyDType, NpyTypedArray, typedArrayFor } from '../io/npy';
import type { FocalOptions, Reduction } from '../losses';
import { f16BitsToF32 } from '../io/float16';
import { BatchPlace, checkBinaryTargets, pairFine, checkClassIndices, checkPredictions, checkSoftTargets, checkWeights, convertFloats, convertTargets, TargetCounts, countTargets } from '../data/checks';
import { EVAL_INPUTS, EVAL_OUTPUTS, blockShape, channelBlockShape } from './eval-blocks';
import { GraphForm, LossLayout, graphAxis, graphDims, isFloatType, lossLayout, product, sameDims, spatialSize } from '../data/rules';
import { HostTensor, Session, SessionOptions, TensorDType, createSession } from './session';
import type { BatchDiagnostics, DiagnosticsOptions } from '../diagnostics/accumulate';

/**
 * The model with the evaluator's outputs (eval-outputs.ts), and which work they take off the JS
 * side: the float64 batch sums (`sums`, for a per-element `loss`), and the data checks as
 * reductions (`predInGraph`, `targetInGraph`). Everything else is checked in JS.
 */
export interface EvalGraph {
  readonly bytes: Uint8Array;
  readonly sums: boolean;
  /** The block shape fed with each batch: tiles of ~256 losses, one block of the whole batch (a small batch's float64 label sums), or none. */
  readonly blocks: 'tiles' | 'one' | false;
  readonly predInGraph: boolean;
  readonly targetInGraph: boolean;
  /** The outputs to fetch besides a pre-allocated `loss`. */
  readonly fetches: readonly string[];
  /**
   * Diagnostics (src/diagnostics): the swept losses' float64 sums (and Σ F; normalized 'label':
   * per label), and the per-element losses of those binned (and of the evaluated loss).
   */
  readonly sweep?: { readonly sums: readonly string[]; readonly focalSums?: readonly string[]; readonly labelSums?: readonly string[]; readonly losses: readonly string[] };
}

/** A model input the evaluator feeds: its element type, and its rank (null: unknown, fed as the batch has it). */
export interface InputSpec {
  readonly dtype: TensorDType;
  readonly rank: number | null;
}

/** Everything a batch runner needs. */
export interface BatchSpec {
  readonly options: FocalOptions;
  /** How messages name the input option (`--input` on the CLI). */
  readonly inputName?: string;
  /** The reduction the graph itself applies to each batch. */
  readonly graphReduction: Reduction;
  readonly graph: EvalGraph;
  /**
   * The graph for small batches (createEvaluator's, up to SMALL_BATCH_ELEMENTS predictions): every
   * loss cast to float64 and summed, no checks in the graph (they cost more than the JS scan
   * there), so that a small batch costs about what the loss graph itself costs.
   */
  readonly small?: EvalGraph;
  /** The model's inputs: `pred` (absent for a network's output, `predOutput`), `target`, and `weight` when the loss takes one. */
  readonly inputs: { readonly pred?: InputSpec; readonly target: InputSpec; readonly weight?: InputSpec };
  /**
   * A network and its loss in one model: the output the loss takes as its predictions (fetched
   * with every batch, checked as predictions are), and the network's inputs (the batch's `feeds`).
   */
  readonly predOutput?: string;
  readonly feedNames?: readonly string[];
  /** Where the model came from (a user's file): its failures are then the user's. */
  readonly modelFile?: string;
  /** The label / class count the model fixes (a per-label α, or its pred input's), if any, and what fixes it as messages say it (src/data/rules.ts's DataCheck). */
  readonly fixed?: { readonly count: number; readonly by: string };
  /** Diagnostics asked for (diagnostics.ts): the graphs then carry the sweep (EvalGraph.sweep). */
  readonly diagnostics?: DiagnosticsOptions;
  /** How a batch's dims are fed to the graph (src/data/rules.ts's graphDims; default `rows`). */
  readonly form?: GraphForm;
  /** The graph's multi-label sums are around a label axis that is not its last (channel-first; eval-outputs.ts's channelBlockShape). */
  readonly channelSums?: boolean;
}

/** One array of a batch: its element type, its elements, and where they sit (for messages). */
export interface BatchArray {
  readonly dtype: NpyDType;
  readonly data: NpyTypedArray;
  readonly place: BatchPlace;
}

/**
 * One batch, as its source holds it. `dims` are the predictions' dims as the caller or the file
 * has them (binary: any; multilabel: [..., L], labels last; multiclass: [N, C]); the targets have
 * the same elements (binary, multilabel) or one per row ([N], multiclass), the weights those of
 * the predictions or one per row. The runner reshapes them to the model's input ranks.
 */
export interface BatchData {
  readonly dims: readonly number[];
  /** The predictions; absent for a network's model (`BatchSpec.predOutput`), whose `feeds` make them. */
  readonly pred?: BatchArray;
  /** A network's inputs, fed as they are. */
  readonly feeds?: Readonly<Record<string, HostTensor>>;
  /** How the network's output elements are named in messages (`batch 3: output 'logits' element …`). */
  readonly predPlace?: BatchPlace;
  readonly target: BatchArray;
  readonly weight?: BatchArray;
  /** Where to write the per-element losses (exactly the batch's count; onnxruntime writes into it). */
  readonly into?: NpyTypedArray;
  /**
   * The dims of the whole input the batch is a run of, where `dims` do not show them: a binary
   * file is read as runs of its elements (`dims` [n]) of its shape ([B, 1, H, W]). MONAI's spatial
   * mean reads its spatial size from these (src/data/rules.ts's spatialSize); elsewhere `dims` are the user's.
   */
  readonly inputDims?: readonly number[];
}

/** What one batch contributes. */
export interface BatchOutcome {
  /** Prediction elements, per-element losses (N·L, N, or the elements), and rows (binary: the elements; else all axes but the label axis). */
  readonly elements: number;
  readonly count: number;
  readonly rows: number;
  /** The batch's float64 sum of per-element losses (graphs with sums), and per label (multilabel). */
  readonly sum?: number;
  /** The batch's Σ F (the normalized loss's denominator, before the whole input's division). */
  readonly focalSum?: number;
  /** normalized 'label': the batch's Σ F per label. */
  readonly labelFocalSums?: Float64Array;
  /** Positive and ignored targets, where the options count them (countsTargets). */
  readonly positives?: number;
  readonly ignored?: number;
  readonly labelSums?: Float64Array;
  /** The `loss` output: per element (wanted for `out`), or the batch's mean / sum (models that reduce). */
  readonly loss?: HostTensor;
  /** The batch's Σ w over its per-element losses (a weight per row counted once per label it weighs), for weighted-mean. */
  readonly weightSum?: number;
  /** weighted-mean's perLabel with a weight per prediction (multilabel): the batch's Σ w per label. */
  readonly labelWeightSums?: Float64Array;
  /** With diagnostics: what the batch gives them. */
  readonly diag?: BatchDiagnostics;
  /** perImage: the batch's images (its first axis); `sum` is then Σ over them of each image's sum over its divisor. */
  readonly images?: number;
  /** spatialMean (MONAI's sum): the batch's spatial size (src/data/rules.ts), or 'all' for rank ≤ 2 (the whole input's mean). */
  readonly spatial?: number | 'all';
}

/**
 * Σ w per label (float64) of a weight per prediction: element i's label is ⌊i / stride⌋ mod
 * `labels` (`stride`: the size of the axes after the label axis; 1 with the labels last). A run of
 * one label's weights is summed in a local (as fast as Σ w alone where the runs are long). One
 * label of stride 1: Σ w, in order.
 */
function labelWeightSums(w: BatchArray, labels: number, stride: number): Float64Array {
  const sums = new Float64Array(labels);
  const n = w.data.length;
  if (w.dtype === 'float16') {
    const a = w.data as Uint16Array;
    for (let i = 0; i < n; i++) sums[Math.floor(i / stride) % labels] += f16BitsToF32(a[i]);
    return sums;
  }
  const a = w.data as Float32Array | Float64Array;
  if (stride === 1) {
    for (let i = 0; i < n; i += labels) for (let l = 0; l < labels; l++) sums[l] += a[i + l];
    return sums;
  }
  for (let i = 0, l = 0; i < n; ) {
    let s = 0;
    for (const end = Math.min(i + stride, n); i < end; i++) s += a[i];
    sums[l] += s;
    if (++l === labels) l = 0;
  }
  return sums;
}

/**
 * Runs `step`; when the model came from a user's file, a failure there (onnxruntime refusing the
 * graph, an output of no known type, …) is the file's problem: a one-line UsageError naming it.
 * For a model built here, the same failure is our bug and propagates as it is.
 */
export async function asFileError<T>(file: string | undefined, what: string, step: () => T | Promise<T>): Promise<T> {
  if (file === undefined) return step();
  try {
    return await step();
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const message = String((e as Error)?.message ?? e);
    // onnxruntime's messages carry its source path and status codes before the reason.
    const reason = message.split('\n')[0].replace(/^.*\[ONNXRuntimeError\] : \d+ : [A-Z_]+ : /, '').slice(0, 300);
    throw new UsageError(`${file}: ${what}: ${reason}`);
  }
}

/** A session of one of the spec's graphs (the caller's or a pool worker's), named by the spec's model file. */
export function openSession(spec: BatchSpec, graph: EvalGraph, options: SessionOptions): Promise<Session> {
  return asFileError(spec.modelFile, 'onnxruntime cannot load it', () => createSession(graph.bytes, { ...options, modelName: spec.modelFile }));
}

/** A scalar output as a number. */
function scalar(t: HostTensor | undefined): number {
  return t ? Number((t.data as Float32Array | Float64Array)[0]) : NaN;
}
/** Options for graphDims' `rows` form, which reads none of them: targets and weights fed at their input's rank. */
const ROWS: Parameters<typeof graphDims>[0] = { task: 'binary', targets: 'hard', targetFormat: 'dense', labelMean: false, weight: 'none', labelAxis: -1 };

/**
 * Whether the graph's check outputs say the batch is fine (false: scan it in JS). A NaN
 * prediction shows as a NaN loss (eval-outputs.ts); a NaN loss from valid data, if a model made
 * one, passes the scan and stays.
 */
function graphChecksPass(g: EvalGraph, result: Record<string, HostTensor>, probs: boolean, targetInGraph: boolean): boolean {
  if (g.predInGraph) {
    const lo = scalar(result[EVAL_OUTPUTS.predMin]);
    const hi = scalar(result[EVAL_OUTPUTS.predMax]);
    if (probs ? !(lo >= 0 && hi <= 1) : !(Number.isFinite(lo) && Number.isFinite(hi))) return false;
    if (Number.isNaN(scalar(result[g.sums ? EVAL_OUTPUTS.sum : 'loss']))) return false;
  }
  return !targetInGraph || scalar(result[EVAL_OUTPUTS.target]) === 0;
}

/**
 * What the batches of one shape (dims and weight count) feed and fetch besides their arrays: the
 * graph's dims of theirs (graphDims) and their layout, the targets' and weights' fed dims, the
 * block shape input, the fetches (less a batch's `into`). Made at the first batch of a shape and
 * reused while the batches keep it: a batch of a repeated shape makes little beyond its Tensors.
 */
interface Shaped {
  readonly dims: readonly number[];
  readonly weights: number;
  readonly predDims: readonly number[];
  readonly layout: LossLayout;
  readonly targetDims: readonly number[];
  readonly weightDims: readonly number[] | undefined;
  readonly blocks: HostTensor | undefined;
  readonly fetches: Readonly<Record<string, HostTensor | null>>;
}

/** Checks and runs batches on one session; see the top of this file. */
export class BatchRunner {
  /** Reused arrays for targets / weights converted to the model's types, and the diagnostics' losses. */
  private readonly scratch = new Map<string, NpyTypedArray>();

  private shaped: Shaped | undefined;

  constructor(
    private readonly spec: BatchSpec,
    private readonly session: Session,
    private readonly graph: EvalGraph = spec.graph,
  ) {}

  private converted(name: string, dtype: TensorDType, length: number): NpyTypedArray {
    let a = this.scratch.get(name);
    if (!a || a.length < length) {
      a = typedArrayFor(dtype as NpyDType, length);
      this.scratch.set(name, a);
    }
    return a.subarray(0, length) as NpyTypedArray;
  }

  /** The shape of `b`: the last batch's when `b` has its dims and weight count. */
  private shape(b: BatchData): Shaped {
    const weights = b.weight ? b.weight.data.length : -1;
    const last = this.shaped;
    if (last && last.weights === weights && sameDims(last.dims, b.dims)) return last;
    const { options: o, inputs, predOutput } = this.spec;
    const g = this.graph;
    // The predictions' dims as the graph takes them, and the rows, per-element losses and targets'
    // dims of those (src/data/rules.ts): the same counts as the batch's own dims, in the graph's layout.
    const form = this.spec.form ?? 'rows';
    const predDims = graphDims(o, b.dims, form, inputs.pred?.rank ?? null);
    const layout = lossLayout(o, predDims, graphAxis(o, form, predDims.length));
    const { count, labels } = layout;
    const fetches: Record<string, HostTensor | null> = {};
    for (const name of g.fetches) fetches[name] = null;
    if (g.sweep) {
      // The per-element losses the diagnostics bin, written into arrays reused batch after batch
      // (the core bins a batch's before the next runs): no fresh memory for them at every batch.
      const reused = (name: string): HostTensor => ({ dtype: o.dtype, dims: layout.lossDims, data: this.converted(`diag ${name}`, o.dtype, count) }) as HostTensor;
      fetches.loss = reused('loss');
      for (const name of [...g.sweep.sums, ...(g.sweep.focalSums ?? []), ...(g.sweep.labelSums ?? [])]) fetches[name] = null;
      for (const name of g.sweep.losses) fetches[name] = reused(name);
    }
    if (predOutput !== undefined) fetches[predOutput] = null;
    let blocks: HostTensor | undefined;
    if (g.sums && g.blocks) {
      // Blocks tile the per-element losses: rows of L labels (multilabel), else single losses.
      const multilabel = o.task === 'multilabel' && !o.labelMean && !o.perImage;
      const rows = multilabel ? count / labels : count;
      const shape =
        multilabel && this.spec.channelSums
          ? channelBlockShape(...(graphDims(o, b.dims, 'channels', null) as [number, number, number]), g.blocks === 'one')
          : g.blocks === 'one'
            ? [1, rows, ...(multilabel ? [labels] : [])]
            : blockShape(rows, multilabel ? labels : undefined);
      blocks = { dtype: 'int64', dims: [shape.length], data: BigInt64Array.from(shape, BigInt) };
    }
    // Weights: one per prediction, or one per row (all axes but the label axis); the sources check which.
    const weightDims = inputs.weight && weights >= 0 ? graphDims(ROWS, weights === layout.elements ? predDims : layout.rowDims, 'rows', inputs.weight.rank) : undefined;
    const targetDims = graphDims(ROWS, layout.targetDims, 'rows', inputs.target.rank);
    this.shaped = { dims: [...b.dims], weights, predDims, layout, targetDims, weightDims, blocks, fetches };
    return this.shaped;
  }

  /** Checks the predictions: finite, and in [0, 1] for probabilities; the first bad element is the error. */
  private checkPred(pred: BatchArray | undefined): void {
    if (pred) checkPredictions(pred.place, pred.dtype, pred.data, this.spec.options.input === 'probs', this.spec.inputName);
  }

  /** Checks the targets (counting them where the options count them); the first bad element is the error. */
  private checkTarget(b: BatchData, classes: number): TargetCounts | undefined {
    const o = this.spec.options;
    const t = b.target;
    if (countsTargets(o)) {
      const kind = o.task === 'multiclass' ? 'class' : o.targetFormat === 'index' ? 'index' : 'dense';
      return countTargets(t.place, t.dtype, t.data, { kind, classes, ignore: o.ignoreIndex, task: kind === 'index' ? 'index' : o.task });
    }
    if (o.targets === 'soft') checkSoftTargets(t.place, t.dtype, t.data);
    else if (o.task === 'multiclass') checkClassIndices(t.place, t.dtype, t.data, classes);
    else checkBinaryTargets(t.place, t.dtype, t.data, o.task);
    return undefined;
  }

  /**
   * Runs the batch `b`. With `b.into`, the per-element losses are written there and returned as
   * `loss`. Bad data is a DataError naming the first bad element, predictions before targets
   * before weights.
   */
  run(b: BatchData): Promise<BatchOutcome> {
    // Not async: less to allocate a batch (bench/README.md, session 9).
    let s: Shaped;
    let counts: TargetCounts | undefined;
    let running: Promise<Record<string, HostTensor>>;
    try {
      // A network's predictions exist only after the run: checked then, on the fetched output.
      if (!b.pred && this.spec.predOutput === undefined) throw new Error('batch runner: a batch without predictions for a model that takes them');
      s = this.shape(b);
      counts = this.check(b, s);
      running = this.feed(b, s);
    } catch (e) {
      return Promise.reject(e);
    }
    return running.then((result) => this.outcome(b, s, result, counts));
  }

  /** Whether the graph checks the batch's targets: only targets of the model's own type. */
  private targetInGraph(b: BatchData): boolean {
    return this.graph.targetInGraph && b.target.dtype === this.spec.inputs.target.dtype;
  }

  /**
   * The checks before the run, in this order: predictions, then targets, then weights (the first
   * bad element of the first that fails is the error). Those the graph runs are done on its
   * outputs (`outcome`); the others here. Both in JS, probabilities and 0/1 targets of one float
   * type (small batches): one pass over the two, the separate checks only to name a bad element.
   */
  private check(b: BatchData, s: Shaped): TargetCounts | undefined {
    const o = this.spec.options;
    const g = this.graph;
    const probs = o.input === 'probs';
    const pred = b.pred;
    const targetInGraph = this.targetInGraph(b);
    const quick =
      !g.predInGraph && !targetInGraph && pred !== undefined && probs && !countsTargets(o) && o.targets !== 'soft' && o.task !== 'multiclass' && pairFine(pred.dtype, pred.data, b.target.dtype, b.target.data);
    if (!quick && !g.predInGraph) this.checkPred(pred);
    let counts: TargetCounts | undefined;
    if (!quick && !targetInGraph) {
      try {
        counts = this.checkTarget(b, s.layout.labels);
      } catch (e) {
        if (g.predInGraph) this.checkPred(pred);
        throw e;
      }
    }
    if (b.weight) {
      try {
        checkWeights(b.weight.place, b.weight.dtype, b.weight.data);
      } catch (e) {
        if (g.predInGraph) this.checkPred(pred);
        if (targetInGraph) this.checkTarget(b, s.layout.labels);
        throw e;
      }
    }
    return counts;
  }

  /** Feeds the checked batch `b` to the session. */
  private feed(b: BatchData, s: Shaped): Promise<Record<string, HostTensor>> {
    const { options: o, inputs } = this.spec;
    const t = b.target;
    let data = t.data;
    if (t.dtype !== inputs.target.dtype) {
      data = this.converted('target', inputs.target.dtype, t.data.length);
      convertTargets(t.dtype, t.data, inputs.target.dtype as NpyDType, data);
    }
    const feeds: Record<string, HostTensor> = b.feeds ? { ...b.feeds } : {};
    feeds.target = { dtype: inputs.target.dtype, dims: s.targetDims, data } as HostTensor;
    if (inputs.pred && b.pred) feeds.pred = { dtype: inputs.pred.dtype, dims: s.predDims, data: b.pred.data } as HostTensor;
    if (inputs.weight && b.weight) {
      const w = b.weight;
      let data = w.data;
      if (w.dtype !== inputs.weight.dtype) {
        data = this.converted('weight', inputs.weight.dtype, w.data.length);
        // Weights are any non-negative floats (convertTargets is for 0/1 labels and indices).
        if (!isFloatType(w.dtype) || !isFloatType(inputs.weight.dtype)) throw new TypeError(`weights of dtype ${w.dtype} for a ${inputs.weight.dtype} input`);
        convertFloats(w.dtype, w.data, inputs.weight.dtype, data);
      }
      feeds.weight = { dtype: inputs.weight.dtype, dims: s.weightDims as readonly number[], data } as HostTensor;
    }
    if (s.blocks) feeds[EVAL_INPUTS.blocks] = s.blocks;
    const fetches = b.into ? { ...s.fetches, loss: { dtype: o.dtype, dims: s.layout.lossDims, data: b.into } as HostTensor } : s.fetches;
    // (A model built here: straight to the session, no wrapper promise on the small batches' path.)
    const file = this.spec.modelFile;
    return file === undefined ? this.session.run(feeds, fetches) : asFileError(file, 'onnxruntime cannot run it on this data', this.session.run.bind(this.session, feeds, fetches));
  }

  /**
   * What the batch `b` contributes, from its run's `result`, after the checks that wait for it:
   * a network's output (its predictions), and those the graph ran.
   */
  private outcome(b: BatchData, s: Shaped, result: Record<string, HostTensor>, before: TargetCounts | undefined): BatchOutcome {
    const { options: o, predOutput } = this.spec;
    const g = this.graph;
    const probs = o.input === 'probs';
    let counts = before;
    let pred = b.pred;
    if (predOutput !== undefined) {
      const out = result[predOutput];
      const place = b.predPlace ?? { file: 'the batch', element: `output '${predOutput}' element`, start: 0, shape: b.dims };
      if (product(out.dims) !== s.layout.elements) {
        throw new DataError(`${place.file}: the network's output '${predOutput}' has dims [${out.dims.join(', ')}], but the batch's predictions were to be [${b.dims.join(', ')}]`);
      }
      pred = { dtype: out.dtype as NpyDType, data: out.data as NpyTypedArray, place };
      if (!g.predInGraph) this.checkPred(pred);
    }
    const targetInGraph = this.targetInGraph(b);
    if ((g.predInGraph || targetInGraph) && !graphChecksPass(g, result, probs, targetInGraph)) {
      // Something in this batch is off: find and name it. (A NaN loss from valid data, were a
      // model to make one, passes the scan and counts, as it would without the graph checks.)
      this.checkPred(pred);
      counts = this.checkTarget(b, s.layout.labels);
    }
    const { layout, predDims } = s;
    const { elements, rows, count } = layout;
    const last = layout.labels;
    const multilabel = o.task === 'multilabel' && !o.labelMean && !o.perImage;
    const out: { -readonly [K in keyof BatchOutcome]: BatchOutcome[K] } = { elements, count, rows, loss: result.loss };
    if (o.perImage) out.images = b.dims[0];
    if (o.spatialMean) out.spatial = spatialSize(o, b.inputDims ?? b.dims) ?? 'all';
    if (counts) {
      out.positives = counts.positives;
      out.ignored = counts.ignored;
    }
    // normalized 'label': Σ F per label ([L]); else one Σ F.
    if (result.focal_sum) {
      if (o.normalized === 'label') out.labelFocalSums = Float64Array.from(result.focal_sum.data as Float64Array);
      else out.focalSum = scalar(result.focal_sum);
    }
    // weighted-mean divides by Σ w over the per-element losses: a weight per row weighs each of its L labels.
    // With a weight per prediction (multilabel), Σ w per label too, for perLabel, in the same pass
    // (a weight per row weighs every label alike: the core divides Σ w).
    if (o.reduction === 'weighted-mean' && b.weight) {
      const perLabel = multilabel && b.weight.data.length === elements ? labelWeightSums(b.weight, last, product(predDims.slice((layout.labelAxis as number) + 1))) : undefined;
      if (perLabel) out.labelWeightSums = perLabel;
      // Each weight counted once per per-element loss it weighs (a weight per row over L labels: L times).
      out.weightSum = perLabel ? perLabel.reduce((x, v) => x + v, 0) : labelWeightSums(b.weight, 1, 1)[0] * (count / b.weight.data.length);
    }
    if (g.sums) {
      out.sum = scalar(result[EVAL_OUTPUTS.sum]);
      const labels = result[EVAL_OUTPUTS.labelSums];
      if (labels) out.labelSums = labels.data as Float64Array;
      // Diagnostics: the batch's per-element losses, the swept ones binned, their sums (diagnostics.ts).
      const sw = g.sweep;
      if (sw) {
        out.diag = {
          dims: b.dims,
          losses: result.loss.data as BatchDiagnostics['losses'],
          lossType: result.loss.dtype,
          sweepLosses: sw.losses.map((n) => result[n].data as BatchDiagnostics['losses']),
          sweepSums: sw.sums.map((n) => scalar(result[n])),
          ...(sw.labelSums
            ? {
                sweepLabelSums: sw.labelSums.map((n) => result[n].data as Float64Array),
                sweepLabelFocalSums: (sw.focalSums ?? []).map((n) => result[n].data as Float64Array),
              }
            : sw.focalSums
              ? { sweepFocalSums: sw.focalSums.map((n) => scalar(result[n])) }
              : {}),
          target: b.target,
        };
      }
    }
    return out;
  }
}

/**
 * Whether the evaluator counts the targets (in JS, checking each): with an ignore value, index
 * targets, or normalization by positives. The report then gives the positives and the ignored.
 */
export function countsTargets(o: FocalOptions): boolean {
  return o.ignoreIndex !== null || o.targetFormat === 'index' || o.normalize === 'positives';
}
