/**
 * Property: the `grad` output (`withGrad`) of any valid model equals the derivative of the
 * independent float64 reference (test/helpers/focal-reference.ts) — taken numerically, by central
 * differences with Richardson extrapolation, so it shares nothing with the graph's analytic
 * formulas — for random options and data away from the clamp's kinks (where a derivative is one-
 * sided; the clamp's zero gradient is checked separately below).
 *
 * What `grad` is (src/losses/focal.ts, *the gradient*): d(loss)/d(pred), shaped like pred; for reduction `none` the
 * gradient of the sum of the elements.
 *
 * Tolerance, relative to the case's largest gradient component: float64 1e-7 (the finite
 * differences: step h = 1e-3 of the distance to the nearest kink, Richardson error ~(h/d)^4, and
 * rounding ~u/h, both far below); float32 1e-6 (the bound test/losses/grad.test.ts claims, measured
 * 4.5e-7 worst there); float16 2^-10 (the output is rounded to half precision), plus the absolute
 * floors below.
 */
import fc from 'fast-check';
import { LossDType, buildLoss } from '../../src/losses';
import { RefData, RefOptions, focalLoss, froundParams } from '../helpers/focal-reference';
import { runModel } from '../helpers/ort';
import { recordModel } from '../helpers/record-model';
import { ValidOptions, alphaValue, gammaValue, roundTo } from './arbitraries';
import { fcParams } from './fc-config';

interface GradCase {
  readonly options: ValidOptions;
  readonly n: number;
  readonly cols: number;
  readonly pred: number[];
  readonly target: number[];
  /** The weight input's data (options.weight). */
  readonly weight?: number[];
}

const RTOL: Record<LossDType, number> = { float64: 1e-7, float32: 1e-6, float16: 2 ** -10 };
/**
 * Absolute floors, per element of the loss (divided by the count for `mean`):
 * - float32 and float16 (computed in float32): log p_t of a confident element is −log(1 + e^{−z}),
 *   and 1 + e^{−z} is rounded to float32 — an absolute error of about u = 2^-24 in log p_t, which is
 *   not relative to the element's (tiny) loss or gradient (see the known-bug test in loss.test.ts).
 *   It reaches the gradient multiplied by at most α_t·(1 + γ), so 4·u·(1 + γ). Also covers flushing
 *   float32 subnormals (a parameter like α = 1e-300 is 0 in a float32 model).
 * - float16 output is rounded to the half-precision grid, spaced 2^-24 below 2^-14 (subnormals).
 */
function atolFor(dtype: LossDType, gamma: number): number {
  if (dtype === 'float64') return 0;
  const f32 = 4 * 2 ** -24 * (1 + gamma);
  return dtype === 'float16' ? f32 + 2 ** -24 : f32;
}

const gradCaseArb: fc.Arbitrary<GradCase> = fc
  .record({
    task: fc.constantFrom('binary' as const, 'multilabel' as const, 'multiclass' as const),
    input: fc.constantFrom('probs' as const, 'logits' as const),
    cols: fc.integer({ min: 2, max: 5 }),
    n: fc.integer({ min: 1, max: 12 }),
    alphaKind: fc.constantFrom('number' as const, 'none' as const, 'list' as const),
    alpha: alphaValue,
    alphaList: fc.array(alphaValue, { minLength: 5, maxLength: 5 }),
    gamma: gammaValue,
    reduction: fc.constantFrom('mean' as const, 'sum' as const, 'none' as const),
    // Floors well below every p_t generated (>= 0.0025), so the clamp is inactive.
    eps: fc.constantFrom(0, 1e-4, 1e-7, 1e-3),
    dtype: fc.constantFrom<LossDType>('float64', 'float32', 'float16'),
    opset: fc.integer({ min: 13, max: 21 }),
    form: fc.constantFrom('arith' as const, 'onehot' as const),
    asFunction: fc.boolean(),
    unit: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 60, maxLength: 60 }),
    labels: fc.array(fc.nat(), { minLength: 60, maxLength: 60 }),
    // Issue 12's options, in about half the cases: soft targets, label smoothing, weights, labelMean.
    trained: fc.option(
      fc.record({
        soft: fc.boolean(),
        labelSmoothing: fc.constantFrom(0, 0.1, 0.35),
        weight: fc.constantFrom('none' as const, 'sample' as const, 'element' as const),
        weightedMean: fc.boolean(),
        labelMean: fc.boolean(),
        softUnit: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 60, maxLength: 60 }),
        weights: fc.array(fc.double({ min: 0.05, max: 2, noNaN: true }), { minLength: 60, maxLength: 60 }),
      }),
      { freq: 2 },
    ),
  })
  .map((r) => {
    const task = r.task;
    const cols = task === 'binary' ? 1 : r.cols;
    const alpha =
      r.alphaKind === 'none' || (r.alphaKind === 'list' && task === 'binary')
        ? ('none' as const)
        : r.alphaKind === 'list'
          ? r.alphaList.slice(0, cols)
          : r.alpha;
    const options: ValidOptions = {
      task,
      input: r.input,
      alpha,
      gamma: r.gamma,
      reduction: r.reduction,
      eps: r.eps,
      dtype: r.dtype,
      targetDtype: task === 'multiclass' ? 'int64' : 'float',
      opset: r.opset,
      form: r.form,
      asFunction: r.asFunction,
    };
    const count = task === 'binary' ? r.n : r.n * cols;
    const u = (i: number): number => r.unit[i % r.unit.length];
    let pred: number[];
    if (r.input === 'logits') {
      // |x| <= 5 (binary: p_t >= σ(−5)); multi-class |x| <= 2, so p_t >= e^-4/5 with 5 classes.
      const span = task === 'multiclass' ? 2 : 5;
      pred = Array.from({ length: count }, (_, i) => (2 * u(i) - 1) * span);
    } else if (task === 'multiclass') {
      // Rows of weights in [0.1, 1], normalized: every p >= 0.02.
      pred = [];
      for (let row = 0; row < r.n; row++) {
        const w = Array.from({ length: cols }, (_, j) => 0.1 + 0.9 * u(row * cols + j));
        const s = w.reduce((a, b) => a + b, 0);
        pred.push(...w.map((x) => x / s));
      }
    } else {
      pred = Array.from({ length: count }, (_, i) => 0.02 + 0.96 * u(i));
    }
    let target =
      task === 'multiclass'
        ? Array.from({ length: r.n }, (_, i) => r.labels[i] % cols)
        : Array.from({ length: count }, (_, i) => r.labels[i] % 2);
    const t = r.trained;
    let weight: number[] | undefined;
    if (t) {
      Object.assign(options, { targets: t.soft ? 'soft' : 'hard', labelSmoothing: t.labelSmoothing, weight: t.weight, labelMean: t.labelMean && task === 'multilabel' });
      if (t.soft || t.labelSmoothing > 0) options.form = 'arith';
      if (t.soft) {
        options.targetDtype = 'float';
        if (task === 'multiclass') {
          // Rows of class probabilities.
          target = [];
          for (let row = 0; row < r.n; row++) {
            const w = Array.from({ length: cols }, (_, j) => t.softUnit[(row * cols + j) % 60]);
            const s = w.reduce((a, b) => a + b, 0);
            target.push(...w.map((x) => (s > 0 ? x / s : 1 / cols)));
          }
        } else target = Array.from({ length: count }, (_, i) => t.softUnit[i % 60]);
        target = target.map((x) => roundTo(r.dtype, x));
      }
      if (t.weight !== 'none') {
        if (t.weightedMean) options.reduction = 'weighted-mean';
        const losses = task === 'multilabel' && !options.labelMean ? count : r.n;
        const k = t.weight === 'sample' ? r.n : losses;
        weight = Array.from({ length: k }, (_, i) => roundTo(r.dtype, t.weights[i % 60]));
      }
    }
    return { options, n: r.n, cols, pred: pred.map((x) => roundTo(r.dtype, x)), target, weight };
  });

/** The reference's scalar: the reduced loss, or the sum of the elements for `none`. */
function scalar(o: RefOptions, pred: number[], target: number[], cols: number, w?: Pick<RefData, 'weight' | 'weightPer'>): number {
  const v = focalLoss(o, { pred, target, cols, ...w });
  return v.reduce((a, b) => a + b, 0);
}

/** d scalar / d pred_i by central differences with one Richardson step. */
function numericGradient(o: RefOptions, pred: readonly number[], target: number[], cols: number, w?: Pick<RefData, 'weight' | 'weightPer'>): number[] {
  return pred.map((x, i) => {
    // Step: 1e-3 of the distance to the nearest kink of the function in x (0 or 1 for a probability).
    const h = o.input === 'probs' ? 1e-3 * Math.min(x, 1 - x) : 1e-3;
    const at = (d: number): number => {
      const p = [...pred];
      p[i] = x + d;
      return scalar(o, p, target, cols, w);
    };
    const central = (s: number): number => (at(s) - at(-s)) / (2 * s);
    return (4 * central(h / 2) - central(h)) / 3;
  });
}

let built = 0;

async function checkGrad(c: GradCase): Promise<void> {
  const o = c.options;
  const m = buildLoss({ ...o, withGrad: true });
  if (built++ % 5 === 0) recordModel(`property-grad-${o.task}-${o.input}-${o.form}-${o.dtype}-opset${o.opset}${o.asFunction ? '-fn' : ''}-${built}`, m.bytes);
  const softRows = o.task === 'multiclass' && o.targets === 'soft';
  const dims = o.task === 'binary' ? { pred: [c.n], target: [c.n] } : o.task === 'multilabel' || softRows ? { pred: [c.n, c.cols], target: [c.n, c.cols] } : { pred: [c.n, c.cols], target: [c.n] };
  const wDims = c.weight ? [c.n, ...(c.weight.length > c.n ? [c.cols] : [])] : undefined;
  const out = await runModel(m.bytes, {
    pred: { dtype: o.dtype, dims: dims.pred, data: c.pred },
    target: { dtype: m.options.targetDtype, dims: dims.target, data: c.target },
    ...(c.weight && wDims ? { weight: { dtype: o.dtype, dims: wDims, data: c.weight } } : {}),
  });
  if (JSON.stringify(out.grad.dims) !== JSON.stringify(dims.pred)) throw new Error(`grad dims ${out.grad.dims}, expected ${dims.pred}`);
  let ro: RefOptions = {
    task: o.task,
    input: o.input,
    alpha: o.alpha === 'none' ? null : o.alpha,
    gamma: o.gamma,
    eps: o.eps,
    reduction: o.reduction,
    targets: o.targets,
    labelSmoothing: o.labelSmoothing,
    labelMean: o.labelMean,
    softForm: o.targets === 'soft' || (o.labelSmoothing ?? 0) > 0,
  };
  // The function form's body reads α, γ, eps and the label smoothing from float32 attributes.
  if (o.asFunction) ro = froundParams(ro);
  const w = c.weight && o.weight && o.weight !== 'none' ? { weight: c.weight, weightPer: o.weight } : undefined;
  const expected = numericGradient(ro, c.pred, c.target, c.cols, w);
  const scale = Math.max(...expected.map(Math.abs));
  // (Weights ≤ 2 scale an element's absolute error; the soft multiclass loss sums C classes a row.)
  const perElement = (o.reduction === 'mean' || o.reduction === 'weighted-mean' ? 1 / (o.task === 'multiclass' ? c.n : c.pred.length) : 1) * (c.weight ? 2 : 1) * (ro.softForm && o.task === 'multiclass' ? c.cols : 1);
  const allowed = RTOL[o.dtype] * scale + atolFor(o.dtype, o.gamma) * perElement + 1e-300;
  const bad = expected.map((e, i) => ({ i, e, a: out.grad.data[i] })).filter((x) => !(Math.abs(x.a - x.e) <= allowed));
  if (bad.length) {
    const worst = bad.sort((x, y) => Math.abs(y.a - y.e) - Math.abs(x.a - x.e)).slice(0, 4);
    throw new Error(`grad: ${bad.length} of ${expected.length} differ by more than ${allowed.toExponential(2)}: ${worst.map((x) => `[${x.i}] got ${x.a}, expected ${x.e}`).join('; ')}`);
  }
}

describe('property: the grad output is the derivative of the float64 reference', () => {
  it('for random valid options and data away from the clamp (build → onnxruntime → numeric derivative)', async () => {
    await fc.assert(fc.asyncProperty(gradCaseArb, checkGrad), fcParams(100));
  });

  it('is 0 where the clamp holds p_t at eps (probabilities and logits below the floor)', async () => {
    for (const [input, pred] of [
      ['probs', [1e-6, 1 - 1e-6, 5e-5, 1 - 5e-5]],
      ['logits', [-20, 20, -12, 12]],
    ] as const) {
      for (const dtype of ['float32', 'float64'] as const) {
        const m = buildLoss({ input, eps: 1e-4, dtype, withGrad: true, reduction: 'sum' });
        const out = await runModel(m.bytes, { pred: { dtype, dims: [4], data: [...pred] }, target: { dtype, dims: [4], data: [1, 0, 1, 0] } });
        expect(out.grad.data.map((g) => g === 0)).toEqual([true, true, true, true]); // +0 or −0
      }
    }
  });
});
