/**
 * Byte-level mutations for the fuzz tests, as fast-check arbitraries (so a failure prints a seed
 * and shrinks to a small list of mutations): bit flips, byte overwrites, truncation, insertion,
 * deletion and duplication of ranges. Positions are fractions of the current length, so one
 * mutation list applies to inputs of any size.
 */
import fc from 'fast-check';

export type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'set'; readonly at: number; readonly byte: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: readonly number[] }
  | { readonly kind: 'delete'; readonly at: number; readonly length: number }
  | { readonly kind: 'duplicate'; readonly at: number; readonly length: number };

const at = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const byte = fc.integer({ min: 0, max: 255 });

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), at, bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('set' as const), at, byte: fc.constantFrom(0, 0x7f, 0x80, 0xff).chain((b) => fc.oneof(fc.constant(b), byte)) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), at, bytes: fc.array(byte, { minLength: 1, maxLength: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at, length: fc.integer({ min: 1, max: 32 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), at, length: fc.integer({ min: 1, max: 64 }) }) },
);

export const mutationsArb = fc.array(mutationArb, { minLength: 1, maxLength: 4 });

/** `bytes` with `mutations` applied in order (a new buffer; the input is untouched). */
export function mutate(bytes: Uint8Array, mutations: readonly Mutation[], region?: { start: number; end: number }): Buffer {
  let b = Buffer.from(bytes);
  for (const m of mutations) {
    // Mutations aim inside `region` (e.g. a header) when given, anywhere otherwise.
    const lo = region ? Math.min(region.start, b.length) : 0;
    const hi = region ? Math.min(region.end, b.length) : b.length;
    const pos = lo + Math.floor(m.at * Math.max(0, hi - lo));
    switch (m.kind) {
      case 'flip':
        if (pos < b.length) b[pos] ^= 1 << m.bit;
        break;
      case 'set':
        if (pos < b.length) b[pos] = m.byte;
        break;
      case 'truncate':
        b = b.subarray(0, pos);
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, pos), Buffer.from(m.bytes), b.subarray(pos)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, pos), b.subarray(pos + m.length)]);
        break;
      case 'duplicate':
        b = Buffer.concat([b.subarray(0, pos + m.length), b.subarray(pos, pos + m.length), b.subarray(pos + m.length)]);
        break;
    }
  }
  return Buffer.from(b);
}
