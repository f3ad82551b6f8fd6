/**
 * A second runtime: every model in models/ (which must be what `npm run export-models` writes) and a matrix of exports — task × input × form
 * (arith, onehot) × flat / function × opset 13–21 × float32 / float64, each with the `grad`
 * output — run on onnxruntime-web (WebAssembly, single-threaded, in a worker thread: see
 * ort-web-worker.js) and on onnxruntime-node, and give the same numbers: within 1e-6 relative to
 * the largest magnitude of each output. Every matrix model is recorded (test/helpers/record-model.ts)
 * so CI runs the official ONNX checker over those of opset ≤ 17.
 *
 * α, γ, eps and the reduction rotate through the matrix so that each runs with several; the inputs
 * are small and fixed. The two runtimes share their kernels' source but not their builds (x64 with
 * AVX vs WebAssembly SIMD), so float32 results differ in the last bits: measured at most 1.4e-7 here
 * (float64: 4e-16). Inputs far out in the tails can do worse; test/web/fixtures.test.ts checks web
 * against the seed on the golden cases, which include them.
 */
import * as fs from 'fs';
import * as path from 'path';
import { LossOptions, buildLoss, optionsFromMetadata } from '../../src/losses';
import { DEFAULT_MODELS, modelsReadme } from '../../src/models';
import { decodeModel } from '../../src/onnx';
import { expectNear } from '../helpers/fixtures';
import { HostTensor, runModel } from '../helpers/ort';
import { recordModel } from '../helpers/record-model';
import { WebRuntime, startWebRuntime } from './web-runtime';

/** web vs node, relative to the largest magnitude of the output. */
const PARITY_RTOL = 1e-6;
const MODELS_DIR = path.join(__dirname, '..', '..', 'models');

let web: WebRuntime;
beforeAll(() => {
  web = startWebRuntime();
});
afterAll(async () => {
  await web.close();
});

async function expectParity(bytes: Uint8Array, inputs: Record<string, HostTensor>, what: string): Promise<void> {
  const [a, b] = await Promise.all([web.run(bytes, inputs), runModel(bytes, inputs)]);
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  for (const name of Object.keys(b)) {
    expect(a[name].dims).toEqual(b[name].dims);
    expect(a[name].data.every(Number.isFinite)).toBe(true);
    expectNear(a[name].data, b[name].data, PARITY_RTOL, `${what}: ${name} on onnxruntime-web vs onnxruntime-node`);
  }
}

it('reports a model onnxruntime-web refuses as an error (not a hang)', async () => {
  await expect(web.run(new Uint8Array([8, 1, 18, 0]), {})).rejects.toThrow(/onnxruntime-web/);
  // The worker is still there for the next model.
  const m = buildLoss({});
  const out = await web.run(m.bytes, inputsFor('binary', 'probs', 'float32', 'float32', shapesFor('binary')));
  expect(out.loss.data).toHaveLength(1);
});

// ---- inputs ------------------------------------------------------------------------------------------

const N = 5;
const COLS = 3;

/** Deterministic values in (0, 1) and logits in (−6, 6), spread out, a few near the ends. */
const unit = (i: number): number => [0.03, 0.42, 0.91, 0.6, 0.0005, 0.77, 0.25, 0.999, 0.5, 0.12, 0.68, 0.35, 0.86, 0.07, 0.95][i % 15];
const logit = (i: number): number => [-2.3, 0.4, 5.1, -0.7, 1.9, -5.8, 0.05, 3.3, -1.4, 2.6, -3.9, 0.9, -0.2, 4.4, -2.9][i % 15];

function inputsFor(task: string, input: string, dtype: 'float32' | 'float64', targetDtype: string, dims: { pred: number[]; target: number[] }): Record<string, HostTensor> {
  const size = dims.pred.reduce((a, b) => a * b, 1);
  let pred = Array.from({ length: size }, (_, i) => (input === 'logits' ? logit(i) : unit(i)));
  if (task === 'multiclass' && input === 'probs') {
    // Rows of probabilities that sum to 1.
    const c = dims.pred[1];
    pred = pred.map((v, i) => {
      const row = pred.slice(Math.floor(i / c) * c, Math.floor(i / c) * c + c);
      return v / row.reduce((a, b) => a + b, 0);
    });
  }
  const n = dims.target.reduce((a, b) => a * b, 1);
  const target = Array.from({ length: n }, (_, i) => (task === 'multiclass' ? (i * 2) % dims.pred[1] : [1, 0, 0, 1, 1, 0, 1][i % 7]));
  return {
    pred: { dtype, dims: dims.pred, data: pred },
    target: { dtype: targetDtype as HostTensor['dtype'], dims: dims.target, data: target },
  };
}

function shapesFor(task: string): { pred: number[]; target: number[] } {
  if (task === 'binary') return { pred: [N], target: [N] };
  if (task === 'multilabel') return { pred: [N, COLS], target: [N, COLS] };
  return { pred: [N, COLS], target: [N] };
}

// ---- models/ ---------------------------------------------------------------------------------------

describe('every model in models/', () => {
  const files = fs.existsSync(MODELS_DIR) ? fs.readdirSync(MODELS_DIR).filter((f) => f.endsWith('.onnx')).sort() : [];

  it('are what npm run export-models writes, byte for byte (src/models.ts)', () => {
    expect(files).toEqual(DEFAULT_MODELS.map((e) => e.file).sort());
    for (const e of DEFAULT_MODELS) {
      const bytes = new Uint8Array(fs.readFileSync(path.join(MODELS_DIR, e.file)));
      expect(Buffer.from(bytes).equals(Buffer.from(buildLoss(e.options).bytes))).toBe(true);
    }
    expect(fs.readFileSync(path.join(MODELS_DIR, 'README.md'), 'utf8')).toBe(modelsReadme());
  });

  it.each(files)('%s', async (file) => {
    const bytes = new Uint8Array(fs.readFileSync(path.join(MODELS_DIR, file)));
    const d = decodeModel(bytes);
    const o = optionsFromMetadata(d.metadata, d.opsets['']);
    if (!o) throw new Error(`${file}: no focal.* metadata`);
    if (o.dtype === 'float16') return; // the helper feeds float32 / float64
    await expectParity(bytes, inputsFor(o.task, o.input, o.dtype, o.targetDtype, shapesFor(o.task)), file);
  });
});

// ---- the export matrix -----------------------------------------------------------------------------

const PARAMS: readonly LossOptions[] = [
  { alpha: 0.25, gamma: 2, reduction: 'mean', eps: 1e-4 },
  { alpha: [0.2, 0.5, 0.9], gamma: 0.5, reduction: 'sum', eps: 1e-3 },
  { alpha: 'none', gamma: 0, reduction: 'none', eps: 0 },
  { alpha: 0.75, gamma: 1.7, reduction: 'mean', eps: 1e-7 },
  { alpha: [0.6, 0.1, 0.3], gamma: 1, reduction: 'none', eps: 1e-4 },
];

interface MatrixEntry {
  readonly name: string;
  readonly options: LossOptions;
}

function matrix(): MatrixEntry[] {
  const out: MatrixEntry[] = [];
  let k = 0;
  for (const task of ['binary', 'multilabel', 'multiclass'] as const) {
    for (const input of ['probs', 'logits'] as const) {
      for (const form of ['arith', 'onehot'] as const) {
        for (const asFunction of [false, true]) {
          for (let opset = 13; opset <= 21; opset++) {
            for (const dtype of ['float32', 'float64'] as const) {
              const p = PARAMS[k++ % PARAMS.length];
              // A per-label list needs multilabel / multiclass; binary takes its first entry.
              const alpha = Array.isArray(p.alpha) && task === 'binary' ? p.alpha[0] : p.alpha;
              const options: LossOptions = { ...p, alpha, task, input, form, asFunction, opset, dtype, withGrad: true };
              const name = `${task}-${input}-${form}${asFunction ? '-function' : ''}-opset${opset}-${dtype}`;
              out.push({ name, options });
            }
          }
        }
      }
    }
  }
  return out;
}

describe('the export matrix on both runtimes (with grad)', () => {
  const entries = matrix();

  it('covers 3 tasks × 2 inputs × 2 forms × flat / function × 9 opsets × 2 dtypes', () => {
    expect(entries).toHaveLength(3 * 2 * 2 * 2 * 9 * 2);
  });

  it.each(entries.map((e) => [e.name, e] as const))('%s', async (name, e) => {
    const m = buildLoss(e.options);
    recordModel(`web-matrix-${name}`, m.bytes);
    const o = m.options;
    await expectParity(m.bytes, inputsFor(o.task, o.input, o.dtype as 'float32' | 'float64', o.targetDtype, shapesFor(o.task)), name);
  });
});
