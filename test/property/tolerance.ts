/**
 * How close a model's numbers must be to the float64 reference (test/helpers/focal-reference.ts),
 * and why.
 *
 * The reference is fed exactly the numbers the model is fed (data rounded to the model's type;
 * function-form parameters rounded to float32), so the only differences left are the model's own
 * rounding errors. Each comparison allows
 *
 *     |model − reference| ≤ rtol · S + atol · k
 *
 * where S is the largest |reference| value in the case (losses are ≥ 0, so for mean and sum S is
 * the result itself), and k is the number of elements summed into one output (the element count
 * for `sum`, 1 for `mean` and `none`: a mean of per-element errors is bounded by the largest).
 *
 * - rtol: about ten rounding steps per element (log, pow, a few mul/sub) and a pairwise or linear
 *   sum of at most 80 elements, in the compute type. float32: u = 2^-24 ≈ 6e-8, 80·u ≈ 5e-6, so
 *   1e-5. float64: u = 2^-53 ≈ 1.1e-16; 1e-12 leaves four digits of margin. float16 models compute
 *   in float32 but round the output to half (2^-11 ≈ 4.9e-4 relative), so 2^-10.
 * - atol: one error is not relative to the element's loss. When p_t is close to 1, log p_t ≈
 *   −(1 − p_t) is computed from a float p_t (or from 1 + e^{−|z|}, or from logits shifted by their
 *   maximum) whose rounding is absolute — about u·R, with R = max(1, largest |logit|) — and that
 *   error is multiplied by α_t·(1 − p_t)^γ ≤ 1. So 4·u·R per element. float16 output adds the
 *   half-precision subnormal spacing 2^-24 (values below 6e-8 are rounded absolutely).
 */
import { LossDType } from '../../src/losses';

export interface Tolerance {
  readonly rtol: number;
  /** Per element that is summed into an output. */
  readonly atol: number;
}

const U32 = 2 ** -24;
const U64 = 2 ** -53;

export function toleranceFor(dtype: LossDType, r: number): Tolerance {
  switch (dtype) {
    case 'float64':
      return { rtol: 1e-12, atol: 4 * U64 * r };
    case 'float32':
      return { rtol: 1e-5, atol: 4 * U32 * r };
    case 'float16':
      return { rtol: 2 ** -10, atol: 4 * U32 * r + 2 ** -24 };
  }
}

/**
 * Compares `actual` with `expected` as described above; returns a description of the worst
 * mismatches, or undefined when they agree. Non-finite values must match exactly (NaN with NaN,
 * +∞ with +∞).
 */
export function mismatch(actual: readonly number[], expected: readonly number[], tol: Tolerance, summed: number): string | undefined {
  if (actual.length !== expected.length) return `length ${actual.length}, expected ${expected.length}`;
  const finite = expected.filter(Number.isFinite).map(Math.abs);
  const scale = finite.length ? Math.max(...finite) : 0;
  const allowed = tol.rtol * scale + tol.atol * summed;
  const bad: string[] = [];
  expected.forEach((e, i) => {
    const a = actual[i];
    const ok = Number.isFinite(e) ? Math.abs(a - e) <= allowed : Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e));
    if (!ok) bad.push(`[${i}] got ${a}, expected ${e} (|diff| ${Math.abs(a - e).toExponential(2)})`);
  });
  if (!bad.length) return undefined;
  return `${bad.length} of ${expected.length} differ by more than ${allowed.toExponential(2)}: ${bad.slice(0, 4).join('; ')}`;
}
