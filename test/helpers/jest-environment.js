/**
 * Jest's node environment runs tests in a separate realm, whose typed-array classes differ from
 * the ones onnxruntime-node's native backend creates, so onnxruntime's `instanceof` checks fail
 * ("A float64 tensor's data must be type of function Float64Array()"). This environment hands the
 * test realm the outer realm's typed arrays and Buffer.
 */
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView', 'Buffer',
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array',
  'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

class SharedTypedArraysEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = SharedTypedArraysEnvironment;
