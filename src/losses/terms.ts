/**
 * The detection and segmentation terms of the shared formula (issue 13); their options are
 * entries of registry.ts, checked by normalizeOptions:
 *
 *     l = −α_t · w · π_t · F · log clamp(p_t, eps, 1)          (variant focal)
 *     l = −α_t · w · π_t · log σ(γ·z) / γ,  z = x·(2t − 1)      (variant star: fvcore's FL*, logits)
 *
 * - w = classWeight[label] (multi-label: per column; multi-class: of the row's class), else 1;
 * - π_t = posWeight (per label or one number) where t = 1, 1 where t = 0 (binary / multi-label);
 * - F = (1 − p_t)^γ, or with reducedThreshold X: ((1 − p_t)/X)^γ, and 1 where p_t < X;
 * - normalized: every l divided by max(Σ F over the elements not ignored, 1e-6); 'label': by its
 *   label column's own max(Σ F, 1e-6) (smp's per-class normalization);
 * - ignored elements (target = ignoreIndex; an index row or class row equal to it) are 0;
 * - targetFormat index (multi-label): target [N] in [0, L], L the background (an all-negative row);
 * - reduction mean divides Σ l by the normalizer (none returns the elements undivided): `elements` (those not ignored; every element
 *   with countIgnored), `positives` (max(1, the count of positive targets)), a number, or `input`
 *   (a scalar graph input `normalizer`).
 */
import { DEFAULT_VALUES, same } from './registry';
import type { Terms } from './vocabulary';

export { NORMALIZE_KINDS, NORMALIZED_FLOOR, TARGET_FORMATS, VARIANTS } from './vocabulary';
export type { Normalize, NormalizeKind, TargetFormat, TermOptions, Terms, Variant } from './vocabulary';

export const TERM_KEYS = ['targetFormat', 'ignoreIndex', 'normalize', 'classWeight', 'posWeight', 'variant', 'normalized', 'reducedThreshold', 'countIgnored'] as const;

export const TERM_DEFAULTS = Object.fromEntries(TERM_KEYS.map((k) => [k, DEFAULT_VALUES[k]])) as unknown as Terms;

/** Whether any term differs from the plain focal loss (the seed's formula). */
export function hasTerms(t: Terms): boolean {
  return TERM_KEYS.some((k) => !same(t[k], TERM_DEFAULTS[k]));
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
