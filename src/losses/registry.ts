/**
 * The loss options, one entry each: its name in the API, its flag on the command line, its
 * default, how its flag's text is read, how a value is checked (the message names the option, or
 * through `label` the flag), its `metadata_props` key, its attribute on the `ai.focal` function
 * node, and its help text. normalizeOptions, the metadata, the function attributes, the flags of
 * `export`, `attach` and `eval`, their help and docs/cli.md are all made from this table.
 *
 * The table's order is the metadata's order (a model's bytes depend on it).
 */
import { UsageError, quote } from '../errors';
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET } from '../onnx';
import {
  ACCUMULATE,
  FORMS,
  INPUTS,
  LIKES,
  LOSS_DTYPES,
  NORMALIZE_KINDS,
  REDUCTIONS,
  SEED_EPS,
  TARGETS,
  TARGET_DTYPES,
  TARGET_FORMATS,
  TASKS,
  VARIANTS,
  WEIGHTS,
} from './vocabulary';
import type { FocalOptions, LossOptions, SourceOption } from './vocabulary';

/** How a flag's value is written on the command line (the shape of the CLI's FlagSpec, without its description). */
export type FlagKind =
  | { readonly type: 'enum'; readonly values: readonly string[] }
  | { readonly type: 'number'; readonly placeholder?: string; readonly min?: number; readonly max?: number; readonly integer?: boolean }
  | { readonly type: 'string'; readonly placeholder: string }
  | { readonly type: 'boolean'; readonly values?: readonly string[] };

export interface OptionEntry {
  readonly name: keyof LossOptions;
  /** The flag without its dashes (the name in kebab case); none for an option of the API only. */
  readonly flag?: string;
  readonly cli: FlagKind;
  readonly help: string;
  /** More than the help line, for docs/cli.md (markdown). */
  readonly doc?: string;
  /** The normalized default (the seed's). */
  readonly default: unknown;
  /** The flag's text as the option's value (string flags; the CLI's parser reads the others); `flag` is '--name'. */
  readonly parse?: (text: string, flag: string) => unknown;
  /** A value given (not undefined), checked on its own; `name` is how the user wrote the option. */
  readonly check?: (value: unknown, name: string) => unknown;
  /** `focal.KEY` in the metadata (the name in snake case); `always`: written even at the default (the seed's options). */
  readonly meta?: { readonly key: string; readonly always: boolean };
  /** The attribute of the `ai.focal` node (the name in snake case); `always`: even at the default; `int`: an integer. */
  readonly attr?: { readonly name: string; readonly always: boolean; readonly int: boolean; readonly codes?: Readonly<Record<string, number>> };
}

export function fmt(x: unknown): string {
  if (typeof x === 'string') return quote(x);
  if (Array.isArray(x)) return `[${x.map(fmt).join(', ')}]`;
  return String(x);
}

/** Whether two option values are the same (lists by their entries). */
export const same = (a: unknown, b: unknown): boolean => a === b || (typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b));

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const unitInterval = (x: unknown): x is number => finite(x) && x >= 0 && x <= 1;
export const nonNegative = (x: unknown): x is number => finite(x) && x >= 0;
/** A non-empty list whose every entry is `ok`. */
export const listOf = (ok: (x: unknown) => boolean) => (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every(ok);

/** A check that passes `ok` values and throws `${name} must be ${what}, got …` for the others. */
const must = (ok: (v: unknown) => boolean, what: string) => (v: unknown, name: string) => {
  if (!ok(v)) throw new UsageError(`${name} must be ${what}, got ${fmt(v)}`);
  return v;
};
const oneOf = (values: readonly string[]) => must((v) => typeof v === 'string' && values.includes(v), `one of ${values.join(', ')}`);
const bool = must((v) => typeof v === 'boolean', 'true or false');
/** null stays null (off); other values must pass `check`. */
const orNull = (check: (v: unknown, name: string) => unknown) => (v: unknown, name: string) => (v === null ? null : check(v, name));
const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A comma-separated list of finite numbers (one number stays a number where `single`). */
function numbers(text: string, flag: string, single: boolean, what: string): number | number[] {
  const nums = text.split(',').map((s) => (s.trim() === '' ? NaN : Number(s)));
  if (nums.some((x) => !Number.isFinite(x))) throw new UsageError(`${flag} must be ${what}, got ${quote(text)}`);
  return single && nums.length === 1 ? nums[0] : nums;
}

type Where = 'always' | 'changed';
type Spec = Omit<OptionEntry, 'name' | 'flag' | 'meta' | 'attr' | 'cli' | 'default'> &
  Partial<Pick<OptionEntry, 'cli' | 'default'>> & { readonly flag?: false; readonly meta?: Where; readonly attr?: Where | 'int'; readonly codes?: Readonly<Record<string, number>> };

/** An entry: names from `name`; an enum's default its first value, a boolean's false. */
function option(name: keyof LossOptions, cli: FlagKind, s: Spec): OptionEntry {
  const as = snake(name);
  return {
    ...s,
    name,
    cli: s.cli ?? cli,
    flag: s.flag === false ? undefined : as.replace(/_/g, '-'),
    default: 'default' in s ? s.default : cli.type === 'enum' ? cli.values[0] : cli.type === 'boolean' ? false : undefined,
    check: 'check' in s ? s.check : cli.type === 'enum' ? oneOf(cli.values) : cli.type === 'boolean' ? bool : undefined,
    meta: s.meta && { key: as, always: s.meta === 'always' },
    attr: s.attr && { name: as, always: s.attr === 'always', int: s.attr === 'int', ...(s.codes ? { codes: s.codes } : {}) },
  };
}
const choice = (values: readonly string[]): FlagKind => ({ type: 'enum', values });
const BOOLEAN: FlagKind = { type: 'boolean' };
const number = (placeholder?: string, more: Omit<Extract<FlagKind, { type: 'number' }>, 'type'> = {}): FlagKind => ({ type: 'number', placeholder, ...more });
const text = (placeholder: string): FlagKind => ({ type: 'string', placeholder });

export const OPTIONS: readonly OptionEntry[] = [
  option('task', choice(TASKS), {
    help: 'the loss: binary, multilabel, multiclass',
    doc: "`binary` (the seed's `FocalLoss`: pred, target [N]), `multilabel` (`FocalLoss_MultiLabel`: [N, L]), `multiclass` (pred [N, C], target [N] class indices)",
    meta: 'always',
  }),
  option('input', choice(INPUTS), {
    help: 'what pred holds: probabilities or logits',
    doc: '`probs` (the seed) or `logits` (Sigmoid / Softmax first, computed in the log domain)',
    meta: 'always',
  }),
  option('alpha', text('A|A1,A2,…|none'), {
    help: 'α in [0, 1], one per label / class (comma-separated), or none',
    default: 0.25,
    // -1 is torchvision's and fvcore's "no α" (--like torchvision / fvcore reads it as none).
    parse: (t, flag) => (t.trim().toLowerCase() === 'none' ? 'none' : t.trim() === '-1' ? -1 : numbers(t, flag, true, 'a number in [0, 1], a comma-separated list of them, or none')),
    check: (a, name) => {
      if (a === null || a === 'none') return null;
      if (unitInterval(a)) return a;
      if (listOf(unitInterval)(a)) return [...a];
      throw new UsageError(`${name} must be a number in [0, 1], a non-empty list of them, or 'none', got ${fmt(a)}`);
    },
    meta: 'always', attr: 'always',
  }),
  option('gamma', number('G', { min: 0 }), {
    help: 'γ >= 0, the focusing exponent',
    doc: 'any real ≥ 0; γ = 0 is the clamped cross-entropy',
    default: 2, check: must(nonNegative, 'a finite number >= 0'),
    meta: 'always', attr: 'always',
  }),
  option('reduction', choice(REDUCTIONS), {
    help: 'mean, sum, none (per element), or weighted-mean: Σ w·l / Σ w (needs --weight)',
    doc: '`mean`, `sum`, `none` (per element: shaped like pred; [N] for multiclass and `--label-mean`), `weighted-mean` (needs `--weight`)',
    meta: 'always', attr: 'always',
  }),
  // The range [0, 1) is checked here, not by the flag parser, so every bad value gets the whole range.
  option('eps', number('E'), {
    help: `clamp floor for p_t in [0, 1); 0 with logits: stable form`,
    doc: 'the clamp floor in [0, 1); `0` with logits is the stable log-sigmoid / log-softmax form of torchvision and kornia',
    default: SEED_EPS, check: must((e) => finite(e) && e >= 0 && e < 1, 'a number in [0, 1)'),
    meta: 'always', attr: 'always',
  }),
  option('dtype', choice(LOSS_DTYPES), {
    help: 'element type of pred and loss',
    doc: '`float32`, `float64`, `float16` (half inputs and outputs, computed in float32 inside)',
    meta: 'always',
  }),
  // Its default and its rules depend on the task and the targets: normalizeOptions resolves it.
  option('targetDtype', choice(TARGET_DTYPES), {
    help: 'element type of target: float (as pred), int64, int32, uint8, bool (default: float; int64 for multiclass)',
    check: undefined, meta: 'always',
  }),
  option('opset', number('N', { integer: true, min: MIN_OPSET, max: MAX_OPSET }), {
    help: `ONNX opset, ${MIN_OPSET}–${MAX_OPSET}`,
    doc: `${MIN_OPSET}–${MAX_OPSET}; the model gets the lowest IR version its opset needs`,
    default: DEFAULT_OPSET,
    check: must((v) => Number.isInteger(v) && (v as number) >= MIN_OPSET && (v as number) <= MAX_OPSET, `an integer in [${MIN_OPSET}, ${MAX_OPSET}]`),
  }),
  option('form', choice(FORMS), {
    help: 'arith (fast) or onehot (the seed op for op)',
    doc: '`arith` (fast) or `onehot` (the seed op for op: Concat, OneHot mask, masked sum)',
    meta: 'always',
  }),
  option('asFunction', BOOLEAN, {
    help: 'emit the loss as one ai.focal node defined by a model-local function',
    doc: 'one `ai.focal` node (`BinaryFocalLoss`, `MultiLabelFocalLoss`, `MultiClassFocalLoss`) with attributes alpha, gamma, eps, reduction (and the other options below that have one), defined by a model-local function',
    meta: 'always',
  }),
  option('withGrad', BOOLEAN, {
    help: 'add an output grad = d(loss)/d(pred)',
    doc: 'a second output `grad` = d(loss)/d(pred) (for `none`, of the sum)',
    meta: 'always',
  }),
  option('targetFormat', choice(TARGET_FORMATS), {
    help: 'multilabel targets: dense (0/1 [N, L]) or index ([N] in [0, L], L the background, as mmdet / detectron2)',
    meta: 'changed', attr: 'changed',
  }),
  option('ignoreIndex', number('V', { integer: true }), {
    help: 'a target value (element, class index or index row) that adds nothing and is not counted',
    default: null, check: orNull(must((v) => Number.isInteger(v) && Math.abs(v as number) <= 2 ** 31 - 1, 'an integer (a target value to ignore)')),
    meta: 'changed', attr: 'int',
  }),
  option('normalize', text('elements|positives|input|X'), {
    help: 'what mean divides the sum by: the elements not ignored, max(1, positives), a graph input normalizer, or X',
    default: 'elements',
    parse: (t, flag) => {
      if ((NORMALIZE_KINDS as readonly string[]).includes(t)) return t;
      const n = t.trim() === '' ? NaN : Number(t);
      if (!Number.isFinite(n)) throw new UsageError(`${flag} must be elements, positives, input or a number > 0, got ${quote(t)}`);
      return n;
    },
    check: must((n) => (finite(n) && n > 0) || (NORMALIZE_KINDS as readonly unknown[]).includes(n), 'elements, positives, input or a number > 0'),
    meta: 'changed', attr: 'changed',
  }),
  option('classWeight', text('W1,W2,…'), {
    help: 'a multiplier per label (multilabel) or class (multiclass), >= 0',
    default: null,
    parse: (t, flag) => numbers(t, flag, false, 'a comma-separated list of numbers >= 0'),
    check: orNull(must(listOf(nonNegative), 'a non-empty list of numbers >= 0 (one per label / class)')),
    meta: 'changed', attr: 'changed',
  }),
  // Checked with the task (normalizeOptions): multiclass refuses it whatever it is.
  option('posWeight', text('P|P1,P2,…'), {
    help: 'multiplies the positive term (binary / multilabel): one number or one per label',
    default: null,
    parse: (t, flag) => numbers(t, flag, true, 'a comma-separated list of numbers >= 0'),
    meta: 'changed', attr: 'changed',
  }),
  option('variant', choice(VARIANTS), { help: "focal, or star: FL* (fvcore's sigmoid_focal_loss_star), −log σ(γ·x·(2t − 1))/γ · α_t, logits", meta: 'changed', attr: 'changed' }),
  // A boolean flag that also takes the value label: --normalized (all), --normalized label.
  option('normalized', { type: 'boolean', values: ['label'] }, {
    help: 'divide by Σ(1 − p_t)^γ, clamped at 1e-6 (normalized focal loss, smp); --normalized label: each label by its own sum',
    doc:
      'divide by Σ(1 − p_t)^γ over the elements not ignored, clamped at 1e-6 (arXiv 1909.07829); `--normalized label` (API `normalized: \'label\'`, multilabel): ' +
      "each label by its own Σ(1 − p_t)^γ over that label's elements, as smp's multiclass and multilabel modes normalize each class",
    check: must((v) => typeof v === 'boolean' || v === 'label', "true, false or 'label'"),
    meta: 'changed', attr: 'int', codes: { label: 2 },
  }),
  option('reducedThreshold', number('X'), {
    help: 'reduced focal loss: ((1 − p_t)/X)^γ, and 1 where p_t < X (smp), X in (0, 1]',
    doc: 'the focal term is ((1 − p_t)/X)^γ, and 1 where p_t < X (arXiv 1903.01347)',
    default: null, check: orNull(must((x) => finite(x) && x > 0 && x <= 1, 'a number in (0, 1]')),
    meta: 'changed', attr: 'changed',
  }),
  option('countIgnored', BOOLEAN, { help: "ignored elements still count in the mean (kornia's convention)", meta: 'changed', attr: 'int' }),
  option('targets', choice(TARGETS), {
    help: 'hard (0/1, class indices) or soft (in [0, 1]; multiclass [N, C] rows): the BCE term',
    doc:
      "`hard` (0/1; class indices for multiclass: the seed's) or `soft`: t in [0, 1] and the binary cross-entropy, α_t·(1 − p_t)^γ·BCE(p, t) with p_t = t·p + (1 − t)(1 − p), " +
      "α_t = t·α + (1 − t)(1 − α); multiclass targets [N, C] of class probabilities, Σ_c −α·(1 − p_c)^γ·t_c·log p_c (Keras'). With soft targets eps clips p to [eps, 1 − eps] " +
      "inside the cross-entropy (Keras' clip), not p_t. For 0/1 targets and eps 0 it is the hard loss",
    meta: 'changed', attr: 'changed',
  }),
  option('labelSmoothing', number('X'), {
    help: 'X in [0, 1], as Keras: t ← t·(1 − X) + X/2 (X/C for multiclass)',
    doc: 'X in [0, 1], as Keras: binary t ← t·(1 − X) + X/2, multiclass t ← onehot·(1 − X) + X/C (also of class indices), then the soft form',
    default: 0, check: must(unitInterval, 'a number in [0, 1]'),
    meta: 'changed', attr: 'changed',
  }),
  option('weight', choice(WEIGHTS), {
    cli: choice(['sample', 'element']),
    help: 'add a graph input weight: per sample ([N], broadcast over labels) or per element (shaped like the per-element loss)',
    doc:
      "a graph input `weight`: `sample` ([N], broadcast over labels) or `element` (shaped like the per-element loss); mean is then Σ w·l / count (torchvision-style, Keras' " +
      "`sum_over_batch_size`), `--reduction weighted-mean` Σ w·l / Σ w (Keras' `mean_with_sample_weight`). eval: `--weight W.npy`, whose shape decides",
    meta: 'changed', attr: 'changed',
  }),
  option('labelMean', BOOLEAN, { help: "multilabel: average each row over its labels first (Keras' binary focal loss)", meta: 'changed', attr: 'int' }),
  option('spatialMean', BOOLEAN, {
    help: "reduction sum: average over the spatial axes first, then sum (MONAI's sum; on [N, C] the mean of all; set by --like monai)",
    doc:
      "with `--reduction sum`, Σ l divided by the product of the spatial axes (all but the first and the label axis; binary: all after axis 1), " +
      "MONAI's `FocalLoss(reduction='sum')`; on predictions of rank ≤ 2 (no spatial axes) MONAI's `mean(dim=[])` averages every element, and so does this. Set by `--like monai`; other reductions ignore it",
    meta: 'changed', attr: 'int',
  }),
  option('labelAxis', number('N', { integer: true }), {
    help: 'the axis of pred holding the labels / classes: -1 (last) or 1 for channel-first [B, C, H, W]',
    doc:
      'multilabel and multiclass: the axis of pred (and of dense targets) that holds the labels / classes, counted from 0 (negative from the end; not the first axis): ' +
      '`-1` (the default, the last) or `1` for channel-first tensors as smp, MONAI and kornia give them ([B, C, H, W]); the graph and eval read the labels there, no transpose. ' +
      'Index targets (multiclass, `--target-format index`) are pred\'s shape without that axis ([B, H, W]). Multiclass takes its classes on axis 1',
    default: -1, check: must((v) => Number.isInteger(v) && v !== 0 && Math.abs(v as number) <= 64, 'a non-zero integer (an axis of pred, not the first)'),
    meta: 'changed', attr: 'int',
  }),
  option('accumulate', choice(ACCUMULATE), {
    help: 'the type a float32 / float16 model adds its mean / sum in: float64 (exact) or float32',
    doc:
      'the type the mean, sum and weighted mean (and Σ(1 − p_t)^γ of `--normalized`) of a float32 or float16 model add their elements in: `float64` (a Cast, then ReduceSum in float64: ' +
      'within 1e-6 relative of the float64 loss at 10^6 elements and beyond) or `float32` (onnxruntime\'s float32 ReduceSum, ~4e-5 relative off at 10^6 elements; bench/README.md has the cost). float64 models add in float64 either way',
    meta: 'changed', attr: 'changed',
  }),
  option('perImage', BOOLEAN, {
    help: "mean per image: each image's (axis 0's) sum over its own divisor (--normalize), then the images averaged (torchvision RetinaNet)",
    doc:
      "with `--reduction mean` on predictions of rank ≥ 3 ([B, K, C]; binary ≥ 2): each image's sum divided by that image's own divisor — `--normalize positives` " +
      "max(1, its positives), `elements` its elements not ignored, or the number — and the B results averaged: torchvision's `RetinaNet` classification loss " +
      '(`--like detectron2 --per-image --ignore-index -2` with its matcher\'s labels). export builds it on [B, K, L] (binary [B, K]), attach on the network\'s output; eval\'s batches hold whole images',
    meta: 'changed', attr: 'int',
  }),
  option('normalizeOffset', number(), {
    flag: false,
    help: "added once to a numeric normalize (mmdet's float32 eps on avg_factor; set by --like mmdet)",
    default: 0, check: must(nonNegative, 'a finite number >= 0'),
  }),
  option('like', choice(LIKES), {
    help: `take the defaults of a library's focal loss: ${LIKES.join(', ')}; any flag given overrides them`,
    doc:
      "`seed`, `torchvision`, `fvcore`, `optax`, `keras`: that library's defaults (docs/conventions.md, *The libraries' focal losses*); `mmdet`, `detectron2`, `smp`, `kornia`, " +
      '`monai` (docs/conventions.md, *Detection and segmentation*); any flag given overrides them. Recorded as `focal.like`',
    default: null, check: orNull(oneOf(LIKES)),
    meta: 'changed',
  }),
];

/** The help line of an option's flag: its help and its default (when it has one). */
export const helpLine = (e: OptionEntry): string =>
  e.default === null || e.default === false || e.help.includes('(default') ? e.help : `${e.help} (default ${e.default})`;

export const OPTION: Readonly<Record<keyof LossOptions, OptionEntry>> = Object.fromEntries(OPTIONS.map((e) => [e.name, e])) as Record<keyof LossOptions, OptionEntry>;

/** Every option's default, as the normalized options hold it (targetDtype: 'float', the pred's type). */
export const DEFAULT_VALUES = Object.fromEntries(OPTIONS.map((e) => [e.name, e.default])) as Record<keyof FocalOptions, unknown>;

/** The flag of an option in messages: `--class-weight` (the option's name for API-only options). */
export const flagOf = (option: keyof LossOptions | SourceOption): string => (option === 'feeds' ? '--feed' : `--${OPTION[option as keyof LossOptions]?.flag ?? option}`);
