/**
 * The exported `weighted-mean` graph with every weight 0 (issue 19, item 5): Σ w·l / Σ w is 0, as
 * Keras' divide_no_nan gives (and `eval`), not 0/0 = NaN; its gradient is 0 there, finite. In the
 * flat graph and the function form, float16 / 32 / 64, with and without the terms' gradient path,
 * on onnxruntime-node and in onnx's ReferenceEvaluator (the venv). With weights not all 0 the
 * graph gives Σ w·l / Σ w: the same options' `none` (the weighted elements) and `sum` gradient
 * divided by Σ w over the broadcast weights. The added Where / Equal keep to CUDA kernels.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LossOptions, buildLoss } from '../../src/losses';
import { checkCudaPlacement } from '../../src/onnx/placement';
import { HostTensor, expectClose, runModel } from '../helpers/ort';
import { describePython, runPython } from '../helpers/python';

const N = 6;
const L = 3;

interface Case {
  readonly options: LossOptions;
  /** pred's dims; the weight's are [N] (sample) or pred's (element). */
  readonly dims: number[];
}

const CASES: [string, Case][] = [
  ['keras multilabel, sample weights, grad', { options: { like: 'keras', task: 'multilabel', weight: 'sample', withGrad: true }, dims: [N, L] }],
  ['keras multilabel, sample weights, grad, function', { options: { like: 'keras', task: 'multilabel', weight: 'sample', withGrad: true, asFunction: true }, dims: [N, L] }],
  ['binary probs, element weights, float64, grad', { options: { task: 'binary', weight: 'element', withGrad: true, dtype: 'float64' }, dims: [N] }],
  ['keras multiclass, float16, function, grad', { options: { like: 'keras', task: 'multiclass', weight: 'sample', withGrad: true, asFunction: true, dtype: 'float16' }, dims: [N, L] }],
  ['multilabel logits, element weights, accumulate float32, grad', { options: { task: 'multilabel', input: 'logits', eps: 0, weight: 'element', withGrad: true, accumulate: 'float32' }, dims: [N, L] }],
  ['multiclass index targets, sample weights, grad', { options: { task: 'multiclass', weight: 'sample', withGrad: true }, dims: [N, L] }],
];

function feeds(c: Case, weight: number[]): Record<string, HostTensor> {
  const o = buildLoss({ ...c.options, reduction: 'weighted-mean' }).options;
  const n = c.dims.reduce((a, b) => a * b, 1);
  const logits = o.input === 'logits';
  const pred = Array.from({ length: n }, (_, i) => (logits ? ((i * 7) % 11) / 2 - 2.5 : 0.05 + 0.9 * (((i * 7) % 11) / 10)));
  if (o.task === 'multiclass') {
    // Rows of probabilities.
    for (let r = 0; r < N; r++) {
      const row = pred.slice(r * L, r * L + L);
      const s = row.reduce((a, b) => a + b, 0);
      row.forEach((v, k) => (pred[r * L + k] = v / s));
    }
  }
  // Class indices [N], or one-hot rows for soft multiclass targets; else 0/1 like pred.
  const index = o.task === 'multiclass' && o.targets !== 'soft';
  const target = index ? Array.from({ length: N }, (_, i) => i % L) : Array.from({ length: n }, (_, i) => (o.task === 'multiclass' ? (i % L === Math.floor(i / L) % L ? 1 : 0) : i % 3 === 0 ? 1 : 0));
  const wDims = o.weight === 'sample' ? [N] : c.dims;
  return {
    pred: { dtype: o.dtype, dims: c.dims, data: pred },
    target: { dtype: o.targetDtype, dims: index ? [N] : c.dims, data: target },
    weight: { dtype: o.dtype, dims: wDims, data: weight },
  };
}

const weightCount = (c: Case): number => (c.options.weight === 'sample' ? N : c.dims.reduce((a, b) => a * b, 1));
const zeros = (c: Case): number[] => new Array(weightCount(c)).fill(0);
/** Weights not all 0 (some are), exact in float16. */
const some = (c: Case): number[] => Array.from({ length: weightCount(c) }, (_, i) => [0, 0.5, 2, 1.25, 0, 3][i % 6]);

describe('weighted-mean with every weight 0 gives 0 in the graph itself', () => {
  test.each(CASES)('%s', async (_name, c) => {
    const m = buildLoss({ ...c.options, reduction: 'weighted-mean' }, { predShape: c.dims });
    expect(checkCudaPlacement(m.bytes).ok).toBe(true);
    const out = await runModel(m.bytes, feeds(c, zeros(c)));
    expect(out.loss.data).toEqual([0]);
    expect(out.grad.data.every((g) => g === 0)).toBe(true);
  });

  test.each(CASES)('%s: Σ w·l / Σ w otherwise', async (_name, c) => {
    const w = some(c);
    const f = feeds(c, w);
    const m = buildLoss({ ...c.options, reduction: 'weighted-mean' }, { predShape: c.dims });
    const got = await runModel(m.bytes, f);
    const none = await runModel(buildLoss({ ...c.options, reduction: 'none' }, { predShape: c.dims }).bytes, f);
    const sum = await runModel(buildLoss({ ...c.options, reduction: 'sum' }, { predShape: c.dims }).bytes, f);
    // Σ w over the broadcast weights: a sample weight weighs each of its row's element losses.
    const perWeight = none.loss.data.length / w.length;
    const sw = w.reduce((a, b) => a + b, 0) * perWeight;
    const tol = m.options.dtype === 'float16' ? 4e-3 : m.options.dtype === 'float32' ? 1e-6 : 1e-12;
    expectClose(got.loss.data, [none.loss.data.reduce((a, b) => a + b, 0) / sw], tol, 0);
    expectClose(got.grad.data, sum.grad.data.map((g) => g / sw), tol, tol * 1e-2);
  });
});

describePython('weighted-mean with every weight 0 in onnx ReferenceEvaluator', (python) => {
  it('gives loss 0 and a zero gradient, and Σ w·l / Σ w otherwise as onnxruntime does', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'focal-wmean-'));
    try {
      const jobs: { file: string; feeds: Record<string, HostTensor>; expected: Record<string, number[]> }[] = [];
      for (const [i, [, c]] of CASES.entries()) {
        const m = buildLoss({ ...c.options, reduction: 'weighted-mean' }, { predShape: c.dims });
        const file = path.join(dir, `m${i}.onnx`);
        fs.writeFileSync(file, m.bytes);
        for (const w of [zeros(c), some(c)]) {
          const f = feeds(c, w);
          const out = await runModel(m.bytes, f);
          jobs.push({ file, feeds: f, expected: { loss: out.loss.data, grad: out.grad.data } });
        }
      }
      const script = [
        'import json, sys, numpy as np',
        'from onnx.reference import ReferenceEvaluator',
        "T = {'float16': np.float16, 'float32': np.float32, 'float64': np.float64, 'int64': np.int64, 'int32': np.int32}",
        'for job in json.load(sys.stdin):',
        "    feeds = {k: np.array(v['data'], dtype=T[v['dtype']]).reshape(v['dims']) for k, v in job['feeds'].items()}",
        "    loss, grad = ReferenceEvaluator(job['file']).run(['loss', 'grad'], feeds)",
        "    print(json.dumps({'loss': [float(v) for v in np.ravel(loss)], 'grad': [float(v) for v in np.ravel(grad)]}))",
      ].join('\n');
      const lines = runPython(python, ['-c', script], JSON.stringify(jobs)).trim().split('\n');
      expect(lines).toHaveLength(jobs.length);
      lines.forEach((line, k) => {
        const got = JSON.parse(line) as { loss: number[]; grad: number[] };
        const { expected } = jobs[k];
        if (k % 2 === 0) {
          // Every weight 0.
          expect(got.loss).toEqual([0]);
          expect(got.grad.every((g) => g === 0)).toBe(true);
        } else {
          const tol = jobs[k].feeds.pred.dtype === 'float16' ? 4e-3 : 1e-5;
          expectClose(got.loss, expected.loss, tol, 0);
          expectClose(got.grad, expected.grad, tol, tol * 1e-2);
        }
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
