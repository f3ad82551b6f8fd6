/**
 * Focal-loss options: the raw options users give, their defaults (the seed's), validation into a
 * normalized object, and their record in a model's `metadata_props`.
 *
 * Options are validated once, here, at the edge. Each error names the option (or, through
 * `label`, the CLI flag), the accepted range and the value received:
 * `gamma must be a finite number >= 0, got -1`.
 */
import { UsageError, quote } from '../errors';
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET } from '../onnx';
import { applyDetectionPreset, isDetectionPreset } from './presets-detection';
import { TERM_DEFAULTS, TERM_KEYS, TermOptions, Terms, normalizeTerms, termsFromMetadata, termsToMetadata } from './terms';
import { LIKES, Like, applyPreset } from './presets';

export const TASKS = ['binary', 'multilabel', 'multiclass'] as const;
export const INPUTS = ['probs', 'logits'] as const;
/** `weighted-mean` is Σ w·l / Σ w (Keras' `mean_with_sample_weight`); it needs a weight input. */
export const REDUCTIONS = ['mean', 'sum', 'none', 'weighted-mean'] as const;
/** `hard`: 0/1 targets (class indices for multiclass), the seed's; `soft`: probabilities in [0, 1]. */
export const TARGETS = ['hard', 'soft'] as const;
/** A graph input `weight`: none, one per sample ([N], broadcast over labels), or one per loss element. */
export const WEIGHTS = ['none', 'sample', 'element'] as const;
export const FORMS = ['arith', 'onehot'] as const;
export const LOSS_DTYPES = ['float32', 'float64', 'float16'] as const;
/** Target element types besides the prediction's own float type. */
export const TARGET_DTYPES = ['float', 'int64', 'int32', 'uint8', 'bool'] as const;

export type Task = (typeof TASKS)[number];
export type InputKind = (typeof INPUTS)[number];
export type Reduction = (typeof REDUCTIONS)[number];
export type Form = (typeof FORMS)[number];
export type LossDType = (typeof LOSS_DTYPES)[number];
export type TargetDType = (typeof TARGET_DTYPES)[number];
export type TargetKind = (typeof TARGETS)[number];
export type WeightKind = (typeof WEIGHTS)[number];
export { LIKES };
export type { Like };

/** The seed's clamp floor: `probs.clamp(min=0.0001, max=1.0)`. */
export const SEED_EPS = 1e-4;

/** Options as a user gives them; every field is optional and defaults to the seed's choice. */
export interface LossOptions extends TermOptions {
  /** `binary` (the seed's FocalLoss), `multilabel` (FocalLoss_MultiLabel) or `multiclass`. */
  task?: Task;
  /** `probs` (the seed: pred is a probability) or `logits` (Sigmoid / Softmax first). */
  input?: InputKind;
  /** α in [0, 1] (α for target 1, 1 − α for target 0), a list per label / class, or 'none'. */
  alpha?: number | readonly number[] | 'none' | null;
  /** γ ≥ 0, any real. */
  gamma?: number;
  reduction?: Reduction;
  /** Clamp floor for p_t (the seed's 1e-4); 0 with logits selects the stable log-sigmoid / log-softmax form. */
  eps?: number;
  /** Element type of pred and loss; float16 is computed in float32 inside. */
  dtype?: LossDType;
  /**
   * Element type of target: 'float' (the pred's type, the default for binary / multilabel) or an
   * integer / bool type. The pred's own float type name is accepted as 'float'.
   */
  targetDtype?: TargetDType | LossDType;
  opset?: number;
  form?: Form;
  /** Emit the loss as one `ai.focal` node defined by a model-local function. */
  asFunction?: boolean;
  /** Add an output `grad` = d(loss)/d(pred). */
  withGrad?: boolean;
  /**
   * `hard` (the seed's: 0/1, class indices for multiclass) or `soft`: t in [0, 1] and the binary
   * cross-entropy term, α_t · (1 − p_t)^γ · BCE(p, t); multiclass targets [N, C] of class
   * probabilities, Σ_c −α·(1 − p_c)^γ·t_c·log p_c. With soft targets eps clips the probability
   * inside the cross-entropy to [eps, 1 − eps] (Keras' clip), not p_t.
   */
  targets?: TargetKind;
  /** X in [0, 1], as Keras: binary t ← t·(1 − X) + X/2, multiclass t ← onehot·(1 − X) + X/C (the soft form). */
  labelSmoothing?: number;
  /** A graph input `weight` multiplying each element's loss: per sample ([N]) or per element. */
  weight?: WeightKind;
  /** Multilabel: average each row over its labels first (Keras' binary focal loss): per-sample losses [N]. */
  labelMean?: boolean;
  /** A library preset (see presets.ts) applied under the options given; null for none. */
  like?: Like | null;
}

/** Validated options with every default filled in. `alpha` is null for no weighting. */
export interface FocalOptions extends Terms {
  readonly task: Task;
  readonly input: InputKind;
  readonly alpha: number | readonly number[] | null;
  readonly gamma: number;
  readonly reduction: Reduction;
  readonly eps: number;
  readonly dtype: LossDType;
  /** The target's element type, resolved ('float' becomes the pred's dtype). */
  readonly targetDtype: 'float16' | 'float32' | 'float64' | 'int64' | 'int32' | 'uint8' | 'bool';
  readonly opset: number;
  readonly form: Form;
  readonly asFunction: boolean;
  readonly withGrad: boolean;
  readonly targets: TargetKind;
  readonly labelSmoothing: number;
  readonly weight: WeightKind;
  /** Always false but for multilabel (where it makes the per-element loss [N]). */
  readonly labelMean: boolean;
  /** The preset the options were made from, or null. */
  readonly like: Like | null;
}

/** Whether the graph computes the soft form (soft targets, or label smoothing of hard ones). */
export function usesSoftForm(o: FocalOptions): boolean {
  return o.targets === 'soft' || o.labelSmoothing > 0;
}

export const DEFAULTS = {
  task: 'binary',
  input: 'probs',
  alpha: 0.25,
  gamma: 2,
  reduction: 'mean',
  eps: SEED_EPS,
  dtype: 'float32',
  opset: DEFAULT_OPSET,
  form: 'arith',
  asFunction: false,
  withGrad: false,
  targets: 'hard',
  labelSmoothing: 0,
  weight: 'none',
  labelMean: false,
  like: null,
} as const;

/** How an option is named in messages: the option itself by default, the CLI passes its flags. */
export type Label = (option: keyof LossOptions) => string;

const plain: Label = (o) => o;

function fmt(x: unknown): string {
  if (typeof x === 'string') return quote(x);
  if (Array.isArray(x)) return `[${x.map(fmt).join(', ')}]`;
  return String(x);
}

function oneOf<T extends string>(label: Label, option: keyof LossOptions, allowed: readonly T[], value: unknown, fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`${label(option)} must be one of ${allowed.join(', ')}, got ${fmt(value)}`);
  }
  return value as T;
}

function unitInterval(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= 1;
}

const KNOWN = new Set<string>([...Object.keys(DEFAULTS), 'targetDtype', 'like', ...TERM_KEYS]);

/** Options objects this module made: a preset's convention is not applied to them again. */
const RESOLVED = new WeakSet<object>();

/**
 * Validates `raw` and fills in the defaults: the preset `like` names (presets.ts), under the
 * options given, then the seed's. Throws a UsageError naming the first bad option.
 */
export function normalizeOptions(given: LossOptions | FocalOptions = {}, label: Label = plain): FocalOptions {
  for (const key of Object.keys(given)) {
    if (!KNOWN.has(key)) throw new UsageError(`unknown option ${quote(key)}; known options: ${[...KNOWN].join(', ')}`);
  }
  const like = given.like === undefined || given.like === null ? null : oneOf(label, 'like', LIKES, given.like, 'seed');
  let raw: LossOptions | FocalOptions = given;
  if (like !== null) {
    // Resolved options (made here, or a copy of them: every term present) have had the preset's convention applied.
    const resolved = RESOLVED.has(given) || TERM_KEYS.every((k) => k in given);
    raw = isDetectionPreset(like) ? applyDetectionPreset(like, given as LossOptions, label, resolved) : applyPreset(given as LossOptions, like);
  }
  const task = oneOf(label, 'task', TASKS, raw.task, DEFAULTS.task);
  const input = oneOf(label, 'input', INPUTS, raw.input, DEFAULTS.input);
  const reduction = oneOf(label, 'reduction', REDUCTIONS, raw.reduction, DEFAULTS.reduction);
  const dtype = oneOf(label, 'dtype', LOSS_DTYPES, raw.dtype, DEFAULTS.dtype);
  const form = oneOf(label, 'form', FORMS, raw.form, DEFAULTS.form);

  let alpha: number | readonly number[] | null;
  const a = raw.alpha === undefined ? DEFAULTS.alpha : raw.alpha;
  if (a === null || a === 'none') alpha = null;
  else if (unitInterval(a)) alpha = a;
  else if (Array.isArray(a) && a.length > 0 && a.every(unitInterval)) {
    if (task === 'binary') {
      throw new UsageError(`${label('alpha')} must be one number in [0, 1] or 'none' for task binary, got the list ${fmt(a)}`);
    }
    alpha = [...a];
  } else {
    throw new UsageError(`${label('alpha')} must be a number in [0, 1], a non-empty list of them, or 'none', got ${fmt(a)}`);
  }

  const gamma = raw.gamma === undefined ? DEFAULTS.gamma : raw.gamma;
  if (typeof gamma !== 'number' || !Number.isFinite(gamma) || gamma < 0) {
    throw new UsageError(`${label('gamma')} must be a finite number >= 0, got ${fmt(gamma)}`);
  }

  const eps = raw.eps === undefined ? DEFAULTS.eps : raw.eps;
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0 || eps >= 1) {
    throw new UsageError(`${label('eps')} must be a number in [0, 1), got ${fmt(eps)}`);
  }

  const opset = raw.opset === undefined ? DEFAULTS.opset : raw.opset;
  if (typeof opset !== 'number' || !Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new UsageError(`${label('opset')} must be an integer in [${MIN_OPSET}, ${MAX_OPSET}], got ${fmt(opset)}`);
  }

  const targets = oneOf(label, 'targets', TARGETS, raw.targets, DEFAULTS.targets);
  const soft = targets === 'soft';

  // A resolved float type equal to dtype (as in FocalOptions) reads as 'float', so normalizing is idempotent.
  const rawTarget = raw.targetDtype === (dtype as string) ? 'float' : raw.targetDtype;
  const indexFormat = task === 'multilabel' && raw.targetFormat === 'index';
  const t = oneOf(label, 'targetDtype', TARGET_DTYPES, rawTarget, (task === 'multiclass' && !soft) || indexFormat ? 'int64' : 'float');
  if (soft && t !== 'float') {
    throw new UsageError(`${label('targetDtype')} must be float (the prediction's type) with soft targets, got ${fmt(raw.targetDtype)}`);
  }
  if (((task === 'multiclass' && !soft) || indexFormat) && t !== 'int64' && t !== 'int32') {
    const what = task === 'multiclass' ? 'task multiclass' : `${label('targetFormat')} index`;
    throw new UsageError(`${label('targetDtype')} must be int64 or int32 for ${what} (class indices), got ${fmt(raw.targetDtype)}`);
  }
  const targetDtype = t === 'float' ? dtype : t;

  const labelSmoothing = raw.labelSmoothing === undefined ? DEFAULTS.labelSmoothing : raw.labelSmoothing;
  if (!unitInterval(labelSmoothing)) throw new UsageError(`${label('labelSmoothing')} must be a number in [0, 1], got ${fmt(labelSmoothing)}`);
  if (form === 'onehot' && (soft || labelSmoothing > 0)) {
    throw new UsageError(
      `${label('form')} onehot builds the seed's class mask of hard targets; ${soft ? `${label('targets')} soft` : label('labelSmoothing')} needs form arith`,
    );
  }

  const weight = oneOf(label, 'weight', WEIGHTS, raw.weight, DEFAULTS.weight);
  if (reduction === 'weighted-mean' && weight === 'none') {
    throw new UsageError(`${label('reduction')} weighted-mean is Σ w·l / Σ w and needs ${label('weight')} sample or element`);
  }

  const flag = (option: 'asFunction' | 'withGrad' | 'labelMean'): boolean => {
    const v = raw[option];
    if (v === undefined) return false;
    if (typeof v !== 'boolean') throw new UsageError(`${label(option)} must be true or false, got ${fmt(v)}`);
    return v;
  };
  // Averaging over the last axis changes only the multilabel loss ([N, L] → [N]); binary is one
  // label a row, multiclass already one loss a row.
  const labelMean = flag('labelMean') && task === 'multilabel';

  const terms = normalizeTerms(raw, { task, input, reduction, gamma, targetDtype: t, alphaLength: Array.isArray(alpha) ? alpha.length : undefined }, label);
  checkTermsWith(terms, { soft, labelSmoothing, weight, labelMean, reduction }, label);

  const out: FocalOptions = {
    task,
    input,
    alpha,
    gamma,
    reduction,
    eps,
    dtype,
    targetDtype,
    opset,
    form,
    asFunction: flag('asFunction'),
    withGrad: flag('withGrad'),
    targets,
    labelSmoothing,
    weight,
    labelMean,
    like,
    ...terms,
  };
  RESOLVED.add(out);
  return out;
}

/**
 * The detection terms with the options of soft targets and weights: FL* takes soft targets (its
 * formula is one of t); the other terms are built for hard targets, one loss per element, and the
 * plain mean.
 */
function checkTermsWith(terms: Terms, o: { soft: boolean; labelSmoothing: number; weight: string; labelMean: boolean; reduction: string }, label: Label): void {
  const used = TERM_KEYS.filter((k) => JSON.stringify(terms[k]) !== JSON.stringify(TERM_DEFAULTS[k]));
  if (used.length === 0) return;
  // FL* on soft targets (fvcore's star is a function of t): with its ignore value and positive weight too.
  const starOnly = terms.variant === 'star' && used.every((k) => k === 'variant' || k === 'ignoreIndex' || k === 'posWeight');
  const clash =
    o.labelSmoothing > 0 ? label('labelSmoothing') :
    o.soft && !starOnly ? `${label('targets')} soft` :
    o.labelMean ? label('labelMean') :
    o.reduction === 'weighted-mean' ? `${label('reduction')} weighted-mean` :
    o.weight !== 'none' && terms.normalized ? label('weight') : undefined;
  if (clash) throw new UsageError(`${label(used[0] as keyof LossOptions)} cannot be combined with ${clash}`);
}

// ---- metadata -----------------------------------------------------------------------------------

const META_PREFIX = 'focal.';

/** The options as `metadata_props` entries (`focal.task`, `focal.alpha`, …): strings, JSON for lists. */
export function optionsToMetadata(o: FocalOptions): Record<string, string> {
  const entries: Record<string, unknown> = {
    task: o.task,
    input: o.input,
    alpha: o.alpha === null ? 'none' : Array.isArray(o.alpha) ? JSON.stringify(o.alpha) : String(o.alpha),
    gamma: String(o.gamma),
    reduction: o.reduction,
    eps: String(o.eps),
    dtype: o.dtype,
    target_dtype: o.targetDtype,
    form: o.form,
    as_function: String(o.asFunction),
    with_grad: String(o.withGrad),
    ...termsToMetadata(o),
  };
  // The options beyond the seed's are written only where they differ from the default, so a model
  // of the default options keeps its bytes.
  if (o.targets !== DEFAULTS.targets) entries.targets = o.targets;
  if (o.labelSmoothing !== DEFAULTS.labelSmoothing) entries.label_smoothing = String(o.labelSmoothing);
  if (o.weight !== DEFAULTS.weight) entries.weight = o.weight;
  if (o.labelMean) entries.label_mean = 'true';
  if (o.like !== null) entries.like = o.like;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(entries)) out[META_PREFIX + k] = String(v);
  return out;
}

/**
 * Reads the options back from a model's metadata (the opset comes from the model itself).
 * Returns undefined when the model was not written by this tool.
 */
export function optionsFromMetadata(meta: Readonly<Record<string, string>>, opset: number): FocalOptions | undefined {
  const get = (k: string): string | undefined => meta[META_PREFIX + k];
  if (get('task') === undefined) return undefined;
  const alphaText = get('alpha');
  let alpha: LossOptions['alpha'];
  if (alphaText === undefined || alphaText === 'none') alpha = 'none';
  else if (alphaText.startsWith('[')) alpha = JSON.parse(alphaText) as number[];
  else alpha = Number(alphaText);
  const targetText = get('target_dtype');
  const dtype = get('dtype') as LossDType | undefined;
  const o = normalizeOptions({
    task: get('task') as Task,
    input: get('input') as InputKind,
    alpha,
    gamma: Number(get('gamma')),
    reduction: get('reduction') as Reduction,
    eps: Number(get('eps')),
    dtype,
    targetDtype: (targetText === dtype ? 'float' : targetText) as TargetDType,
    opset,
    form: get('form') as Form,
    asFunction: get('as_function') === 'true',
    withGrad: get('with_grad') === 'true',
    targets: (get('targets') ?? DEFAULTS.targets) as TargetKind,
    labelSmoothing: get('label_smoothing') === undefined ? 0 : Number(get('label_smoothing')),
    weight: (get('weight') ?? DEFAULTS.weight) as WeightKind,
    labelMean: get('label_mean') === 'true',
    // The options above are complete, so the preset overrides nothing: it is only carried.
    ...termsFromMetadata(get),
  });
  // The options are recorded resolved: the preset is named, not applied again.
  const like = get('like') as Like | undefined;
  if (!like) return o;
  const out = { ...o, like };
  RESOLVED.add(out);
  return out;
}
