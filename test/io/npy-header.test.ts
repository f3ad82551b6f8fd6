/** Header parsing and every refusal of readNpyHeader / NpyReader.open. */
import * as fs from 'fs';
import * as path from 'path';
import { DataError, UsageError } from '../../src/errors';
import { NpyReader, readNpyHeader, writeNpy } from '../../src/io/npy';
import { craftNpy, dictText, scratchDir } from './helpers';

const dir = scratchDir();
let n = 0;

/** Writes `bytes` to a new file in the scratch directory and returns its path. */
function put(bytes: Uint8Array | string): string {
  const file = path.join(dir(), `h${n++}.npy`);
  fs.writeFileSync(file, bytes);
  return file;
}

/** The error thrown by readNpyHeader(file), checked to be a DataError naming the file. */
function refusal(file: string): DataError {
  let caught: unknown;
  try {
    readNpyHeader(file);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(DataError);
  const err = caught as DataError;
  expect(err.message.startsWith(`${file}: `)).toBe(true);
  expect(err.message).not.toContain('\n');
  return err;
}

describe('readNpyHeader accepts', () => {
  it('a numpy-style version 1.0 file and reports its layout', () => {
    const file = put(craftNpy(dictText('<f4', '(2, 3)'), new Uint8Array(24)));
    const h = readNpyHeader(file);
    expect(h).toEqual({
      path: file,
      dtype: 'float32',
      descr: '<f4',
      shape: [2, 3],
      count: 6,
      itemSize: 4,
      dataOffset: 10 + dictText('<f4', '(2, 3)').length,
      fileSize: fs.statSync(file).size,
      fortranOrder: false,
      version: '1.0',
    });
  });

  it('versions 2.0 and 3.0 (u32 header length; 3.0 is UTF-8)', () => {
    const v2 = readNpyHeader(put(craftNpy(dictText('<i8', '(3,)'), new Uint8Array(24), { major: 2 })));
    expect([v2.version, v2.dtype, v2.count, v2.dataOffset]).toEqual([
      '2.0',
      'int64',
      3,
      12 + dictText('<i8', '(3,)').length,
    ]);
    const v3 = readNpyHeader(put(craftNpy(dictText('<f2', '()'), new Uint8Array(2), { major: 3 })));
    expect([v3.version, v3.dtype, v3.shape, v3.count]).toEqual(['3.0', 'float16', [], 1]);
  });

  it.each([
    ['()', [], 1],
    ['(0,)', [0], 0],
    ['(3,)', [3], 3],
    ['(2, 3)', [2, 3], 6],
    ['(4,0,2)', [4, 0, 2], 0],
    ['( 5 , )', [5], 5],
    ['(3L,)', [3], 3], // Python 2 era numpy wrote long integers with an L
  ])('shape %s', (tuple, shape, count) => {
    const h = readNpyHeader(put(craftNpy(dictText('|u1', tuple), new Uint8Array(count))));
    expect(h.shape).toEqual(shape);
    expect(h.count).toBe(count);
  });

  it('keys in any order, double quotes, no trailing comma, no newline', () => {
    const text = `{"shape": (2,), "fortran_order": False, "descr": "<f8"}`;
    expect(readNpyHeader(put(craftNpy(text, new Uint8Array(16)))).dtype).toBe('float64');
  });

  it.each([
    ['<f2', 'float16', 2],
    ['<f4', 'float32', 4],
    ['<f8', 'float64', 8],
    ['|i1', 'int8', 1],
    ['|u1', 'uint8', 1],
    ['|b1', 'bool', 1],
    ['<i2', 'int16', 2],
    ['<u2', 'uint16', 2],
    ['<i4', 'int32', 4],
    ['<u4', 'uint32', 4],
    ['<i8', 'int64', 8],
    ['<u8', 'uint64', 8],
    ['<u1', 'uint8', 1], // byte order is meaningless for one-byte types
    ['>i1', 'int8', 1],
  ])('dtype %s', (descr, dtype, itemSize) => {
    const h = readNpyHeader(put(craftNpy(dictText(descr, '(2,)'), new Uint8Array(2 * itemSize))));
    expect([h.dtype, h.itemSize, h.descr]).toEqual([dtype, itemSize, descr]);
  });
});

describe('readNpyHeader refuses', () => {
  it('a missing file or a directory with a UsageError', () => {
    const missing = path.join(dir(), 'nope.npy');
    expect(() => readNpyHeader(missing)).toThrow(UsageError);
    expect(() => readNpyHeader(missing)).toThrow(`${missing}: cannot read: file does not exist`);
    expect(() => readNpyHeader(dir())).toThrow(`${dir()}: is a directory, expected a .npy file`);
  });

  it('a file without the magic', () => {
    expect(refusal(put('hello, world')).message).toMatch(/not a \.npy file: expected the magic .*found "hello,"/);
    expect(refusal(put('')).message).toMatch(/not a \.npy file/);
  });

  it('a zip (.npz) archive', () => {
    expect(refusal(put(Buffer.from('PK\x03\x04rest-of-zip', 'latin1'))).message).toMatch(/zip archive/);
  });

  it('a file that ends inside the fixed prefix', () => {
    expect(refusal(put(Buffer.from('\x93NUMPY\x01\x00', 'latin1'))).message).toMatch(/8 bytes, too short/);
    expect(refusal(put(Buffer.from('\x93NUMPY\x02\x00\x00\x00', 'latin1'))).message).toMatch(
      /10 bytes, too short for a version 2\.0/,
    );
  });

  it('unsupported versions, naming the version found', () => {
    for (const [major, minor] of [
      [4, 0],
      [1, 1],
      [0, 0],
    ]) {
      const bytes = craftNpy(dictText('<f4', '(1,)'), new Uint8Array(4));
      bytes[6] = major;
      bytes[7] = minor;
      expect(refusal(put(bytes)).message).toContain(`unsupported .npy format version ${major}.${minor}`);
    }
  });

  it('an absurd header length (> 1 MiB)', () => {
    const bytes = craftNpy(dictText('<f4', '(1,)'), new Uint8Array(4), { major: 2, headerLength: 1 << 24 });
    expect(refusal(put(bytes)).message).toMatch(/header length 16777216 bytes is implausible/);
  });

  it('a header length beyond the end of the file', () => {
    const bytes = craftNpy(dictText('<f4', '(1,)'), new Uint8Array(0), { headerLength: 500 });
    expect(refusal(put(bytes)).message).toMatch(
      new RegExp(`header length 500 bytes goes past the end of the file \\(${bytes.length} bytes in all\\)`),
    );
  });

  it('a version 3.0 header that is not UTF-8', () => {
    const bytes = craftNpy(dictText('<f4', '(1,)'), new Uint8Array(4), { major: 3 });
    bytes[14] = 0xff; // inside the dict text
    expect(refusal(put(bytes)).message).toMatch(/not valid UTF-8/);
  });

  it.each([
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (3,), ", /at character 56, found the end/],
    ["{'descr' '<f4', 'fortran_order': False, 'shape': (3,), }", /expected ':' at character 9, found "'"/],
    ["{descr: '<f4', 'fortran_order': False, 'shape': (3,), }", /expected a value at character 1, found "d"/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (3,), } x", /expected the end of the header at character 58/],
    ["['descr', '<f4']", /expected '\{' at character 0/],
    ["{'descr': '<\\x66', 'fortran_order': False, 'shape': (3,), }", /escapes are not supported/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (3,,), }", /expected a value at character 53, found ","/],
    ["{3: '<f4', 'fortran_order': False, 'shape': (3,), }", /expected a string key at character 1/],
    ["{'descr': '<f4', 'fortran_order': None, 'shape': (3,), }", /expected a value at character 34, found "N"/],
  ])('a malformed dict: %s', (text, pattern) => {
    const err = refusal(put(craftNpy(text, new Uint8Array(12))));
    expect(err.message).toContain('malformed .npy header');
    expect(err.message).toMatch(pattern);
  });

  it.each([
    ["{'descr': '<f4', 'shape': (3,), }", /lacks the key 'fortran_order'/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1, }", /unexpected key 'extra'/],
    ["{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", /repeats the key 'descr'/],
    ["{'descr': 4, 'fortran_order': False, 'shape': (3,), }", /'descr' must be a string, found 4/],
    ["{'descr': '<f4', 'fortran_order': 0, 'shape': (3,), }", /'fortran_order' must be True or False, found 0/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': [3], }", /'shape' must be a tuple .*found \[3\]/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (3), }", /'shape' must be a tuple .*found 3$/],
    ["{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }", /structured dtypes .* are not supported/],
  ])('a dict with wrong keys or value types: %s', (text, pattern) => {
    expect(refusal(put(craftNpy(text, new Uint8Array(12)))).message).toMatch(pattern);
  });

  it.each(['<c8', '|O', '<U10', '<M8[ns]', '<f16', 'f4', '<q4'])('the unsupported dtype %s', (descr) => {
    const msg = refusal(put(craftNpy(dictText(descr, '(3,)'), new Uint8Array(12)))).message;
    expect(msg).toContain(`unsupported dtype ${JSON.stringify(descr)}`);
    expect(msg).toContain('expected one of <f2 <f4 <f8');
  });

  it('big-endian data, saying little-endian is expected', () => {
    const msg = refusal(put(craftNpy(dictText('>f4', '(3,)'), new Uint8Array(12)))).message;
    expect(msg).toContain("dtype '>f4' is big-endian; expected little-endian '<f4'");
  });

  it('a multi-byte dtype without byte order', () => {
    const msg = refusal(put(craftNpy(dictText('|i4', '(3,)'), new Uint8Array(12)))).message;
    expect(msg).toContain("dtype '|i4' has no explicit byte order; expected little-endian '<i4'");
  });

  it('Fortran order, suggesting np.ascontiguousarray', () => {
    const msg = refusal(put(craftNpy(dictText('<f4', '(2, 3)', 'True'), new Uint8Array(24)))).message;
    expect(msg).toContain('fortran_order is True');
    expect(msg).toContain('shape [2, 3]');
    expect(msg).toContain('np.ascontiguousarray');
  });

  it.each([
    ['(-1,)', /shape entry -1 in \(-1,\) is negative/],
    ['(3, -2)', /shape entry -2 in \(3, -2\) is negative/],
    ['(3.5,)', /shape entry 3\.5 in \(3\.5,\) is not an integer/],
    ['(1e3,)', /shape entry 1e3 .* is not an integer/],
    ["('3',)", /shape entry '3' .* is not an integer/],
    ['(True,)', /shape entry True .* is not an integer/],
    ['(99999999999999999999,)', /shape entry 99999999999999999999 .* is too large/],
    ['(100000000, 100000000, 1000)', /shape \[100000000, 100000000, 1000\] of <f4 describes more than 2\^53 bytes/],
  ])('the shape %s', (tuple, pattern) => {
    expect(refusal(put(craftNpy(dictText('<f4', tuple), new Uint8Array(4)))).message).toMatch(pattern);
  });

  it('a huge claimed shape (10^15 elements) without allocating anything for it', () => {
    const file = put(craftNpy(dictText('<f4', '(1000000000000000,)'), new Uint8Array(12)));
    const msg = refusal(file).message;
    expect(msg).toBe(
      `${file}: header claims 4000000000000000 bytes of data (shape [1000000000000000], <f4) ` +
        'but the file holds 12 bytes after the header (truncated?)',
    );
    // A claim small enough to allocate (800 MB) is refused without allocating it either.
    const big = put(craftNpy(dictText('<f8', '(100000000,)'), new Uint8Array(8)));
    const before = process.memoryUsage().arrayBuffers;
    expect(() => NpyReader.open(big)).toThrow(DataError);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
  });

  it('a truncated file, saying how many bytes the header claims and the file holds', () => {
    const file = path.join(dir(), 'pred.npy');
    writeNpy(file, 'float32', [1000000], new Float32Array(1000000));
    const dataOffset = readNpyHeader(file).dataOffset;
    fs.truncateSync(file, dataOffset + 12);
    expect(refusal(file).message).toBe(
      `${file}: header claims 4000000 bytes of data (shape [1000000], <f4) but the file holds 12 bytes after the header (truncated?)`,
    );
  });

  it('extra trailing bytes', () => {
    const file = put(craftNpy(dictText('<i4', '(2, 2)'), new Uint8Array(19)));
    expect(refusal(file).message).toBe(
      `${file}: header claims 16 bytes of data (shape [2, 2], <i4) but the file holds 19 bytes after the header (3 extra trailing bytes)`,
    );
  });

  it('a dtype the caller does not accept (NpyReader.open)', () => {
    const file = put(craftNpy(dictText('<f8', '(2,)'), new Uint8Array(16)));
    expect(() => NpyReader.open(file, ['float32', 'float16'])).toThrow(DataError);
    expect(() => NpyReader.open(file, ['float32', 'float16'])).toThrow(
      `${file}: expected dtype float32 or float16, found <f8 (float64)`,
    );
    const reader = NpyReader.open(file, ['float64']);
    expect(reader.header.dtype).toBe('float64');
    reader.close();
  });
});
