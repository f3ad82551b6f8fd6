/**
 * Multi-class focal loss (beyond the seed; what kornia, MONAI and Keras users expect):
 * `pred` [N, C] probabilities or logits, `target` [N] class indices → `loss`.
 *
 *     p = pred (probs) or softmax(pred, axis 1) (logits);  p_t = p[n, t_n]
 *     loss_n = −α_t · (1 − clamp(p_t, eps, 1))^γ · log(clamp(p_t, eps, 1))
 *
 * α_t is α for every class (a number, kornia's convention), α[t_n] (a per-class list), or 1
 * (none). Logits take log p_t from LogSoftmax (stable) and clamp it as clamp(log p_t, log eps, 0),
 * the same function as log(clamp(p_t, eps, 1)); eps = 0 drops the clamp.
 *
 * Forms: `arith` picks p_t with GatherElements; `onehot` builds the one-hot mask of the target
 * (depth C, from the shape of pred) and takes the masked sum, as the seed does for two classes.
 *
 * Soft targets (`targets: 'soft'`: `target` [N, C] of class probabilities — one-hot, mixup,
 * distillation), or label smoothing of class indices or of such rows (t ← t·(1 − X) + X/C), as
 * Keras' `CategoricalFocalCrossentropy`:
 *
 *     q = pred / Σ_c pred (probs; softmax for logits),  c = clip(q, eps, 1 − eps)
 *     loss_n = Σ_c −α_c · (1 − c)^γ · t_c · log c
 *
 * α a number multiplies every class (Keras' α), a list weighs each class; eps = 0 drops the clip
 * (with logits log q is LogSoftmax, stable).
 */
import { Value, classCount, oneHotRows, op, powByProducts, rowLength, scaled, toType } from '../onnx';
import { LossParams, clampPt, clamped, clampedLog, clipLogProb, clipProb, focalTerm, focalTermGradLogits, focalTermGradProbs, passMask, rho, smoothTargets } from './focal';
import { GradContext, termsGradient } from './terms';
import { negAlphaT } from './alpha';
import { FocalOptions } from './options';

/** Σ over the classes (axis 1), the class axis kept where `keepdims`. */
const sumClasses = (v: Value, keepdims = false): Value => op.reduceSum(v, { axes: [1], keepdims });

/** The one-hot of class indices `idx` in x's type, on the class axis 1 ([N, C], or [B, C, d1, …] with labelAxis 1; −1 for [N, C], as before). */
function classOneHot(x: Value, idx: Value): Value {
  const depth = classCount(x, 1);
  return oneHotRows(toType(idx, 'int64'), depth, x.dtype, x.rank === 2 ? -1 : 1, x.shape[1]);
}

export function multiclassElements(x: Value, target: Value, o: FocalOptions, p: LossParams): Value {
  const ct = x.dtype;
  const logits = o.input === 'logits';
  const scores = logits ? op.logSoftmax(x, 1) : x;

  let pick: (v: Value) => Value;
  if (o.form === 'onehot') {
    const mask = classOneHot(x, target);
    pick = (v) => sumClasses(op.mul(v, mask));
  } else {
    const idx = op.unsqueeze(target, [1]);
    pick = (v) => op.squeeze(op.gatherElements(v, idx, 1), [1]);
  }

  let logPt: Value;
  let m: Value;
  if (logits) {
    const logP = pick(scores);
    ({ logPt, m } = clampedLog(logP, op.sub(1, op.exp(logP)), p.eps));
  } else {
    ({ logPt, m } = clamped(pick(scores), p.eps));
  }
  return focalTerm(logPt, m, p.gamma, negAlphaT(p.alpha, ct, { kind: 'class', like: target, select: o.form === 'onehot' ? (table) => pick(op.unsqueeze(table, [0, ...Array.from({ length: x.rank - 2 }, (_, i) => i + 2)])) : (table) => op.gather(table, target, 0) }), p);
}

/** The soft target rows [N, C] in the compute type: the given probabilities, or the one-hot of class indices; label-smoothed. */
export function softTargetRows(x: Value, target: Value, o: FocalOptions, p: LossParams): Value {
  const ct = x.dtype;
  const t = o.targets === 'soft' ? toType(target, ct) : classOneHot(x, target);
  return smoothTargets(t, p.smoothing, p.smoothing === 0 ? 1 : rowLength(x, ct, 1));
}

/** The clipped class probabilities of the soft form: log c and m = 1 − c, [N, C]. */
export function softProbs(x: Value, o: FocalOptions, p: LossParams): { logC: Value; m: Value; c: Value } {
  if (o.input === 'logits') {
    const logC = clipLogProb(op.logSoftmax(x, 1), p.eps);
    const c = op.exp(logC);
    return { logC, c, m: op.sub(1, c) };
  }
  const c = clipProb(op.div(x, sumClasses(x, true)), p.eps);
  return { logC: op.log(c), c, m: op.sub(1, c) };
}

/** The soft form: the per-class terms −α_c · (1 − c)^γ · t_c · log c, summed over the classes. */
export function softMulticlassElements(x: Value, target: Value, o: FocalOptions, p: LossParams): Value {
  const ct = x.dtype;
  const t = softTargetRows(x, target, o, p);
  const { logC, m } = softProbs(x, o, p);
  return sumClasses(focalTerm(op.mul(t, logC), m, p.gamma, negAlphaT(p.alpha, ct, { kind: 'class', like: x, tail: x.rank - 2 })));
}

// ---- gradients (see focal.ts for the derivation) ----------------------------------------------------

/** Below this the multi-class "others" mass is treated as 0 when normalizing (a normal float32). */
const TINY_MASS = 1e-30;

/**
 * The gradient of the hard form (and its terms): probs dL/dp_j = [j = t] · dL/dp_t; logits
 * dL/dx = G · (onehot − q), G = dL/d(log p_t)·m, q the softmax over the other classes and m their
 * mass Σ_{k≠t} p_k (accurate relative to itself, unlike 1 − p_t near p_t = 1).
 */
export function multiclassGradient(x: Value, o: FocalOptions, p: LossParams, ctx: GradContext): Value {
  const ct = x.dtype;
  const idx = ctx.prep.target;
  const onehot = classOneHot(x, idx);
  const pick = (v: Value): Value => sumClasses(op.mul(v, onehot));
  const finish = termsGradient(negAlphaT(p.alpha, ct, { kind: 'class', like: idx, select: (table) => op.gather(table, idx, 0) }), x, o, p, ctx, idx);
  const row = (v: Value): Value => op.unsqueeze(v, [1]);

  if (o.input === 'probs') {
    const pt = pick(x);
    return op.mul(row(finish(focalTermGradProbs(pt, op.sub(1, clampPt(pt, p.eps)), p))), onehot);
  }
  const logP = op.logSoftmax(x, 1);
  const others = op.mul(op.exp(logP), op.sub(1, onehot));
  const m = sumClasses(others);
  const gz = finish(focalTermGradLogits(pick(logP), m, p));
  const q = op.div(others, row(op.max(m, TINY_MASS)));
  return op.mul(row(gz), op.sub(onehot, q));
}

/**
 * The soft form's gradient: per class L_j = −α_j · m_j^γ · t_j · log c_j with
 * c = clip(q, eps, 1 − eps), m = 1 − c, so dL_j/dc_j = −α_j · t_j · m^γ · (γρ + 1/c) (ρ as the
 * hard form's, no negative power of m), passing where the clip left q as it was. Then through q:
 *
 *     probs (q = p / S, S = Σ p):  dL/dp_k = (g_k − Σ_j g_j·q_j) / S,   g = dL/dq
 *     logits (log q = LogSoftmax): dL/dx_k = h_k − q_k·Σ_j h_j,        h = dL/d(log q) = q·g
 */
export function softMulticlassGradient(x: Value, o: FocalOptions, p: LossParams, ctx: GradContext): Value {
  const ct = x.dtype;
  const t = softTargetRows(x, ctx.prep.target, o, p);
  const { logC, c, m } = softProbs(x, o, p);
  const f = powByProducts(m, p.gamma);
  const r = p.gamma === 0 ? undefined : rho(c, logC);
  const gr = r === undefined ? undefined : scaled(r, p.gamma);
  const rows = sumClasses(t); // any [N] value: the count of rows
  const finish = termsGradient(negAlphaT(p.alpha, ct, { kind: 'class', like: x, tail: x.rank - 2 }), x, o, p, ctx, rows);
  const tf = f ? op.mul(t, f) : t;
  if (o.input === 'logits') {
    // h / (−α_j·scale) = t·m^γ·(γρc + 1), masked.
    const logQ = op.logSoftmax(x, 1);
    const inner = gr ? op.add(op.mul(gr, c), 1) : undefined;
    const h = finish({ core: passMask(inner ? op.mul(tf, inner) : tf, logC, logQ, p.eps) });
    return op.sub(h, op.mul(op.exp(logQ), sumClasses(h, true)));
  }
  const sum = sumClasses(x, true);
  const q = op.div(x, sum);
  const invC = op.reciprocal(c);
  const inner = gr ? op.add(gr, invC) : invC;
  const g = finish({ core: passMask(op.mul(tf, inner), c, q, p.eps) });
  return op.div(op.sub(g, sumClasses(op.mul(g, q), true)), sum);
}
