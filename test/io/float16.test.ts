import { mulberry32 } from '../../scripts/prng';
import { f16ArrayToF32, f16BitsToF32, f32ArrayToF16, f32ToF16Bits } from '../../src/io/float16';

/** Deterministic 32-bit integers: scripts/prng.ts's mulberry32, scaled back to its uint32 (exact). */
function prng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() * 4294967296;
}

/** Value of a finite half by its definition, independently of the code under test. */
function halfValue(h: number): number {
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  const v = e === 0 ? (m / 1024) * 2 ** -14 : (1 + m / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -v : v;
}

/**
 * Reference float -> half rounding by search: the nearest half (ties to the even bit pattern),
 * treating 0x7c00 as 2^16 for rounding purposes as IEEE 754 does for overflow. Not for NaN.
 */
function referenceToHalf(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  const value = (h: number): number => (h === 0x7c00 ? 65536 : halfValue(h));
  if (a >= 65536) return sign | 0x7c00;
  let lo = 0;
  let hi = 0x7c00; // value(lo) <= a < value(hi)
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (value(mid) <= a) lo = mid;
    else hi = mid;
  }
  const dLo = a - value(lo);
  const dHi = value(hi) - a;
  const h = dLo < dHi ? lo : dHi < dLo ? hi : lo % 2 === 0 ? lo : hi;
  return sign | h;
}

function f32FromBits(bits: number): number {
  return new Float32Array(new Uint32Array([bits]).buffer)[0];
}

describe('f16BitsToF32', () => {
  it('decodes known values', () => {
    expect(f16BitsToF32(0x3c00)).toBe(1);
    expect(f16BitsToF32(0xc000)).toBe(-2);
    expect(f16BitsToF32(0x7bff)).toBe(65504);
    expect(f16BitsToF32(0x0400)).toBe(2 ** -14);
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(f16BitsToF32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(f16BitsToF32(0x3555)).toBe(0.333251953125);
    expect(f16BitsToF32(0x7c00)).toBe(Infinity);
    expect(f16BitsToF32(0xfc00)).toBe(-Infinity);
    expect(f16BitsToF32(0x7e00)).toBeNaN();
    expect(f16BitsToF32(0xfc01)).toBeNaN();
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
    expect(Object.is(f16BitsToF32(0x0000), 0)).toBe(true);
  });

  it('matches the definition for every finite half', () => {
    const mismatches: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) !== 0x7c00 && !Object.is(f16BitsToF32(h), halfValue(h))) mismatches.push(h);
    }
    expect(mismatches).toEqual([]);
  });
});

describe('f32ToF16Bits', () => {
  it('round-trips every half bit pattern except NaNs, which stay NaN', () => {
    const mismatches: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      const back = f32ToF16Bits(f16BitsToF32(h));
      const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (isNaN ? (back & 0x7fff) <= 0x7c00 : back !== h) mismatches.push(h);
    }
    expect(mismatches).toEqual([]);
  });

  it('rounds to nearest even, overflows to infinity, underflows to subnormals and signed zero', () => {
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie: down to even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie: up to even
    expect(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // just above the tie
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // tie between 65504 and 2^16: to even, i.e. Infinity
    expect(f32ToF16Bits(1e10)).toBe(0x7c00);
    expect(f32ToF16Bits(-1e10)).toBe(0xfc00);
    expect(f32ToF16Bits(Infinity)).toBe(0x7c00);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001);
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // tie with 0: to even
    expect(f32ToF16Bits(2 ** -25 + 2 ** -40)).toBe(0x0001);
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 units: to even
    expect(f32ToF16Bits(1023.5 * 2 ** -24)).toBe(0x0400); // largest subnormal rounds up to the smallest normal
    expect(f32ToF16Bits(1e-30)).toBe(0x0000);
    expect(f32ToF16Bits(-1e-30)).toBe(0x8000);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(NaN)).toBe(0x7e00);
  });

  it('agrees with a search-based reference on exact ties and their neighbours', () => {
    const mismatches: number[] = [];
    for (let h = 0; h < 0x7bff; h++) {
      const mid = (halfValue(h) + halfValue(h + 1)) / 2;
      if (Math.fround(mid) !== mid) mismatches.push(mid); // every tie is a float32 value
      for (const x of [mid, Math.fround(mid * (1 - 2 ** -23)), Math.fround(mid * (1 + 2 ** -23))]) {
        if (f32ToF16Bits(x) !== referenceToHalf(x)) mismatches.push(x);
        if (f32ToF16Bits(-x) !== referenceToHalf(-x)) mismatches.push(-x);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('agrees with the reference on random float32 bit patterns', () => {
    const next = prng(12345);
    const mismatches: number[] = [];
    for (let i = 0; i < 200000; i++) {
      const x = f32FromBits(next());
      if (!Number.isNaN(x) && f32ToF16Bits(x) !== referenceToHalf(x)) mismatches.push(x);
    }
    expect(mismatches).toEqual([]);
  });

  it('rounds a double to float32 first', () => {
    // Just above a half tie as a double, but float32 rounding lands exactly on the tie.
    const x = 1 + 2 ** -11 + 2 ** -30;
    expect(Math.fround(x)).toBe(1 + 2 ** -11);
    expect(f32ToF16Bits(x)).toBe(0x3c00);
  });

  it('keeps the sign of NaN', () => {
    expect(f32ToF16Bits(f32FromBits(0xffc00000))).toBe(0xfe00);
    expect(f32ToF16Bits(f32FromBits(0x7fc00000))).toBe(0x7e00);
  });

  it('keeps NaN payload top bits from Float32Array input, never turning a NaN into infinity', () => {
    const nans = new Float32Array(new Uint32Array([0x7f800001, 0xff812345, 0x7fbfffff]).buffer);
    expect(Array.from(f32ArrayToF16(nans))).toEqual([0x7c01, 0xfc09, 0x7dff]);
  });
});

describe('array conversions', () => {
  it('f16ArrayToF32 matches the scalar conversion bit for bit, NaN payloads included', () => {
    const halves = new Uint16Array(0x10000).map((_, i) => i);
    const floats = f16ArrayToF32(halves);
    const bits = new Uint32Array(floats.buffer);
    const mismatches: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      const ok =
        (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0
          ? bits[h] === (((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13)) >>> 0
          : Object.is(floats[h], f16BitsToF32(h));
      if (!ok) mismatches.push(h);
    }
    expect(mismatches).toEqual([]);
    // And back again, exactly.
    expect(f32ArrayToF16(floats)).toEqual(halves);
  });

  it('f32ArrayToF16 matches the scalar conversion for Float32Array and plain number input', () => {
    const next = prng(7);
    const bits = new Uint32Array(10000).map(() => next());
    const floats = new Float32Array(bits.buffer);
    const viaArray = f32ArrayToF16(floats);
    const viaNumbers = f32ArrayToF16(Array.from(floats));
    const mismatches: string[] = [];
    for (let i = 0; i < floats.length; i++) {
      const expected = Number.isNaN(floats[i])
        ? ((bits[i] >>> 16) & 0x8000) | 0x7c00 | ((bits[i] & 0x7fffff) >>> 13 || 1) // from the bits
        : f32ToF16Bits(floats[i]);
      if (viaArray[i] !== expected) mismatches.push(`0x${bits[i].toString(16)}: ${viaArray[i]} vs ${expected}`);
      if (!Number.isNaN(floats[i]) && viaNumbers[i] !== expected) mismatches.push(`number 0x${bits[i].toString(16)}`);
    }
    expect(mismatches).toEqual([]);
  });

  it('writes into a given destination, as a view when it is longer, and refuses a short one', () => {
    const src = new Float32Array([1, -2, 0.5]);
    const dst = new Uint16Array(5);
    const out = f32ArrayToF16(src, dst);
    expect(out.buffer).toBe(dst.buffer);
    expect(Array.from(out)).toEqual([0x3c00, 0xc000, 0x3800]);
    const back = new Float32Array(3);
    expect(f16ArrayToF32(out, back)).toBe(back);
    expect(Array.from(back)).toEqual([1, -2, 0.5]);
    expect(() => f32ArrayToF16(src, new Uint16Array(2))).toThrow(RangeError);
    expect(() => f16ArrayToF32(out, new Float32Array(2))).toThrow(RangeError);
  });
});
