/**
 * Small `.npy` files for tests, written into a scratch directory: `npyFiles(dir)` returns a
 * writer of `values` (numbers) as `dtype` (int64 through BigInt, float16 through its bits) and
 * `shape`, each call a new file; it returns the path.
 */
import * as path from 'path';
import { f32ToF16Bits } from '../../src/io/float16';
import { NpyDType, NpyTypedArray, typedArrayFor, writeNpy } from '../../src/io/npy';

export function npyFiles(dir: () => string, prefix = 'a'): (dtype: NpyDType, shape: number[], values: ArrayLike<number>, name?: string) => string {
  let serial = 0;
  return (dtype, shape, values, name) => {
    const file = path.join(dir(), name ?? `${prefix}${serial++}.npy`);
    const data = typedArrayFor(dtype, values.length);
    for (let i = 0; i < values.length; i++) {
      if (dtype === 'int64') (data as BigInt64Array)[i] = BigInt(values[i]);
      else if (dtype === 'float16') (data as Uint16Array)[i] = f32ToF16Bits(values[i]);
      else (data as Float32Array)[i] = values[i];
    }
    writeNpy(file, dtype, shape, data as NpyTypedArray);
    return file;
  };
}
