/**
 * The libraries' own source files (test/fixtures/source-cases.json, scripts/make-source-fixtures.py):
 * MONAI's reduction (sum after the spatial mean, on [N, C], [B, C, H, W] and binary [B, 1, H, W]), smp's per-class
 * normalization (--normalized label), channel-first inputs (labelAxis 1), mmdet's and fvcore's
 * functions — loss and d(loss)/d(pred) of the exported graph on onnxruntime-node, flat and as an
 * `ai.focal` function, float64 and float32; every model passes the static CUDA check.
 */
import { LossDType } from '../../src/losses';
import { checkCudaPlacement } from '../../src/onnx/placement';
import { expectNear } from '../helpers/fixtures';
import { runModel } from '../helpers/ort';
import { SOURCE_CASES, sourceInputs, sourceModel } from '../helpers/source-fixtures';

const flat = (x: number | number[]): number[] => (typeof x === 'number' ? [x] : x);

describe.each(['float64', 'float32'] as LossDType[])('%s graphs against the libraries\' source files', (dtype) => {
  test.each(SOURCE_CASES.map((c) => [`${c.library}: ${c.name}`, c] as const))('%s', async (_name, c) => {
    for (const asFunction of [false, true]) {
      const m = sourceModel(c, dtype, { asFunction });
      const placement = checkCudaPlacement(m.bytes);
      if (!placement.ok) throw new Error(`${c.name}: not wholly on CUDA: ${JSON.stringify(placement.offGpu)}`);
      const out = await runModel(m.bytes, sourceInputs(c, dtype));
      // float64: the library's float64 numbers to rounding; float32 inputs are rounded, and the function form holds γ as a float32 attribute.
      const tol = dtype === 'float32' ? 2e-5 : asFunction ? 2e-6 : 1e-11;
      expectNear(out.loss.data, flat(c.loss), tol, `${c.name} (${dtype}${asFunction ? ', function' : ''}): loss`);
      expectNear(out.grad.data, c.grad, dtype === 'float32' ? 1e-4 : tol, `${c.name} (${dtype}${asFunction ? ', function' : ''}): grad`);
    }
  });
});
