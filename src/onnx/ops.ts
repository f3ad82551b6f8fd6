/**
 * One emitter per ONNX operator, named after it (`mul` for Mul, `reduceMean` for ReduceMean).
 *
 * Each emitter checks its inputs against the operator's type constraints (ONNX opsets 13–21),
 * infers the output type and shape, and emits the form the graph's opset wants: Clip bounds as
 * inputs, ReduceSum `axes` as an input (13+) and ReduceMean `axes` as an input from opset 18,
 * Squeeze/Unsqueeze axes as inputs, Softmax per axis. Number literals become constants of the
 * other operand's element type.
 */
import { ALL_DTYPES, DType, DTYPES, FLOAT_DTYPES, NUMERIC_DTYPES, SIGNED_DTYPES } from './dtype';
import { Attr, Dim, Graph, Operand, Shape, Value, attr, describe, encodeValues } from './graph';
import { broadcast, knownSize, normAxis, shapeString } from './shape';

/** Float types for ops defined on tensor(float16|float|double) (bfloat16 is not built). */
const FLOATS = FLOAT_DTYPES;
const INDEX: readonly DType[] = ['int32', 'int64'];

/** The graph of the first value among `operands`; `names` (parallel to them) name the inputs in the error. */
function graphOf(op: string, operands: readonly unknown[], names?: readonly string[]): Graph {
  for (const x of operands) if (x instanceof Value) return x.graph;
  const which = names ? `input ${names.join(' or ')}` : 'at least one input';
  throw new TypeError(`${op}: ${which} must be a value of a graph, got ${operands.map(describe).join(', ')}`);
}

function checkType(op: string, input: string, v: Value, allowed: readonly DType[]): void {
  if (!allowed.includes(v.dtype)) {
    throw new TypeError(`${op}: input ${input} has element type ${v.dtype}; expected one of ${allowed.join(', ')}`);
  }
}

function checkSameType(op: string, first: [string, Value], ...rest: [string, Value][]): void {
  for (const [name, v] of rest) {
    if (v.dtype !== first[1].dtype) {
      throw new TypeError(
        `${op}: input ${name} has element type ${v.dtype}; expected ${first[1].dtype} (the type of input ${first[0]})`,
      );
    }
  }
}

function checkRank(op: string, input: string, v: Value, rank: number): void {
  if (v.rank !== rank) {
    throw new RangeError(`${op}: input ${input} must have rank ${rank}, got shape ${shapeString(v.shape)}`);
  }
}

function single(
  g: Graph,
  op: string,
  inputs: (Value | null)[],
  attrs: Record<string, Attr>,
  dtype: DType,
  shape: Shape,
  known?: readonly Dim[],
): Value {
  return g.addNode(op, inputs, attrs, [{ dtype, shape }], '', known)[0];
}

// ---- element-wise unary -------------------------------------------------------------------------

function unary(op: string, x: Value, allowed: readonly DType[]): Value {
  const g: Graph = graphOf(op, [x], ['X']);
  g.own(op, 'X', x);
  checkType(op, 'X', x, allowed);
  return single(g, op, [x], {}, x.dtype, x.shape);
}

export const sigmoid = (x: Value): Value => unary('Sigmoid', x, FLOATS);
export const log = (x: Value): Value => unary('Log', x, FLOATS);
export const exp = (x: Value): Value => unary('Exp', x, FLOATS);
export const sqrt = (x: Value): Value => unary('Sqrt', x, FLOATS);
export const reciprocal = (x: Value): Value => unary('Reciprocal', x, FLOATS);
export const softplus = (x: Value): Value => unary('Softplus', x, FLOATS);
export const neg = (x: Value): Value => unary('Neg', x, SIGNED_DTYPES);
export const abs = (x: Value): Value => unary('Abs', x, NUMERIC_DTYPES);
export const sign = (x: Value): Value => unary('Sign', x, NUMERIC_DTYPES);
export const identity = (x: Value): Value => unary('Identity', x, ALL_DTYPES);
export const not = (x: Value): Value => unary('Not', x, ['bool']);

// ---- element-wise binary (broadcasting) ---------------------------------------------------------

function operands(op: string, a: Operand, b: Operand, names: [string, string] = ['A', 'B']): [Graph, Value, Value] {
  const g: Graph = graphOf(op, [a, b], names);
  const like = (a instanceof Value ? a : (b as Value)).dtype;
  return [g, g.operand(op, names[0], a, like), g.operand(op, names[1], b, like)];
}

/** Add, Sub, Mul, Div take 8-bit integers only from opset 14. */
const ARITH_13: readonly DType[] = [...FLOATS, 'int32', 'int64'];

function arith(op: string, a: Operand, b: Operand): Value {
  const [g, va, vb] = operands(op, a, b);
  checkType(op, 'A', va, g.opset >= 14 ? NUMERIC_DTYPES : ARITH_13);
  checkSameType(op, ['A', va], ['B', vb]);
  const shape = broadcast(op, [
    { name: 'A', shape: va.shape },
    { name: 'B', shape: vb.shape },
  ]);
  return single(g, op, [va, vb], {}, va.dtype, shape);
}

export const add = (a: Operand, b: Operand): Value => arith('Add', a, b);
export const sub = (a: Operand, b: Operand): Value => arith('Sub', a, b);
export const mul = (a: Operand, b: Operand): Value => arith('Mul', a, b);
export const div = (a: Operand, b: Operand): Value => arith('Div', a, b);

function compare(op: string, a: Operand, b: Operand, allowed: readonly DType[]): Value {
  const [g, va, vb] = operands(op, a, b);
  checkType(op, 'A', va, allowed);
  checkSameType(op, ['A', va], ['B', vb]);
  const shape = broadcast(op, [
    { name: 'A', shape: va.shape },
    { name: 'B', shape: vb.shape },
  ]);
  return single(g, op, [va, vb], {}, 'bool', shape);
}

export const greater = (a: Operand, b: Operand): Value => compare('Greater', a, b, NUMERIC_DTYPES);
export const less = (a: Operand, b: Operand): Value => compare('Less', a, b, NUMERIC_DTYPES);
export const greaterOrEqual = (a: Operand, b: Operand): Value => compare('GreaterOrEqual', a, b, NUMERIC_DTYPES);
export const lessOrEqual = (a: Operand, b: Operand): Value => compare('LessOrEqual', a, b, NUMERIC_DTYPES);
export const equal = (a: Operand, b: Operand): Value => compare('Equal', a, b, [...NUMERIC_DTYPES, 'bool']);

export function and(a: Value, b: Value): Value {
  const [g, va, vb] = operands('And', a, b);
  checkType('And', 'A', va, ['bool']);
  checkSameType('And', ['A', va], ['B', vb]);
  return single(g, 'And', [va, vb], {}, 'bool', broadcast('And', [{ name: 'A', shape: va.shape }, { name: 'B', shape: vb.shape }]));
}

/** Pow(X, Y): X float or int32/int64; the exponent Y may have its own numeric type (opset 12+). */
export function pow(x: Value, y: Operand): Value {
  const g: Graph = graphOf('Pow', [x], ['X']);
  g.own('Pow', 'X', x);
  checkType('Pow', 'X', x, [...FLOATS, 'int32', 'int64']);
  const vy = g.operand('Pow', 'Y', y, x.dtype);
  checkType('Pow', 'Y', vy, NUMERIC_DTYPES);
  const shape = broadcast('Pow', [
    { name: 'X', shape: x.shape },
    { name: 'Y', shape: vy.shape },
  ]);
  return single(g, 'Pow', [x, vy], {}, x.dtype, shape);
}

function variadic(op: string, xs: readonly Operand[]): Value {
  if (xs.length === 0) throw new RangeError(`${op}: needs at least one input`);
  const g: Graph = graphOf(op, xs);
  const like = (xs.find((x) => x instanceof Value) as Value).dtype;
  const vs = xs.map((x, i) => g.operand(op, `#${i}`, x, like));
  checkType(op, '#0', vs[0], NUMERIC_DTYPES);
  vs.slice(1).forEach((v, i) => checkSameType(op, ['#0', vs[0]], [`#${i + 1}`, v]));
  const shape = broadcast(op, vs.map((v, i) => ({ name: `#${i}`, shape: v.shape })));
  return single(g, op, vs, {}, like, shape);
}

export const max = (...xs: Operand[]): Value => variadic('Max', xs);
export const min = (...xs: Operand[]): Value => variadic('Min', xs);

/** Where(C, X, Y): C bool, X and Y one type, all broadcast together. */
export function where(cond: Value, x: Operand, y: Operand): Value {
  const g: Graph = graphOf('Where', [cond], ['condition']);
  g.own('Where', 'condition', cond);
  checkType('Where', 'condition', cond, ['bool']);
  const like = x instanceof Value ? x.dtype : y instanceof Value ? y.dtype : undefined;
  if (like === undefined) throw new TypeError('Where: X or Y must be a value, to give the literal a type');
  const vx = g.operand('Where', 'X', x, like);
  const vy = g.operand('Where', 'Y', y, like);
  checkSameType('Where', ['X', vx], ['Y', vy]);
  const shape = broadcast('Where', [
    { name: 'condition', shape: cond.shape },
    { name: 'X', shape: vx.shape },
    { name: 'Y', shape: vy.shape },
  ]);
  return single(g, 'Where', [cond, vx, vy], {}, like, shape);
}

/** Clip(X, min, max); the bounds are optional scalar inputs (opset 11+) of X's type. */
export function clip(x: Value, lo?: Operand, hi?: Operand): Value {
  const g: Graph = graphOf('Clip', [x], ['input']);
  g.own('Clip', 'input', x);
  checkType('Clip', 'input', x, NUMERIC_DTYPES);
  const bound = (b: Operand | undefined, name: string): Value | null => {
    if (b === undefined) return null;
    const v = g.operand('Clip', name, b, x.dtype);
    checkSameType('Clip', ['input', x], [name, v]);
    checkRank('Clip', name, v, 0);
    return v;
  };
  const inputs = [x, bound(lo, 'min'), bound(hi, 'max')];
  while (inputs.length > 1 && inputs[inputs.length - 1] === null) inputs.pop();
  return single(g, 'Clip', inputs, {}, x.dtype, x.shape);
}

/** Cast(X) to `to`. */
export function cast(x: Value, to: DType): Value {
  const g: Graph = graphOf('Cast', [x], ['input']);
  g.own('Cast', 'input', x);
  if (!ALL_DTYPES.includes(to)) throw new TypeError(`Cast: 'to' must be one of ${ALL_DTYPES.join(', ')}, got ${describe(to)}`);
  return single(g, 'Cast', [x], { to: attr.int(DTYPES[to].code) }, to, x.shape);
}

// ---- shape ops ----------------------------------------------------------------------------------

/** Concat along `axis`: one type, one rank, equal dimensions off the axis. */
export function concat(xs: readonly Value[], axis: number): Value {
  if (xs.length === 0) throw new RangeError('Concat: needs at least one input');
  const g: Graph = graphOf('Concat', xs);
  xs.forEach((x, i) => g.own('Concat', `#${i}`, x));
  const first = xs[0];
  xs.slice(1).forEach((x, i) => checkSameType('Concat', ['#0', first], [`#${i + 1}`, x]));
  xs.forEach((x, i) => checkRank('Concat', `#${i}`, x, first.rank));
  const ax = normAxis('Concat', axis, first.rank);
  const shape: Dim[] = [...first.shape];
  xs.slice(1).forEach((x, i) => {
    x.shape.forEach((d, k) => {
      if (k !== ax && d !== shape[k]) {
        throw new RangeError(
          `Concat: input #${i + 1} has shape ${shapeString(x.shape)}, which differs from input #0 ${shapeString(first.shape)} off axis ${ax}`,
        );
      }
    });
  });
  const along = xs.map((x) => x.shape[ax]);
  shape[ax] = along.every((d) => typeof d === 'number') ? (along as number[]).reduce((a, b) => a + b, 0) : along.join('+');
  return single(g, 'Concat', [...xs], { axis: attr.int(axis) }, first.dtype, shape);
}

/** Reshape(data, shape) with a constant int64 shape (0 copies a dimension, -1 infers one). */
export function reshape(x: Value, shape: readonly number[]): Value {
  const g: Graph = graphOf('Reshape', [x], ['data']);
  g.own('Reshape', 'data', x);
  if (!shape.every((d) => Number.isInteger(d) && d >= -1)) {
    throw new RangeError(`Reshape: shape entries must be integers >= -1, got [${shape.join(', ')}]`);
  }
  if (shape.filter((d) => d === -1).length > 1) throw new RangeError(`Reshape: at most one -1 in shape, got [${shape.join(', ')}]`);
  const out: Dim[] = shape.map((d, i) => {
    if (d !== 0) return d;
    if (i >= x.rank) throw new RangeError(`Reshape: shape entry ${i} is 0 but data ${shapeString(x.shape)} has no dimension ${i}`);
    return x.shape[i];
  });
  const inferred = out.indexOf(-1);
  const total = knownSize(x.shape);
  const rest = knownSize(out.filter((_, i) => i !== inferred));
  if (inferred >= 0) {
    if (total !== undefined && rest !== undefined) {
      if (rest === 0 || total % rest !== 0) {
        throw new RangeError(`Reshape: cannot reshape ${shapeString(x.shape)} to [${shape.join(', ')}]`);
      }
      out[inferred] = total / rest;
    } else if (rest === 1) {
      out[inferred] = x.rank === 1 ? x.shape[0] : x.shape.join('*');
    } else {
      out[inferred] = `${x.shape.join('*')}/${out.filter((_, i) => i !== inferred).join('*')}`;
    }
  } else if (total !== undefined && rest !== undefined && total !== rest) {
    throw new RangeError(`Reshape: cannot reshape ${shapeString(x.shape)} (${total} elements) to [${shape.join(', ')}]`);
  }
  return single(g, 'Reshape', [x, g.constant(shape, 'int64')], {}, x.dtype, out);
}

/**
 * Reshape(data, Shape(like)): `x` in the shape of `like` (the same number of elements, checked
 * where both are known), for restoring a shape that a flattening Reshape took away.
 */
export function reshapeLike(x: Value, like: Value): Value {
  const g: Graph = graphOf('Reshape', [x], ['data']);
  g.own('Reshape', 'data', x);
  g.own('Reshape', 'like', like);
  const a = knownSize(x.shape);
  const b = knownSize(like.shape);
  if (a !== undefined && b !== undefined && a !== b) {
    throw new RangeError(`Reshape: cannot reshape ${shapeString(x.shape)} (${a} elements) to ${shapeString(like.shape)} (${b})`);
  }
  return single(g, 'Reshape', [x, shape(like)], {}, x.dtype, like.shape);
}

/** Unsqueeze(data, axes) — axes as a constant input (opset 13+). */
export function unsqueeze(x: Value, axes: readonly number[]): Value {
  const g: Graph = graphOf('Unsqueeze', [x], ['data']);
  g.own('Unsqueeze', 'data', x);
  const rank = x.rank + axes.length;
  const norm = axes.map((a) => normAxis('Unsqueeze', a, rank, 'axes entry')).sort((a, b) => a - b);
  if (new Set(norm).size !== norm.length) throw new RangeError(`Unsqueeze: repeated axes [${axes.join(', ')}]`);
  const out: Dim[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(norm.includes(i) ? 1 : x.shape[k++]);
  return single(g, 'Unsqueeze', [x, g.constant(axes, 'int64')], {}, x.dtype, out);
}

/** Squeeze(data, axes) — axes as a constant input (opset 13+); each squeezed dimension must be 1. */
export function squeeze(x: Value, axes: readonly number[]): Value {
  const g: Graph = graphOf('Squeeze', [x], ['data']);
  g.own('Squeeze', 'data', x);
  // An empty `axes` input makes Squeeze remove every dimension of size 1, not none.
  if (axes.length === 0) throw new RangeError('Squeeze: axes must not be empty');
  const norm = axes.map((a) => normAxis('Squeeze', a, x.rank, 'axes entry'));
  for (const a of norm) {
    if (x.shape[a] !== 1) throw new RangeError(`Squeeze: dimension ${a} of ${shapeString(x.shape)} is ${x.shape[a]}, not 1`);
  }
  const out = x.shape.filter((_, i) => !norm.includes(i));
  return single(g, 'Squeeze', [x, g.constant(axes, 'int64')], {}, x.dtype, out);
}

/**
 * ConstantOfShape(shape): a tensor of the given int64 shape (a 1-D value, e.g. from Shape) filled
 * with `value` of `dtype`. Its shape is known where the shape value's elements are.
 */
export function constantOfShape(shapeValue: Value, value: number, dtype: DType): Value {
  const g: Graph = graphOf('ConstantOfShape', [shapeValue], ['input']);
  g.own('ConstantOfShape', 'input', shapeValue);
  checkType('ConstantOfShape', 'input', shapeValue, ['int64']);
  checkRank('ConstantOfShape', 'input', shapeValue, 1);
  const rank = shapeValue.shape[0];
  let shape: Dim[];
  if (shapeValue.known) shape = [...shapeValue.known];
  else if (typeof rank === 'number') shape = Array.from({ length: rank }, (_, i) => `${shapeValue.name}[${i}]`);
  else throw new RangeError(`ConstantOfShape: input ${shapeValue} must have a known length`);
  const tensor = { dims: [1], dataType: DTYPES[dtype].code, rawData: encodeValues(dtype, [value]) };
  return single(g, 'ConstantOfShape', [shapeValue], { value: { kind: 'tensor', value: tensor } }, dtype, shape);
}

// ---- indexing -----------------------------------------------------------------------------------

/**
 * OneHot(indices, depth, values) with `axis`: depth a rank-0 tensor and values a rank-1 pair
 * [off, on] (onnxruntime demands both). The output has values' type and depth inserted at axis.
 */
export function oneHot(indices: Value, depth: Operand, values: Value, axis = -1, depthDim?: Dim): Value {
  const g: Graph = graphOf('OneHot', [indices], ['indices']);
  g.own('OneHot', 'indices', indices);
  checkType('OneHot', 'indices', indices, NUMERIC_DTYPES);
  const vd = g.operand('OneHot', 'depth', depth, indices.dtype);
  checkType('OneHot', 'depth', vd, NUMERIC_DTYPES);
  checkRank('OneHot', 'depth', vd, 0);
  g.own('OneHot', 'values', values);
  checkRank('OneHot', 'values', values, 1);
  if (values.shape[0] !== 2) throw new RangeError(`OneHot: input values must have shape [2], got ${shapeString(values.shape)}`);
  const rank = indices.rank + 1;
  const ax = normAxis('OneHot', axis, rank);
  // A computed depth says which dimension it stands for through `depthDim` (e.g. the 'C' of pred).
  const d: Dim = vd.known ? vd.known[0] : (depthDim ?? 'depth');
  const shape: Dim[] = [...indices.shape];
  shape.splice(ax, 0, d);
  return single(g, 'OneHot', [indices, vd, values], { axis: attr.int(axis) }, values.dtype, shape);
}

/** Gather(data, indices) along `axis`. */
export function gather(data: Value, indices: Value, axis = 0): Value {
  const g: Graph = graphOf('Gather', [data, indices], ['data', 'indices']);
  g.own('Gather', 'data', data);
  g.own('Gather', 'indices', indices);
  checkType('Gather', 'indices', indices, INDEX);
  const ax = normAxis('Gather', axis, data.rank);
  const shape = [...data.shape.slice(0, ax), ...indices.shape, ...data.shape.slice(ax + 1)];
  // Gathering known elements (e.g. from a Shape) with constant indices gives known elements.
  let known: Dim[] | undefined;
  if (data.known && data.rank === 1 && indices.known) {
    const n = data.known.length;
    const picked = indices.known.map((i) => (typeof i === 'number' ? data.known?.[i < 0 ? i + n : i] : undefined));
    if (picked.every((d) => d !== undefined)) known = picked as Dim[];
  }
  return single(g, 'Gather', [data, indices], { axis: attr.int(axis) }, data.dtype, shape, known);
}

/** Shape(data): the dimensions as an int64 vector. */
export function shape(x: Value): Value {
  const g: Graph = graphOf('Shape', [x], ['data']);
  g.own('Shape', 'data', x);
  return single(g, 'Shape', [x], {}, 'int64', [x.rank], x.shape);
}

/** GatherElements(data, indices) along `axis`: the output has indices' shape. */
export function gatherElements(data: Value, indices: Value, axis = 0): Value {
  const g: Graph = graphOf('GatherElements', [data, indices], ['data', 'indices']);
  g.own('GatherElements', 'data', data);
  g.own('GatherElements', 'indices', indices);
  checkType('GatherElements', 'indices', indices, INDEX);
  checkRank('GatherElements', 'indices', indices, data.rank);
  normAxis('GatherElements', axis, data.rank);
  return single(g, 'GatherElements', [data, indices], { axis: attr.int(axis) }, data.dtype, indices.shape);
}

// ---- matrix product -----------------------------------------------------------------------------

/**
 * MatMul(A, B) as numpy.matmul: 1-D operands are promoted (and the added axis dropped), leading
 * axes broadcast. One float type (the CUDA kernels: float16, float32, float64).
 */
export function matMul(a: Value, b: Value): Value {
  const g: Graph = graphOf('MatMul', [a, b], ['A', 'B']);
  g.own('MatMul', 'A', a);
  g.own('MatMul', 'B', b);
  checkType('MatMul', 'A', a, FLOATS);
  checkSameType('MatMul', ['A', a], ['B', b]);
  if (a.rank === 0 || b.rank === 0) throw new RangeError(`MatMul: inputs must have rank >= 1, got ${shapeString(a.shape)} and ${shapeString(b.shape)}`);
  const sa: Dim[] = a.rank === 1 ? [1, a.shape[0]] : [...a.shape];
  const sb: Dim[] = b.rank === 1 ? [b.shape[0], 1] : [...b.shape];
  const k1 = sa[sa.length - 1];
  const k2 = sb[sb.length - 2];
  if (typeof k1 === 'number' && typeof k2 === 'number' ? k1 !== k2 : k1 !== k2 && typeof k1 === typeof k2) {
    throw new RangeError(`MatMul: inner dimensions differ: A ${shapeString(a.shape)}, B ${shapeString(b.shape)}`);
  }
  const batch = broadcast('MatMul', [
    { name: 'A', shape: sa.slice(0, -2) },
    { name: 'B', shape: sb.slice(0, -2) },
  ]);
  const out: Dim[] = [...batch];
  if (a.rank > 1) out.push(sa[sa.length - 2]);
  if (b.rank > 1) out.push(sb[sb.length - 1]);
  return single(g, 'MatMul', [a, b], {}, a.dtype, out);
}

// ---- reductions ---------------------------------------------------------------------------------

export interface ReduceOptions {
  /** Axes to reduce; omitted → every axis. */
  readonly axes?: readonly number[];
  /** Keep reduced dimensions as 1 (ONNX's default, true). */
  readonly keepdims?: boolean;
}

/** First opset in which each reduce op takes `axes` as an input instead of an attribute. */
const AXES_AS_INPUT_FROM: Record<string, number> = { ReduceSum: 13, ReduceMean: 18, ReduceMax: 18, ReduceMin: 18, ReduceL1: 18 };

function reduce(op: string, x: Value, options: ReduceOptions, allowed: readonly DType[]): Value {
  const g: Graph = graphOf(op, [x], ['data']);
  g.own(op, 'data', x);
  checkType(op, 'data', x, allowed);
  const keep = options.keepdims ?? true;
  // ONNX reads an empty `axes` as "every axis" (noop_with_empty_axes=0); refuse it rather than guess.
  if (options.axes !== undefined && options.axes.length === 0) {
    throw new RangeError(`${op}: axes must not be empty; omit it to reduce every axis`);
  }
  const axes = options.axes?.map((a) => normAxis(op, a, x.rank, 'axes entry'));
  if (axes && new Set(axes).size !== axes.length) throw new RangeError(`${op}: repeated axes [${options.axes?.join(', ')}]`);
  const reduced = (i: number): boolean => axes === undefined || axes.includes(i);
  const shape: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!reduced(i)) shape.push(d);
    else if (keep) shape.push(1);
  });
  const attrs: Record<string, Attr> = { keepdims: attr.int(keep ? 1 : 0) };
  const inputs: (Value | null)[] = [x];
  if (options.axes !== undefined) {
    if (g.opset >= AXES_AS_INPUT_FROM[op]) inputs.push(g.constant([...options.axes], 'int64'));
    else attrs.axes = attr.ints(options.axes);
  }
  return single(g, op, inputs, attrs, x.dtype, shape);
}

/** ReduceSum (13) and ReduceMean (13, 18) have no 8-bit integer types; ReduceMax has. */
const SUM_TYPES: readonly DType[] = [...FLOATS, 'int32', 'int64'];

export const reduceSum = (x: Value, options: ReduceOptions = {}): Value => reduce('ReduceSum', x, options, SUM_TYPES);
export const reduceMean = (x: Value, options: ReduceOptions = {}): Value => reduce('ReduceMean', x, options, SUM_TYPES);
export const reduceMax = (x: Value, options: ReduceOptions = {}): Value => reduce('ReduceMax', x, options, NUMERIC_DTYPES);
export const reduceMin = (x: Value, options: ReduceOptions = {}): Value => reduce('ReduceMin', x, options, NUMERIC_DTYPES);
/** ReduceL1: the sum of absolute values (13: floats, int32, int64). */
export const reduceL1 = (x: Value, options: ReduceOptions = {}): Value => reduce('ReduceL1', x, options, SUM_TYPES);

// ---- softmax family -----------------------------------------------------------------------------

function softmaxLike(op: string, x: Value, axis: number): Value {
  const g: Graph = graphOf(op, [x], ['input']);
  g.own(op, 'input', x);
  checkType(op, 'input', x, FLOATS);
  // From opset 13 the op normalizes along `axis` alone (before, it coerced to 2-D at `axis`).
  normAxis(op, axis, x.rank);
  return single(g, op, [x], { axis: attr.int(axis) }, x.dtype, x.shape);
}

export const softmax = (x: Value, axis = -1): Value => softmaxLike('Softmax', x, axis);
export const logSoftmax = (x: Value, axis = -1): Value => softmaxLike('LogSoftmax', x, axis);
