/**
 * The detection and segmentation conventions (src/losses/terms.ts, presets.ts) against
 * test/fixtures/detection-cases.json: the own source files of mmdet 3.x, detectron2, fvcore, smp
 * 0.5.0 and kornia (each case names its file and commit; MONAI's are in source-cases.json) and
 * focal-onnx's own formula where no library has the combination, all run through PyTorch autograd
 * in float64 (scripts/make-detection-fixtures.py --sources DIR). Every case: the loss and d(loss)/d(pred), flat
 * and as an `ai.focal` function, both forms where the case does not fix one; every model passes the
 * static CUDA check.
 */
import { LossOptions, buildLoss } from '../../src/losses';
import { checkCudaPlacement } from '../../src/onnx/placement';
import { HostTensor, runModel } from '../helpers/ort';
import { recordModel } from '../helpers/record-model';
import { DETECTION_CASES, DetectionCase } from '../helpers/detection-fixtures';

function near(got: readonly number[], want: readonly number[], rtol: number, what: string): void {
  expect(got.length).toBe(want.length);
  const scale = Math.max(1e-300, ...want.map(Math.abs));
  const worst = Math.max(0, ...got.map((g, i) => Math.abs(g - want[i]) / scale));
  if (!(worst <= rtol)) throw new Error(`${what}: off by ${worst.toExponential(2)} relative to the largest (allowed ${rtol}); got ${got.slice(0, 6)}, want ${want.slice(0, 6)}`);
}

async function run(c: DetectionCase, extra: LossOptions): Promise<{ loss: number[]; grad: number[] }> {
  const dtype = c.options.dtype ?? 'float64';
  const m = buildLoss({ dtype, ...c.options, withGrad: true, ...extra });
  recordModel(`detection-${c.name.replace(/\W+/g, '-')}-${m.options.form}${m.options.asFunction ? '-fn' : ''}`, m.bytes);
  const placement = checkCudaPlacement(m.bytes);
  if (!placement.ok) throw new Error(`${c.name}: not wholly on CUDA: ${JSON.stringify(placement.offGpu)}`);
  const feeds: Record<string, HostTensor> = {
    pred: { dtype: m.options.dtype, dims: c.predShape, data: c.pred },
    target: { dtype: m.options.targetDtype, dims: c.targetShape, data: c.target },
  };
  if (c.normalizer !== undefined) feeds.normalizer = { dtype: m.options.dtype, dims: [], data: [c.normalizer] };
  if (c.weight !== undefined) feeds.weight = { dtype: m.options.dtype, dims: [c.weight.length], data: c.weight };
  const out = await runModel(m.bytes, feeds);
  return { loss: out.loss.data, grad: out.grad.data };
}

describe('detection and segmentation fixtures (library references and the formula)', () => {
  test.each(DETECTION_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const f32 = c.options.dtype === 'float32';
    const rtol = f32 ? 2e-5 : 1e-10;
    const want = typeof c.loss === 'number' ? [c.loss] : c.loss;
    const forms = c.options.form ? [c.options.form] : (['arith', 'onehot'] as const);
    for (const form of forms) {
      for (const asFunction of [false, true]) {
        const got = await run(c, { form, asFunction });
        // The function form holds its float attributes (γ, thresholds) as float32.
        const r = asFunction ? Math.max(rtol, 2e-6) : rtol;
        near(got.loss, want, r, `${c.name} loss (${form}${asFunction ? ', function' : ''})`);
        near(got.grad, c.grad, f32 || asFunction ? Math.max(r, 2e-6) : 1e-9, `${c.name} grad (${form}${asFunction ? ', function' : ''})`);
      }
    }
  });
});
