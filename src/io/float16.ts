/**
 * IEEE 754 half precision (binary16) <-> single precision conversions.
 *
 * JavaScript has no float16 typed array (in Node 20), so float16 data is carried as raw bits in a
 * `Uint16Array`: that is how `.npy` files with dtype `<f2` are read and written (see npy.ts), and
 * how ONNX Runtime takes and returns float16 tensors.
 *
 * - `f16BitsToF32(bits)`: exact (every half value is a float32 value).
 * - `f32ToF16Bits(x)`: `x` is first rounded to float32 (`Math.fround`), then to half with
 *   round-to-nearest-even; overflow gives ±Infinity, underflow gives subnormals or ±0, the sign of
 *   zero is kept, and NaN keeps its sign and the top bits of its payload (forced non-zero). This
 *   is bit-for-bit what numpy does for `float32_array.astype(np.float16)`. (A NaN that went through
 *   a JS number may already have been quieted by the engine; `f32ArrayToF16` on a Float32Array
 *   works on the stored bits.)
 * - `f16ArrayToF32` / `f32ArrayToF16`: the same over whole arrays, into a caller-provided
 *   destination when given (so batch loops can reuse buffers). Half -> float32 goes through a
 *   65536-entry table built on first use; it keeps NaN payloads.
 */

// One float32 viewed as its bits, for the scalar conversions.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Half-precision bits (0..0xffff) of the float32 whose bits are `f`, rounding to nearest even. */
function f32BitsToF16Bits(f: number): number {
  const sign = (f >>> 16) & 0x8000;
  const exp = (f >>> 23) & 0xff;
  const mant = f & 0x7fffff;

  if (exp === 0xff) {
    // Infinity, or NaN with the top 10 payload bits kept (made non-zero so it stays a NaN).
    if (mant === 0) return sign | 0x7c00;
    return sign | 0x7c00 | (mant >>> 13 || 1);
  }
  if (exp >= 143) return sign | 0x7c00; // |x| >= 2^16: beyond rounding range, overflow.
  if (exp >= 113) {
    // Half normal range 2^-14 <= |x| < 2^16: keep 10 of 23 mantissa bits. A carry out of the
    // mantissa correctly bumps the exponent, and out of the largest exponent gives Infinity.
    let h = ((exp - 112) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1) !== 0)) h++;
    return sign | h;
  }
  if (exp < 102) return sign; // |x| < 2^-25, at most half the smallest subnormal: ±0.
  // Half subnormal: units of 2^-24. |x| = sig * 2^(exp - 150), so units = sig >> (126 - exp).
  // Rounding up from the largest subnormal gives 0x0400, the smallest normal, as it should.
  const sig = mant | 0x800000;
  const shift = 126 - exp; // 14..24
  let h = sig >>> shift;
  const rest = sig & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && (h & 1) !== 0)) h++;
  return sign | h;
}

/** The value of the half-precision number with bits `bits` (0..0xffff). Exact. */
export function f16BitsToF32(bits: number): number {
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  let magnitude: number;
  if (exp === 0) magnitude = mant * 2 ** -24;
  else if (exp === 0x1f) magnitude = mant === 0 ? Infinity : NaN;
  else magnitude = (mant + 1024) * 2 ** (exp - 25);
  return bits & 0x8000 ? -magnitude : magnitude;
}

/** Half-precision bits of `x` (rounded to float32 first, then to nearest-even half). */
export function f32ToF16Bits(x: number): number {
  scratchF32[0] = x;
  return f32BitsToF16Bits(scratchU32[0]);
}

let halfTable: Uint32Array | undefined;

/** float32 bits of every half bit pattern, NaN payloads included (built once, 256 KiB). */
function halfToFloatBitsTable(): Uint32Array {
  if (halfTable === undefined) {
    const bits = new Uint32Array(65536);
    const floats = new Float32Array(bits.buffer);
    for (let h = 0; h < 65536; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) {
        bits[h] = ((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13); // NaN, payload kept
      } else {
        floats[h] = f16BitsToF32(h);
      }
    }
    halfTable = bits;
  }
  return halfTable;
}

/**
 * Converts half bits to float32 values. Writes into `dst` (length >= `src.length`) when given,
 * else into a new array; returns the array written, of length `src.length` (a view of `dst`
 * when `dst` is longer).
 */
export function f16ArrayToF32(src: Uint16Array, dst?: Float32Array): Float32Array {
  const out = destination(dst, src.length, Float32Array);
  // Copy bit patterns, not numbers: a NaN read into a JS number may lose its payload.
  const table = halfToFloatBitsTable();
  const outBits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) outBits[i] = table[src[i]];
  return out;
}

/**
 * Converts float32 values (or any numbers, rounded to float32 first) to half bits with
 * round-to-nearest-even. Writes into `dst` (length >= `src.length`) when given, else into a new
 * array; returns the array written, of length `src.length`.
 */
export function f32ArrayToF16(src: Float32Array | ArrayLike<number>, dst?: Uint16Array): Uint16Array {
  const out = destination(dst, src.length, Uint16Array);
  if (src instanceof Float32Array) {
    const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
    for (let i = 0; i < bits.length; i++) out[i] = f32BitsToF16Bits(bits[i]);
  } else {
    for (let i = 0; i < src.length; i++) out[i] = f32ToF16Bits(src[i]);
  }
  return out;
}

function destination<T extends Float32Array | Uint16Array>(
  dst: T | undefined,
  length: number,
  ctor: new (length: number) => T,
): T {
  if (dst === undefined) return new ctor(length);
  if (dst.length < length) {
    throw new RangeError(`destination holds ${dst.length} elements, ${length} needed`);
  }
  return (dst.length === length ? dst : dst.subarray(0, length)) as T;
}
