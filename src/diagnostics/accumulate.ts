/**
 * Diagnostics of where the loss comes from (issue 21), gathered in the evaluator's one streamed
 * pass with state that does not grow with the data:
 *
 * - per class (a label's column for multi-label, the row's target class for multi-class; on axis 1
 *   for channel-first data, [B, C, H, W], whose losses come in runs of H·W of one label): the sum
 *   of the per-element losses as computed (before any normalization or perImage's division),
 *   their count, the positives;
 * - positives against negatives (0/1 targets; soft ones split at t ≥ 0.5): sums and counts;
 * - the loss CDF of Lin et al. (2017), Figure 4: x the fraction of the elements taken in
 *   increasing order of their loss, y the fraction of their total loss they carry. Not by sorting:
 *   each element's loss goes to a histogram bin by its float32 bits (exponent and the top 6
 *   mantissa bits: 16384 bins, each 2^(1/64) ≈ 1.1 % wide; zeros in bin 0), and each bin keeps its
 *   count and float64 sum. The cumulative counts and sums at the bins' edges are exact points of
 *   the curve; inside a bin the curve is interpolated linearly, which is off by at most a quarter of
 *   the bin's width times its share of the loss (< 0.003 of y even when one bin holds all of it;
 *   all-equal losses: exact). Binning runs in JS on the per-element losses the graph already
 *   computes: ONNX has no histogram operator (a one-hot of 16384 bins per element would cost far
 *   more; ScatterElements with reduction add would need a Log, Floor and Cast an element first,
 *   and then runs one element at a time like the JS loop; not built). Where every binned loss
 *   orders the positives and the negatives alike (lossesComonotone: hard targets, no weights or
 *   per-label factors), one set of finer bins serves every γ (SharedBins: one JS pass a batch, not
 *   one a loss, ~10 ns an element on this project's 2-core machine); else each loss has its own
 *   16384 bins (a pass each, 5–10 ns an element);
 * - the γ / α sweep: the loss at other γ (and α) with the user's other options, each built into the
 *   same model as the evaluated loss (the same graph formula, sharing its inputs; channel-first on
 *   the same [N, C, S]; perImage with its own image-scaled losses) and summed as it is (blocks in
 *   the loss type, float64 across them and across batches): each value is what `eval` with that
 *   γ / α gives; and at each swept γ, the negatives' CDF (Figure 4, right).
 */
import { UsageError } from '../errors';
import { f16BitsToF32 } from '../io/float16';
import type { NpyTypedArray } from '../io/npy';
import type { FocalOptions } from '../losses';
import { labelAxisOf } from '../losses/shapes';

/** The default γ sweep: Lin et al.'s Table 1a. */
export const DEFAULT_SWEEP_GAMMA: readonly number[] = [0, 0.5, 1, 2, 5];

/** What the caller asks for (`diagnostics: true` is `{}`). */
export interface DiagnosticsOptions {
  /** The γ values to sweep (default 0, 0.5, 1, 2, 5). */
  readonly sweepGamma?: readonly number[];
  /** The α values to sweep (default none): adds `alphaSweep` and the γ × α `grid`. */
  readonly sweepAlpha?: readonly number[];
}

/** Points of a loss CDF: [x, y], x and y from 0 to 1. */
export type CdfCurve = [number, number][];

export interface ClassDiagnostics {
  readonly index: number;
  /** Σ of the per-element losses of the class (as computed, before any normalization), float64. */
  readonly sum: number;
  readonly count: number;
  readonly positives: number;
}

export interface SplitSum {
  readonly sum: number;
  readonly count: number;
}

export interface Diagnostics {
  /** The γ and α of the evaluated loss. */
  readonly gamma: number;
  readonly alpha: number | readonly number[] | null;
  /** One entry a label (multi-label), a target class (multi-class), or one (binary). */
  readonly perClass: ClassDiagnostics[];
  /** Binary and multi-label: elements whose target is 1 (soft: ≥ 0.5), and the others. */
  readonly positive?: SplitSum;
  readonly negative?: SplitSum;
  /** Lin et al.'s Figure 4: `positive` / `negative` (binary, multi-label), `all` (multi-class, label mean). */
  readonly cdf: { readonly positive?: CdfCurve; readonly negative?: CdfCurve; readonly all?: CdfCurve };
  /** The loss at each swept γ (the user's other options). */
  readonly gammaSweep: { gamma: number; loss: number }[];
  /** With sweepAlpha: the loss at each swept α (the user's γ), and at each (γ, α). */
  readonly alphaSweep?: { alpha: number; loss: number }[];
  readonly grid?: { gamma: number; alpha: number; loss: number }[];
  /** The negatives' CDF (multi-class: all) at each swept γ. */
  readonly cdfByGamma: { gamma: number; curve: CdfCurve }[];
}

/** A swept loss: its γ and α, and whether its per-element losses are binned (the γ sweep's). */
export interface SweepPoint {
  readonly gamma: number;
  readonly alpha: number | readonly number[] | null;
  readonly binned: boolean;
}

/** Checks the caller's sweep lists (`names` words them: the CLI's flags). */
export function diagnosticsOptions(d: boolean | DiagnosticsOptions | undefined, names = { sweepGamma: 'sweepGamma', sweepAlpha: 'sweepAlpha' }): DiagnosticsOptions | undefined {
  if (d === undefined || d === false) return undefined;
  if (d === true) return {};
  if (typeof d !== 'object' || d === null) throw new UsageError(`diagnostics must be true or { sweepGamma?, sweepAlpha? }, got ${typeof d}`);
  const check = (list: unknown, name: string, ok: (x: number) => boolean, what: string): void => {
    if (list === undefined) return;
    if (!Array.isArray(list) || list.length === 0 || !list.every((x) => typeof x === 'number' && ok(x))) {
      throw new UsageError(`${name} must be a non-empty list of ${what}, got ${JSON.stringify(list)}`);
    }
  };
  check(d.sweepGamma, names.sweepGamma, (x) => Number.isFinite(x) && x >= 0, 'finite numbers >= 0');
  check(d.sweepAlpha, names.sweepAlpha, (x) => x >= 0 && x <= 1, 'numbers in [0, 1]');
  return d;
}

/**
 * The losses to build beside the evaluated one: the γ sweep (user's α; binned), the α sweep (user's
 * γ) and the grid, each once; the user's own (γ, α) is the evaluated loss itself (not in the list).
 */
export function sweepPoints(o: FocalOptions, d: DiagnosticsOptions): SweepPoint[] {
  const gammas = d.sweepGamma ?? DEFAULT_SWEEP_GAMMA;
  const points: SweepPoint[] = [];
  const key = (g: number, a: SweepPoint['alpha']): string => JSON.stringify([g, a]);
  const own = key(o.gamma, o.alpha);
  const seen = new Set<string>([own]);
  const add = (gamma: number, alpha: SweepPoint['alpha'], binned: boolean): void => {
    const k = key(gamma, alpha);
    if (seen.has(k)) return;
    seen.add(k);
    points.push({ gamma, alpha, binned });
  };
  for (const g of gammas) add(g, o.alpha, true);
  for (const a of d.sweepAlpha ?? []) add(o.gamma, a, false);
  for (const g of gammas) for (const a of d.sweepAlpha ?? []) add(g, a, false);
  return points;
}

// ---- histograms -----------------------------------------------------------------------------------

/** Bins by float32 bits >>> 17: sign 0, 8 exponent bits, 6 mantissa bits. */
const BIN_SHIFT = 17;
const BINS = 1 << (31 - BIN_SHIFT);

/** A loss histogram: count and float64 sum a bin (see the top of this file). */
export class LossHistogram {
  /** Its bins: arrays of its own, or views of a pair's (the positives and negatives share one array: one index a loss). */
  constructor(
    readonly counts: Float64Array = new Float64Array(BINS),
    readonly sums: Float64Array = new Float64Array(BINS),
  ) {}

  /** The curve at x = 0, 1/(points−1), …, 1. With no loss at all (every loss 0): y = x. */
  curve(points = 101): CdfCurve {
    const out: CdfCurve = [];
    const bins = this.counts.length;
    let total = 0;
    let n = 0;
    for (let b = 0; b < bins; b++) {
      total += this.sums[b];
      n += this.counts[b];
    }
    let b = 0;
    let cBefore = 0;
    let yBefore = 0;
    for (let k = 0; k < points; k++) {
      const x = k / (points - 1);
      if (n === 0 || !(total > 0)) {
        out.push([x, x]);
        continue;
      }
      const m = x * n;
      while (b < bins && cBefore + this.counts[b] < m) {
        cBefore += this.counts[b];
        yBefore += this.sums[b];
        b++;
      }
      let y = yBefore;
      if (b < bins && this.counts[b] > 0) y += ((m - cBefore) / this.counts[b]) * this.sums[b];
      out.push([x, Math.min(1, Math.max(0, y / total))]);
    }
    return out;
  }
}

// ---- one set of bins for every γ (the common case) ------------------------------------------------

/**
 * Whether, within the positives and within the negatives, the evaluated loss and every swept one
 * are non-decreasing functions of one value, 1 − p_t: −α_t·(1 − p_t)^γ·log p_t (logits: the same
 * through σ), with α_t and a positive weight the same over a group, at every γ. Then one ordering
 * of a group's elements serves every curve (SharedBins). Not so with weights, soft or smoothed
 * targets, a per-label α, class or positive weight, the reduced loss or FL*: there each loss gets
 * a histogram of its own.
 */
export function lossesComonotone(o: FocalOptions): boolean {
  return (
    (o.task === 'binary' || (o.task === 'multilabel' && !o.labelMean)) &&
    o.targets === 'hard' &&
    o.labelSmoothing === 0 &&
    o.weight === 'none' &&
    !Array.isArray(o.alpha) &&
    o.classWeight === null &&
    !Array.isArray(o.posWeight) &&
    o.variant === 'focal' &&
    o.reducedThreshold === null &&
    o.dtype === 'float32'
  );
}

/**
 * The mantissa bits SharedBins keeps for losses whose γ lie `spread` apart, or undefined (more than
 * MAX_SHARED_BITS: each loss then gets its own histogram). A bin of the key loss is 2^(2^−m) wide;
 * there a loss of γ larger by s varies by at most a factor 2^((s+1)·2^−m), and its ratio to the key
 * by 2^(s·2^−m) (d log key / d log(1 − p_t) ≥ 1). The curve's y is then off by at most
 * ln 2 · 2^−m · ((s+1)/4 from the chord inside a bin + s/2 from the ratio), kept under 0.008.
 */
function sharedMantissaBits(spread: number): number | undefined {
  const m = Math.max(5, Math.ceil(Math.log2((Math.LN2 * (0.75 * spread + 0.25)) / 0.008)));
  return m <= MAX_SHARED_BITS ? m : undefined;
}
const MAX_SHARED_BITS = 10;

/**
 * The positives' and negatives' histograms of every binned loss (the evaluated one and the γ
 * sweep's) when the losses are comonotone (lossesComonotone): the elements are binned once, by
 * the loss of the smallest γ (the key: zero only where every other loss is zero) at
 * `sharedMantissaBits` of its float32 bits; each bin keeps its count and the key's float64 sum, and
 * each other loss's sum in the bin is the key's times that loss's ratio to the key at the bin's
 * first element. One pass a batch over the key, the evaluated loss and the targets — where a
 * histogram a loss read every swept loss too (measured at 32M elements: bench/README.md). The
 * positive / negative sums and the per-label sums are of the evaluated loss itself, in float64.
 */
class SharedBins {
  private readonly shift: number;
  /** Bins a group: the negatives' [0, half), the positives' [half, 2·half). */
  private readonly half: number;
  private readonly counts: Float64Array;
  private readonly keySums: Float64Array;
  /** Per loss (the evaluated one, then the swept ones), its ratio to the key at each bin's first element (none for the key). */
  private readonly ratios: (Float64Array | undefined)[];
  /** The evaluated loss's float64 sums: [negatives, positives]. */
  readonly split = new Float64Array(2);

  constructor(
    readonly gammas: readonly number[],
    readonly key: number,
    mantissaBits: number,
  ) {
    this.shift = 23 - mantissaBits;
    this.half = 1 << (8 + mantissaBits);
    this.counts = new Float64Array(2 * this.half);
    this.keySums = new Float64Array(2 * this.half);
    // The positives need the evaluated loss's ratios only (cdfByGamma is the negatives').
    this.ratios = gammas.map((_, a) => (a === key ? undefined : new Float64Array(a === 0 ? 2 * this.half : this.half)));
  }

  /**
   * Adds a batch: `losses` as `gammas` (float32), and per element whether it is positive — from
   * float32 targets' bits (`t ≥ 0.5`, the targets checked to be in [0, 1]) or from `flags` (1, 0,
   * 2 for ignored). Per label its sum, positives and count go to `sums`, `positives`, `counts`:
   * labels last, L of them cycling element by element; channel-first (`inner` > 1), runs of
   * `inner` elements of one label each, the labels cycling run by run.
   */
  add(losses: readonly Float32Array[], targetBits: Int32Array | undefined, flags: Uint8Array, count: number, L: number, inner: number, sums: Float64Array, positives: Float64Array, counts: Float64Array): void {
    if (inner === 1) this.addRange(losses, targetBits, flags, 0, count, L, 0, sums, positives, counts);
    else for (let from = 0, c = 0; from < count; from += inner, c = c + 1 === L ? 0 : c + 1) this.addRange(losses, targetBits, flags, from, from + inner, 1, c, sums, positives, counts);
  }

  /**
   * Elements `from` to `to` (see `add`): L labels cycling from label 0, or (L = 1) every one of
   * label `at`. Two loops, one a source of the positives: the common case has no branch on the
   * flags (measured: ~10–15 % of the pass).
   */
  private addRange(losses: readonly Float32Array[], targetBits: Int32Array | undefined, flags: Uint8Array, from: number, to: number, L: number, at: number, sums: Float64Array, positives: Float64Array, counts: Float64Array): void {
    const bins = this.counts;
    const keySums = this.keySums;
    const shift = this.shift;
    const half = this.half;
    const key = losses[this.key];
    const own = losses[0];
    const kb = new Uint32Array(key.buffer, key.byteOffset, to);
    let pos = 0;
    let neg = 0;
    let npos = 0;
    if (targetBits) {
      for (let i = from, l = 0; i < to; i++) {
        const p = (0x3effffff - targetBits[i]) >>> 31;
        const u = kb[i];
        const b = (u >>> 31 ? 0 : u >>> shift) + p * half;
        const c = bins[b];
        if (c === 0) this.first(losses, i, b, p);
        bins[b] = c + 1;
        keySums[b] += key[i];
        const v = own[i];
        pos += p * v;
        neg += v - p * v;
        npos += p;
        if (L > 1) {
          sums[l] += v;
          positives[l] += p;
          if (++l === L) l = 0;
        }
      }
      if (L === 1) counts[at] += to - from;
      else for (let l = 0; l < L; l++) counts[l] += (to - from) / L;
    } else {
      let skipped = 0;
      for (let i = from, l = 0; i < to; i++, l = l + 1 === L ? 0 : l + 1) {
        const p = flags[i];
        if (p === 2) {
          skipped++;
          continue;
        }
        const u = kb[i];
        const b = (u >>> 31 ? 0 : u >>> shift) + p * half;
        const c = bins[b];
        if (c === 0) this.first(losses, i, b, p);
        bins[b] = c + 1;
        keySums[b] += key[i];
        const v = own[i];
        pos += p * v;
        neg += v - p * v;
        npos += p;
        if (L > 1) {
          sums[l] += v;
          positives[l] += p;
          counts[l]++;
        }
      }
      if (L === 1) counts[at] += to - from - skipped;
    }
    this.split[0] += neg;
    this.split[1] += pos;
    if (L === 1) {
      sums[at] += neg + pos;
      positives[at] += npos;
    }
  }

  /** A bin's first element (`i` of the batch, in bin `b`, positive `p`): each other loss's ratio to the key there. */
  private first(losses: readonly Float32Array[], i: number, b: number, p: number): void {
    const k = losses[this.key][i];
    for (let a = 0; a < losses.length; a++) {
      const r = this.ratios[a];
      if (r && (p === 0 || a === 0)) r[b] = k > 0 ? losses[a][i] / k : 0;
    }
  }

  /** Loss `a`'s histogram (0 the evaluated loss, then the swept ones) of the negatives (0) or positives (1). */
  histogram(a: number, group: 0 | 1): LossHistogram {
    const at = group * this.half;
    const counts = this.counts.subarray(at, at + this.half);
    const keySums = this.keySums.subarray(at, at + this.half);
    const r = this.ratios[a];
    if (!r) return new LossHistogram(counts, keySums);
    const ratio = r.subarray(at, at + this.half);
    return new LossHistogram(counts, keySums.map((s, b) => s * ratio[b]));
  }

  /** The evaluated loss's sum and count over the negatives (0) or positives (1). */
  total(group: 0 | 1): SplitSum {
    let count = 0;
    for (let b = group * this.half, end = b + this.half; b < end; b++) count += this.counts[b];
    return { sum: this.split[group], count };
  }
}

// ---- the accumulator -----------------------------------------------------------------------------

/** What one batch gives the diagnostics: its per-element losses, the swept ones binned, and its targets. */
export interface BatchDiagnostics {
  /** Predictions' dims (as lossLayout takes them). */
  readonly dims: readonly number[];
  readonly losses: Float32Array | Float64Array | Uint16Array;
  /** Per binned sweep point (SweepPoint.binned), its per-element losses. */
  readonly sweepLosses: readonly (Float32Array | Float64Array | Uint16Array)[];
  /** Per sweep point, the batch's float64 sum (and Σ F for the normalized loss). */
  readonly sweepSums: readonly number[];
  readonly sweepFocalSums?: readonly number[];
  /** normalized 'label': per sweep point, the batch's per-label sums and Σ F (float64 [L]). */
  readonly sweepLabelSums?: readonly Float64Array[];
  readonly sweepLabelFocalSums?: readonly Float64Array[];
  readonly target: { readonly dtype: string; readonly data: NpyTypedArray };
  /** The dtype of the losses ('float16': bits). */
  readonly lossType: string;
}

/** The diagnostics of every batch so far; see the top of this file. */
export class DiagnosticsAccumulator {
  readonly points: SweepPoint[];
  /** Per sweep point, its float64 total (and Σ F). */
  readonly sweepTotals: Float64Array;
  readonly sweepFocalSums: Float64Array;
  /** normalized 'label': per sweep point, its per-label float64 totals and Σ F. */
  private readonly sweepLabelSums: Float64Array[] = [];
  private readonly sweepLabelFocalSums: Float64Array[] = [];
  /** The negatives' bins, then the positives' (index: bin + BINS for a positive). */
  private readonly splitCounts = new Float64Array(2 * BINS);
  private readonly splitSums = new Float64Array(2 * BINS);
  private readonly neg = new LossHistogram(this.splitCounts.subarray(0, BINS), this.splitSums.subarray(0, BINS));
  private readonly pos = new LossHistogram(this.splitCounts.subarray(BINS), this.splitSums.subarray(BINS));
  private readonly all = new LossHistogram();
  private readonly swept: LossHistogram[];
  private classSums: Float64Array = new Float64Array(0);
  private classCounts: Float64Array = new Float64Array(0);
  private classPositives: Float64Array = new Float64Array(0);
  /** Per element of a batch: 1 positive, 0 negative, 2 not counted (ignored); or per row its class (−1 ignored). */
  private flags = new Uint8Array(0);
  private classes = new Int32Array(0);
  private f32 = new Float32Array(0);
  private readonly split: boolean;
  /** Comonotone losses (lossesComonotone): one set of bins for every binned loss; else a histogram each. */
  private readonly shared: SharedBins | undefined;

  constructor(
    private readonly o: FocalOptions,
    readonly options: DiagnosticsOptions,
  ) {
    this.points = sweepPoints(o, options);
    this.sweepTotals = new Float64Array(this.points.length);
    this.sweepFocalSums = new Float64Array(this.points.length);
    // Positives against negatives: a loss per prediction (binary, multi-label not label-mean).
    this.split = o.task === 'binary' || (o.task === 'multilabel' && !o.labelMean);
    const binned = this.points.filter((p) => p.binned);
    if (lossesComonotone(o)) {
      const gammas = [o.gamma, ...binned.map((p) => p.gamma)];
      const key = gammas.indexOf(Math.min(...gammas));
      const bits = sharedMantissaBits(Math.max(...gammas) - gammas[key]);
      if (bits !== undefined) this.shared = new SharedBins(gammas, key, bits);
    }
    this.swept = this.shared ? [] : binned.map(() => new LossHistogram());
  }

  private grow(classes: number): void {
    if (this.classSums.length >= classes) return;
    const g = (a: Float64Array): Float64Array => {
      const b = new Float64Array(classes);
      b.set(a);
      return b;
    };
    this.classSums = g(this.classSums);
    this.classCounts = g(this.classCounts);
    this.classPositives = g(this.classPositives);
  }

  /** The losses as float32 (for their bins): float32 as they are, others converted into a reused array. */
  private asF32(a: Float32Array | Float64Array | Uint16Array, type: string): Float32Array {
    if (type === 'float32') return a as Float32Array;
    if (this.f32.length < a.length) this.f32 = new Float32Array(a.length);
    const f = this.f32.subarray(0, a.length);
    if (type === 'float16') for (let i = 0; i < a.length; i++) f[i] = f16BitsToF32(a[i]);
    else f.set(a as Float64Array);
    return f;
  }

  /**
   * Per element (split) whether its target is positive; else per row its class. The targets in
   * the losses' layout: `rowLength` labels / classes, `inner` elements after the label axis (1:
   * labels last; channel-first [X, C, S], S) — class indices one per row [X, S], dense and soft
   * targets like the predictions.
   */
  private targets(b: BatchDiagnostics, count: number, rowLength: number, inner: number): void {
    const o = this.o;
    const t = b.target;
    const ignore = o.ignoreIndex;
    if (this.split) {
      if (this.flags.length < count) this.flags = new Uint8Array(count);
      const f = this.flags;
      if (o.targetFormat === 'index') {
        // One class index per row of L labels: that label is the positive one.
        const rows = count / rowLength;
        if (inner === 1) {
          for (let r = 0; r < rows; r++) {
            const c = Number(t.data[r]);
            const skip = ignore !== null && c === ignore;
            for (let l = 0; l < rowLength; l++) f[r * rowLength + l] = skip ? 2 : l === c ? 1 : 0;
          }
          return;
        }
        // Channel-first: label l of row (x, s) is element (x·L + l)·S + s.
        for (let x = 0; x < rows / inner; x++) {
          for (let s = 0; s < inner; s++) {
            const c = Number(t.data[x * inner + s]);
            const skip = ignore !== null && c === ignore;
            for (let l = 0; l < rowLength; l++) f[(x * rowLength + l) * inner + s] = skip ? 2 : l === c ? 1 : 0;
          }
        }
        return;
      }
      if (t.dtype === 'float16') {
        const d = t.data as Uint16Array;
        for (let i = 0; i < count; i++) {
          const v = f16BitsToF32(d[i]);
          f[i] = ignore !== null && v === ignore ? 2 : v >= 0.5 ? 1 : 0;
        }
      } else if (t.dtype === 'int64') {
        const d = t.data as BigInt64Array;
        for (let i = 0; i < count; i++) {
          const v = Number(d[i]);
          f[i] = ignore !== null && v === ignore ? 2 : v >= 0.5 ? 1 : 0;
        }
      } else {
        const d = t.data as Float32Array;
        if (ignore === null) for (let i = 0; i < count; i++) f[i] = d[i] >= 0.5 ? 1 : 0;
        else for (let i = 0; i < count; i++) f[i] = d[i] === ignore ? 2 : d[i] >= 0.5 ? 1 : 0;
      }
      return;
    }
    if (o.task !== 'multiclass') return; // label mean: one loss per row, no class
    if (this.classes.length < count) this.classes = new Int32Array(count);
    const c = this.classes;
    if (o.targets === 'soft') {
      // A row of class probabilities: its class is the most probable one. Row r = (x, s) holds
      // class k at (x·C + k)·S + s (labels last: S = 1, r·C + k).
      const d = t.data as Float32Array | Float64Array | Uint16Array;
      const v = t.dtype === 'float16' ? (i: number) => f16BitsToF32(d[i]) : (i: number) => d[i];
      for (let r = 0; r < count; r++) {
        const s = r % inner;
        const at = (r - s) * rowLength + s;
        let best = 0;
        for (let k = 1; k < rowLength; k++) if (v(at + k * inner) > v(at + best * inner)) best = k;
        c[r] = best;
      }
    } else {
      for (let r = 0; r < count; r++) {
        const k = Number(t.data[r]);
        c[r] = (ignore !== null && k === ignore) || k < 0 || k >= rowLength ? -1 : k;
      }
    }
  }

  /**
   * Adds one batch. Its losses and targets come in the predictions' layout (`dims`, C order):
   * labels last, an element's label cycles with it; channel-first ([B, C, H, W], the labels on an
   * axis before the last), each label's losses come in runs of the axes after it (H·W), one label
   * after the other — each run is added as one label's (`inner`, the run's length).
   */
  add(b: BatchDiagnostics): void {
    const o = this.o;
    const axis = labelAxisOf(o, b.dims.length);
    const rowLength = axis === undefined ? 1 : b.dims[axis];
    const inner = axis === undefined ? 1 : b.dims.slice(axis + 1).reduce((n, d) => n * d, 1);
    const count = b.losses.length;
    for (let i = 0; i < b.sweepSums.length; i++) this.sweepTotals[i] += b.sweepSums[i];
    if (b.sweepFocalSums) for (let i = 0; i < b.sweepFocalSums.length; i++) this.sweepFocalSums[i] += b.sweepFocalSums[i];
    if (b.sweepLabelSums) {
      const add = (into: Float64Array[], from: readonly Float64Array[]): void =>
        from.forEach((a, i) => {
          into[i] ??= new Float64Array(a.length);
          for (let l = 0; l < a.length; l++) into[i][l] += a[l];
        });
      add(this.sweepLabelSums, b.sweepLabelSums);
      add(this.sweepLabelFocalSums, b.sweepLabelFocalSums ?? []);
    }
    // The common case — 0/1 (or soft) targets of a numeric array, no ignore value — in one loop
    // a batch, without the flags' pass.
    const t = b.target;
    const L = o.task === 'binary' ? 1 : rowLength;
    if (this.shared) {
      // float32 losses (lossesComonotone); the positives from float32 targets' bits, else flagged.
      const bitsOk = o.targetFormat !== 'index' && o.ignoreIndex === null && t.dtype === 'float32';
      if (!bitsOk) this.targets(b, count, rowLength, inner);
      this.grow(L);
      const td = t.data as Float32Array;
      const losses = [b.losses as Float32Array, ...(b.sweepLosses as Float32Array[])];
      this.shared.add(losses, bitsOk ? new Int32Array(td.buffer, td.byteOffset, count) : undefined, this.flags, count, L, inner, this.classSums, this.classPositives, this.classCounts);
      return;
    }
    const fast = this.split && o.targetFormat !== 'index' && o.ignoreIndex === null && t.dtype !== 'int64' && t.dtype !== 'float16';
    if (!fast) this.targets(b, count, rowLength, inner);
    const f = this.asF32(b.losses, b.lossType);
    const bits = new Uint32Array(f.buffer, f.byteOffset, f.length);
    const exact = b.lossType === 'float64' ? (b.losses as Float64Array) : f;
    if (this.split) {
      this.grow(L);
      const td = fast ? (t.data as Float32Array) : undefined;
      // Channel-first: runs of `inner` elements of one label each (SharedBins.add).
      if (inner === 1) this.addRange(td, bits, exact, 0, count, L, 0);
      else for (let from = 0, c = 0; from < count; from += inner, c = c + 1 === L ? 0 : c + 1) this.addRange(td, bits, exact, from, from + inner, 1, c);
    } else {
      const all = this.all;
      const multiclass = o.task === 'multiclass';
      if (multiclass) this.grow(rowLength);
      else this.grow(1);
      const cls = this.classes;
      for (let i = 0; i < count; i++) {
        const c = multiclass ? cls[i] : 0;
        if (c < 0) continue;
        const v = exact[i];
        const u = bits[i];
        const bin = u >>> 31 ? 0 : u >>> BIN_SHIFT;
        all.counts[bin]++;
        all.sums[bin] += v;
        this.classSums[c] += v;
        this.classCounts[c]++;
        this.classPositives[c]++;
      }
    }
    // The swept losses: the negatives' (or all) bins.
    let s = 0;
    for (const sl of b.sweepLosses) {
      const h = this.swept[s++];
      const g = this.asF32(sl, b.lossType);
      const gb = new Uint32Array(g.buffer, g.byteOffset, g.length);
      const gx = b.lossType === 'float64' ? (sl as Float64Array) : g;
      const flags = this.flags;
      const cls = this.classes;
      const multiclass = o.task === 'multiclass';
      const hc = h.counts;
      const hs = h.sums;
      if (fast) {
        const td = t.data as Float32Array;
        for (let i = 0; i < count; i++) {
          if (td[i] >= 0.5) continue;
          const u = gb[i];
          const bin = u >>> 31 ? 0 : u >>> BIN_SHIFT;
          hc[bin]++;
          hs[bin] += gx[i];
        }
        continue;
      }
      for (let i = 0; i < count; i++) {
        if (this.split ? flags[i] !== 0 : multiclass && cls[i] < 0) continue;
        const u = gb[i];
        const bin = u >>> 31 ? 0 : u >>> BIN_SHIFT;
        h.counts[bin]++;
        h.sums[bin] += gx[i];
      }
    }
  }

  /**
   * The evaluated loss's elements `from` to `to` into the positives' and negatives' bins and the
   * per-label sums: L labels cycling from label 0, or (L = 1) every one of label `at`. The
   * positives from the targets `td` (`fast`: numbers, no ignore value), else from the flags.
   */
  private addRange(td: Float32Array | undefined, bits: Uint32Array, exact: Float32Array | Float64Array, from: number, to: number, L: number, at: number): void {
    const sums = this.classSums;
    const counts = this.classCounts;
    const positives = this.classPositives;
    if (td) {
      const hc = this.splitCounts;
      const hs = this.splitSums;
      if (L === 1) {
        let npos = 0;
        let sum = 0;
        for (let i = from; i < to; i++) {
          const p = td[i] >= 0.5 ? 1 : 0;
          const u = bits[i];
          const bin = (u >>> 31 ? 0 : u >>> BIN_SHIFT) + p * BINS;
          const v = exact[i];
          hc[bin]++;
          hs[bin] += v;
          npos += p;
          sum += v;
        }
        sums[at] += sum;
        counts[at] += to - from;
        positives[at] += npos;
      } else {
        for (let i = from, l = 0; i < to; i++) {
          const p = td[i] >= 0.5 ? 1 : 0;
          const u = bits[i];
          const bin = (u >>> 31 ? 0 : u >>> BIN_SHIFT) + p * BINS;
          const v = exact[i];
          hc[bin]++;
          hs[bin] += v;
          sums[l] += v;
          positives[l] += p;
          if (++l === L) l = 0;
        }
        for (let l = 0; l < L; l++) counts[l] += (to - from) / L;
      }
      return;
    }
    const flags = this.flags;
    const { pos, neg } = this;
    for (let i = from, l = at; i < to; i++) {
      const fl = flags[i];
      if (fl !== 2) {
        const v = exact[i];
        const u = bits[i];
        const bin = u >>> 31 ? 0 : u >>> BIN_SHIFT;
        const h = fl === 1 ? pos : neg;
        h.counts[bin]++;
        h.sums[bin] += v;
        sums[l] += v;
        counts[l]++;
        positives[l] += fl;
      }
      if (++l === L + at) l = at;
    }
  }

  private static total(h: LossHistogram): SplitSum {
    let sum = 0;
    let count = 0;
    for (let b = 0; b < h.counts.length; b++) {
      sum += h.sums[b];
      count += h.counts[b];
    }
    return { sum, count };
  }

  /**
   * The diagnostics so far. `reduce` turns a sweep point's float64 total (and Σ F; normalized
   * 'label': its per-label sums and Σ F) into its loss, exactly as the evaluator turns its own.
   */
  result(ownLoss: number, reduce: (total: number, focalSum: number, labels?: { sums: Float64Array; focalSums: Float64Array }) => number): Diagnostics {
    const o = this.o;
    const perClass: ClassDiagnostics[] = [];
    for (let c = 0; c < this.classSums.length; c++) perClass.push({ index: c, sum: this.classSums[c], count: this.classCounts[c], positives: this.classPositives[c] });
    const lossAt = (gamma: number, alpha: SweepPoint['alpha']): number => {
      if (gamma === o.gamma && JSON.stringify(alpha) === JSON.stringify(o.alpha)) return ownLoss;
      const i = this.points.findIndex((p) => p.gamma === gamma && JSON.stringify(p.alpha) === JSON.stringify(alpha));
      const labels = this.sweepLabelSums[i] ? { sums: this.sweepLabelSums[i], focalSums: this.sweepLabelFocalSums[i] } : undefined;
      return reduce(this.sweepTotals[i], this.sweepFocalSums[i], labels);
    };
    const gammas = this.options.sweepGamma ?? DEFAULT_SWEEP_GAMMA;
    const alphas = this.options.sweepAlpha;
    const shared = this.shared;
    const ownNeg = shared ? shared.histogram(0, 0) : this.neg;
    const ownCurve = this.split ? ownNeg : this.all;
    let s = 0;
    const binnedCurves = new Map<number, CdfCurve>();
    for (const p of this.points) if (p.binned) binnedCurves.set(p.gamma, shared ? shared.histogram(++s, 0).curve() : this.swept[s++].curve());
    const split = shared
      ? { positive: shared.total(1), negative: shared.total(0) }
      : this.split
        ? { positive: DiagnosticsAccumulator.total(this.pos), negative: DiagnosticsAccumulator.total(this.neg) }
        : {};
    return {
      gamma: o.gamma,
      alpha: o.alpha,
      perClass,
      ...split,
      cdf: this.split ? { positive: (shared ? shared.histogram(0, 1) : this.pos).curve(), negative: ownNeg.curve() } : { all: this.all.curve() },
      gammaSweep: gammas.map((gamma) => ({ gamma, loss: lossAt(gamma, o.alpha) })),
      ...(alphas
        ? {
            alphaSweep: alphas.map((alpha) => ({ alpha, loss: lossAt(o.gamma, alpha) })),
            grid: gammas.flatMap((gamma) => alphas.map((alpha) => ({ gamma, alpha, loss: lossAt(gamma, alpha) }))),
          }
        : {}),
      cdfByGamma: gammas.map((gamma) => ({ gamma, curve: gamma === o.gamma ? ownCurve.curve() : (binnedCurves.get(gamma) as CdfCurve) })),
    };
  }
}
