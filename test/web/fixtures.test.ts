/**
 * Every golden case on onnxruntime-web (WebAssembly, in a worker thread: see ort-web-worker.js),
 * with the gradient: the flat form equals the seed (loss within RTOL, grad within the issue's
 * GRAD_RTOL of PyTorch autograd), and the function form equals the flat form built with
 * float32-rounded parameters (as test/losses/function.test.ts does on onnxruntime-node: float64
 * within 1e-12, float32 within 1e-6).
 */
import { buildLoss } from '../../src/losses';
import { FIXTURES, FixtureCase, GRAD_RTOL, RTOL, caseDims, caseOptions, expectNear, froundOptions } from '../helpers/fixtures';
import { recordModel } from '../helpers/record-model';
import { WebRuntime, startWebRuntime } from './web-runtime';

const FUNCTION_RTOL = { float32: 1e-6, float64: 1e-12 } as const;

let web: WebRuntime;
beforeAll(() => {
  web = startWebRuntime();
});
afterAll(async () => {
  await web.close();
});

async function run(c: FixtureCase, flat: boolean): Promise<{ loss: number[]; grad: number[] }> {
  const options = caseOptions(c, { withGrad: true, asFunction: !flat });
  const m = buildLoss(flat ? froundOptions(options) : options);
  const exact = flat ? buildLoss(options) : undefined;
  if (!flat) recordModel(`web-function-${c.id}`, m.bytes);
  const dims = caseDims(c);
  const inputs = {
    pred: { dtype: c.dtype, dims: dims.pred, data: c.pred },
    target: { dtype: m.options.targetDtype, dims: dims.target, data: c.target },
  };
  if (exact) {
    // The flat form with the case's own parameters: the seed's numbers.
    const out = await web.run(exact.bytes, inputs);
    const expectedLoss = typeof c.loss === 'number' ? [c.loss] : c.loss;
    expectNear(out.loss.data, expectedLoss, RTOL[c.dtype], `${c.id} loss on onnxruntime-web`);
    expectNear(out.grad.data, c.grad, GRAD_RTOL, `${c.id} grad on onnxruntime-web`);
  }
  const out = await web.run(m.bytes, inputs);
  return { loss: out.loss.data, grad: out.grad.data };
}

describe('golden cases on onnxruntime-web, flat and function forms, with grad', () => {
  test.each(FIXTURES.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const flat = await run(c, true);
    const fn = await run(c, false);
    const rtol = FUNCTION_RTOL[c.dtype];
    expectNear(fn.loss, flat.loss, rtol, `${c.id} loss: function vs flat on onnxruntime-web`);
    expectNear(fn.grad, flat.grad, rtol, `${c.id} grad: function vs flat on onnxruntime-web`);
    expectNear(fn.grad, c.grad, GRAD_RTOL, `${c.id} grad of the function form on onnxruntime-web`);
  });
});
