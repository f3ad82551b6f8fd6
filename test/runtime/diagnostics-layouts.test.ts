/**
 * Diagnostics (issue 21) on channel-first predictions (`labelAxis` 1: MONAI, smp, kornia's
 * [B, C, H, W]) and with `perImage` (torchvision's RetinaNet), against numpy on the same data:
 * the per-class sums (1e-9), counts and positives, the positive / negative split against the
 * per-element losses (`out`, in the user's layout) moved labels-last by numpy; each CDF against
 * numpy's exact sort (within 0.01); each swept loss against a separate evaluation with that γ / α
 * (the same number); channel-first diagnostics against the same data transposed to labels-last.
 * Files over several batches (`evaluate`, also from a channel-first `--model`), memory
 * (`createEvaluator`, big and small batches), `evaluateNetwork` (a channel-first network; the
 * dense head per image) and the CLI.
 */
import * as fs from 'fs';
import * as path from 'path';
import { LossOptions, buildLoss, normalizeOptions } from '../../src/losses';
import { readNpy } from '../../src/io/npy';
import { Graph, buildModel, op, serializeModel } from '../../src/onnx';
import { CdfCurve, Diagnostics } from '../../src/diagnostics/accumulate';
import { evaluate } from '../../src/runtime/evaluate';
import { evaluateNetwork } from '../../src/runtime/evaluate-network';
import { createEvaluator, evalSpec, planFromOptions } from '../../src/runtime/evaluator';
import { checkCudaPlacement, formatPlacement } from '../../src/onnx/placement';
import { runCli, scratchDir } from '../helpers/cli';
import { npyFiles } from '../helpers/npy-files';
import { describePython, runPython } from '../helpers/python';
import { mulberry32 } from '../../scripts/prng';

const dir = scratchDir('focal-diag-layouts-');
const write = npyFiles(dir, 'd');
const prod = (d: readonly number[]): number => d.reduce((a, b) => a * b, 1);
const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

/**
 * numpy's view of the files: the losses and targets moved labels-last (axis `axis` to the end),
 * then per-class sums, the split and the exact CDF at x = 0, 0.01, …, 1. Targets: `dense` (like
 * the predictions), `index` (multi-label, one class index a row, C the background), `classes`
 * (multi-class indices) or `soft` (multi-class probabilities, like the predictions).
 */
const NUMPY = `
import json, sys
import numpy as np
a = json.loads(sys.argv[1])
task, kind, C, ax, ign = a['task'], a['kind'], a['classes'], a['axis'], a.get('ignore')
last = lambda x: np.moveaxis(x, ax, -1) if ax is not None else x
def cdf(v):
    v = np.sort(v.astype(np.float64)); n = len(v); c = np.concatenate([[0.0], np.cumsum(v)]); s = c[-1]
    out = []
    for k in range(101):
        m = k / 100 * n; i = int(np.floor(m)); f = m - i
        y = c[i] + (f * v[i] if i < n else 0.0)
        out.append(y / s if s > 0 else k / 100)
    return out
l = np.load(a['losses']).astype(np.float64)
t = np.load(a['target'])
r = {}
if task == 'multiclass':
    cls = last(t).reshape(-1, C).argmax(1) if kind == 'soft' else t.reshape(-1).astype(np.int64)
    valid = (cls >= 0) & (cls < C)
    if ign is not None: valid &= cls != ign
    lf = l.reshape(-1)
    r['perClass'] = [[float(lf[valid & (cls == c)].sum()), int((valid & (cls == c)).sum()), int((valid & (cls == c)).sum())] for c in range(C)]
    r['all'] = cdf(lf[valid])
    sel = lambda x: x.reshape(-1)[valid]
else:
    L = last(l).reshape(-1, C)
    if kind == 'index':
        ti = t.reshape(-1).astype(np.int64)
        T = (ti[:, None] == np.arange(C)[None, :]).astype(np.float64)
        keep = np.repeat((ti != ign)[:, None] if ign is not None else np.ones((len(ti), 1), bool), C, axis=1)
    else:
        T = last(t).reshape(-1, C).astype(np.float64)
        keep = T != ign if ign is not None else np.ones(T.shape, bool)
    pos = T >= 0.5
    r['perClass'] = [[float(L[:, c][keep[:, c]].sum()), int(keep[:, c].sum()), int((pos[:, c] & keep[:, c]).sum())] for c in range(C)]
    lf = L[keep]; pf = pos[keep]
    r['positive'] = [float(lf[pf].sum()), int(pf.sum())]
    r['negative'] = [float(lf[~pf].sum()), int((~pf).sum())]
    r['cdfPositive'] = cdf(lf[pf]); r['cdfNegative'] = cdf(lf[~pf])
    sel = lambda x: last(x).reshape(-1, C)[keep][~pf]
for g, f in a.get('swept', {}).items():
    r['swept_' + g] = cdf(sel(np.load(f).astype(np.float64)))
print(json.dumps(r))
`;

function numpy(python: string, args: object): Record<string, unknown> {
  return JSON.parse(runPython(python, ['-c', NUMPY, JSON.stringify(args)])) as Record<string, unknown>;
}

/** The largest |y − exact y| over the curve's points (its x are the grid's). */
function cdfError(c: CdfCurve, exact: number[]): number {
  expect(c.length).toBe(exact.length);
  expect(c[0]).toEqual([0, 0]);
  expect(c[c.length - 1][1]).toBeCloseTo(1, 12);
  return Math.max(...c.map(([, y], k) => Math.abs(y - exact[k])));
}

/** `values` of `dims` with axis 1 moved last ([B, C, …] to [B, …, C]): the same data, labels last. */
function labelsLast<T extends number>(values: ArrayLike<T>, dims: readonly number[]): T[] {
  const [B, C] = dims;
  const S = prod(dims.slice(2));
  const out = new Array<T>(values.length);
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let s = 0; s < S; s++) out[(b * S + s) * C + c] = values[(b * C + c) * S + s];
  return out;
}
/** The dims of the same data labels last: [B, H, W, C]; multi-class [B·H·W, C] (its rows are [N, C]). */
const lastDims = (dims: readonly number[], task?: LossOptions['task']): number[] => (task === 'multiclass' ? [prod(dims) / dims[1], dims[1]] : [dims[0], ...dims.slice(2), dims[1]]);

type Kind = 'dense' | 'index' | 'classes' | 'soft';

interface Case {
  readonly name: string;
  readonly loss: LossOptions;
  readonly dims: number[];
  readonly kind: Kind;
  /** The class / label of element i (channel-first: on axis 1), and a row's target (index kinds). */
  readonly make: (r: () => number, dims: readonly number[]) => { pred: number[]; target: number[] };
}

/** Element i's label / class in `dims` with the labels on `axis`. */
const labelOf = (i: number, dims: readonly number[], axis: number): number => Math.floor(i / prod(dims.slice(axis + 1))) % dims[axis];

/** Multi-label 0/1 (or soft, or -1 ignored) targets, more positives for higher labels; predictions mostly easy. */
function dense(axis: number, opts: { soft?: boolean; ignore?: boolean; logits?: boolean } = {}): Case['make'] {
  return (r, dims) => {
    const pred: number[] = [];
    const target: number[] = [];
    for (let i = 0; i < prod(dims); i++) {
      const l = labelOf(i, dims, axis);
      const u = r();
      const t = opts.ignore && u < 0.05 ? -1 : opts.soft ? (u < 0.2 + 0.05 * l ? 0.6 + 0.4 * r() : 0.4 * r()) : u < 0.1 + 0.07 * l ? 1 : 0;
      target.push(t);
      const hard = t === 1 || t >= 0.5;
      const p = r() < 0.85 ? (hard ? 0.7 + 0.3 * r() : 0.3 * r()) : r();
      pred.push(opts.logits ? Math.log(Math.max(p, 1e-6) / Math.max(1 - p, 1e-6)) : p);
    }
    return { pred, target };
  };
}

/** A class index per row (the rows: every axis but `axis`), `background` for most; the predictions (logits) favour it. */
function indexed(axis: number, classes: number, background: number, ignore?: number): Case['make'] {
  return (r, dims) => {
    const S = prod(dims.slice(axis + 1));
    const rows = prod(dims) / dims[axis];
    const target = Array.from({ length: rows }, () => {
      const u = r();
      return ignore !== undefined && u < 0.05 ? ignore : u < 0.4 ? Math.floor(r() * classes) : background;
    });
    const pred = Array.from({ length: prod(dims) }, (_, i) => {
      const c = labelOf(i, dims, axis);
      const row = Math.floor(i / (S * dims[axis])) * S + (i % S);
      return (c === target[row] ? 2.5 : -1) + 3 * (r() - 0.5);
    });
    return { pred, target };
  };
}

/** Multi-class soft targets: a row of probabilities (one class mostly), like the predictions (softmax probabilities). */
function softClasses(axis: number): Case['make'] {
  return (r, dims) => {
    const C = dims[axis];
    const S = prod(dims.slice(axis + 1));
    const pred = new Array<number>(prod(dims));
    const target = new Array<number>(prod(dims));
    for (let row = 0; row < prod(dims) / C; row++) {
      const at = Math.floor(row / S) * S * C + (row % S);
      const k = Math.floor(r() * C);
      const p = Array.from({ length: C }, (_, c) => (c === k ? 1 + 5 * r() : r()));
      const t = Array.from({ length: C }, (_, c) => (c === k ? 3 + r() : r()));
      const ps = p.reduce((a, b) => a + b, 0);
      const ts = t.reduce((a, b) => a + b, 0);
      for (let c = 0; c < C; c++) {
        pred[at + c * S] = p[c] / ps;
        target[at + c * S] = t[c] / ts;
      }
    }
    return { pred, target };
  };
}

const CF = [12, 4, 16, 20]; // [B, C, H, W]: 1280 elements an image
const CASES: Case[] = [
  { name: 'multi-label channel-first, 0/1 targets', loss: { task: 'multilabel', labelAxis: 1, alpha: 0.25, gamma: 2 }, dims: CF, kind: 'dense', make: dense(1) },
  { name: 'multi-label channel-first (labelAxis -3), ignore -1', loss: { task: 'multilabel', labelAxis: -3, alpha: 0.4, gamma: 1, ignoreIndex: -1 }, dims: CF, kind: 'dense', make: dense(1, { ignore: true }) },
  { name: 'multi-label channel-first, soft targets', loss: { task: 'multilabel', labelAxis: 1, targets: 'soft', alpha: 0.25, gamma: 2 }, dims: CF, kind: 'dense', make: dense(1, { soft: true }) },
  { name: 'multi-label channel-first, float64, ignore -1', loss: { task: 'multilabel', labelAxis: 1, dtype: 'float64', ignoreIndex: -1, gamma: 2 }, dims: CF, kind: 'dense', make: dense(1, { ignore: true }) },
  {
    name: "smp's multi-class mode: multi-label channel-first, index targets [B, H, W], ignore -1",
    loss: { task: 'multilabel', labelAxis: 1, targetFormat: 'index', input: 'logits', ignoreIndex: -1, alpha: 0.25, gamma: 2 },
    dims: CF,
    kind: 'index',
    make: indexed(1, 4, 4, -1),
  },
  { name: 'multi-class channel-first, class indices [B, H, W], ignore -100', loss: { task: 'multiclass', labelAxis: 1, input: 'logits', alpha: 'none', gamma: 2, ignoreIndex: -100 }, dims: CF, kind: 'classes', make: indexed(1, 4, 0, -100) },
  { name: 'multi-class channel-first, soft targets', loss: { task: 'multiclass', labelAxis: 1, targets: 'soft', alpha: 'none', gamma: 2 }, dims: CF, kind: 'soft', make: softClasses(1) },
  {
    name: "torchvision's RetinaNet: perImage, multi-label [B, K, L], index targets, normalize positives, ignore -2",
    loss: { task: 'multilabel', input: 'logits', eps: 0, alpha: 0.25, gamma: 2, targetFormat: 'index', ignoreIndex: -2, normalize: 'positives', perImage: true },
    dims: [12, 300, 5],
    kind: 'index',
    make: indexed(2, 5, 5, -2),
  },
  { name: 'perImage binary [B, K]', loss: { task: 'binary', alpha: 0.25, gamma: 2, perImage: true }, dims: [12, 1500], kind: 'dense', make: (r, dims) => dense(1)(r, [...dims, 1]) },
  {
    name: 'perImage channel-first multi-label, normalize positives',
    loss: { task: 'multilabel', labelAxis: 1, alpha: 0.25, gamma: 2, normalize: 'positives', perImage: true },
    dims: CF,
    kind: 'dense',
    make: dense(1),
  },
  { name: 'perImage multi-class channel-first', loss: { task: 'multiclass', labelAxis: 1, input: 'logits', alpha: 'none', gamma: 2, perImage: true }, dims: CF, kind: 'classes', make: indexed(1, 4, 0) },
];

/** The label axis of a case's predictions (undefined: binary). */
const axisOf = (c: Case): number | undefined => (c.loss.task === 'binary' ? undefined : c.loss.labelAxis === undefined || c.loss.labelAxis === -1 ? c.dims.length - 1 : (c.loss.labelAxis + c.dims.length) % c.dims.length);
const channelFirst = (c: Case): boolean => axisOf(c) !== undefined && axisOf(c) !== c.dims.length - 1;
const targetDims = (c: Case): number[] => (c.kind === 'index' || c.kind === 'classes' ? c.dims.filter((_, k) => k !== axisOf(c)) : c.dims);
const targetDtype = (c: Case): 'int64' | 'float32' | 'float64' => (c.kind === 'index' || c.kind === 'classes' ? 'int64' : c.loss.dtype === 'float64' ? 'float64' : 'float32');

describePython('diagnostics on channel-first data and per image, against numpy', (python) => {
  describe.each(CASES)('$name', (c) => {
    let d: Diagnostics;
    let loss: number;
    let files: { pred: string; target: string; losses: string };
    let data: { pred: number[]; target: number[] };
    const batchSize = 4096; // 3 images a batch of [B, C, H, W]: several batches
    const swept: Record<string, string> = {};
    const sweep = { sweepAlpha: [0.1, 0.5] };

    beforeAll(async () => {
      data = c.make(mulberry32(19), c.dims);
      const tag = c.name.replace(/\W+/g, '-');
      files = {
        pred: write(c.loss.dtype === 'float64' ? 'float64' : 'float32', c.dims, data.pred, `${tag}-p.npy`),
        target: write(targetDtype(c), targetDims(c), data.target, `${tag}-t.npy`),
        losses: path.join(dir(), `${tag}-l.npy`),
      };
      const r = await evaluate({ pred: files.pred, target: files.target, loss: c.loss, out: files.losses, batchSize, threads: 1, diagnostics: sweep });
      expect(r.batches).toBeGreaterThan(2);
      d = r.diagnostics as Diagnostics;
      loss = r.loss;
      for (const g of [0, 5]) {
        swept[String(g)] = path.join(dir(), `${tag}-l${g}.npy`);
        await evaluate({ pred: files.pred, target: files.target, loss: { ...c.loss, gamma: g }, out: swept[String(g)], batchSize, threads: 1 });
      }
    });

    const ref = (): Record<string, unknown> =>
      numpy(python, { losses: files.losses, target: files.target, task: c.loss.task, kind: c.kind, classes: c.loss.task === 'binary' ? 1 : c.dims[axisOf(c) as number], axis: axisOf(c) ?? null, ignore: c.loss.ignoreIndex, swept });

    it('per-class sums, counts and positives, the split and the CDFs equal numpy on the per-element losses', () => {
      // --out writes the losses in the user's layout (binary per image: [B, K], whole images).
      expect(readNpy(files.losses).header.shape).toEqual(c.loss.task === 'multiclass' ? c.dims.filter((_, k) => k !== axisOf(c)) : c.dims);
      const n = ref();
      const perClass = n.perClass as number[][];
      expect(d.perClass.map((p) => p.index)).toEqual(perClass.map((_, k) => k));
      d.perClass.forEach((p, k) => {
        expect(rel(p.sum, perClass[k][0])).toBeLessThan(1e-9);
        expect([p.count, p.positives]).toEqual([perClass[k][1], perClass[k][2]]);
      });
      if (c.loss.task === 'multiclass') {
        expect(d.positive).toBeUndefined();
        expect(cdfError(d.cdf.all as CdfCurve, n.all as number[])).toBeLessThan(0.01);
      } else {
        const [ps, pc] = n.positive as number[];
        const [ns, nc] = n.negative as number[];
        expect([d.positive?.count, d.negative?.count]).toEqual([pc, nc]);
        expect(rel(d.positive?.sum as number, ps)).toBeLessThan(1e-9);
        expect(rel(d.negative?.sum as number, ns)).toBeLessThan(1e-9);
        expect(cdfError(d.cdf.positive as CdfCurve, n.cdfPositive as number[])).toBeLessThan(0.01);
        expect(cdfError(d.cdf.negative as CdfCurve, n.cdfNegative as number[])).toBeLessThan(0.01);
      }
      // Every class has losses and positives to tell apart (the data is not degenerate).
      expect(d.perClass.every((p) => p.sum > 0 && p.positives > 0)).toBe(true);
      for (const g of [0, 5]) expect(cdfError(d.cdfByGamma.find((x) => x.gamma === g)?.curve as CdfCurve, n[`swept_${g}`] as number[])).toBeLessThan(0.01);
    });

    it('each swept value is what a separate evaluation with that γ / α gives', async () => {
      expect(d.gammaSweep.map((x) => x.gamma)).toEqual([0, 0.5, 1, 2, 5]);
      expect(d.gammaSweep.find((x) => x.gamma === c.loss.gamma)?.loss).toBe(loss);
      const grid = d.grid as { gamma: number; alpha: number; loss: number }[];
      const check = [
        ...d.gammaSweep.map((x) => ({ gamma: x.gamma, alpha: c.loss.alpha, loss: x.loss })),
        ...(d.alphaSweep ?? []).map((x) => ({ gamma: c.loss.gamma, alpha: x.alpha, loss: x.loss })),
        ...grid.filter((x) => x.gamma === 0 || x.gamma === 5),
      ];
      expect(check.length).toBe(11);
      for (const x of check) {
        const r = await evaluate({ pred: files.pred, target: files.target, loss: { ...c.loss, gamma: x.gamma, alpha: x.alpha }, batchSize, threads: 1 });
        expect([x.gamma, x.alpha, x.loss]).toEqual([x.gamma, x.alpha, r.loss]);
      }
    });

    // (Multi-class labels last is [N, C]: no images there.)
    if (channelFirst(c) && !(c.loss.perImage && c.loss.task === 'multiclass')) {
      it('equal the diagnostics of the same data transposed to labels-last', async () => {
        const t = c.kind === 'index' || c.kind === 'classes' ? data.target : labelsLast(data.target, c.dims);
        const { labelAxis: _axis, ...lastLoss } = c.loss;
        const r = await evaluate({
          pred: write(c.loss.dtype === 'float64' ? 'float64' : 'float32', lastDims(c.dims, c.loss.task), labelsLast(data.pred, c.dims)),
          target: write(targetDtype(c), c.kind === 'dense' || c.kind === 'soft' ? lastDims(c.dims, c.loss.task) : c.kind === 'classes' ? [prod(targetDims(c))] : targetDims(c), t),
          loss: lastLoss,
          batchSize,
          threads: 1,
          diagnostics: sweep,
        });
        sameDiagnostics(r.diagnostics as Diagnostics, d);
        expect(rel(r.loss, loss)).toBeLessThan(LOSS_TOLERANCE);
      });
    }
  });
});

/**
 * Sums of the same data in two layouts: the losses summed in other blocks of ~256 in float32
 * (eval-outputs.ts), each block within ~1e-7 of its float64 sum; a multi-class row's loss reduced
 * over its classes in another order in float32.
 */
const LOSS_TOLERANCE = 1e-6;

/**
 * Two diagnostics of the same data in two layouts: counts the same, per-class and split sums and
 * the swept losses within LOSS_TOLERANCE, the curves within 0.01 of each other (each within 0.01
 * of the exact one; a bin's share of a swept loss is taken at the first element that falls in it).
 */
function sameDiagnostics(a: Diagnostics, b: Diagnostics): void {
  expect(a.perClass.map((p) => [p.index, p.count, p.positives])).toEqual(b.perClass.map((p) => [p.index, p.count, p.positives]));
  a.perClass.forEach((p, k) => expect(rel(p.sum, b.perClass[k].sum)).toBeLessThan(LOSS_TOLERANCE));
  for (const s of ['positive', 'negative'] as const) {
    expect(a[s]?.count).toBe(b[s]?.count);
    if (a[s]) expect(rel(a[s]?.sum as number, b[s]?.sum as number)).toBeLessThan(LOSS_TOLERANCE);
  }
  const sweeps = (d: Diagnostics): [number, number][] => [...d.gammaSweep.map((x) => [x.gamma, x.loss] as [number, number]), ...(d.alphaSweep ?? []).map((x) => [x.alpha, x.loss] as [number, number])];
  sweeps(a).forEach(([k, v], i) => {
    expect(k).toBe(sweeps(b)[i][0]);
    expect(rel(v, sweeps(b)[i][1])).toBeLessThan(LOSS_TOLERANCE);
  });
  const curves = (d: Diagnostics): CdfCurve[] => [...Object.values(d.cdf), ...d.cdfByGamma.map((x) => x.curve)];
  expect(Object.keys(a.cdf)).toEqual(Object.keys(b.cdf));
  curves(a).forEach((curve, i) => curve.forEach(([x, y], k) => expect([x, Math.abs(y - curves(b)[i][k][1]) < 0.01]).toEqual([curves(b)[i][k][0], true])));
}

describe('diagnostics in memory: channel-first and per image', () => {
  /** [B, C, H, W] batches of 6 images (30,720 elements: the big graph), 1 image (5,120: the small-batch graph) and 5. */
  const dims = (b: number): number[] => [b, 4, 32, 40];
  const images = [6, 1, 5];

  it.each([
    ['multi-label, 0/1 targets', { task: 'multilabel', labelAxis: 1 }, 'dense'],
    ['multi-label, soft targets, float64', { task: 'multilabel', labelAxis: 1, targets: 'soft', dtype: 'float64' }, 'dense'],
    ['multi-label, index targets, ignore -1', { task: 'multilabel', labelAxis: 1, targetFormat: 'index', ignoreIndex: -1, input: 'logits' }, 'index'],
    ['multi-class, class indices', { task: 'multiclass', labelAxis: 1, input: 'logits', alpha: 'none' }, 'classes'],
    ['multi-label per image, normalize positives', { task: 'multilabel', labelAxis: 1, perImage: true, normalize: 'positives' }, 'dense'],
  ] as [string, LossOptions, Kind][])('%s: equal to the same batches transposed to labels-last', async (_n, loss, kind) => {
    const r = mulberry32(7);
    const float = loss.dtype === 'float64' ? Float64Array : Float32Array;
    const made = images.map((b) => (kind === 'dense' ? dense(1, { soft: loss.targets === 'soft' })(r, dims(b)) : indexed(1, 4, kind === 'index' ? 4 : 0, kind === 'index' ? -1 : undefined)(r, dims(b))));
    const targetOf = (t: number[]) => (kind === 'dense' ? float.from(t) : BigInt64Array.from(t, BigInt));
    const first = await createEvaluator({ loss, threads: 1, diagnostics: { sweepGamma: [0, 1, 3] } });
    const { labelAxis: _axis, ...lastLoss } = loss;
    const last = await createEvaluator({ loss: lastLoss, threads: 1, diagnostics: { sweepGamma: [0, 1, 3] } });
    for (const [k, m] of made.entries()) {
      await first.add({ pred: float.from(m.pred), target: targetOf(m.target), dims: dims(images[k]) });
      await last.add({ pred: float.from(labelsLast(m.pred, dims(images[k]))), target: targetOf(kind === 'dense' ? labelsLast(m.target, dims(images[k])) : m.target), dims: lastDims(dims(images[k]), loss.task) });
    }
    const a = first.diagnostics();
    expect(a.perClass).toHaveLength(4);
    sameDiagnostics(a, last.diagnostics());
    expect(rel(first.result().loss, last.result().loss)).toBeLessThan(LOSS_TOLERANCE);
    // Each swept value, exactly: separate evaluators on the same batches.
    for (const x of a.gammaSweep) {
      const e = await createEvaluator({ loss: { ...loss, gamma: x.gamma }, threads: 1 });
      for (const [k, m] of made.entries()) await e.add({ pred: float.from(m.pred), target: targetOf(m.target), dims: dims(images[k]) });
      expect([x.gamma, x.loss]).toEqual([x.gamma, e.result().loss]);
      await e.close();
    }
    await Promise.all([first.close(), last.close()]);
  });

  it('per image, labels last ([B, K, L], RetinaNet): the sweep equal to separate evaluators, the sums those of the losses before the division', async () => {
    const r = mulberry32(8);
    const loss: LossOptions = { task: 'multilabel', input: 'logits', eps: 0, targetFormat: 'index', ignoreIndex: -2, normalize: 'positives', perImage: true };
    const batches = [8, 1, 3].map((B) => ({ B, ...indexed(2, 6, 6, -2)(r, [B, 400, 6]) }));
    const add = async (e: Awaited<ReturnType<typeof createEvaluator>>, withLosses = false): Promise<number[]> => {
      const out: number[] = [];
      for (const b of batches) {
        const got = await e.add({ pred: Float32Array.from(b.pred), target: BigInt64Array.from(b.target, BigInt), dims: [b.B, 400, 6] });
        if (withLosses && got) out.push(...Array.from(got.data as Float32Array));
      }
      return out;
    };
    const ev = await createEvaluator({ loss, threads: 1, losses: true, diagnostics: { sweepGamma: [0, 2, 5], sweepAlpha: [0.5] } });
    const losses = await add(ev, true);
    const d = ev.diagnostics();
    // The per-element losses before any division, by label (the index's label positive).
    const sums = new Array<number>(6).fill(0);
    let rows = 0;
    for (const b of batches) {
      b.target.forEach((t, row) => {
        if (t === -2) return;
        for (let l = 0; l < 6; l++) sums[l] += losses[(rows + row) * 6 + l];
      });
      rows += b.target.length;
    }
    d.perClass.forEach((p, l) => expect(rel(p.sum, sums[l])).toBeLessThan(1e-9));
    expect(rel((d.positive?.sum as number) + (d.negative?.sum as number), sums.reduce((x, y) => x + y, 0))).toBeLessThan(1e-9);
    for (const x of [...d.gammaSweep.map((g) => ({ gamma: g.gamma, alpha: 0.25, loss: g.loss })), ...(d.grid ?? [])]) {
      const e = await createEvaluator({ loss: { ...loss, gamma: x.gamma, alpha: x.alpha }, threads: 1 });
      await add(e);
      expect([x.gamma, x.alpha, x.loss]).toEqual([x.gamma, x.alpha, e.result().loss]);
      await e.close();
    }
    await ev.close();
  });
});

describe('diagnostics through --network and the CLI', () => {
  it('a channel-first network [B, C, H, W] per image: per class as its output saved as a file, the sweep equal to separate runs', async () => {
    const shape = [6, 3, 12, 10];
    const g = new Graph({ opset: 18, name: 'identity' });
    g.output(op.identity(g.input('x', 'float32', ['B', ...shape.slice(1)])), 'logits');
    const net = path.join(dir(), 'identity-cf.onnx');
    fs.writeFileSync(net, serializeModel(buildModel(g)));
    const m = dense(1, { logits: true })(mulberry32(4), shape);
    const x = write('float32', shape, m.pred);
    const target = write('float32', shape, m.target);
    const loss: LossOptions = { task: 'multilabel', labelAxis: 1, input: 'logits', normalize: 'positives', perImage: true };
    const common = { network: net, output: 'logits', feeds: { x }, target, batchSize: 720, threads: 1 };
    const r = await evaluateNetwork({ ...common, loss, diagnostics: { sweepGamma: [0, 2, 4] } });
    expect(r.batches).toBeGreaterThan(2);
    const d = r.diagnostics as Diagnostics;
    const files = await evaluate({ pred: x, target, loss, batchSize: 720, threads: 1, diagnostics: { sweepGamma: [0, 2, 4] } });
    sameDiagnostics(d, files.diagnostics as Diagnostics);
    for (const s of d.gammaSweep) {
      const e = await evaluateNetwork({ ...common, loss: { ...loss, gamma: s.gamma } });
      expect([s.gamma, s.loss]).toEqual([s.gamma, e.loss]);
    }
  });

  it('the dense head [B, K, C] per image (torchvision RetinaNet): the sweep equal to separate runs', async () => {
    const net = path.join(__dirname, '..', 'fixtures', 'networks', 'dense-dynamo.onnx');
    const B = 4;
    const fmap = write('float32', [B, 8, 4, 4], Array.from({ length: B * 128 }, (_, i) => Math.sin(i)));
    const t = write('int64', [B, 16], Array.from({ length: B * 16 }, (_, i) => (i % 7 === 0 ? -2 : i % 3 === 0 ? i % 5 : 5)));
    const loss: LossOptions = { task: 'multilabel', input: 'logits', eps: 0, alpha: 0.25, targetFormat: 'index', ignoreIndex: -2, normalize: 'positives', perImage: true };
    const common = { network: net, output: 'cls_logits', feeds: { fmap }, target: t, batchSize: 128, threads: 1 };
    const r = await evaluateNetwork({ ...common, loss, diagnostics: { sweepGamma: [0, 1, 2] } });
    expect([r.images, r.batches]).toEqual([B, 4]);
    const d = r.diagnostics as Diagnostics;
    expect(d.perClass.map((p) => p.count)).toEqual(new Array(5).fill(B * 16 - Math.ceil((B * 16) / 7)));
    for (const s of d.gammaSweep) {
      const e = await evaluateNetwork({ ...common, loss: { ...loss, gamma: s.gamma } });
      expect([s.gamma, s.loss]).toEqual([s.gamma, e.loss]);
    }
  });

  it('a --model exported channel-first (reduction none, [B, C, H, W]): the diagnostics of the loss flags', async () => {
    const shape = [6, 4, 16, 20];
    const m = dense(1)(mulberry32(5), shape);
    const pred = write('float32', shape, m.pred);
    const target = write('float32', shape, m.target);
    const loss: LossOptions = { task: 'multilabel', labelAxis: 1, alpha: 0.25, gamma: 2 };
    const model = path.join(dir(), 'channel-first.onnx');
    fs.writeFileSync(model, buildLoss({ ...loss, reduction: 'none' }, { predShape: ['B', ...shape.slice(1)] }).bytes);
    const common = { pred, target, batchSize: 3000, threads: 1, diagnostics: { sweepGamma: [0, 2, 3] } };
    const fromModel = await evaluate({ ...common, model });
    const fromFlags = await evaluate({ ...common, loss });
    expect(fromModel.batches).toBe(3);
    expect(fromModel.diagnostics).toEqual(fromFlags.diagnostics);
  });

  it('eval --label-axis 1 --per-image --diagnostics --json gives the API’s diagnostics', async () => {
    const shape = [4, 3, 8, 8];
    const m = dense(1)(mulberry32(6), shape);
    const pred = write('float32', shape, m.pred);
    const target = write('float32', shape, m.target);
    const cli = await runCli(['eval', '--task', 'multilabel', '--label-axis', '1', '--per-image', '--pred', pred, '--target', target, '--diagnostics', '--sweep-gamma', '0,3', '--json']);
    expect([cli.code, cli.stderr]).toEqual([0, '']);
    const api = await evaluate({ pred, target, loss: { task: 'multilabel', labelAxis: 1, perImage: true }, diagnostics: { sweepGamma: [0, 3] } });
    const got = JSON.parse(cli.stdout) as { loss: number; diagnostics: Diagnostics };
    expect(got.diagnostics.gammaSweep).toEqual(api.diagnostics?.gammaSweep);
    expect(got.diagnostics.perClass).toEqual(api.diagnostics?.perClass);
  });
});

describe('the CUDA placement check', () => {
  it.each([
    { task: 'multilabel', labelAxis: 1 },
    { task: 'multiclass', labelAxis: 1 },
    { task: 'multilabel', perImage: true, normalize: 'positives' },
    { task: 'multilabel', labelAxis: 1, perImage: true, targetFormat: 'index' },
  ] as LossOptions[])('%j: the evaluator graph with the sweep merged in would run wholly on CUDA', (loss) => {
    const spec = evalSpec(planFromOptions(normalizeOptions({ ...loss, asFunction: false, withGrad: false })), undefined, true, { sweepGamma: [0, 0.5, 3.7], sweepAlpha: [0.5] });
    for (const g of [spec.graph, spec.small]) {
      const report = checkCudaPlacement(g?.bytes as Uint8Array);
      expect(formatPlacement(report)).toEqual([]);
      expect(report.ok).toBe(true);
    }
    // perImage: each swept loss sums its own image-scaled losses.
    const text = Buffer.from(spec.graph.bytes).toString('latin1');
    for (let i = 0; i < 4; i++) expect(text.includes(`focal_sweep${i}_loss_image_scaled`)).toBe(loss.perImage === true);
  });
});
