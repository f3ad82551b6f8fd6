/**
 * Every golden case from the seed: the graph built for its options, run in onnxruntime-node,
 * equals the seed (float32 within 2e-5, float64 within 1e-9, relative to the case's largest
 * magnitude), and the `onehot` and `arith` forms give the same loss.
 */
import { buildLoss } from '../../src/losses';
import { FIXTURES, FixtureCase, RTOL, caseDims, caseOptions, expectNear } from '../helpers/fixtures';
import { runModel } from '../helpers/ort';
import { recordModel } from '../helpers/record-model';

async function runCase(c: FixtureCase, form: 'arith' | 'onehot'): Promise<number[]> {
  const m = buildLoss(caseOptions(c, { form }));
  recordModel(`fixture-${c.id}-${form}`, m.bytes);
  const dims = caseDims(c);
  const out = await runModel(m.bytes, {
    pred: { dtype: c.dtype, dims: dims.pred, data: c.pred },
    target: { dtype: m.options.targetDtype, dims: dims.target, data: c.target },
  });
  return out.loss.data;
}

describe('golden cases from the seed', () => {
  test('cover every task, input, form and reduction, float32 and float64, opsets 13–21', () => {
    expect(FIXTURES.length).toBeGreaterThanOrEqual(200);
    for (const key of ['task', 'input', 'form', 'reduction', 'dtype', 'opset'] as const) {
      const seen = new Set(FIXTURES.map((c) => c[key]));
      expect(seen.size).toBeGreaterThanOrEqual(key === 'opset' ? 9 : key === 'task' || key === 'reduction' ? 3 : 2);
    }
    expect(FIXTURES.some((c) => c.source === 'seed')).toBe(true);
  });

  test.each(FIXTURES.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const expected = typeof c.loss === 'number' ? [c.loss] : c.loss;
    const got = await runCase(c, c.form);
    expectNear(got, expected, RTOL[c.dtype], `${c.id} (${c.form}, ${c.source})`);
    const other = c.form === 'arith' ? 'onehot' : 'arith';
    expectNear(await runCase(c, other), expected, RTOL[c.dtype], `${c.id} in the ${other} form`);
  });
});
