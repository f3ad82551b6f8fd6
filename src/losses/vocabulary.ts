/**
 * The words of the loss options: tasks, reductions, kinds, element types, the presets' names, and
 * the options' types. A leaf: it imports nothing, so every module can import it without a circle.
 */

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
export const TARGET_FORMATS = ['dense', 'index'] as const;
export const NORMALIZE_KINDS = ['elements', 'positives', 'input'] as const;
export const VARIANTS = ['focal', 'star'] as const;
/** The type a float32 (or float16) graph's mean / sum adds its elements in: float64 (exact to float32's rounding) or float32. */
export const ACCUMULATE = ['float64', 'float32'] as const;

/** The libraries whose focal loss a preset reproduces (presets.ts). */
export const BASE_LIKES = ['seed', 'torchvision', 'fvcore', 'optax', 'keras'] as const;
export const DETECTION_PRESET_NAMES = ['mmdet', 'detectron2', 'smp', 'kornia', 'monai'] as const;
export const LIKES = [...BASE_LIKES, ...DETECTION_PRESET_NAMES] as const;

export type Task = (typeof TASKS)[number];
export type InputKind = (typeof INPUTS)[number];
export type Reduction = (typeof REDUCTIONS)[number];
export type Form = (typeof FORMS)[number];
export type LossDType = (typeof LOSS_DTYPES)[number];
export type TargetDType = (typeof TARGET_DTYPES)[number];
export type TargetKind = (typeof TARGETS)[number];
export type WeightKind = (typeof WEIGHTS)[number];
export type TargetFormat = (typeof TARGET_FORMATS)[number];
export type NormalizeKind = (typeof NORMALIZE_KINDS)[number];
export type Normalize = NormalizeKind | number;
export type Variant = (typeof VARIANTS)[number];
export type Accumulate = (typeof ACCUMULATE)[number];
export type BaseLike = (typeof BASE_LIKES)[number];
export type DetectionPreset = (typeof DETECTION_PRESET_NAMES)[number];
export type Like = (typeof LIKES)[number];

/** The seed's clamp floor: `probs.clamp(min=0.0001, max=1.0)`. */
export const SEED_EPS = 1e-4;
/** The smp / arXiv 1909.07829 clamp of the normalized loss's denominator. */
export const NORMALIZED_FLOOR = 1e-6;
/** float32's machine epsilon, which mmdet adds to `avg_factor`. */
export const F32_EPS = 2 ** -23;

/** The detection and segmentation terms as a user gives them (part of LossOptions); see terms.ts. */
export interface TermOptions {
  /** `dense` (a 0/1 target per element) or `index` (multilabel: [N] class indices in [0, L], L the background). */
  targetFormat?: TargetFormat;
  /** A target value (binary / multi-label element, multi-class or index row) that adds nothing and is not counted. */
  ignoreIndex?: number | null;
  /** The divisor of reduction mean: `elements`, `positives`, `input` (a graph input `normalizer`) or a number. */
  normalize?: Normalize;
  /** Per-label (multilabel) or per-class (multiclass) loss multipliers, ≥ 0. */
  classWeight?: readonly number[] | null;
  /** The multiplier of the positive term (binary / multilabel): one number ≥ 0, or one per label. */
  posWeight?: number | readonly number[] | null;
  /** `focal` or `star` (FL*, fvcore's sigmoid_focal_loss_star; logits, binary / multilabel). */
  variant?: Variant;
  /** Divide by Σ(1 − p_t)^γ, clamped at 1e-6 (smp's normalized): `true` over every element not ignored, `'label'` each label by its own (multilabel). */
  normalized?: boolean | 'label';
  /** The reduced focal loss's threshold X in (0, 1]: ((1 − p_t)/X)^γ, and 1 where p_t < X. */
  reducedThreshold?: number | null;
  /** Ignored elements still count in the mean's element count (kornia's convention). */
  countIgnored?: boolean;
}

/**
 * Options as a user gives them; every field is optional and defaults to the seed's choice. Each
 * is an entry of registry.ts, with its flag, default and help (docs/cli.md lists them).
 */
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
  /** Element type of target: 'float' (the pred's type; its name is accepted too) or an integer / bool type. */
  targetDtype?: TargetDType | LossDType;
  opset?: number;
  form?: Form;
  /** Emit the loss as one `ai.focal` node defined by a model-local function. */
  asFunction?: boolean;
  /** Add an output `grad` = d(loss)/d(pred). */
  withGrad?: boolean;
  /** `hard` (0/1, class indices for multiclass) or `soft`: t in [0, 1] and the BCE term (Keras'; eps clips p inside it). */
  targets?: TargetKind;
  /** X in [0, 1], as Keras: binary t ← t·(1 − X) + X/2, multiclass t ← onehot·(1 − X) + X/C (the soft form). */
  labelSmoothing?: number;
  /** A graph input `weight` multiplying each element's loss: per sample ([N]) or per element. */
  weight?: WeightKind;
  /** Multilabel: average each row over its labels first (Keras' binary focal loss): per-sample losses [N]. */
  labelMean?: boolean;
  /** Reduction sum averages over the spatial axes first, then sums (MONAI's `reduction='sum'`; docs/cli.md, `--spatial-mean`). */
  spatialMean?: boolean;
  /** The axis of pred holding the labels / classes: −1 (the last) or 1 for channel-first [B, C, H, W] (multiclass: axis 1). */
  labelAxis?: number;
  /** The type a float32 / float16 model's mean and sum add in: `float64` (within float32's rounding) or `float32` (onnxruntime's ReduceSum). */
  accumulate?: Accumulate;
  /** Reduction mean per image (axis 0): each image's sum over its own divisor (`normalize`), then the images averaged (torchvision's RetinaNet). */
  perImage?: boolean;
  /** Added once to a numeric `normalize` (mmdet's float32 eps on avg_factor, set by its preset); normalized options carry 0. */
  normalizeOffset?: number;
  /** A library preset (see presets.ts) applied under the options given; null for none. */
  like?: Like | null;
}

type Filled<T> = { readonly [K in keyof T]-?: Exclude<T[K], undefined> };

/** The terms, validated, every default filled in. */
export type Terms = Filled<TermOptions>;

/**
 * Validated options with every default filled in: `alpha` null for no weighting, `targetDtype`
 * resolved ('float' becomes the pred's dtype), `labelMean` false but for multilabel.
 */
export interface FocalOptions extends Filled<Omit<LossOptions, 'alpha' | 'targetDtype'>> {
  readonly alpha: number | readonly number[] | null;
  readonly targetDtype: LossDType | Exclude<TargetDType, 'float'>;
}

/**
 * The options of the evaluator's sources that messages name besides the loss options (the model,
 * the network and its output and feeds, where the losses go, the execution provider); the CLI's
 * flags for them are --NAME (`feeds`: --feed).
 */
export type SourceOption = 'model' | 'network' | 'output' | 'feeds' | 'out' | 'ep';
/** How an option is named in messages: the option itself by default, the CLI passes its flags. */
export type Label = (option: keyof LossOptions | SourceOption) => string;
/** Options named as the API names them (the CLI passes its flag names instead). */
export const plain: Label = (o) => o;
