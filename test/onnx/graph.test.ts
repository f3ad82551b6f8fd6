/**
 * The graph builder itself: typed literal constants and their sharing, names and outputs, float16,
 * and every kind of build error (wrong element type, shape mismatch, unknown value or a value of
 * another graph, opset out of range) — asserting the error class and that the message names the op
 * and the input, not the whole sentence.
 */
import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { DType, Graph, Value, buildModel, decodeModel, decodeModelProto, op } from '../../src/onnx';
import { f16BitsToF32, f32ToF16Bits } from '../../src/io/float16';
import { constantValues, finishModel, nodeProducing, nodesOf } from '../helpers/model';
import { expectClose, runModel } from '../helpers/ort';
import * as ref from '../helpers/reference';

type ErrorClass = typeof TypeError | typeof RangeError;

/** Asserts that `fn` throws `cls` with a message containing every one of `parts`. */
function expectBuildError(fn: () => unknown, cls: ErrorClass, parts: readonly string[]): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(cls);
  const message = (thrown as Error).message;
  for (const p of parts) expect(message).toContain(p);
}

/** A graph at `opset` with one input `x` of `dtype` and `shape`. */
function withInput(dtype: DType, shape: readonly (number | string)[] = [2, 3], opset = 17): [Graph, Value] {
  const g = new Graph({ opset });
  return [g, g.input('x', dtype, shape)];
}

/** The raw little-endian bytes of the Constant producing `name`, from the serialized model. */
function rawConstant(bytes: Uint8Array, name: string): { dataType: number; dims: number[]; raw: number[] } {
  const m = decodeModelProto(bytes);
  const node = (m.graph?.node ?? []).find((n) => (n.output ?? []).includes(name));
  const t = node?.attribute?.find((a) => a.name === 'value')?.t;
  if (!t) throw new Error(`no Constant tensor produces '${name}'`);
  return { dataType: t.dataType ?? 0, dims: (t.dims ?? []).map(Number), raw: Array.from(t.rawData ?? []) };
}

const DT = onnx.TensorProto.DataType;

describe('number literals become typed constants matched to the other operand', () => {
  it.each<[DType, number, number, number[], number]>([
    ['float16', 14, DT.FLOAT16, [0x00, 0x3c], 1], // 1.0 as half: 0x3c00
    ['float32', 14, DT.FLOAT, [0x00, 0x00, 0x80, 0x3f], 1],
    ['float64', 14, DT.DOUBLE, [0, 0, 0, 0, 0, 0, 0xf0, 0x3f], 1],
    ['int8', 14, DT.INT8, [0x01], 1],
    ['int32', 14, DT.INT32, [1, 0, 0, 0], 1],
    ['int64', 14, DT.INT64, [1, 0, 0, 0, 0, 0, 0, 0], 1],
    ['uint8', 14, DT.UINT8, [1], 1],
  ])('%s x + 1 makes a %s constant', (dtype, opset, code, raw, value) => {
    const [g, x] = withInput(dtype, [3], opset);
    const y = op.add(x, value);
    expect(y.dtype).toBe(dtype);
    g.output(y, 'y');
    const bytes = finishModel(`literal-${dtype}`, g);
    const add = nodeProducing(decodeModel(bytes).graph.nodes, 'y');
    expect(rawConstant(bytes, add.inputs[1])).toEqual({ dataType: code, dims: [], raw });
  });

  it('writes float16 literals as raw half bits, rounded to nearest even', () => {
    const [g, x] = withInput('float16', [3]);
    g.output(op.mul(op.add(x, 1.5), 0.1), 'y');
    const bytes = finishModel('literal-float16-bits', g);
    const nodes = decodeModel(bytes).graph.nodes;
    const add = nodesOf(decodeModel(bytes), 'Add')[0];
    const mul = nodeProducing(nodes, 'y');
    expect(rawConstant(bytes, add.inputs[1]).raw).toEqual([0x00, 0x3e]); // 1.5 = 0x3e00
    const bits = f32ToF16Bits(0.1); // 0x2e66
    expect(rawConstant(bytes, mul.inputs[1]).raw).toEqual([bits & 0xff, bits >> 8]);
    expect(constantValues(nodes, mul.inputs[1]).values).toEqual([f16BitsToF32(bits)]);
  });

  it('types a literal on the left from the right operand', () => {
    const [g, x] = withInput('int64', [3]);
    const y = op.sub(10, x);
    g.output(y, 'y');
    const nodes = decodeModel(finishModel('literal-left', g)).graph.nodes;
    expect(constantValues(nodes, nodeProducing(nodes, 'y').inputs[0])).toEqual({ dtype: 'int64', dims: [], values: [10] });
  });

  it('shares equal constants: one Constant node for two uses of 1', () => {
    const [g, x] = withInput('float32');
    const a = op.add(x, 1);
    const b = op.sub(a, 1);
    const c = op.mul(b, g.constant(1, 'float32'));
    g.output(op.max(c, 1.0), 'y');
    const model = decodeModel(finishModel('shared-constant', g));
    expect(nodesOf(model, 'Constant')).toHaveLength(1);
    const one = nodesOf(model, 'Constant')[0].outputs[0];
    for (const t of ['Add', 'Sub', 'Mul', 'Max']) expect(nodesOf(model, t)[0].inputs[1]).toBe(one);
  });

  it('keeps constants apart by type, value, shape and the sign of zero', () => {
    const g = new Graph({ opset: 17 });
    const f = g.input('f', 'float32', [3]);
    const d = g.input('d', 'float64', [3]);
    const i = g.input('i', 'int64', [3]);
    const outs = [op.add(f, 1), op.add(d, 1), op.add(i, 1), op.add(f, 2), op.add(f, 0), op.add(f, -0)];
    const vec = g.constant([1], 'float32');
    expect(vec).not.toBe(g.constant(1, 'float32'));
    expect(vec).toBe(g.constant([1], 'float32'));
    expect(g.constant([1, 2], 'int64')).toBe(g.constant([1, 2], 'int64'));
    expect(g.constant([1, 2], 'int64', [2, 1])).not.toBe(g.constant([1, 2], 'int64'));
    outs.forEach((v, n) => g.output(v, `y${n}`));
    const model = decodeModel(finishModel('distinct-constants', g));
    // f32 1, f64 1, i64 1, f32 2, f32 0, f32 -0, f32 [1], i64 [1,2], i64 [[1],[2]].
    expect(nodesOf(model, 'Constant')).toHaveLength(9);
  });

  it('runs the literal constants in onnxruntime', async () => {
    const [g, x] = withInput('float64', [4]);
    g.output(op.div(op.sub(op.mul(x, 3), 1), 2), 'y');
    const out = await runModel(finishModel('literal-run', g), { x: { dtype: 'float64', dims: [4], data: [0, 1, 2.5, -4] } });
    expect(out.y.data).toEqual([0, 1, 2.5, -4].map((v) => (v * 3 - 1) / 2));
  });
});

describe('names and outputs', () => {
  it('renames an intermediate value to the output name, with no Identity', () => {
    const [g, x] = withInput('float32');
    const y = op.sigmoid(x);
    const out = g.output(y, 'prob');
    expect(out).toBe(y);
    expect(y.name).toBe('prob');
    const model = decodeModel(finishModel('rename-output', g));
    expect(model.graph.nodes.map((n) => n.opType)).toEqual(['Sigmoid']);
    expect(model.graph.nodes[0].outputs).toEqual(['prob']);
  });

  it('outputs an input, a constant or an already-output value through Identity', () => {
    const [g, x] = withInput('float32');
    const s = op.sigmoid(x);
    g.output(s, 's');
    const again = g.output(s, 's2');
    const same = g.output(x, 'x_out');
    const k = g.output(g.constant(2, 'float32'), 'two');
    const nodes = decodeModel(finishModel('identity-outputs', g)).graph.nodes;
    for (const v of [again, same, k]) expect(nodeProducing(nodes, v.name).opType).toBe('Identity');
    expect(g.outputs.map((o) => o.name)).toEqual(['s', 's2', 'x_out', 'two']);
  });

  it('names generated values deterministically', () => {
    const names = (): string[] => {
      const [g, x] = withInput('float32');
      const v = op.exp(op.neg(op.add(x, 1)));
      return [x.name, v.name, ...g.nodes.flatMap((n) => n.outputs.map((o) => o.name))];
    };
    expect(names()).toEqual(names());
  });

  it.each<[string, (g: Graph, x: Value) => unknown, string[]]>([
    ['a duplicate input name', (g) => g.input('x', 'float32', [1]), ["input 'x'", "'x' is already used"]],
    ['a duplicate output name', (g, x) => (g.output(op.abs(x), 'y'), g.output(op.neg(x), 'y')), ["output 'y'"]],
    ['an output named like an input', (g, x) => g.output(op.abs(x), 'x'), ["output 'x'"]],
    ['a negative dimension', (g) => g.input('z', 'float32', [-1]), ["input 'z'", 'dimension']],
    ['a constant that does not fill its shape', (g) => g.constant([1, 2, 3], 'float32', [2, 2]), ['Constant', '[2, 2]']],
  ])('refuses %s (RangeError)', (_, fn, parts) => {
    const [g, x] = withInput('float32');
    expectBuildError(() => fn(g, x), RangeError, parts);
  });

  it('refuses an unknown element type for an input (TypeError)', () => {
    const g = new Graph({ opset: 17 });
    expectBuildError(() => g.input('z', 'float128' as DType, [1]), TypeError, ["input 'z'", 'float128']);
  });

  it('refuses a model with no outputs, and a function body as a model', () => {
    const [g] = withInput('float32');
    expectBuildError(() => buildModel(g), RangeError, ['buildModel', 'no outputs']);
    const body = new Graph({ opset: 17, kind: 'function' });
    expectBuildError(() => buildModel(body), TypeError, ['buildModel', 'function body']);
  });
});

describe('float16', () => {
  it('runs float16 inputs cast to float32 inside, fed as Uint16Array raw bits', async () => {
    const g = new Graph({ opset: 17 });
    const x = g.input('x', 'float16', ['N', 3]);
    const p = op.sigmoid(op.cast(x, 'float32'));
    expect(p.dtype).toBe('float32');
    expect(p.shape).toEqual(['N', 3]);
    g.output(p, 'p');
    g.output(op.cast(op.mul(p, 2), 'float16'), 'twice');
    const bytes = finishModel('float16-cast', g);
    const info = decodeModel(bytes);
    expect(info.graph.inputs).toEqual([{ name: 'x', dtype: 'float16', shape: ['N', 3] }]);
    expect(info.graph.outputs.map((o) => o.dtype)).toEqual(['float32', 'float16']);

    const values = [-2, -0.5, 0, 0.25, 1.5, 3];
    const bits = Uint16Array.from(values, f32ToF16Bits);
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
    const out = await session.run({ x: new ort.Tensor('float16', bits, [2, 3]) });
    await session.release();
    expect(out.p.type).toBe('float32');
    expectClose(Array.from(out.p.data as Float32Array), values.map(ref.sigmoid), 1e-6, 1e-7);
    expect(out.twice.type).toBe('float16');
    expect(out.twice.data).toBeInstanceOf(Uint16Array);
    const half = Array.from(out.twice.data as Uint16Array);
    expect(half).toEqual(values.map((v) => f32ToF16Bits(Math.fround(2 * ref.sigmoid(v)))));
  });

  it('runs float16 arithmetic with a float16 literal', async () => {
    const [g, x] = withInput('float16', [4]);
    g.output(op.add(x, 1.5), 'y');
    const out = await runModel(finishModel('float16-add', g), { x: { dtype: 'float16', dims: [4], data: [0, 1, -2, 0.5] } });
    expect(out.y.dtype).toBe('float16');
    expect(out.y.data).toEqual([1.5, 2.5, -0.5, 2]);
  });
});

describe('build errors', () => {
  const other = (dtype: DType = 'float32', shape: readonly (number | string)[] = [2, 3]): Value =>
    new Graph({ opset: 17 }).input('o', dtype, shape);

  describe('wrong element type (TypeError)', () => {
    it.each<[string, DType, (x: Value, g: Graph) => unknown, string[], number?]>([
      ['Sigmoid of int32', 'int32', (x) => op.sigmoid(x), ['Sigmoid', 'input X', 'int32']],
      ['Softplus of int64', 'int64', (x) => op.softplus(x), ['Softplus', 'input X']],
      ['Log of bool', 'bool', (x) => op.log(x), ['Log', 'input X']],
      ['Neg of uint8', 'uint8', (x) => op.neg(x), ['Neg', 'input X']],
      ['Not of float32', 'float32', (x) => op.not(x), ['Not', 'input X']],
      ['Add float32 + float64', 'float32', (x, g) => op.add(x, g.input('b', 'float64', [3])), ['Add', 'input B', 'float64']],
      ['Add of int8 at opset 13', 'int8', (x) => op.add(x, x), ['Add', 'input A', 'int8'], 13],
      ['Div of uint8 at opset 13', 'uint8', (x) => op.div(x, 2), ['Div', 'input A'], 13],
      ['Mul of bool', 'bool', (x) => op.mul(x, x), ['Mul', 'input A']],
      ['ReduceSum of int8', 'int8', (x) => op.reduceSum(x), ['ReduceSum', 'input data', 'int8'], 21],
      ['ReduceMean of uint8', 'uint8', (x) => op.reduceMean(x, { axes: [0] }), ['ReduceMean', 'input data'], 18],
      ['ReduceMax of bool', 'bool', (x) => op.reduceMax(x), ['ReduceMax', 'input data']],
      ['Softmax of int32', 'int32', (x) => op.softmax(x), ['Softmax', 'input input']],
      ['LogSoftmax of int64', 'int64', (x) => op.logSoftmax(x), ['LogSoftmax', 'input input']],
      ['Greater of bool', 'bool', (x) => op.greater(x, x), ['Greater', 'input A']],
      ['Less int32 < float32', 'int32', (x, g) => op.less(x, g.input('b', 'float32', [3])), ['Less', 'input B']],
      ['And of float32', 'float32', (x) => op.and(x, x), ['And', 'input A']],
      ['Pow of int8', 'int8', (x) => op.pow(x, 2), ['Pow', 'input X']],
      ['Pow with a bool exponent', 'float32', (x, g) => op.pow(x, g.input('e', 'bool', [3])), ['Pow', 'input Y']],
      ['Where with a float condition', 'float32', (x) => op.where(x, x, 0), ['Where', 'input condition']],
      ['Where float32 / float64 branches', 'bool', (c, g) => op.where(c, g.input('a', 'float32', [3]), g.input('b', 'float64', [3])), ['Where', 'input Y']],
      ['Clip with a float64 bound', 'float32', (x, g) => op.clip(x, g.input('lo', 'float64', [])), ['Clip', 'input min']],
      ['Clip of bool', 'bool', (x) => op.clip(x), ['Clip', 'input input']],
      ['Concat float32 with int64', 'float32', (x, g) => op.concat([x, g.input('b', 'int64', [2, 3])], 0), ['Concat', 'input #1']],
      ['Max float32 with int32', 'float32', (x, g) => op.max(x, g.input('b', 'int32', [3])), ['Max', 'input #1']],
      ['Gather with float indices', 'float32', (x, g) => op.gather(x, g.input('i', 'float32', [1])), ['Gather', 'input indices']],
      ['GatherElements with int8 indices', 'float32', (x, g) => op.gatherElements(x, g.input('i', 'int8', [2, 3])), ['GatherElements', 'input indices']],
      ['OneHot with bool indices', 'bool', (x, g) => op.oneHot(x, 3, g.constant([0, 1], 'float32')), ['OneHot', 'input indices']],
      ['Cast to an unknown type', 'float32', (x) => op.cast(x, 'float128' as DType), ['Cast', "'to'", 'float128']],
      ['a fractional literal for int32', 'int32', (x) => op.add(x, 0.5), ['Add', 'input B', '0.5']],
      ['a NaN literal', 'float32', (x) => op.mul(x, NaN), ['Mul', 'input B']],
      ['a string operand', 'float32', (x) => op.equal(x, '1' as unknown as number), ['Equal', 'input B']],
    ])('%s', (_, dtype, fn, parts, opset = 17) => {
      const [g, x] = withInput(dtype, [2, 3], opset);
      expectBuildError(() => fn(x, g), TypeError, parts);
    });

    it('accepts int8 Add and Div from opset 14', () => {
      const [, x] = withInput('int8', [3], 14);
      expect(op.add(x, x).dtype).toBe('int8');
      expect(op.div(x, 2).dtype).toBe('int8');
    });

    it('refuses an integer literal outside its type (RangeError)', () => {
      const [, x] = withInput('int8', [3], 14);
      expectBuildError(() => op.add(x, 300), RangeError, ['Add', 'input B', '300', 'int8']);
      const [, u] = withInput('uint8', [3], 14);
      expectBuildError(() => op.max(u, -1), RangeError, ['Max', 'input #1', '-1']);
      const [, i] = withInput('int64', [3]);
      expectBuildError(() => op.add(i, 2 ** 53), TypeError, ['Add', 'input B']);
    });
  });

  describe('shape mismatch (RangeError)', () => {
    it.each<[string, (number | string)[], (x: Value, g: Graph) => unknown, string[]]>([
      ['Add [2,3] + [4]', [2, 3], (x, g) => op.add(x, g.input('b', 'float32', [4])), ['Add', 'input B', '[4]']],
      ['Add [N,3] + [M,3] (two symbols)', ['N', 3], (x, g) => op.add(x, g.input('b', 'float32', ['M', 3])), ['Add', 'input B']],
      ['Max of three, the third off', [2, 3], (x, g) => op.max(x, 1, g.input('c', 'float32', [2, 2])), ['Max', 'input #2']],
      ['Where condition against X', [3], (c, g) => op.where(g.input('k', 'bool', [2]), c, 0), ['Where', 'input X']],
      ['Concat off-axis dimension', [2, 3], (x, g) => op.concat([x, g.input('b', 'float32', [3, 3])], 1), ['Concat', 'input #1']],
      ['Concat of different ranks', [2, 3], (x, g) => op.concat([x, g.input('b', 'float32', [3])], 0), ['Concat', 'input #1', 'rank']],
      ['Concat axis out of range', [2, 3], (x) => op.concat([x, x], 2), ['Concat', 'axis']],
      ['Clip with a vector bound', [2, 3], (x, g) => op.clip(x, 0, g.input('hi', 'float32', [1])), ['Clip', 'input max', 'rank 0']],
      ['OneHot with 3 values', [3], (x, g) => op.oneHot(op.cast(x, 'int64'), 3, g.constant([0, 1, 2], 'float32')), ['OneHot', 'input values']],
      ['OneHot with a vector depth', [3], (x, g) => op.oneHot(op.cast(x, 'int64'), g.constant([3], 'int64'), g.constant([0, 1], 'float32')), ['OneHot', 'input depth']],
      ['GatherElements rank mismatch', [2, 3], (x, g) => op.gatherElements(x, g.input('i', 'int64', [2])), ['GatherElements', 'input indices']],
      ['Gather axis out of range', [2, 3], (x, g) => op.gather(x, g.input('i', 'int64', [1]), 2), ['Gather', 'axis']],
      ['Squeeze of a dimension that is not 1', [2, 3], (x) => op.squeeze(x, [0]), ['Squeeze', 'dimension 0']],
      ['Squeeze with no axes', [2, 1], (x) => op.squeeze(x, []), ['Squeeze', 'axes']],
      ['Unsqueeze with repeated axes', [2, 3], (x) => op.unsqueeze(x, [0, 0]), ['Unsqueeze', 'axes']],
      ['Reshape to a size that does not divide', [2, 3], (x) => op.reshape(x, [4, -1]), ['Reshape', '[4, -1]']],
      ['Reshape to another size', [2, 3], (x) => op.reshape(x, [5]), ['Reshape', '[5]']],
      ['Reshape with two -1', [2, 3], (x) => op.reshape(x, [-1, -1]), ['Reshape', '-1']],
      ['Softmax axis out of range', [2, 3], (x) => op.softmax(x, 2), ['Softmax', 'axis', '2']],
      ['ReduceSum axes out of range', [2, 3], (x) => op.reduceSum(x, { axes: [2] }), ['ReduceSum', 'axes']],
      ['ReduceMean repeated axes', [2, 3], (x) => op.reduceMean(x, { axes: [1, -1] }), ['ReduceMean', 'axes']],
      ['ReduceMean with empty axes', [2, 3], (x) => op.reduceMean(x, { axes: [] }), ['ReduceMean', 'axes']],
      ['ReduceSum with empty axes', [2, 3], (x) => op.reduceSum(x, { axes: [] }), ['ReduceSum', 'axes']],
      ['Max with no inputs', [2, 3], () => op.max(), ['Max']],
      ['Concat with no inputs', [2, 3], () => op.concat([], 0), ['Concat']],
    ])('%s', (_, shape, fn, parts) => {
      const [g, x] = withInput('float32', shape);
      expectBuildError(() => fn(x, g), RangeError, parts);
    });
  });

  describe('unknown value, or a value of another graph (TypeError)', () => {
    it.each<[string, (x: Value, g: Graph) => unknown, string[]]>([
      ['Add with a value of another graph', (x) => op.add(x, other()), ['Add', 'input B', 'another graph']],
      ['Where with Y of another graph', (x) => op.where(op.greater(x, 0), x, other()), ['Where', 'input Y', 'another graph']],
      ['Concat with a value of another graph', (x) => op.concat([x, other()], 0), ['Concat', 'input #1', 'another graph']],
      ['Clip with a bound of another graph', (x) => op.clip(x, other('float32', [])), ['Clip', 'input min', 'another graph']],
      ['OneHot with values of another graph', (x) => op.oneHot(op.cast(x, 'int64'), 2, other('float32', [2])), ['OneHot', 'input values', 'another graph']],
      ['Gather with indices of another graph', (x) => op.gather(x, other('int64', [1])), ['Gather', 'input indices', 'another graph']],
      ['output of a value of another graph', (_, g) => g.output(other(), 'y'), ['output', 'another graph']],
      ['Sigmoid of a string', () => op.sigmoid('x' as unknown as Value), ['Sigmoid', 'input X']],
      ['Exp of undefined', () => op.exp(undefined as unknown as Value), ['Exp', 'input X']],
      ['ReduceSum of an object', () => op.reduceSum({} as unknown as Value), ['ReduceSum', 'input data']],
      ['Gather of a plain object', (x) => op.gather({ name: 'x' } as unknown as Value, x), ['Gather', 'input data']],
      ['Gather with a name for indices', (x) => op.gather(x, 'i' as unknown as Value), ['Gather', 'input indices']],
      ['Add with null', (x) => op.add(x, null as unknown as number), ['Add', 'input B']],
      ['Max with null', (x) => op.max(x, null as unknown as number), ['Max', 'input #1']],
      ['Add of two literals', () => op.add(1, 2), ['Add', 'input A or B']],
      ['Softmax of a number', () => op.softmax(3 as unknown as Value), ['Softmax', 'input input']],
      ['a function attribute in a model graph', (_, g) => g.attributeValue('alpha', 'float'), ["attribute reference 'alpha'"]],
    ])('%s', (_, fn, parts) => {
      const [g, x] = withInput('float32', [2, 3]);
      expectBuildError(() => fn(x, g), TypeError, parts);
    });
  });

  describe('opset outside 13–21 (RangeError)', () => {
    it.each([12, 22, 13.5, NaN, -1])('new Graph({ opset: %p })', (opset) => {
      expectBuildError(() => new Graph({ opset }), RangeError, ['opset', String(opset), '[13, 21]']);
    });

    it.each([13, 21])('accepts opset %i', (opset) => {
      expect(new Graph({ opset }).opset).toBe(opset);
    });
  });
});
