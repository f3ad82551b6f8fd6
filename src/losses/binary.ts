/**
 * Binary focal loss — the seed's `FocalLoss`: `pred` [N], `target` [N] → `loss`.
 *
 * Per element, with t ∈ {0, 1}:
 *
 *     p_t = t·p + (1 − t)(1 − p)        α_t = t·α + (1 − t)(1 − α)
 *     loss = −α_t · (1 − clamp(p_t, eps, 1))^γ · log(clamp(p_t, eps, 1))
 *
 * then the mean (the seed's size_average=True), the sum, or none.
 *
 * Two forms, the same numbers for 0/1 targets:
 * - `onehot`, the seed op for op: Concat([1 − p, p]) → a OneHot mask of the target → the masked
 *   sum (p_t) → Clip → Log, Pow(1 − p_t, γ), the masked α table, Mul, reduction.
 * - `arith`: with s = 2t − 1, p_t = (1 − t) + s·p and 1 − p_t = t − s·p (each exact where it
 *   matters: p_t = p for t = 1 and 1 − p_t = p for t = 0, no cancellation), −α_t = (α − 1) +
 *   t·(1 − 2α). A few element-wise ops, no mask, no copies: much faster on the CPU.
 *
 * Logits (both forms) work in the log domain: z = s·x, log p_t = log σ(z) (stable), 1 − p_t = σ(−z),
 * and the clamp applied as clamp(log p_t, log eps, 0) — the same function as the seed's
 * log(clamp(p_t, eps, 1)) but exact where onnxruntime's float32 Sigmoid loses relative precision
 * (p_t ≈ 1e-6). eps = 0 drops the clamp: the stable form of torchvision and kornia.
 */
import { Value, op } from '../onnx';
import { LossParams, Param, clamped, clampedLog, focalTerm, logSigmoid, param, toType } from './focal';
import { FocalOptions } from './options';

/**
 * The element-wise binary focal loss of `pred` (already in the compute type) against `target`, of
 * any one shape. `alpha` may be per element of the last axis (the multi-label per-label α).
 */
export function binaryElements(pred: Value, target: Value, o: FocalOptions, p: LossParams): Value {
  return o.form === 'onehot' ? onehotForm(pred, target, o, p) : arithForm(pred, target, o, p);
}

function arithForm(x: Value, target: Value, o: FocalOptions, p: LossParams): Value {
  const ct = x.dtype;
  const t = toType(target, ct);
  const sign = op.sub(op.mul(t, 2), 1);
  let logPt: Value;
  let m: Value;
  if (o.input === 'logits') {
    const z = op.mul(x, sign);
    ({ logPt, m } = clampedLog(logSigmoid(z), op.sigmoid(op.neg(z)), p.eps));
  } else {
    const sp = op.mul(x, sign);
    const c = op.clip(op.add(op.sub(1, t), sp), param(p.eps, ct), 1);
    logPt = op.log(c);
    m = op.clip(op.sub(t, sp), 0, typeof p.eps === 'number' ? 1 - p.eps : op.sub(1, toType(p.eps, ct)));
  }
  return focalTerm(logPt, m, p.gamma, arithNegAlpha(t, p.alpha));
}

/** −α_t = (α − 1) + t·(1 − 2α) for a scalar, per-label list or attribute α; −1 when unweighted. */
function arithNegAlpha(t: Value, alpha: LossParams['alpha']): Param {
  const ct = t.dtype;
  if (alpha === null) return -1;
  if (typeof alpha === 'number') return alpha === 0.5 ? -0.5 : op.add(op.mul(t, 1 - 2 * alpha), alpha - 1);
  const g = t.graph;
  if (alpha instanceof Value) {
    const a = toType(alpha, ct);
    return op.add(op.mul(t, op.sub(1, op.mul(a, 2))), op.sub(a, 1));
  }
  const k1 = g.constant(alpha.map((a) => 1 - 2 * a), ct);
  const k0 = g.constant(alpha.map((a) => a - 1), ct);
  return op.add(op.mul(t, k1), k0);
}

function onehotForm(x: Value, target: Value, o: FocalOptions, p: LossParams): Value {
  const ct = x.dtype;
  const g = x.graph;
  const last = x.rank; // the new axis of the (…, 2) pair
  // class_mask: a one-hot of the target (OneHot on CUDA takes int64 indices and float32 values).
  const idx = toType(target, 'int64');
  const mask = toType(op.oneHot(idx, g.constant(2, 'int64'), g.constant([0, 1], 'float32'), -1), ct);
  const pick = (pair: Value): Value => op.reduceSum(op.mul(pair, mask), { axes: [last], keepdims: false });
  const pair = (neg: Value, pos: Value): Value => op.concat([op.unsqueeze(neg, [last]), op.unsqueeze(pos, [last])], last);

  let logPt: Value;
  let m: Value;
  if (o.input === 'logits') {
    // The masked pair of log-probabilities [log σ(−x), log σ(x)], and of 1 − p: [σ(x), σ(−x)].
    ({ logPt, m } = clampedLog(pick(pair(logSigmoid(op.neg(x)), logSigmoid(x))), pick(pair(op.sigmoid(x), op.sigmoid(op.neg(x)))), p.eps));
  } else {
    ({ logPt, m } = clamped(pick(pair(op.sub(1, x), x)), p.eps));
  }
  return focalTerm(logPt, m, p.gamma, onehotNegAlpha(mask, pick, p.alpha));
}

/** The seed's α table [1 − α, α] (negated), masked: −α_t per element. */
function onehotNegAlpha(mask: Value, pick: (pair: Value) => Value, alpha: LossParams['alpha']): Param {
  const ct = mask.dtype;
  const g = mask.graph;
  if (alpha === null) return -1;
  if (typeof alpha === 'number') return pick(g.constant([alpha - 1, -alpha], ct));
  if (alpha instanceof Value) {
    const a = op.unsqueeze(toType(alpha, ct), [alpha.rank]);
    return pick(op.concat([op.sub(a, 1), op.neg(a)], alpha.rank));
  }
  return pick(g.constant(alpha.flatMap((a) => [a - 1, -a]), ct, [alpha.length, 2]));
}
