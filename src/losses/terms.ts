/**
 * The detection and segmentation terms of the shared formula (issue 13), validated once here:
 *
 *     l = −α_t · w · π_t · F · log clamp(p_t, eps, 1)          (variant focal)
 *     l = −α_t · w · π_t · log σ(γ·z) / γ,  z = x·(2t − 1)      (variant star: fvcore's FL*, logits)
 *
 * - w = classWeight[label] (multi-label: per column; multi-class: of the row's class), else 1;
 * - π_t = posWeight (per label or one number) where t = 1, 1 where t = 0 (binary / multi-label);
 * - F = (1 − p_t)^γ, or with reducedThreshold X: ((1 − p_t)/X)^γ, and 1 where p_t < X;
 * - normalized: every l divided by max(Σ F over the elements not ignored, 1e-6);
 * - ignored elements (target = ignoreIndex; an index row or class row equal to it) are 0;
 * - targetFormat index (multi-label): target [N] in [0, L], L the background (an all-negative row);
 * - reduction mean divides Σ l by the normalizer (none returns the elements undivided): `elements` (those not ignored; every element
 *   with countIgnored), `positives` (max(1, the count of positive targets)), a number, or `input`
 *   (a scalar graph input `normalizer`).
 */
import { UsageError } from '../errors';
import type { Label, LossOptions, Reduction, Task } from './options';

export const TARGET_FORMATS = ['dense', 'index'] as const;
export const NORMALIZE_KINDS = ['elements', 'positives', 'input'] as const;
export const VARIANTS = ['focal', 'star'] as const;

export type TargetFormat = (typeof TARGET_FORMATS)[number];
export type NormalizeKind = (typeof NORMALIZE_KINDS)[number];
export type Normalize = NormalizeKind | number;
export type Variant = (typeof VARIANTS)[number];

/** The smp / arXiv 1909.07829 clamp of the normalized loss's denominator. */
export const NORMALIZED_FLOOR = 1e-6;

/** The options of this file as a user gives them (part of LossOptions). */
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
  /** Divide by Σ(1 − p_t)^γ, clamped at 1e-6 (smp's normalized). */
  normalized?: boolean;
  /** The reduced focal loss's threshold X in (0, 1]: ((1 − p_t)/X)^γ, and 1 where p_t < X. */
  reducedThreshold?: number | null;
  /** Ignored elements still count in the mean's element count (kornia's convention). */
  countIgnored?: boolean;
}

/** The terms, validated, every default filled in. */
export interface Terms {
  readonly targetFormat: TargetFormat;
  readonly ignoreIndex: number | null;
  readonly normalize: Normalize;
  readonly classWeight: readonly number[] | null;
  readonly posWeight: number | readonly number[] | null;
  readonly variant: Variant;
  readonly normalized: boolean;
  readonly reducedThreshold: number | null;
  readonly countIgnored: boolean;
}

export const TERM_DEFAULTS: Terms = {
  targetFormat: 'dense',
  ignoreIndex: null,
  normalize: 'elements',
  classWeight: null,
  posWeight: null,
  variant: 'focal',
  normalized: false,
  reducedThreshold: null,
  countIgnored: false,
};

export const TERM_KEYS = Object.keys(TERM_DEFAULTS) as (keyof Terms)[];

function fmt(x: unknown): string {
  if (typeof x === 'string') return `'${x}'`;
  if (Array.isArray(x)) return `[${x.map(fmt).join(', ')}]`;
  return String(x);
}

const nonNegative = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0;

/** What the rest of the options decided, which the terms must agree with. */
export interface TermContext {
  readonly task: Task;
  readonly input: 'probs' | 'logits';
  readonly reduction: Reduction;
  readonly gamma: number;
  /** The target's element type as given ('float' or a type name), before defaults. */
  readonly targetDtype: string | undefined;
  /** The per-label / per-class α list's length, if α is a list. */
  readonly alphaLength: number | undefined;
}

/** Validates the terms of `raw`. Each error names the option (through `label`), what it takes and what it got. */
export function normalizeTerms(raw: TermOptions, c: TermContext, label: Label): Terms {
  const L = (k: keyof TermOptions): string => label(k as keyof LossOptions);
  const bool = (k: 'normalized' | 'countIgnored'): boolean => {
    const v = raw[k];
    if (v === undefined) return false;
    if (typeof v !== 'boolean') throw new UsageError(`${L(k)} must be true or false, got ${fmt(v)}`);
    return v;
  };
  const pick = <T extends string>(k: keyof TermOptions, allowed: readonly T[], fallback: T): T => {
    const v = raw[k];
    if (v === undefined) return fallback;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw new UsageError(`${L(k)} must be one of ${allowed.join(', ')}, got ${fmt(v)}`);
    return v as T;
  };

  const targetFormat = pick('targetFormat', TARGET_FORMATS, 'dense');
  if (targetFormat === 'index' && c.task !== 'multilabel') {
    throw new UsageError(`${L('targetFormat')} index is for task multilabel (a class index per row, L the background), got task ${c.task}`);
  }

  const variant = pick('variant', VARIANTS, 'focal');
  const normalized = bool('normalized');
  const countIgnored = bool('countIgnored');

  let reducedThreshold: number | null = null;
  if (raw.reducedThreshold !== undefined && raw.reducedThreshold !== null) {
    const x = raw.reducedThreshold;
    if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0 || x > 1) throw new UsageError(`${L('reducedThreshold')} must be a number in (0, 1], got ${fmt(x)}`);
    reducedThreshold = x;
  }
  if (variant === 'star') {
    if (c.input !== 'logits') throw new UsageError(`${L('variant')} star (FL*) works on logits: add ${label('input')} logits`);
    if (c.task === 'multiclass') throw new UsageError(`${L('variant')} star (FL*) is a sigmoid loss: use task binary or multilabel, got multiclass`);
    if (!(c.gamma > 0)) throw new UsageError(`${L('variant')} star (FL*) divides by γ: ${label('gamma')} must be > 0, got ${c.gamma}`);
    if (normalized || reducedThreshold !== null) {
      throw new UsageError(`${L('variant')} star (FL*) has no focal term to ${normalized ? `normalize (${L('normalized')})` : `reduce (${L('reducedThreshold')})`}`);
    }
  }

  let ignoreIndex: number | null = null;
  if (raw.ignoreIndex !== undefined && raw.ignoreIndex !== null) {
    const v = raw.ignoreIndex;
    if (typeof v !== 'number' || !Number.isInteger(v) || Math.abs(v) > 2 ** 31 - 1) {
      throw new UsageError(`${L('ignoreIndex')} must be an integer (a target value to ignore), got ${fmt(v)}`);
    }
    if (targetFormat === 'dense' && c.task !== 'multiclass' && (v === 0 || v === 1)) {
      throw new UsageError(`${L('ignoreIndex')} must not be 0 or 1 for ${c.task} targets (those are the labels), got ${v}`);
    }
    if (c.targetDtype === 'bool') throw new UsageError(`${L('ignoreIndex')} needs a target type that can hold ${v}, got ${label('targetDtype')} bool`);
    if (c.targetDtype === 'uint8' && (v < 0 || v > 255)) throw new UsageError(`${L('ignoreIndex')} must be in [0, 255] for uint8 targets, got ${v}`);
    ignoreIndex = v;
  }

  let normalize: Normalize = 'elements';
  if (raw.normalize !== undefined) {
    const n = raw.normalize;
    if (typeof n === 'number') {
      if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${L('normalize')} must be elements, positives, input or a number > 0, got ${fmt(n)}`);
    } else if (typeof n !== 'string' || !(NORMALIZE_KINDS as readonly string[]).includes(n)) {
      throw new UsageError(`${L('normalize')} must be elements, positives, input or a number > 0, got ${fmt(n)}`);
    }
    normalize = n;
  }
  // As mmdet's avg_factor: the divisor of the mean; reduction none returns the elements as they
  // are (a file's evaluation then divides their sum); sum has no divisor.
  if (normalize !== 'elements' && c.reduction !== 'mean' && c.reduction !== 'none') {
    throw new UsageError(`${L('normalize')} ${normalize} is the divisor of reduction mean (none keeps the elements), got ${label('reduction')} ${c.reduction}`);
  }

  const dims: [string, number][] = c.alphaLength !== undefined ? [[label('alpha'), c.alphaLength]] : [];
  let classWeight: readonly number[] | null = null;
  if (raw.classWeight !== undefined && raw.classWeight !== null) {
    const w = raw.classWeight;
    if (!Array.isArray(w) || w.length === 0 || !w.every(nonNegative)) {
      throw new UsageError(`${L('classWeight')} must be a non-empty list of numbers >= 0 (one per label / class), got ${fmt(w)}`);
    }
    if (c.task === 'binary') throw new UsageError(`${L('classWeight')} is per label or class: use task multilabel or multiclass (task binary), got ${fmt(w)}`);
    classWeight = [...w];
    dims.push([L('classWeight'), w.length]);
  }
  let posWeight: number | readonly number[] | null = null;
  if (raw.posWeight !== undefined && raw.posWeight !== null) {
    const p = raw.posWeight;
    if (c.task === 'multiclass') throw new UsageError(`${L('posWeight')} weighs the positive term of a sigmoid loss: use task binary or multilabel (task multiclass), got ${fmt(p)}`);
    if (nonNegative(p)) posWeight = p;
    else if (Array.isArray(p) && p.length > 0 && p.every(nonNegative)) {
      if (c.task === 'binary') throw new UsageError(`${L('posWeight')} must be one number >= 0 for task binary, got the list ${fmt(p)}`);
      posWeight = [...p];
      dims.push([L('posWeight'), p.length]);
    } else throw new UsageError(`${L('posWeight')} must be a number >= 0 or a non-empty list of them (one per label), got ${fmt(p)}`);
  }
  for (const [name, n] of dims.slice(1)) {
    if (n !== dims[0][1]) throw new UsageError(`${name} has ${n} entries but ${dims[0][0]} has ${dims[0][1]}; give one per label / class in each`);
  }
  return { targetFormat, ignoreIndex, normalize, classWeight, posWeight, variant, normalized, reducedThreshold, countIgnored };
}

/** The label / class dimension the per-label terms fix, if any. */
export function termsDim(t: Terms): number | undefined {
  if (t.classWeight) return t.classWeight.length;
  if (Array.isArray(t.posWeight)) return t.posWeight.length;
  return undefined;
}

/** Whether any term differs from the plain focal loss (the seed's formula). */
export function hasTerms(t: Terms): boolean {
  return TERM_KEYS.some((k) => JSON.stringify(t[k]) !== JSON.stringify(TERM_DEFAULTS[k]));
}

/** The terms as `metadata_props` values (without the `focal.` prefix); only those that differ from the defaults. */
export function termsToMetadata(t: Terms): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of TERM_KEYS) {
    const v = t[k];
    if (JSON.stringify(v) === JSON.stringify(TERM_DEFAULTS[k])) continue;
    out[snake(k)] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return out;
}

/** The terms back from metadata values (those absent are the defaults). */
export function termsFromMetadata(get: (key: string) => string | undefined): TermOptions {
  const out: Record<string, unknown> = {};
  for (const k of TERM_KEYS) {
    const text = get(snake(k));
    if (text === undefined) continue;
    out[k] = typeof TERM_DEFAULTS[k] === 'string' && !/^[-\d[]/.test(text) ? text : JSON.parse(text);
  }
  return out as TermOptions;
}

const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A short statement of the terms for summaries and inspect: `index ignore=-1 normalize=positives …`. */
export function describeTerms(t: Terms): string {
  const parts: string[] = [];
  if (t.targetFormat === 'index') parts.push('index targets');
  if (t.ignoreIndex !== null) parts.push(`ignore=${t.ignoreIndex}${t.countIgnored ? ' (counted)' : ''}`);
  if (t.normalize !== 'elements') parts.push(`normalize=${t.normalize}`);
  if (t.classWeight) parts.push(`class-weight=[${t.classWeight.join(',')}]`);
  if (t.posWeight !== null) parts.push(`pos-weight=${Array.isArray(t.posWeight) ? `[${t.posWeight.join(',')}]` : t.posWeight}`);
  if (t.variant === 'star') parts.push('FL*');
  if (t.normalized) parts.push('normalized');
  if (t.reducedThreshold !== null) parts.push(`reduced<${t.reducedThreshold}`);
  return parts.join(' ');
}
