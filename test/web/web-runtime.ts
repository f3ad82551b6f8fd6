/**
 * onnxruntime-web (WebAssembly, from npm) as a second runtime for the tests: `startWebRuntime()`
 * starts a worker thread (ort-web-worker.js, which says why a worker) and `run(bytes, inputs)`
 * runs a model there with the same plain-number inputs and results as `runModel` in
 * test/helpers/ort.ts (onnxruntime-node), so the two compare directly. One session per model.
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import { HostTensor, RunResult } from '../helpers/ort';

type Wire = { type: string; data: ArrayLike<number | bigint>; dims: number[] };

function toWire(t: HostTensor): Wire {
  const dims = [...t.dims];
  switch (t.dtype) {
    case 'float32':
      return { type: 'float32', data: Float32Array.from(t.data), dims };
    case 'float64':
      return { type: 'float64', data: Float64Array.from(t.data), dims };
    case 'int32':
      return { type: 'int32', data: Int32Array.from(t.data), dims };
    case 'int64':
      return { type: 'int64', data: BigInt64Array.from(t.data, (x) => BigInt(x)), dims };
    case 'uint8':
      return { type: 'uint8', data: Uint8Array.from(t.data), dims };
    case 'bool':
      return { type: 'bool', data: Uint8Array.from(t.data, (x) => (x ? 1 : 0)), dims };
    default:
      throw new TypeError(`web runtime: inputs of type ${t.dtype} are not supported by this helper`);
  }
}

export interface WebRuntime {
  run(bytes: Uint8Array, inputs: Readonly<Record<string, HostTensor>>): Promise<Record<string, RunResult>>;
  close(): Promise<void>;
}

export function startWebRuntime(): WebRuntime {
  const worker = new Worker(path.join(__dirname, 'ort-web-worker.js'));
  const pending = new Map<number, { resolve: (r: Record<string, RunResult>) => void; reject: (e: Error) => void }>();
  let next = 0;
  let failure: Error | undefined;
  const fail = (e: Error): void => {
    failure ??= e;
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
  };
  worker.on('message', (msg: { id: number; outputs?: Record<string, Wire>; error?: string }) => {
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error !== undefined || !msg.outputs) {
      p.reject(new Error(`onnxruntime-web: ${msg.error}`));
      return;
    }
    const result: Record<string, RunResult> = {};
    for (const [name, t] of Object.entries(msg.outputs)) {
      result[name] = { dtype: t.type, dims: t.dims, data: Array.from(t.data, (x) => Number(x)) };
    }
    p.resolve(result);
  });
  worker.on('error', (e) => fail(new Error(`onnxruntime-web worker failed: ${e.message}`)));
  worker.on('exit', (code) => fail(new Error(`onnxruntime-web worker exited (code ${code})`)));
  return {
    run(bytes, inputs) {
      if (failure) return Promise.reject(failure);
      const id = next++;
      const feeds: Record<string, Wire> = {};
      for (const [name, t] of Object.entries(inputs)) feeds[name] = toWire(t);
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, bytes, feeds });
      });
    },
    async close() {
      await worker.terminate();
    },
  };
}
