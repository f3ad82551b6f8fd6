/**
 * The detection and segmentation terms of the shared formula (issue 13), around the task's
 * element-wise loss; their options are entries of registry.ts, checked by normalizeOptions:
 *
 *     l = −α_t · w · π_t · F · log clamp(p_t, eps, 1)          (variant focal)
 *     l = −α_t · w · π_t · log σ(γ·z) / γ,  z = x·(2t − 1)      (variant star: fvcore's FL*, logits)
 *
 * - w = classWeight[label] (multi-label: per column; multi-class: of the row's class), else 1;
 * - π_t = posWeight (per label or one number) where t = 1, 1 where t = 0 (binary / multi-label);
 * - F = (1 − p_t)^γ, or with reducedThreshold X: ((1 − p_t)/X)^γ, and 1 where p_t < X.
 *
 * In the graph:
 * 1. `prepareTargets`: the target as the task's forms read it — ignored targets (= ignoreIndex; an
 *    index or class row equal to it) replaced by 0 (a 0/1 float target; multi-class: class 0),
 *    index targets (targetFormat index, multi-label: [N] in [0, L]) turned into their 0/1 mask by a
 *    OneHot of depth L (the background L, and any index outside [0, L), is an all-zero row) — and
 *    the `valid` mask (bool, broadcastable to the elements), so no ignored value reaches a Log or a
 *    Gather;
 * 2. the task's element-wise loss on them (its forms unchanged), told the focal factor F
 *    (`onTerm`);
 * 3. `applyTerms`: × w·π_t, ÷ max(Σ F over the elements not ignored, 1e-6) (normalized; 'label':
 *    each label column by its own sum, smp's per-class normalization), ignored → 0;
 * 4. `meanDivisor`: what reduction mean divides Σ l by (none returns the elements undivided).
 *
 * Counts (elements not ignored, positives) are sums of masks in the graph, so they run on the
 * device like everything else; nothing is counted on the host.
 */
import { DType, Param, Value, classCount, divBy, elementCount, logSigmoidPair, oneHotRows, onesLike, op, param, pdiv, rowLength, scaled, toType, typed } from '../onnx';
import { labelAxisOf, labelTail } from './shapes';
import { LossParams, TermGradient, reduceDivisor, sumIn } from './focal';
import { negAlphaT } from './alpha';
import { FocalOptions } from './options';
import { NORMALIZED_FLOOR } from './vocabulary';

export interface Prepared {
  /** What the task's forms take as `target`: the original, or the cleaned 0/1 float mask / class index. */
  readonly target: Value;
  /** Where the target is not ignored (bool; element-shaped, or [N, 1] for index rows), or null. */
  readonly valid: Value | null;
  /** The 0/1 positives (compute type, element-shaped; multiclass: 1 per valid row), for counting. */
  readonly positives: Value | null;
}

export function prepareTargets(x: Value, target: Value, o: FocalOptions): Prepared {
  const ct = x.dtype;
  const V = o.ignoreIndex;
  const notIgnored = (t: Value): Value => op.not(op.equal(t, x.graph.constant(V as number, t.dtype)));
  if (o.task === 'multiclass') {
    if (V === null) return { target, valid: null, positives: null };
    const valid = notIgnored(target);
    return { target: op.where(valid, target, 0), valid, positives: toType(valid, ct) };
  }
  if (o.targetFormat === 'index') {
    // CUDA's OneHot: (int64, int64, float32) or (int32, int32, float32); depth L from pred's shape.
    const it = target.dtype === 'int32' ? 'int32' : 'int64';
    const a = labelAxisOf(o, x.rank) as number;
    const last = a === x.rank - 1;
    const depth = toType(classCount(x, a), it);
    const hot = oneHotRows(toType(target, it), depth, ct, last ? -1 : a, x.shape[a]);
    if (V === null) return { target: hot, valid: null, positives: hot };
    const valid = op.unsqueeze(notIgnored(target), [last ? target.rank : a]);
    const clean = op.where(valid, hot, 0);
    return { target: clean, valid, positives: clean };
  }
  if (V === null) return { target, valid: null, positives: null };
  // Compared in the compute type: Equal has no uint8 kernel on CUDA; small integers are exact in any float type.
  const t = toType(target, ct);
  const valid = notIgnored(t);
  const clean = op.where(valid, t, 0);
  return { target: clean, valid, positives: clean };
}

/** The per-element multiplier w · π_t (class weight × positive weight), or undefined for none. */
export function termWeight(x: Value, prep: Prepared, o: FocalOptions): Value | undefined {
  const ct = x.dtype;
  const g = x.graph;
  let w: Value | undefined;
  const tail = o.task === 'multilabel' ? labelTail(o, x.rank) : 0;
  if (o.classWeight) {
    const table = typed(o.classWeight, g, ct, undefined, tail) as Value;
    w = o.task === 'multiclass' ? op.gather(table, prep.target, 0) : table;
  }
  if (o.posWeight !== null) {
    // π_t = 1 + t·(π − 1): π where t = 1, exactly 1 where t = 0.
    const t = toType(prep.target, ct);
    const pi = op.add(op.mul(t, typed(o.posWeight, g, ct, (v) => v - 1, tail)), 1);
    w = w ? op.mul(pi, w) : pi;
  }
  return w;
}

/**
 * Σ F, written once: the focal factors of the elements not ignored (F = 1 where the loss has none:
 * `f` undefined, shaped like `like`); per label with `perLabel` (kept for broadcasting where
 * `keep`). The normalized loss divides by it (applyTerms), and the evaluator adds it up over
 * batches (build.ts's `focal_sum` output).
 */
export function sumF(f: Value | undefined, like: Value, prep: Prepared, perLabel?: number, keep = false, accumulate?: DType): Value {
  const fv = f ?? onesLike(like, like.dtype);
  return sumIn(prep.valid ? op.where(prep.valid, fv, 0) : fv, perLabelSum(like, perLabel, keep), accumulate);
}

/** The reduction of a per-label sum: over every axis but the label axis `perLabel`, kept for broadcasting where `keep`; all axes when undefined. */
function perLabelSum(like: Value, perLabel: number | undefined, keep: boolean): { axes?: number[]; keepdims: boolean } {
  return perLabel !== undefined ? { axes: [...Array(like.rank).keys()].filter((i) => i !== perLabel), keepdims: keep } : { keepdims: false };
}

export interface Applied {
  readonly loss: Value;
  /** The normalized loss's denominator, max(Σ F, 1e-6), and Σ l before it (for the gradient). */
  readonly focalSum?: Value;
  readonly rawSum?: Value;
}

/** The terms on the element-wise loss `l` (see the top of this file); `f` is the focal factor it was built with. */
export function applyTerms(x: Value, l: Value, f: Value | undefined, prep: Prepared, o: FocalOptions): Applied {
  let loss = l;
  const w = termWeight(x, prep, o);
  if (w) loss = op.mul(loss, w);
  if (prep.valid) loss = op.where(prep.valid, loss, 0);
  if (!o.normalized) return { loss };
  const perLabel = o.normalized === 'label' ? (labelAxisOf(o, x.rank) as number) : undefined;
  const fs = op.max(sumF(f, l, prep, perLabel, true, o.accumulate), NORMALIZED_FLOOR);
  const rawSum = sumIn(loss, perLabelSum(loss, perLabel, true), o.accumulate);
  return { loss: op.div(loss, fs), focalSum: fs, rawSum };
}

/** What the loss built that the gradient of its terms needs (applyTerms's sums, for the normalized loss). */
export interface GradContext extends Partial<Applied> {
  readonly prep: Prepared;
  /** The divisor of reduction mean ('mean': the element count). */
  readonly divisor: Param | 'mean';
}

/**
 * applyTerms's gradient, with −α_t and the reduction's: what turns the focal term's gradient
 * (`TermGradient`, or a core of the soft forms) into the element's gradient of the loss. With w·π_t
 * the class × positive weight, valid the mask of targets not ignored, S = max(Σ_valid F, 1e-6) and
 * D the reduction's divisor:
 *
 *     dL/dx_i = valid · (−α_t·w·π·core_i / S − (Σ l)/S² · dF_i) / D
 *
 * For the plain loss (no weight, mask or normalization between −α_t and the reduction) −α_t/D is
 * one factor, folded when both are numbers; a multi-label row's mean over its labels (sum and
 * none) divides by L there too. `countLike` is shaped like the element losses before any mean
 * over labels, for the element count.
 */
export function termsGradient(negAlpha: Param, x: Value, o: FocalOptions, p: LossParams, ctx: GradContext, countLike: Value): (g: TermGradient) => Value {
  const ct = x.dtype;
  const { prep } = ctx;
  const normalized = o.normalized && ctx.focalSum && ctx.rawSum ? { S: ctx.focalSum, raw: ctx.rawSum } : undefined;
  const w = termWeight(x, prep, o);
  if (!w && !prep.valid && !normalized) {
    const d = reduceDivisor(o.reduction, ctx.divisor, countLike, ct, p.weight);
    const factor = d !== undefined ? pdiv(negAlpha, d, ct) : o.labelMean ? pdiv(negAlpha, rowLength(x, ct, labelAxisOf(o, x.rank)), ct) : negAlpha;
    return ({ core }) => scaled(core, factor);
  }
  return ({ core, dF }) => {
    let g = scaled(core, negAlpha);
    if (w) g = op.mul(g, w);
    if (normalized) {
      const { S, raw } = normalized;
      g = op.div(g, S);
      const d = dF?.();
      if (d) g = op.sub(g, op.mul(d, op.div(raw, op.mul(S, S))));
    }
    if (prep.valid) g = op.where(prep.valid, g, 0);
    const d = reduceDivisor(o.reduction, ctx.divisor, countLike, ct, p.weight);
    return d === undefined ? g : divBy(g, d);
  };
}

/**
 * What reduction mean divides Σ l by — the elements not ignored (every element with countIgnored;
 * × L for index rows), max(1, the count of positive targets), a number, or the scalar graph input
 * `normalizer` —, or 'mean' where every element counts (a plain ReduceMean). `perImage`: each image's own divisor ([B, 1, …], or a number; 'mean': each
 * image's element count); it has no normalizer (perImage refuses normalize input).
 */
export function meanDivisor(x: Value, elements: Value, prep: Prepared, o: FocalOptions, normalizer: Value | undefined, perImage = false): Param | 'mean' {
  const ct = x.dtype;
  const how = perImage ? { axes: [...Array(elements.rank).keys()].slice(1), keepdims: true } : { keepdims: false };
  const n = o.normalize;
  if (n === 'input' && normalizer) return toType(normalizer, ct);
  if (typeof n === 'number') return n;
  if (n === 'positives') return op.max(op.reduceSum(prep.positives ?? onesLike(elements, ct), how), 1);
  if (!prep.valid || o.countIgnored) return 'mean';
  const valid = op.reduceSum(toType(prep.valid, ct), how);
  return o.targetFormat === 'index' ? op.mul(valid, toType(classCount(x, labelAxisOf(o, x.rank)), ct)) : valid;
}

/**
 * perImage's divisor, shaped to broadcast against `elements` ([B, 1, …]): B times each image's own
 * divisor, so Σ_i l_i / D_{image(i)} is the mean over the images of each image's sum over its
 * divisor (torchvision's RetinaNet). Without ignored elements `elements` is the plain mean's count
 * (every image the same).
 */
export function perImageDivisor(x: Value, elements: Value, prep: Prepared, o: FocalOptions): Param {
  const ct = x.dtype;
  const axes = [...Array(elements.rank).keys()].slice(1);
  const B = typeof elements.shape[0] === 'number' ? elements.shape[0] : elementCount(op.reduceSum(elements, { axes, keepdims: false }), ct);
  const per = meanDivisor(x, elements, prep, o, undefined, true);
  if (per === 'mean') return elementCount(elements, ct);
  return typeof per === 'number' && typeof B === 'number' ? per * B : op.mul(param(per, ct), param(B, ct));
}

/**
 * The per-element losses each over its image's own divisor (an evaluator's perImage, built with
 * reduction none: their sum over a batch of whole images is Σ over its images of the image's sum
 * over its divisor, which the evaluator adds up and averages over the images).
 */
export function imageScaled(x: Value, elements: Value, prep: Prepared, o: FocalOptions): Value {
  const d = meanDivisor(x, elements, prep, o, undefined, true);
  const per = d === 'mean' ? elementCount(op.reduceSum(elements, { axes: [0], keepdims: false }), x.dtype) : d;
  return op.div(elements, param(per, elements.dtype));
}

/** FL* (fvcore's sigmoid_focal_loss_star): −α_t · log σ(γ·z) / γ with z = x·(2t − 1). */
export function starElements(x: Value, t: Value, p: LossParams): Value {
  const ct = x.dtype;
  const tt = toType(t, ct);
  const z = op.mul(x, op.sub(op.mul(tt, 2), 1));
  const { pos } = logSigmoidPair(op.mul(z, param(p.gamma, ct)));
  return scaled(divBy(pos, p.gamma), negAlphaT(p.alpha, ct, { kind: 'sigmoid', t: tt, tail: p.labelTail }));
}

/** FL*'s gradient beside it: d/dz of −α_t·log σ(γz)/γ is −α_t·σ(−γz), σ(−γz) as exp(log σ(−γz)); z = s·x. */
export function starGradient(sx: Value, p: LossParams): TermGradient {
  return { core: op.exp(logSigmoidPair(op.mul(sx, param(p.gamma, sx.dtype))).neg) };
}
