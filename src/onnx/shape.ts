/**
 * Shape arithmetic with symbolic dimensions: numpy-style broadcasting and axis normalization.
 */
import { Dim, Shape } from './graph';

/**
 * Broadcasts shapes as ONNX's multidirectional broadcasting does. A symbolic dimension meets 1 (the
 * symbol wins), itself, or a number > 1 (the number wins: the symbol must equal it at run time).
 * Two different symbols, or two different numbers > 1, are a mismatch.
 */
export function broadcast(op: string, inputs: readonly { name: string; shape: Shape }[]): Dim[] {
  const rank = Math.max(...inputs.map((i) => i.shape.length));
  const out: Dim[] = [];
  for (let k = 0; k < rank; k++) {
    let dim: Dim = 1;
    let from = '';
    for (const { name, shape } of inputs) {
      const d = shape[shape.length - rank + k] ?? 1;
      if (d === 1 || d === dim) continue;
      if (dim === 1) {
        dim = d;
        from = name;
      } else if (typeof dim === 'string' && typeof d === 'number') {
        dim = d;
        from = name;
      } else if (!(typeof dim === 'number' && typeof d === 'string')) {
        throw new RangeError(
          `${op}: input ${name} has shape [${shape.join(', ')}], which does not broadcast with input ${from}` +
            ` (dimension ${k - rank} is ${d} against ${dim})`,
        );
      }
    }
    out.push(dim);
  }
  return out;
}

/** Normalizes `axis` against `rank` (negative counts from the end); throws naming the op. */
export function normAxis(op: string, axis: number, rank: number, what = 'axis'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new RangeError(`${op}: ${what} must be an integer in [${-rank}, ${rank - 1}], got ${axis}`);
  }
  return axis < 0 ? axis + rank : axis;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function shapeString(s: Shape): string {
  return `[${s.join(', ')}]`;
}

/** Number of elements when every dimension is known, else undefined. */
export function knownSize(s: Shape): number | undefined {
  let n = 1;
  for (const d of s) {
    if (typeof d !== 'number') return undefined;
    n *= d;
  }
  return n;
}
