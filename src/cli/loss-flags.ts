/**
 * The loss-option flags shared by `export` and `eval`, and their translation into `LossOptions`
 * (validated by `normalizeOptions`, whose messages then name the flag).
 */
import { UsageError, quote } from '../errors';
import {
  DEFAULTS,
  FORMS,
  INPUTS,
  LIKES,
  LOSS_DTYPES,
  LossOptions,
  REDUCTIONS,
  TARGETS,
  TARGET_DTYPES,
  TASKS,
  FocalOptions,
  Label,
  NORMALIZE_KINDS,
  TARGET_FORMATS,
  VARIANTS,
  normalizeOptions,
} from '../losses';
import { MAX_OPSET, MIN_OPSET } from '../onnx';
import { FlagSpecs, ParsedFlags } from './args';

export const LOSS_FLAGS = {
  task: { type: 'enum', values: TASKS, description: `the loss: ${TASKS.join(', ')} (default ${DEFAULTS.task})` },
  input: { type: 'enum', values: INPUTS, description: `what pred holds: probabilities or logits (default ${DEFAULTS.input})` },
  alpha: {
    type: 'string',
    placeholder: 'A|A1,A2,…|none',
    description: `α in [0, 1], one per label / class (comma-separated), or none (default ${DEFAULTS.alpha})`,
  },
  gamma: { type: 'number', min: 0, description: `γ >= 0, the focusing exponent (default ${DEFAULTS.gamma})` },
  reduction: {
    type: 'enum',
    values: REDUCTIONS,
    description: `mean, sum, none (per element), or weighted-mean: Σ w·l / Σ w (needs --weight) (default ${DEFAULTS.reduction})`,
  },
  // The range [0, 1) is checked by normalizeOptions, so every bad value gets the whole range.
  eps: { type: 'number', description: `clamp floor for p_t in [0, 1); 0 with logits: stable form (default ${DEFAULTS.eps})` },
  dtype: { type: 'enum', values: LOSS_DTYPES, description: `element type of pred and loss (default ${DEFAULTS.dtype})` },
  'target-dtype': {
    type: 'enum',
    values: TARGET_DTYPES,
    description: 'element type of target: float (as pred), int64, int32, uint8, bool (default: float; int64 for multiclass)',
  },
  opset: { type: 'number', integer: true, min: MIN_OPSET, max: MAX_OPSET, description: `ONNX opset (default ${DEFAULTS.opset})` },
  form: { type: 'enum', values: FORMS, description: `arith (fast) or onehot (the seed op for op) (default ${DEFAULTS.form})` },
  targets: {
    type: 'enum',
    values: TARGETS,
    description: `hard (0/1, class indices) or soft (in [0, 1]; multiclass [N, C] rows): the BCE term (default ${DEFAULTS.targets})`,
  },
  'label-smoothing': { type: 'number', placeholder: 'X', description: 'X in [0, 1], as Keras: t ← t·(1 − X) + X/2 (X/C for multiclass) (default 0)' },
  'label-mean': { type: 'boolean', description: "multilabel: average each row over its labels first (Keras' binary focal loss)" },
  like: {
    type: 'enum',
    values: LIKES,
    description: `take the defaults of a library's focal loss: ${LIKES.join(', ')}; any flag given overrides them`,
  },
  'target-format': {
    type: 'enum',
    values: TARGET_FORMATS,
    description: 'multilabel targets: dense (0/1 [N, L]) or index ([N] in [0, L], L the background, as mmdet / detectron2) (default dense)',
  },
  'ignore-index': { type: 'number', integer: true, placeholder: 'V', description: 'a target value (element, class index or index row) that adds nothing and is not counted' },
  normalize: {
    type: 'string',
    placeholder: 'elements|positives|input|X',
    description: 'what mean divides the sum by: the elements not ignored, max(1, positives), a graph input normalizer, or X (default elements)',
  },
  'class-weight': { type: 'string', placeholder: 'W1,W2,…', description: 'a multiplier per label (multilabel) or class (multiclass), >= 0' },
  'pos-weight': { type: 'string', placeholder: 'P|P1,P2,…', description: 'multiplies the positive term (binary / multilabel): one number or one per label' },
  variant: { type: 'enum', values: VARIANTS, description: "focal, or star: FL* (fvcore's sigmoid_focal_loss_star), −log σ(γ·x·(2t − 1))/γ · α_t, logits (default focal)" },
  normalized: { type: 'boolean', description: 'divide by Σ(1 − p_t)^γ, clamped at 1e-6 (normalized focal loss, smp)' },
  'reduced-threshold': { type: 'number', placeholder: 'X', description: 'reduced focal loss: ((1 − p_t)/X)^γ, and 1 where p_t < X (smp), X in (0, 1]' },
  'count-ignored': { type: 'boolean', description: "ignored elements still count in the mean (kornia's convention)" },
} as const satisfies FlagSpecs;

const FLAG_OF: Partial<Record<keyof LossOptions, string>> = {
  targetDtype: 'target-dtype',
  asFunction: 'as-function',
  withGrad: 'with-grad',
  labelSmoothing: 'label-smoothing',
  labelMean: 'label-mean',
  targetFormat: 'target-format',
  ignoreIndex: 'ignore-index',
  classWeight: 'class-weight',
  posWeight: 'pos-weight',
  reducedThreshold: 'reduced-threshold',
  countIgnored: 'count-ignored',
};

/** Names an option by its flag in messages. */
export const flagLabel: Label = (option) => `--${FLAG_OF[option] ?? option}`;

/** Parses `--alpha`: a number, a comma-separated list, or none. */
export function parseAlpha(text: string): LossOptions['alpha'] {
  if (text.trim().toLowerCase() === 'none') return 'none';
  // torchvision's and fvcore's "no α" (kept as −1 here; --like torchvision / fvcore reads it as none).
  if (text.trim() === '-1') return -1;
  const parts = text.split(',').map((s) => s.trim());
  const nums = parts.map((s) => (s === '' ? NaN : Number(s)));
  if (nums.some((x) => !Number.isFinite(x))) {
    throw new UsageError(`--alpha must be a number in [0, 1], a comma-separated list of them, or none, got ${quote(text)}`);
  }
  return parts.length === 1 ? nums[0] : nums;
}

/** A comma-separated list of finite numbers (`--class-weight`, `--pos-weight`); one number stays a number where `single`. */
export function parseNumbers(flag: string, text: string, single: boolean): number | number[] {
  const parts = text.split(',').map((x) => x.trim());
  const nums = parts.map((x) => (x === '' ? NaN : Number(x)));
  if (nums.some((x) => !Number.isFinite(x))) throw new UsageError(`--${flag} must be a comma-separated list of numbers >= 0, got ${quote(text)}`);
  return single && nums.length === 1 ? nums[0] : nums;
}

/** `--normalize`: elements, positives, input, or a number. */
export function parseNormalize(text: string): LossOptions['normalize'] {
  if ((NORMALIZE_KINDS as readonly string[]).includes(text)) return text as LossOptions['normalize'];
  const n = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(n)) throw new UsageError(`--normalize must be elements, positives, input or a number > 0, got ${quote(text)}`);
  return n;
}

/** Loss options from parsed flags (plus extras such as asFunction), validated. */
export function lossOptionsFromFlags(flags: ParsedFlags<typeof LOSS_FLAGS>, extra: LossOptions = {}): FocalOptions {
  const raw: LossOptions = { ...extra };
  if (flags.task !== undefined) raw.task = flags.task as LossOptions['task'];
  if (flags.input !== undefined) raw.input = flags.input as LossOptions['input'];
  if (flags.alpha !== undefined) raw.alpha = parseAlpha(flags.alpha);
  if (flags.gamma !== undefined) raw.gamma = flags.gamma;
  if (flags.reduction !== undefined) raw.reduction = flags.reduction as LossOptions['reduction'];
  if (flags.eps !== undefined) raw.eps = flags.eps;
  if (flags.dtype !== undefined) raw.dtype = flags.dtype as LossOptions['dtype'];
  if (flags['target-dtype'] !== undefined) raw.targetDtype = flags['target-dtype'] as LossOptions['targetDtype'];
  if (flags.opset !== undefined) raw.opset = flags.opset;
  if (flags.form !== undefined) raw.form = flags.form as LossOptions['form'];
  if (flags.targets !== undefined) raw.targets = flags.targets as LossOptions['targets'];
  if (flags['label-smoothing'] !== undefined) raw.labelSmoothing = flags['label-smoothing'];
  if (flags['label-mean'] !== undefined) raw.labelMean = flags['label-mean'];
  if (flags.like !== undefined) raw.like = flags.like as LossOptions['like'];
  if (flags['target-format'] !== undefined) raw.targetFormat = flags['target-format'] as LossOptions['targetFormat'];
  if (flags['ignore-index'] !== undefined) raw.ignoreIndex = flags['ignore-index'];
  if (flags.normalize !== undefined) raw.normalize = parseNormalize(flags.normalize);
  if (flags['class-weight'] !== undefined) raw.classWeight = parseNumbers('class-weight', flags['class-weight'], false) as number[];
  if (flags['pos-weight'] !== undefined) raw.posWeight = parseNumbers('pos-weight', flags['pos-weight'], true);
  if (flags.variant !== undefined) raw.variant = flags.variant as LossOptions['variant'];
  if (flags.normalized !== undefined) raw.normalized = flags.normalized;
  if (flags['reduced-threshold'] !== undefined) raw.reducedThreshold = flags['reduced-threshold'];
  if (flags['count-ignored'] !== undefined) raw.countIgnored = flags['count-ignored'];
  return normalizeOptions(raw, flagLabel);
}

/** Whether any loss-option flag was given (eval: options vs --model). */
export function hasLossFlags(flags: ParsedFlags<typeof LOSS_FLAGS>): boolean {
  return Object.keys(LOSS_FLAGS).some((k) => flags[k as keyof typeof LOSS_FLAGS] !== undefined);
}
