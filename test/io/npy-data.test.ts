/** Writing and reading data: round trips, header layout, NpyReader, batches, NpyWriter. */
import * as fs from 'fs';
import * as path from 'path';
import fsModule = require('fs');
import { DataError, UsageError } from '../../src/errors';
import { liveTempFiles } from '../../src/io/atomic';
import { f32ArrayToF16 } from '../../src/io/float16';
import {
  NpyBatch,
  NpyDType,
  NpyReader,
  NpyTypedArray,
  NpyWriter,
  dtypeToDescr,
  dtypeToTypedArray,
  npyHeaderBytes,
  readNpy,
  readNpyHeader,
  typedArrayFor,
  writeNpy,
} from '../../src/io/npy';
import { scratchDir, tempFilesIn } from './helpers';

const dir = scratchDir();
let n = 0;
const fresh = (name = 'a.npy'): string => path.join(dir(), `${n++}-${name}`);

const ALL_DTYPES = Object.keys(dtypeToDescr) as NpyDType[];

/** `count` distinctive elements of `dtype`: element i is derived from i - 3. */
function sample<D extends NpyDType>(dtype: D, count: number): NpyTypedArray<D> {
  const a = typedArrayFor(dtype, count);
  for (let i = 0; i < count; i++) {
    if (a instanceof BigInt64Array || a instanceof BigUint64Array) {
      a[i] = BigInt(i - 3) * 1_000_000_007n; // wraps to uint64 in a BigUint64Array
    } else if (dtype === 'float16') {
      a[i] = f32ArrayToF16([i * 0.5 - 3])[0];
    } else if (dtype === 'bool') {
      a[i] = i % 3 === 0 ? 1 : 0;
    } else {
      (a as Float64Array)[i] = dtype.startsWith('float') ? i * 0.5 - 3 : i - 3; // ints wrap
    }
  }
  return a;
}

function bytes(a: NpyTypedArray): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

describe('writeNpy / readNpy round trips', () => {
  const shapes: number[][] = [[], [1], [2, 3], [0], [3, 0, 2]];
  for (const dtype of ALL_DTYPES) {
    it.each(shapes.map((s) => [JSON.stringify(s), s] as const))(`${dtype} shape %s`, (_, shape) => {
      const count = shape.reduce((a, b) => a * b, 1);
      const file = fresh();
      const data = sample(dtype, count);
      writeNpy(file, dtype, shape, data);
      const { header, data: back } = readNpy(file);
      expect(header).toMatchObject({ dtype, shape, count, descr: dtypeToDescr[dtype], version: '1.0' });
      expect(back).toBeInstanceOf(dtypeToTypedArray[dtype]);
      expect(bytes(back).equals(bytes(data))).toBe(true);
      expect(header.dataOffset % 64).toBe(0);
      expect(fs.statSync(file).size).toBe(header.dataOffset + count * header.itemSize);
      expect(tempFilesIn(dir())).toEqual([]);
    });
  }

  it('readNpy narrows by accepted dtypes and refuses others', () => {
    const file = fresh();
    writeNpy(file, 'int32', [2], new Int32Array([7, -7]));
    const { data } = readNpy(file, ['int32']);
    expect(Array.from(data)).toEqual([7, -7]);
    expect(() => readNpy(file, ['float32'])).toThrow(DataError);
  });

  it('writeNpy refuses data of the wrong type or length, writing nothing', () => {
    const file = fresh();
    expect(() => writeNpy(file, 'float32', [3], new Float32Array(2))).toThrow(
      `${file}: shape [3] holds 3 elements, data has 2`,
    );
    expect(() => writeNpy(file, 'float32', [2], new Float64Array(2) as unknown as Float32Array)).toThrow(TypeError);
    expect(() => writeNpy(file, 'float32', [-1], new Float32Array(0))).toThrow(RangeError);
    expect(fs.existsSync(file)).toBe(false);
  });
});

describe('header layout', () => {
  function headerText(dtype: NpyDType, shape: number[]): string {
    return Buffer.from(npyHeaderBytes(dtype, shape)).toString('latin1');
  }

  it('matches numpy for float32 (3,)', () => {
    const h = npyHeaderBytes('float32', [3]);
    expect(h.length).toBe(128);
    expect(Array.from(h.subarray(0, 10))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 118, 0]);
    const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
    // numpy: the dict, 21 - len('3') spare spaces for growth, padding spaces, '\n'.
    expect(headerText('float32', [3]).slice(10)).toBe(dict + ' '.repeat(118 - dict.length - 1) + '\n');
  });

  it.each([
    [[], "'shape': (), }"],
    [[2, 3], "'shape': (2, 3), }"],
    [[7, 11, 13], "'shape': (7, 11, 13), }"],
    [[0], "'shape': (0,), }"],
  ])('writes the shape %j as a Python tuple', (shape, fragment) => {
    expect(headerText('bool', shape)).toContain(fragment);
    expect(headerText('bool', shape)).toContain("'descr': '|b1'");
  });

  it('always ends in a newline at a multiple of 64 bytes, with numpy growth spaces', () => {
    const firsts = [0, ...Array.from({ length: 15 }, (_, i) => Number('9'.repeat(i + 1))), Number.MAX_SAFE_INTEGER];
    for (const first of firsts) {
      for (const rest of [[], [1], [0, 345]]) {
        const digits = String(first).length;
        const text = headerText('uint8', [first, ...rest]);
        expect(text.length % 64).toBe(0);
        expect(text.endsWith('\n')).toBe(true);
        const dictEnd = text.indexOf('}') + 1;
        // At least the growth spaces (21 - digits) follow the dict; numpy pads a full 64 if aligned.
        expect(text.slice(dictEnd, -1)).toMatch(new RegExp(`^ {${21 - digits},${21 - digits + 64}}$`));
        expect(Buffer.from(text, 'latin1').readUInt16LE(8)).toBe(text.length - 10);
      }
    }
  });

  it('is read back as written', () => {
    const file = fresh();
    writeNpy(file, 'uint16', [4, 1], new Uint16Array(4));
    const raw = fs.readFileSync(file);
    expect(raw.subarray(0, readNpyHeader(file).dataOffset).equals(Buffer.from(npyHeaderBytes('uint16', [4, 1])))).toBe(
      true,
    );
  });
});

describe('NpyReader', () => {
  const COUNT = 1000;
  let file = '';
  beforeAll(() => {
    file = fresh('f8.npy');
    writeNpy(file, 'float64', [COUNT], Float64Array.from({ length: COUNT }, (_, i) => i * 1.25));
  });
  const expected = (first: number, count: number): number[] =>
    Array.from({ length: count }, (_, i) => (first + i) * 1.25);

  it('readInto at offsets across any boundary equals the corresponding slice', async () => {
    const reader = NpyReader.open(file, ['float64']);
    try {
      for (const [first, count] of [
        [0, 1],
        [0, COUNT],
        [1, 7],
        [511, 2],
        [999, 1],
        [123, 456],
        [COUNT, 0],
      ]) {
        const dst = new Float64Array(count);
        expect(await reader.readInto(dst, first, count)).toBe(count);
        expect(Array.from(dst)).toEqual(expected(first, count));
        const dstSync = new Float64Array(count);
        expect(reader.readIntoSync(dstSync, first)).toBe(count);
        expect(Array.from(dstSync)).toEqual(expected(first, count));
      }
    } finally {
      reader.close();
    }
  });

  it('reads straight into a view at a byte offset, touching nothing else', async () => {
    const reader = NpyReader.open(file, ['float64']);
    const backing = new Float64Array(10).fill(-1);
    const view = backing.subarray(3, 8);
    await reader.readInto(view, 100, 4);
    expect(Array.from(backing)).toEqual([-1, -1, -1, ...expected(100, 4), -1, -1, -1]);
    reader.close();
  });

  it('reads int64 into BigInt64Array and float16 bits into Uint16Array', async () => {
    for (const dtype of ['int64', 'float16', 'bool'] as const) {
      const f = fresh();
      const data = sample(dtype, 50);
      writeNpy(f, dtype, [5, 10], data);
      const reader = NpyReader.open(f, [dtype]);
      const dst = typedArrayFor(dtype, 20);
      await reader.readInto(dst, 17, 20);
      expect(bytes(dst).equals(bytes(data.subarray(17, 37) as NpyTypedArray))).toBe(true);
      reader.close();
    }
  });

  it('refuses misuse: wrong array type, out-of-range elements, a short array, use after close', async () => {
    const reader = NpyReader.open(file);
    expect(() => reader.readIntoSync(new Float32Array(4), 0)).toThrow(TypeError);
    expect(() => reader.readIntoSync(new Float64Array(4), COUNT - 3)).toThrow(RangeError);
    expect(() => reader.readIntoSync(new Float64Array(4), -1)).toThrow(RangeError);
    expect(() => reader.readIntoSync(new Float64Array(4), 0, 5)).toThrow(RangeError);
    await expect(reader.readInto(new Float64Array(4), 0.5)).rejects.toThrow(RangeError);
    reader.close();
    reader.close(); // idempotent
    expect(() => reader.readIntoSync(new Float64Array(1), 0)).toThrow(`${file}: read after close`);
  });

  it('reports a file that shrank after opening as a DataError', async () => {
    const f = fresh('shrinks.npy');
    writeNpy(f, 'float32', [100], new Float32Array(100));
    const reader = NpyReader.open(f);
    fs.truncateSync(f, reader.header.dataOffset + 80);
    const dst = new Float32Array(20);
    await expect(reader.readInto(dst, 0)).resolves.toBe(20); // still there
    const offset = reader.header.dataOffset;
    await expect(reader.readInto(dst, 5)).rejects.toThrow(
      `${f}: file ended at byte ${offset + 80} but its header promised ${offset + 400} bytes; it changed after it was opened`,
    );
    expect(() => reader.readIntoSync(dst, 80)).toThrow(DataError);
    reader.close();
  });
});

describe('NpyReader.batches', () => {
  async function collect<D extends NpyDType>(
    it: AsyncGenerator<NpyBatch<D>>,
  ): Promise<{ starts: number[]; lengths: number[]; joined: number[] }> {
    const starts: number[] = [];
    const lengths: number[] = [];
    const joined: number[] = [];
    for await (const b of it) {
      starts.push(b.start);
      lengths.push(b.data.length);
      joined.push(...Array.from(b.data as Float32Array));
    }
    return { starts, lengths, joined };
  }

  const COUNT = 1003;
  let file = '';
  const whole = Float32Array.from({ length: COUNT }, (_, i) => i + 0.5);
  beforeAll(() => {
    file = fresh('b.npy');
    writeNpy(file, 'float32', [COUNT], whole);
  });

  it('covers a file that is not a multiple of the batch size, in order', async () => {
    const reader = NpyReader.open(file, ['float32']);
    const r = await collect(reader.batches(100));
    expect(r.starts).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    expect(r.lengths).toEqual([...Array(10).fill(100), 3]);
    expect(r.joined).toEqual(Array.from(whole));
    reader.close();
  });

  it('yields one batch when it is larger than the file, and none for an empty file', async () => {
    const reader = NpyReader.open(file);
    const r = await collect(reader.batches(1 << 20));
    expect(r.lengths).toEqual([COUNT]);
    expect(r.joined).toEqual(Array.from(whole));
    reader.close();
    const empty = fresh();
    writeNpy(empty, 'float32', [0, 4], new Float32Array(0));
    const er = NpyReader.open(empty);
    expect((await collect(er.batches(10))).lengths).toEqual([]);
    er.close();
  });

  it('alternates two buffers; a batch stays valid while the next one is read (overlap pattern)', async () => {
    const reader = NpyReader.open(file, ['float32']);
    const it = reader.batches(64);
    const seen: ArrayBufferLike[] = [];
    let cur = await it.next();
    while (!cur.done) {
      const batch = cur.value;
      const next = it.next(); // starts reading the following batch
      const want = Array.from(whole.subarray(batch.start, batch.start + batch.data.length));
      expect(Array.from(batch.data)).toEqual(want);
      cur = await next;
      // The following batch went into the other buffer: this one is still intact.
      expect(Array.from(batch.data)).toEqual(want);
      seen.push(batch.data.buffer);
    }
    expect(seen.length).toBe(16);
    expect(new Set(seen).size).toBe(2);
    for (let k = 2; k < seen.length; k++) expect(seen[k]).toBe(seen[k - 2]);
    reader.close();
  });

  it('uses caller-provided buffers and checks them', async () => {
    const reader = NpyReader.open(file, ['float32']);
    const pool = [new Float32Array(500), new Float32Array(600)] as const;
    const buffers: ArrayBufferLike[] = [];
    const joined: number[] = [];
    for await (const b of reader.batches(500, pool)) {
      buffers.push(b.data.buffer);
      joined.push(...Array.from(b.data));
    }
    expect(buffers).toEqual([pool[0].buffer, pool[1].buffer, pool[0].buffer]);
    expect(joined).toEqual(Array.from(whole));
    await expect(reader.batches(500, [new Float32Array(499), new Float32Array(500)]).next()).rejects.toThrow(
      RangeError,
    );
    await expect(reader.batches(0).next()).rejects.toThrow(RangeError);
    reader.close();
  });

  it('works for 8-byte integers', async () => {
    const f = fresh();
    const data = sample('int64', 77);
    writeNpy(f, 'int64', [7, 11], data);
    const reader = NpyReader.open(f, ['int64']);
    const parts: bigint[] = [];
    for await (const b of reader.batches(10)) parts.push(...Array.from(b.data));
    expect(parts).toEqual(Array.from(data));
    reader.close();
  });
});

describe('NpyWriter', () => {
  it('streams appends (sync, async and concurrent) and commits atomically', async () => {
    const file = fresh('out.npy');
    const w = NpyWriter.create(file, 'float32', [4, 5]);
    expect(liveTempFiles().length).toBeGreaterThan(0);
    expect(tempFilesIn(dir()).length).toBe(1);
    expect(fs.existsSync(file)).toBe(false);
    const all = Float32Array.from({ length: 20 }, (_, i) => i / 4);
    w.appendSync(all.subarray(0, 3));
    await w.append(all.subarray(3, 8));
    await Promise.all([w.append(all.subarray(8, 9)), w.append(all.subarray(9, 15)), w.append(all.subarray(15))]);
    expect(w.elementsWritten).toBe(20);
    await w.commit();
    expect(tempFilesIn(dir())).toEqual([]);
    expect(liveTempFiles()).toEqual([]);
    const twin = fresh('twin.npy');
    writeNpy(twin, 'float32', [4, 5], all);
    expect(fs.readFileSync(file).equals(fs.readFileSync(twin))).toBe(true);
    w.abort(); // no-op after a commit
    expect(fs.existsSync(file)).toBe(true);
    await expect(w.commit()).rejects.toThrow(`${file}: cannot commit: the writer is committed`);
  });

  it('commits appends still in flight', async () => {
    const file = fresh();
    const w = NpyWriter.create(file, 'int8', [300]);
    const pending = [0, 1, 2].map((k) => w.append(Int8Array.from({ length: 100 }, (_, i) => k * 100 + i)));
    await w.commit();
    await Promise.all(pending);
    expect(Array.from(readNpy(file, ['int8']).data)).toEqual(Array.from(Int8Array.from({ length: 300 }, (_, i) => i)));
  });

  it('abort removes the temporary file and leaves an existing destination untouched', async () => {
    const file = fresh('keep.npy');
    fs.writeFileSync(file, 'previous contents');
    const w = NpyWriter.create(file, 'uint8', [10]);
    await w.append(new Uint8Array(4));
    w.abort();
    w.abort(); // idempotent
    expect(fs.readFileSync(file, 'utf8')).toBe('previous contents');
    expect(tempFilesIn(dir())).toEqual([]);
    expect(liveTempFiles()).toEqual([]);
    expect(() => w.appendSync(new Uint8Array(1))).toThrow(`${file}: cannot append: the writer is aborted`);
    await expect(w.commit()).rejects.toThrow('the writer is aborted');
  });

  it('abort with appends in flight leaves no temporary file', async () => {
    const file = fresh();
    const w = NpyWriter.create(file, 'float64', [1 << 16]);
    const pending = w.append(new Float64Array(1 << 16));
    w.abort();
    await pending;
    expect(tempFilesIn(dir())).toEqual([]);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('refuses a commit with fewer elements than declared, removing the temporary file', async () => {
    const file = fresh('short.npy');
    fs.writeFileSync(file, 'old');
    const w = NpyWriter.create(file, 'float32', [2, 3]);
    w.appendSync(new Float32Array(5));
    await expect(w.commit()).rejects.toThrow(`${file}: commit after 5 of the 6 elements of shape [2, 3]`);
    expect(tempFilesIn(dir())).toEqual([]);
    expect(fs.readFileSync(file, 'utf8')).toBe('old');
  });

  it('refuses appending past the declared count, removing the temporary file', async () => {
    const file = fresh();
    const w = NpyWriter.create(file, 'float32', [4]);
    w.appendSync(new Float32Array(3));
    expect(() => w.appendSync(new Float32Array(2))).toThrow(
      `${file}: appending 2 elements after 3 exceeds the 4 of shape [4]`,
    );
    expect(tempFilesIn(dir())).toEqual([]);
    await expect(w.append(new Float32Array(1))).rejects.toThrow('the writer is aborted');
    expect(fs.existsSync(file)).toBe(false);
  });

  it('a failed rename at commit removes the temporary file and reports a UsageError', async () => {
    const file = fresh('denied.npy');
    const w = NpyWriter.create(file, 'uint8', [2]);
    await w.append(new Uint8Array([1, 2]));
    const eacces = Object.assign(new Error('EACCES: permission denied, rename'), { code: 'EACCES' });
    const spy = jest.spyOn(fsModule, 'renameSync').mockImplementation(() => {
      throw eacces;
    });
    try {
      await expect(w.commit()).rejects.toThrow(new UsageError(`${file}: cannot write: permission denied`));
    } finally {
      spy.mockRestore();
    }
    expect(tempFilesIn(dir())).toEqual([]);
    expect(liveTempFiles()).toEqual([]);
    expect(fs.existsSync(file)).toBe(false);
    await expect(w.commit()).rejects.toThrow('the writer is aborted');
  });

  it('refuses data of the wrong typed array', () => {
    const w = NpyWriter.create(fresh(), 'float16', [2]);
    expect(() => w.appendSync(new Float32Array(2) as unknown as Uint16Array)).toThrow(TypeError);
    w.abort();
  });

  it('reports a missing directory or a directory in the way as a UsageError before writing', () => {
    const missing = path.join(dir(), 'no-such-dir', 'out.npy');
    expect(() => NpyWriter.create(missing, 'float32', [1])).toThrow(UsageError);
    expect(() => NpyWriter.create(missing, 'float32', [1])).toThrow(
      `${missing}: cannot write: directory ${JSON.stringify(path.dirname(missing))} does not exist`,
    );
    expect(() => NpyWriter.create(dir(), 'float32', [1])).toThrow(`${dir()}: cannot write: is a directory`);
    expect(tempFilesIn(dir())).toEqual([]);
  });
});
