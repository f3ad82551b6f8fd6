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
 *   sum (p_t) → Clip → Log, Pow(1 − p_t, γ), the masked α table, Mul, reduction (laid out for
 *   onnxruntime's kernels: see onehotForm).
 * - `arith`: with u = 1 − t and s = t − u = 2t − 1, p_t = u + s·p (exact: p for t = 1, 1 − p for
 *   t = 0, for any p), the seed's clamp, and −α_t = (α − 1) + t·(1 − 2α) where that is exact
 *   (the seed's 0.25), else t·(−α) + u·(α − 1) (exact: one product is 0). Twelve element-wise
 *   passes, no mask, no copies: the fast form on the CPU (every op is a pass over memory;
 *   onnxruntime does not fuse element-wise chains; Log is the costliest, ~2 ns an element).
 *
 * Logits (both forms) work in the log domain: z = s·x, log p_t = log σ(z) (stable), 1 − p_t = σ(−z)
 * computed as exp(log σ(−z)), and the clamp applied as clamp(log p_t, log eps, 0) — the same function
 * as the seed's log(clamp(p_t, eps, 1)) but exact where onnxruntime's float32 Sigmoid loses relative
 * precision (p_t ≈ 1e-6; its Sigmoid is a fast approximation that also differs between the x64 and
 * WebAssembly builds: σ(−z) from it put float32 losses of confident elements 6e-6 off, and the two
 * runtimes 4e-6 apart). eps = 0 drops the clamp: the stable form of torchvision and kornia.
 *
 * Soft targets (`targets: 'soft'`, or label smoothing, t ← t·(1 − X) + X/2 first), as torchvision,
 * fvcore, optax and Keras: the binary cross-entropy instead of −log p_t,
 *
 *     loss = α_t · (1 − p_t)^γ · BCE(p, t),   BCE = −(t·log p + (1 − t)·log(1 − p))
 *     1 − p_t = t·(1 − p) + (1 − t)·p        α_t = t·α + (1 − t)·(1 − α)
 *
 * with p clipped to [eps, 1 − eps] inside the BCE only (Keras' clip; eps = 0: none), from logits
 * log p = log σ(x) and log(1 − p) = log σ(−x) (stable; clipped in the log domain), and
 * 1 − p_t = t·σ(−x) + (1 − t)·σ(x). For 0/1 targets and eps = 0 it is the hard form's function.
 */
import { Value, logSigmoidPair, oneHotRows, op, powByProducts, powDerivative, scaled, toType } from '../onnx';
import { negAlphaT } from './alpha';
import { LossParams, TermGradient, clamped, clampedLog, clipLogProb, clipProb, focalTerm, focalTermGradLogits, focalTermGradProbs, passMask, smoothTargets } from './focal';
import { GradContext, starGradient, termsGradient } from './terms';
import { FocalOptions } from './options';

/**
 * The element-wise binary focal loss of the hard forms, `pred` (already in the compute type)
 * against `target`, of any one shape. `alpha` may be per element of the last axis (the multi-label per-label α).
 */
export function binaryElements(pred: Value, target: Value, o: FocalOptions, p: LossParams, validInputs = false): Value {
  return o.form === 'onehot' ? onehotForm(pred, target, o, p) : arithForm(pred, target, o, p, validInputs);
}

/** The soft target's t, in the compute type, label-smoothed. */
export function softTarget(target: Value, ct: Value['dtype'], p: LossParams): Value {
  return smoothTargets(toType(target, ct), p.smoothing, 2);
}

/**
 * The soft form's parts, for its loss and its gradient: log p and log(1 − p) clipped (Keras'
 * clip), m = 1 − p_t = t·(1 − p) + u·p, and what the gradient reads (logits: the log-sigmoid pair
 * `ls` before the clip and σ(x), σ(−x) as `pr`, `q` with t·q and u·pr; probs: the clipped p as `c`).
 */
function softParts(x: Value, t: Value, u: Value, o: FocalOptions, p: LossParams) {
  if (o.input === 'logits') {
    const ls = logSigmoidPair(x);
    const [logP, log1mP] = [clipLogProb(ls.pos, p.eps), clipLogProb(ls.neg, p.eps)];
    const q = op.exp(ls.neg);
    const tq = op.mul(t, q);
    const pr = op.exp(ls.pos);
    const upr = op.mul(u, pr);
    return { logP, log1mP, m: op.add(tq, upr), ls, pr, q, tq, upr };
  }
  const c = clipProb(x, p.eps);
  const logP = op.log(c);
  const c1 = op.sub(1, c);
  return { logP, log1mP: op.log(c1), m: op.add(op.mul(t, op.sub(1, x)), op.mul(u, x)), c, c1 };
}

/** The soft form (see the top): −BCE = t·log p + u·log(1 − p) (two products, exact for 0/1 t), the focal factor of m, and −α_t as the hard arith form's. */
export function softBinaryElements(x: Value, target: Value, o: FocalOptions, p: LossParams): Value {
  const t = softTarget(target, x.dtype, p);
  const u = op.sub(1, t);
  const { logP, log1mP, m } = softParts(x, t, u, o, p);
  const negBce = op.add(op.mul(t, logP), op.mul(u, log1mP));
  return focalTerm(negBce, m, p.gamma, negAlphaT(p.alpha, x.dtype, { kind: 'sigmoid', t, u, fast: true, tail: p.labelTail }));
}

/**
 * `validInputs`: the caller guarantees probabilities in [0, 1] and targets 0 or 1 (the evaluator
 * checks every batch); then p_t = |p − u|, one pass fewer and the same bits as u + s·p for such
 * inputs (t = 1: |p − 0| = p; t = 0: |p − 1| = 1 − p, the same rounding), but not the seed's
 * numbers for a probability outside [0, 1], which the general form keeps.
 */
function arithForm(x: Value, target: Value, o: FocalOptions, p: LossParams, validInputs: boolean): Value {
  const ct = x.dtype;
  const t = toType(target, ct);
  const u = op.sub(1, t);
  let logPt: Value;
  let m: Value;
  if (o.input === 'logits') {
    const z = op.mul(x, op.sub(t, u));
    const ls = logSigmoidPair(z);
    ({ logPt, m } = clampedLog(ls.pos, op.exp(ls.neg), p.eps));
  } else if (validInputs) {
    ({ logPt, m } = clamped(op.abs(op.sub(x, u)), p.eps));
  } else {
    ({ logPt, m } = clamped(op.add(op.mul(x, op.sub(t, u)), u), p.eps));
  }
  return focalTerm(logPt, m, p.gamma, negAlphaT(p.alpha, ct, { kind: 'sigmoid', t, u, fast: true, tail: p.labelTail }), p);
}

function onehotForm(x: Value, target: Value, o: FocalOptions, p: LossParams): Value {
  const ct = x.dtype;
  const g = x.graph;
  // The class axis goes first, [2, …]: a pair is two contiguous halves (Concat copies two blocks,
  // the Unsqueezes are free).
  const cls = 0;
  // class_mask, [t = 0, t = 1]: the OneHot of depth 1 is class 0's row (1 exactly where the index
  // is 0), class 1's row is its complement. onnxruntime's CPU OneHot branches on every element it
  // writes, and with 0/1 targets in random order the branch mispredicts: one row instead of two
  // halves its cost (measured on 256K elements, 30% positives: 7.5 → 3.9 ns an element; the
  // complement and the Concat cost ~0.5). The same mask as the seed's for 0/1 targets (the seed's
  // scatter_ fails on any other index; here a truncated index other than 0 or −1 lands in class 1).
  // Float32 from int32 indices: CUDA's OneHot takes (int64, int64, float32) or (int32, int32,
  // float32); int32 halves the index bytes of a float target.
  const it = target.dtype === 'int64' ? 'int64' : 'int32';
  const isNeg = oneHotRows(toType(target, it), g.constant(1, it), ct, cls);
  const mask = op.concat([isNeg, op.sub(1, isNeg)], cls);
  const flatMask = op.reshape(mask, [2, -1]);
  // The masked sum over the two classes, Σ_c v[c]·mask[c], as the product with the row [1, 1]:
  // onnxruntime's ReduceSum over a size-2 axis takes a slow element-by-element path (~4 ns an
  // element), MatMul runs through MLAS (~0.3 ns). One product is exactly 0, so the sum is exact.
  const sumClasses = (v: Value): Value => op.reshapeLike(op.matMul(g.constant([1, 1], ct, [1, 2]), op.reshape(v, [2, -1])), x);
  const pick = (pair: Value): Value => sumClasses(op.mul(pair, mask));
  const pair = (neg: Value, pos: Value): Value => op.concat([op.unsqueeze(neg, [cls]), op.unsqueeze(pos, [cls])], cls);

  let logPt: Value;
  let m: Value;
  if (o.input === 'logits') {
    // The masked pair of log-probabilities [log σ(−x), log σ(x)], and of 1 − p: [σ(x), σ(−x)] (as exp of those).
    const { pos: lsPos, neg: lsNeg } = logSigmoidPair(x);
    ({ logPt, m } = clampedLog(pick(pair(lsNeg, lsPos)), pick(pair(op.exp(lsPos), op.exp(lsNeg))), p.eps));
  } else {
    ({ logPt, m } = clamped(pick(pair(op.sub(1, x), x)), p.eps));
  }
  return focalTerm(logPt, m, p.gamma, negAlphaT(p.alpha, ct, { kind: 'mask', like: x, mask, flatMask, sumClasses }), p);
}

// ---- gradients (see focal.ts for the derivation) ----------------------------------------------------

/**
 * The gradient of the hard forms (arith and onehot compute the same function), FL* and the
 * detection terms: with s = 2t − 1 and z = s·x (logits), p_t = (1 − t) + s·p and 1 − p_t = t − s·p
 * (probs, each without cancellation, as the arith form), dL/dx = s · dL/dz (or s · dL/dp_t).
 */
export function binaryGradient(x: Value, o: FocalOptions, p: LossParams, ctx: GradContext): Value {
  const ct = x.dtype;
  const t = toType(ctx.prep.target, ct);
  const s = op.sub(op.mul(t, 2), 1);
  const sx = op.mul(x, s);
  let g: TermGradient;
  if (o.variant === 'star') g = starGradient(sx, p);
  else if (o.input === 'logits') {
    const ls = logSigmoidPair(sx);
    g = focalTermGradLogits(ls.pos, op.exp(ls.neg), p);
  } else g = focalTermGradProbs(op.add(op.sub(1, t), sx), op.sub(t, sx), p);
  const finish = termsGradient(negAlphaT(p.alpha, ct, { kind: 'sigmoid', t, tail: p.labelTail }), x, o, p, ctx, ctx.prep.target);
  return op.mul(finish(g), s);
}

/**
 * The soft form's gradient: L = −α_t · m^γ · B with B = −BCE = t·log c + u·log(1 − c),
 * m = 1 − p_t = t·(1 − p) + u·p, so dm/dp = −s (s = 2t − 1) and
 *
 *     probs:  dL/dp = −α_t · [−s·γ·m^(γ−1)·B + m^γ·[mask]·(t/c − u/(1 − c))]
 *     logits: dL/dx = −α_t · [−s·γ·m^γ·r·B + m^γ·(t·(1 − p)·[mask₊] − u·p·[mask₋])],  r = p(1 − p)/m
 *
 * (logits: dm/dx = −s·p·(1 − p), and r ≤ 1 keeps the negative power of m out: r = 0 where m
 * underflows to 0). The masks pass where the clip of p (or of log σ(±x)) left it as it was.
 * probs with 0 < γ < 1 at m = 0 (p = t ∈ {0, 1}): the true gradient is infinite, and so is this.
 */
export function softBinaryGradient(x: Value, o: FocalOptions, p: LossParams, ctx: GradContext): Value {
  const ct = x.dtype;
  const t = softTarget(ctx.prep.target, ct, p);
  const u = op.sub(1, t);
  const s = op.sub(t, u);
  const sp = softParts(x, t, u, o, p);
  const { m } = sp;
  const b = op.add(op.mul(t, sp.logP), op.mul(u, sp.log1mP));
  let dB: Value;
  let dmTerm: Value | 1 | undefined; // d(m^γ)/d(input) / (−s): the factor of −s·B
  if (sp.ls) {
    dB = op.sub(passMask(sp.tq, sp.logP, sp.ls.pos, p.eps), passMask(sp.upr, sp.log1mP, sp.ls.neg, p.eps));
    if (p.gamma !== 0) {
      const r = op.where(op.equal(m, 0), 0, op.div(op.mul(sp.pr, sp.q), m));
      const mg = powByProducts(m, p.gamma);
      const gr = scaled(r, p.gamma);
      dmTerm = mg ? op.mul(mg, gr) : gr;
    }
  } else {
    dB = passMask(op.sub(op.div(t, sp.c), op.div(u, sp.c1)), sp.c, x, p.eps);
    dmTerm = powDerivative(m, p.gamma);
  }
  const f = powByProducts(m, p.gamma);
  let core: Value = f ? op.mul(f, dB) : dB;
  if (dmTerm !== undefined) core = op.sub(core, op.mul(dmTerm === 1 ? s : op.mul(s, dmTerm), b));
  return termsGradient(negAlphaT(p.alpha, ct, { kind: 'sigmoid', t, tail: p.labelTail }), x, o, p, ctx, t)({ core });
}
