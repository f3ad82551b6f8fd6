/**
 * A worker thread that runs models in onnxruntime-web (the WebAssembly backend, single-threaded),
 * for test/web/web-runtime.ts.
 *
 * It is a plain Node worker, outside jest's module sandbox: onnxruntime-web's Node build loads its
 * Emscripten module with a dynamic `import()` of dist/ort-wasm-simd-threaded.mjs, which jest's VM
 * refuses without --experimental-vm-modules (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING_FLAG). The
 * .mjs and .wasm files ship in the npm package; nothing is downloaded.
 *
 * Message in:  { id, bytes: Uint8Array, feeds: { name: { type, data: TypedArray, dims } } }
 * Message out: { id, outputs: { name: { type, data: TypedArray, dims } } } or { id, error }
 */
'use strict';
const path = require('path');
const { parentPort } = require('worker_threads');
const ort = require('onnxruntime-web');

ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;
ort.env.wasm.wasmPaths = path.join(path.dirname(require.resolve('onnxruntime-web')), path.sep);
ort.env.logLevel = 'error';

async function run({ bytes, feeds }) {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], logSeverityLevel: 3 });
  try {
    const inputs = {};
    for (const [name, t] of Object.entries(feeds)) inputs[name] = new ort.Tensor(t.type, t.data, t.dims);
    const out = await session.run(inputs);
    const outputs = {};
    for (const name of session.outputNames) {
      const t = out[name];
      outputs[name] = { type: t.type, data: t.data, dims: [...t.dims] };
    }
    return outputs;
  } finally {
    await session.release();
  }
}

parentPort.on('message', (msg) => {
  run(msg).then(
    (outputs) => parentPort.postMessage({ id: msg.id, outputs }),
    (e) => parentPort.postMessage({ id: msg.id, error: String((e && e.message) || e) }),
  );
});
