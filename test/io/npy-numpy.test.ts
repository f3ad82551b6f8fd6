/**
 * Compatibility with files numpy itself makes and reads. Skipped, with a note in the test name,
 * when no Python with numpy is available.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DataError } from '../../src/errors';
import { f16ArrayToF32, f32ArrayToF16 } from '../../src/io/float16';
import { NpyDType, NpyTypedArray, NpyWriter, dtypeToDescr, readNpy, typedArrayFor, writeNpy } from '../../src/io/npy';
import { NUMPY_SKIP_NOTE, numpyPython, runNumpy, scratchDir } from './helpers';

const dir = scratchDir();
const describeNumpy = numpyPython !== undefined ? describe : describe.skip;
const title = (name: string): string => (numpyPython !== undefined ? name : `${name} (${NUMPY_SKIP_NOTE})`);

/** Element i of the sample arrays, in both languages: derived from i - 3, cast like numpy casts. */
const PY_SAMPLE = `
import json, sys, numpy as np
def sample(dtype, shape):
    i = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)
    if dtype == 'bool': a = i % 3 == 0
    elif dtype.startswith('float'): a = (i * 0.5 - 3).astype(dtype)
    elif dtype.endswith('64'): a = ((i - 3) * 1000000007).astype(dtype)
    else: a = (i - 3).astype(dtype)
    return a.reshape(shape)
`;

function sample<D extends NpyDType>(dtype: D, count: number): NpyTypedArray<D> {
  const a = typedArrayFor(dtype, count);
  for (let i = 0; i < count; i++) {
    if (a instanceof BigInt64Array || a instanceof BigUint64Array) a[i] = BigInt(i - 3) * 1_000_000_007n;
    else if (dtype === 'float16') a[i] = f32ArrayToF16([i * 0.5 - 3])[0];
    else if (dtype === 'bool') a[i] = i % 3 === 0 ? 1 : 0;
    else (a as Float64Array)[i] = dtype.startsWith('float') ? i * 0.5 - 3 : i - 3;
  }
  return a;
}

const bytesOf = (a: NpyTypedArray): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describeNumpy(title('numpy compatibility'), () => {
  const dtypes = Object.keys(dtypeToDescr) as NpyDType[];
  const shapes: number[][] = [[], [1], [2, 3], [0], [3, 0, 2], [1000], [7, 11, 13], [12345678901, 0], Array(8).fill(1)];
  const cases = dtypes.flatMap((dtype) => shapes.map((shape) => ({ dtype, shape })));
  const numpyFile = (k: number): string => path.join(dir(), `np-${k}.npy`);

  beforeAll(() => {
    const spec = cases.map(({ dtype, shape }, k) => [numpyFile(k), dtype, shape]);
    const save = 'for f, d, s in json.loads(sys.argv[1]): np.save(f, sample(d, tuple(s)))';
    runNumpy(`${PY_SAMPLE}\n${save}`, [JSON.stringify(spec)]);
  });

  it('writeNpy output is byte-identical to np.save, and numpy files read back exactly', () => {
    const mismatches: string[] = [];
    cases.forEach(({ dtype, shape }, k) => {
      const count = shape.reduce((a, b) => a * b, 1);
      const data = sample(dtype, count);
      const ours = path.join(dir(), `ours-${k}.npy`);
      writeNpy(ours, dtype, shape, data);
      if (!fs.readFileSync(ours).equals(fs.readFileSync(numpyFile(k)))) mismatches.push(`write ${dtype} [${shape}]`);
      const { header, data: back } = readNpy(numpyFile(k));
      if (header.dtype !== dtype || header.shape.join() !== shape.join() || !bytesOf(back).equals(bytesOf(data))) {
        mismatches.push(`read ${dtype} [${shape}]`);
      }
    });
    expect(mismatches).toEqual([]);
  });

  it('NpyWriter streamed output is byte-identical to np.save', async () => {
    const k = cases.findIndex((c) => c.dtype === 'float64' && c.shape.join() === '7,11,13');
    const data = sample('float64', 7 * 11 * 13);
    const file = path.join(dir(), 'streamed.npy');
    const w = NpyWriter.create(file, 'float64', [7, 11, 13]);
    for (let i = 0; i < data.length; i += 100) await w.append(data.subarray(i, i + 100));
    await w.commit();
    expect(fs.readFileSync(file).equals(fs.readFileSync(numpyFile(k)))).toBe(true);
  });

  it('reads format versions 2.0 and 3.0 written by numpy', () => {
    const v2 = path.join(dir(), 'v2.npy');
    const v3 = path.join(dir(), 'v3.npy');
    runNumpy(
      `${PY_SAMPLE}\nfor f, v in ((sys.argv[1], (2, 0)), (sys.argv[2], (3, 0))):\n` +
        `    with open(f, 'wb') as fh: np.lib.format.write_array(fh, sample('int32', (4, 5)), version=v)`,
      [v2, v3],
    );
    for (const [file, version] of [
      [v2, '2.0'],
      [v3, '3.0'],
    ]) {
      const { header, data } = readNpy(file, ['int32']);
      expect([header.version, header.shape, header.dataOffset % 64]).toEqual([version, [4, 5], 0]);
      expect(Array.from(data)).toEqual(Array.from(sample('int32', 20)));
    }
  });

  it('refuses numpy Fortran-order and big-endian files', () => {
    const fortran = path.join(dir(), 'fortran.npy');
    const big = path.join(dir(), 'big.npy');
    runNumpy(
      `import sys, numpy as np\nnp.save(sys.argv[1], np.asfortranarray(np.zeros((2, 3), 'f4')))\n` +
        `np.save(sys.argv[2], np.zeros(3, '>f4'))`,
      [fortran, big],
    );
    expect(() => readNpy(fortran)).toThrow(DataError);
    expect(() => readNpy(fortran)).toThrow(/fortran_order is True .* np\.ascontiguousarray/);
    expect(() => readNpy(big)).toThrow(`${big}: dtype '>f4' is big-endian; expected little-endian '<f4'`);
  });

  it('float16 conversions match numpy bit for bit', () => {
    // Random float32 bit patterns (NaNs included) plus every half value, converted by numpy.
    let seed = 99;
    const bits = Uint32Array.from({ length: 100000 }, () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0));
    const floats = new Float32Array(bits.buffer);
    const inFile = path.join(dir(), 'f32bits.npy');
    const halvesFile = path.join(dir(), 'np-halves.npy');
    const allFile = path.join(dir(), 'np-all-halves-as-f32.npy');
    writeNpy(inFile, 'uint32', [bits.length], bits);
    runNumpy(
      `import sys, warnings, numpy as np\nwarnings.simplefilter('ignore')\n` +
        `np.save(sys.argv[2], np.load(sys.argv[1]).view(np.float32).astype(np.float16).view(np.uint16))\n` +
        `np.save(sys.argv[3], np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float32).view(np.uint32))`,
      [inFile, halvesFile, allFile],
    );
    const numpyHalves = readNpy(halvesFile, ['uint16']).data;
    const ours = f32ArrayToF16(floats);
    const diff = Array.from(ours.keys()).filter((i) => ours[i] !== numpyHalves[i]);
    const hex = (x: number): string => `0x${x.toString(16)}`;
    expect(diff.map((i) => `${hex(bits[i])}: ours ${hex(ours[i])}, numpy ${hex(numpyHalves[i])}`)).toEqual([]);

    const allHalves = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const oursF32 = new Uint32Array(f16ArrayToF32(allHalves).buffer);
    expect(bytesOf(oursF32).equals(bytesOf(readNpy(allFile, ['uint32']).data))).toBe(true);
  });
});
