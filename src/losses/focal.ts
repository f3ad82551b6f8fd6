/**
 * The parts every focal-loss graph shares, written once:
 *
 *     loss = −α_t · (1 − clamp(p_t, eps, 1))^γ · log(clamp(p_t, eps, 1))
 *
 * (the seed's `FocalLoss.forward`), the focal factor specialised for the common γ, the reductions,
 * the float16 boundary (computed in float32 inside), and the stable log-sigmoid used for logits
 * with eps = 0.
 *
 * Parameters are `Param`s: a number known when the graph is built (folded into constants), or a
 * value — a model-local function's attribute — so one body serves the flat graph and the
 * `ai.focal` function alike.
 */
import { DType, Value, op } from '../onnx';
import { FocalOptions, Reduction } from './options';

export type Param = number | Value;

/** The element type the graph computes in: float16 models compute in float32. */
export function computeType(o: FocalOptions): 'float32' | 'float64' {
  return o.dtype === 'float64' ? 'float64' : 'float32';
}

/** `x` in the compute type (a Cast only where the types differ). */
export function toType(x: Value, dtype: DType): Value {
  return x.dtype === dtype ? x : op.cast(x, dtype);
}

/** A parameter as an operand of `like`'s type: numbers stay literals, values are cast. */
export function param(p: Param, like: DType): Value | number {
  return typeof p === 'number' ? p : toType(p, like);
}

/** a + b, folded when both are numbers. */
export function padd(a: Param, b: Param, like: DType): Param {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  return op.add(param(a, like), param(b, like));
}

/** a · b, folded when both are numbers. */
export function pmul(a: Param, b: Param, like: DType): Param {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  return op.mul(param(a, like), param(b, like));
}

/**
 * m^γ, with γ = 0 → 1 (no node), 1 → m, 2 → m·m (cheaper than Pow and exact), else Pow.
 * Returns undefined for γ = 0, meaning "multiply by nothing".
 */
export function focalFactor(m: Value, gamma: Param): Value | undefined {
  if (typeof gamma !== 'number') return op.pow(m, toType(gamma, m.dtype));
  if (gamma === 0) return undefined;
  if (gamma === 1) return m;
  if (gamma === 2) return op.mul(m, m);
  return op.pow(m, gamma);
}

/**
 * The element-wise loss from its factors: `negAlpha · m^γ · logPt`, where `negAlpha` is −α_t
 * (a number, or a value shaped like the elements; −1 when unweighted).
 */
export function focalTerm(logPt: Value, m: Value, gamma: Param, negAlpha: Param): Value {
  const ct = logPt.dtype;
  const f = focalFactor(m, gamma);
  const weighted = f ? op.mul(f, logPt) : logPt;
  if (negAlpha === -1) return op.neg(weighted);
  if (typeof negAlpha === 'number') return op.mul(weighted, negAlpha);
  return op.mul(toType(negAlpha, ct), weighted);
}

/** The seed's clamp on p_t: log(clamp(p_t, eps, 1)) and 1 − clamp(p_t, eps, 1). */
export function clamped(pt: Value, eps: Param): { logPt: Value; m: Value } {
  const c = op.clip(pt, param(eps, pt.dtype), 1);
  return { logPt: op.log(c), m: op.sub(1, c) };
}

/**
 * The same clamp applied to log p_t and m = 1 − p_t computed separately (from logits, where log p_t
 * comes from a stable log-sigmoid / log-softmax): log is monotonic, so
 * log(clamp(p_t, eps, 1)) = clamp(log p_t, log eps, 0) and 1 − clamp(p_t, eps, 1) =
 * clamp(1 − p_t, 0, 1 − eps). eps = 0 (a number) means no clamp: the stable form.
 */
export function clampedLog(logPt: Value, m: Value, eps: Param): { logPt: Value; m: Value } {
  if (eps === 0) return { logPt, m };
  const ct = logPt.dtype;
  const logEps = typeof eps === 'number' ? Math.log(eps) : op.log(toType(eps, ct));
  const upper = typeof eps === 'number' ? 1 - eps : op.sub(1, toType(eps, ct));
  return { logPt: op.clip(logPt, logEps, 0), m: op.clip(m, 0, upper) };
}

/**
 * log(1 + u) for u ≥ 0, accurate when u is tiny (Goldberg's trick; ONNX has no Log1p): with
 * w = 1 + u as rounded, log1p(u) = u · log(w) / (w − 1), and u itself where w rounds to 1.
 */
export function log1p(u: Value): Value {
  const w = op.add(u, 1);
  const d = op.sub(w, 1);
  return op.where(op.equal(d, 0), u, op.mul(u, op.div(op.log(w), d)));
}

/**
 * log σ(z) and log σ(−z) together: min(±z, 0) − log1p(exp(−|z|)), sharing the log1p term; stable
 * for any z and any float type, and accurate to the last bits for confident z (a plain
 * log(1 + e) would lose log σ(16) ≈ −1.1e-7 to rounding).
 */
export function logSigmoidPair(z: Value): { pos: Value; neg: Value } {
  const l = log1p(op.exp(op.neg(op.abs(z))));
  return { pos: op.sub(op.min(z, 0), l), neg: op.sub(op.min(op.neg(z), 0), l) };
}

/** The reduction over every element: mean, sum, or none (the elements themselves). */
export function reduceAll(loss: Value, reduction: Reduction): Value {
  switch (reduction) {
    case 'mean':
      return op.reduceMean(loss, { keepdims: false });
    case 'sum':
      return op.reduceSum(loss, { keepdims: false });
    case 'none':
      return loss;
  }
}

/** The reduction over `axes` only (the per-label vector of the multi-label loss). */
export function reduceAxis(loss: Value, reduction: Exclude<Reduction, 'none'>, axes: number | readonly number[]): Value {
  const list = typeof axes === 'number' ? [axes] : [...axes];
  return reduction === 'mean' ? op.reduceMean(loss, { axes: list, keepdims: false }) : op.reduceSum(loss, { axes: list, keepdims: false });
}

/** α, γ and eps as the graph sees them: numbers (the flat graph) or a function's attributes. */
export interface LossParams {
  /** A number, a per-label / per-class list, a value (scalar or vector, from an attribute), or null. */
  readonly alpha: number | readonly number[] | Value | null;
  readonly gamma: Param;
  readonly eps: Param;
}

/** The parameters as numbers, for the flat graph. */
export function literalParams(o: FocalOptions): LossParams {
  return { alpha: o.alpha, gamma: o.gamma, eps: o.eps };
}

// ---- sizes known only at run time ----------------------------------------------------------------
// A graph that reads a dimension through Shape → Gather would not run wholly on CUDA: Shape writes
// to host memory and onnxruntime's CUDA provider hands small computations on host tensors to the
// CPU. ConstantOfShape takes its shape input in host memory, so Shape → ConstantOfShape → ReduceSum
// stays on the device.

/** The number of elements of `x` in `dtype`: a number when the shape is known, else a device scalar. */
export function elementCount(x: Value, dtype: DType): Param {
  if (x.shape.every((d) => typeof d === 'number')) return (x.shape as number[]).reduce((a, b) => a * b, 1);
  return op.reduceSum(op.constantOfShape(op.shape(x), 1, dtype), { keepdims: false });
}

/**
 * The class count C of `x` [N, C] as an int64 scalar (OneHot's depth): a constant when known, else
 * counted on the device from row 0 (so N must be at least 1).
 */
export function classCount(x: Value): Value {
  const g = x.graph;
  if (typeof x.shape[1] === 'number') return g.constant(x.shape[1], 'int64');
  const row = op.gather(x, g.constant(0, 'int64'), 0);
  return op.cast(op.reduceSum(op.constantOfShape(op.shape(row), 1, 'float32'), { keepdims: false }), 'int64');
}
