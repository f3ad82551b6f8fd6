/**
 * The parts every focal-loss graph shares, written once:
 *
 *     loss = w · −α_t · (1 − p_t)^γ · CE
 *
 * CE is −log(clamp(p_t, eps, 1)) for hard targets (the seed's `FocalLoss.forward`), the binary
 * cross-entropy with p clipped to [eps, 1 − eps] for soft ones (binary.ts and multiclass.ts say how);
 * `focalTerm` takes the −CE term either way, and label smoothing makes a hard target soft
 * (`smoothTargets`). Here: the focal factor and term, and their gradient (derived below); the
 * clamps and the clips; the float16 boundary (computed in float32 inside); the weight input w
 * (`weighted`) and the reduction (`reduce`: mean = Σ w·l / count, weighted-mean = Σ w·l / Σ w)
 * with its gradient.
 */
import { DType, Param, Value, divBy, elementCount, knownSize, logOf, logOneMinus, minusOne, oneMinus, op, param, powByProducts, recip, scaled, toType, withTail } from '../onnx';
import { channelAxis } from './shapes';
import { FocalOptions, Reduction } from './options';

/** The element type the graph computes in: float16 models compute in float32. */
export function computeType(o: FocalOptions): 'float32' | 'float64' {
  return o.dtype === 'float64' ? 'float64' : 'float32';
}

/**
 * The focal factor F: m^γ, or for the reduced focal loss (threshold X) ((m/X)^γ where p_t ≥ X, and 1
 * where p_t < X, i.e. where m > 1 − X). Undefined means 1.
 */
export function focalWeight(m: Value, gamma: Param, reduced: Param | null = null): Value | undefined {
  if (reduced === null) return powByProducts(m, gamma);
  const ct = m.dtype;
  const f = powByProducts(divBy(m, reduced), gamma) ?? m.graph.constant(1, ct);
  return op.where(op.greater(m, param(oneMinus(reduced, ct), ct)), 1, f);
}

/**
 * The element-wise loss from its factors: `negAlpha · F · logPt`, where `negAlpha` is −α_t
 * (a number, or a value shaped like the elements; −1 when unweighted) and F the focal factor
 * (`focalWeight`, with the reduced threshold of `p`). `p.onTerm`, when set, is told F (for the
 * normalized loss, which divides by its sum).
 */
export function focalTerm(logPt: Value, m: Value, gamma: Param, negAlpha: Param, p?: LossParams): Value {
  const ct = logPt.dtype;
  const f = focalWeight(m, gamma, p?.reducedThreshold ?? null);
  p?.onTerm?.({ f, m, logPt });
  const weighted = f ? op.mul(f, logPt) : logPt;
  if (negAlpha === -1) return op.neg(weighted);
  if (typeof negAlpha === 'number') return op.mul(weighted, negAlpha);
  return op.mul(toType(negAlpha, ct), weighted);
}

/*
 * ---- the gradient -------------------------------------------------------------------------------
 *
 * d(loss)/d(pred), built analytically in the graph (ONNX has no autodiff): the output `grad`, shaped
 * like `pred`. For reduction `none` it is the gradient of the sum of the elements (what a training
 * loop back-propagates), for `mean` that divided by the element count (read from the shape at run
 * time: N is symbolic).
 *
 * Per element, with c = clamp(p_t, eps, 1), m = 1 − c, λ = −log c ≥ 0 and α_t as in the loss:
 *
 *     L = −α_t · m^γ · log c
 *     dL/dc = α_t[γ m^(γ−1) log c − m^γ / c] = −α_t · m^γ · (γρ + 1/c),   ρ = λ/m = log c / (c − 1)
 *
 * ρ ∈ [1, ∞) is the slowly varying ratio −log(1 − m)/m (ρ = 1 at c = 1), so no negative power of m
 * appears: the naive m^(γ−1) · log c is 0 · ∞ at c = 1 for 0 < γ < 1. ρ is computed as
 * log(c)/(c − 1) from the rounded c: Goldberg's log1p trick — the ratio is exact to a few ulps even
 * when c = 1 − p has lost p's low bits (binary probs, target 0, p tiny), where log(c) alone is not.
 *
 * probs, binary / multi-label: p_t = (1 − t) + s·p with s = 2t − 1, so dL/dp = s · [mask] · dL/dc.
 * probs, multi-class: p_t = p[t], so dL/dp_j = [j = t] · [mask] · dL/dc.
 *
 * logits work in the log domain, as the loss does: with z = s·x (binary), log p_t = log σ(z) and
 * d log p_t/dz = σ(−z) = m, dm/dz = −c·m, so (no division, no negative power, stable for any z):
 *
 *     G = dL/dz = c·m·dL/dc = α_t[γ m^γ c log c − m^(γ+1)] = −α_t · m^γ · (m + γ·c·λ)
 *
 * binary / multi-label: dL/dx = s·G, with c = exp(log σ(z)) and m = exp(log σ(−z)) from the
 * stable log-sigmoid (each accurate to a few ulps; onnxruntime's float32 Sigmoid is not, relatively,
 * far in the tails).
 * multi-class: log p_t = x_t − logsumexp(x), d log p_t/dx_j = [j = t] − p_j, and m = 1 − p_t moves
 * with it, so dL/dx_j = ([j = t] − p_j) · dL/d(log p_t) = ([j = t] − p_j) · G/m. For j = t that is
 * G; for j ≠ t it is −q_j·G with q_j = p_j / Σ_{k≠t} p_k (the softmax over the other classes). So
 * dL/dx = G · (onehot − q), and m is taken as Σ_{k≠t} p_k (accurate relative to itself, unlike
 * 1 − p_t near p_t = 1). q is others / max(m, 1e-30): where every other class underflows, q = 0 and
 * G ≈ 0.
 *
 * The clamp, as PyTorch's: the gradient passes where eps ≤ p_t ≤ 1, both bounds included
 * (`clamp_backward`: (x >= min) & (x <= max)), and is 0 outside. The graph tests exactly that: the
 * mask is Clip(p_t, eps, 1) = p_t, and for logits Clip(log p_t, log eps, 0) = log p_t (the same
 * Clip the loss applies; log p_t ≤ 0 always holds). eps = 0 with logits: no clamp, no mask.
 *
 * At p_t = 1 exactly the gradient is the true limit: 0 for γ > 0, −α_t·s for γ = 0 (probs). PyTorch
 * agrees for γ = 0 and γ ≥ 1 and gives NaN for 0 < γ < 1 (0 · ∞ in pow's backward: 0^(γ−1) times
 * log 1 = 0); the graph returns the finite limit there (the fixtures leave those elements out).
 * Logits never reach a 0 · ∞: m^γ with m = exp(log σ(−z)) > 0 until it underflows, and then 0.
 *
 * Accuracy against PyTorch autograd in float64 on the golden cases (relative to the largest
 * component): float64 graphs 6e-15, float32 graphs 4.5e-7 (a multi-class logits case: LogSoftmax and
 * Exp round at ~1e-7 each). With ρ taken as −log(c)/m instead, float32 would reach 1.0e-6 (a binary
 * probs case with target 0 and p = 0.0035, where c = 1 − p has rounded).
 *
 * The detection and segmentation terms (terms.ts): with w·π_t the class × positive weight, F the
 * focal factor (reduced: ((1 − c)/X)^γ where c ≥ X, else 1, so its γ-terms vanish there: γ_eff = 0),
 *
 *     l_i = w·π·(−α_t)·F·log c          dl/dc = −α_t·w·π·F·(γ_eff·ρ + 1/c)      (probs)
 *                                       dl/dz = −α_t·w·π·F·(m + γ_eff·c·λ)      (logits, z = s·x)
 *     FL*: l = −α_t·w·π·log σ(γz)/γ,    dl/dz = −α_t·w·π·σ(−γz)
 *
 * and the normalized loss's quotient rule (termsGradient). Multi-class logits use the same G-space
 * as the plain gradient: dh/dx = m·h'(log p_t)·(onehot − q) for any h of log p_t. Each piece is
 * beside its forward: the focal term's below, the terms' and the reduction's beside applyTerms
 * (termsGradient) and reduce (reduceDivisor), FL*'s beside it, each form's chain rule beside the
 * form (binary.ts, multiclass.ts); the weight input multiplies each element's gradient (build.ts).
 */

/** γ where the focal term applies: γ, or with the reduced loss's threshold X 0 where its factor is 1 (m > 1 − X). */
function gammaEff(m: Value, gamma: Param, reduced: Param | null | undefined): Param {
  if (reduced === null || reduced === undefined) return gamma;
  const ct = m.dtype;
  return op.where(op.greater(m, param(oneMinus(reduced, ct), ct)), m.graph.constant(0, ct), param(gamma, ct));
}

/** ρ = log c / (c − 1), 1 at c = 1 (the Where keeps the 0/0 out): −log(1 − m)/m for m = 1 − c. */
export function rho(c: Value, logC?: Value): Value {
  return op.where(op.equal(c, 1), 1, op.div(logC ?? op.log(c), op.sub(c, 1)));
}

/** v where the clip left `clipped` equal to `raw` (the gradient passes), else 0; eps = 0: v. */
export function passMask(v: Value, clipped: Value, raw: Value, eps: Param): Value {
  return eps === 0 ? v : op.where(op.equal(clipped, raw), v, 0);
}

/**
 * The focal term's gradient per element, without −α_t (which the caller folds with the terms and
 * the reduction): `core`, and `dF`, the focal factor's own derivative (for the normalized loss,
 * built only when asked). Both are 0 where the clamp does not pass p_t (PyTorch's clamp_backward).
 */
export interface TermGradient {
  readonly core: Value;
  readonly dF?: () => Value | undefined;
}

/**
 * probs, d/dc: core = F·(γ_eff·ρ + 1/c), dF/dc = −γ_eff·m^(γ−1)/X^γ, with c = clamp(p_t, eps, 1).
 * `m` is 1 − p_t computed without cancellation where the caller can (binary: t − s·p).
 */
export function focalTermGradProbs(pt: Value, m: Value, p: LossParams): TermGradient {
  const ct = pt.dtype;
  const { gamma, reducedThreshold: reduced = null } = p;
  const c = clampPt(pt, p.eps);
  const inv = op.reciprocal(c);
  const ge = gammaEff(m, gamma, reduced);
  // γ = 0: no focal term to differentiate (and no ρ·0, NaN where ρ is infinite).
  const inner = gamma === 0 ? inv : op.add(scaled(rho(c), ge), inv);
  const f = focalWeight(m, gamma, reduced);
  const core = f ? op.mul(f, inner) : inner;
  const pass = op.equal(c, pt);
  const dF = (): Value | undefined => {
    if (gamma === 0) return undefined;
    let d = op.neg(op.mul(powByProducts(m, minusOne(gamma, ct)) ?? op.add(op.mul(m, 0), 1), param(ge, ct)));
    if (reduced !== null) {
      const xg = typeof reduced === 'number' && typeof gamma === 'number' ? Math.pow(reduced, -gamma) : op.pow(toType(reduced as Value, ct), op.neg(toType(gamma as Value, ct)));
      d = op.mul(d, param(xg, ct));
    }
    return op.where(pass, d, 0);
  };
  return { core: op.where(pass, core, 0), dF };
}

/**
 * logits, d/dz with log p_t = log σ(z) or log-softmax: core = F·(m + γ_eff·c·λ), dF/dz = −γ_eff·F·c,
 * with c = p_t, λ = −log p_t; no clamp (and no mask) for eps = 0.
 */
export function focalTermGradLogits(logPt: Value, m: Value, p: LossParams): TermGradient {
  const ct = logPt.dtype;
  const { gamma, eps, reducedThreshold: reduced = null } = p;
  const ge = gammaEff(m, gamma, reduced);
  let c: Value | undefined;
  let inner: Value = m;
  if (gamma !== 0) {
    c = op.exp(logPt);
    inner = op.add(m, scaled(op.mul(c, op.neg(logPt)), ge)); // c·λ ≥ 0
  }
  const f = focalWeight(m, gamma, reduced);
  const core = f ? op.mul(f, inner) : inner;
  const pass = eps === 0 ? undefined : op.equal(op.clip(logPt, logOf(eps, ct), 0), logPt);
  const dF = (): Value | undefined => {
    if (c === undefined) return undefined;
    const d = op.neg(op.mul(f ? op.mul(f, c) : c, param(ge, ct)));
    return pass ? op.where(pass, d, 0) : d;
  };
  return { core: pass ? op.where(pass, core, 0) : core, dF };
}

/** The seed's clamp on p_t: clamp(p_t, eps, 1). */
export const clampPt = (pt: Value, eps: Param): Value => op.clip(pt, param(eps, pt.dtype), 1);

/** log(clamp(p_t, eps, 1)) and 1 − clamp(p_t, eps, 1). */
export function clamped(pt: Value, eps: Param): { logPt: Value; m: Value } {
  const c = clampPt(pt, eps);
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
  const logEps = logOf(eps, ct);
  const upper = oneMinus(eps, ct);
  return { logPt: op.clip(logPt, logEps, 0), m: op.clip(m, 0, upper) };
}

/**
 * The reduction, written once: none (the elements themselves), sum, mean = Σ l / D, or
 * weighted-mean = Σ w·l / Σ w (0, not 0/0, where Σ w = 0: Keras' divide_no_nan). `divisor` is D
 * ('mean', the default: the element count, a plain ReduceMean; else a number or a device scalar,
 * see terms.ts's `meanDivisor`). `loss` is already weighted (`weighted`); `weight` is the weight
 * input as given (a sample weight [N] may be broadcast over labels in `loss`): mean(w·l) / mean(w)
 * is Σ w·l / Σ w over the broadcast weights, with no shape arithmetic. `axes`: over those axes
 * only (the multi-label per-label vector, a row's mean over its labels).
 */
export function reduce(loss: Value, reduction: Reduction, r: { divisor?: Param | 'mean'; weight?: Value; axes?: readonly number[]; accumulate?: DType } = {}): Value {
  const how = r.axes ? { axes: [...r.axes], keepdims: false } : { keepdims: false };
  // The whole loss added in float64 (accumulate): the elements cast up, the result left float64 for the caller's Cast.
  if (r.accumulate === 'float64' && loss.dtype !== 'float64' && reduction !== 'none' && !r.axes) {
    return reduce(op.cast(loss, 'float64'), reduction, { ...r, accumulate: undefined });
  }
  if (reduction === 'none') return loss;
  if (reduction === 'weighted-mean') {
    if (!r.weight) throw new RangeError('reduce: weighted-mean needs the weight input');
    const mw = op.reduceMean(toType(r.weight, loss.dtype), how);
    return op.where(op.equal(mw, 0), 0, op.div(op.reduceMean(loss, how), mw));
  }
  // Σ l / D: the mean's divisor, or one on the sum (MONAI's spatial mean, spatialSize).
  if (r.divisor !== undefined && r.divisor !== 'mean') return op.div(op.reduceSum(loss, how), param(r.divisor, loss.dtype));
  return reduction === 'sum' ? op.reduceSum(loss, how) : op.reduceMean(loss, how);
}

/** Σ v (over `how`) added in float64 where `accumulate` says so and v is not, in v's type. */
export function sumIn(v: Value, how: { axes?: number[]; keepdims: boolean }, accumulate: DType | undefined): Value {
  if (accumulate !== 'float64' || v.dtype === 'float64') return op.reduceSum(v, how);
  return op.cast(op.reduceSum(op.cast(v, 'float64'), how), v.dtype);
}

/**
 * The reduction's gradient beside it: what each element's gradient is divided by — D (mean; the
 * element count of `countLike` for 'mean'), D·mean(w) (weighted-mean), the spatial size (sum with
 * spatialMean: `divisor` a number or value), or undefined for sum and none.
 */
export function reduceDivisor(reduction: Reduction, divisor: Param | 'mean', countLike: Value, ct: DType, weight?: Value): Param | undefined {
  if (reduction === 'sum') return divisor === 'mean' ? undefined : divisor;
  if (reduction === 'none') return undefined;
  const count = divisor === 'mean' ? elementCount(countLike, ct) : divisor;
  if (reduction === 'mean') return count;
  if (!weight) throw new RangeError('reduceDivisor: weighted-mean needs the weight input');
  // Σ w = 0: the loss is the constant 0 (reduce), so its gradient is 0 — each element's w·dl (w = 0) divided by 1, not 0.
  const mw = op.reduceMean(toType(weight, ct), { keepdims: false });
  return op.mul(param(count, ct), op.where(op.equal(mw, 0), 1, mw));
}

/**
 * `w` (a weight input: [N], or shaped like the elements) lifted to broadcast against `like` ([N, …]).
 * `tail`: axes after the label axis (labelAxis not last): a weight per row ([B, H, W] for
 * [B, C, H, W]) gets its label axis back there, not at the end.
 */
export function weightLike(w: Value, like: Value, tail = 0): Value {
  const x = toType(w, like.dtype);
  if (tail > 0 && x.rank === like.rank - 1) return op.unsqueeze(x, [like.rank - 1 - tail]);
  return withTail(x, Math.max(0, like.rank - x.rank));
}

/** The element losses times the weight input, when there is one (`tail`: see weightLike). */
export function weighted(loss: Value, weight: Value | undefined, tail = 0): Value {
  return weight ? op.mul(loss, weightLike(weight, loss, tail)) : loss;
}

/**
 * Label smoothing as Keras, t·(1 − X) + X/k (k = 2 for a binary target, C for a row of class
 * probabilities; `k` a number or a device scalar), computed as t − X·(t − 1/k): the same number,
 * and no Mul by a constant near 1 — onnxruntime's optimizer drops a Mul by a float64 constant
 * that rounds to 1.0f (1 − X for a small X) after a Cast from integer targets. X = 0 (a number)
 * leaves t as it is.
 */
export function smoothTargets(t: Value, x: Param, k: Param): Value {
  if (x === 0) return t;
  const ct = t.dtype;
  return op.sub(t, op.mul(op.sub(t, recip(k, ct)), param(x, ct)));
}

/**
 * Keras' clip of a probability inside the cross-entropy, in the log domain: for p in (0, 1) given
 * as log p, log(clip(p, eps, 1 − eps)) = clip(log p, log eps, log(1 − eps)). eps = 0: none.
 */
export function clipLogProb(logP: Value, eps: Param): Value {
  if (eps === 0) return logP;
  const ct = logP.dtype;
  const lo = logOf(eps, ct);
  return op.clip(logP, lo, logOneMinus(eps, ct));
}

/** Keras' clip of a probability to [eps, 1 − eps]; eps = 0: none. */
export function clipProb(p: Value, eps: Param): Value {
  if (eps === 0) return p;
  const ct = p.dtype;
  return op.clip(p, param(eps, ct), oneMinus(eps, ct));
}

/** α, γ, eps and the label smoothing as the graph sees them: numbers (the flat graph) or a function's attributes. */
export interface LossParams {
  /** A number, a per-label / per-class list, a value (scalar or vector, from an attribute), or null. */
  readonly alpha: number | readonly number[] | Value | null;
  readonly gamma: Param;
  readonly eps: Param;
  /** X of the label smoothing; 0 for none. */
  readonly smoothing: Param;
  /** The weight input, when the model has one. */
  readonly weight?: Value;
  /** The reduced focal loss's threshold X, or null. */
  readonly reducedThreshold?: Param | null;
  /** Axes after the label axis (labelAxis not last): per-label tables get as many trailing 1s. */
  readonly labelTail?: number;
  /** Told the focal factor F of each element-wise term as it is built (undefined: F = 1). */
  readonly onTerm?: (parts: { f: Value | undefined; m: Value; logPt: Value }) => void;
}

/**
 * MONAI's spatial size: the product of the axes of `x` other than the first and the channel axis
 * (what `loss.mean(dim=range(2, rank))` divides by), or every element's count for rank ≤ 2, where
 * MONAI's `mean(dim=[])` averages everything. A number when the sizes are known, else counted from
 * the shape in the graph.
 */
export function spatialSize(x: Value, o: FocalOptions, dtype: DType): Param {
  const c = channelAxis(o, x.rank);
  if (x.rank <= 2 || c === undefined) return elementCount(x, dtype);
  const axes = [...Array(x.rank).keys()].filter((i) => i !== 0 && i !== c);
  // Known sizes multiplied; else on the device: count(x) / count(x summed over the spatial axes).
  return knownSize(axes.map((i) => x.shape[i])) ?? op.div(param(elementCount(x, dtype), dtype), param(elementCount(op.reduceSum(x, { axes, keepdims: false }), dtype), dtype));
}
