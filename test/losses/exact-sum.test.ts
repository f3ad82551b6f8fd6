/**
 * Sums that stay exact (issue 19, item 4): a float32 model's mean / sum over 10^6 elements is within
 * 1e-6 relative of the float64 value — of the same model's float32 elements added in float64 (the
 * accumulation alone) and of the float64 model (elements and sum in float64). The default,
 * accumulate float64, casts the elements up before the ReduceSum; the models keep to CUDA kernels.
 */
import { LossOptions, buildLoss } from '../../src/losses';
import { checkCudaPlacement } from '../../src/onnx/placement';
import { runModel } from '../helpers/ort';

const N = 1_000_000;

/** Deterministic data: probabilities (or logits) and 0/1 targets, 30% positive. */
function data(logits: boolean): { pred: number[]; target: number[] } {
  let s = 19;
  const rnd = (): number => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pred: number[] = new Array(N);
  const target: number[] = new Array(N);
  for (let i = 0; i < N; i++) {
    pred[i] = Math.fround(logits ? 8 * rnd() - 4 : 0.001 + 0.998 * rnd());
    target[i] = rnd() < 0.3 ? 1 : 0;
  }
  return { pred, target };
}

const CASES: [string, LossOptions, number[]][] = [
  ['binary probs mean', { task: 'binary' }, [N]],
  ['multilabel logits sum', { task: 'multilabel', input: 'logits', eps: 0, reduction: 'sum' }, [N / 4, 4]],
  ['multilabel probs mean [B, K, L]', { task: 'multilabel' }, [100, N / 400, 4]],
  ['binary logits normalized mean', { task: 'binary', input: 'logits', eps: 0, normalized: true }, [N]],
];

describe('a float32 graph over 10^6 elements sums within 1e-6 of float64', () => {
  test.each(CASES)('%s', async (_name, options, shape) => {
    const { pred, target } = data(options.input === 'logits');
    const feeds = (dtype: 'float32' | 'float64') => ({ pred: { dtype, dims: shape, data: pred }, target: { dtype, dims: shape, data: target } });
    const m32 = buildLoss({ ...options, dtype: 'float32' }, { predShape: shape });
    expect(m32.options.accumulate).toBe('float64');
    expect(checkCudaPlacement(m32.bytes).ok).toBe(true);
    const got = (await runModel(m32.bytes, feeds('float32'))).loss.data[0];
    const f64 = (await runModel(buildLoss({ ...options, dtype: 'float64' }, { predShape: shape }).bytes, feeds('float64'))).loss.data[0];
    expect(Math.abs(got - f64) / Math.abs(f64)).toBeLessThan(1e-6);
    if (!options.normalized) {
      // The same float32 elements (reduction none), added here in float64: the accumulation alone.
      const els = (await runModel(buildLoss({ ...options, dtype: 'float32', reduction: 'none' }, { predShape: shape }).bytes, feeds('float32'))).loss.data;
      let sum = 0;
      for (const v of els) sum += v;
      const want = options.reduction === 'sum' ? sum : sum / els.length;
      expect(Math.abs(got - want) / Math.abs(want)).toBeLessThan(1e-6);
    }
  });

  it('accumulate float32 keeps the plain float32 ReduceSum (no Cast to float64 in the model)', () => {
    const m = buildLoss({ dtype: 'float32', accumulate: 'float32' });
    const casts = (m.model.graph?.node ?? []).filter((n) => n.opType === 'Cast' && n.attribute?.some((a) => a.name === 'to' && Number(a.i) === 11));
    expect(casts).toHaveLength(0);
    const d = buildLoss({ dtype: 'float32' });
    expect((d.model.graph?.node ?? []).filter((n) => n.opType === 'Cast' && n.attribute?.some((a) => a.name === 'to' && Number(a.i) === 11)).length).toBeGreaterThan(0);
  });
});
