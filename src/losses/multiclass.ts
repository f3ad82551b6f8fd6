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
import { Value, op } from '../onnx';
import { LossParams, clamped, clampedLog, classCount, clipLogProb, clipProb, focalTerm, oneHot, rowLength, smoothTargets, toType } from './focal';
import { negAlphaT } from './alpha';
import { FocalOptions, usesSoftForm } from './options';

/** The class dimension: fixed by a per-class α list, else symbolic. */
export function classDim(o: FocalOptions): number | string {
  return Array.isArray(o.alpha) ? o.alpha.length : 'C';
}

export function multiclassElements(x: Value, target: Value, o: FocalOptions, p: LossParams): Value {
  if (usesSoftForm(o)) return op.reduceSum(softElements(x, target, o, p), { axes: [1], keepdims: false });
  const ct = x.dtype;
  const logits = o.input === 'logits';
  const scores = logits ? op.logSoftmax(x, 1) : x;

  let pick: (v: Value) => Value;
  if (o.form === 'onehot') {
    const depth = classCount(x);
    const mask = oneHot(toType(target, 'int64'), depth, ct, -1, x.shape[1]);
    pick = (v) => op.reduceSum(op.mul(v, mask), { axes: [1], keepdims: false });
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
  return focalTerm(logPt, m, p.gamma, negAlphaT(p.alpha, ct, { kind: 'class', like: target, select: o.form === 'onehot' ? (table) => pick(op.unsqueeze(table, [0])) : (table) => op.gather(table, target, 0) }), p);
}

/** The soft target rows [N, C] in the compute type: the given probabilities, or the one-hot of class indices; label-smoothed. */
export function softTargetRows(x: Value, target: Value, o: FocalOptions, p: LossParams): Value {
  const ct = x.dtype;
  const t =
    o.targets === 'soft'
      ? toType(target, ct)
      : oneHot(toType(target, 'int64'), classCount(x), ct, -1, x.shape[1]);
  return smoothTargets(t, p.smoothing, p.smoothing === 0 ? 1 : rowLength(x, ct));
}

/** The clipped class probabilities of the soft form: log c and m = 1 − c, [N, C]. */
export function softProbs(x: Value, o: FocalOptions, p: LossParams): { logC: Value; m: Value; c: Value } {
  if (o.input === 'logits') {
    const logC = clipLogProb(op.logSoftmax(x, 1), p.eps);
    const c = op.exp(logC);
    return { logC, c, m: op.sub(1, c) };
  }
  const c = clipProb(op.div(x, op.reduceSum(x, { axes: [1], keepdims: true })), p.eps);
  return { logC: op.log(c), c, m: op.sub(1, c) };
}

/** The soft form's per-class terms −α_c · (1 − c)^γ · t_c · log c, [N, C]. */
function softElements(x: Value, target: Value, o: FocalOptions, p: LossParams): Value {
  const ct = x.dtype;
  const t = softTargetRows(x, target, o, p);
  const { logC, m } = softProbs(x, o, p);
  return focalTerm(op.mul(t, logC), m, p.gamma, negAlphaT(p.alpha, ct, { kind: 'class', like: x }));
}

