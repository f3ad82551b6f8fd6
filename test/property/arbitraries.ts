/**
 * fast-check arbitraries for the focal-loss properties: valid option sets (every task, input, α,
 * γ, reduction, eps, dtype, target dtype, opset, form, flat or function) and data that fits them,
 * already rounded to the model's element type.
 */
import fc from 'fast-check';
import { f16BitsToF32, f32ToF16Bits } from '../../src/io/float16';
import { LossOptions, LossDType, Task } from '../../src/losses';
import { MAX_OPSET, MIN_OPSET } from '../../src/onnx';

/** A valid option set with every field given explicitly (no defaults involved). */
export interface ValidOptions {
  task: Task;
  input: 'probs' | 'logits';
  alpha: number | number[] | 'none';
  gamma: number;
  reduction: 'mean' | 'sum' | 'none' | 'weighted-mean';
  eps: number;
  dtype: LossDType;
  targetDtype: 'float' | 'int64' | 'int32' | 'uint8' | 'bool';
  opset: number;
  form: 'arith' | 'onehot';
  asFunction: boolean;
  /** The options of the losses people train with (issue 12); absent in about half the cases. */
  targets?: 'hard' | 'soft';
  labelSmoothing?: number;
  weight?: 'none' | 'sample' | 'element';
  labelMean?: boolean;
  like?: 'seed' | 'torchvision' | 'fvcore' | 'optax' | 'keras' | null;
}

export interface Case {
  readonly options: ValidOptions;
  /** N rows; L labels (multilabel) or C classes (multiclass); 1 for binary. */
  readonly n: number;
  readonly cols: number;
  /** Row-major pred, already representable in `options.dtype`. */
  readonly pred: number[];
  /** 0/1 (binary, multilabel) or class indices (multiclass); soft: in [0, 1] (multiclass rows [N, C]). */
  readonly target: number[];
  /** The weight input's data (options.weight sample: one per row; element: one per element loss). */
  readonly weight?: number[];
  /** Also ask for the multilabel per-label output (BuildExtras.perLabel). */
  readonly perLabel: boolean;
  /** Multilabel predictions of rank 3, [B, K, L] with B·K = N (BuildExtras.predShape); else [N, L]. */
  readonly deepShape?: readonly [number, number, number];
}

/** The BuildExtras.predShape a case's model is built with (symbolic but for a fixed label count). */
export function casePredShape(c: Case): (number | string)[] | undefined {
  return c.deepShape ? ['B', 'K', Array.isArray(c.options.alpha) ? c.cols : 'L'] : undefined;
}

/** The case's pred, target (and weight) dims. */
export function caseDims(c: Case): { pred: number[]; target: number[]; weight?: number[] } {
  let d: { pred: number[]; target: number[] };
  switch (c.options.task) {
    case 'binary':
      d = { pred: [c.n], target: [c.n] };
      break;
    case 'multilabel':
      d = c.deepShape ? { pred: [...c.deepShape], target: [...c.deepShape] } : { pred: [c.n, c.cols], target: [c.n, c.cols] };
      break;
    case 'multiclass':
      d = { pred: [c.n, c.cols], target: c.options.targets === 'soft' ? [c.n, c.cols] : [c.n] };
      break;
  }
  const w = c.options.weight ?? 'none';
  if (w === 'none') return d;
  // A sample weight is one per row (pred without its label axis); an element weight is shaped like the per-element loss.
  const rows = c.options.task === 'multilabel' ? d.pred.slice(0, -1) : c.options.task === 'multiclass' ? d.pred.slice(0, 1) : d.pred;
  const element = c.options.task === 'multilabel' && !c.options.labelMean ? d.pred : rows;
  return { ...d, weight: w === 'sample' ? rows : element };
}

/** `x` rounded to the element type the model is fed in. */
export function roundTo(dtype: LossDType, x: number): number {
  if (dtype === 'float64') return x;
  if (dtype === 'float32') return Math.fround(x);
  return f16BitsToF32(f32ToF16Bits(x));
}

/** A double in [min, max], log-uniform: tiny and large magnitudes equally likely. */
const logUniform = (minExp: number, maxExp: number): fc.Arbitrary<number> =>
  fc.double({ min: minExp, max: maxExp, noNaN: true }).map((e) => 10 ** e);

const unit = fc.double({ min: 0, max: 1, noNaN: true, noDefaultInfinity: true });

/**
 * α in [0, 1], with the special values (0, 0.5, 1, the seed's 0.25) likely, and small weights
 * (1e-12 to 0.1, and as close to 1) where a cancelling −α_t would show: the arith form once lost
 * u/α of relative accuracy there (see the regression tests in loss.test.ts).
 */
export const alphaValue: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, 0.25, 0.5, 0.75, 1),
  unit,
  logUniform(-12, -1),
  logUniform(-12, -1).map((x) => 1 - x),
);

/** γ ≥ 0: the specialised 0, 1, 2 and any real up to 6. */
export const gammaValue: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, 1, 2, 0.5, 3),
  fc.double({ min: 0, max: 6, noNaN: true, noDefaultInfinity: true }),
);

/** eps in [0, 1): none (0), the seed's 1e-4, Keras' 1e-7, or anything log-uniform in [1e-12, 0.3]. */
export const epsValue: fc.Arbitrary<number> = fc.oneof(fc.constantFrom(0, 1e-4, 1e-7), logUniform(-12, Math.log10(0.3)));

const taskArb = fc.constantFrom<Task>('binary', 'multilabel', 'multiclass');

/** Options plus the column count the data needs (fixed by a list α). */
export const optionsArb: fc.Arbitrary<{ options: ValidOptions; cols: number }> = taskArb.chain((task) =>
  fc
    .record({
      cols: task === 'binary' ? fc.constant(1) : fc.integer({ min: 1, max: 5 }),
      alphaKind: fc.constantFrom(...(task === 'binary' ? (['number', 'none'] as const) : (['number', 'none', 'list'] as const))),
      alphaNumber: alphaValue,
      alphaList: fc.array(alphaValue, { minLength: 5, maxLength: 5 }),
      input: fc.constantFrom('probs' as const, 'logits' as const),
      gamma: gammaValue,
      reduction: fc.constantFrom('mean' as const, 'sum' as const, 'none' as const),
      eps: epsValue,
      dtype: fc.constantFrom<LossDType>('float32', 'float64', 'float16'),
      targetDtype:
        task === 'multiclass'
          ? fc.constantFrom('int64' as const, 'int32' as const)
          : fc.constantFrom('float' as const, 'int64' as const, 'int32' as const, 'uint8' as const, 'bool' as const),
      opset: fc.integer({ min: MIN_OPSET, max: MAX_OPSET }),
      form: fc.constantFrom('arith' as const, 'onehot' as const),
      asFunction: fc.boolean(),
      trained: fc.option(
        fc.record({
          targets: fc.constantFrom('hard' as const, 'soft' as const),
          labelSmoothing: fc.oneof(fc.constant(0), fc.constantFrom(0.1, 0.2), fc.double({ min: 0, max: 1, noNaN: true })),
          weight: fc.constantFrom('none' as const, 'sample' as const, 'element' as const),
          weightedMean: fc.boolean(),
          labelMean: fc.boolean(),
          like: fc.constantFrom(null, 'seed' as const, 'torchvision' as const, 'fvcore' as const, 'optax' as const, 'keras' as const),
        }),
        { freq: 2 },
      ),
    })
    .map((r) => {
      const alpha = r.alphaKind === 'none' ? ('none' as const) : r.alphaKind === 'number' ? r.alphaNumber : r.alphaList.slice(0, r.cols);
      const options: ValidOptions = {
        task,
        input: r.input,
        alpha,
        gamma: r.gamma,
        reduction: r.reduction,
        eps: r.eps,
        dtype: r.dtype,
        targetDtype: r.targetDtype,
        opset: r.opset,
        form: r.form,
        asFunction: r.asFunction,
      };
      const t = r.trained;
      if (t) {
        // Every option given explicitly, so a preset (like) only names itself. The soft form is arith only.
        Object.assign(options, { targets: t.targets, labelSmoothing: t.labelSmoothing, weight: t.weight, labelMean: t.labelMean, like: t.like });
        if (t.targets === 'soft' || t.labelSmoothing > 0) options.form = 'arith';
        if (t.targets === 'soft') options.targetDtype = 'float';
        if (t.weight !== 'none' && t.weightedMean) options.reduction = 'weighted-mean';
      }
      return { options, cols: r.cols };
    }),
);

/** A probability: anywhere in [0, 1], tiny, within a hair of 1, or exactly 0, ½ or 1. */
const probability = fc.oneof(
  { weight: 3, arbitrary: unit },
  { weight: 1, arbitrary: logUniform(-30, -1) },
  { weight: 1, arbitrary: logUniform(-12, -1).map((x) => 1 - x) },
  { weight: 1, arbitrary: fc.constantFrom(0, 0.5, 1) },
);

/** A logit: moderate, large, or extreme (well past where a float32 sigmoid saturates). */
const logit = (dtype: LossDType): fc.Arbitrary<number> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.double({ min: -6, max: 6, noNaN: true }) },
    { weight: 1, arbitrary: fc.double({ min: -40, max: 40, noNaN: true }) },
    { weight: 1, arbitrary: fc.constantFrom(0, dtype === 'float16' ? -60 : -300, dtype === 'float16' ? 60 : 300) },
  );

/** A case: options and data of N ∈ [1, 16] rows that fit them. */
export const caseArb: fc.Arbitrary<Case> = optionsArb.chain(({ options, cols }) => {
  const { task, input, dtype, eps } = options;
  return fc.integer({ min: 1, max: 16 }).chain((n) => {
    const predCount = task === 'binary' ? n : n * cols;
    let targetArb: fc.Arbitrary<number[]> =
      task === 'multiclass'
        ? fc.array(fc.integer({ min: 0, max: cols - 1 }), { minLength: n, maxLength: n })
        : fc.array(fc.constantFrom(0, 1), { minLength: predCount, maxLength: predCount });
    let predArb: fc.Arbitrary<number[]>;
    if (input === 'logits') {
      predArb = fc.array(logit(dtype), { minLength: predCount, maxLength: predCount });
    } else if (task === 'multiclass') {
      // Rows of a probability distribution (up to rounding), some entries tiny or zero.
      predArb = fc
        .array(fc.oneof(unit, logUniform(-30, -1), fc.constant(0)), { minLength: predCount, maxLength: predCount })
        .map((w) => {
          const out: number[] = [];
          for (let i = 0; i < n; i++) {
            const row = w.slice(i * cols, (i + 1) * cols);
            const s = row.reduce((a, b) => a + b, 0);
            out.push(...row.map((x) => (s > 0 ? x / s : 1 / cols)));
          }
          return out;
        });
    } else {
      predArb = fc.array(probability, { minLength: predCount, maxLength: predCount });
    }
    const soft = options.targets === 'soft';
    const softForm = soft || (options.labelSmoothing ?? 0) > 0;
    if (soft) {
      const targetCount = task === 'multiclass' ? n * cols : predCount;
      targetArb = fc.array(fc.oneof({ weight: 3, arbitrary: unit }, { weight: 1, arbitrary: fc.constantFrom(0, 1) }), { minLength: targetCount, maxLength: targetCount });
    }
    // Weights in [1e-3, 2], some 0: one per row (sample), or one per element loss (element). (A
    // subnormal weight sum is flushed to 0 by a float32 graph: weighted-mean's 0/0, not a loss.)
    const lossCount = task === 'multilabel' && !options.labelMean ? predCount : n;
    const weightCount = options.weight === 'sample' ? n : options.weight === 'element' ? lossCount : 0;
    const weightArb = fc.array(fc.oneof({ weight: 4, arbitrary: fc.double({ min: 1e-3, max: 2, noNaN: true }) }, { weight: 1, arbitrary: fc.constant(0) }), {
      minLength: weightCount,
      maxLength: weightCount,
    });
    return fc
      .record({ pred: predArb, target: targetArb, perLabel: fc.boolean(), deep: fc.boolean(), weight: weightArb })
      .map(({ pred, target, perLabel, deep, weight }) => {
        let rounded = pred.map((x) => roundTo(dtype, x));
        if (input === 'probs' && eps === 0 && softForm) {
          // The soft form's cross-entropy takes log p and log(1 − p) of every element (of every
          // class): keep them finite.
          rounded = rounded.map((x) => (x === 0 ? 2 ** -10 : task !== 'multiclass' && x === 1 ? 1 - 2 ** -10 : x));
        }
        if (input === 'probs' && eps === 0) {
          // Without a clamp, p_t = 0 gives an infinite loss, which would make the whole case's mean
          // or sum infinite (a true but uninformative comparison): keep p_t > 0.
          rounded = rounded.map((x) => (x === 0 ? 2 ** -10 : task !== 'multiclass' && x === 1 ? 1 - 2 ** -10 : x));
        }
        return {
          options,
          n,
          cols,
          pred: rounded,
          // (The per-label vector is the seed's: unweighted, one per label.)
          perLabel: perLabel && task === 'multilabel' && (options.reduction === 'mean' || options.reduction === 'sum') && !options.labelMean && (options.weight ?? 'none') === 'none',
          ...(weightCount ? { weight: weight.map((w) => roundTo(dtype, w)) } : {}),
          target: soft ? target.map((v) => roundTo(dtype, v)) : target,
          // Half the multilabel cases as [B, K, L]: B = 2 when N is even, else 1.
          ...(deep && task === 'multilabel' ? { deepShape: [n % 2 === 0 ? 2 : 1, n % 2 === 0 ? n / 2 : n, cols] as const } : {}),
        };
      });
  });
});

/** The options as LossOptions (what a user passes to buildLoss). */
export function lossOptions(o: ValidOptions): LossOptions {
  return { ...o };
}

// ---- the detection and segmentation terms (src/losses/terms.ts) -----------------------------------

/** A valid option set with terms, and data for it (float64): targets include the ignore value. */
export interface TermsCase {
  readonly options: LossOptions;
  readonly n: number;
  readonly cols: number;
  readonly predShape: number[];
  readonly targetShape: number[];
  readonly pred: number[];
  readonly target: number[];
  /** The elements of pred whose target is ignored. */
  readonly ignoredPred: number[];
  readonly normalizer?: number;
}

const weightValue = fc.oneof(fc.constantFrom(0, 1, 0.5, 2), fc.double({ min: 0, max: 4, noNaN: true }));

export const termsCaseArb: fc.Arbitrary<TermsCase> = fc
  .record({
    task: taskArb,
    cols: fc.integer({ min: 2, max: 4 }),
    n: fc.integer({ min: 1, max: 10 }),
    input: fc.constantFrom('probs' as const, 'logits' as const),
    gamma: fc.oneof(fc.constantFrom(0, 1, 2, 0.5, 3), fc.double({ min: 0.1, max: 4, noNaN: true })),
    alphaKind: fc.constantFrom('number', 'none', 'list'),
    alpha: fc.double({ min: 0.05, max: 0.95, noNaN: true }),
    alphaList: fc.array(fc.double({ min: 0.05, max: 0.95, noNaN: true }), { minLength: 4, maxLength: 4 }),
    reduction: fc.constantFrom('mean' as const, 'sum' as const, 'none' as const),
    eps: fc.constantFrom(0, 1e-4, 1e-7),
    index: fc.boolean(),
    ignore: fc.constantFrom(null, -1, 255, 7),
    normalize: fc.constantFrom('elements', 'positives', 'input', 'number'),
    normalizeNumber: fc.double({ min: 0.5, max: 50, noNaN: true }),
    normalizerInput: fc.double({ min: 0.5, max: 50, noNaN: true }),
    classWeight: fc.option(fc.array(weightValue, { minLength: 4, maxLength: 4 }), { nil: undefined }),
    posWeightKind: fc.constantFrom('none', 'number', 'list'),
    posWeight: weightValue,
    posWeightList: fc.array(weightValue, { minLength: 4, maxLength: 4 }),
    star: fc.boolean(),
    normalized: fc.boolean(),
    reduced: fc.option(fc.double({ min: 0.05, max: 1, noNaN: true }), { nil: undefined }),
    countIgnored: fc.boolean(),
    form: fc.constantFrom('arith' as const, 'onehot' as const),
    asFunction: fc.boolean(),
    opset: fc.integer({ min: MIN_OPSET, max: MAX_OPSET }),
    seed: fc.integer(),
  })
  .chain((r) => {
    const cols = r.task === 'binary' ? 1 : r.cols;
    const index = r.task === 'multilabel' && r.index;
    const star = r.star && r.input === 'logits' && r.task !== 'multiclass' && r.gamma > 0;
    const o: LossOptions = {
      task: r.task,
      input: r.input,
      gamma: r.gamma,
      alpha: r.alphaKind === 'none' ? 'none' : r.alphaKind === 'list' && r.task !== 'binary' ? r.alphaList.slice(0, cols) : r.alpha,
      reduction: r.reduction,
      eps: r.eps,
      dtype: 'float64',
      form: r.form,
      asFunction: r.asFunction,
      opset: r.opset,
      withGrad: true,
    };
    if (index) o.targetFormat = 'index';
    // A dense binary / multilabel ignore value must not be 0 or 1; -1, 255 and 7 are none of them.
    if (r.ignore !== null) o.ignoreIndex = r.ignore;
    if (r.reduction === 'mean' && r.normalize !== 'elements') o.normalize = r.normalize === 'number' ? r.normalizeNumber : (r.normalize as 'positives' | 'input');
    if (r.classWeight && r.task !== 'binary') o.classWeight = r.classWeight.slice(0, cols);
    if (r.task !== 'multiclass' && r.posWeightKind === 'number') o.posWeight = r.posWeight;
    if (r.task === 'multilabel' && r.posWeightKind === 'list') o.posWeight = r.posWeightList.slice(0, cols);
    if (star) o.variant = 'star';
    else {
      if (r.normalized) o.normalized = true;
      if (r.reduced !== undefined) o.reducedThreshold = r.reduced;
    }
    if (r.countIgnored) o.countIgnored = true;
    const n = r.n;
    const predShape = r.task === 'binary' ? [n] : [n, cols];
    const targetShape = r.task === 'multiclass' || index ? [n] : predShape;
    const predCount = predShape.reduce((a, b) => a * b, 1);
    const targetCount = targetShape.reduce((a, b) => a * b, 1);
    // Targets: the ignore value now and then; index targets include the background `cols`.
    const targetValue =
      r.task === 'multiclass' ? fc.integer({ min: 0, max: cols - 1 }) : index ? fc.integer({ min: 0, max: cols }) : fc.constantFrom(0, 1);
    const withIgnore = r.ignore === null ? targetValue : fc.oneof({ weight: 4, arbitrary: targetValue }, { weight: 1, arbitrary: fc.constant(r.ignore) });
    const predValue =
      r.input === 'logits'
        ? fc.double({ min: -8, max: 8, noNaN: true })
        : r.task === 'multiclass'
          ? fc.double({ min: 0.02, max: 1, noNaN: true })
          : fc.double({ min: 0.01, max: 0.99, noNaN: true });
    return fc.record({ pred: fc.array(predValue, { minLength: predCount, maxLength: predCount }), target: fc.array(withIgnore, { minLength: targetCount, maxLength: targetCount }) }).map(({ pred, target }) => {
      let p = pred;
      if (r.task === 'multiclass' && r.input === 'probs') {
        p = [];
        for (let i = 0; i < n; i++) {
          const row = pred.slice(i * cols, (i + 1) * cols);
          const s = row.reduce((a, b) => a + b, 0);
          p.push(...row.map((x) => x / s));
        }
      }
      const ignoredPred: number[] = [];
      if (r.ignore !== null) {
        for (let i = 0; i < predCount; i++) {
          const row = Math.floor(i / cols);
          const t = r.task === 'multiclass' || index ? target[row] : target[i];
          if (t === r.ignore) ignoredPred.push(i);
        }
      }
      return { options: o, n, cols, predShape, targetShape, pred: p, target, ignoredPred, ...(o.normalize === 'input' ? { normalizer: r.normalizerInput } : {}) };
    });
  });
