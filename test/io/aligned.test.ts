/**
 * alignedTypedArrayFor (src/io/npy.ts): the page-aligned batch buffers NpyReader.batches reads
 * into — the right typed array, zero-filled, of the asked length, usable by fs reads and by
 * onnxruntime-node without a copy.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { NpyDType, NpyReader, alignedTypedArrayFor, dtypeToTypedArray, writeNpy } from '../../src/io/npy';
import * as ort from 'onnxruntime-node';
import { buildLoss } from '../../src/losses';

describe('alignedTypedArrayFor', () => {
  it.each(Object.keys(dtypeToTypedArray) as NpyDType[])('%s: the dtype’s typed array, zero-filled, at offset 0 of its buffer', (dtype) => {
    for (const length of [0, 1, 1000, 65536 / dtypeToTypedArray[dtype].BYTES_PER_ELEMENT + 1]) {
      const a = alignedTypedArrayFor(dtype, length);
      expect(a).toBeInstanceOf(dtypeToTypedArray[dtype]);
      expect(a.length).toBe(length);
      expect(a.byteOffset).toBe(0);
      expect(Array.from(a as ArrayLike<number | bigint>).every((x) => x === 0 || x === 0n)).toBe(true);
    }
  });

  it('is what NpyReader.batches reads into, and onnxruntime takes it as a tensor', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'focal-aligned-'));
    try {
      const n = 70_000;
      const p = Float32Array.from({ length: n }, (_, i) => ((i * 0.618) % 1) * 0.9 + 0.05);
      const t = Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0));
      writeNpy(path.join(dir, 'p.npy'), 'float32', [n], p);
      writeNpy(path.join(dir, 't.npy'), 'float32', [n], t);
      const pr = NpyReader.open(path.join(dir, 'p.npy'), ['float32']);
      const tr = NpyReader.open(path.join(dir, 't.npy'), ['float32']);
      const pb = await pr.batches(n).next();
      const tb = await tr.batches(n).next();
      pr.close();
      tr.close();
      const pd = pb.value!.data as Float32Array;
      const td = tb.value!.data as Float32Array;
      expect(pd).toEqual(p);
      // The tensors wrap the aligned arrays themselves (no copy), and compute what plain arrays do.
      const session = await ort.InferenceSession.create(buildLoss({ reduction: 'sum' }).bytes);
      try {
        const run = async (a: Float32Array, b: Float32Array): Promise<number> =>
          ((await session.run({ pred: new ort.Tensor('float32', a, [n]), target: new ort.Tensor('float32', b, [n]) })).loss.data as Float32Array)[0];
        expect(await run(pd, td)).toBe(await run(p, t));
      } finally {
        await session.release();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
