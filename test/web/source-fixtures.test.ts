/**
 * The golden cases from the libraries' own source files (test/fixtures/source-cases.json) on
 * onnxruntime-web (WebAssembly, in a worker thread): MONAI's sum, smp's per-class normalization,
 * channel-first inputs, mmdet, fvcore and kornia — loss and gradient of the flat float64 and
 * float32 graphs within the tolerances of onnxruntime-node (test/losses/source-fixtures.test.ts).
 */
import { LossDType } from '../../src/losses';
import { expectNear } from '../helpers/fixtures';
import { SOURCE_CASES, sourceInputs, sourceModel } from '../helpers/source-fixtures';
import { WebRuntime, startWebRuntime } from './web-runtime';

let web: WebRuntime;
beforeAll(() => {
  web = startWebRuntime();
});
afterAll(async () => {
  await web.close();
});

const flat = (x: number | number[]): number[] => (typeof x === 'number' ? [x] : x);

describe.each(['float64', 'float32'] as LossDType[])('%s graphs on onnxruntime-web against the libraries\' source files', (dtype) => {
  it.each(SOURCE_CASES.map((c) => [`${c.library}: ${c.name}`, c] as const))('%s', async (_name, c) => {
    const m = sourceModel(c, dtype);
    const out = await web.run(m.bytes, sourceInputs(c, dtype));
    const tol = dtype === 'float32' ? 2e-5 : 1e-11;
    expectNear(out.loss.data, flat(c.loss), tol, `${c.name} (${dtype}, web): loss`);
    expectNear(out.grad.data, c.grad, dtype === 'float32' ? 1e-4 : tol, `${c.name} (${dtype}, web): grad`);
  });
});
