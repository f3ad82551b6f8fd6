/**
 * Reading and writing numpy `.npy` files of any size, without loading them whole.
 *
 * Format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html): the magic
 * `\x93NUMPY`, a version byte pair (1.0, 2.0 or 3.0), the header length (u16 little-endian for
 * 1.0, u32 for 2.0 and 3.0), then a Python dict literal such as
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }` padded with spaces and a final
 * '\n' (latin-1, or UTF-8 for 3.0), then the raw little-endian data in C order.
 *
 * Reading
 * - `readNpyHeader(path)` reads and validates only the header bytes. It parses the dict strictly
 *   (no eval) and refuses, with a one-line `DataError` naming the file, what was expected and what
 *   was found: bad magic, unknown version, an implausible header length, a malformed dict, an
 *   unsupported or big-endian dtype, Fortran order, bad shape entries, and a file whose size is not
 *   exactly header + count * itemSize. All of that happens before any data is allocated, so a
 *   header claiming 10^15 elements costs nothing. Missing or unreadable files are `UsageError`s.
 * - `NpyReader` keeps the file open and reads element ranges positionally straight into the
 *   memory of a caller's typed array (`readInto`, `readIntoSync`): no intermediate copy.
 * - `NpyReader.batches(n)` walks the whole file in batches of n elements over two reused buffers.
 *   REUSE CONTRACT: batch k lives in buffer k % 2, so a yielded `data` view stays valid until the
 *   next-but-one batch is requested (batch k is overwritten when batch k + 2 is read). Requesting
 *   the next batch before computing on the current one overlaps the read with the computation:
 *
 *       const it = reader.batches(65536);
 *       let cur = await it.next();
 *       while (!cur.done) {
 *         const next = it.next();     // starts reading batch k+1 into the other buffer
 *         await compute(cur.value);   // batch k is still intact
 *         cur = await next;
 *       }
 *
 *   A plain `for await` loop is also correct, just without the overlap.
 * - `readNpy(path)` reads a small file whole (validated the same way first).
 *
 * Writing
 * - Headers are written exactly as numpy 1.24+ / 2.x `np.save` writes them (version 1.0 unless
 *   the header needs 2.0, the spare "growth" spaces, padding so that the data starts at a multiple
 *   of 64 bytes), so a file is byte-identical to `np.save` of the same array.
 * - `NpyWriter` streams an array of known shape into a temporary file next to the destination and
 *   renames it into place on `commit()` (see atomic.ts); `abort()`, a failure, or the process
 *   exiting or being interrupted before the commit remove the temporary file.
 * - `writeNpy(path, dtype, shape, data)` writes a whole array atomically.
 *
 * Element types: `NpyDType` below; data is carried in the typed array given by `dtypeToTypedArray`
 * (float16 as raw bits in a Uint16Array, see float16.ts; bool as bytes in a Uint8Array, 0 or 1 as
 * numpy writes them, passed through unchecked; int64 and uint64 in BigInt64Array / BigUint64Array).
 *
 * Mistakes in calling code (a wrong typed array, an element range outside the file, appending past
 * the declared shape) are plain `TypeError`/`RangeError`/`Error`s: they are bugs, not user errors.
 */
import * as fs from 'fs';
import { DataError, UsageError, quote } from '../errors';
import {
  MAX_IO_BYTES,
  type TempFile,
  createTempFile,
  discardTempFile,
  fsUsageError,
  renameTempIntoPlace,
  writeAllSync,
  writeFileAtomic,
} from './atomic';

// ---------------------------------------------------------------------------------------------
// Element types.

/** Element types this module reads and writes. */
export type NpyDType =
  | 'float16'
  | 'float32'
  | 'float64'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'bool';

/** The typed array that carries each dtype's elements. */
export interface NpyTypedArrayMap {
  float16: Uint16Array; // raw IEEE half bits
  float32: Float32Array;
  float64: Float64Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint64: BigUint64Array;
  bool: Uint8Array; // 0 or 1 per element
}

export type NpyTypedArray<D extends NpyDType = NpyDType> = NpyTypedArrayMap[D];

export interface NpyTypedArrayConstructor<D extends NpyDType> {
  new (length: number): NpyTypedArrayMap[D];
  readonly BYTES_PER_ELEMENT: number;
}

/** The typed-array constructor for each dtype. */
export const dtypeToTypedArray: { readonly [D in NpyDType]: NpyTypedArrayConstructor<D> } = {
  float16: Uint16Array,
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
};

/**
 * The `descr` numpy writes for each dtype (itemsize in bytes is the trailing number). Reading also
 * accepts '<' or '>' in place of '|' for the one-byte types, where byte order is meaningless.
 */
export const dtypeToDescr: { readonly [D in NpyDType]: string } = {
  float16: '<f2',
  float32: '<f4',
  float64: '<f8',
  int8: '|i1',
  uint8: '|u1',
  int16: '<i2',
  uint16: '<u2',
  int32: '<i4',
  uint32: '<u4',
  int64: '<i8',
  uint64: '<u8',
  bool: '|b1',
};

/** dtype by descr without its byte-order character, e.g. 'f4' -> 'float32'. */
const dtypeByKindAndSize: ReadonlyMap<string, NpyDType> = new Map(
  (Object.keys(dtypeToDescr) as NpyDType[]).map((d) => [dtypeToDescr[d].slice(1), d]),
);

/** A new zero-filled typed array of `length` elements for `dtype`. */
export function typedArrayFor<D extends NpyDType>(dtype: D, length: number): NpyTypedArray<D> {
  return new dtypeToTypedArray[dtype](length);
}

const WASM_PAGE = 65536;
const WASM_MAX_PAGES = 65536;
/** The one WebAssembly class used here (the project's TypeScript libs do not declare WebAssembly). */
const WasmMemory = (globalThis as { WebAssembly?: { Memory: new (d: { initial: number; maximum: number }) => { buffer: ArrayBuffer } } }).WebAssembly?.Memory;

/**
 * `typedArrayFor`, but with the data starting on a page boundary when possible: for the buffers
 * that file reads fill (`NpyReader.batches`).
 *
 * Why: the kernel copies file data into user memory with `rep movsb`, which on the AMD EPYC (Zen 3)
 * machine this project is measured on runs at ~2.5 GB/s when the destination sits 8 to 24 bytes
 * past a 64-byte line, and at ~10–12 GB/s when it is line-aligned (pread of a cached file into
 * buffers at each offset). A large `new ArrayBuffer` comes from malloc, 16 bytes past a page (the
 * chunk header): the slow case, ~1.6 ns per float32 read instead of ~0.35 — for a prediction and a
 * target file, about half the CPU of the whole loss graph. JavaScript cannot see an ArrayBuffer's
 * address, but a WebAssembly.Memory's buffer is page-aligned by construction, and fs and
 * onnxruntime-node take views of it like those of any ArrayBuffer (no copy either way).
 *
 * Falls back to `typedArrayFor` when no WebAssembly.Memory can be had (no WebAssembly, an
 * address-space limit, or more than the 4 GiB one memory holds).
 */
export function alignedTypedArrayFor<D extends NpyDType>(dtype: D, length: number): NpyTypedArray<D> {
  const ctor = dtypeToTypedArray[dtype] as unknown as new (buffer: ArrayBuffer, byteOffset: number, length: number) => NpyTypedArray<D>;
  const pages = Math.max(1, Math.ceil((length * dtypeToTypedArray[dtype].BYTES_PER_ELEMENT) / WASM_PAGE));
  if (WasmMemory && pages <= WASM_MAX_PAGES) {
    try {
      return new ctor(new WasmMemory({ initial: pages, maximum: pages }).buffer, 0, length);
    } catch {
      // Address space or memory refused: the ordinary allocation below.
    }
  }
  return typedArrayFor(dtype, length);
}

// ---------------------------------------------------------------------------------------------
// Header reading and validation.

export type NpyVersion = '1.0' | '2.0' | '3.0';

/** A validated `.npy` header; the file holds exactly `dataOffset + count * itemSize` bytes. */
export interface NpyHeader<D extends NpyDType = NpyDType> {
  /** The path as given by the caller (used in messages). */
  readonly path: string;
  readonly dtype: D;
  /** The descr as written in the file, e.g. '<f4'. */
  readonly descr: string;
  readonly shape: readonly number[];
  /** Number of elements: the product of `shape` (1 for shape `()`). */
  readonly count: number;
  /** Bytes per element. */
  readonly itemSize: number;
  /** Byte offset of the first element. */
  readonly dataOffset: number;
  readonly fileSize: number;
  /** Always false: Fortran-order files are refused. */
  readonly fortranOrder: false;
  readonly version: NpyVersion;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const MAX_HEADER_BYTES = 1 << 20;

/** Reads and validates the header of `file`, reading only the header bytes. */
export function readNpyHeader(file: string): NpyHeader {
  const fd = openForReading(file);
  try {
    return readHeaderFromFd(file, fd);
  } finally {
    fs.closeSync(fd);
  }
}

function openForReading(file: string): number {
  try {
    return fs.openSync(file, 'r');
  } catch (err) {
    throw fsUsageError(file, 'read', err, { ENOENT: 'file does not exist' });
  }
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** `n` bytes, or fewer at end of file, read from `position` into a new buffer. */
function readSomeSync(fd: number, n: number, position: number): Buffer {
  const buf = Buffer.alloc(n);
  let done = 0;
  while (done < n) {
    const got = fs.readSync(fd, buf, done, n - done, position + done);
    if (got === 0) break;
    done += got;
  }
  return buf.subarray(0, done);
}

function readHeaderFromFd(file: string, fd: number): NpyHeader {
  const stat = fs.fstatSync(fd);
  if (stat.isDirectory()) throw new UsageError(`${file}: is a directory, expected a .npy file`);
  if (!stat.isFile()) throw new UsageError(`${file}: is not a regular file, expected a .npy file`);
  const fileSize = stat.size;

  const prefix = readSomeSync(fd, 12, 0);
  if (prefix.length >= 4 && prefix.readUInt32BE(0) === 0x504b0304) {
    throw new DataError(`${file}: is a zip archive (.npz?), expected a .npy file; save one array with np.save`);
  }
  if (prefix.length < 6 || MAGIC.some((b, i) => prefix[i] !== b)) {
    const found = JSON.stringify(prefix.subarray(0, 6).toString('latin1'));
    throw new DataError(`${file}: not a .npy file: expected the magic "\\x93NUMPY", found ${found}`);
  }
  if (prefix.length < 10) {
    throw new DataError(`${file}: file is ${fileSize} bytes, too short for a .npy header`);
  }
  const major = prefix[6];
  const minor = prefix[7];
  if (minor !== 0 || major < 1 || major > 3) {
    throw new DataError(`${file}: unsupported .npy format version ${major}.${minor}; expected 1.0, 2.0 or 3.0`);
  }
  const version = `${major}.0` as NpyVersion;
  const prefixSize = major === 1 ? 10 : 12;
  if (prefix.length < prefixSize) {
    throw new DataError(`${file}: file is ${fileSize} bytes, too short for a version ${version} .npy header`);
  }
  const headerSize = major === 1 ? prefix.readUInt16LE(8) : prefix.readUInt32LE(8);
  if (headerSize > MAX_HEADER_BYTES) {
    throw new DataError(
      `${file}: header length ${headerSize} bytes is implausible (more than ${MAX_HEADER_BYTES}); the file is corrupt`,
    );
  }
  const dataOffset = prefixSize + headerSize;
  if (dataOffset > fileSize) {
    throw new DataError(
      `${file}: header length ${headerSize} bytes goes past the end of the file (${fileSize} bytes in all)`,
    );
  }

  const headerBytes = readSomeSync(fd, headerSize, prefixSize);
  if (headerBytes.length !== headerSize) {
    throw new DataError(`${file}: file ended inside the ${headerSize}-byte header; it changed while being read`);
  }
  const text = decodeHeader(file, headerBytes, major);
  const fields = parseHeaderDict(file, text);
  const dtype = parseDescr(file, fields.descr);
  if (fields.fortranOrder) {
    throw new DataError(
      `${file}: fortran_order is True (column-major data, shape ${formatShape(fields.shape)}); ` +
        'expected C order: save with np.save(path, np.ascontiguousarray(a))',
    );
  }
  const shape = fields.shape;
  const itemSize = dtypeToTypedArray[dtype].BYTES_PER_ELEMENT;
  const count = shape.reduce((a, b) => a * b, 1);
  const dataBytes = count * itemSize;
  if (!Number.isSafeInteger(count) || !Number.isSafeInteger(dataBytes)) {
    throw new DataError(
      `${file}: shape ${formatShape(shape)} of ${fields.descr} describes more than 2^53 bytes; the header is corrupt`,
    );
  }
  const held = fileSize - dataOffset;
  if (held !== dataBytes) {
    const why = held < dataBytes ? 'truncated?' : `${held - dataBytes} extra trailing bytes`;
    throw new DataError(
      `${file}: header claims ${dataBytes} bytes of data (shape ${formatShape(shape)}, ${fields.descr}) ` +
        `but the file holds ${held} bytes after the header (${why})`,
    );
  }
  const { descr } = fields;
  return { path: file, dtype, descr, shape, count, itemSize, dataOffset, fileSize, fortranOrder: false, version };
}

function decodeHeader(file: string, bytes: Buffer, major: number): string {
  if (major < 3) return bytes.toString('latin1');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DataError(`${file}: version 3.0 header is not valid UTF-8`);
  }
}

/** The dtype for a descr; refuses big-endian and unsupported ones. */
function parseDescr(file: string, descr: string): NpyDType {
  const supported = Object.values(dtypeToDescr).join(' ');
  const m = /^([<>|=])([a-zA-Z]\d+)$/.exec(descr);
  const dtype = m ? dtypeByKindAndSize.get(m[2]) : undefined;
  if (m === null || dtype === undefined) {
    throw new DataError(`${file}: unsupported dtype ${JSON.stringify(descr)}; expected one of ${supported}`);
  }
  const order = m[1];
  if (dtypeToTypedArray[dtype].BYTES_PER_ELEMENT === 1 || order === '<') return dtype;
  if (order === '>') {
    throw new DataError(
      `${file}: dtype '${descr}' is big-endian; expected little-endian '<${m[2]}': save with a.astype('<${m[2]}')`,
    );
  }
  throw new DataError(`${file}: dtype '${descr}' has no explicit byte order; expected little-endian '<${m[2]}'`);
}

// A minimal, strict parser for the header's Python literal: a dict with string keys whose values
// are strings, True/False, numbers (kept as text), tuples and lists. No eval.

type PyValue =
  | { kind: 'str'; value: string }
  | { kind: 'bool'; value: boolean }
  | { kind: 'number'; text: string }
  | { kind: 'tuple' | 'list'; items: PyValue[] };

interface HeaderFields {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

function parseHeaderDict(file: string, text: string): HeaderFields {
  const dict = new HeaderParser(file, text).parseDict();
  const keys = ['descr', 'fortran_order', 'shape'];
  for (const key of dict.keys()) {
    if (!keys.includes(key)) {
      throw new DataError(
        `${file}: .npy header has the unexpected key ${quote(key)}; expected exactly 'descr', 'fortran_order', 'shape'`,
      );
    }
  }
  for (const key of keys) {
    if (!dict.has(key)) throw new DataError(`${file}: .npy header lacks the key '${key}'`);
  }
  const descr = dict.get('descr') as PyValue;
  if (descr.kind === 'list') {
    throw new DataError(`${file}: structured dtypes (descr ${describe(descr)}) are not supported`);
  }
  if (descr.kind !== 'str') throw new DataError(`${file}: header 'descr' must be a string, found ${describe(descr)}`);
  const fortran = dict.get('fortran_order') as PyValue;
  if (fortran.kind !== 'bool') {
    throw new DataError(`${file}: header 'fortran_order' must be True or False, found ${describe(fortran)}`);
  }
  return { descr: descr.value, fortranOrder: fortran.value, shape: parseShape(file, dict.get('shape') as PyValue) };
}

function parseShape(file: string, value: PyValue): number[] {
  if (value.kind !== 'tuple') {
    throw new DataError(`${file}: header 'shape' must be a tuple such as (3,) or (2, 3), found ${describe(value)}`);
  }
  return value.items.map((item) => {
    const text = item.kind === 'number' ? item.text.replace(/L$/, '') : undefined;
    if (text === undefined || !/^-?\d+$/.test(text)) {
      throw new DataError(`${file}: shape entry ${describe(item)} in ${describe(value)} is not an integer`);
    }
    const n = Number(text);
    if (n < 0) throw new DataError(`${file}: shape entry ${text} in ${describe(value)} is negative`);
    if (!Number.isSafeInteger(n)) {
      throw new DataError(`${file}: shape entry ${text} in ${describe(value)} is too large`);
    }
    return n;
  });
}

/** Python-like rendering of a parsed value, for messages. */
function describe(v: PyValue): string {
  switch (v.kind) {
    case 'str':
      return `'${v.value}'`;
    case 'bool':
      return v.value ? 'True' : 'False';
    case 'number':
      return v.text;
    case 'list':
      return `[${v.items.map(describe).join(', ')}]`;
    case 'tuple':
      return v.items.length === 1 ? `(${describe(v.items[0])},)` : `(${v.items.map(describe).join(', ')})`;
  }
}

class HeaderParser {
  private pos = 0;

  constructor(
    private readonly file: string,
    private readonly text: string,
  ) {}

  /** The whole header: one dict, then only whitespace. */
  parseDict(): Map<string, PyValue> {
    const entries = new Map<string, PyValue>();
    this.expect('{');
    while (!this.peek('}')) {
      const keyAt = this.pos;
      const key = this.parseValue();
      if (key.kind !== 'str') this.fail('a string key', keyAt);
      this.expect(':');
      if (entries.has(key.value)) throw new DataError(`${this.file}: .npy header repeats the key '${key.value}'`);
      entries.set(key.value, this.parseValue());
      if (!this.eat(',')) break;
    }
    this.expect('}');
    this.skipSpace();
    if (this.pos < this.text.length) this.fail('the end of the header');
    return entries;
  }

  private parseValue(): PyValue {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === "'" || c === '"') return this.parseString(c);
    if (c === '(') return this.parseSequence(')', 'tuple');
    if (c === '[') return this.parseSequence(']', 'list');
    const name = this.match(/[A-Za-z_][A-Za-z0-9_]*/y);
    if (name === 'True' || name === 'False') return { kind: 'bool', value: name === 'True' };
    if (name !== undefined) this.fail('a value', this.pos - name.length);
    const number = this.match(/[-+.0-9][-+.0-9A-Za-z_]*/y);
    if (number !== undefined) return { kind: 'number', text: number };
    return this.fail('a value');
  }

  private parseString(quote: string): PyValue {
    const start = ++this.pos;
    for (; this.pos < this.text.length; this.pos++) {
      const c = this.text[this.pos];
      if (c === quote) return { kind: 'str', value: this.text.slice(start, this.pos++) };
      if (c === '\\' || c === '\n') this.fail(`a closing ${quote} (escapes are not supported)`);
    }
    return this.fail(`a closing ${quote}`);
  }

  /** A tuple or list. Like Python, `(x)` without a comma is just `x`. */
  private parseSequence(close: string, kind: 'tuple' | 'list'): PyValue {
    this.pos++;
    const items: PyValue[] = [];
    let comma = false;
    while (!this.peek(close)) {
      items.push(this.parseValue());
      if (!this.eat(',')) break;
      comma = true;
    }
    this.expect(close);
    return kind === 'tuple' && items.length === 1 && !comma ? items[0] : { kind, items };
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && ' \t\r\n'.includes(this.text[this.pos])) this.pos++;
  }

  private peek(c: string): boolean {
    this.skipSpace();
    return this.text[this.pos] === c;
  }

  private eat(c: string): boolean {
    if (!this.peek(c)) return false;
    this.pos++;
    return true;
  }

  private expect(c: string): void {
    if (!this.eat(c)) this.fail(`'${c}'`);
  }

  private match(re: RegExp): string | undefined {
    re.lastIndex = this.pos;
    const m = re.exec(this.text);
    if (m === null) return undefined;
    this.pos += m[0].length;
    return m[0];
  }

  private fail(expected: string, at = this.pos): never {
    const found = at < this.text.length ? JSON.stringify(this.text[at]) : 'the end';
    const header = this.text.trimEnd();
    const shown = JSON.stringify(header.length > 120 ? `${header.slice(0, 120)}...` : header);
    throw new DataError(
      `${this.file}: malformed .npy header: expected ${expected} at character ${at}, found ${found} in ${shown}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Header writing.

function validShapeCount(shape: readonly number[]): number {
  for (const n of shape) {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new RangeError(`shape ${formatShape(shape)}: entries must be integers >= 0`);
    }
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count)) throw new RangeError(`shape ${formatShape(shape)} has more than 2^53 elements`);
  return count;
}

/**
 * The header bytes `np.save` writes for an array of `dtype` and `shape` (C order); their length is
 * a multiple of 64.
 */
export function npyHeaderBytes(dtype: NpyDType, shape: readonly number[]): Uint8Array {
  validShapeCount(shape);
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${dtypeToDescr[dtype]}', 'fortran_order': False, 'shape': ${tuple}, }`;
  // numpy leaves room to rewrite the first dimension in place with up to 21 digits.
  if (shape.length > 0) dict += ' '.repeat(21 - String(shape[0]).length);
  const textSize = dict.length + 1; // + the final '\n'
  // Spaces, then '\n', so that the data starts at a multiple of 64 (numpy pads 64 when already
  // aligned). Version 1.0 unless the header length overflows its u16 field.
  const paddingFor = (prefixSize: number): number => 64 - ((prefixSize + textSize) % 64);
  const prefixSize = textSize + paddingFor(10) <= 0xffff ? 10 : 12;
  const padding = paddingFor(prefixSize);
  const headerSize = textSize + padding;
  const bytes = new Uint8Array(prefixSize + headerSize);
  bytes.set(MAGIC, 0);
  bytes[6] = prefixSize === 10 ? 1 : 2;
  const view = new DataView(bytes.buffer);
  if (prefixSize === 10) view.setUint16(8, headerSize, true);
  else view.setUint32(8, headerSize, true);
  bytes.set(Buffer.from(dict + ' '.repeat(padding) + '\n', 'latin1'), prefixSize);
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// NpyReader.

/** One batch from `NpyReader.batches`: elements `start .. start + data.length - 1` of the file. */
export interface NpyBatch<D extends NpyDType = NpyDType> {
  readonly start: number;
  /** A view over a reused buffer: valid until the next-but-one batch is requested. */
  readonly data: NpyTypedArray<D>;
}

function bytesOf(a: NpyTypedArray, count: number): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, count * a.BYTES_PER_ELEMENT);
}

function prefixView<D extends NpyDType>(a: NpyTypedArray<D>, length: number): NpyTypedArray<D> {
  return a.length === length ? a : ((a as Uint8Array).subarray(0, length) as NpyTypedArray<D>);
}

function readAt(fd: number, target: Uint8Array, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, target, offset, length, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/** A `.npy` file opened for reading element ranges; validated on open. Close it when done. */
export class NpyReader<D extends NpyDType = NpyDType> {
  private fd: number | null;

  private constructor(
    readonly header: NpyHeader<D>,
    fd: number,
  ) {
    this.fd = fd;
  }

  /**
   * Opens and validates `file`. With `accept`, also requires its dtype to be one of those
   * (a `DataError` otherwise), which narrows the reader's type.
   */
  static open(file: string): NpyReader;
  static open<D extends NpyDType>(file: string, accept: readonly D[]): NpyReader<D>;
  static open(file: string, accept?: readonly NpyDType[]): NpyReader {
    const fd = openForReading(file);
    try {
      const header = readHeaderFromFd(file, fd);
      if (accept !== undefined && !accept.includes(header.dtype)) {
        const expected = accept.join(' or ');
        throw new DataError(`${file}: expected dtype ${expected}, found ${header.descr} (${header.dtype})`);
      }
      return new NpyReader(header, fd);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  /**
   * Reads elements `firstElement .. firstElement + count - 1` into `dst[0 .. count - 1]`, straight
   * into its memory. Returns `count`.
   */
  readIntoSync(dst: NpyTypedArray<D>, firstElement: number, count: number = dst.length): number {
    const { fd, target, position } = this.prepareRead(dst, firstElement, count);
    for (let done = 0; done < target.length; ) {
      const got = fs.readSync(fd, target, done, Math.min(target.length - done, MAX_IO_BYTES), position + done);
      if (got === 0) throw this.shrankError(position + done);
      done += got;
    }
    return count;
  }

  /**
   * Asynchronous `readIntoSync`: the read runs on libuv's thread pool; don't touch `dst` until it
   * settles. Several reads may be in flight at once (they are positional).
   */
  async readInto(dst: NpyTypedArray<D>, firstElement: number, count: number = dst.length): Promise<number> {
    const { fd, target, position } = this.prepareRead(dst, firstElement, count);
    for (let done = 0; done < target.length; ) {
      const got = await readAt(fd, target, done, Math.min(target.length - done, MAX_IO_BYTES), position + done);
      if (got === 0) throw this.shrankError(position + done);
      done += got;
    }
    return count;
  }

  /**
   * Yields the whole file in order, `batchElements` elements per batch (the last may be shorter),
   * alternating between two buffers: see the REUSE CONTRACT at the top of this file. The buffers
   * are allocated here (sized min(batchElements, count)) unless given; given ones must be typed
   * arrays of this file's dtype holding at least that many elements.
   */
  async *batches(
    batchElements: number,
    buffers?: readonly [NpyTypedArray<D>, NpyTypedArray<D>],
  ): AsyncGenerator<NpyBatch<D>, void, undefined> {
    if (!Number.isSafeInteger(batchElements) || batchElements < 1) {
      throw new RangeError(`${this.header.path}: batch size must be a positive integer, got ${batchElements}`);
    }
    const { count, dtype } = this.header;
    const size = Math.min(batchElements, count);
    for (const b of buffers ?? []) {
      if (b.length < size) {
        throw new RangeError(`${this.header.path}: batch buffers hold ${b.length} elements, ${size} needed`);
      }
    }
    // The second buffer is only allocated when there is a second batch.
    const pool: Array<NpyTypedArray<D> | undefined> = buffers ? [...buffers] : [];
    for (let start = 0, k = 0; start < count; start += batchElements, k ^= 1) {
      const buffer = (pool[k] ??= alignedTypedArrayFor(dtype, size));
      const n = Math.min(batchElements, count - start);
      await this.readInto(buffer, start, n);
      yield { start, data: prefixView(buffer, n) };
    }
  }

  /** Closes the file (wait for reads in flight first); later reads throw. Idempotent. */
  close(): void {
    if (this.fd === null) return;
    fs.closeSync(this.fd);
    this.fd = null;
  }

  private prepareRead(
    dst: NpyTypedArray<D>,
    firstElement: number,
    count: number,
  ): { fd: number; target: Uint8Array; position: number } {
    const { path, dtype, itemSize, dataOffset } = this.header;
    if (this.fd === null) throw new Error(`${path}: read after close`);
    if (!(dst instanceof dtypeToTypedArray[dtype])) {
      throw new TypeError(`${path}: ${dtype} data must be read into a ${dtypeToTypedArray[dtype].name}`);
    }
    if (
      !Number.isSafeInteger(firstElement) ||
      !Number.isSafeInteger(count) ||
      firstElement < 0 ||
      count < 0 ||
      firstElement + count > this.header.count ||
      count > dst.length
    ) {
      throw new RangeError(
        `${path}: cannot read ${count} elements from element ${firstElement} into an array of ` +
          `${dst.length}; the file holds ${this.header.count}`,
      );
    }
    return { fd: this.fd, target: bytesOf(dst, count), position: dataOffset + firstElement * itemSize };
  }

  private shrankError(position: number): DataError {
    const { path, dataOffset, count, itemSize } = this.header;
    return new DataError(
      `${path}: file ended at byte ${position} but its header promised ${dataOffset + count * itemSize} bytes; ` +
        'it changed after it was opened',
    );
  }
}

/** Reads a whole (small) `.npy` file, validating it first; `accept` as in `NpyReader.open`. */
export function readNpy(file: string): { header: NpyHeader; data: NpyTypedArray };
export function readNpy<D extends NpyDType>(
  file: string,
  accept: readonly D[],
): { header: NpyHeader<D>; data: NpyTypedArray<D> };
export function readNpy(file: string, accept?: readonly NpyDType[]): { header: NpyHeader; data: NpyTypedArray } {
  const reader = accept === undefined ? NpyReader.open(file) : NpyReader.open(file, accept);
  try {
    const data = typedArrayFor(reader.header.dtype, reader.header.count);
    reader.readIntoSync(data, 0);
    return { header: reader.header, data };
  } finally {
    reader.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Writing.

function checkData(file: string, dtype: NpyDType, data: NpyTypedArray): void {
  if (!(data instanceof dtypeToTypedArray[dtype])) {
    throw new TypeError(`${file}: ${dtype} data must be a ${dtypeToTypedArray[dtype].name}`);
  }
}

/** Writes a whole array to `file` atomically, byte-identical to `np.save`. */
export function writeNpy<D extends NpyDType>(
  file: string,
  dtype: D,
  shape: readonly number[],
  data: NpyTypedArray<D>,
): void {
  const count = validShapeCount(shape);
  checkData(file, dtype, data);
  if (data.length !== count) {
    throw new RangeError(`${file}: shape ${formatShape(shape)} holds ${count} elements, data has ${data.length}`);
  }
  writeFileAtomic(file, [npyHeaderBytes(dtype, shape), data]);
}

function writeAt(fd: number, bytes: Uint8Array, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.write(fd, bytes, offset, length, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/**
 * Streams an array of known dtype and shape to a `.npy` file atomically: appended data goes into a
 * temporary file next to the destination, `commit()` checks that exactly the declared number of
 * elements was appended, fsyncs and renames it into place. `abort()` (idempotent, and a no-op after
 * a commit, so it fits a `finally`), any failure, and the process exiting or receiving
 * SIGINT/SIGTERM before the commit all remove the temporary file; the destination is then untouched.
 */
export class NpyWriter<D extends NpyDType = NpyDType> {
  /** Number of elements the shape declares. */
  readonly count: number;
  private written = 0;
  private state: 'open' | 'committing' | 'committed' | 'aborted' = 'open';
  /** Asynchronous operations on the descriptor still running; it is closed only once they settle. */
  private readonly inFlight = new Set<Promise<void>>();

  private constructor(
    readonly path: string,
    readonly dtype: D,
    readonly shape: readonly number[],
    private readonly temp: TempFile,
    private readonly dataOffset: number,
  ) {
    this.count = validShapeCount(shape);
  }

  /** Starts writing `file` (created or replaced on commit). */
  static create<D extends NpyDType>(file: string, dtype: D, shape: readonly number[]): NpyWriter<D> {
    const header = npyHeaderBytes(dtype, shape);
    const temp = createTempFile(file);
    try {
      writeAllSync(temp.fd, header, 0);
    } catch (err) {
      discardTempFile(temp);
      throw fsUsageError(file, 'write', err);
    }
    return new NpyWriter(file, dtype, [...shape], temp, header.length);
  }

  /** Number of elements appended so far. */
  get elementsWritten(): number {
    return this.written;
  }

  /** Appends `data` (written synchronously, at its reserved position). */
  appendSync(data: NpyTypedArray<D>): void {
    const position = this.reserve(data);
    try {
      writeAllSync(this.temp.fd, data, position);
    } catch (err) {
      this.abort();
      throw fsUsageError(this.path, 'write', err);
    }
  }

  /**
   * Appends `data`. Its place in the file is reserved at the call, so several appends may be in
   * flight at once; don't modify `data` until the returned promise settles.
   */
  async append(data: NpyTypedArray<D>): Promise<void> {
    const position = this.reserve(data);
    const bytes = bytesOf(data, data.length);
    const fd = this.temp.fd;
    try {
      await this.track(
        (async () => {
          for (let done = 0; done < bytes.length; ) {
            done += await writeAt(fd, bytes, done, Math.min(bytes.length - done, MAX_IO_BYTES), position + done);
          }
        })(),
      );
    } catch (err) {
      this.abort();
      throw fsUsageError(this.path, 'write', err);
    }
  }

  /**
   * Waits for appends in flight, checks that exactly `count` elements were appended, fsyncs and
   * renames the file into place. On failure the temporary file is removed and this throws.
   */
  async commit(): Promise<void> {
    this.assertOpen('commit');
    this.state = 'committing';
    await Promise.allSettled([...this.inFlight]);
    this.assertNotAborted();
    if (this.written !== this.count) {
      this.abort();
      throw new RangeError(
        `${this.path}: commit after ${this.written} of the ${this.count} elements of shape ${formatShape(this.shape)}`,
      );
    }
    const fd = this.temp.fd;
    try {
      if (!this.temp.direct) await this.track(new Promise<void>((resolve, reject) => fs.fsync(fd, (e) => (e ? reject(e) : resolve()))));
    } catch (err) {
      this.abort();
      throw fsUsageError(this.path, 'write', err);
    }
    this.assertNotAborted();
    // From here on all is synchronous: no abort() can interleave.
    try {
      fs.closeSync(fd);
    } catch (err) {
      this.state = 'aborted';
      discardTempFile(this.temp, false);
      throw fsUsageError(this.path, 'write', err);
    }
    try {
      renameTempIntoPlace(this.temp); // removes the temporary file itself on failure
    } catch (err) {
      this.state = 'aborted';
      throw err;
    }
    this.state = 'committed';
  }

  /**
   * Abandons the output: removes the temporary file now (its descriptor is closed once writes in
   * flight settle). Idempotent; does nothing after a commit.
   */
  abort(): void {
    if (this.state === 'committed' || this.state === 'aborted') return;
    this.state = 'aborted';
    discardTempFile(this.temp, this.inFlight.size === 0);
  }

  /** Checks `data` and reserves its place; returns its byte position. */
  private reserve(data: NpyTypedArray<D>): number {
    this.assertOpen('append');
    checkData(this.path, this.dtype, data);
    if (this.written + data.length > this.count) {
      this.abort();
      throw new RangeError(
        `${this.path}: appending ${data.length} elements after ${this.written} exceeds the ` +
          `${this.count} of shape ${formatShape(this.shape)}`,
      );
    }
    const position = this.dataOffset + this.written * data.BYTES_PER_ELEMENT;
    this.written += data.length;
    return position;
  }

  /** Registers an operation on the descriptor; after an abort, the last one to settle closes it. */
  private track(op: Promise<void>): Promise<void> {
    this.inFlight.add(op);
    const settle = (): void => {
      this.inFlight.delete(op);
      if (this.state === 'aborted' && this.inFlight.size === 0) fs.close(this.temp.fd, () => undefined);
    };
    op.then(settle, settle);
    return op;
  }

  private assertOpen(action: string): void {
    if (this.state !== 'open') throw new Error(`${this.path}: cannot ${action}: the writer is ${this.state}`);
  }

  private assertNotAborted(): void {
    if (this.state === 'aborted') throw new Error(`${this.path}: cannot commit: the writer was aborted`);
  }
}
