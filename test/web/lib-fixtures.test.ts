/**
 * The golden cases from torchvision, optax and Keras (test/fixtures/lib-cases.json) on
 * onnxruntime-web (WebAssembly, in a worker thread): the flat float64 and float32 graphs give the
 * libraries' loss and autograd gradient within the same tolerances as on onnxruntime-node
 * (test/losses/lib-fixtures.test.ts).
 */
import { LossDType, buildLoss } from '../../src/losses';
import { expectNear } from '../helpers/fixtures';
import { LIB_FIXTURES, flat, libInputs, libTolerance } from '../helpers/lib-fixtures';
import { WebRuntime, startWebRuntime } from './web-runtime';

let web: WebRuntime;
beforeAll(() => {
  web = startWebRuntime();
});
afterAll(async () => {
  await web.close();
});

describe.each(['float64', 'float32'] as LossDType[])('%s graphs on onnxruntime-web against the libraries', (dtype) => {
  it.each(LIB_FIXTURES.cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const m = buildLoss({ ...c.options, dtype, withGrad: true });
    const out = await web.run(m.bytes, libInputs(c, dtype));
    const tol = libTolerance(c, dtype);
    expectNear(out.loss.data, flat(c.loss), tol, `${c.name} (${dtype}, web): loss`);
    expectNear(out.grad.data, flat(c.grad), tol, `${c.name} (${dtype}, web): grad`);
  });
});
