/**
 * From options to a model: the graph inputs (`pred`, `target`), the task's element-wise loss, the
 * reduction, the float16 boundary, and the outputs (`loss`, plus `grad` with `withGrad`), either
 * flat or as one `ai.focal` node defined by a model-local function (`asFunction`).
 *
 * One body serves both: the flat graph passes α, γ and eps as numbers; the function body refers
 * to the node's attributes (`ref_attr_name`), so a runtime that knows the op reads them there.
 */
import { onnx } from 'onnx-proto';
import { UsageError } from '../errors';
import { Attr, DType, FunctionDef, Graph, Shape, Value, buildModel, op, serializeModel, toType } from '../onnx';
import { VERSION } from '../version';
import { binaryElements, binaryGradient, softBinaryElements, softBinaryGradient } from './binary';
import { labelAxisOf, labelTail, layoutDims, predShapeProblem } from './shapes';
import { LossParams, computeType, reduce, spatialSize, weighted } from './focal';
import { GradContext, applyTerms, imageScaled, meanDivisor, perImageDivisor, prepareTargets, starElements, sumF } from './terms';
import { multiclassElements, multiclassGradient, softMulticlassElements, softMulticlassGradient } from './multiclass';
import type { Label } from './vocabulary';
import { FocalOptions, LossOptions, Task, Terms, functionAttributes, hasTerms, normalizeOptions, optionsToMetadata, rowSource, usesSoftForm } from './options';

/** The custom domain of the function form, and its op per task. */
export const FOCAL_DOMAIN = 'ai.focal';
export const FUNCTION_NAMES: Record<Task, string> = {
  binary: 'BinaryFocalLoss',
  multilabel: 'MultiLabelFocalLoss',
  multiclass: 'MultiClassFocalLoss',
};

export interface TensorSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
}

export interface LossModel {
  readonly options: FocalOptions;
  readonly model: onnx.IModelProto;
  /** The serialized model (deterministic: the same options give the same bytes). */
  readonly bytes: Uint8Array;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

/** Extra outputs for the evaluator (not part of the exported models' contract). */
export interface BuildExtras {
  /** Add `loss_per_label` [L]: each label's mean / sum over N (multilabel, reduction mean or sum; the sum over the spatial size with spatialMean, adding up to the loss). */
  readonly perLabel?: boolean;
  /**
   * The caller checks every input (probabilities in [0, 1], targets 0 or 1, as the evaluator does):
   * the binary / multilabel arith form may then take a shorter path with the same results for such
   * inputs (binary.ts). Not for models that are written out.
   */
  readonly validInputs?: boolean;
  /**
   * The shape of `pred` (numbers or symbols), for a loss on predictions shaped as a network gives
   * them (a dense detection head's [B, K, C]; channel-first [B, C, H, W] with labelAxis 1: what
   * each task takes is givenShapes's to say). The loss is the same function of the elements.
   * Default: [N] (binary), [N, L] (multilabel), [N, C] (multiclass); perImage: [B, K] (binary),
   * [B, K, L] (multilabel).
   */
  readonly predShape?: Shape;
  /** Names options in messages (the CLI passes its flags); without it, a default shape's refusal also says to give predShape. */
  readonly label?: Label;
  /**
   * Add `focal_sum` (float64 scalar; [L] per label for 'label'): Σ F, the focal factors of the elements not ignored — what
   * the normalized loss divides by — for an evaluator that builds the loss without `normalized`
   * and divides the whole input's sum by the whole input's Σ F.
   */
  readonly focalSum?: boolean | 'label';
  /**
   * Add `loss_image_scaled` (shaped like `loss`): each per-element loss over its image's own
   * divisor (perImage's, from `normalize`; axis 0 the images), for an evaluator that builds the
   * loss with reduction none and averages Σ over the images of each image's sum over its divisor.
   */
  readonly imageScaled?: boolean;
}

type Gradient = (x: Value, o: FocalOptions, p: LossParams, ctx: GradContext) => Value;
/** The hard forms' element-wise loss (arith, onehot) and the soft form's, and their gradients (the hard forms' with FL* and the terms). */
interface TaskForms {
  readonly elements: (pred: Value, target: Value, o: FocalOptions, p: LossParams, validInputs?: boolean) => Value;
  readonly softElements: (pred: Value, target: Value, o: FocalOptions, p: LossParams) => Value;
  readonly gradient: Gradient;
  readonly softGradient: Gradient;
}

/**
 * The element-wise loss per task and its gradient. Multilabel is the seed's `FocalLoss_MultiLabel`: it runs the
 * binary loss on each label column, keeps each column's mean (or sum), then takes the mean (or sum)
 * over labels; with N rows in every column that is the mean (or sum) over all N·L elements, which
 * is what the graph computes: the binary loss on [N, L] (α one number or one per label), then one
 * reduction. The seed's per-label vector (`loss[0, label]`) is `perLabel`, an extra output.
 */
const BINARY: TaskForms = { elements: binaryElements, softElements: softBinaryElements, gradient: binaryGradient, softGradient: softBinaryGradient };
const TASK_FORMS: Record<Task, TaskForms> = {
  binary: BINARY,
  multilabel: BINARY,
  multiclass: { elements: multiclassElements, softElements: softMulticlassElements, gradient: multiclassGradient, softGradient: softMulticlassGradient },
};

const FORMULAS: Record<Task, string> = {
  binary:
    'Binary focal loss (Lin et al. 2017), as the FocalLoss module of the seed: per element, ' +
    'p_t = p if t = 1 else 1 - p, alpha_t = alpha if t = 1 else 1 - alpha, ' +
    'loss = -alpha_t * (1 - clamp(p_t, eps, 1))^gamma * log(clamp(p_t, eps, 1)).',
  multilabel:
    'Multi-label focal loss, as the FocalLoss_MultiLabel module of the seed: the binary focal loss on each of the ' +
    'L label columns (alpha one number or one per label), reduced over all N*L elements.',
  multiclass:
    'Multi-class focal loss: p = pred (probs) or softmax(pred, axis 1) (logits), p_t = p[n, target_n], ' +
    'alpha_t = alpha (a number), alpha[target_n] (a list) or 1 (none), ' +
    'loss_n = -alpha_t * (1 - clamp(p_t, eps, 1))^gamma * log(clamp(p_t, eps, 1)).',
};

/**
 * Shapes of `pred`, `target` and (with a weight input) `weight` for the task (and `predShape`, see
 * BuildExtras): soft multiclass targets are rows [N, C]; a sample weight is one per row (pred's
 * shape without the label axis for multilabel), an element weight shaped like the per-element loss
 * (reduction none's output).
 */
export function ioShapes(o: FocalOptions, predShape?: Shape, label?: Label): { pred: Shape; target: Shape; weight?: Shape } {
  const io = givenShapes(o, predShape ?? defaultPred(o), predShape === undefined, label);
  if (o.weight === 'none') return io;
  const { rowDims, lossDims } = layoutDims(o, io.pred);
  return { ...io, weight: [...(o.weight === 'sample' ? rowDims : lossDims)] };
}

/** The shape of the per-element loss (reduction none's output) for predictions of shape `pred`: one loss a row for multiclass and labelMean. */
export function elementShape(o: FocalOptions, pred: Shape = ioShapes(o).pred): Shape {
  return [...layoutDims(o, pred).lossDims];
}

/** The label / class dimension: fixed by an option that lists one value per label or class (rowSource), else symbolic. */
function fixedDim(o: FocalOptions): number | string {
  return rowSource(o)?.count ?? (o.task === 'multiclass' ? 'C' : 'L');
}

/** The predictions without predShape: [N] (binary), [N, L] (multilabel), [N, C] (multiclass); perImage's images on a first axis of their own, [B, K] and [B, K, L]. */
function defaultPred(o: FocalOptions): Shape {
  const images = o.perImage ? ['B', 'K'] : ['N'];
  return o.task === 'binary' ? images : [...images, fixedDim(o)];
}

/** `shape` checked against the task (shapes.ts's predShapeProblem); `defaulted`: the default, not the caller's predShape. */
function givenShapes(o: FocalOptions, shape: Shape, defaulted = false, label?: Label): { pred: Shape; target: Shape } {
  const text = `[${shape.join(', ')}]`;
  if (!Array.isArray(shape) || !shape.every((d) => (typeof d === 'number' && Number.isSafeInteger(d) && d >= 0) || (typeof d === 'string' && d !== ''))) {
    throw new UsageError(`predShape must be a list of sizes (integers >= 0) or names, got ${JSON.stringify(shape)}`);
  }
  const problem = predShapeProblem(o, shape, label);
  if (problem) throw new UsageError(defaulted ? `the loss's predictions are ${text}: ${problem}${label ? '' : '; give predShape'}` : `predShape ${text}: ${problem}`);
  const a = labelAxisOf(o, shape.length);
  if (o.task === 'multilabel' && o.form === 'onehot' && a !== shape.length - 1) throw new UsageError(`labelAxis ${o.labelAxis}: form onehot reads the labels on the last axis; use form arith (predShape ${text})`);
  const pred = [...shape];
  if (a !== undefined) {
    const fixed = fixedDim(o);
    const here = pred[a];
    if (typeof fixed === 'number') {
      if (typeof here === 'number' && here !== fixed) {
        throw new UsageError(`predShape ${text} has ${here} ${o.task === 'multilabel' ? 'labels' : 'classes'} on its ${a === pred.length - 1 ? 'last axis' : `axis ${a}`}, but ${rowSource(o)?.text}`);
      }
      pred[a] = fixed;
    }
  }
  return { pred, target: [...layoutDims(o, pred).targetDims] };
}

/** A short statement of the terms for summaries and inspect: `index ignore=-1 normalize=positives …`. */
export function describeTerms(t: Terms): string {
  const parts: string[] = [];
  if (t.targetFormat === 'index') parts.push('index targets');
  if (t.ignoreIndex !== null) parts.push(`ignore=${t.ignoreIndex}${t.countIgnored ? ' (counted)' : ''}`);
  if (t.normalize !== 'elements') parts.push(`normalize=${t.normalize}`);
  if (t.classWeight) parts.push(`class-weight=[${t.classWeight.join(',')}]`);
  if (t.posWeight !== null) parts.push(`pos-weight=${Array.isArray(t.posWeight) ? `[${t.posWeight.join(',')}]` : t.posWeight}`);
  if (t.variant === 'star') parts.push('FL*');
  if (t.normalized) parts.push(t.normalized === 'label' ? 'normalized per label' : 'normalized');
  if (t.reducedThreshold !== null) parts.push(`reduced<${t.reducedThreshold}`);
  return parts.join(' ');
}

/** A human-readable statement of the graph's formula and options (the model's doc_string). */
export function describeLoss(o: FocalOptions): string {
  const alpha = o.alpha === null ? 'none' : Array.isArray(o.alpha) ? `[${o.alpha.join(', ')}]` : String(o.alpha);
  const stable = o.input === 'logits' && o.eps === 0;
  const parts = [
    FORMULAS[o.task],
    o.input === 'logits'
      ? `pred holds logits (${o.task === 'multiclass' ? 'softmax' : 'sigmoid'} first${stable ? '; eps = 0: stable log-sigmoid / log-softmax, no clamp' : ''}).`
      : 'pred holds probabilities.',
    `alpha = ${alpha}, gamma = ${o.gamma}, eps = ${o.eps}, reduction = ${o.reduction}, dtype = ${o.dtype}` +
      `${o.dtype === 'float16' ? ' (computed in float32)' : ''}, target dtype = ${o.targetDtype}, form = ${o.form}.`,
  ];
  if (usesSoftForm(o)) {
    parts.push(
      (o.targets === 'soft' ? 'Soft targets in [0, 1]' : 'Hard targets label-smoothed') +
        (o.labelSmoothing > 0 ? ` (label smoothing ${o.labelSmoothing}: t <- t*(1 - X) + X/${o.task === 'multiclass' ? 'C' : '2'})` : '') +
        (o.task === 'multiclass'
          ? ': loss_n = sum_c -alpha_c * (1 - c)^gamma * t_c * log(c), c = clip(pred / sum(pred) (softmax for logits), eps, 1 - eps).'
          : ': loss = alpha_t * (1 - p_t)^gamma * BCE(p, t), BCE = -(t*log(c) + (1 - t)*log(1 - c)), c = clip(p, eps, 1 - eps), p_t = t*p + (1 - t)*(1 - p).'),
    );
  }
  if (o.labelMean) parts.push('Each row is first averaged over its labels (per-sample losses [N]).');
  if (o.spatialMean) parts.push('Sum as MONAI: the elements averaged over the spatial axes first (every element on rank <= 2), then summed.');
  if (o.weight !== 'none') {
    parts.push(
      `Input weight (${o.weight === 'sample' ? 'per sample, [N]' : 'per element'}) multiplies each loss; ` +
        (o.reduction === 'weighted-mean' ? 'weighted-mean = sum(w*l) / sum(w).' : 'mean = sum(w*l) / count.'),
    );
  }
  if (hasTerms(o)) parts.push(`Terms: ${describeTerms(o)}.`);
  if (o.like !== null) parts.push(`Preset: like ${o.like}.`);
  if (o.withGrad) parts.push('Output grad = d(loss)/d(pred)' + (o.reduction === 'none' ? ' of the sum of the elements.' : '.'));
  return parts.join(' ');
}

/**
 * The seed's per-label vector [L]: each label column's mean (or sum) over the rows, every axis but
 * the label axis ([B, K, L]: over the B·K rows). A sum is divided as the loss is (MONAI's spatial
 * mean: by the spatial size), so that the labels' values add up to the loss.
 */
function perLabel(elements: Value, o: FocalOptions): Value {
  if (o.reduction !== 'mean' && o.reduction !== 'sum') throw new RangeError(`perLabel: needs reduction mean or sum, got ${o.reduction}`);
  const a = labelAxisOf(o, elements.rank);
  const divisor = o.spatialMean ? { divisor: spatialSize(elements, o, elements.dtype) } : {};
  return reduce(elements, o.reduction, { axes: [...Array(elements.rank).keys()].filter((i) => i !== a), ...divisor });
}

/**
 * The outputs of the loss for its inputs `args` (as `lossInputs` lists them) in the flat graph or
 * the function body `fn`: one pipeline, elements → terms → weight → reduce. The plain loss is the
 * terms at their defaults, which add no node.
 */
function lossOutputs(o: FocalOptions, extras: BuildExtras, inputs: readonly TensorSpec[], args: readonly Value[], fn?: Graph): [string, Value][] {
  const { pred, target, weight, normalizer } = Object.fromEntries(inputs.map((spec, i) => [spec.name, args[i]]));
  let p = lossParams(o, weight, fn);
  const x = toType(pred, computeType(o));
  const tail = labelTail(o, x.rank);
  if (tail) p = { ...p, labelTail: tail };
  const prep = prepareTargets(x, target, o);
  let f: Value | undefined;
  const pp: LossParams = { ...p, onTerm: (parts) => (f = parts.f) };
  // The soft form or the hard ones, for the loss and its gradient. The terms work on hard targets
  // (normalizeOptions refuses soft ones with them, but for FL*, whose hard form's gradient covers them).
  const forms = TASK_FORMS[o.task];
  const soft = usesSoftForm(o) && !hasTerms(o);
  const raw =
    o.variant === 'star' ? starElements(x, prep.target, p) :
    soft ? forms.softElements(x, prep.target, o, pp) : forms.elements(x, prep.target, o, pp, extras.validInputs);
  const applied = applyTerms(x, raw, f, prep, o);
  let elements = applied.loss;
  if (o.labelMean) elements = reduce(elements, 'mean', { axes: [labelAxisOf(o, elements.rank) as number] });
  elements = weighted(elements, p.weight, p.labelTail);
  // perImage: D per image ([B, 1, …], times B), Σ l / D a sum (each element over its image's D on
  // the device); the gradient divides by the same D.
  const divisor =
    o.perImage ? perImageDivisor(x, elements, prep, o) :
    o.reduction === 'mean' ? meanDivisor(x, elements, prep, o, normalizer) :
    o.spatialMean ? spatialSize(elements, o, elements.dtype) : 'mean';
  const out = (v: Value): Value => toType(v, o.dtype);
  const total =
    o.perImage && typeof divisor !== 'number'
      ? reduce(op.div(elements, toType(divisor as Value, elements.dtype)), 'sum', { accumulate: o.accumulate })
      : reduce(elements, o.reduction, { divisor, weight: p.weight, accumulate: o.accumulate });
  const outputs: [string, Value][] = [['loss', out(total)]];
  if (extras.imageScaled) outputs.push(['loss_image_scaled', out(imageScaled(x, elements, prep, o))]);
  if (extras.perLabel) {
    if (o.task !== 'multilabel' || o.labelMean) throw new RangeError(`perLabel: only for task multilabel without labelMean, got ${o.task}`);
    outputs.push(['loss_per_label', out(perLabel(elements, o))]);
  }
  if (extras.focalSum) outputs.push(['focal_sum', toType(sumF(f, raw, prep, extras.focalSum === 'label' ? labelAxisOf(o, x.rank) : undefined), 'float64')]);
  if (o.withGrad) {
    const gradient = soft ? forms.softGradient : forms.gradient;
    // The weight input multiplies each element's gradient as it does its loss (w does not depend on pred).
    outputs.push(['grad', out(weighted(gradient(x, o, p, { ...applied, prep, divisor }), p.weight, p.labelTail))]);
  }
  return outputs;
}

/** The LossParams of `o`: numbers in the flat graph, the node's attributes in a function body `fn`. */
function lossParams(o: FocalOptions, weight: Value | undefined, fn?: Graph): LossParams {
  if (!fn) return { alpha: o.alpha, gamma: o.gamma, eps: o.eps, smoothing: o.labelSmoothing, weight, reducedThreshold: o.reducedThreshold };
  let alpha: LossParams['alpha'] = null;
  if (Array.isArray(o.alpha)) alpha = fn.attributeValue('alpha', 'floats', o.alpha.length);
  else if (o.alpha !== null) alpha = fn.attributeValue('alpha', 'float');
  const smoothing = o.labelSmoothing > 0 ? fn.attributeValue('label_smoothing', 'float') : 0;
  const reducedThreshold = o.reducedThreshold === null ? null : fn.attributeValue('reduced_threshold', 'float');
  return { alpha, gamma: fn.attributeValue('gamma', 'float'), eps: fn.attributeValue('eps', 'float'), smoothing, weight, reducedThreshold };
}

/**
 * The inputs of the loss, the model's and the function's alike: pred, target, a weight input, and
 * with normalize 'input' the divisor of the mean (mmdet's avg_factor, computed per batch by the caller).
 */
function lossInputs(o: FocalOptions, extras: BuildExtras): TensorSpec[] {
  const shapes = ioShapes(o, extras.predShape, extras.label);
  const inputs: TensorSpec[] = [
    { name: 'pred', dtype: o.dtype, shape: shapes.pred },
    { name: 'target', dtype: o.targetDtype, shape: shapes.target },
  ];
  if (shapes.weight) inputs.push({ name: 'weight', dtype: o.dtype, shape: shapes.weight });
  if (o.normalize === 'input' && o.reduction === 'mean') inputs.push({ name: 'normalizer', dtype: o.dtype, shape: [] });
  return inputs;
}

/** The `ai.focal` function for these options and the attributes of a node that calls it. */
export function focalFunction(o: FocalOptions, extras: BuildExtras = {}): { fn: FunctionDef; attrs: Record<string, Attr> } {
  const attrs = functionAttributes(o);
  const inputs = lossInputs(o, extras);
  const fn = new FunctionDef({
    domain: FOCAL_DOMAIN,
    name: FUNCTION_NAMES[o.task],
    opset: o.opset,
    inputs,
    attributes: Object.keys(attrs).sort(),
    docString: describeLoss(o),
    body: (g, args) => lossOutputs(o, extras, inputs, args, g),
  });
  return { fn, attrs };
}

/** Builds the focal-loss model for `options` (validated here: see `normalizeOptions`). */
export function buildLoss(options: LossOptions = {}, extras: BuildExtras = {}): LossModel {
  const o = normalizeOptions(options);
  const g = new Graph({ opset: o.opset, name: `focal_loss_${o.task}` });
  const inputs = lossInputs(o, extras);
  const args = inputs.map((spec) => g.input(spec.name, spec.dtype, spec.shape));
  let functions: FunctionDef[] = [];
  if (o.asFunction) {
    const { fn, attrs } = focalFunction(o, extras);
    const outs = fn.call(g, args, attrs);
    fn.outputs.forEach((spec, i) => g.output(outs[i], spec.name));
    functions = [fn];
  } else {
    for (const [name, v] of lossOutputs(o, extras, inputs, args)) g.output(v, name);
  }
  const model = buildModel(g, {
    docString: describeLoss(o),
    metadata: optionsToMetadata(o),
    functions,
    producerVersion: VERSION,
  });
  const spec = (v: Value): TensorSpec => ({ name: v.name, dtype: v.dtype, shape: v.shape });
  return { options: o, model, bytes: serializeModel(model), inputs: g.inputs.map(spec), outputs: g.outputs.map(spec) };
}
