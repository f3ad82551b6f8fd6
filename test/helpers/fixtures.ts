/**
 * The golden cases made by running the seed's code (`scripts/make-fixtures.py` →
 * `test/fixtures/cases.json`), and the tolerance rule every comparison with them uses.
 */
import * as fs from 'fs';
import * as path from 'path';
import { LossOptions } from '../../src/losses';

export interface FixtureCase {
  readonly id: string;
  readonly task: 'binary' | 'multilabel' | 'multiclass';
  readonly input: 'probs' | 'logits';
  readonly alpha: number | number[] | null;
  readonly gamma: number;
  readonly reduction: 'mean' | 'sum' | 'none';
  readonly eps: number;
  readonly dtype: 'float32' | 'float64';
  readonly opset: number;
  readonly form: 'arith' | 'onehot';
  readonly predShape: number[];
  readonly targetShape: number[];
  readonly pred: number[];
  readonly target: number[];
  readonly loss: number | number[];
  readonly perLabel?: number[];
  readonly grad: number[];
  readonly source: 'seed' | 'reference';
  readonly note?: string;
}

export const FIXTURES: readonly FixtureCase[] = (
  JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'cases.json'), 'utf8')) as { cases: FixtureCase[] }
).cases;

/** The case's options for `buildLoss` (binary predictions of any shape are flattened, as the seed does). */
export function caseOptions(c: FixtureCase, overrides: LossOptions = {}): LossOptions {
  return {
    task: c.task,
    input: c.input,
    alpha: c.alpha === null ? 'none' : c.alpha,
    gamma: c.gamma,
    reduction: c.reduction,
    eps: c.eps,
    dtype: c.dtype,
    opset: c.opset,
    form: c.form,
    ...overrides,
  };
}

/**
 * The options with α, γ and eps as a function attribute holds them (FLOAT: float32), for the flat
 * form that the `asFunction` form is compared with.
 */
export function froundOptions(o: LossOptions): LossOptions {
  const a = o.alpha;
  const alpha = typeof a === 'number' ? Math.fround(a) : Array.isArray(a) ? a.map(Math.fround) : a;
  return { ...o, alpha, gamma: Math.fround(o.gamma ?? 2), eps: Math.fround(o.eps ?? 1e-4) };
}

/** Graph input dims: binary is flattened to [N]. */
export function caseDims(c: FixtureCase): { pred: number[]; target: number[] } {
  if (c.task === 'binary') return { pred: [c.pred.length], target: [c.target.length] };
  return { pred: c.predShape, target: c.targetShape };
}

/** Agreement with the float64 seed: float32 graphs within 2e-5, float64 within 1e-9. */
export const RTOL = { float32: 2e-5, float64: 1e-9, float16: 2e-3 } as const;

/**
 * The `grad` output (`withGrad`) against the fixtures' PyTorch autograd: the issue's 1e-6 relative to
 * the case's largest component, float32 included (it reaches it; worst measured 4.5e-7).
 */
export const GRAD_RTOL = 1e-6;

/**
 * Largest error allowed against `expected`: `rtol` relative to the largest magnitude in the case
 * (for scalars, the value itself), plus an absolute floor below float32's normal range.
 */
export function tolerance(expected: readonly number[], rtol: number): number {
  const scale = Math.max(...expected.map(Math.abs));
  return rtol * scale + 1e-30;
}

/** Asserts `actual` matches `expected` within `tolerance(expected, rtol)`, listing the worst elements. */
export function expectNear(actual: readonly number[], expected: readonly number[], rtol: number, what: string): void {
  expect(actual.length).toBe(expected.length);
  const tol = tolerance(expected, rtol);
  const bad = expected
    .map((e, i) => ({ i, e, a: actual[i], d: Math.abs(actual[i] - e) }))
    .filter((x) => !(x.d <= tol))
    .sort((x, y) => y.d - x.d);
  if (bad.length) {
    const rows = bad.slice(0, 5).map((x) => `[${x.i}] got ${x.a}, expected ${x.e} (|diff| ${x.d.toExponential(2)})`);
    throw new Error(`${what}: ${bad.length} of ${expected.length} elements differ by more than ${tol.toExponential(2)}:\n  ${rows.join('\n  ')}`);
  }
}
