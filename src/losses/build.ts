/**
 * From options to a model: the graph inputs (`pred`, `target`), the task's element-wise loss, the
 * reduction, the float16 boundary, and the outputs (`loss`, plus `grad` with `withGrad`), either
 * flat or as one `ai.focal` node defined by a model-local function (`asFunction`).
 *
 * One body serves both: the flat graph passes α, γ and eps as numbers; the function body refers
 * to the node's attributes (`ref_attr_name`), so a runtime that knows the op reads them there.
 */
import { onnx } from 'onnx-proto';
import { Attr, DType, FunctionDef, Graph, Shape, Value, attr, buildModel, serializeModel } from '../onnx';
import { VERSION } from '../version';
import { binaryElements } from './binary';
import { LossParams, computeType, literalParams, reduceAll, toType } from './focal';
import { focalGradient } from './grad';
import { classDim, multiclassElements } from './multiclass';
import { labelDim, multilabelElements, perLabel } from './multilabel';
import { FocalOptions, LossOptions, Task, normalizeOptions, optionsToMetadata } from './options';

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
  /** Add `loss_per_label` [L]: each label's mean / sum over N (multilabel, reduction mean or sum). */
  readonly perLabel?: boolean;
  /**
   * The caller checks every input (probabilities in [0, 1], targets 0 or 1, as the evaluator does):
   * the binary / multilabel arith form may then take a shorter path with the same results for such
   * inputs (binary.ts). Not for models that are written out.
   */
  readonly validInputs?: boolean;
  /**
   * The shapes of `pred` and `target` instead of the task's own (`ioShapes`): a network's output
   * when a loss is attached to it (attach), e.g. multi-label [B, K, C] with the labels last.
   */
  readonly shapes?: { readonly pred: Shape; readonly target: Shape };
}

type Elements = (pred: Value, target: Value, o: FocalOptions, p: LossParams, validInputs?: boolean) => Value;

const ELEMENTS: Record<Task, Elements> = {
  binary: binaryElements,
  multilabel: multilabelElements,
  multiclass: multiclassElements,
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

/** Shapes of `pred` and `target` for the task. */
export function ioShapes(o: FocalOptions): { pred: Shape; target: Shape } {
  switch (o.task) {
    case 'binary':
      return { pred: ['N'], target: ['N'] };
    case 'multilabel':
      return { pred: ['N', labelDim(o)], target: ['N', labelDim(o)] };
    case 'multiclass':
      return { pred: ['N', classDim(o)], target: ['N'] };
  }
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
  if (o.withGrad) parts.push('Output grad = d(loss)/d(pred)' + (o.reduction === 'none' ? ' of the sum of the elements.' : '.'));
  return parts.join(' ');
}

/** The outputs of the loss for `pred` and `target` of graph `g` (a model graph or a function body). */
function lossOutputs(pred: Value, target: Value, o: FocalOptions, p: LossParams, extras: BuildExtras): [string, Value][] {
  const x = toType(pred, computeType(o));
  const elements = ELEMENTS[o.task](x, target, o, p, extras.validInputs);
  const out = (v: Value): Value => toType(v, o.dtype);
  const outputs: [string, Value][] = [['loss', out(reduceAll(elements, o.reduction))]];
  if (extras.perLabel) {
    if (o.task !== 'multilabel') throw new RangeError(`perLabel: only for task multilabel, got ${o.task}`);
    outputs.push(['loss_per_label', out(perLabel(elements, o))]);
  }
  if (o.withGrad) outputs.push(['grad', out(focalGradient(x, target, o, p))]);
  return outputs;
}

/** In a function body: α, γ and eps from the node's attributes. */
function attributeParams(g: Graph, o: FocalOptions): LossParams {
  let alpha: LossParams['alpha'] = null;
  if (Array.isArray(o.alpha)) alpha = g.attributeValue('alpha', 'floats', o.alpha.length);
  else if (o.alpha !== null) alpha = g.attributeValue('alpha', 'float');
  return { alpha, gamma: g.attributeValue('gamma', 'float'), eps: g.attributeValue('eps', 'float') };
}

/** The `ai.focal` function for these options and the attributes of a node that calls it. */
export function focalFunction(o: FocalOptions, extras: BuildExtras = {}): { fn: FunctionDef; attrs: Record<string, Attr> } {
  const shapes = extras.shapes ?? ioShapes(o);
  const attrs: Record<string, Attr> = {
    gamma: attr.float(o.gamma),
    eps: attr.float(o.eps),
    reduction: attr.string(o.reduction),
  };
  if (Array.isArray(o.alpha)) attrs.alpha = attr.floats(o.alpha);
  else if (o.alpha !== null) attrs.alpha = attr.float(o.alpha as number);
  const fn = new FunctionDef({
    domain: FOCAL_DOMAIN,
    name: FUNCTION_NAMES[o.task],
    opset: o.opset,
    inputs: [
      { name: 'pred', dtype: o.dtype, shape: shapes.pred },
      { name: 'target', dtype: o.targetDtype, shape: shapes.target },
    ],
    attributes: Object.keys(attrs).sort(),
    docString: describeLoss(o),
    body: (g, [pred, target]) => lossOutputs(pred, target, o, attributeParams(g, o), extras),
  });
  return { fn, attrs };
}

/** Builds the focal-loss model for `options` (validated here: see `normalizeOptions`). */
export function buildLoss(options: LossOptions = {}, extras: BuildExtras = {}): LossModel {
  const o = normalizeOptions(options);
  const g = new Graph({ opset: o.opset, name: `focal_loss_${o.task}` });
  const shapes = extras.shapes ?? ioShapes(o);
  const pred = g.input('pred', o.dtype, shapes.pred);
  const target = g.input('target', o.targetDtype, shapes.target);
  let functions: FunctionDef[] = [];
  if (o.asFunction) {
    const { fn, attrs } = focalFunction(o, extras);
    const outs = fn.call(g, [pred, target], attrs);
    fn.outputs.forEach((spec, i) => g.output(outs[i], spec.name));
    functions = [fn];
  } else {
    for (const [name, v] of lossOutputs(pred, target, o, literalParams(o), extras)) g.output(v, name);
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
