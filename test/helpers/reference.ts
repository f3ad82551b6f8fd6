/**
 * Plain JS reference computations (row-major, float64) to compare onnxruntime's numbers against.
 */

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
export const softplus = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

function unravel(flat: number, shape: readonly number[]): number[] {
  return strides(shape).map((st, i) => Math.floor(flat / st) % shape[i]);
}

function ravel(index: readonly number[], shape: readonly number[]): number {
  const st = strides(shape);
  return index.reduce((a, v, i) => a + v * st[i], 0);
}

const norm = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

/** Groups flat positions by their index with `axes` zeroed (the reduce groups), in output order. */
function groups(shape: readonly number[], axes: readonly number[]): number[][] {
  const out = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const size = shape.reduce((a, b) => a * b, 1);
  const result: number[][] = Array.from({ length: out.reduce((a, b) => a * b, 1) }, () => []);
  for (let flat = 0; flat < size; flat++) {
    const idx = unravel(flat, shape).map((v, i) => (axes.includes(i) ? 0 : v));
    result[ravel(idx, out)].push(flat);
  }
  return result;
}

/** Reduces `data` of `shape` over `axes` (every axis when undefined) with `f`. */
export function reduce(data: readonly number[], shape: readonly number[], axes: readonly number[] | undefined, f: (xs: number[]) => number): number[] {
  const ax = (axes ?? shape.map((_, i) => i)).map((a) => norm(a, shape.length));
  return groups(shape, ax).map((g) => f(g.map((i) => data[i])));
}

export const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
export const mean = (xs: number[]): number => sum(xs) / xs.length;
export const max = (xs: number[]): number => Math.max(...xs);

/** Softmax (or log-softmax) of `data` along `axis`. */
export function softmax(data: readonly number[], shape: readonly number[], axis: number, log = false): number[] {
  const out = new Array<number>(data.length);
  for (const g of groups(shape, [norm(axis, shape.length)])) {
    const m = Math.max(...g.map((i) => data[i]));
    const s = sum(g.map((i) => Math.exp(data[i] - m)));
    for (const i of g) out[i] = log ? data[i] - m - Math.log(s) : Math.exp(data[i] - m) / s;
  }
  return out;
}

/** Elementwise `f` over `a` and `b` broadcast to `shape` (numpy rules). */
export function broadcast2(
  a: readonly number[],
  aShape: readonly number[],
  b: readonly number[],
  bShape: readonly number[],
  shape: readonly number[],
  f: (x: number, y: number) => number,
): number[] {
  const at = (data: readonly number[], s: readonly number[], idx: number[]): number => {
    const local = idx.slice(idx.length - s.length).map((v, i) => (s[i] === 1 ? 0 : v));
    return data[ravel(local, s)];
  };
  const size = shape.reduce((x, y) => x * y, 1);
  return Array.from({ length: size }, (_, flat) => {
    const idx = unravel(flat, shape);
    return f(at(a, aShape, idx), at(b, bShape, idx));
  });
}

/** Transposes a row-major [rows, cols] matrix. */
export function transpose(data: readonly number[], rows: number, cols: number): number[] {
  return Array.from({ length: rows * cols }, (_, k) => data[(k % rows) * cols + Math.floor(k / rows)]);
}
