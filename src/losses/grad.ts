/**
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
 */
import { DType, Value, op } from '../onnx';
import { negAlphaT } from './alpha';
import { softTarget } from './binary';
import {
  LossParams,
  Param,
  classCount,
  clipLogProb,
  clipProb,
  divBy,
  elementCount,
  focalFactor,
  focalWeight,
  logOf,
  logSigmoidPair,
  minusOne,
  oneHot,
  oneMinus,
  param,
  pdiv,
  rowLength,
  scaled,
  toType,
  weightLike,
} from './focal';
import { softProbs, softTargetRows } from './multiclass';
import { FocalOptions, usesSoftForm } from './options';
import { hasTerms } from './terms';
import { Prepared, termWeight } from './terms-graph';

/** What the loss built that the gradient of its terms needs. */
export interface GradContext {
  readonly prep: Prepared;
  /** The divisor of reduction mean ('mean': the element count). */
  readonly divisor: Param | 'mean';
  /** The normalized loss: max(Σ F, 1e-6) and Σ l before the division. */
  readonly focalSum?: Value;
  readonly rawSum?: Value;
}

/** Below this the multi-class "others" mass is treated as 0 when normalizing (a normal float32). */
const TINY_MASS = 1e-30;

/**
 * The gradient output (compute type, shaped like `x`), for `x` already in the compute type.
 *
 * The weight input, the labels' mean and the reductions are multipliers on each element's
 * gradient (w does not depend on pred): w · s, with s = 1/count for mean, 1/(count · mean(w)) for
 * weighted-mean (Σ w·l / Σ w over the broadcast weights), 1 for sum and none, each times 1/L with
 * `labelMean` but for the means, whose count is already N·L.
 */
export function focalGradient(x: Value, target: Value, o: FocalOptions, p: LossParams, ctx?: GradContext): Value {
  let grad: Value;
  if (ctx && hasTerms(o)) grad = termsGradient(x, o, p, ctx);
  else if (o.task === 'multiclass') grad = usesSoftForm(o) ? softMulticlassGradient(x, target, o, p) : multiclassGradient(x, target, o, p);
  else grad = usesSoftForm(o) ? softBinaryGradient(x, target, o, p) : binaryGradient(x, target, o, p);
  return p.weight ? op.mul(grad, weightLike(p.weight, grad)) : grad;
}

// ---- the per-element cores -----------------------------------------------------------------------

/**
 * probs: m^γ · (γρ + 1/c), so dL/dc = −α_t times this, where the clamp passes p_t (else 0).
 * `m` is 1 − p_t computed without cancellation where the caller can (binary: t − s·p).
 */
function probsCore(pt: Value, m: Value, gamma: Param, eps: Param): Value {
  const ct = pt.dtype;
  const c = op.clip(pt, param(eps, ct), 1);
  const inv = op.reciprocal(c);
  let inner: Value = inv;
  if (gamma !== 0) {
    // ρ = log c / (c − 1), 1 at c = 1 (the Where keeps the 0/0 out).
    const rho = op.where(op.equal(c, 1), 1, op.div(op.log(c), op.sub(c, 1)));
    inner = op.add(scaled(rho, gamma), inv);
  }
  const f = focalFactor(m, gamma);
  const core = f ? op.mul(f, inner) : inner;
  return op.where(op.equal(c, pt), core, 0);
}

/** logits: m^γ · (m + γ·c·λ), so G = dL/dz = −α_t times this, where the clamp passes log p_t (else 0). */
function logitsCore(logPt: Value, m: Value, gamma: Param, eps: Param): Value {
  const ct = logPt.dtype;
  let inner: Value = m;
  if (gamma !== 0) {
    const cl = op.mul(op.exp(logPt), op.neg(logPt)); // c·λ ≥ 0
    inner = op.add(m, scaled(cl, gamma));
  }
  const f = focalFactor(m, gamma);
  const core = f ? op.mul(f, inner) : inner;
  if (eps === 0) return core;
  return op.where(op.equal(op.clip(logPt, logOf(eps, ct), 0), logPt), core, 0);
}

/**
 * −α_t times the reduction's scale (see focalGradient): the factor every core is multiplied by.
 * `elements` is shaped like the element losses before any mean over labels (the target's shape
 * for binary and multilabel, [N] for multiclass); `x` is pred (for L).
 */
function outerFactor(negAlpha: Param, elements: Value, o: FocalOptions, ct: DType, p: LossParams, x: Value): Param {
  if (o.reduction === 'mean' || o.reduction === 'weighted-mean') {
    let count = elementCount(elements, ct);
    if (o.reduction === 'weighted-mean') {
      if (!p.weight) throw new RangeError('focalGradient: weighted-mean needs the weight input');
      count = op.mul(param(count, ct), op.reduceMean(toType(p.weight, ct), { keepdims: false }));
    }
    return pdiv(negAlpha, count, ct);
  }
  if (!o.labelMean) return negAlpha;
  return pdiv(negAlpha, rowLength(x, ct), ct);
}

/** d(m^γ)/dm = γ·m^(γ−1), for the soft probs form: undefined for γ = 0 (no term), 1 for γ = 1. */
function focalFactorDerivative(m: Value, gamma: Param): Value | 1 | undefined {
  const ct = m.dtype;
  if (typeof gamma !== 'number') return op.mul(op.pow(m, op.sub(toType(gamma, ct), 1)), toType(gamma, ct));
  if (gamma === 0) return undefined;
  if (gamma === 1) return 1;
  if (gamma === 2) return op.mul(m, 2);
  return op.mul(op.pow(m, gamma - 1), gamma);
}

/** v where the clip left `clipped` equal to `raw` (the gradient passes), else 0; eps = 0: v. */
function passMask(v: Value, clipped: Value, raw: Value, eps: Param): Value {
  return eps === 0 ? v : op.where(op.equal(clipped, raw), v, 0);
}

/** ρ = log c / (c − 1), 1 at c = 1 (no 0/0): −log(1 − m)/m for m = 1 − c. */
function rho(c: Value, logC: Value): Value {
  return op.where(op.equal(c, 1), 1, op.div(logC, op.sub(c, 1)));
}

// ---- binary and multi-label ------------------------------------------------------------------------

function binaryGradient(x: Value, target: Value, o: FocalOptions, p: LossParams): Value {
  const ct = x.dtype;
  const t = toType(target, ct);
  const s = op.sub(op.mul(t, 2), 1);
  const sx = op.mul(x, s);
  let core: Value;
  if (o.input === 'logits') {
    // log σ(z) = min(z, 0) − T and log σ(−z) = −max(z, 0) − T, T = log(1 + e^(−|z|)) shared.
    const ls = logSigmoidPair(sx);
    const logPt = ls.pos;
    const m = op.exp(ls.neg);
    core = logitsCore(logPt, m, p.gamma, p.eps);
  } else {
    // As the loss's arith form: p_t = (1 − t) + s·p and 1 − p_t = t − s·p, each without cancellation.
    core = probsCore(op.add(op.sub(1, t), sx), op.sub(t, sx), p.gamma, p.eps);
  }
  return op.mul(scaled(core, outerFactor(negAlphaT(p.alpha, ct, { kind: 'sigmoid', t }), target, o, ct, p, x)), s);
}

/**
 * The soft form (binary.ts): L = −α_t · m^γ · B with B = −BCE = t·log c + u·log(1 − c),
 * m = 1 − p_t = t·(1 − p) + u·p, so dm/dp = −s (s = 2t − 1) and
 *
 *     probs:  dL/dp = −α_t · [−s·γ·m^(γ−1)·B + m^γ·[mask]·(t/c − u/(1 − c))]
 *     logits: dL/dx = −α_t · [−s·γ·m^γ·r·B + m^γ·(t·(1 − p)·[mask₊] − u·p·[mask₋])],  r = p(1 − p)/m
 *
 * (logits: dm/dx = −s·p·(1 − p), and r ≤ 1 keeps the negative power of m out: r = 0 where m
 * underflows to 0). The masks pass where the clip of p (or of log σ(±x)) left it as it was.
 * probs with 0 < γ < 1 at m = 0 (p = t ∈ {0, 1}): the true gradient is infinite, and so is this.
 */
function softBinaryGradient(x: Value, target: Value, o: FocalOptions, p: LossParams): Value {
  const ct = x.dtype;
  const t = softTarget(target, ct, p);
  const u = op.sub(1, t);
  const s = op.sub(t, u);
  let b: Value;
  let m: Value;
  let dB: Value;
  let dmTerm: Value | 1 | undefined; // d(m^γ)/d(input) / (−s): the factor of −s·B
  if (o.input === 'logits') {
    const ls = logSigmoidPair(x);
    const lp = clipLogProb(ls.pos, p.eps);
    const lq = clipLogProb(ls.neg, p.eps);
    const pr = op.exp(ls.pos);
    const q = op.exp(ls.neg);
    b = op.add(op.mul(t, lp), op.mul(u, lq));
    m = op.add(op.mul(t, q), op.mul(u, pr));
    dB = op.sub(passMask(op.mul(t, q), lp, ls.pos, p.eps), passMask(op.mul(u, pr), lq, ls.neg, p.eps));
    if (p.gamma !== 0) {
      const pq = op.mul(pr, q);
      const r = op.where(op.equal(m, 0), 0, op.div(pq, m));
      const mg = focalFactor(m, p.gamma);
      const gr = scaled(r, p.gamma);
      dmTerm = mg ? op.mul(mg, gr) : gr;
    }
  } else {
    const c = clipProb(x, p.eps);
    const c1 = op.sub(1, c);
    b = op.add(op.mul(t, op.log(c)), op.mul(u, op.log(c1)));
    m = op.add(op.mul(t, op.sub(1, x)), op.mul(u, x));
    dB = passMask(op.sub(op.div(t, c), op.div(u, c1)), c, x, p.eps);
    dmTerm = focalFactorDerivative(m, p.gamma);
  }
  const f = focalFactor(m, p.gamma);
  let core: Value = f ? op.mul(f, dB) : dB;
  if (dmTerm !== undefined) core = op.sub(core, op.mul(dmTerm === 1 ? s : op.mul(s, dmTerm), b));
  return scaled(core, outerFactor(negAlphaT(p.alpha, ct, { kind: 'sigmoid', t }), t, o, ct, p, x));
}

// ---- multi-class -----------------------------------------------------------------------------------

function multiclassGradient(x: Value, target: Value, o: FocalOptions, p: LossParams): Value {
  const ct = x.dtype;
  const depth = classCount(x);
  const onehot = oneHot(toType(target, 'int64'), depth, ct, -1, x.shape[1]);
  const pick = (v: Value): Value => op.reduceSum(op.mul(v, onehot), { axes: [1], keepdims: false });
  const factor = outerFactor(negAlphaT(p.alpha, ct, { kind: 'class', like: target, select: (table) => op.gather(table, target, 0) }), target, o, ct, p, x);
  const row = (v: Value): Value => op.unsqueeze(v, [1]);

  if (o.input === 'probs') {
    const pt = pick(x);
    const core = probsCore(pt, op.sub(1, op.clip(pt, param(p.eps, ct), 1)), p.gamma, p.eps);
    return op.mul(row(scaled(core, factor)), onehot);
  }
  const logP = op.logSoftmax(x, 1);
  const others = op.mul(op.exp(logP), op.sub(1, onehot));
  const m = op.reduceSum(others, { axes: [1], keepdims: false });
  const gz = scaled(logitsCore(pick(logP), m, p.gamma, p.eps), factor);
  const q = op.div(others, row(op.max(m, TINY_MASS)));
  return op.mul(row(gz), op.sub(onehot, q));
}

// ---- the detection and segmentation terms (terms.ts) -----------------------------------------------
//
// With w·π_t the class × positive weight, valid the mask of targets not ignored, F the focal factor
// (reduced: ((1 − c)/X)^γ where c ≥ X, else 1, so its γ-terms vanish there: γ_eff = 0) and D the
// divisor of the mean:
//
//     l_i = w·π·(−α_t)·F·log c          dl/dc = −α_t·w·π·F·(γ_eff·ρ + 1/c)      (probs)
//                                       dl/dz = −α_t·w·π·F·(m + γ_eff·c·λ)      (logits, z = s·x)
//     FL*: l = −α_t·w·π·log σ(γz)/γ,    dl/dz = −α_t·w·π·σ(−γz)
//     normalized: L = Σ l / S with S = max(Σ_valid F, 1e-6):
//         dL/dx_i = (dl_i/dx_i)/S − (Σ l)/S² · dF_i/dx_i,
//         dF/dc = −γ_eff·F/m = −γ_eff·m^(γ−1)/X^γ (probs),  dF/dz = −γ_eff·F·c (logits)
//
// then × valid (ignored: 0) and ÷ D for the mean. Multi-class logits use the same G-space as the
// plain gradient: dh/dx = m·h'(log p_t)·(onehot − q) for any h of log p_t.

/** γ where the focal term applies, 0 where the reduced loss's factor is 1 (m > 1 − X). */
function gammaEff(m: Value, gamma: Param, reduced: Param | null | undefined): Param {
  if (reduced === null || reduced === undefined) return gamma;
  const ct = m.dtype;
  return op.where(op.greater(m, param(oneMinus(reduced, ct), ct)), m.graph.constant(0, ct), param(gamma, ct));
}

/** probs: the core F·(γ_eff·ρ + 1/c) and dF/dc, both 0 where the clamp does not pass p_t. */
function probsTermCore(pt: Value, gamma: Param, eps: Param, reduced: Param | null | undefined): { core: Value; dF: Value | undefined } {
  const ct = pt.dtype;
  const c = op.clip(pt, param(eps, ct), 1);
  const m = op.sub(1, c);
  const inv = op.reciprocal(c);
  const ge = gammaEff(m, gamma, reduced);
  const rho = op.where(op.equal(c, 1), 1, op.div(op.log(c), op.sub(c, 1)));
  const inner = op.add(op.mul(rho, param(ge, ct)), inv);
  const f = focalWeight(m, gamma, reduced ?? null);
  const core = f ? op.mul(f, inner) : inner;
  // dF/dc = −γ_eff · m^(γ−1) / X^γ (none for γ = 0).
  let dF: Value | undefined;
  if (gamma !== 0) {
    const pm = focalFactor(m, minusOne(gamma, ct));
    dF = op.neg(op.mul(pm ?? op.add(op.mul(m, 0), 1), param(ge, ct)));
    if (reduced !== null && reduced !== undefined) {
      const xg = typeof reduced === 'number' && typeof gamma === 'number' ? Math.pow(reduced, -gamma) : op.pow(toType(reduced as Value, ct), op.neg(toType(gamma as Value, ct)));
      dF = op.mul(dF, param(xg, ct));
    }
  }
  const pass = op.equal(c, pt);
  return { core: op.where(pass, core, 0), dF: dF && op.where(pass, dF, 0) };
}

/** logits: the core F·(m + γ_eff·c·λ) and dF/dz = −γ_eff·F·c, both 0 where the clamp does not pass log p_t. */
function logitsTermCore(logPt: Value, m: Value, gamma: Param, eps: Param, reduced: Param | null | undefined): { core: Value; dF: Value } {
  const ct = logPt.dtype;
  const c = op.exp(logPt);
  const ge = gammaEff(m, gamma, reduced);
  const inner = op.add(m, op.mul(op.mul(c, op.neg(logPt)), param(ge, ct)));
  const f = focalWeight(m, gamma, reduced ?? null);
  const core = f ? op.mul(f, inner) : inner;
  const dF = op.neg(op.mul(f ? op.mul(f, c) : c, param(ge, ct)));
  if (eps === 0) return { core, dF };
  const pass = op.equal(op.clip(logPt, logOf(eps, ct), 0), logPt);
  return { core: op.where(pass, core, 0), dF: op.where(pass, dF, 0) };
}

/** From the per-element core (times −α_t·w·π), the normalized loss's correction, the mask and the mean's divisor. */
function finishTerms(core: Value, dF: Value | undefined, negAlpha: Param, x: Value, o: FocalOptions, ctx: GradContext, countLike: Value): Value {
  const ct = core.dtype;
  const w = termWeight(x, ctx.prep, o);
  let g = scaled(core, negAlpha);
  if (w) g = op.mul(g, w);
  if (o.normalized && ctx.focalSum && ctx.rawSum) {
    const S = ctx.focalSum;
    g = op.div(g, S);
    if (dF) g = op.sub(g, op.mul(dF, op.div(ctx.rawSum, op.mul(S, S))));
  }
  if (ctx.prep.valid) g = op.where(ctx.prep.valid, g, 0);
  if (o.reduction !== 'mean') return g;
  const d = ctx.divisor === 'mean' ? elementCount(countLike, ct) : ctx.divisor;
  return divBy(g, d);
}

function termsGradient(x: Value, o: FocalOptions, p: LossParams, ctx: GradContext): Value {
  const ct = x.dtype;
  if (o.task === 'multiclass') {
    const idx = ctx.prep.target;
    const depth = classCount(x);
    const onehot = oneHot(toType(idx, 'int64'), depth, ct, -1, x.shape[1]);
    const pick = (v: Value): Value => op.reduceSum(op.mul(v, onehot), { axes: [1], keepdims: false });
    const negAlpha = negAlphaT(p.alpha, ct, { kind: 'class', like: idx, select: (table) => op.gather(table, idx, 0) });
    const row = (v: Value): Value => op.unsqueeze(v, [1]);
    if (o.input === 'probs') {
      const { core, dF } = probsTermCore(pick(x), p.gamma, p.eps, p.reducedThreshold);
      return op.mul(row(finishTerms(core, dF, negAlpha, x, o, ctx, idx)), onehot);
    }
    const logP = op.logSoftmax(x, 1);
    const others = op.mul(op.exp(logP), op.sub(1, onehot));
    const m = op.reduceSum(others, { axes: [1], keepdims: false });
    const { core, dF } = logitsTermCore(pick(logP), m, p.gamma, p.eps, p.reducedThreshold);
    const q = op.div(others, row(op.max(m, TINY_MASS)));
    return op.mul(row(finishTerms(core, dF, negAlpha, x, o, ctx, idx)), op.sub(onehot, q));
  }
  const t = toType(ctx.prep.target, ct);
  const s = op.sub(op.mul(t, 2), 1);
  const sx = op.mul(x, s);
  const negAlpha = negAlphaT(p.alpha, ct, { kind: 'sigmoid', t });
  let core: Value;
  let dF: Value | undefined;
  if (o.variant === 'star') {
    // dl/dz = −α_t·σ(−γz), σ(−γz) as exp(log σ(−γz)).
    core = op.exp(logSigmoidPair(op.mul(sx, param(p.gamma, ct))).neg);
  } else if (o.input === 'logits') {
    const ls = logSigmoidPair(sx);
    ({ core, dF } = logitsTermCore(ls.pos, op.exp(ls.neg), p.gamma, p.eps, p.reducedThreshold));
  } else {
    ({ core, dF } = probsTermCore(op.add(op.sub(1, t), sx), p.gamma, p.eps, p.reducedThreshold));
  }
  return op.mul(finishTerms(core, dF, negAlpha, x, o, ctx, t), s);
}

/**
 * The soft multi-class form (multiclass.ts): per class L_j = −α_j · m_j^γ · t_j · log c_j with
 * c = clip(q, eps, 1 − eps), m = 1 − c, so dL_j/dc_j = −α_j · t_j · m^γ · (γρ + 1/c) (ρ as the
 * hard form's, no negative power of m), passing where the clip left q as it was. Then through q:
 *
 *     probs (q = p / S, S = Σ p):  dL/dp_k = (g_k − Σ_j g_j·q_j) / S,   g = dL/dq
 *     logits (log q = LogSoftmax): dL/dx_k = h_k − q_k·Σ_j h_j,        h = dL/d(log q) = q·g
 */
function softMulticlassGradient(x: Value, target: Value, o: FocalOptions, p: LossParams): Value {
  const ct = x.dtype;
  const t = softTargetRows(x, target, o, p);
  const { logC, c, m } = softProbs(x, o, p);
  const f = focalFactor(m, p.gamma);
  const r = p.gamma === 0 ? undefined : rho(c, logC);
  const gr = r === undefined ? undefined : scaled(r, p.gamma);
  const sumRows = (v: Value): Value => op.reduceSum(v, { axes: [1], keepdims: true });
  const rows = op.reduceSum(t, { axes: [1], keepdims: false }); // any [N] value: the count of rows
  const factor = outerFactor(negAlphaT(p.alpha, ct, { kind: 'class', like: x }), rows, o, ct, p, x);
  const tf = f ? op.mul(t, f) : t;
  if (o.input === 'logits') {
    // h / (−α_j·scale) = t·m^γ·(γρc + 1), masked.
    const logQ = op.logSoftmax(x, 1);
    const inner = gr ? op.add(op.mul(gr, c), 1) : undefined;
    const h = scaled(passMask(inner ? op.mul(tf, inner) : tf, logC, logQ, p.eps), factor);
    return op.sub(h, op.mul(op.exp(logQ), sumRows(h)));
  }
  const sum = op.reduceSum(x, { axes: [1], keepdims: true });
  const q = op.div(x, sum);
  const invC = op.reciprocal(c);
  const inner = gr ? op.add(gr, invC) : invC;
  const g = scaled(passMask(op.mul(tf, inner), c, q, p.eps), factor);
  return op.div(op.sub(g, sumRows(op.mul(g, q))), sum);
}
