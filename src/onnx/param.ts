/**
 * Parameters: a number known when the graph is built, or a value (a model-local function's
 * attribute), so one body serves a flat graph and a function alike. Numbers are folded into typed
 * constants by the helpers here (`fold` and its named forms, `typed`, `divBy`, `scaled`, `pdiv`),
 * not by a `typeof` test at each use.
 */
import { DType } from './dtype';
import { Graph, Value } from './graph';
import * as op from './ops';

export type Param = number | Value;

/** `x` in `dtype` (a Cast only where the types differ). */
export function toType(x: Value, dtype: DType): Value {
  return x.dtype === dtype ? x : op.cast(x, dtype);
}

/** A parameter as an operand of `like`'s type: numbers stay literals, values are cast. */
export function param(p: Param, like: DType): Value | number {
  return typeof p === 'number' ? p : toType(p, like);
}

/** a / b, folded when both are numbers. */
export function pdiv(a: Param, b: Param, like: DType): Param {
  if (typeof a === 'number' && typeof b === 'number') return a / b;
  return op.div(param(a, like), param(b, like));
}

/** f(p) in `ct`: the number `num(p)` when p is a number (folded when the graph is built), else `val` of p (cast to `ct`) in the graph. */
export function fold(p: Param, ct: DType, num: (a: number) => number, val: (v: Value) => Value): Param {
  return typeof p === 'number' ? num(p) : val(toType(p, ct));
}

export const oneMinus = (p: Param, ct: DType): Param => fold(p, ct, (a) => 1 - a, (v) => op.sub(1, v));
export const logOf = (p: Param, ct: DType): Param => fold(p, ct, Math.log, op.log);
export const logOneMinus = (p: Param, ct: DType): Param => fold(p, ct, (a) => Math.log1p(-a), (v) => op.log(op.sub(1, v)));
export const recip = (p: Param, ct: DType): Param => fold(p, ct, (a) => 1 / a, op.reciprocal);
export const minusOne = (p: Param, ct: DType): Param => fold(p, ct, (a) => a - 1, (v) => op.sub(v, 1));

/** A number, or a list as a typed constant of `ct` (a table along one axis, with `tail` size-1 axes after it: [n, 1, …, 1]), after `f` on each entry. */
export function typed(v: number | readonly number[], g: Graph, ct: DType, f: (a: number) => number = (a) => a, tail = 0): number | Value {
  return typeof v === 'number' ? f(v) : g.constant(v.map(f), ct, tail ? [v.length, ...Array(tail).fill(1)] : undefined);
}

/** `v` with `tail` size-1 axes appended, so it broadcasts on an axis `tail` axes before the last; as it is for tail 0 or a scalar. */
export function withTail(v: Value, tail: number): Value {
  return tail === 0 || v.rank === 0 ? v : op.unsqueeze(v, [...Array(tail).keys()].map((i) => v.rank + i));
}

/** x / p: a Mul by the folded 1/p for a number, else a Div. */
export function divBy(x: Value, p: Param): Value {
  return typeof p === 'number' ? op.mul(x, 1 / p) : op.div(x, toType(p, x.dtype));
}

/** x · p, with no node for p = 1 and a Neg for p = −1. */
export function scaled(x: Value, p: Param): Value {
  if (p === 1) return x;
  if (p === -1) return op.neg(x);
  return op.mul(x, param(p, x.dtype));
}
