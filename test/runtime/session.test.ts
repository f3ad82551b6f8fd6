/**
 * Sessions (src/runtime/session.ts): CPU runs with zero-copy host tensors and pre-allocated
 * outputs, option checks, the one-line errors for a model onnxruntime refuses and for CUDA —
 * for real: on a machine without the CUDA provider libraries (the CPU-only npm install, as in CI)
 * `--ep cuda` fails at session creation and `auto` falls back to the CPU with a notice.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { UsageError } from '../../src/errors';
import { buildLoss } from '../../src/losses';
import { CudaUnavailableError, HostTensor, createSession, describeCudaFailure } from '../../src/runtime/session';

/** Whether onnxruntime-node's CUDA provider library is installed next to its binding. */
function cudaProviderInstalled(): boolean {
  const root = path.dirname(require.resolve('onnxruntime-node/package.json'));
  const bin = path.join(root, 'bin');
  const walk = (dir: string): boolean =>
    fs.readdirSync(dir, { withFileTypes: true }).some((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : /providers_cuda/.test(e.name)));
  return fs.existsSync(bin) && walk(bin);
}
const CUDA_MISSING = !cudaProviderInstalled();
const itWithoutCuda = CUDA_MISSING ? it : it.skip;

const f32 = (xs: number[]): HostTensor => ({ dtype: 'float32', dims: [xs.length], data: Float32Array.from(xs) });

describe('createSession on the CPU', () => {
  it('runs a model on host tensors and returns every output', async () => {
    const s = await createSession(buildLoss({ reduction: 'none' }).bytes, { ep: 'cpu', threads: 1 });
    try {
      expect(s.ep).toBe('cpu');
      expect(s.inputNames).toEqual(['pred', 'target']);
      const out = await s.run({ pred: f32([0.9, 0.2]), target: f32([1, 0]) });
      expect(Object.keys(out)).toEqual(['loss']);
      expect(out.loss.dtype).toBe('float32');
      expect(out.loss.dims).toEqual([2]);
      // -α (1-p)^2 log p for p = 0.9, t = 1; -(1-α) p^2 log(1-p) for p = 0.2, t = 0.
      expect(out.loss.data[0]).toBeCloseTo(-0.25 * 0.01 * Math.log(0.9), 7);
      expect(out.loss.data[1]).toBeCloseTo(-0.75 * 0.04 * Math.log(0.8), 7);
    } finally {
      await s.release();
      await s.release(); // idempotent
    }
  });

  it('with spinning off (the file sources), two threads give the same losses', async () => {
    const bytes = buildLoss({ reduction: 'none' }).bytes;
    const p = f32(Array.from({ length: 4096 }, (_, i) => 0.01 + (0.98 * i) / 4096));
    const t = f32(Array.from({ length: 4096 }, (_, i) => i % 2));
    const a = await createSession(bytes, { threads: 2, spinning: false });
    const b = await createSession(bytes, { threads: 2 });
    try {
      expect(Array.from((await a.run({ pred: p, target: t })).loss.data as Float32Array)).toEqual(Array.from((await b.run({ pred: p, target: t })).loss.data as Float32Array));
    } finally {
      await a.release();
      await b.release();
    }
  });

  it('writes into pre-allocated outputs, returning the same array', async () => {
    const s = await createSession(buildLoss({ reduction: 'none' }).bytes);
    try {
      const buffer = new Float32Array(4).fill(-1);
      const into: HostTensor = { dtype: 'float32', dims: [2], data: buffer.subarray(0, 2) };
      const out = await s.run({ pred: f32([0.9, 0.2]), target: f32([1, 0]) }, { loss: into });
      expect(out.loss.data).toBe(into.data);
      expect(buffer[0]).toBeCloseTo(-0.25 * 0.01 * Math.log(0.9), 7);
      expect(buffer[2]).toBe(-1);
    } finally {
      await s.release();
    }
  });

  it('takes int64, bool and float16 tensors as typed arrays', async () => {
    const mc = await createSession(buildLoss({ task: 'multiclass', reduction: 'none' }).bytes);
    const out = await mc.run({ pred: { dtype: 'float32', dims: [1, 2], data: Float32Array.from([0.3, 0.7]) }, target: { dtype: 'int64', dims: [1], data: BigInt64Array.from([1n]) } });
    expect(out.loss.data[0]).toBeCloseTo(-0.25 * 0.09 * Math.log(0.7), 6);
    await mc.release();
    const b = await createSession(buildLoss({ targetDtype: 'bool', dtype: 'float16', reduction: 'none' }).bytes);
    const o2 = await b.run({ pred: { dtype: 'float16', dims: [1], data: Uint16Array.from([0x3800]) }, target: { dtype: 'bool', dims: [1], data: Uint8Array.from([1]) } });
    expect(o2.loss.dtype).toBe('float16');
    expect(o2.loss.data).toBeInstanceOf(Uint16Array);
    await b.release();
  });

  it('loads a model from a file path, and names the file when onnxruntime refuses it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'focal-session-'));
    try {
      const good = path.join(dir, 'm.onnx');
      fs.writeFileSync(good, buildLoss({}).bytes);
      const s = await createSession(good);
      await s.release();
      // Truncated bytes that onnxruntime cannot parse.
      const bad = path.join(dir, 'bad.onnx');
      const bytes = Buffer.from(buildLoss({}).bytes);
      fs.writeFileSync(bad, bytes.subarray(0, bytes.length - 5));
      await expect(createSession(bad)).rejects.toThrow(UsageError);
      await expect(createSession(path.join(dir, 'missing.onnx'))).rejects.toThrow(/missing\.onnx: cannot read: file does not exist/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('checks threads and the optimization level', async () => {
    const bytes = buildLoss({}).bytes;
    await expect(createSession(bytes, { threads: 0 })).rejects.toThrow(/threads must be a positive integer/);
    await expect(createSession(bytes, { graphOptimization: 'max' as never })).rejects.toThrow(/graphOptimization must be one of/);
    for (const level of ['disabled', 'basic', 'extended', 'all'] as const) {
      const s = await createSession(bytes, { graphOptimization: level, threads: 2 });
      await s.release();
    }
    await expect(createSession(bytes, { ep: 'tpu' as never })).rejects.toThrow(/^ep must be one of cpu, cuda, auto, got 'tpu'$/);
  });
});

describe('CUDA', () => {
  itWithoutCuda('--ep cuda without the provider libraries: one line naming npm run setup:cuda', async () => {
    const err = await createSession(buildLoss({}).bytes, { ep: 'cuda' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CudaUnavailableError);
    expect(err).toBeInstanceOf(UsageError);
    const message = (err as Error).message;
    expect(message).toMatch(/^ep cuda: the CUDA execution provider is not installed \(libonnxruntime_providers_cuda\.so could not be loaded\); run 'npm run setup:cuda'/);
    expect(message).toMatch(/or use ep cpu$/);
    expect(message.split('\n')).toHaveLength(1);
  });

  itWithoutCuda('--ep auto falls back to the CPU with a one-line notice', async () => {
    const notices: string[] = [];
    const s = await createSession(buildLoss({}).bytes, { ep: 'auto', onNotice: (m) => notices.push(m) });
    try {
      expect(s.ep).toBe('cpu');
      expect(notices).toEqual(['ep auto: the CUDA execution provider is not installed (libonnxruntime_providers_cuda.so could not be loaded); using the CPU']);
    } finally {
      await s.release();
    }
  });

  it.each([
    ['OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library', /not installed/],
    ['Failed to load library libonnxruntime_providers_cuda.so with error: libcublasLt.so.12: cannot open shared object file', /not installed/],
    ['CUDA failure 100: no CUDA-capable device is detected ; GPU=0', /no usable CUDA device \(CUDA failure 100: no CUDA-capable device is detected ; GPU=0\)/],
  ])('describes %p', (message, expected) => {
    expect(describeCudaFailure(message)?.why).toMatch(expected);
  });

  it('leaves other errors alone', () => {
    expect(describeCudaFailure('Load model from x failed: Protobuf parsing failed')).toBeUndefined();
  });
});
