/**
 * Focal-loss options: validation into a normalized object (the table of options is registry.ts,
 * the words vocabulary.ts), and their record in a model's `metadata_props`.
 *
 * Options are validated once, here, at the edge. Each error names the option (or, through
 * `label`, the CLI flag), the accepted range and the value received:
 * `gamma must be a finite number >= 0, got -1`. Normalizing is idempotent: normalized options
 * normalize to themselves (a preset is data laid under the options given, once).
 */
import { UsageError, quote } from '../errors';
import { Attr, attr } from '../onnx';
import { indexTargets } from './shapes';
import { applyPreset } from './presets';
import { DEFAULT_VALUES, OPTION, OPTIONS, OptionEntry, fmt, listOf, nonNegative, same } from './registry';
import { TARGET_DTYPES, plain } from './vocabulary';
import type { FocalOptions, Label, Like, LossOptions, Terms } from './vocabulary';

export * from './vocabulary';

/** Whether the graph computes the soft form (soft targets, or label smoothing of hard ones). */
export function usesSoftForm(o: FocalOptions): boolean {
  return o.targets === 'soft' || o.labelSmoothing > 0;
}

/** The detection and segmentation terms (terms.ts), in the table's order. */
const TERM_KEYS = ['targetFormat', 'ignoreIndex', 'normalize', 'classWeight', 'posWeight', 'variant', 'normalized', 'reducedThreshold', 'countIgnored'] as const;
const usedTerms = (t: Terms): (typeof TERM_KEYS)[number][] => TERM_KEYS.filter((k) => !same(t[k], DEFAULT_VALUES[k]));

/** Whether any term differs from the plain focal loss (the seed's formula). */
export function hasTerms(t: Terms): boolean {
  return usedTerms(t).length > 0;
}

const DEFAULT_KEYS = ['task', 'input', 'alpha', 'gamma', 'reduction', 'eps', 'dtype', 'opset', 'form', 'asFunction', 'withGrad', 'targets', 'labelSmoothing', 'weight', 'labelMean', 'like'] as const;
/** The seed's defaults of the main options (every option's is in registry.ts). */
export const DEFAULTS = Object.fromEntries(DEFAULT_KEYS.map((k) => [k, DEFAULT_VALUES[k]])) as Readonly<Pick<FocalOptions, (typeof DEFAULT_KEYS)[number]>>;

/** An option's value: its default where not given, else as its entry checks it. */
const valueOf = (e: OptionEntry, x: unknown, label: Label): unknown => (x === undefined ? e.default : e.check ? e.check(x, label(e.name)) : x);

/**
 * Validates `given` and fills in the defaults: the preset `like` names (presets.ts), under the
 * options given, then the seed's. Throws a UsageError naming the first bad option.
 */
export function normalizeOptions(given: LossOptions | FocalOptions = {}, label: Label = plain): FocalOptions {
  for (const key of Object.keys(given)) {
    if (!(key in OPTION)) throw new UsageError(`unknown option ${quote(key)}; known options: ${OPTIONS.map((e) => e.name).join(', ')}`);
  }
  // The preset first, checked by its entry, then each option on its own in the table's order.
  const like = valueOf(OPTION.like, given.like, label) as Like | null;
  const raw: LossOptions = like === null ? given : applyPreset(given as LossOptions, like, label);
  const v: Record<string, unknown> = {};
  for (const e of OPTIONS) v[e.name] = valueOf(e, raw[e.name], label);
  const o = v as { -readonly [K in keyof FocalOptions]: FocalOptions[K] };
  const L = label;
  const task = o.task;

  if (Array.isArray(o.alpha) && task === 'binary') {
    throw new UsageError(`${L('alpha')} must be one number in [0, 1] or 'none' for task binary, got the list ${fmt(o.alpha)}`);
  }
  const soft = o.targets === 'soft';
  // A resolved float type equal to dtype (as in FocalOptions) reads as 'float', so normalizing is idempotent.
  const rawTarget = raw.targetDtype === (o.dtype as string) ? 'float' : raw.targetDtype;
  const indices = indexTargets(o);
  const t = rawTarget === undefined ? (indices ? 'int64' : 'float') : rawTarget;
  if (!(TARGET_DTYPES as readonly unknown[]).includes(t)) throw new UsageError(`${L('targetDtype')} must be one of ${TARGET_DTYPES.join(', ')}, got ${fmt(t)}`);
  if (soft && t !== 'float') throw new UsageError(`${L('targetDtype')} must be float (the prediction's type) with soft targets, got ${fmt(raw.targetDtype)}`);
  if (indices && t !== 'int64' && t !== 'int32') {
    const what = task === 'multiclass' ? 'task multiclass' : `${L('targetFormat')} index`;
    throw new UsageError(`${L('targetDtype')} must be int64 or int32 for ${what} (class indices), got ${fmt(raw.targetDtype)}`);
  }
  o.targetDtype = t === 'float' ? o.dtype : (t as FocalOptions['targetDtype']);
  if (o.form === 'onehot' && (soft || o.labelSmoothing > 0)) {
    throw new UsageError(`${L('form')} onehot builds the seed's class mask of hard targets; ${soft ? `${L('targets')} soft` : L('labelSmoothing')} needs form arith`);
  }
  if (o.reduction === 'weighted-mean' && o.weight === 'none') {
    throw new UsageError(`${L('reduction')} weighted-mean is Σ w·l / Σ w and needs ${L('weight')} sample or element`);
  }
  // Averaging over the last axis changes only the multilabel loss ([N, L] → [N]); binary is one
  // label a row, multiclass already one loss a row.
  o.labelMean = o.labelMean && task === 'multilabel';
  // MONAI's spatial mean changes only the sum (its mean is the plain mean; none keeps the elements).
  o.spatialMean = o.spatialMean && o.reduction === 'sum';
  if (o.spatialMean && (task === 'multiclass' || o.labelMean)) {
    throw new UsageError(`${L('spatialMean')} is MONAI's sigmoid sum over [B, C, …] elements: use task binary or multilabel without ${L('labelMean')}, got ${task === 'multiclass' ? 'task multiclass' : L('labelMean')}`);
  }
  checkTerms(o, t, raw, L);
  if (typeof o.normalize === 'number') o.normalize += o.normalizeOffset;
  o.normalizeOffset = 0;
  return o;
}

/** The detection terms against the rest of the options (each term alone is checked by its entry). */
function checkTerms(o: { -readonly [K in keyof FocalOptions]: FocalOptions[K] }, targetDtype: string, raw: LossOptions, L: Label): void {
  const task = o.task;
  if (o.targetFormat === 'index' && task !== 'multilabel') {
    throw new UsageError(`${L('targetFormat')} index is for ${L('task')} multilabel (a class index per row, L the background), got task ${task}`);
  }
  if (o.labelAxis !== -1 && task === 'binary') {
    throw new UsageError(`${L('labelAxis')} is the axis of the labels / classes: task multilabel or multiclass (binary predictions have none), got ${o.labelAxis}`);
  }
  if (o.perImage && (o.reduction !== 'mean' || o.normalized || o.labelMean || o.normalize === 'input')) {
    const clash = o.reduction !== 'mean' ? `${L('reduction')} ${o.reduction}` : o.normalized ? L('normalized') : o.labelMean ? L('labelMean') : `${L('normalize')} input`;
    throw new UsageError(`${L('perImage')} divides each image's sum by its own divisor and averages the images (reduction mean): it cannot be combined with ${clash}`);
  }
  if (o.normalized === 'label' && task !== 'multilabel') {
    throw new UsageError(`${L('normalized')} label divides each label column by its own Σ(1 − p_t)^γ: use task multilabel (smp's multiclass mode is ${L('task')} multilabel ${L('targetFormat')} index), got task ${task}`);
  }
  if (o.variant === 'star') {
    if (o.input !== 'logits') throw new UsageError(`${L('variant')} star (FL*) works on logits: add ${L('input')} logits`);
    if (task === 'multiclass') throw new UsageError(`${L('variant')} star (FL*) is a sigmoid loss: use ${L('task')} binary or multilabel, got multiclass`);
    if (!(o.gamma > 0)) throw new UsageError(`${L('variant')} star (FL*) divides by γ: ${L('gamma')} must be > 0, got ${o.gamma}`);
    if (o.normalized || o.reducedThreshold !== null) {
      throw new UsageError(`${L('variant')} star (FL*) has no focal term to ${o.normalized ? `normalize (${L('normalized')})` : `reduce (${L('reducedThreshold')})`}`);
    }
  }
  const v = o.ignoreIndex;
  if (v !== null) {
    if (o.targetFormat === 'dense' && task !== 'multiclass' && (v === 0 || v === 1)) {
      throw new UsageError(`${L('ignoreIndex')} must not be 0 or 1 for ${task} targets (those are the labels), got ${v}`);
    }
    if (targetDtype === 'bool') throw new UsageError(`${L('ignoreIndex')} needs a target type that can hold ${v}, got ${L('targetDtype')} bool`);
    if (targetDtype === 'uint8' && (v < 0 || v > 255)) throw new UsageError(`${L('ignoreIndex')} must be in [0, 255] for uint8 targets, got ${v}`);
  }
  // As mmdet's avg_factor: the divisor of the mean; reduction none returns the elements as they
  // are (a file's evaluation then divides their sum); sum has no divisor.
  if (o.normalize !== 'elements' && o.reduction !== 'mean' && o.reduction !== 'none') {
    throw new UsageError(`${L('normalize')} ${o.normalize} is the divisor of reduction mean (none keeps the elements), got ${L('reduction')} ${o.reduction}`);
  }
  if (o.classWeight !== null && task === 'binary') {
    throw new UsageError(`${L('classWeight')} is per label or class: use ${L('task')} multilabel or multiclass (task binary), got ${fmt(o.classWeight)}`);
  }
  const p = raw.posWeight;
  if (p !== undefined && p !== null) {
    if (task === 'multiclass') throw new UsageError(`${L('posWeight')} weighs the positive term of a sigmoid loss: use ${L('task')} binary or multilabel (task multiclass), got ${fmt(p)}`);
    if (listOf(nonNegative)(p)) {
      if (task === 'binary') throw new UsageError(`${L('posWeight')} must be one number >= 0 for task binary, got the list ${fmt(p)}`);
      o.posWeight = [...p];
    } else if (!nonNegative(p)) throw new UsageError(`${L('posWeight')} must be a number >= 0 or a non-empty list of them (one per label), got ${fmt(p)}`);
  }
  const rows = rowSources(o, L);
  for (const r of rows.slice(1)) {
    if (r.count !== rows[0].count) throw new UsageError(`${r.name} has ${r.count} entries but ${rows[0].name} has ${rows[0].count}; give one per label / class in each`);
  }
  checkTermsWith(o, L);
}

/**
 * The detection terms with the options of soft targets and weights: FL* takes soft targets (its
 * formula is one of t); the other terms are built for hard targets, one loss per element, and the
 * plain mean.
 */
function checkTermsWith(o: FocalOptions, label: Label): void {
  const used = usedTerms(o);
  if (used.length === 0) return;
  // FL* on soft targets (fvcore's star is a function of t): with its ignore value and positive weight too.
  const starOnly = o.variant === 'star' && used.every((k) => k === 'variant' || k === 'ignoreIndex' || k === 'posWeight');
  const clash =
    o.labelSmoothing > 0 ? label('labelSmoothing') :
    o.targets === 'soft' && !starOnly ? `${label('targets')} soft` :
    o.labelMean ? label('labelMean') :
    o.reduction === 'weighted-mean' ? `${label('reduction')} weighted-mean` :
    o.weight !== 'none' && o.normalized ? label('weight') : undefined;
  if (clash) throw new UsageError(`${label(used[0])} cannot be combined with ${clash}`);
}

/** An option that fixes the label / class count, its name as the user wrote it (`--class-weight`, `classWeight`), the count, and `text`: `--class-weight lists 3 values, one per label`. */
export type RowSource = { readonly option: 'alpha' | 'classWeight' | 'posWeight'; readonly name: string; readonly count: number; readonly text: string };

/**
 * The options that fix the label / class count (a per-label α, class weight or positive weight),
 * each named as the user wrote it; `rowSource` is the first, undefined when none did.
 */
function rowSources(o: Pick<FocalOptions, 'task' | 'alpha' | 'classWeight' | 'posWeight'>, label: Label): RowSource[] {
  return (['alpha', 'classWeight', 'posWeight'] as const)
    .filter((option) => Array.isArray(o[option]))
    .map((option) => {
      const [name, count] = [label(option), (o[option] as readonly number[]).length];
      return { option, name, count, text: `${name} lists ${count} value${count === 1 ? '' : 's'}, one per ${o.task === 'multiclass' ? 'class' : 'label'}` };
    });
}

export function rowSource(o: Pick<FocalOptions, 'task' | 'alpha' | 'classWeight' | 'posWeight'>, label: Label = plain): RowSource | undefined {
  return rowSources(o, label)[0];
}

/**
 * The attributes of the `ai.focal` node for these options (registry.ts says which): α, γ, eps and
 * the threshold are read from them by the function's body; the others shape the body and are
 * recorded for a runtime that knows the op.
 */
export function functionAttributes(o: FocalOptions): Record<string, Attr> {
  const out: Record<string, Attr> = {};
  for (const e of OPTIONS) {
    const value = o[e.name as keyof FocalOptions];
    if (!e.attr || value === null || (!e.attr.always && same(value, e.default))) continue;
    out[e.attr.name] =
      // An int attribute: true is 1, a word its code (normalized 'label': 2).
      e.attr.int ? attr.int(value === true ? 1 : typeof value === 'string' ? (e.attr.codes?.[value] ?? NaN) : (value as number)) :
      Array.isArray(value) ? attr.floats(value) :
      typeof value === 'number' ? attr.float(value) : attr.string(value as string);
  }
  return out;
}

// ---- metadata -----------------------------------------------------------------------------------

const META_PREFIX = 'focal.';

/**
 * The options as `metadata_props` entries (`focal.task`, `focal.alpha`, …): strings, JSON for
 * lists. The options beyond the seed's are written only where they differ from the default, so a
 * model of the default options keeps its bytes.
 */
export function optionsToMetadata(o: FocalOptions): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of OPTIONS) {
    if (!e.meta) continue;
    const value = o[e.name as keyof FocalOptions];
    if (!e.meta.always && same(value, e.default)) continue;
    out[META_PREFIX + e.meta.key] = value === null ? 'none' : typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

/**
 * Reads the options back from a model's metadata (the opset comes from the model itself).
 * Returns undefined when the model was not written by this tool.
 */
export function optionsFromMetadata(meta: Readonly<Record<string, string>>, opset: number): FocalOptions | undefined {
  if (meta[`${META_PREFIX}task`] === undefined) return undefined;
  const raw: Record<string, unknown> = { opset, normalizeOffset: 0 };
  for (const e of OPTIONS) {
    if (!e.meta) continue;
    const text = meta[META_PREFIX + e.meta.key];
    // Absent: the default, given explicitly (so a preset fills in nothing); an old file without α has none.
    raw[e.name] = text === undefined ? (e.name === 'alpha' ? 'none' : e.meta.always ? undefined : e.default) : /^[-\d[]|^(true|false)$/.test(text) ? JSON.parse(text) : text;
  }
  return normalizeOptions(raw as LossOptions);
}
