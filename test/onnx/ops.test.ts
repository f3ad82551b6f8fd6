/**
 * Every emitter in src/onnx/ops.ts, in opsets on both sides of the form changes (ReduceMean and
 * ReduceMax `axes` attribute ≤17 vs input 18+; ReduceSum `axes` input 13+; Clip bounds inputs):
 * the node written (op type, attributes, which inputs and what constants), the inferred element
 * type and shape, and the numbers onnxruntime-node computes against a plain JS computation.
 */
import { AttrInfo, DType, Dim, Graph, Value, decodeModel, op } from '../../src/onnx';
import { constantValues, finishModel, nodeProducing } from '../helpers/model';
import { HostTensor, expectClose, runModel } from '../helpers/ort';
import * as ref from '../helpers/reference';

/** Opsets every emitter is tested in: 17/18 straddle ReduceMean/ReduceMax; 13 and 21 are the ends. */
const OPSETS = [13, 17, 18, 21];

interface InputSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: readonly number[];
}

/** An expected node input: a graph input's name, '' for an omitted optional input, or a Constant. */
type InputForm = string | { readonly dtype: DType; readonly dims: readonly number[]; readonly values: readonly number[] };

interface Form {
  readonly attrs?: Record<string, AttrInfo>;
  readonly inputs: readonly InputForm[];
}

interface EmitterCase {
  readonly title: string;
  /** The op type of the node producing the output. */
  readonly op: string;
  readonly inputs: readonly InputSpec[];
  readonly build: (xs: Value[], g: Graph) => Value;
  readonly dtype: DType;
  readonly shape: readonly Dim[];
  readonly expected: (xs: number[][]) => number[];
  readonly form: (opset: number) => Form;
  readonly opsets?: readonly number[];
}

const X = [-1.5, -0.25, 0, 0.5, 1, 2.5];
const P = [0.25, 0.5, 1, 2, 3, 4];
const f32 = (name: string, data: readonly number[] = X, shape: readonly number[] = [2, 3]): InputSpec => ({ name, dtype: 'float32', shape, data });
const typed = (name: string, dtype: DType, shape: readonly number[], data: readonly number[]): InputSpec => ({ name, dtype, shape, data });
const k = (dtype: DType, values: readonly number[], dims: readonly number[] = []): InputForm => ({ dtype, dims, values });
const plain = (...inputs: InputForm[]): (() => Form) => () => ({ inputs });
/** A reduce op's form: `axes` an attribute before `inputFrom`, a constant int64 input from it. */
const reduceForm =
  (inputFrom: number, axes: readonly number[] | undefined, keepdims: 0 | 1) =>
  (opset: number): Form => {
    if (axes === undefined) return { attrs: { keepdims }, inputs: ['x'] };
    return opset >= inputFrom
      ? { attrs: { keepdims }, inputs: ['x', k('int64', axes, [axes.length])] }
      : { attrs: { axes: [...axes], keepdims }, inputs: ['x'] };
  };

const unaryCase = (opType: string, emit: (x: Value) => Value, f: (x: number) => number, data = X): EmitterCase => ({
  title: `${opType} float32`,
  op: opType,
  inputs: [f32('x', data)],
  build: ([x]) => emit(x),
  dtype: 'float32',
  shape: [2, 3],
  expected: ([x]) => x.map(f),
  form: plain('x'),
});

const CASES: EmitterCase[] = [
  // ---- unary ----
  unaryCase('Sigmoid', op.sigmoid, ref.sigmoid),
  unaryCase('Log', op.log, Math.log, P),
  unaryCase('Exp', op.exp, Math.exp),
  unaryCase('Sqrt', op.sqrt, Math.sqrt, P),
  unaryCase('Reciprocal', op.reciprocal, (x) => 1 / x, P),
  unaryCase('Softplus', op.softplus, ref.softplus),
  unaryCase('Neg', op.neg, (x) => -x),
  unaryCase('Abs', op.abs, Math.abs),
  unaryCase('Sign', op.sign, Math.sign),
  unaryCase('Identity', op.identity, (x) => x),
  {
    title: 'Log float64',
    op: 'Log',
    inputs: [typed('x', 'float64', [6], P)],
    build: ([x]) => op.log(x),
    dtype: 'float64',
    shape: [6],
    expected: ([x]) => x.map(Math.log),
    form: plain('x'),
  },
  {
    title: 'Neg int64',
    op: 'Neg',
    inputs: [typed('x', 'int64', [3], [-2, 0, 5])],
    build: ([x]) => op.neg(x),
    dtype: 'int64',
    shape: [3],
    expected: ([x]) => x.map((v) => -v),
    form: plain('x'),
  },
  {
    title: 'Abs int32',
    op: 'Abs',
    inputs: [typed('x', 'int32', [3], [-7, 0, 4])],
    build: ([x]) => op.abs(x),
    dtype: 'int32',
    shape: [3],
    expected: ([x]) => x.map(Math.abs),
    form: plain('x'),
  },
  {
    title: 'Not bool',
    op: 'Not',
    inputs: [typed('x', 'bool', [3], [1, 0, 1])],
    build: ([x]) => op.not(x),
    dtype: 'bool',
    shape: [3],
    expected: ([x]) => x.map((v) => (v ? 0 : 1)),
    form: plain('x'),
  },
  // ---- binary arithmetic ----
  {
    title: 'Add float32 broadcast [2,3]+[3]',
    op: 'Add',
    inputs: [f32('a'), f32('b', [10, 20, 30], [3])],
    build: ([a, b]) => op.add(a, b),
    dtype: 'float32',
    shape: [2, 3],
    expected: ([a, b]) => ref.broadcast2(a, [2, 3], b, [3], [2, 3], (x, y) => x + y),
    form: plain('a', 'b'),
  },
  {
    title: 'Add int64 + literal 3',
    op: 'Add',
    inputs: [typed('a', 'int64', [3], [1, -2, 40])],
    build: ([a]) => op.add(a, 3),
    dtype: 'int64',
    shape: [3],
    expected: ([a]) => a.map((v) => v + 3),
    form: plain('a', k('int64', [3])),
  },
  {
    title: 'Sub literal 1 - float64',
    op: 'Sub',
    inputs: [typed('x', 'float64', [2, 3], X)],
    build: ([x]) => op.sub(1, x),
    dtype: 'float64',
    shape: [2, 3],
    expected: ([x]) => x.map((v) => 1 - v),
    form: plain(k('float64', [1]), 'x'),
  },
  {
    title: 'Sub float32 [2,1]-[1,3]',
    op: 'Sub',
    inputs: [f32('a', [1, 2], [2, 1]), f32('b', [0.5, 1, 1.5], [1, 3])],
    build: ([a, b]) => op.sub(a, b),
    dtype: 'float32',
    shape: [2, 3],
    expected: ([a, b]) => ref.broadcast2(a, [2, 1], b, [1, 3], [2, 3], (x, y) => x - y),
    form: plain('a', 'b'),
  },
  {
    title: 'Mul float64 * literal 2.5',
    op: 'Mul',
    inputs: [typed('x', 'float64', [2, 3], X)],
    build: ([x]) => op.mul(x, 2.5),
    dtype: 'float64',
    shape: [2, 3],
    expected: ([x]) => x.map((v) => v * 2.5),
    form: plain('x', k('float64', [2.5])),
  },
  {
    title: 'Mul int32 * int32',
    op: 'Mul',
    inputs: [typed('a', 'int32', [3], [2, -3, 4]), typed('b', 'int32', [3], [5, 6, -7])],
    build: ([a, b]) => op.mul(a, b),
    dtype: 'int32',
    shape: [3],
    expected: ([a, b]) => a.map((v, i) => v * b[i]),
    form: plain('a', 'b'),
  },
  {
    title: 'Div float32 / float32',
    op: 'Div',
    inputs: [f32('a'), f32('b', P)],
    build: ([a, b]) => op.div(a, b),
    dtype: 'float32',
    shape: [2, 3],
    expected: ([a, b]) => a.map((v, i) => v / b[i]),
    form: plain('a', 'b'),
  },
  {
    title: 'Div int64 / literal 2',
    op: 'Div',
    inputs: [typed('a', 'int64', [3], [7, 8, 10])],
    build: ([a]) => op.div(a, 2),
    dtype: 'int64',
    shape: [3],
    expected: ([a]) => a.map((v) => Math.trunc(v / 2)),
    form: plain('a', k('int64', [2])),
  },
  {
    title: 'Pow float32 ^ literal 2',
    op: 'Pow',
    inputs: [f32('x')],
    build: ([x]) => op.pow(x, 2),
    dtype: 'float32',
    shape: [2, 3],
    expected: ([x]) => x.map((v) => v ** 2),
    form: plain('x', k('float32', [2])),
  },
  {
    title: 'Pow float32 ^ int64 exponent (its own type)',
    op: 'Pow',
    inputs: [f32('x', P), typed('y', 'int64', [3], [1, 2, 3])],
    build: ([x, y]) => op.pow(x, y),
    dtype: 'float32',
    shape: [2, 3],
    expected: ([x, y]) => ref.broadcast2(x, [2, 3], y, [3], [2, 3], (a, b) => a ** b),
    form: plain('x', 'y'),
  },
  {
    title: 'Max of three with a literal',
    op: 'Max',
    inputs: [f32('a'), f32('b', [0.25, -2, 3], [3])],
    build: ([a, b]) => op.max(a, b, 0),
    dtype: 'float32',
    shape: [2, 3],
    expected: ([a, b]) => ref.broadcast2(a, [2, 3], b, [3], [2, 3], (x, y) => Math.max(x, y, 0)),
    form: plain('a', 'b', k('float32', [0])),
  },
  {
    title: 'Max int32 single input',
    op: 'Max',
    inputs: [typed('a', 'int32', [3], [4, -1, 2])],
    build: ([a]) => op.max(a),
    dtype: 'int32',
    shape: [3],
    expected: ([a]) => a,
    form: plain('a'),
  },
  {
    title: 'Min float32 with literal 1',
    op: 'Min',
    inputs: [f32('a')],
    build: ([a]) => op.min(a, 1),
    dtype: 'float32',
    shape: [2, 3],
    expected: ([a]) => a.map((v) => Math.min(v, 1)),
    form: plain('a', k('float32', [1])),
  },
  // ---- comparisons and logic ----
  {
    title: 'Greater float32 > literal 0.5',
    op: 'Greater',
    inputs: [f32('x')],
    build: ([x]) => op.greater(x, 0.5),
    dtype: 'bool',
    shape: [2, 3],
    expected: ([x]) => x.map((v) => +(v > 0.5)),
    form: plain('x', k('float32', [0.5])),
  },
  {
    title: 'Less int32 broadcast',
    op: 'Less',
    inputs: [typed('a', 'int32', [2, 3], [1, 2, 3, 4, 5, 6]), typed('b', 'int32', [3], [2, 2, 5])],
    build: ([a, b]) => op.less(a, b),
    dtype: 'bool',
    shape: [2, 3],
    expected: ([a, b]) => ref.broadcast2(a, [2, 3], b, [3], [2, 3], (x, y) => +(x < y)),
    form: plain('a', 'b'),
  },
  {
    title: 'Equal int64',
    op: 'Equal',
    inputs: [typed('a', 'int64', [4], [1, 2, 3, 4]), typed('b', 'int64', [4], [1, 0, 3, 0])],
    build: ([a, b]) => op.equal(a, b),
    dtype: 'bool',
    shape: [4],
    expected: ([a, b]) => a.map((v, i) => +(v === b[i])),
    form: plain('a', 'b'),
  },
  {
    title: 'Equal bool',
    op: 'Equal',
    inputs: [typed('a', 'bool', [4], [1, 1, 0, 0]), typed('b', 'bool', [4], [1, 0, 1, 0])],
    build: ([a, b]) => op.equal(a, b),
    dtype: 'bool',
    shape: [4],
    expected: ([a, b]) => a.map((v, i) => +(v === b[i])),
    form: plain('a', 'b'),
  },
  {
    title: 'GreaterOrEqual float32 >= literal 0',
    op: 'GreaterOrEqual',
    inputs: [f32('x')],
    build: ([x]) => op.greaterOrEqual(x, 0),
    dtype: 'bool',
    shape: [2, 3],
    expected: ([x]) => x.map((v) => +(v >= 0)),
    form: plain('x', k('float32', [0])),
  },
  {
    title: 'LessOrEqual float64',
    op: 'LessOrEqual',
    inputs: [typed('a', 'float64', [3], [1, 2, 3]), typed('b', 'float64', [3], [2, 2, 2])],
    build: ([a, b]) => op.lessOrEqual(a, b),
    dtype: 'bool',
    shape: [3],
    expected: ([a, b]) => a.map((v, i) => +(v <= b[i])),
    form: plain('a', 'b'),
  },
  {
    title: 'And bool broadcast',
    op: 'And',
    inputs: [typed('a', 'bool', [2, 2], [1, 1, 0, 1]), typed('b', 'bool', [2], [1, 0])],
    build: ([a, b]) => op.and(a, b),
    dtype: 'bool',
    shape: [2, 2],
    expected: ([a, b]) => ref.broadcast2(a, [2, 2], b, [2], [2, 2], (x, y) => +(x && y)),
    form: plain('a', 'b'),
  },
  {
    title: 'Where(cond, x, literal 0)',
    op: 'Where',
    inputs: [typed('c', 'bool', [2, 3], [1, 0, 1, 0, 1, 0]), f32('x')],
    build: ([c, x]) => op.where(c, x, 0),
    dtype: 'float32',
    shape: [2, 3],
    expected: ([c, x]) => x.map((v, i) => (c[i] ? v : 0)),
    form: plain('c', 'x', k('float32', [0])),
  },
  {
    title: 'Where(cond, literal 1.5, y) broadcast',
    op: 'Where',
    inputs: [typed('c', 'bool', [3], [1, 0, 0]), typed('y', 'float64', [2, 3], X)],
    build: ([c, y]) => op.where(c, 1.5, y),
    dtype: 'float64',
    shape: [2, 3],
    expected: ([c, y]) => y.map((v, i) => (c[i % 3] ? 1.5 : v)),
    form: plain('c', k('float64', [1.5]), 'y'),
  },
  // ---- Clip: bounds are optional scalar inputs ----
  {
    title: 'Clip float32 [-1, 1]',
    op: 'Clip',
    inputs: [f32('x')],
    build: ([x]) => op.clip(x, -1, 1),
    dtype: 'float32',
    shape: [2, 3],
    expected: ([x]) => x.map((v) => Math.min(Math.max(v, -1), 1)),
    form: plain('x', k('float32', [-1]), k('float32', [1])),
  },
  {
    title: 'Clip max only (min omitted)',
    op: 'Clip',
    inputs: [f32('x')],
    build: ([x]) => op.clip(x, undefined, 0.5),
    dtype: 'float32',
    shape: [2, 3],
    expected: ([x]) => x.map((v) => Math.min(v, 0.5)),
    form: plain('x', '', k('float32', [0.5])),
  },
  {
    title: 'Clip min only (a value bound)',
    op: 'Clip',
    inputs: [f32('x'), f32('lo', [0], [])],
    build: ([x, lo]) => op.clip(x, lo),
    dtype: 'float32',
    shape: [2, 3],
    expected: ([x]) => x.map((v) => Math.max(v, 0)),
    form: plain('x', 'lo'),
  },
  {
    title: 'Clip no bounds',
    op: 'Clip',
    inputs: [f32('x')],
    build: ([x]) => op.clip(x),
    dtype: 'float32',
    shape: [2, 3],
    expected: ([x]) => x,
    form: plain('x'),
  },
  {
    title: 'Clip int64',
    op: 'Clip',
    inputs: [typed('x', 'int64', [4], [-5, 0, 3, 9])],
    build: ([x]) => op.clip(x, 0, 4),
    dtype: 'int64',
    shape: [4],
    expected: ([x]) => x.map((v) => Math.min(Math.max(v, 0), 4)),
    form: plain('x', k('int64', [0]), k('int64', [4])),
  },
  // ---- Cast ----
  {
    title: 'Cast float32 -> float64',
    op: 'Cast',
    inputs: [f32('x')],
    build: ([x]) => op.cast(x, 'float64'),
    dtype: 'float64',
    shape: [2, 3],
    expected: ([x]) => x,
    form: () => ({ attrs: { to: 11 }, inputs: ['x'] }),
  },
  {
    title: 'Cast int64 -> float32',
    op: 'Cast',
    inputs: [typed('x', 'int64', [3], [-3, 0, 12])],
    build: ([x]) => op.cast(x, 'float32'),
    dtype: 'float32',
    shape: [3],
    expected: ([x]) => x,
    form: () => ({ attrs: { to: 1 }, inputs: ['x'] }),
  },
  {
    title: 'Cast float32 -> bool',
    op: 'Cast',
    inputs: [f32('x')],
    build: ([x]) => op.cast(x, 'bool'),
    dtype: 'bool',
    shape: [2, 3],
    expected: ([x]) => x.map((v) => +(v !== 0)),
    form: () => ({ attrs: { to: 9 }, inputs: ['x'] }),
  },
  {
    title: 'Cast bool -> int32',
    op: 'Cast',
    inputs: [typed('x', 'bool', [3], [1, 0, 1])],
    build: ([x]) => op.cast(x, 'int32'),
    dtype: 'int32',
    shape: [3],
    expected: ([x]) => x,
    form: () => ({ attrs: { to: 6 }, inputs: ['x'] }),
  },
  // ---- shape ops ----
  {
    title: 'Concat axis 1',
    op: 'Concat',
    inputs: [f32('a'), f32('b', [7, 8], [2, 1])],
    build: ([a, b]) => op.concat([a, b], 1),
    dtype: 'float32',
    shape: [2, 4],
    expected: ([a, b]) => [...a.slice(0, 3), b[0], ...a.slice(3), b[1]],
    form: () => ({ attrs: { axis: 1 }, inputs: ['a', 'b'] }),
  },
  {
    title: 'Concat axis -2 int64',
    op: 'Concat',
    inputs: [typed('a', 'int64', [1, 2], [1, 2]), typed('b', 'int64', [2, 2], [3, 4, 5, 6])],
    build: ([a, b]) => op.concat([a, b], -2),
    dtype: 'int64',
    shape: [3, 2],
    expected: ([a, b]) => [...a, ...b],
    form: () => ({ attrs: { axis: -2 }, inputs: ['a', 'b'] }),
  },
  {
    title: 'Reshape [2,3] -> [3,-1]',
    op: 'Reshape',
    inputs: [f32('x')],
    build: ([x]) => op.reshape(x, [3, -1]),
    dtype: 'float32',
    shape: [3, 2],
    expected: ([x]) => x,
    form: plain('x', k('int64', [3, -1], [2])),
  },
  {
    title: 'Reshape [2,3] -> [0,3,1] (0 copies)',
    op: 'Reshape',
    inputs: [f32('x')],
    build: ([x]) => op.reshape(x, [0, 3, 1]),
    dtype: 'float32',
    shape: [2, 3, 1],
    expected: ([x]) => x,
    form: plain('x', k('int64', [0, 3, 1], [3])),
  },
  {
    title: 'Unsqueeze axes [0,-1]',
    op: 'Unsqueeze',
    inputs: [f32('x')],
    build: ([x]) => op.unsqueeze(x, [0, -1]),
    dtype: 'float32',
    shape: [1, 2, 3, 1],
    expected: ([x]) => x,
    form: plain('x', k('int64', [0, -1], [2])),
  },
  {
    title: 'Squeeze axes [1]',
    op: 'Squeeze',
    inputs: [f32('x', X, [2, 1, 3])],
    build: ([x]) => op.squeeze(x, [1]),
    dtype: 'float32',
    shape: [2, 3],
    expected: ([x]) => x,
    form: plain('x', k('int64', [1], [1])),
  },
  {
    title: 'Shape float32 [2,3]',
    op: 'Shape',
    inputs: [f32('x')],
    build: ([x]) => op.shape(x),
    dtype: 'int64',
    shape: [2],
    expected: () => [2, 3],
    form: plain('x'),
  },
  // ---- indexing ----
  {
    title: 'OneHot int64 indices, depth literal, axis -1',
    op: 'OneHot',
    inputs: [typed('i', 'int64', [3], [0, 2, 1])],
    build: ([i], g) => op.oneHot(i, 3, g.constant([0, 1], 'float32')),
    dtype: 'float32',
    shape: [3, 3],
    expected: ([i]) => i.flatMap((v) => [0, 1, 2].map((c) => +(c === v))),
    form: () => ({ attrs: { axis: -1 }, inputs: ['i', k('int64', [3]), k('float32', [0, 1], [2])] }),
  },
  {
    title: 'OneHot int32 indices, axis 0',
    op: 'OneHot',
    inputs: [typed('i', 'int32', [2], [1, 3])],
    build: ([i], g) => op.oneHot(i, 4, g.constant([-1, 5], 'float32'), 0),
    dtype: 'float32',
    shape: [4, 2],
    expected: ([i]) => [0, 1, 2, 3].flatMap((c) => i.map((v) => (c === v ? 5 : -1))),
    form: () => ({ attrs: { axis: 0 }, inputs: ['i', k('int32', [4]), k('float32', [-1, 5], [2])] }),
  },
  {
    title: 'Gather axis 0 int64 indices',
    op: 'Gather',
    inputs: [f32('d', X, [3, 2]), typed('i', 'int64', [2], [2, 0])],
    build: ([d, i]) => op.gather(d, i, 0),
    dtype: 'float32',
    shape: [2, 2],
    expected: ([d, i]) => i.flatMap((r) => d.slice(r * 2, r * 2 + 2)),
    form: () => ({ attrs: { axis: 0 }, inputs: ['d', 'i'] }),
  },
  {
    title: 'Gather axis 1 int32 indices',
    op: 'Gather',
    inputs: [f32('d', X, [3, 2]), typed('i', 'int32', [1], [1])],
    build: ([d, i]) => op.gather(d, i, 1),
    dtype: 'float32',
    shape: [3, 1],
    expected: ([d]) => [d[1], d[3], d[5]],
    form: () => ({ attrs: { axis: 1 }, inputs: ['d', 'i'] }),
  },
  {
    title: 'Gather scalar index',
    op: 'Gather',
    inputs: [f32('d', X, [3, 2])],
    build: ([d], g) => op.gather(d, g.constant(1, 'int64'), 0),
    dtype: 'float32',
    shape: [2],
    expected: ([d]) => d.slice(2, 4),
    form: () => ({ attrs: { axis: 0 }, inputs: ['d', k('int64', [1])] }),
  },
  {
    title: 'GatherElements axis 1',
    op: 'GatherElements',
    inputs: [f32('d'), typed('i', 'int64', [2, 2], [2, 0, 1, 1])],
    build: ([d, i]) => op.gatherElements(d, i, 1),
    dtype: 'float32',
    shape: [2, 2],
    expected: ([d, i]) => i.map((c, n) => d[Math.floor(n / 2) * 3 + c]),
    form: () => ({ attrs: { axis: 1 }, inputs: ['d', 'i'] }),
  },
  // ---- reductions ----
  {
    title: 'ReduceSum axes [1] keepdims',
    op: 'ReduceSum',
    inputs: [f32('x')],
    build: ([x]) => op.reduceSum(x, { axes: [1] }),
    dtype: 'float32',
    shape: [2, 1],
    expected: ([x]) => ref.reduce(x, [2, 3], [1], ref.sum),
    form: reduceForm(13, [1], 1),
  },
  {
    title: 'ReduceSum every axis, keepdims 0',
    op: 'ReduceSum',
    inputs: [f32('x')],
    build: ([x]) => op.reduceSum(x, { keepdims: false }),
    dtype: 'float32',
    shape: [],
    expected: ([x]) => [ref.sum(x)],
    form: reduceForm(13, undefined, 0),
  },
  {
    title: 'ReduceSum int64 axes [0]',
    op: 'ReduceSum',
    inputs: [typed('x', 'int64', [2, 3], [1, 2, 3, 4, 5, 6])],
    build: ([x]) => op.reduceSum(x, { axes: [0], keepdims: false }),
    dtype: 'int64',
    shape: [3],
    expected: ([x]) => ref.reduce(x, [2, 3], [0], ref.sum),
    form: reduceForm(13, [0], 0),
  },
  {
    title: 'ReduceMean axes [1] keepdims',
    op: 'ReduceMean',
    inputs: [f32('x')],
    build: ([x]) => op.reduceMean(x, { axes: [1] }),
    dtype: 'float32',
    shape: [2, 1],
    expected: ([x]) => ref.reduce(x, [2, 3], [1], ref.mean),
    form: reduceForm(18, [1], 1),
  },
  {
    title: 'ReduceMean axes [-1, 0] keepdims 0 float64',
    op: 'ReduceMean',
    inputs: [typed('x', 'float64', [2, 3], X)],
    build: ([x]) => op.reduceMean(x, { axes: [-1, 0], keepdims: false }),
    dtype: 'float64',
    shape: [],
    expected: ([x]) => [ref.mean(x)],
    form: reduceForm(18, [-1, 0], 0),
  },
  {
    title: 'ReduceMean every axis',
    op: 'ReduceMean',
    inputs: [f32('x')],
    build: ([x]) => op.reduceMean(x),
    dtype: 'float32',
    shape: [1, 1],
    expected: ([x]) => [ref.mean(x)],
    form: reduceForm(18, undefined, 1),
  },
  {
    title: 'ReduceMax axes [0] keepdims 0',
    op: 'ReduceMax',
    inputs: [f32('x')],
    build: ([x]) => op.reduceMax(x, { axes: [0], keepdims: false }),
    dtype: 'float32',
    shape: [3],
    expected: ([x]) => ref.reduce(x, [2, 3], [0], ref.max),
    form: reduceForm(18, [0], 0),
  },
  {
    title: 'ReduceMax int32 every axis',
    op: 'ReduceMax',
    inputs: [typed('x', 'int32', [2, 2], [3, -1, 9, 2])],
    build: ([x]) => op.reduceMax(x),
    dtype: 'int32',
    shape: [1, 1],
    expected: ([x]) => [Math.max(...x)],
    form: reduceForm(18, undefined, 1),
  },
  {
    title: 'ReduceMin axes [1] keepdims 0',
    op: 'ReduceMin',
    inputs: [f32('x')],
    build: ([x]) => op.reduceMin(x, { axes: [1], keepdims: false }),
    dtype: 'float32',
    shape: [2],
    expected: ([x]) => ref.reduce(x, [2, 3], [1], (xs) => Math.min(...xs)),
    form: reduceForm(18, [1], 0),
  },
  {
    title: 'ReduceL1 every axis, keepdims 0',
    op: 'ReduceL1',
    inputs: [f32('x')],
    build: ([x]) => op.reduceL1(x, { keepdims: false }),
    dtype: 'float32',
    shape: [],
    expected: ([x]) => [ref.sum(x.map(Math.abs))],
    form: reduceForm(18, undefined, 0),
  },
  {
    title: 'ReduceL1 axes [0] keepdims',
    op: 'ReduceL1',
    inputs: [f32('x')],
    build: ([x]) => op.reduceL1(x, { axes: [0] }),
    dtype: 'float32',
    shape: [1, 3],
    expected: ([x]) => ref.reduce(x.map(Math.abs), [2, 3], [0], ref.sum),
    form: reduceForm(18, [0], 1),
  },
  // ---- matrix product ----
  {
    title: 'MatMul [1,2] x [2,3]',
    op: 'MatMul',
    inputs: [f32('a', [1, 1], [1, 2]), f32('b')],
    build: ([a, b]) => op.matMul(a, b),
    dtype: 'float32',
    shape: [1, 3],
    expected: ([, b]) => [b[0] + b[3], b[1] + b[4], b[2] + b[5]],
    form: plain('a', 'b'),
  },
  {
    title: 'MatMul [2,3] x [3] (1-D B)',
    op: 'MatMul',
    inputs: [f32('a'), f32('b', [1, 2, 3], [3])],
    build: ([a, b]) => op.matMul(a, b),
    dtype: 'float32',
    shape: [2],
    expected: ([a, b]) => [0, 1].map((r) => a[3 * r] * b[0] + a[3 * r + 1] * b[1] + a[3 * r + 2] * b[2]),
    form: plain('a', 'b'),
  },
  // ---- softmax family (per axis from opset 13) ----
  {
    title: 'Softmax axis -1',
    op: 'Softmax',
    inputs: [f32('x')],
    build: ([x]) => op.softmax(x),
    dtype: 'float32',
    shape: [2, 3],
    expected: ([x]) => ref.softmax(x, [2, 3], -1),
    form: () => ({ attrs: { axis: -1 }, inputs: ['x'] }),
  },
  {
    title: 'Softmax axis 0 of [2,3] (not coerced to 2-D)',
    op: 'Softmax',
    inputs: [f32('x')],
    build: ([x]) => op.softmax(x, 0),
    dtype: 'float32',
    shape: [2, 3],
    expected: ([x]) => ref.softmax(x, [2, 3], 0),
    form: () => ({ attrs: { axis: 0 }, inputs: ['x'] }),
  },
  {
    title: 'Softmax axis 1 of [2,2,2]',
    op: 'Softmax',
    inputs: [typed('x', 'float64', [2, 2, 2], [0, 1, 2, 3, -1, 0.5, 4, 1])],
    build: ([x]) => op.softmax(x, 1),
    dtype: 'float64',
    shape: [2, 2, 2],
    expected: ([x]) => ref.softmax(x, [2, 2, 2], 1),
    form: () => ({ attrs: { axis: 1 }, inputs: ['x'] }),
  },
  {
    title: 'LogSoftmax axis -1',
    op: 'LogSoftmax',
    inputs: [f32('x')],
    build: ([x]) => op.logSoftmax(x),
    dtype: 'float32',
    shape: [2, 3],
    expected: ([x]) => ref.softmax(x, [2, 3], -1, true),
    form: () => ({ attrs: { axis: -1 }, inputs: ['x'] }),
  },
  {
    title: 'LogSoftmax axis 0',
    op: 'LogSoftmax',
    inputs: [f32('x')],
    build: ([x]) => op.logSoftmax(x, 0),
    dtype: 'float32',
    shape: [2, 3],
    expected: ([x]) => ref.softmax(x, [2, 3], 0, true),
    form: () => ({ attrs: { axis: 0 }, inputs: ['x'] }),
  },
];

const TOLERANCE: Partial<Record<DType, [number, number]>> = { float32: [2e-6, 1e-6], float64: [1e-12, 1e-12] };

function checkInput(nodes: Parameters<typeof nodeProducing>[0], actual: string, expected: InputForm): void {
  if (typeof expected === 'string') {
    expect(actual).toBe(expected);
    return;
  }
  expect(actual).not.toBe('');
  expect(constantValues(nodes, actual)).toEqual({ dtype: expected.dtype, dims: [...expected.dims], values: [...expected.values] });
}

describe.each(OPSETS)('emitters at opset %i', (opset) => {
  it.each(CASES.filter((c) => (c.opsets ?? OPSETS).includes(opset)))('$title', async (c) => {
    const g = new Graph({ opset });
    const xs = c.inputs.map((i) => g.input(i.name, i.dtype, i.shape));
    const y = c.build(xs, g);

    // Inferred type and shape.
    expect(y.dtype).toBe(c.dtype);
    expect(y.shape).toEqual(c.shape);

    g.output(y, 'out');
    const bytes = finishModel(`ops-${c.title}`, g);
    const model = decodeModel(bytes);
    expect(model.opsets).toEqual({ '': opset });
    expect(model.graph.outputs).toEqual([{ name: 'out', dtype: c.dtype, shape: [...c.shape] }]);

    // The node's form in this opset.
    const node = nodeProducing(model.graph.nodes, 'out');
    const form = c.form(opset);
    expect(node.opType).toBe(c.op);
    expect(node.domain).toBe('');
    expect(node.attributes).toEqual(form.attrs ?? {});
    expect(node.inputs).toHaveLength(form.inputs.length);
    node.inputs.forEach((name, i) => checkInput(model.graph.nodes, name, form.inputs[i]));

    // onnxruntime-node computes what plain JS computes.
    const feeds: Record<string, HostTensor> = {};
    for (const i of c.inputs) feeds[i.name] = { dtype: i.dtype, dims: i.shape, data: i.data };
    const out = (await runModel(bytes, feeds)).out;
    expect(out.dims).toEqual(c.shape);
    const [rtol, atol] = TOLERANCE[c.dtype] ?? [0, 0];
    expectClose(out.data, c.expected(c.inputs.map((i) => [...i.data])), rtol, atol);
  });
});

describe('form changes by opset', () => {
  const formOf = (opset: number, build: (x: Value) => Value): { opType: string; attrs: object; inputs: number } => {
    const g = new Graph({ opset });
    g.output(build(g.input('x', 'float32', [2, 3])), 'y');
    const node = nodeProducing(decodeModel(finishModel('form', g)).graph.nodes, 'y');
    return { opType: node.opType, attrs: node.attributes, inputs: node.inputs.length };
  };

  it.each([13, 14, 15, 16, 17])('ReduceMean/ReduceMax take axes as an attribute at opset %i', (opset) => {
    for (const f of [op.reduceMean, op.reduceMax]) {
      expect(formOf(opset, (x) => f(x, { axes: [1] }))).toMatchObject({ attrs: { axes: [1], keepdims: 1 }, inputs: 1 });
    }
  });

  it.each([18, 19, 20, 21])('ReduceMean/ReduceMax take axes as an input at opset %i', (opset) => {
    for (const f of [op.reduceMean, op.reduceMax]) {
      expect(formOf(opset, (x) => f(x, { axes: [1] }))).toEqual({ opType: expect.any(String), attrs: { keepdims: 1 }, inputs: 2 });
    }
  });

  it.each([13, 17, 18, 21])('ReduceSum takes axes as an input at opset %i', (opset) => {
    expect(formOf(opset, (x) => op.reduceSum(x, { axes: [1] }))).toEqual({ opType: 'ReduceSum', attrs: { keepdims: 1 }, inputs: 2 });
  });

  it.each([13, 21])('Clip bounds are inputs, never attributes, at opset %i', (opset) => {
    expect(formOf(opset, (x) => op.clip(x, 0, 1))).toEqual({ opType: 'Clip', attrs: {}, inputs: 3 });
  });
});

describe('reshapeLike', () => {
  it('reshapes to the run-time shape of another value, through a Shape node', async () => {
    const g = new Graph({ opset: 17 });
    const x = g.input('x', 'float32', [1, 'n']);
    const like = g.input('like', 'float32', ['a', 'b']);
    const y = op.reshapeLike(x, like);
    expect(y.shape).toEqual(['a', 'b']);
    g.output(y, 'out');
    const bytes = finishModel('ops-reshapeLike', g);
    const model = decodeModel(bytes);
    const node = nodeProducing(model.graph.nodes, 'out');
    expect(node.opType).toBe('Reshape');
    expect(nodeProducing(model.graph.nodes, node.inputs[1]).opType).toBe('Shape');
    const out = await runModel(bytes, {
      x: { dtype: 'float32', dims: [1, 6], data: X },
      like: { dtype: 'float32', dims: [3, 2], data: P },
    });
    expect(out.out.dims).toEqual([3, 2]);
    expect(Array.from(out.out.data)).toEqual(X);
  });

  it('refuses known sizes that differ', () => {
    const g = new Graph({ opset: 17 });
    expect(() => op.reshapeLike(g.input('x', 'float32', [2, 3]), g.input('y', 'float32', [4]))).toThrow(/Reshape: cannot reshape \[2, 3\] \(6 elements\) to \[4\] \(4\)/);
  });
});

describe('matMul', () => {
  it('refuses inner dimensions that differ', () => {
    const g = new Graph({ opset: 17 });
    expect(() => op.matMul(g.input('a', 'float32', [1, 2]), g.input('b', 'float32', [3, 4]))).toThrow(/MatMul: inner dimensions differ/);
  });
});
