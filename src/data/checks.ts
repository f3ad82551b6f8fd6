/**
 * The evaluator's data checks: one tight loop per batch over the file's own typed array, and on
 * the first bad element a one-line `DataError` naming the file, the element's global index (with
 * its row and column for 2-D files) and its value:
 *
 *     target.npy: element 1234567 is 0.5; binary targets must be 0 or 1
 *
 * Each loop tests with a single comparison where it can (NaN fails every comparison, and
 * `x - x !== 0` is true exactly for NaN and ±Infinity); int64 is read as pairs of 32-bit words so
 * no BigInt is made per element; float16 is tested on its bits.
 */
import { DataError } from '../errors';
import { f16BitsToF32, f32ToF16Bits } from '../io/float16';
import { NpyDType, NpyTypedArray } from '../io/npy';
import { isFloatType, isIndexType } from './rules';

/**
 * Where a batch sits, for messages: in a file (`pred.npy: element 17 …`, the element's index in
 * the file) or in the caller's memory (`batch 3: pred element 17 …`, its index in that batch).
 */
export interface BatchPlace {
  /** The file, or the batch (`batch 3`). */
  readonly file: string;
  /** What an element is called there (default `element`; `pred element` for a batch's array). */
  readonly element?: string;
  /** Index of the batch's first element (in the file; 0 for a batch of the caller's). */
  readonly start: number;
  /** The file's (or the batch array's) shape, for row / column in messages. */
  readonly shape: readonly number[];
}

/** The shortest decimal that reads back as the same float32 (0.1f prints as 0.1, not 0.10000000149011612). */
function formatFloat32(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  for (let p = 1; p <= 9; p++) {
    const s = Number(x.toPrecision(p));
    if (Math.fround(s) === x) return String(s);
  }
  return String(x);
}

function valueAt(dtype: NpyDType, data: NpyTypedArray, i: number): string {
  switch (dtype) {
    case 'float16':
      return String(f16BitsToF32((data as Uint16Array)[i]));
    case 'float32':
      return formatFloat32((data as Float32Array)[i]);
    case 'bool':
      return (data as Uint8Array)[i] === 0 ? 'False' : (data as Uint8Array)[i] === 1 ? 'True' : `the byte ${(data as Uint8Array)[i]}`;
    default:
      return String(data[i]);
  }
}

/**
 * `element 17`, `element 17 (row 3, column 2)` for a 2-D array, `element 17 (index [0, 5, 2])`
 * for one of higher rank (C order).
 */
export function elementName(shape: readonly number[], index: number, word = 'element'): string {
  if (shape.length === 2 && shape[1] > 0) return `${word} ${index} (row ${Math.floor(index / shape[1])}, column ${index % shape[1]})`;
  if (shape.length > 2 && shape.every((d) => d > 0)) {
    const at: number[] = [];
    let rest = index;
    for (let a = shape.length - 1; a >= 0; a--) {
      at.unshift(rest % shape[a]);
      rest = Math.floor(rest / shape[a]);
    }
    return `${word} ${index} (index [${at.join(', ')}])`;
  }
  return `${word} ${index}`;
}

function fail(place: BatchPlace, dtype: NpyDType, data: NpyTypedArray, i: number, rule: string): never {
  throw new DataError(`${place.file}: ${elementName(place.shape, place.start + i, place.element)} is ${valueAt(dtype, data, i)}; ${rule}`);
}

// ---- predictions --------------------------------------------------------------------------------

function firstNonFinite(dtype: NpyDType, data: NpyTypedArray): number {
  if (dtype === 'float16') {
    const a = data as Uint16Array;
    for (let i = 0; i < a.length; i++) if ((a[i] & 0x7c00) === 0x7c00) return i;
    return -1;
  }
  const a = data as Float32Array | Float64Array;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (x - x !== 0) return i;
  }
  return -1;
}

/** The first element outside [0, 1] (NaN included), or -1. */
function firstOutsideUnit(dtype: NpyDType, data: NpyTypedArray): number {
  if (dtype === 'float16') {
    // +0 .. 1.0 are the bit patterns 0x0000 .. 0x3c00; -0 (0x8000) is 0 too.
    const a = data as Uint16Array;
    for (let i = 0; i < a.length; i++) {
      const h = a[i];
      if (h > 0x3c00 && h !== 0x8000) return i;
    }
    return -1;
  }
  const a = data as Float32Array | Float64Array;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (!(x >= 0 && x <= 1)) return i;
  }
  return -1;
}

/**
 * Predictions: finite, and in [0, 1] when they are probabilities (`probs`). `input`: how the
 * message names the input option (`--input` on the CLI).
 */
export function checkPredictions(place: BatchPlace, dtype: NpyDType, data: NpyTypedArray, probs: boolean, input = 'input'): void {
  if (probs) {
    const i = firstOutsideUnit(dtype, data);
    if (i < 0) return;
    const x = dtype === 'float16' ? f16BitsToF32((data as Uint16Array)[i]) : (data as Float32Array)[i];
    if (!Number.isFinite(x)) fail(place, dtype, data, i, 'predictions must be finite');
    fail(place, dtype, data, i, `probabilities must be in [0, 1] (for scores or logits, use ${input} logits)`);
  }
  const i = firstNonFinite(dtype, data);
  if (i >= 0) fail(place, dtype, data, i, 'predictions must be finite');
}

/**
 * Whether float32 / float64 probabilities and 0/1 targets of the same type are all fine, in one
 * pass over both (false also for other types: then check them apart, which names a bad element).
 * From SIMD_PAIRS pairs the pass runs in WebAssembly SIMD where there is WebAssembly
 * (`simdPairFine`; ~5× the JS loop below at 1,000 pairs, bench/README.md, sessions 8 and 9).
 */
export function pairFine(predType: NpyDType, pred: NpyTypedArray, targetType: NpyDType, target: NpyTypedArray): boolean {
  if (predType !== targetType || (predType !== 'float32' && predType !== 'float64') || pred.length !== target.length) return false;
  const p = pred as Float32Array | Float64Array;
  const t = target as Float32Array | Float64Array;
  // (Kept here, not in simdPairFine: its closures' context is made at each call, ~200 B.)
  const simd = p.length < SIMD_PAIRS ? null : simdCheck !== undefined ? simdCheck : (simdCheck = simdPairFine());
  if (simd) return simd(p, t);
  for (let i = 0; i < p.length; i++) {
    const x = p[i];
    const y = t[i];
    // x in [0, 1] (NaN fails); y·y = y for 0 and 1 (and +Infinity, ruled out by y <= 1).
    if (!(x >= 0 && x <= 1 && y * y === y && y <= 1)) return false;
  }
  return true;
}

/** Pairs from which pairFine's pass runs in WebAssembly (see there: where the two cost the same). */
const SIMD_PAIRS = 64;

/** The little of WebAssembly used here (the project's TypeScript libs do not declare it). */
interface Wasm {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}
type PairCheck = (pred: Float32Array | Float64Array, target: Float32Array | Float64Array) => boolean;
let simdCheck: PairCheck | null | undefined;

/**
 * pairFine's test as a WebAssembly module: both arrays are copied into its memory (each padded to
 * 16 bytes with zeros, which pass), then, for each 16 bytes x of predictions and y of targets
 * (4 float32 or 2 float64 lanes), `ok &= (x >= 0) & (x <= 1) & ((y == 0) | (y == 1))`, and the
 * result is whether every lane of `ok` stayed true: the same test as the JS loop (NaN fails each
 * comparison; -0 equals 0). In text form, for float32 (f64x2 likewise for float64):
 *
 *     (func (export "f32") (param $p i32) (param $t i32) (param $bytes i32) (result i32)
 *       (local $i i32) (local $ok v128) (local $zero v128) (local $one v128) (local $x v128) (local $y v128)
 *       ok = v128.const all ones; zero = f32x4.splat 0; one = f32x4.splat 1
 *       (block (loop
 *         (br_if 1 (i32.ge_u $i $bytes))
 *         x = v128.load ($p + $i); y = v128.load ($t + $i)
 *         ok = ok & (f32x4.ge x zero) & (f32x4.le x one) & ((f32x4.eq y zero) | (f32x4.eq y one))
 *         $i += 16; (br 0)))
 *       (i32x4.all_true $ok))
 *
 * null where WebAssembly is missing (node --jitless): pairFine then loops in JS.
 */
function simdPairFine(): PairCheck | null {
  const wasm = (globalThis as { WebAssembly?: Wasm }).WebAssembly;
  if (!wasm) return null;
  const u = (n: number): number[] => (n < 0x80 ? [n] : [(n & 0x7f) | 0x80, ...u(n >>> 7)]);
  const vec = (items: number[][]): number[] => [...u(items.length), ...items.flat()];
  const name = (s: string): number[] => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
  const section = (id: number, body: number[]): number[] => [id, ...u(body.length), ...body];
  const simd = (op: number): number[] => [0xfd, ...u(op)];
  const get = (i: number): number[] => [0x20, i];
  const set = (i: number): number[] => [0x21, i];
  const [P, T, BYTES, I, OK, ZERO, ONE, X, Y] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const V128_LOAD = simd(0x00);
  const AND = simd(0x4e);
  const OR = simd(0x50);
  // (splat, eq, le, ge) of f32x4 and f64x2, and the constants 0 and 1 of the lane type.
  const body = (lanes: 'f32' | 'f64'): number[] => {
    const [splat, eq, le, ge] = (lanes === 'f32' ? [0x13, 0x41, 0x45, 0x46] : [0x14, 0x47, 0x4b, 0x4c]).map(simd);
    const constant = (v: number): number[] => {
      const b = new DataView(new ArrayBuffer(8));
      if (lanes === 'f32') b.setFloat32(0, v, true);
      else b.setFloat64(0, v, true);
      return [lanes === 'f32' ? 0x43 : 0x44, ...new Uint8Array(b.buffer, 0, lanes === 'f32' ? 4 : 8)];
    };
    const code = [
      ...vec([[1, 0x7f], [5, 0x7b]]), // locals: $i i32; $ok $zero $one $x $y v128
      ...simd(0x0c), ...new Array<number>(16).fill(0xff), ...set(OK),
      ...constant(0), ...splat, ...set(ZERO),
      ...constant(1), ...splat, ...set(ONE),
      0x02, 0x40, 0x03, 0x40, // block, loop
      ...get(I), ...get(BYTES), 0x4f, 0x0d, 1, // br_if 1 (i >= bytes)
      ...get(P), ...get(I), 0x6a, ...V128_LOAD, 4, 0, ...set(X),
      ...get(T), ...get(I), 0x6a, ...V128_LOAD, 4, 0, ...set(Y),
      ...get(OK),
      ...get(X), ...get(ZERO), ...ge, ...get(X), ...get(ONE), ...le, ...AND, ...AND,
      ...get(Y), ...get(ZERO), ...eq, ...get(Y), ...get(ONE), ...eq, ...OR, ...AND,
      ...set(OK),
      ...get(I), 0x41, 16, 0x6a, ...set(I), // i += 16
      0x0c, 0, 0x0b, 0x0b, // br 0, end loop, end block
      ...get(OK), ...simd(0xa3), // i32x4.all_true
      0x0b,
    ];
    return [...u(code.length), ...code];
  };
  const bytes = new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...section(1, vec([[0x60, ...vec([[0x7f], [0x7f], [0x7f]]), ...vec([[0x7f]])]])), // (i32, i32, i32) -> i32
    ...section(3, vec([[0], [0]])),
    ...section(5, vec([[0, 1]])), // memory: 1 page to start, grown as needed
    ...section(7, vec([[...name('mem'), 2, 0], [...name('f32'), 0, 0], [...name('f64'), 0, 1]])),
    ...section(10, vec([body('f32'), body('f64')])),
  ]);
  let exports: Record<string, unknown>;
  try {
    exports = new wasm.Instance(new wasm.Module(bytes)).exports;
  } catch {
    return null; // no SIMD here
  }
  const mem = exports.mem as { buffer: ArrayBuffer; grow(pages: number): number };
  const f32 = exports.f32 as (p: number, t: number, bytes: number) => number;
  const f64 = exports.f64 as (p: number, t: number, bytes: number) => number;
  // Views of the whole memory (not read from mem.buffer, a call into the engine, at each check).
  let f32View = new Float32Array(mem.buffer);
  let f64View = new Float64Array(mem.buffer);
  return (pred, target) => {
    const n = pred.length;
    const size = pred.BYTES_PER_ELEMENT;
    const padded = (n + (16 / size - 1)) & -(16 / size); // elements, a multiple of 16 bytes
    if (f32View.byteLength < 2 * padded * size) {
      mem.grow(Math.ceil((2 * padded * size - f32View.byteLength) / 65536)); // (detaching the old views)
      f32View = new Float32Array(mem.buffer);
      f64View = new Float64Array(mem.buffer);
    }
    const m = size === 4 ? f32View : f64View;
    m.set(pred, 0);
    m.fill(0, n, padded);
    m.set(target, padded);
    m.fill(0, padded + n, 2 * padded);
    return (size === 4 ? f32 : f64)(0, padded * size, padded * size) === 1;
  };
}

// ---- targets ------------------------------------------------------------------------------------

/** The first element that is not 0 or 1, or -1. */
function firstNotBinary(dtype: NpyDType, data: NpyTypedArray): number {
  switch (dtype) {
    case 'float16': {
      const a = data as Uint16Array;
      for (let i = 0; i < a.length; i++) {
        const h = a[i];
        if (h !== 0 && h !== 0x3c00 && h !== 0x8000) return i;
      }
      return -1;
    }
    case 'float32':
    case 'float64': {
      // x·x = x holds for 0, -0, 1 and +Infinity only (NaN fails it): one test whose outcome is
      // predictable, unlike x !== 0 && x !== 1 on a 0/1 mix; the rare pass then rules out Infinity.
      const a = data as Float32Array | Float64Array;
      for (let i = 0; i < a.length; i++) {
        const x = a[i];
        if (x * x !== x || x === Infinity) return i;
      }
      return -1;
    }
    case 'uint8':
    case 'bool': {
      const a = data as Uint8Array;
      for (let i = 0; i < a.length; i++) if (a[i] > 1) return i;
      return -1;
    }
    case 'int32':
    case 'int64':
      return firstIndexOutside(dtype, data as Int32Array | BigInt64Array, 2);
    default:
      throw new TypeError(`targets of dtype ${dtype} are not checked here`);
  }
}

/** The first int32 / int64 element outside [0, limit) (limit < 2^32; int64 read as little-endian word pairs), or -1. */
function firstIndexOutside(dtype: 'int32' | 'int64', data: Int32Array | BigInt64Array, limit: number): number {
  if (dtype === 'int32') {
    const a = data as Int32Array;
    for (let i = 0; i < a.length; i++) if (a[i] >>> 0 >= limit) return i;
    return -1;
  }
  const w = new Uint32Array(data.buffer, data.byteOffset, data.length * 2);
  for (let i = 0; i < data.length; i++) {
    if (w[2 * i + 1] !== 0 || w[2 * i] >= limit) return i;
  }
  return -1;
}

/** Binary and multi-label targets: each 0 or 1. `task` names the rule in the message. */
export function checkBinaryTargets(place: BatchPlace, dtype: NpyDType, data: NpyTypedArray, task: 'binary' | 'multilabel'): void {
  const i = firstNotBinary(dtype, data);
  if (i >= 0) fail(place, dtype, data, i, `${task} targets must be 0 or 1`);
}

/**
 * Soft targets (binary, multilabel; multiclass rows of class probabilities): each in [0, 1].
 * Integer and bool targets are 0 or 1 there, as hard ones.
 */
export function checkSoftTargets(place: BatchPlace, dtype: NpyDType, data: NpyTypedArray): void {
  const i = isFloatType(dtype) ? firstOutsideUnit(dtype, data) : firstNotBinary(dtype, data);
  if (i >= 0) fail(place, dtype, data, i, 'soft targets must be in [0, 1]');
}

/** Multi-class targets: class indices in [0, classes). */
export function checkClassIndices(place: BatchPlace, dtype: NpyDType, data: NpyTypedArray, classes: number): void {
  if (!isIndexType(dtype)) throw new TypeError(`class indices of dtype ${dtype} are not checked here`);
  const bad = firstIndexOutside(dtype, data as Int32Array | BigInt64Array, classes);
  if (bad >= 0) fail(place, dtype, data, bad, `class indices must be in [0, ${classes})`);
}

// ---- weights ------------------------------------------------------------------------------------

/** Weights (a loss graph's `weight` input): finite and >= 0. */
export function checkWeights(place: BatchPlace, dtype: NpyDType, data: NpyTypedArray): void {
  if (dtype === 'float16') {
    const a = data as Uint16Array;
    // Sign bit set (other than -0), or exponent all ones (Infinity, NaN).
    for (let i = 0; i < a.length; i++) {
      const h = a[i];
      if ((h & 0x7c00) === 0x7c00 || (h > 0x8000)) fail(place, dtype, data, i, 'weights must be finite and >= 0');
    }
    return;
  }
  if (dtype !== 'float32' && dtype !== 'float64') throw new TypeError(`weights of dtype ${dtype} are not checked here`);
  const a = data as Float32Array | Float64Array;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (!(x >= 0 && x < Infinity)) fail(place, dtype, data, i, 'weights must be finite and >= 0');
  }
}

// ---- target conversion ----------------------------------------------------------------------------

/** Element i of `data` as a number (float16 from its bits, int64 through its low word: checked targets are small). */
function numberAt(dtype: NpyDType, data: NpyTypedArray, i: number): number {
  if (dtype === 'float16') return f16BitsToF32((data as Uint16Array)[i]);
  if (dtype === 'int64' || dtype === 'uint64') return Number((data as BigInt64Array)[i]);
  return Number((data as Float32Array)[i]);
}

/**
 * Writes checked targets (0/1 labels, or class indices) of any element type into `dst` of the
 * model's type: exact, since they are small integers. Float to float (soft targets too) is
 * convertFloats.
 */
export function convertTargets(srcType: NpyDType, src: NpyTypedArray, dstType: NpyDType, dst: NpyTypedArray): void {
  if (isFloatType(srcType) && isFloatType(dstType)) return convertFloats(srcType, src, dstType, dst);
  const n = src.length;
  if (dstType === 'int64') {
    const d = dst as BigInt64Array;
    for (let i = 0; i < n; i++) d[i] = BigInt(numberAt(srcType, src, i));
  } else if (dstType === 'float16') {
    const d = dst as Uint16Array;
    for (let i = 0; i < n; i++) d[i] = numberAt(srcType, src, i) === 1 ? 0x3c00 : 0;
  } else {
    const d = dst as Float32Array;
    for (let i = 0; i < n; i++) d[i] = numberAt(srcType, src, i);
  }
}

// ---- float target conversion --------------------------------------------------------------------

/**
 * Writes any float values (soft targets, weights; float16 as bits) into `dst` of another float
 * type, rounding as the destination type does (to float16 by its bits).
 */
export function convertFloats(srcType: 'float16' | 'float32' | 'float64', src: NpyTypedArray, dstType: 'float16' | 'float32' | 'float64', dst: NpyTypedArray): void {
  const n = src.length;
  if (srcType === dstType) {
    (dst as Float32Array).set(src as Float32Array);
    return;
  }
  if (srcType === 'float16') {
    const s = src as Uint16Array;
    const d = dst as Float32Array | Float64Array;
    for (let i = 0; i < n; i++) d[i] = f16BitsToF32(s[i]);
    return;
  }
  const s = src as Float32Array | Float64Array;
  if (dstType === 'float16') {
    const d = dst as Uint16Array;
    for (let i = 0; i < n; i++) d[i] = f32ToF16Bits(s[i]);
  } else (dst as Float32Array | Float64Array).set(s.subarray(0, n));
}

// ---- targets with an ignore value, index targets: checked and counted ------------------------------

/** How targets are read when they are counted (detection terms: ignore, index targets, positives). */
export interface CountRule {
  /** dense 0/1 (binary, multilabel), an index in [0, L] (L the background), or a class in [0, C). */
  readonly kind: 'dense' | 'index' | 'class';
  /** L (index) or C (class). */
  readonly classes: number;
  readonly ignore: number | null;
  /** Names the task in messages. */
  readonly task: string;
}

/** The batch's positive targets and ignored ones (elements for dense targets, rows otherwise). */
export interface TargetCounts {
  readonly positives: number;
  readonly ignored: number;
}

/**
 * Checks every target against `rule` and counts it: a value other than those allowed (0/1, an
 * index in [0, L], a class in [0, C)) and the ignore value is a DataError naming the element.
 * Positives are targets equal to 1 (dense), indices other than the background (index), or every
 * class index (class); none of them ignored.
 */
export function countTargets(place: BatchPlace, dtype: NpyDType, data: NpyTypedArray, rule: CountRule): TargetCounts {
  const { kind, classes, ignore } = rule;
  let positives = 0;
  let ignored = 0;
  const n = data.length;
  const hi = kind === 'dense' ? 1 : kind === 'index' ? classes : classes - 1;
  for (let i = 0; i < n; i++) {
    const v = numberAt(dtype, data, i);
    if (v === ignore) {
      ignored++;
      continue;
    }
    if (!(v >= 0 && v <= hi && Number.isInteger(v))) {
      const allowed = kind === 'dense' ? '0 or 1' : kind === 'index' ? `class indices in [0, ${classes}] (${classes} the background)` : `class indices in [0, ${classes})`;
      const also = ignore === null ? '' : ` or the ignore value ${ignore}`;
      fail(place, dtype, data, i, `${rule.task} targets must be ${allowed}${also}`);
    }
    if (kind === 'dense' ? v === 1 : kind === 'index' ? v !== classes : true) positives++;
  }
  return { positives, ignored };
}
