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
 */
import { DType, Value, op } from '../onnx';
import { LossParams, Param, clamped, clampedLog, classCount, focalTerm, toType } from './focal';
import { FocalOptions } from './options';

/** The class dimension: fixed by a per-class α list, else symbolic. */
export function classDim(o: FocalOptions): number | string {
  return Array.isArray(o.alpha) ? o.alpha.length : 'C';
}

export function multiclassElements(x: Value, target: Value, o: FocalOptions, p: LossParams): Value {
  const ct = x.dtype;
  const logits = o.input === 'logits';
  const scores = logits ? op.logSoftmax(x, 1) : x;

  let pick: (v: Value) => Value;
  if (o.form === 'onehot') {
    const g = x.graph;
    const depth = classCount(x);
    const mask = toType(op.oneHot(toType(target, 'int64'), depth, g.constant([0, 1], 'float32'), -1, x.shape[1]), ct);
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
  return focalTerm(logPt, m, p.gamma, negAlpha(target, o, p.alpha, ct, pick), p);
}

function negAlpha(target: Value, o: FocalOptions, alpha: LossParams['alpha'], ct: DType, pick: (v: Value) => Value): Param {
  if (alpha === null) return -1;
  if (typeof alpha === 'number') return -alpha;
  if (alpha instanceof Value && alpha.rank === 0) return op.neg(toType(alpha, ct));
  const table = alpha instanceof Value ? op.neg(toType(alpha, ct)) : target.graph.constant(alpha.map((a) => -a), ct);
  // α per class: gathered by the target (arith), or the masked sum over classes (onehot).
  return o.form === 'onehot' ? pick(op.unsqueeze(table, [0])) : op.gather(table, target, 0);
}
