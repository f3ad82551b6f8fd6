/**
 * An independent float64 reference of the focal loss, written from the seed's formula
 * (/work/shared/seed/NOTES.md) and nothing else — none of the graph's rewrites (no `2t − 1` sign
 * trick, no clamp moved into the log domain, no one-hot masks):
 *
 *     p_t = p if t = 1 else 1 − p                     (binary, multilabel; per element)
 *     p_t = p[n, t_n]                                  (multiclass; p = softmax(pred) for logits)
 *     α_t = α if t = 1 else 1 − α   (α_l per label)    (binary, multilabel)
 *     α_t = α, α[t_n], or 1                            (multiclass: number, list, none)
 *     loss = −α_t · (1 − clamp(p_t, eps, 1))^γ · log(clamp(p_t, eps, 1))
 *
 * then mean / sum over every element, or none. For logits the probabilities come from a sigmoid
 * (binary, multilabel) or a softmax over axis 1 (multiclass); with eps = 0 there is no clamp.
 *
 * Accuracy: the reference must be better than what it checks, so `log p_t` and `1 − p_t` are
 * computed without cancellation — `log1p(−p)` for `log(1 − p)`, `log1p`/`exp` for log-sigmoid and
 * log-softmax, `−expm1(log p_t)` for `1 − p_t` — which matters only for extreme inputs (p within
 * 1e-8 of 1, |logits| in the tens) and changes nothing elsewhere. Sums are compensated (Neumaier),
 * so a sum over 10^9 elements keeps about 15 digits (see bench/long-run.ts).
 *
 * Everything is plain `number` (float64). Callers that check a float32 / float16 model feed it the
 * data rounded to that type (the model sees nothing else) and, for the function form, parameters
 * rounded to float32 (`froundParams`: the function's attributes are float32).
 */

export type RefTask = 'binary' | 'multilabel' | 'multiclass';
export type RefReduction = 'mean' | 'sum' | 'none' | 'weighted-mean';

export interface RefOptions {
  readonly task: RefTask;
  readonly input: 'probs' | 'logits';
  /** A number, a per-label / per-class list, or null (no weighting: α_t = 1). */
  readonly alpha: number | readonly number[] | null;
  readonly gamma: number;
  readonly eps: number;
  readonly reduction: RefReduction;
  /**
   * Soft targets (torchvision, optax, Keras; see `softElements`): binary / multilabel t in [0, 1]
   * and the binary cross-entropy, multiclass target rows [N, C]. Default hard.
   */
  readonly targets?: 'hard' | 'soft';
  /** Keras' label smoothing X (the soft formula, also for hard targets). Default 0. */
  readonly labelSmoothing?: number;
  /** The soft formula even where X (rounded, as a function's float32 attribute) is 0. */
  readonly softForm?: boolean;
  /** Multilabel: each row averaged over its labels first. */
  readonly labelMean?: boolean;
  /**
   * The soft form's clip of a probability as the model holds its bounds [eps, 1 − eps] (a float32
   * model rounds each: near 1 − eps that moves log(1 − c) by up to u/eps). Default exact.
   */
  readonly clipBounds?: readonly [number, number];
}

/** pred and target, row-major. binary: pred [N], target [N]; multilabel: [N, L] both; multiclass: pred [N, C], target [N] (soft: [N, C]). */
export interface RefData {
  readonly pred: ArrayLike<number>;
  readonly target: ArrayLike<number>;
  /** L (multilabel) or C (multiclass); ignored for binary. */
  readonly cols?: number;
  /** Weights: one per element loss, or one per row (`weightPer: 'sample'`, broadcast over the labels). */
  readonly weight?: ArrayLike<number>;
  readonly weightPer?: 'sample' | 'element';
}

/** The parameters as a float32 attribute holds them (for the `asFunction` form). */
export function froundParams<O extends RefOptions>(o: O): O {
  const alpha = o.alpha === null ? null : typeof o.alpha === 'number' ? Math.fround(o.alpha) : o.alpha.map(Math.fround);
  return { ...o, alpha, gamma: Math.fround(o.gamma), eps: Math.fround(o.eps), labelSmoothing: Math.fround(o.labelSmoothing ?? 0) };
}

/** log σ(z), accurate for every z (no overflow, no cancellation). */
export function logSigmoid(z: number): number {
  // log σ(z) = −log(1 + e^{−z}); for z < 0 rewrite as z − log(1 + e^{z}) so that e^{…} never overflows.
  return z >= 0 ? -Math.log1p(Math.exp(-z)) : z - Math.log1p(Math.exp(z));
}

/** log softmax(row)[k], accurate also when the entry is (nearly) 1. */
export function logSoftmaxAt(row: ArrayLike<number>, k: number): number {
  // log p_k = −log Σ_j e^{x_j − x_k}. With d_j = x_j − x_k, M = max_{j≠k} d_j:
  // M ≤ 0: −log1p(Σ_{j≠k} e^{d_j}) (no overflow, accurate for p_k ≈ 1);
  // M > 0: −(M + log(e^{−M} + Σ_{j≠k} e^{d_j − M})).
  let m = -Infinity;
  for (let j = 0; j < row.length; j++) if (j !== k) m = Math.max(m, row[j] - row[k]);
  if (m === -Infinity) return 0; // one class: p = 1
  if (m <= 0) {
    let s = 0;
    for (let j = 0; j < row.length; j++) if (j !== k) s += Math.exp(row[j] - row[k]);
    return -Math.log1p(s);
  }
  let s = Math.exp(-m);
  for (let j = 0; j < row.length; j++) if (j !== k) s += Math.exp(row[j] - row[k] - m);
  return -(m + Math.log(s));
}

/**
 * The focal term from log p_t (possibly −∞) and the weight: clamp p_t to [eps, 1] (eps = 0: no
 * clamp), then −α_t · (1 − c)^γ · log c. `oneMinusPt` is 1 − p_t when the caller knows it more
 * accurately than 1 − exp(log p_t).
 */
export function focalTerm(logPt: number, alphaT: number, gamma: number, eps: number, oneMinusPt?: number): number {
  let logC: number;
  let m: number;
  if (eps > 0 && logPt < Math.log(eps)) {
    // p_t < eps: the clamp holds it at eps. (Comparing in the log domain avoids underflowing p_t.)
    logC = Math.log(eps);
    m = 1 - eps;
  } else if (logPt > 0) {
    // p_t > 1 (a probability slightly above 1 in the input): the clamp's upper bound.
    logC = 0;
    m = 0;
  } else {
    logC = logPt;
    m = oneMinusPt ?? -Math.expm1(logPt);
  }
  // Math.pow(0, 0) = 1, as the seed's torch.pow and ONNX's Pow.
  return -alphaT * Math.pow(m, gamma) * logC;
}

function binaryAlpha(alpha: RefOptions['alpha'], t: number, col: number): number {
  if (alpha === null) return 1;
  const a = typeof alpha === 'number' ? alpha : alpha[col];
  return t === 1 ? a : 1 - a;
}

function checkTarget(t: number, allowed: (t: number) => boolean, i: number): void {
  if (!allowed(t)) throw new RangeError(`focal-reference: target[${i}] = ${t} is not a valid label`);
}

/** Whether the soft formula applies: soft targets, or label smoothing of hard ones. */
const softForm = (o: RefOptions): boolean => o.softForm === true || o.targets === 'soft' || (o.labelSmoothing ?? 0) > 0;

/** log of a probability given as log p, clipped to [eps, 1 − eps] (Keras); eps = 0: none. */
function clipLog(logP: number, eps: number): number {
  if (eps === 0) return logP;
  return Math.min(Math.max(logP, Math.log(eps)), Math.log1p(-eps));
}

/** A probability clipped to [eps, 1 − eps] (or the model's rounded bounds); eps = 0: none. */
function clipProb(p: number, o: RefOptions): number {
  if (o.eps === 0) return p;
  const [lo, hi] = o.clipBounds ?? [o.eps, 1 - o.eps];
  return Math.min(Math.max(p, lo), hi);
}

/**
 * The soft formula, from the issue's statement and Keras' / torchvision's code, nothing of the graph:
 *
 *     binary / multilabel, t ← t·(1 − X) + X/2:  loss = α_t · (1 − p_t)^γ · BCE(c, t)
 *       BCE = −(t·log c + (1 − t)·log(1 − c)), c = clip(p, eps, 1 − eps) (none for eps = 0),
 *       p_t = t·p + (1 − t)·(1 − p) of the unclipped p, α_t = t·α + (1 − t)·(1 − α)
 *     multiclass, rows t (one-hot of an index, or given) ← t·(1 − X) + X/C:
 *       loss_n = Σ_c −α_c · (1 − c_c)^γ · t_c · log c_c, c = clip(p / Σ p, eps, 1 − eps) (softmax for logits)
 */
function softElements(o: RefOptions, d: RefData): number[] {
  const x = o.labelSmoothing ?? 0;
  const out: number[] = [];
  if (o.task === 'multiclass') {
    const c = d.cols!;
    const n = d.pred.length / c;
    for (let i = 0; i < n; i++) {
      const row = Array.from({ length: c }, (_, j) => d.pred[i * c + j]);
      const sum = row.reduce((a, b) => a + b, 0);
      let s = 0;
      for (let j = 0; j < c; j++) {
        const t0 = o.targets === 'soft' ? d.target[i * c + j] : d.target[i] === j ? 1 : 0;
        const t = t0 * (1 - x) + x / c;
        const logC = o.input === 'logits' ? clipLog(logSoftmaxAt(row, j), o.eps) : Math.log(clipProb(row[j] / sum, o));
        const m = -Math.expm1(logC);
        const a = o.alpha === null ? 1 : typeof o.alpha === 'number' ? o.alpha : o.alpha[j];
        s += -a * Math.pow(m, o.gamma) * t * logC;
      }
      out.push(s);
    }
    return out;
  }
  const cols = o.task === 'multilabel' ? (d.cols ?? 1) : 1;
  for (let i = 0; i < d.pred.length; i++) {
    const t = d.target[i] * (1 - x) + x / 2;
    const p = d.pred[i];
    let logP: number;
    let log1mP: number;
    let m: number;
    if (o.input === 'logits') {
      logP = logSigmoid(p);
      log1mP = logSigmoid(-p);
      m = t * Math.exp(log1mP) + (1 - t) * Math.exp(logP);
      logP = clipLog(logP, o.eps);
      log1mP = clipLog(log1mP, o.eps);
    } else {
      const c = clipProb(p, o);
      logP = Math.log(c);
      log1mP = Math.log1p(-c);
      m = t * (1 - p) + (1 - t) * p;
    }
    const bce = -(t * logP + (1 - t) * log1mP);
    const a = o.alpha === null ? 1 : typeof o.alpha === 'number' ? o.alpha : o.alpha[i % cols];
    const alphaT = o.alpha === null ? 1 : t * a + (1 - t) * (1 - a);
    out.push(alphaT * Math.pow(m, o.gamma) * bce);
  }
  return out;
}

/**
 * The per-element losses as the model's reduction none gives them: the element-wise ones, each
 * multilabel row averaged over its labels with `labelMean`, times the weights.
 */
export function weightedElements(o: RefOptions, d: RefData): number[] {
  let el = focalElements(o, d);
  const cols = o.task === 'multilabel' ? (d.cols ?? 1) : 1;
  if (o.labelMean && o.task === 'multilabel') {
    el = Array.from({ length: el.length / cols }, (_, r) => compensatedSum(el.slice(r * cols, (r + 1) * cols)) / cols);
  }
  if (!d.weight) return el;
  const w = d.weight;
  const per = d.weightPer === 'sample' && o.task === 'multilabel' && !o.labelMean ? cols : 1;
  return el.map((l, i) => w[Math.floor(i / per)] * l);
}

/** The element-wise losses (binary: N; multilabel: N·L; multiclass: N), in float64. */
export function focalElements(o: RefOptions, d: RefData): number[] {
  if (softForm(o)) return softElements(o, d);
  const out: number[] = [];
  if (o.task === 'multiclass') {
    const c = d.cols;
    if (c === undefined || c < 1) throw new RangeError('focal-reference: multiclass needs cols = C >= 1');
    const n = d.target.length;
    if (d.pred.length !== n * c) throw new RangeError(`focal-reference: pred has ${d.pred.length} elements, expected ${n}·${c}`);
    for (let i = 0; i < n; i++) {
      const t = d.target[i];
      checkTarget(t, (x) => Number.isInteger(x) && x >= 0 && x < c, i);
      const row = Array.from({ length: c }, (_, j) => d.pred[i * c + j]);
      const alphaT = o.alpha === null ? 1 : typeof o.alpha === 'number' ? o.alpha : o.alpha[t];
      if (o.input === 'logits') {
        out.push(focalTerm(logSoftmaxAt(row, t), alphaT, o.gamma, o.eps));
      } else {
        const pt = row[t];
        out.push(focalTerm(Math.log(pt), alphaT, o.gamma, o.eps, 1 - pt));
      }
    }
    return out;
  }
  const cols = o.task === 'multilabel' ? (d.cols ?? 1) : 1;
  if (d.pred.length !== d.target.length) throw new RangeError('focal-reference: pred and target differ in size');
  for (let i = 0; i < d.pred.length; i++) {
    const t = d.target[i];
    checkTarget(t, (x) => x === 0 || x === 1, i);
    const x = d.pred[i];
    const alphaT = binaryAlpha(o.alpha, t, i % cols);
    if (o.input === 'logits') {
      // p = σ(x); p_t = σ(x) for t = 1, 1 − σ(x) = σ(−x) for t = 0; 1 − p_t = σ(∓x).
      const z = t === 1 ? x : -x;
      out.push(focalTerm(logSigmoid(z), alphaT, o.gamma, o.eps, Math.exp(logSigmoid(-z))));
    } else {
      // p_t = p or 1 − p; log(1 − p) as log1p(−p), 1 − p_t exactly as 1 − p or p.
      const logPt = t === 1 ? Math.log(x) : Math.log1p(-x);
      out.push(focalTerm(logPt, alphaT, o.gamma, o.eps, t === 1 ? 1 - x : x));
    }
  }
  return out;
}

/** Neumaier-compensated running sum (keeps ~15 digits over 10^9 terms). */
export class CompensatedSum {
  private s = 0;
  private c = 0;
  count = 0;

  add(x: number): void {
    const t = this.s + x;
    if (Math.abs(this.s) >= Math.abs(x)) this.c += this.s - t + x;
    else this.c += x - t + this.s;
    this.s = t;
    this.count++;
  }

  get value(): number {
    // Infinite / NaN terms make the compensation NaN; report the plain sum then.
    const v = this.s + this.c;
    return Number.isFinite(this.s) ? v : this.s;
  }
}

export function compensatedSum(xs: readonly number[]): number {
  const s = new CompensatedSum();
  for (const x of xs) s.add(x);
  return s.value;
}

/**
 * The loss as the model's `loss` output: a scalar (mean = Σ w·l / count, sum, weighted-mean =
 * Σ w·l / Σ w over the broadcast weights, 0 where Σ w = 0) or the elements (none).
 */
export function focalLoss(o: RefOptions, d: RefData): number[] {
  const el = weightedElements(o, d);
  if (o.reduction === 'none') return el;
  const s = compensatedSum(el);
  if (o.reduction === 'weighted-mean') {
    if (!d.weight) throw new RangeError('focal-reference: weighted-mean needs weights');
    // Σ w over the broadcast weights: a weight per row weighs each of the el.length / w.length losses of its row.
    // Σ w = 0 (every weight 0): 0, as Keras' divide_no_nan and the graph give.
    const sw = compensatedSum(Array.from(d.weight)) * (el.length / d.weight.length);
    return [sw === 0 ? 0 : s / sw];
  }
  return [o.reduction === 'sum' ? s : s / el.length];
}
