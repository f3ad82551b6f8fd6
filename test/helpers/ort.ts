/**
 * Runs model bytes in onnxruntime-node (CPU) on plain-number inputs, for tests.
 *
 * Inputs and outputs are described as `{ dtype, dims, data }` with `data` as numbers: int64 goes
 * through `BigInt64Array`, bool through `Uint8Array`, float16 through `Uint16Array` raw bits
 * (converted here, so tests compare plain numbers; `bits` keeps the raw float16 bits).
 */
import * as ort from 'onnxruntime-node';
import { DType } from '../../src/onnx';
import { f16BitsToF32, f32ToF16Bits } from '../../src/io/float16';

export interface HostTensor {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: readonly number[];
}

export interface RunResult {
  readonly dtype: string;
  readonly dims: number[];
  readonly data: number[];
  /** Raw float16 bits when the output is float16. */
  readonly bits?: number[];
}

export function toOrtTensor(t: HostTensor): ort.Tensor {
  const dims = [...t.dims];
  switch (t.dtype) {
    case 'float16':
      return new ort.Tensor('float16', Uint16Array.from(t.data, (x) => f32ToF16Bits(x)), dims);
    case 'float32':
      return new ort.Tensor('float32', Float32Array.from(t.data), dims);
    case 'float64':
      return new ort.Tensor('float64', Float64Array.from(t.data), dims);
    case 'int8':
      return new ort.Tensor('int8', Int8Array.from(t.data), dims);
    case 'int32':
      return new ort.Tensor('int32', Int32Array.from(t.data), dims);
    case 'int64':
      return new ort.Tensor('int64', BigInt64Array.from(t.data, (x) => BigInt(x)), dims);
    case 'uint8':
      return new ort.Tensor('uint8', Uint8Array.from(t.data), dims);
    case 'bool':
      return new ort.Tensor('bool', Uint8Array.from(t.data, (x) => (x ? 1 : 0)), dims);
  }
}

export function fromOrtTensor(t: ort.Tensor): RunResult {
  const dims = [...t.dims];
  const raw = t.data as ArrayLike<number | bigint>;
  if (t.type === 'float16') {
    const bits = Array.from(raw as Uint16Array);
    return { dtype: 'float16', dims, data: bits.map(f16BitsToF32), bits };
  }
  const data = Array.from(raw, (x) => Number(x));
  return { dtype: t.type === 'float64' ? 'float64' : t.type === 'float32' ? 'float32' : t.type, dims, data };
}

/** Loads `bytes` into a CPU session, feeds `inputs` and returns every output by name. */
export async function runModel(
  bytes: Uint8Array,
  inputs: Readonly<Record<string, HostTensor>>,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<Record<string, RunResult>> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], logSeverityLevel: 3, ...options });
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(inputs)) feeds[name] = toOrtTensor(t);
    const out = await session.run(feeds);
    const result: Record<string, RunResult> = {};
    for (const name of session.outputNames) result[name] = fromOrtTensor(out[name]);
    return result;
  } finally {
    await session.release();
  }
}

/** Asserts |actual - expected| <= atol + rtol * |expected| elementwise (NaN only matches NaN). */
export function expectClose(actual: readonly number[], expected: readonly number[], rtol = 1e-5, atol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  const bad: string[] = [];
  expected.forEach((e, i) => {
    const a = actual[i];
    const ok = Number.isNaN(e) ? Number.isNaN(a) : a === e || Math.abs(a - e) <= atol + rtol * Math.abs(e);
    if (!ok) bad.push(`[${i}] got ${a}, expected ${e}`);
  });
  if (bad.length) throw new Error(`values differ:\n  ${bad.slice(0, 10).join('\n  ')}\nactual:   [${actual.join(', ')}]\nexpected: [${expected.join(', ')}]`);
}
