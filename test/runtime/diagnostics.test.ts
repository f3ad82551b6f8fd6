/**
 * Diagnostics (issue 21; src/diagnostics/accumulate.ts) against numpy on the same data: the
 * per-class sums, counts and positives and the positive / negative split against the per-element
 * losses (`out`) summed in float64 by numpy; each CDF against numpy's exact sort (within 0.01 of
 * y, on random and adversarial data: all-equal losses, a few huge ones, zeros); each swept loss
 * against a separate evaluation with that γ / α (within 1e-9 relative). Multi-label, multi-class,
 * binary with soft targets; files (`evaluate`, several batches), `evaluateNetwork` and
 * `createEvaluator` (`ev.diagnostics()`).
 */
import * as fs from 'fs';
import * as path from 'path';
import { LossOptions } from '../../src/losses';
import { CdfCurve, Diagnostics, LossHistogram, lossesComonotone } from '../../src/diagnostics/accumulate';
import { evaluate } from '../../src/runtime/evaluate';
import { evaluateNetwork } from '../../src/runtime/evaluate-network';
import { createEvaluator, evalSpec, planFromOptions } from '../../src/runtime/evaluator';
import { checkCudaPlacement, formatPlacement } from '../../src/onnx/placement';
import { normalizeOptions } from '../../src/losses';
import { scratchDir } from '../helpers/cli';
import { npyFiles } from '../helpers/npy-files';
import { describePython, runPython } from '../helpers/python';
import { mulberry32 } from '../../scripts/prng';

const dir = scratchDir('focal-diag-');
const write = npyFiles(dir, 'd');

/** A small deterministic generator (scripts/prng.ts's mulberry32). */
const rng = mulberry32;

/** numpy's view of the files: per-class sums, the split, and the exact CDF at x = 0, 0.01, …, 1. */
const NUMPY = `
import json, sys
import numpy as np
a = json.loads(sys.argv[1])
l = np.load(a['losses']).astype(np.float64)
t = np.load(a['target'])
task = a['task']
def cdf(v):
    v = np.sort(v.astype(np.float64)); n = len(v); c = np.concatenate([[0.0], np.cumsum(v)]); s = c[-1]
    out = []
    for k in range(101):
        m = k / 100 * n; i = int(np.floor(m)); f = m - i
        y = c[i] + (f * v[i] if i < n else 0.0)
        out.append(y / s if s > 0 else k / 100)
    return out
r = {}
if task == 'multiclass':
    C = a['classes']
    cls = t if t.ndim == 1 else np.argmax(t, axis=1)
    r['perClass'] = [[float(l[cls == c].sum()), int((cls == c).sum())] for c in range(C)]
    r['all'] = cdf(l)
    for g, f in a.get('swept', {}).items():
        r['swept_' + g] = cdf(np.load(f).astype(np.float64))
else:
    L = l.reshape(-1, a['labels'])
    T = t.reshape(-1, a['labels']).astype(np.float64)
    pos = (T >= 0.5)
    keep = T != a['ignore'] if a.get('ignore') is not None else np.ones_like(pos)
    r['perClass'] = [[float(L[:, c][keep[:, c]].sum()), int(keep[:, c].sum()), int(pos[:, c].sum())] for c in range(L.shape[1])]
    lf = l.reshape(-1)[keep.reshape(-1)]; pf = pos.reshape(-1)[keep.reshape(-1)]
    r['positive'] = [float(lf[pf].sum()), int(pf.sum())]
    r['negative'] = [float(lf[~pf].sum()), int((~pf).sum())]
    r['cdfPositive'] = cdf(lf[pf]); r['cdfNegative'] = cdf(lf[~pf])
    for g, f in a.get('swept', {}).items():
        r['swept_' + g] = cdf(np.load(f).astype(np.float64).reshape(-1)[keep.reshape(-1)][~pf])
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
  let worst = 0;
  c.forEach(([x, y], k) => {
    expect(x).toBeCloseTo(k / 100, 12);
    worst = Math.max(worst, Math.abs(y - exact[k]));
  });
  return worst;
}

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

interface Case {
  readonly name: string;
  readonly loss: LossOptions;
  readonly make: (r: () => number) => { dims: number[]; pred: number[]; target: number[]; targetDtype: 'float32' | 'int64' };
}

const N = 6000;
const CASES: Case[] = [
  {
    name: 'multi-label, 0/1 targets',
    loss: { task: 'multilabel', alpha: 0.25, gamma: 2 },
    make: (r) => {
      const L = 7;
      const pred: number[] = [];
      const target: number[] = [];
      for (let i = 0; i < N * L; i++) {
        const t = r() < 0.1 + 0.05 * (i % L) ? 1 : 0;
        target.push(t);
        // Mostly easy: far from the wrong side; some hard.
        const easy = r() < 0.85;
        pred.push(easy ? (t ? 0.7 + 0.3 * r() : 0.3 * r()) : r());
      }
      return { dims: [N, L], pred, target, targetDtype: 'float32' };
    },
  },
  {
    name: 'multi-class, class indices',
    loss: { task: 'multiclass', alpha: 'none', gamma: 2 },
    make: (r) => {
      const C = 6;
      const pred: number[] = [];
      const target: number[] = [];
      for (let n = 0; n < N; n++) {
        const c = Math.floor(r() * C);
        target.push(c);
        const row = Array.from({ length: C }, (_, k) => (k === c ? 1 + 6 * r() : r()));
        const s = row.reduce((a, b) => a + b, 0);
        pred.push(...row.map((x) => x / s));
      }
      return { dims: [N, C], pred, target, targetDtype: 'int64' };
    },
  },
  {
    name: 'binary, soft targets',
    loss: { task: 'binary', targets: 'soft', alpha: 0.25, gamma: 2 },
    make: (r) => {
      const pred: number[] = [];
      const target: number[] = [];
      for (let i = 0; i < N * 3; i++) {
        const t = r() < 0.2 ? 0.6 + 0.4 * r() : 0.3 * r();
        target.push(t);
        pred.push(r() < 0.8 ? Math.min(1, Math.max(0, t + 0.1 * (r() - 0.5))) : r());
      }
      return { dims: [N * 3], pred, target, targetDtype: 'float32' };
    },
  },
  {
    // One set of bins for every γ (diagnostics.ts's SharedBins), the key the γ = 0 loss: logits out
    // to ±60, where the γ = 2 and 5 losses of the easiest elements are 0 in float32 but γ = 0's are not.
    name: 'binary, logits, 0/1 targets, saturated',
    loss: { task: 'binary', input: 'logits', eps: 0, alpha: 0.25, gamma: 2 },
    make: (r) => {
      const pred: number[] = [];
      const target: number[] = [];
      for (let i = 0; i < N * 3; i++) {
        const t = r() < 0.3 ? 1 : 0;
        target.push(t);
        const margin = r() < 0.5 ? 60 * r() : 4 * (r() - 0.3);
        pred.push(t ? margin : -margin);
      }
      return { dims: [N * 3], pred, target, targetDtype: 'float32' };
    },
  },
  {
    // The shared bins with the positives flagged in JS (an ignore value).
    name: 'multi-label, 0/1 targets and ignore -1',
    loss: { task: 'multilabel', alpha: 0.4, gamma: 1, ignoreIndex: -1 },
    make: (r) => {
      const L = 5;
      const pred: number[] = [];
      const target: number[] = [];
      for (let i = 0; i < N * L; i++) {
        const u = r();
        target.push(u < 0.05 ? -1 : u < 0.25 ? 1 : 0);
        pred.push(r() ** 3);
      }
      return { dims: [N, L], pred, target, targetDtype: 'float32' };
    },
  },
  {
    name: 'binary, adversarial: all-equal negatives, a few huge positive losses, zeros',
    loss: { task: 'binary', alpha: 0.25, gamma: 2 },
    make: (r) => {
      const pred: number[] = [];
      const target: number[] = [];
      for (let i = 0; i < N * 3; i++) {
        const pos = i % 10 === 0;
        target.push(pos ? 1 : 0);
        // Negatives all 0.3 (equal losses); positives: p = 1 (loss 0) but 1 in 200 at 1e-6 (huge).
        pred.push(pos ? (i % 2000 === 0 ? 1e-6 : 1) : 0.3);
      }
      void r;
      return { dims: [N * 3], pred, target, targetDtype: 'float32' };
    },
  },
];

describePython('diagnostics against numpy', (python) => {
  describe.each(CASES)('$name', (c) => {
    let d: Diagnostics;
    let loss: number;
    let data: ReturnType<Case['make']>;
    let files: { pred: string; target: string; losses: string };
    const batchSize = 4096; // several batches, the last shorter
    const swept: Record<string, string> = {};

    beforeAll(async () => {
      data = c.make(rng(21));
      const tag = c.name.replace(/\W+/g, '-');
      files = {
        pred: write('float32', data.dims, data.pred, `${tag}-p.npy`),
        target: write(data.targetDtype, c.loss.task === 'multiclass' ? [data.dims[0]] : data.dims, data.target, `${tag}-t.npy`),
        losses: path.join(dir(), `${tag}-l.npy`),
      };
      const r = await evaluate({ pred: files.pred, target: files.target, loss: c.loss, out: files.losses, batchSize, threads: 1, diagnostics: { sweepAlpha: [0.1, 0.5] } });
      expect(r.batches).toBeGreaterThan(2);
      d = r.diagnostics as Diagnostics;
      loss = r.loss;
      for (const g of [0, 5]) {
        swept[String(g)] = path.join(dir(), `${tag}-l${g}.npy`);
        await evaluate({ pred: files.pred, target: files.target, loss: { ...c.loss, gamma: g }, out: swept[String(g)], batchSize, threads: 1 });
      }
    });

    it('per-class sums, counts and positives, and the split, equal numpy on the per-element losses', () => {
      const task = c.loss.task as string;
      const ref = numpy(python, { losses: files.losses, target: files.target, task, labels: task === 'binary' ? 1 : data.dims[1], classes: data.dims[1], ignore: c.loss.ignoreIndex });
      const perClass = ref.perClass as number[][];
      expect(d.perClass.length).toBe(perClass.length);
      d.perClass.forEach((p, k) => {
        expect(p.index).toBe(k);
        expect(rel(p.sum, perClass[k][0])).toBeLessThan(1e-12);
        expect(p.count).toBe(perClass[k][1]);
        expect(p.positives).toBe(task === 'multiclass' ? perClass[k][1] : perClass[k][2]);
      });
      if (task === 'multiclass') {
        expect(d.positive).toBeUndefined();
        expect(cdfError(d.cdf.all as CdfCurve, ref.all as number[])).toBeLessThan(0.01);
      } else {
        const [ps, pc] = ref.positive as number[];
        const [ns, nc] = ref.negative as number[];
        expect(d.positive?.count).toBe(pc);
        expect(d.negative?.count).toBe(nc);
        expect(rel(d.positive?.sum as number, ps)).toBeLessThan(1e-12);
        expect(rel(d.negative?.sum as number, ns)).toBeLessThan(1e-12);
        // The total of every element is the evaluated loss's sum (mean × count).
        expect(rel((d.positive?.sum as number) + (d.negative?.sum as number), loss * (pc + nc))).toBeLessThan(1e-6);
        expect(cdfError(d.cdf.positive as CdfCurve, ref.cdfPositive as number[])).toBeLessThan(0.01);
        expect(cdfError(d.cdf.negative as CdfCurve, ref.cdfNegative as number[])).toBeLessThan(0.01);
      }
    });

    it("the negatives' (multi-class: every) CDF at each swept γ is within 0.01 of numpy's exact sort", () => {
      const task = c.loss.task as string;
      const ref = numpy(python, { losses: files.losses, target: files.target, task, labels: task === 'binary' ? 1 : data.dims[1], classes: data.dims[1], swept, ignore: c.loss.ignoreIndex });
      expect(d.cdfByGamma.map((x) => x.gamma)).toEqual([0, 0.5, 1, 2, 5]);
      for (const g of [0, 5]) {
        const curve = d.cdfByGamma.find((x) => x.gamma === g)?.curve as CdfCurve;
        expect(cdfError(curve, ref[`swept_${g}`] as number[])).toBeLessThan(0.01);
      }
    });

    it('each swept value equals a separate evaluation with that γ / α', async () => {
      expect(d.gammaSweep.map((x) => x.gamma)).toEqual([0, 0.5, 1, 2, 5]);
      expect(d.gammaSweep.find((x) => x.gamma === c.loss.gamma)?.loss).toBe(loss);
      const grid = d.grid as { gamma: number; alpha: number; loss: number }[];
      expect(grid.length).toBe(10);
      const check = [...d.gammaSweep.map((x) => ({ gamma: x.gamma, alpha: c.loss.alpha, loss: x.loss })), ...grid.filter((x) => x.gamma === 0 || x.gamma === 5)];
      for (const x of check) {
        const r = await evaluate({ pred: files.pred, target: files.target, loss: { ...c.loss, gamma: x.gamma, alpha: x.alpha }, batchSize, threads: 1 });
        expect(rel(x.loss, r.loss)).toBeLessThanOrEqual(1e-9);
      }
      for (const a of d.alphaSweep ?? []) {
        const r = await evaluate({ pred: files.pred, target: files.target, loss: { ...c.loss, alpha: a.alpha }, batchSize, threads: 1 });
        expect(rel(a.loss, r.loss)).toBeLessThanOrEqual(1e-9);
      }
    });
  });
});

describe('diagnostics on every source', () => {
  it('createEvaluator: ev.diagnostics() and result().diagnostics, the sweep equal to separate evaluators', async () => {
    const r = rng(5);
    const pred = Float32Array.from({ length: 12000 }, () => r());
    const target = Float32Array.from({ length: 12000 }, () => (r() < 0.3 ? 1 : 0));
    const ev = await createEvaluator({ loss: { task: 'multilabel' }, threads: 1, diagnostics: { sweepGamma: [0, 1] } });
    // A big batch and a small one (the small-batch graph carries the sweep too).
    await ev.add({ pred: pred.subarray(0, 8000), target: target.subarray(0, 8000), dims: [2000, 4] });
    await ev.add({ pred: pred.subarray(8000, 10000), target: target.subarray(8000, 10000), dims: [500, 4] });
    await ev.add({ pred: pred.subarray(10000), target: target.subarray(10000), dims: [500, 4] });
    const d = ev.diagnostics();
    expect(ev.result().diagnostics).toEqual(d);
    expect(d.perClass.map((p) => p.count)).toEqual([3000, 3000, 3000, 3000]);
    for (const g of [0, 1]) {
      const e2 = await createEvaluator({ loss: { task: 'multilabel', gamma: g }, threads: 1 });
      await e2.add({ pred: pred.subarray(0, 8000), target: target.subarray(0, 8000), dims: [2000, 4] });
      await e2.add({ pred: pred.subarray(8000, 10000), target: target.subarray(8000, 10000), dims: [500, 4] });
      await e2.add({ pred: pred.subarray(10000), target: target.subarray(10000), dims: [500, 4] });
      expect(rel(d.gammaSweep.find((x) => x.gamma === g)?.loss as number, e2.result().loss)).toBeLessThanOrEqual(1e-9);
      await e2.close();
    }
    await ev.close();
    const plain = await createEvaluator({ loss: { task: 'multilabel' } });
    expect(() => plain.diagnostics()).toThrow(/create the evaluator with diagnostics: true/);
    expect(plain.result().diagnostics).toBeUndefined();
    await plain.close();
  });

  it.each([
    { task: 'multilabel', normalized: true },
    { task: 'multilabel', weight: 'sample', reduction: 'weighted-mean' },
    { task: 'multilabel', normalize: 'positives', ignoreIndex: -1 },
    { task: 'multilabel', labelMean: true },
    { task: 'multilabel', dtype: 'float64' },
    { task: 'multilabel', normalized: 'label' },
    { task: 'multilabel', normalized: 'label', ignoreIndex: -1 },
  ] as LossOptions[])('the sweep with the other options kept (%j) equals separate evaluators', async (loss) => {
    const r = rng(9);
    const [N, L] = [2000, 3];
    const conv = (a: Float32Array) => (loss.dtype === 'float64' ? Float64Array.from(a) : a);
    const b = {
      pred: conv(Float32Array.from({ length: N * L }, () => r())),
      target: conv(Float32Array.from({ length: N * L }, () => (r() < 0.2 ? 1 : 0))),
      dims: [N, L],
      ...(loss.weight ? { weight: Float32Array.from({ length: N }, () => 2 * r()) } : {}),
    };
    const ev = await createEvaluator({ loss, threads: 1, diagnostics: { sweepGamma: [0, 1, 2] } });
    await ev.add(b);
    await ev.add(b);
    const d = ev.diagnostics();
    expect(Object.keys(d.cdf)).toEqual(loss.labelMean ? ['all'] : ['positive', 'negative']);
    expect(d.perClass).toHaveLength(loss.labelMean ? 1 : L);
    for (const g of [0, 1]) {
      const e2 = await createEvaluator({ loss: { ...loss, gamma: g }, threads: 1 });
      await e2.add(b);
      await e2.add(b);
      expect(rel(d.gammaSweep.find((x) => x.gamma === g)?.loss as number, e2.result().loss)).toBeLessThanOrEqual(1e-9);
      await e2.close();
    }
    await ev.close();
    if (loss.normalized) {
      // The per-class sums are of the losses before any normalization: those of the loss without it.
      const plain = await createEvaluator({ loss: { ...loss, normalized: false }, threads: 1, diagnostics: { sweepGamma: [0, 1, 2] } });
      await plain.add(b);
      await plain.add(b);
      const p = plain.diagnostics();
      d.perClass.forEach((c, l) => {
        expect(rel(c.sum, p.perClass[l].sum)).toBeLessThan(1e-12);
        expect([c.count, c.positives]).toEqual([p.perClass[l].count, p.perClass[l].positives]);
      });
      expect(d.cdf).toEqual(p.cdf);
      expect(d.cdfByGamma).toEqual(p.cdfByGamma);
      // …and the normalized loss is not the plain one (the sweep above is what normalizes).
      expect(rel(d.gammaSweep[0].loss, p.gammaSweep[0].loss)).toBeGreaterThan(1e-3);
      await plain.close();
    }
  });

  it("files with normalized 'label' (smp's per-class normalization): the sweep equal to separate evaluations, over several batches", async () => {
    const r = rng(12);
    const [N, L] = [30000, 4];
    const pred = write('float32', [N, L], Array.from({ length: N * L }, () => r()), 'norm-label-p.npy');
    const target = write('float32', [N, L], Array.from({ length: N * L }, (_, i) => (r() < 0.1 + 0.1 * (i % L) ? 1 : 0)), 'norm-label-t.npy');
    const loss: LossOptions = { task: 'multilabel', normalized: 'label' };
    const common = { pred, target, batchSize: 40000, threads: 1 };
    const d = (await evaluate({ ...common, loss, diagnostics: { sweepGamma: [0, 0.5, 2, 3.5] } })).diagnostics as Diagnostics;
    for (const x of d.gammaSweep) {
      const s = await evaluate({ ...common, loss: { ...loss, gamma: x.gamma } });
      expect(s.batches).toBeGreaterThan(2);
      expect(rel(x.loss, s.loss)).toBeLessThanOrEqual(1e-9);
    }
  });

  it('evaluateNetwork: the loss of a network, its sweep equal to separate runs', async () => {
    const net = path.join(__dirname, '..', 'fixtures', 'networks');
    const common = { network: path.join(net, 'cnn-dynamo.onnx'), output: 'logits', feeds: { images: path.join(net, 'cnn-images.npy') }, target: path.join(net, 'cnn-labels.npy'), batchSize: 3 * 768, threads: 1 };
    const loss: LossOptions = { task: 'multiclass', input: 'logits', alpha: 'none', gamma: 2 };
    const r = await evaluateNetwork({ ...common, loss, diagnostics: { sweepGamma: [0, 2, 3] } });
    const d = r.diagnostics as Diagnostics;
    expect(d.perClass.reduce((a, p) => a + p.count, 0)).toBe(64);
    expect(rel(d.perClass.reduce((a, p) => a + p.sum, 0), r.sum)).toBeLessThan(1e-6);
    expect(d.gammaSweep.find((x) => x.gamma === 2)?.loss).toBe(r.loss);
    for (const g of [0, 3]) {
      const s = await evaluateNetwork({ ...common, loss: { ...loss, gamma: g } });
      expect(rel(d.gammaSweep.find((x) => x.gamma === g)?.loss as number, s.loss)).toBeLessThanOrEqual(1e-9);
    }
  });

  it('a model that reduces each batch cannot give them: one line naming it', async () => {
    const p = write('float32', [4], [0.1, 0.2, 0.3, 0.4]);
    const t = write('float32', [4], [0, 1, 0, 1]);
    const model = path.join(dir(), 'mean.onnx');
    const { buildLoss } = await import('../../src/losses');
    fs.writeFileSync(model, buildLoss({ reduction: 'mean' }).bytes);
    await expect(evaluate({ pred: p, target: t, model, diagnostics: true })).rejects.toThrow(/diagnostics need the per-element losses, but .*mean\.onnx has reduction mean/);
  });

  it('bad sweep lists are refused, naming the option', async () => {
    await expect(createEvaluator({ diagnostics: { sweepGamma: [-1] } })).rejects.toThrow('sweepGamma must be a non-empty list of finite numbers >= 0, got [-1]');
    await expect(createEvaluator({ diagnostics: { sweepAlpha: [2] } })).rejects.toThrow('sweepAlpha must be a non-empty list of numbers in [0, 1], got [2]');
  });
});

describe('the CUDA placement check', () => {
  it.each(['binary', 'multilabel', 'multiclass'] as const)('%s: the evaluator graph with the sweep merged in would run wholly on CUDA', (task) => {
    // γ 0.5 and 5 are products and a Sqrt (src/onnx/math.ts's powByProducts), 3.7 a Pow.
    const spec = evalSpec(planFromOptions(normalizeOptions({ task, asFunction: false, withGrad: false })), undefined, true, { sweepGamma: [0, 0.5, 1, 3.7, 5], sweepAlpha: [0.5] });
    for (const g of [spec.graph, spec.small]) {
      const report = checkCudaPlacement(g?.bytes as Uint8Array);
      expect(formatPlacement(report)).toEqual([]);
      expect(report.ok).toBe(true);
      for (const op of ['Pow', 'Sqrt']) expect(report.nodes.some((n) => n.opType === op)).toBe(true);
    }
  });
});

describe('LossHistogram', () => {
  it('an empty or all-zero histogram gives the diagonal; one element, a line to (1, 1)', () => {
    const h = new LossHistogram();
    expect(h.curve(3)).toEqual([[0, 0], [0.5, 0.5], [1, 1]]);
    h.counts[100] = 1;
    h.sums[100] = 2;
    expect(h.curve(3)).toEqual([[0, 0], [0.5, 0.5], [1, 1]]);
  });
});

describe('lossesComonotone', () => {
  it('one set of bins where every γ orders a group alike; a histogram a loss where weights, soft targets or per-label factors break that', () => {
    const yes: LossOptions[] = [{}, { task: 'multilabel', input: 'logits', eps: 0 }, { task: 'multilabel', ignoreIndex: -1, posWeight: 2, alpha: 'none' }, { task: 'multilabel', targetFormat: 'index' }];
    const no: LossOptions[] = [
      { targets: 'soft' },
      { labelSmoothing: 0.1 },
      { weight: 'element' },
      { task: 'multilabel', alpha: [0.25, 0.5] },
      { task: 'multilabel', classWeight: [1, 2] },
      { task: 'multilabel', labelMean: true },
      { task: 'multiclass' },
      { reducedThreshold: 0.5 },
      { dtype: 'float64' },
    ];
    for (const o of yes) expect([o, lossesComonotone(normalizeOptions(o))]).toEqual([o, true]);
    for (const o of no) expect([o, lossesComonotone(normalizeOptions(o))]).toEqual([o, false]);
  });
});
