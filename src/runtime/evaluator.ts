/**
 * The evaluator: the focal loss of batches of predictions against targets, accumulated in
 * float64 on one onnxruntime session — the model plan, the core (`EvalCore`) every source feeds,
 * and the source of batches from memory (`createEvaluator`; the files' are evaluate.ts and
 * evaluate-network.ts).
 *
 * The model: built here from loss options, or a focal-onnx model (a file or its bytes) whose
 * options are read back from its `focal.*` metadata.
 * - Built: reduction `none`, `validInputs` (every batch is checked), and the evaluator's outputs
 *   (eval-outputs.ts): the per-element losses summed in the graph in blocks of ~256 in the loss
 *   type, the block sums in float64 (per label too for multi-label); only those sums leave
 *   onnxruntime per batch and the batches' sums are added here in float64. No long float32
 *   reduction touches the result: onnxruntime's float32 ReduceSum drifts with the count it reduces
 *   (measured: 1e-6 relative at 64K elements, 7e-6 at 256K, 4e-5 at 1M; ~2e-3 at 16M), whereas
 *   the blocks' errors average out (within ~2e-9 of a float64 reference at 10^8 elements).
 * - A model file: used as it is, with the same outputs added. Its reduction decides: `mean` — each
 *   batch's mean times its count; `sum` — each batch's sum; `none` — the block sums, as above.
 *   Each batch's own float32 reduction limits the precision to about 1e-5 relative (7e-6 at 256K
 *   elements per batch); `none` models have none of that.
 * Then mean = total / count (count: the per-element losses, N·L, N, or the elements), and
 * `perLabel` (multi-label) is each label's part of the loss (`result`). perImage: the graph also
 * gives each loss over its image's own divisor (`loss_image_scaled`), whose sums add up to Σ over
 * the images of each image's loss (a batch holds whole images). Channel-first batches ([B, C, H,
 * W], labelAxis not last) run on a graph built on [N, C, S], fed as [B, C, H·W]: a reshape, no
 * element moves (src/data/rules.ts's graphDims).
 *
 * Every batch is checked (batch.ts) before it adds anything: a rejected batch adds nothing.
 */
import { performance } from 'perf_hooks';
import { DataError, UsageError, quote } from '../errors';
import { f16BitsToF32 } from '../io/float16';
import { NpyDType, NpyTypedArray, typedArrayFor } from '../io/npy';
import { FocalOptions, Label, LossOptions, NORMALIZED_FLOOR, Reduction, buildLoss, normalizeOptions, plain, rowSource } from '../losses';
import { BatchArray, BatchData, BatchOutcome, BatchRunner, BatchSpec, EvalGraph, InputSpec, asFileError, countsTargets, openSession } from './batch';
import type { BatchPlace } from '../data/checks';
import { EVAL_OUTPUTS, addEvalOutputs, sweepOutputs } from './eval-outputs';
import { Diagnostics, DiagnosticsAccumulator, DiagnosticsOptions, SweepPoint, diagnosticsOptions, sweepPoints } from '../diagnostics/accumulate';
import { decodeModelProto } from '../onnx';
import type { onnx } from 'onnx-proto';
import { checkModelExternalData, decodeModelFile, loadModelFile, modelFolder } from './model-file';
import { channelFirst, labelAxisOf, predShapeProblem, shapeText } from '../losses/shapes';
import { GraphForm, LossLayout, checkData, isFloatType, lossLayout, product, sameDims, spatialSize, targetKind } from '../data/rules';
import { ExecutionProvider, HostTensor, Session, SessionOptions, TENSOR_DTYPES, TensorDType } from './session';

// ---- the model ------------------------------------------------------------------------------------

type Dims = readonly (number | string | null)[] | null;

/** A model's inputs as the evaluator sees them. */
interface ModelInputs {
  readonly inputs: readonly { readonly name: string; readonly dtype: string; readonly shape: Dims }[];
  readonly outputs: readonly { readonly name: string; readonly dtype: string; readonly shape: Dims }[];
}

/**
 * The model the evaluator runs, before its graph additions: what its spec (BatchSpec) will say of
 * it, known before it is built.
 */
export interface ModelPlan extends Pick<BatchSpec, 'options' | 'graphReduction' | 'inputs' | 'modelFile' | 'fixed' | 'predOutput' | 'feedNames' | 'form'> {
  /**
   * The model's bytes and inputs: read already (a file), or built when asked (options; ~10 ms),
   * then also the builder's model object, which the evaluator's graph additions take without
   * decoding the bytes again (a process's first decode costs ~20 ms of protobufjs code generation).
   */
  readonly build: () => { readonly bytes: Uint8Array; readonly io: ModelInputs; readonly model?: onnx.IModelProto };
  /** Whether the graph's label axis is not its last (channel-first). */
  readonly labelsFirst?: boolean;
}

function inputSpec(info: { dtype: string; shape: Dims } | undefined, source: string, name: string): InputSpec {
  if (!info || !(TENSOR_DTYPES as readonly string[]).includes(info.dtype)) {
    throw new UsageError(`${source}: has no input '${name}' of a supported element type; expected a focal-onnx model`);
  }
  return { dtype: info.dtype as TensorDType, rank: info.shape ? info.shape.length : null };
}

/**
 * The options the evaluator cannot apply over batches: a `normalizer` input (there is no caller
 * to give it per batch: give the number), and the normalized loss (its Σ(1 − p_t)^γ is over the
 * whole input, which a batch's graph does not see).
 */
function checkEvaluable(o: FocalOptions, label: Label, model = false): void {
  // A model file's normalized loss divides each batch by its own Σ F: not a number to add up.
  if (o.normalized && model) throw new UsageError(`${label('normalized')}: the model divides each batch by its own Σ(1 − p_t)^γ; give loss options instead of ${label('model')} (then the whole input's is the divisor)`);
  if (o.normalize === 'input') throw new UsageError(`${label('normalize')} input takes the divisor as a graph input, which eval does not feed; give the number (${label('normalize')} X) or positives`);
}

/**
 * The plan for a focal-onnx model (decoded), used as it is. With `output`, the model is a network
 * and its loss: the loss takes that output as its predictions, and the network's inputs (every
 * input but `target` and `weight`) come with each batch.
 */
export function planFromModel(bytes: Uint8Array, io: ModelInputs, options: FocalOptions | undefined, source: string, output?: string, label: Label = plain): ModelPlan {
  if (!options) {
    throw new UsageError(
      `${source}: has no focal.* metadata, so its loss options are unknown (not written by focal-onnx); ` +
        `export one with focal-onnx export (buildLoss), or give loss options instead of ${label('model')}`,
    );
  }
  checkEvaluable(options, label, true);
  // Each batch's mean has its own divisor (its positives, its elements not ignored): not a number
  // to add up. (perImage's mean is over the batch's images, each whole in a batch: it adds up.)
  if (options.reduction === 'mean' && !options.perImage && (countsTargets(options) || options.normalize !== 'elements')) {
    throw new UsageError(`${source}: reduces with its own divisor per batch (mean with ${options.ignoreIndex !== null ? 'an ignore value' : `normalize ${options.normalize}`}); export it with ${label('reduction')} none, or give loss options instead`);
  }
  if (options.spatialMean) {
    // Each batch's MONAI sum divides by that batch's own element count (rank 2: no spatial axes).
    throw new UsageError(`${source}: reduces with its own divisor per batch (MONAI's sum, ${label('spatialMean')}); export it with ${label('reduction')} none, or give loss options instead`);
  }
  const find = (name: string) => io.inputs.find((i) => i.name === name);
  let pred: InputSpec | undefined;
  let predShape: Dims | undefined;
  if (output !== undefined) {
    const out = io.outputs.find((x) => x.name === output);
    if (!out) throw new UsageError(`${source}: has no output ${quote(output)}; its outputs are ${io.outputs.map((x) => x.name).join(', ')}`);
    if (!isFloatType(out.dtype)) throw new UsageError(`${source}: output ${quote(output)} is ${out.dtype}; predictions must be float16, float32 or float64`);
    predShape = out.shape;
  } else {
    pred = inputSpec(find('pred'), source, 'pred');
    predShape = find('pred')?.shape;
  }
  const target = inputSpec(find('target'), source, 'target');
  const w = find('weight');
  const weight = w ? inputSpec(w, source, 'weight') : undefined;
  if (!io.outputs.some((x) => x.name === 'loss')) throw new UsageError(`${source}: has no output 'loss'; expected a focal-onnx model`);
  const axis = predShape && predShape.length >= 2 ? labelAxisOf(options, predShape.length) : undefined;
  const fixed = axis !== undefined && predShape ? predShape[axis] : undefined;
  const labelsFirst = predShape ? channelFirst(options, predShape.length) : false;
  return {
    options,
    build: () => ({ bytes, io }),
    modelFile: source,
    graphReduction: options.reduction,
    inputs: { ...(pred ? { pred } : {}), target, ...(weight ? { weight } : {}) },
    ...(typeof fixed === 'number' ? { fixed: { count: fixed, by: `${source} is for ${fixed} ${options.task === 'multilabel' ? 'labels' : 'classes'}` } } : {}),
    ...(labelsFirst ? { labelsFirst } : {}),
    // perImage on [B, K, L] (binary [B, K]): deeper batches merge the axes between the images and the labels.
    ...(options.perImage && !labelsFirst && predShape?.length === (options.task === 'binary' ? 2 : 3) && output === undefined ? { form: 'images' as const } : {}),
    ...(output !== undefined ? { predOutput: output, feedNames: io.inputs.map((i) => i.name).filter((n) => n !== 'target' && n !== 'weight') } : {}),
  };
}

/**
 * The plan for a model built from validated options (dtype and targetDtype resolved). The graph
 * is built when the spec is made (evalSpec): ~10 ms. Its form (src/data/rules.ts's graphDims): labels last,
 * [N, L] (or [N], [N, C]), the batches' leading axes merged; channel-first (labelAxis naming
 * another axis than the last of predictions of rank `rank`, when known), [N, C, S], the axes
 * before and after the labels merged; perImage, labels last, [B, K, L] (binary [B, K]).
 */
export function planFromOptions(o: FocalOptions, label: Label = plain, rank?: number): ModelPlan {
  checkEvaluable(o, label);
  const channels = o.task !== 'binary' && o.labelAxis !== -1 && (rank === undefined || channelFirst(o, rank));
  const form: GraphForm = channels ? 'channels' : o.perImage ? 'images' : 'rows';
  const predShape = form === 'channels' ? ['N', 'C', 'S'] : form === 'images' ? (o.task === 'binary' ? ['N', 'K'] : ['N', 'K', 'L']) : undefined;
  // Per image with the labels last, the graph's own shape: multiclass takes its classes on axis 1 only.
  const imagesProblem = form === 'images' ? predShapeProblem(o, ['B', 'K', 'C'], label) : undefined;
  if (imagesProblem) throw new UsageError(`${label('perImage')} on predictions [B, K, C], the classes last: ${imagesProblem}`);
  let built: ReturnType<typeof buildLoss> | undefined;
  // The label / class count a per-label option list fixes, and that option as the user named it.
  const fixed = rowSource(o, label);
  const predRank = predShape ? predShape.length : o.task === 'binary' ? 1 : 2;
  const perRow = o.task !== 'binary' ? predRank - 1 : predRank;
  return {
    options: o,
    build: () => {
      built ??= evalLoss(o, predShape, channels);
      return { bytes: built.bytes, io: built, model: built.model };
    },
    graphReduction: 'none',
    inputs: {
      pred: { dtype: o.dtype, rank: predRank },
      target: { dtype: o.targetDtype, rank: targetKind(o) === 'indices' ? perRow : predRank },
      ...(o.weight !== 'none' ? { weight: { dtype: o.dtype, rank: o.task === 'multilabel' && o.weight === 'element' && !o.labelMean ? predRank : perRow } } : {}),
    },
    ...(fixed ? { fixed: { count: fixed.count, by: fixed.text } } : {}),
    ...(form !== 'rows' ? { form } : {}),
    ...(channels ? { labelsFirst: true } : {}),
  };
}

/**
 * The loss as the evaluator builds it from options, its own and each swept one (diagnostics):
 * reduction none, every input checked (in the graph or in JS, so the graph may assume valid
 * inputs); what that drops the core applies over the whole input — the normalized loss's Σ F an
 * output (`focal_sum`, per label for normalized 'label'), perImage's losses each over its image's
 * divisor an output (`loss_image_scaled`); channel-first (`channels`) on [N, C, S], the labels on
 * axis 1.
 */
function evalLoss(o: FocalOptions, predShape: readonly (number | string)[] | undefined, channels: boolean): ReturnType<typeof buildLoss> {
  return buildLoss(
    { ...o, reduction: 'none', normalized: false, ...(o.perImage ? { perImage: false } : {}), ...(channels ? { labelAxis: 1 } : {}) },
    { validInputs: true, focalSum: o.normalized, ...(predShape ? { predShape } : {}), ...(o.perImage ? { imageScaled: true } : {}) },
  );
}

// ---- the evaluator's graph ------------------------------------------------------------------------

/** Refuses what needs the per-element losses (`--out needs`, `diagnostics need`) of a model whose graph reduces them; `hint`: what to do. */
export function checkPerElement(plan: Pick<ModelPlan, 'graphReduction' | 'modelFile'>, what: string, hint: string): void {
  if (plan.graphReduction !== 'none') throw new UsageError(`${what} the per-element losses, but ${plan.modelFile ?? 'the model'} has reduction ${plan.graphReduction}; ${hint}`);
}

const realFloat = (d: string): boolean => d === 'float32' || d === 'float64';

/**
 * The model with the evaluator's outputs (eval-outputs.ts) and what its batches need, ready for a
 * session. `targetData` is the element type the targets will come in, when known (a file's): the
 * target check runs in the graph only for the model's own float type. `withSmall`: also the graph
 * for small batches (BatchSpec.small; createEvaluator's batches come in any size).
 */
export function evalSpec(plan: ModelPlan, targetData?: NpyDType, withSmall = false, asked?: boolean | DiagnosticsOptions, label: Label = plain): BatchSpec {
  const o = plan.options;
  const built = plan.build();
  const diagnostics = diagnosticsOptions(asked);
  if (diagnostics) checkPerElement(plan, 'diagnostics need', 'use a model exported with reduction none, or the loss flags');
  const points = diagnostics ? sweepPoints(o, diagnostics) : [];
  const sweepModels = points.length ? sweepLosses(o, points, built, plan) : undefined;
  // The plan's inputs: a model's, read from it (planFromModel); a built one's, as its options make them.
  const { inputs, predOutput } = plan;
  const sums = plan.graphReduction === 'none';
  const labels = o.task === 'multilabel' && !o.labelMean && !o.perImage;
  const predType = inputs.pred?.dtype ?? built.io.outputs.find((x) => x.name === predOutput)?.dtype ?? 'unknown';
  const predInGraph = realFloat(predType);
  // Float targets of the model's own type are checked in the graph: 0/1, or soft ones in [0, 1]
  // (also a soft multiclass row); class indices in JS, and so are targets that are counted
  // (ignore values, index targets, positives), where they are counted.
  const soft = o.targets === 'soft';
  const targetInGraph =
    (o.task !== 'multiclass' || soft) && !countsTargets(o) && realFloat(inputs.target.dtype) && (targetData === undefined || targetData === inputs.target.dtype);
  const graph = (small: boolean): EvalGraph => {
    // Small batches: float64 sums, the checks in JS (see BatchSpec.small).
    const pred = !small && predInGraph;
    const target = !small && targetInGraph;
    const bytes = addEvalOutputs(built.model ?? built.bytes, {
      sums: sums ? (labels ? 'labels' : 'total') : false,
      float64Sums: small,
      checkPred: pred,
      checkTarget: target && soft ? 'soft' : target,
      ...(predOutput !== undefined ? { predName: predOutput } : {}),
      ...(sweepModels ? { sweep: sweepModels, sweepLabelSums: o.normalized === 'label' } : {}),
      // perImage: the losses over their images' divisors are summed; channel-first: label sums around axis 1 (or the model's own label axis).
      ...(o.perImage && plan.graphReduction === 'none' ? { sumOf: 'loss_image_scaled' } : {}),
      ...(plan.labelsFirst && labels ? { labelAxis: plan.form === 'channels' ? 1 : (labelAxisOf(o, lossRank(built.io)) as number) } : {}),
    });
    const fetches: string[] = sums ? [EVAL_OUTPUTS.sum] : ['loss'];
    if (sums && labels) fetches.push(EVAL_OUTPUTS.labelSums);
    if (pred) fetches.push(EVAL_OUTPUTS.predMin, EVAL_OUTPUTS.predMax);
    if (target) fetches.push(EVAL_OUTPUTS.target);
    if (o.normalized && sums) fetches.push('focal_sum');
    const sweep = diagnostics
      ? {
          sums: points.map((_, i) => sweepOutputs(i).sum),
          ...(o.normalized ? { focalSums: points.map((_, i) => sweepOutputs(i).focalSum) } : {}),
          // normalized 'label': each label's sum over its own Σ F (then the focal sums are per label).
          ...(o.normalized === 'label' ? { labelSums: points.map((_, i) => sweepOutputs(i).labelSums) } : {}),
          losses: points.flatMap((p, i) => (p.binned ? [sweepOutputs(i).loss] : [])),
        }
      : undefined;
    return { bytes, sums, blocks: !sums ? false : !small ? 'tiles' : labels ? 'one' : false, predInGraph: pred, targetInGraph: target, fetches, ...(sweep ? { sweep } : {}) };
  };
  const { build: _b, labelsFirst: _l, ...fromPlan } = plan;
  return {
    ...fromPlan,
    inputName: label('input'),
    graph: graph(false),
    ...(withSmall ? { small: graph(true) } : {}),
    ...(diagnostics ? { diagnostics } : {}),
    ...(plan.labelsFirst && labels ? { channelSums: true } : {}),
  };
}

/** The rank of a model's per-element `loss` output (0 when unknown). */
function lossRank(io: ModelInputs): number {
  return io.outputs.find((x) => x.name === 'loss')?.shape?.length ?? 0;
}

/**
 * The loss at each sweep point (diagnostics.ts) with the model's other options, built as the
 * evaluator builds its own (evalLoss: channel-first on the graph's [N, C, S], perImage's
 * image-scaled losses) on the same input shapes and opset as the model's, to be merged into it
 * (eval-outputs.ts).
 */
function sweepLosses(o: FocalOptions, points: readonly SweepPoint[], built: ReturnType<ModelPlan['build']>, plan: ModelPlan): onnx.IModelProto[] {
  const model = built.model ?? decodeModelProto(built.bytes);
  const opset = Number((model.opsetImport ?? []).find((x) => !x.domain)?.version ?? o.opset);
  const predOutput = plan.predOutput;
  const predInfo = predOutput !== undefined ? built.io.outputs.find((x) => x.name === predOutput) : built.io.inputs.find((x) => x.name === 'pred');
  const predShape = predInfo?.shape ? predInfo.shape.map((d, k) => d ?? `d${k}`) : undefined;
  return points.map((p) => evalLoss({ ...o, gamma: p.gamma, alpha: p.alpha, asFunction: false, withGrad: false, opset }, predShape, plan.form === 'channels').model);
}

/**
 * Batches of up to this many predictions run on the small-batch graph (BatchSpec.small) where the
 * evaluator has one: below it the graph's checks and block sums cost more than the JS scan
 * (bench/README.md, "Small batches").
 */
export const SMALL_BATCH_ELEMENTS = 1 << 14;

// ---- the evaluator's core -------------------------------------------------------------------------

/** What the evaluator has accumulated: the same fields as `evaluate()`'s result, less its files'. */
export interface EvaluatorResult {
  /**
   * The loss under the options' reduction: the mean (also for `none`), the sum, or Σ w·l / Σ w —
   * which is 0 where Σ w = 0 (every weight 0), as Keras gives, `weightSum` saying so. NaN before
   * any batch (mean).
   */
  readonly loss: number;
  readonly reduction: Reduction;
  /** weighted-mean: Σ w over the per-element losses (0: the loss is 0, not 0/0). */
  readonly weightSum?: number;
  readonly mean: number;
  readonly sum: number;
  /** Number of per-element losses: N·L (multilabel), N (multiclass), or the elements (binary); less the ignored. */
  readonly count: number;
  /**
   * With an ignore value, index targets or normalize positives: the positive targets (1s, or class
   * indices that are neither background nor ignored) and the ignored targets (elements for dense
   * targets, rows for index and class targets), over every batch.
   */
  readonly positives?: number;
  readonly ignored?: number;
  /**
   * Multi-label: each label's part of the loss under the same reduction — the seed's per-label
   * vector: its mean over the rows (mean, none); its sum over the sum's divisor (sum: 1, or
   * MONAI's spatial size with spatialMean), adding up to the loss; its Σ w·l over its Σ w
   * (weighted-mean); each over the normalized loss's Σ F. Not with perImage.
   */
  readonly perLabel?: number[];
  /** perImage: the images (the predictions' first axis) taken; `sum` is Σ over them of each image's sum over its own divisor, `mean` = `loss` its mean. */
  readonly images?: number;
  /** Prediction elements and rows (binary: the elements; else all axes but the label axis) taken. */
  readonly elements: number;
  readonly rows: number;
  readonly batches: number;
  readonly ep: ExecutionProvider;
  /** Sessions that ran batches side by side: 1, or a file source's pool's (evaluate.ts's poolWorkers, plus the caller's). */
  readonly sessions: number;
  /** Seconds of evaluating (check, run, accumulate; for files also read and write); and of loading the session. */
  readonly seconds: number;
  readonly loadSeconds: number;
  /** Prediction elements per second of evaluating. */
  readonly elementsPerSecond: number;
  readonly options: FocalOptions;
  /** The model file, or undefined when the model was built from options. */
  readonly model?: string;
  /** When asked for (`diagnostics`): where the loss comes from (diagnostics.ts). */
  readonly diagnostics?: Diagnostics;
}

/** Per-label sums so far plus a batch's (each made at the first batch that has them). */
function addInto(sums: Float64Array | undefined, batch: Float64Array | undefined): Float64Array | undefined {
  if (!batch) return sums;
  const to = sums ?? new Float64Array(batch.length);
  for (let l = 0; l < to.length; l++) to[l] += batch[l];
  return to;
}

/**
 * The evaluator proper: one session, the batch runner, the float64 accumulation. Batches come in
 * as `BatchData` from every source (memory, files, a network's files); `run` then `accept`.
 */
export class EvalCore {
  private readonly runner: BatchRunner;
  /**
   * The batches' losses in float64: the graph's sums (reduction none, and per label for
   * multilabel), or each batch's mean / sum (a model that reduces); Σ w over the per-element
   * losses (weighted-mean).
   */
  private total = 0;
  private labelSums: Float64Array | undefined;
  private weights = 0;
  private elements = 0;
  private count = 0;
  private positives = 0;
  private ignored = 0;
  private ignoredLosses = 0;
  private focalSum = 0;
  private labelFocalSums: Float64Array | undefined;
  /** weighted-mean with a weight per prediction (multilabel): Σ w per label, for perLabel. */
  private labelWeights: Float64Array | undefined;
  private rows = 0;
  private batches = 0;
  private busy = 0;
  /** perImage: the images so far. */
  private images = 0;
  /** spatialMean: the batches' spatial size (every batch the same; 'all' for rank ≤ 2), once one is taken. */
  spatial: number | 'all' | undefined;

  /** The small batches' runner (spec.small), on a session of its own opened at the first small batch. */
  private small: Promise<BatchRunner> | undefined;
  private smallRunner: BatchRunner | undefined;
  private smallSession: Session | undefined;

  /** With diagnostics: their accumulator. */
  private readonly diag: DiagnosticsAccumulator | undefined;

  constructor(
    readonly spec: BatchSpec,
    readonly session: Session,
    public loadSeconds: number,
    private readonly options: SessionOptions = {},
  ) {
    this.runner = new BatchRunner(spec, session);
    this.diag = spec.diagnostics ? new DiagnosticsAccumulator(spec.options, spec.diagnostics) : undefined;
  }

  /** Opens the session for `spec`. */
  static async open(spec: BatchSpec, options: SessionOptions): Promise<EvalCore> {
    const t0 = performance.now();
    const session = await openSession(spec, spec.graph, options);
    return new EvalCore(spec, session, (performance.now() - t0) / 1000, options);
  }

  /** Runs a batch (nothing accumulated: see `accept`): a small one, where the spec has its graph, on that. */
  run(b: BatchData): Promise<BatchOutcome> {
    const small = this.spec.small;
    if (!small || b.pred === undefined || b.pred.data.length > SMALL_BATCH_ELEMENTS) return this.runner.run(b);
    if (this.smallRunner) return this.smallRunner.run(b);
    this.small ??= (async () => {
      const t0 = performance.now();
      this.smallSession = await openSession(this.spec, small, this.options);
      this.loadSeconds += (performance.now() - t0) / 1000;
      return (this.smallRunner = new BatchRunner(this.spec, this.smallSession, small));
    })();
    return this.small.then((r) => r.run(b));
  }

  /** The label count of the multi-label batches so far (every batch must have the same). */
  labelCount: number | undefined;

  /** Adds a batch's outcome (from `run`), with the seconds it took when known. */
  accept(outcome: BatchOutcome, seconds = 0): void {
    if (outcome.sum !== undefined) {
      this.total += outcome.sum;
      this.labelSums = addInto(this.labelSums, outcome.labelSums);
    } else {
      // A model that reduces: its `loss` is the batch's mean (a perImage model's over its images) or sum.
      const loss = outcome.loss as HostTensor;
      const v = loss.dtype === 'float16' ? f16BitsToF32((loss.data as Uint16Array)[0]) : Number((loss.data as Float32Array)[0]);
      const r = this.spec.graphReduction;
      const w = outcome.weightSum ?? 0;
      // A batch of weighted-mean with Σ w = 0 weighs nothing (its graph gives 0, as Keras): it adds 0.
      this.total += r === 'mean' ? v * (outcome.images ?? outcome.count) : r === 'weighted-mean' ? (w === 0 ? 0 : v * w) : v;
    }
    if (outcome.images !== undefined) this.images += outcome.images;
    if (outcome.spatial !== undefined) this.spatial = outcome.spatial;
    this.weights += outcome.weightSum ?? 0;
    this.elements += outcome.elements;
    this.count += outcome.count;
    if (outcome.positives !== undefined) this.positives += outcome.positives;
    if (outcome.focalSum !== undefined) this.focalSum += outcome.focalSum;
    this.labelFocalSums = addInto(this.labelFocalSums, outcome.labelFocalSums);
    this.labelWeights = addInto(this.labelWeights, outcome.labelWeightSums);
    if (outcome.ignored) {
      this.ignored += outcome.ignored;
      // An ignored index row holds L losses; an ignored dense target or class row, one.
      const o = this.spec.options;
      this.ignoredLosses += o.targetFormat === 'index' ? outcome.ignored * (outcome.elements / outcome.rows) : outcome.ignored;
    }
    this.rows += outcome.rows;
    this.batches++;
    this.busy += seconds;
    if (this.diag && outcome.diag) this.diag.add(outcome.diag);
  }

  /**
   * The loss of a float64 total of per-element losses (and, for the normalized loss, its Σ F)
   * over the batches so far, under the options' reduction: `loss`, `sum` and `mean`.
   */
  private reduce(total: number, focalSum: number, labels?: { sums: Float64Array; focalSums: Float64Array }): { loss: number; sum: number; mean: number; count: number; norm: number; labelNorms?: number[] } {
    const o = this.spec.options;
    // The normalized loss: the whole input's Σ l over its Σ F, floored as the graph floors it.
    const norm = o.normalized === true && this.spec.graphReduction === 'none' ? Math.max(focalSum, NORMALIZED_FLOOR) : 1;
    // normalized 'label': each label's sum over its own Σ F (a swept loss's own, `labels`).
    const focalSums = labels ? labels.focalSums : o.normalized === 'label' ? this.labelFocalSums : undefined;
    const labelNorms = focalSums && Array.from(focalSums, (f) => Math.max(f, NORMALIZED_FLOOR));
    const labelSums = labels ? labels.sums : this.labelSums;
    const sum = labelNorms && labelSums ? labelSums.reduce((a, s, l) => a + s / labelNorms[l], 0) : total / norm;
    const counted = countsTargets(o);
    // The losses that count: every one, less the ignored ones (unless countIgnored, kornia's).
    const count = counted && !o.countIgnored ? this.count - this.ignoredLosses : this.count;
    // The mean's divisor over the whole input (normalize), as the graph's over one batch; perImage:
    // the total is Σ over the images of each image's sum over its own divisor, averaged over the images.
    const divisor = o.perImage ? this.images : o.normalize === 'positives' ? Math.max(1, this.positives) : typeof o.normalize === 'number' ? o.normalize : count;
    const mean = sum / divisor;
    // weighted-mean with every weight 0 is 0, as Keras gives, not 0/0.
    return { loss: o.reduction === 'sum' ? sum / this.sumDivisor() : o.reduction === 'weighted-mean' ? (this.weights === 0 ? 0 : sum / this.weights) : mean, sum, mean, count, norm, labelNorms };
  }

  /**
   * What reduction sum divides by: 1, or MONAI's spatial mean (spatialMean): the spatial size
   * (every batch's the same), or on predictions of rank ≤ 2, whose mean(dim=[]) averages every
   * element, the count of every per-element loss (ignored ones too, as the graph's). The loss
   * and each label's part of it (perLabel) divide by the same.
   */
  private sumDivisor(): number {
    if (!this.spec.options.spatialMean) return 1;
    return typeof this.spatial === 'number' ? this.spatial : this.count;
  }

  /** The diagnostics so far (with `diagnostics`; else undefined). */
  diagnostics(): Diagnostics | undefined {
    if (!this.diag) return undefined;
    return this.diag.result(this.reduce(this.total, this.focalSum).loss, (t, f, labels) => this.reduce(t, f, labels).loss);
  }

  /** The running result; `seconds` overrides the time spent in `run` (a file reader's wall time). */
  result(extra: { seconds?: number; sessions?: number } = {}): EvaluatorResult {
    const o = this.spec.options;
    const { loss, sum, mean, count, norm, labelNorms } = this.reduce(this.total, this.focalSum);
    let perLabel: number[] | undefined;
    // Each label's loss under the options' reduction, its part of the loss (docs/guide.md): sum —
    // its sum over the sum's divisor (1, or MONAI's spatial size), the labels adding up to the
    // loss; weighted-mean — its Σ w·l over its Σ w; mean and none — its mean over the rows (index
    // targets: over the rows not ignored), which average to the loss (normalize elements). The
    // normalized loss: each over the whole input's Σ F (label: its own). Not for dense multi-label
    // targets with an ignore value under a mean, whose columns count differently.
    const labelSums = this.labelSums;
    if (labelSums && this.spec.graphReduction === 'none' && !(o.ignoreIndex !== null && o.targetFormat === 'dense' && o.reduction !== 'sum')) {
      const rows = o.countIgnored ? this.rows : this.rows - (o.targetFormat === 'index' ? this.ignored : 0);
      perLabel = Array.from(labelSums, (s, l) => {
        const n = labelNorms ? labelNorms[l] : norm;
        if (o.reduction === 'sum') return s / n / this.sumDivisor();
        if (o.reduction !== 'weighted-mean') return s / n / rows;
        // A weight per row weighs every label alike: Σ w over the labels, 1/L of it each (0 where Σ w = 0, as the loss).
        const w = this.labelWeights ? this.labelWeights[l] : this.weights / labelSums.length;
        return w === 0 ? 0 : s / n / w;
      });
    }
    const seconds = extra.seconds ?? this.busy;
    const diagnostics = this.diagnostics();
    return {
      loss,
      reduction: o.reduction,
      ...(o.reduction === 'weighted-mean' ? { weightSum: this.weights } : {}),
      mean,
      sum,
      count,
      ...(countsTargets(o) ? { positives: this.positives, ignored: this.ignored } : {}),
      perLabel,
      ...(o.perImage ? { images: this.images } : {}),
      elements: this.elements,
      rows: this.rows,
      batches: this.batches,
      ep: this.session.ep,
      sessions: extra.sessions ?? 1,
      seconds,
      loadSeconds: this.loadSeconds,
      elementsPerSecond: seconds > 0 ? this.elements / seconds : this.elements > 0 ? Infinity : 0,
      options: o,
      model: this.spec.modelFile,
      ...(diagnostics ? { diagnostics } : {}),
    };
  }

  async release(): Promise<void> {
    await Promise.allSettled([this.small]);
    await this.smallSession?.release();
    await this.session.release();
  }
}

// ---- createEvaluator -----------------------------------------------------------------------------

/** An onnxruntime Tensor (onnxruntime-node's or onnxruntime-common's), or anything shaped like one, in CPU memory. */
export interface TensorLike {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
}

/** A batch's array: a typed array (Uint16Array holds float16 bits) or an onnxruntime Tensor. */
export type BatchValue = Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array | TensorLike;

export interface EvaluatorBatch {
  /** Predictions: float32, float64 or float16 (Uint16Array), of the evaluator's dtype. */
  readonly pred?: BatchValue;
  /** For a network's model (`output`): its inputs by name, as Tensors. */
  readonly inputs?: Readonly<Record<string, TensorLike>>;
  /** Targets: 0/1 (binary, multilabel; float, uint8, bool, int32 or int64) or class indices (multiclass; int32 or int64). */
  readonly target: BatchValue;
  /** Weights, for a loss that takes them (its graph has an input `weight`): one per prediction or one per row. */
  readonly weight?: BatchValue;
  /**
   * The predictions' dims: binary any (default [n]; required with spatialMean, whose divisor, the
   * spatial size, is read from them: [B, 1, H, W]); multilabel [..., L] (labels on the last
   * axis, any rank ≥ 2); multiclass [N, C]; with `labelAxis` 1, channel-first [B, C, H, W]
   * (multiclass and index targets [B, H, W]); with `perImage`, whole images on the first axis.
   * A Tensor brings its own.
   */
  readonly dims?: readonly number[];
}

/** What every source of the evaluator takes (createEvaluator, evaluate, evaluateNetwork). */
export interface SourceOptions extends SessionOptions {
  /**
   * Diagnostics of where the loss comes from (src/diagnostics), in the result's `diagnostics`:
   * `true`, or the γ / α values to sweep (default γ 0, 0.5, 1, 2, 5; no α sweep).
   */
  readonly diagnostics?: boolean | DiagnosticsOptions;
}

export interface EvaluatorOptions extends SourceOptions {
  /**
   * The loss options to build the model from (the default: the seed's binary loss). `dtype`
   * (default float32) is the predictions' type; `targetDtype` the type the model takes targets
   * in (default: pred's float type; int64 for multiclass) — targets of another type are checked
   * and converted.
   */
  readonly loss?: LossOptions;
  /** … or a focal-onnx model to evaluate with (a file, or its bytes), its options from its metadata. */
  readonly model?: string | Uint8Array;
  /**
   * With `model`: a network and its loss in one model (e.g. attached), whose loss takes this output
   * of the network as its predictions (default: the one an attached model's metadata names).
   * Batches then give the network's inputs (`inputs`) instead
   * of `pred`, and `dims` of that output.
   */
  readonly output?: string;
  /**
   * Each `add` resolves to its batch's per-element losses (in the loss dtype: `dims` the
   * predictions' for binary and multilabel, without the label axis for multiclass and label mean).
   * Needs a model that computes them: built from loss options, or a file of reduction none.
   */
  readonly losses?: boolean;
}

/** A batch's per-element losses (EvaluatorOptions.losses). */
export interface BatchLosses {
  readonly dims: readonly number[];
  /** float32, float64, or float16 bits. */
  readonly data: Float32Array | Float64Array | Uint16Array;
}

export interface Evaluator {
  /**
   * Checks and runs one batch, and adds its losses. A bad batch is refused with a one-line
   * DataError / UsageError naming it (`batch 3: …`) and adds nothing; the evaluator goes on.
   * Calls run in turn (a call made while another runs waits for it). Resolves to the batch's
   * per-element losses with `losses: true`.
   */
  add(batch: EvaluatorBatch): Promise<BatchLosses | undefined>;
  /** The running result: every batch added so far. */
  result(): EvaluatorResult;
  /** The diagnostics of every batch added so far (created with `diagnostics`; else an error). */
  diagnostics(): Diagnostics;
  /** Frees the session once the batches added before it have run. Idempotent; `add` after it is an error. */
  close(): Promise<void>;
}

const TYPED: readonly [new (...a: never[]) => unknown, NpyDType][] = [
  [Float32Array, 'float32'],
  [Float64Array, 'float64'],
  [Uint16Array, 'float16'],
  [BigInt64Array, 'int64'],
  [Int32Array, 'int32'],
  [Uint8Array, 'uint8'],
];

function isTensorLike(x: unknown): x is TensorLike {
  return typeof x === 'object' && x !== null && !ArrayBuffer.isView(x) && 'type' in x && 'dims' in x && 'data' in x;
}

/** A batch value as an element type, its array and (Tensors) its dims. */
function arrayOf(v: unknown, what: string, batch: string, boolTarget: boolean): { dtype: NpyDType; data: NpyTypedArray; dims?: readonly number[] } {
  if (isTensorLike(v)) {
    const location = (v as { location?: string }).location;
    if (location !== undefined && location !== 'cpu') throw new UsageError(`${batch}: ${what} is a Tensor on '${location}'; give its data in CPU memory (tensor.getData())`);
    const type = v.type === 'bool' ? 'bool' : v.type;
    const entry = TYPED.find(([, d]) => d === type) ?? (type === 'bool' ? [Uint8Array, 'bool' as NpyDType] : undefined);
    if (!entry || !(v.data instanceof (entry[0] as unknown as typeof Uint8Array))) {
      throw new UsageError(`${batch}: ${what} is a Tensor of type ${v.type}; expected float32, float64, float16, int64, int32, uint8 or bool`);
    }
    return { dtype: type as NpyDType, data: v.data as NpyTypedArray, dims: [...v.dims] };
  }
  for (const [ctor, dtype] of TYPED) {
    if (v instanceof ctor) return { dtype: dtype === 'uint8' && boolTarget ? 'bool' : dtype, data: v as NpyTypedArray };
  }
  const found = v === null ? 'null' : ArrayBuffer.isView(v) ? (v as object).constructor.name : Array.isArray(v) ? 'an array' : typeof v;
  throw new UsageError(`${batch}: ${what} must be a typed array (Float32Array, Float64Array, Uint16Array for float16, BigInt64Array, Int32Array, Uint8Array) or an onnxruntime Tensor, got ${found}`);
}

const FIELDS: readonly string[] = ['pred', 'target', 'weight', 'dims'];
const NETWORK_FIELDS: readonly string[] = ['inputs', 'target', 'weight', 'dims'];

/** What checkData reads of an array: its type, its count, and a Tensor's dims. */
type Facts = { readonly dtype: NpyDType; readonly count: number; readonly dims?: readonly number[] };
type Arr = ReturnType<typeof arrayOf>;
const facts = (a: Arr): Facts => ({ dtype: a.dtype, count: a.data.length, dims: a.dims });
const sameFacts = (f?: Facts, a?: Arr): boolean => (!f || !a ? f === a : f.dtype === a.dtype && f.count === a.data.length && (!f.dims || !a.dims ? f.dims === a.dims : sameDims(f.dims, a.dims)));
/** The last batch that passed checkData: its dims, the facts of its arrays, and its layout. */
type Passed = { readonly dims: readonly number[]; readonly target: Facts; readonly weight?: Facts; readonly layout: LossLayout };
const placeOf = (file: string, element: string, shape: readonly number[]): BatchPlace => ({ file, element, start: 0, shape });

/** The caller's batch k as BatchData, with every shape and type checked against the model. */
function batchData(core: EvalCore, b: EvaluatorBatch, k: number, shapes: { passed?: Passed }): BatchData {
  const name = `batch ${k}`;
  const { options: o, inputs } = core.spec;
  if (typeof b !== 'object' || b === null) throw new UsageError(`${name}: must be an object { pred, target, weight?, dims? }, got ${b === null ? 'null' : typeof b}`);
  const network = core.spec.predOutput !== undefined;
  for (const key in b) {
    if (key === 'pred' && network) throw new UsageError(`${name}: has pred, but the evaluator's model computes its predictions (output '${core.spec.predOutput}'); give its inputs`);
    if (key === 'inputs' && !network) throw new UsageError(`${name}: has inputs, but the evaluator's model takes its predictions as 'pred'`);
    if (!(network ? NETWORK_FIELDS : FIELDS).includes(key)) throw new UsageError(`${name}: unknown field ${quote(key)}; a batch is ${network ? '{ inputs, target, weight?, dims }' : '{ pred, target, weight?, dims? }'}`);
  }
  if (b.target === undefined) throw new UsageError(`${name}: target is missing`);
  let pred: ReturnType<typeof arrayOf> | undefined;
  let feeds: Record<string, HostTensor> | undefined;
  if (network) {
    feeds = networkFeeds(core.spec.feedNames ?? [], b.inputs, name);
  } else {
    if (b.pred === undefined) throw new UsageError(`${name}: pred is missing`);
    pred = arrayOf(b.pred, 'pred', name, false);
    const want = (inputs.pred as InputSpec).dtype;
    if (pred.dtype !== want) {
      throw new UsageError(
        `${name}: pred holds ${pred.dtype}, but the evaluator's model takes ${want} predictions; ` +
          `create the evaluator with dtype ${pred.dtype}${core.spec.modelFile ? ' (a model exported so)' : ''}, or convert them`,
      );
    }
  }
  let dims: readonly number[];
  if (b.dims !== undefined) {
    if (!Array.isArray(b.dims) || !b.dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new UsageError(`${name}: dims must be an array of non-negative integers, got ${JSON.stringify(b.dims)}`);
    }
    if (pred?.dims && shapeText(pred.dims) !== shapeText(b.dims)) throw new UsageError(`${name}: dims ${shapeText(b.dims)} differ from the pred Tensor's ${shapeText(pred.dims)}`);
    dims = b.dims;
  } else if (pred?.dims) dims = pred.dims;
  // (MONAI's sum reads its divisor, the spatial size, from the shape: a flat array has none to read.)
  else if (pred && o.task === 'binary' && !o.spatialMean) dims = [pred.data.length];
  else {
    const what = network ? `the shape of the network's output '${core.spec.predOutput}' for this batch` : "the predictions' shape";
    const spatial = !network && o.task === 'binary';
    throw new UsageError(
      `${name}: dims is required${network ? '' : spatial ? " with spatialMean (MONAI's sum divides by the spatial size, read from it)" : ` for task ${o.task}`}: ${what}, ` +
        (spatial ? '[B, 1, H, W] (or [N]: the mean of every element)' : o.task === 'multilabel' ? '[N, L]' : o.task === 'multiclass' ? '[N, C]' : '[N]'),
    );
  }
  if (pred && product(dims) !== pred.data.length) {
    throw new UsageError(`${name}: dims ${shapeText(dims)} make ${product(dims)} elements, but pred holds ${pred.data.length}`);
  }
  if (dims.length === 0) dims = [1];
  const target = arrayOf(b.target, 'target', name, inputs.target.dtype === 'bool');
  if (b.weight !== undefined && !inputs.weight) throw new UsageError(`${name}: has weights, but the evaluator's loss takes none (its model has no input 'weight')`);
  if (b.weight === undefined && inputs.weight) throw new UsageError(`${name}: weight is missing; the evaluator's loss takes weights (its model has an input 'weight')`);
  const w = b.weight !== undefined ? arrayOf(b.weight, 'weight', name, false) : undefined;
  // checkData reads the dims and the arrays' facts: a batch with those of the last batch it passed
  // passes alike, with the same layout.
  const last = shapes.passed;
  const same = last !== undefined && sameDims(last.dims, dims) && sameFacts(last.target, target) && sameFacts(last.weight, w);
  const layout = same
    ? last.layout
    : checkData(o, {
        pred: { where: name, what: network ? `output '${core.spec.predOutput}' ` : 'pred ' },
        dims,
        target: { where: name, what: 'target ', dtype: target.dtype, count: target.data.length, dims: target.dims, shaped: false },
        weight: w && { where: name, what: 'weight ', dtype: w.dtype, count: w.data.length, dims: w.dims },
        fixed: core.spec.fixed,
        label: plain,
        arrays: true,
      });
  if (!same) shapes.passed = { dims: [...dims], target: facts(target), ...(w ? { weight: facts(w) } : {}), layout };
  if (o.spatialMean && core.spatial !== undefined && (spatialSize(o, dims) ?? 'all') !== core.spatial) {
    const text = (s: number | 'all') => (s === 'all' ? 'every element (rank ≤ 2)' : `a spatial size of ${s}`);
    throw new DataError(`${name}: pred has dims ${shapeText(dims)}, ${text(spatialSize(o, dims) ?? 'all')}; MONAI's sum (spatialMean) divides by it, and the batches before it had ${text(core.spatial)}`);
  }
  if (o.task === 'multilabel' && core.labelCount !== undefined && core.labelCount !== layout.labels) {
    throw new DataError(`${name}: pred has ${layout.labels} labels (dims ${shapeText(dims)}), but the batches before it had ${core.labelCount}`);
  }
  const result: { dims: readonly number[]; pred?: BatchArray; target: BatchArray; weight?: BatchArray; feeds?: Record<string, HostTensor>; predPlace?: BatchPlace } = {
    dims,
    target: { dtype: target.dtype, data: target.data, place: placeOf(name, 'target element', layout.targetDims) },
  };
  if (pred) result.pred = { dtype: pred.dtype, data: pred.data, place: placeOf(name, 'pred element', dims) };
  else {
    result.feeds = feeds;
    result.predPlace = placeOf(name, `output '${core.spec.predOutput}' element`, dims);
  }
  if (w) result.weight = { dtype: w.dtype, data: w.data, place: placeOf(name, 'weight element', w.data.length === layout.elements ? dims : layout.rowDims) };
  return result;
}

/** A network's inputs for one batch: every one the model has, each a Tensor (or { type, dims, data }). */
function networkFeeds(names: readonly string[], given: EvaluatorBatch['inputs'], batch: string): Record<string, HostTensor> {
  if (typeof given !== 'object' || given === null) throw new UsageError(`${batch}: inputs is missing: the network's inputs ${names.map((n) => quote(n)).join(', ')}`);
  const feeds: Record<string, HostTensor> = {};
  for (const key of Object.keys(given)) {
    if (!names.includes(key)) throw new UsageError(`${batch}: inputs has ${quote(key)}, which the model does not take; its inputs are ${names.map((n) => quote(n)).join(', ')}`);
  }
  for (const n of names) {
    const v = given[n];
    if (v === undefined) throw new UsageError(`${batch}: inputs lacks ${quote(n)}; the model takes ${names.map((x) => quote(x)).join(', ')}`);
    if (!isTensorLike(v)) throw new UsageError(`${batch}: inputs ${quote(n)} must be an onnxruntime Tensor (or { type, dims, data })`);
    const a = arrayOf(v, `inputs ${quote(n)}`, batch, false);
    feeds[n] = { dtype: a.dtype as TensorDType, dims: a.dims as number[], data: a.data } as HostTensor;
  }
  return feeds;
}

/** `n` (threads, a batch size), refused unless a positive integer, before anything is read. */
export function positiveCount<T extends number | undefined>(what: string, n: T): T {
  if (n !== undefined && (!Number.isSafeInteger(n) || n < 1)) throw new UsageError(`${what} must be a positive integer, got ${n}`);
  return n;
}

/** The plan for `options` (the model, or the loss options with their defaults). */
function evaluatorPlan(options: EvaluatorOptions): ModelPlan {
  const label = options.label ?? plain;
  if (options.model !== undefined && options.loss !== undefined) throw new UsageError('give a model or loss options, not both');
  if (options.output !== undefined && options.model === undefined) throw new UsageError('output names an output of a model: give the model (a network and its loss)');
  if (options.model === undefined) {
    return planFromOptions(normalizeOptions({ ...(options.loss ?? {}), asFunction: false, withGrad: false }, label), label);
  }
  if (typeof options.model !== 'string' && !(options.model instanceof Uint8Array)) throw new UsageError(`model must be a file name or the model's bytes (Uint8Array), got ${typeof options.model}`);
  const m = typeof options.model === 'string' ? loadModelFile(options.model) : decodeModelFile(options.model, 'model', options.externalDataDir);
  checkModelExternalData(options.externalDataDir !== undefined ? { ...m, dir: options.externalDataDir } : m);
  // An attached model (focal-onnx attach) names the output its loss takes.
  const output = options.output ?? m.info.metadata['focal.output'];
  return planFromModel(m.bytes, m.info.graph, m.options, typeof options.model === 'string' ? options.model : 'the model', output, label);
}

/**
 * An evaluator of batches held in memory, on one session (CPU or CUDA, `ep`); see the top of this
 * file. `threads` are the session's intra-op threads.
 */
export async function createEvaluator(options: EvaluatorOptions = {}): Promise<Evaluator> {
  positiveCount('threads', options.threads);
  const plan = evaluatorPlan(options);
  const spec = await asFileError(plan.modelFile, 'cannot be evaluated', () => evalSpec(plan, undefined, true, options.diagnostics, options.label));
  const o = spec.options;
  if (options.losses && o.normalized) {
    throw new UsageError(`losses: ${(options.label ?? plain)('normalized')} divides by the whole input's Σ(1 − p_t)^γ, known only at the end; the per-element losses would come before that division`);
  }
  if (options.losses) checkPerElement(spec, 'losses: needs', 'use a model exported with reduction none, or loss options');
  // A model file's side files resolve from its folder, whatever the working directory.
  const core = await EvalCore.open(spec, typeof options.model === 'string' ? { ...options, externalDataDir: options.externalDataDir ?? modelFolder(options.model) } : options);
  let k = 0;
  let closed = false;
  let inFlight = 0;
  let queue: Promise<unknown> = Promise.resolve();
  const shapes = {};
  // One promise a batch: checked before its run, then accepted and counted out in one handler each way.
  const addOne = (batch: EvaluatorBatch, index: number): Promise<BatchLosses | undefined> => {
    let b: BatchData;
    let losses: BatchLosses | undefined;
    try {
      b = batchData(core, batch, index, shapes);
      if (product(b.dims) === 0) {
        inFlight--;
        return Promise.resolve(undefined);
      }
      if (options.losses) {
        const layout = lossLayout(o, b.dims);
        losses = { dims: layout.lossDims, data: typedArrayFor(o.dtype, layout.count) as BatchLosses['data'] };
        b = { ...b, into: losses.data };
      }
    } catch (e) {
      inFlight--;
      return Promise.reject(e);
    }
    const t0 = performance.now();
    return core.run(b).then(
      (outcome) => {
        inFlight--;
        if (o.task === 'multilabel') core.labelCount ??= lossLayout(o, b.dims).labels;
        core.accept(outcome, (performance.now() - t0) / 1000);
        return losses;
      },
      (e: unknown) => {
        inFlight--;
        throw e;
      },
    );
  };
  const next = (batch: EvaluatorBatch, index: number) => (): Promise<BatchLosses | undefined> => addOne(batch, index);
  return {
    add(batch) {
      const index = k++;
      // A batch added before close runs (close waits for it); one added after is refused.
      if (closed) return Promise.reject(new UsageError(`batch ${index}: the evaluator is closed`));
      // In turn: straight away when nothing runs, else after the batch before it (done or refused).
      const run = inFlight++ === 0 ? addOne(batch, index) : queue.then(next(batch, index), next(batch, index));
      queue = run;
      return run;
    },
    result: () => core.result(),
    diagnostics() {
      const d = core.diagnostics();
      if (!d) throw new UsageError('diagnostics(): create the evaluator with diagnostics: true (or { sweepGamma, sweepAlpha })');
      return d;
    },
    async close() {
      if (closed) return;
      closed = true;
      await queue.then(
        () => undefined,
        () => undefined, // (a refused batch was its caller's to handle)
      );
      await core.release();
    },
  };
}
