/**
 * Model-local functions: a custom-domain op whose body is standard ops and refers to the caller's
 * attributes through `Constant` nodes with `ref_attr_name` (`g.attributeValue`). Checks the
 * serialized FunctionProto, the model's opset imports and IR version, and that onnxruntime-node
 * (which inlines the body at load) gives the numbers of the same body built flat, in several opsets.
 *
 * onnxruntime issue #22687 (a Constant whose value refers to a function attribute failing shape
 * inference, reported against ORT 1.19) does not reproduce with onnxruntime-node 1.30, in the
 * builder's IR 8 form (`attribute`) nor in the IR 9 form (`attribute_proto`); its error appears only
 * when the attribute is not declared at all, which FunctionDef refuses to build.
 */
import { onnx } from 'onnx-proto';
import { AttrInfo, FunctionDef, Graph, Value, attr, buildModel, decodeModel, irVersionFor, op, serializeModel } from '../../src/onnx';
import { finishModel } from '../helpers/model';
import { recordModel } from '../helpers/record-model';
import { HostTensor, expectClose, runModel } from '../helpers/ort';
import * as ref from '../helpers/reference';

const OPSETS = [13, 15, 17, 18, 21];
const DOMAIN = 'ai.test';

/** The body: mean over axis 1 of -(1 - sigmoid(x))^gamma * log(sigmoid(x)), times alpha. */
function body(x: Value, alpha: Value, gamma: Value): Value {
  const p = op.sigmoid(x);
  const w = op.pow(op.sub(1, p), gamma);
  const l = op.mul(w, op.log(p));
  return op.mul(op.neg(op.reduceMean(l, { axes: [1], keepdims: false })), alpha);
}

function focalTerm(opset: number): FunctionDef {
  return new FunctionDef({
    domain: DOMAIN,
    name: 'FocalTerm',
    opset,
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 'C'] }],
    attributes: ['alpha', 'gamma'],
    docString: 'alpha * mean_c(-(1 - p)^gamma log p), p = sigmoid(x)',
    body: (g, [x]) => [['loss', body(x, g.attributeValue('alpha', 'float'), g.attributeValue('gamma', 'float'))]],
  });
}

const CALLS = [
  { alpha: 0.25, gamma: 2 },
  { alpha: 0.75, gamma: 0.5 },
];

/** Two calls of the function with different attributes. */
function functionModel(opset: number): { bytes: Uint8Array; fn: FunctionDef; outputs: Value[] } {
  const fn = focalTerm(opset);
  const g = new Graph({ opset });
  const x = g.input('x', 'float32', ['N', 4]);
  const outputs = CALLS.map(({ alpha, gamma }, i) => g.output(fn.call(g, [x], { alpha: attr.float(alpha), gamma: attr.float(gamma) })[0], `loss${i}`));
  return { bytes: finishModel('function-focal-term', g, { functions: [fn] }), fn, outputs };
}

/** The same two computations built flat, with plain constants. */
function flatModel(opset: number): Uint8Array {
  const g = new Graph({ opset });
  const x = g.input('x', 'float32', ['N', 4]);
  CALLS.forEach(({ alpha, gamma }, i) => g.output(body(x, g.constant(alpha, 'float32'), g.constant(gamma, 'float32')), `loss${i}`));
  return finishModel('function-focal-term-flat', g);
}

const X: HostTensor = { dtype: 'float32', dims: [3, 4], data: [-2, -0.5, 0, 0.5, 1, 2, 3, -1, 0.25, -0.25, 4, -3] };

function expected(alpha: number, gamma: number): number[] {
  const terms = X.data.map((v) => -((1 - ref.sigmoid(v)) ** gamma) * Math.log(ref.sigmoid(v)));
  return ref.reduce(terms, [3, 4], [1], ref.mean).map((m) => alpha * m);
}

describe.each(OPSETS)('model-local function at opset %i', (opset) => {
  it('serializes the FunctionProto: attributes, opset import, body nodes with ref_attr_name', () => {
    const { bytes } = functionModel(opset);
    const model = decodeModel(bytes);
    expect(model.functions).toHaveLength(1);
    const f = model.functions[0];
    expect(f).toMatchObject({ domain: DOMAIN, name: 'FocalTerm', inputs: ['x'], outputs: ['loss'], attributes: ['alpha', 'gamma'] });
    expect(f.opsets).toEqual({ '': opset });
    // alpha and gamma first (the arguments of body() are evaluated first), then the body in order.
    const ops = ['Constant', 'Constant', 'Sigmoid', 'Constant', 'Sub', 'Pow', 'Log', 'Mul'];
    ops.push(...(opset >= 18 ? ['Constant', 'ReduceMean'] : ['ReduceMean']), 'Neg', 'Mul');
    expect(f.nodes.map((n) => n.opType)).toEqual(ops);
    expect(f.nodes.slice(0, 2).map((n) => n.attributes)).toEqual<Record<string, AttrInfo>[]>([
      { value_float: { ref: 'alpha' } },
      { value_float: { ref: 'gamma' } },
    ]);
    const mean = f.nodes.find((n) => n.opType === 'ReduceMean');
    expect(mean?.attributes).toEqual(opset >= 18 ? { keepdims: 0 } : { axes: [1], keepdims: 0 });
  });

  it('imports the custom domain and stamps IR >= 8', () => {
    const { bytes, outputs } = functionModel(opset);
    const model = decodeModel(bytes);
    expect(model.opsets).toEqual({ '': opset, [DOMAIN]: 1 });
    expect(model.irVersion).toBe(Math.max(8, irVersionFor(opset)));
    const calls = model.graph.nodes.filter((n) => n.opType === 'FocalTerm');
    expect(calls.map((n) => [n.domain, n.attributes])).toEqual(CALLS.map((c) => [DOMAIN, c]));
    expect(outputs.map((o) => [o.dtype, o.shape])).toEqual([
      ['float32', ['N']],
      ['float32', ['N']],
    ]);
    expect(model.graph.outputs).toEqual([
      { name: 'loss0', dtype: 'float32', shape: ['N'] },
      { name: 'loss1', dtype: 'float32', shape: ['N'] },
    ]);
  });

  it.each([
    ['default session options', {}],
    ['graph optimizations disabled', { graphOptimizationLevel: 'disabled' as const }],
    ['ahead-of-time inlining disabled', { extra: { session: { disable_aot_function_inlining: '1' } } }],
  ])('runs in onnxruntime-node (%s) like the flat body', async (_, options) => {
    const viaFunction = await runModel(functionModel(opset).bytes, { x: X }, options);
    const flat = await runModel(flatModel(opset), { x: X }, options);
    CALLS.forEach(({ alpha, gamma }, i) => {
      const name = `loss${i}`;
      expect(viaFunction[name].dims).toEqual([3]);
      expect(viaFunction[name].data).toEqual(flat[name].data);
      expectClose(viaFunction[name].data, expected(alpha, gamma), 1e-5, 1e-6);
    });
  });
});

describe('attribute kinds', () => {
  /** y = x * float(k) * weights: an int attribute and a floats attribute. */
  const scale = (opset: number): FunctionDef =>
    new FunctionDef({
      domain: DOMAIN,
      name: 'Scale',
      opset,
      inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 3] }],
      attributes: ['k', 'weights'],
      body: (g, [x]) => {
        const k = g.attributeValue('k', 'int');
        const w = g.attributeValue('weights', 'floats', 3);
        expect([k.dtype, k.shape, w.dtype, w.shape]).toEqual(['int64', [], 'float32', [3]]);
        return [['y', op.mul(op.mul(x, op.cast(k, 'float32')), w)]];
      },
    });

  it.each([13, 18, 21])('runs int and floats attribute references at opset %i', async (opset) => {
    const fn = scale(opset);
    const g = new Graph({ opset });
    const x = g.input('x', 'float32', [2, 3]);
    g.output(fn.call(g, [x], { k: attr.int(3), weights: attr.floats([1, 0.5, -2]) })[0], 'y');
    const bytes = finishModel('function-scale', g, { functions: [fn] });
    const f = decodeModel(bytes).functions[0];
    expect(f.nodes.filter((n) => n.opType === 'Constant').map((n) => n.attributes)).toEqual([{ value_int: { ref: 'k' } }, { value_floats: { ref: 'weights' } }]);
    const out = await runModel(bytes, { x: { dtype: 'float32', dims: [2, 3], data: [1, 2, 3, 4, 5, 6] } });
    expect(out.y.data).toEqual([3, 3, -18, 12, 7.5, -36]);
  });

  it('shares one Constant per referenced attribute', () => {
    const fn = new FunctionDef({
      domain: DOMAIN,
      name: 'Twice',
      opset: 17,
      inputs: [{ name: 'x', dtype: 'float32', shape: [2] }],
      attributes: ['a'],
      body: (g, [x]) => [['y', op.add(op.mul(x, g.attributeValue('a', 'float')), g.attributeValue('a', 'float'))]],
    });
    expect(fn.toProto().node?.filter((n) => n.opType === 'Constant')).toHaveLength(1);
  });
});

describe('IR version with functions', () => {
  it.each([
    [13, 8],
    [14, 8],
    [15, 8],
    [18, 8],
    [19, 9],
    [21, 10],
  ])('opset %i with a function -> IR %i', (opset, ir) => {
    expect(decodeModel(functionModel(opset).bytes).irVersion).toBe(ir);
  });
});

describe('function errors', () => {
  const fn = focalTerm(17);
  const graph = (): [Graph, Value] => {
    const g = new Graph({ opset: 17 });
    return [g, g.input('x', 'float32', ['N', 4])];
  };
  const both = { alpha: attr.float(1), gamma: attr.float(2) };

  it('refuses an input of the wrong element type (TypeError)', () => {
    const g = new Graph({ opset: 17 });
    const x = g.input('x', 'float64', [2, 4]);
    expect(() => fn.call(g, [x], both)).toThrow(TypeError);
    expect(() => fn.call(g, [x], both)).toThrow(/ai\.test\.FocalTerm.*input x/);
  });

  it('refuses an input of the wrong rank (RangeError)', () => {
    const g = new Graph({ opset: 17 });
    const x = g.input('x', 'float32', [8]);
    expect(() => fn.call(g, [x], both)).toThrow(RangeError);
    expect(() => fn.call(g, [x], both)).toThrow(/ai\.test\.FocalTerm.*input x/);
  });

  it('refuses a symbol bound to two sizes (RangeError)', () => {
    const pair = new FunctionDef({
      domain: DOMAIN,
      name: 'Pair',
      opset: 17,
      inputs: [
        { name: 'a', dtype: 'float32', shape: ['N'] },
        { name: 'b', dtype: 'float32', shape: ['N'] },
      ],
      attributes: [],
      body: (_, [a, b]) => [['y', op.add(a, b)]],
    });
    const g = new Graph({ opset: 17 });
    expect(() => pair.call(g, [g.input('a', 'float32', [2]), g.input('b', 'float32', [3])], {})).toThrow(/ai\.test\.Pair.*input b.*N/);
  });

  it('refuses a value of another graph (TypeError)', () => {
    const [, x] = graph();
    const [g] = graph();
    expect(() => fn.call(g, [x], both)).toThrow(TypeError);
    expect(() => fn.call(g, [x], both)).toThrow(/ai\.test\.FocalTerm.*input x.*another graph/);
  });

  it.each<[string, Record<string, ReturnType<typeof attr.float>>, RegExp]>([
    ['a missing attribute', { alpha: attr.float(1) }, /ai\.test\.FocalTerm.*attribute 'gamma'/],
    ['an unknown attribute', { ...both, beta: attr.float(1) }, /ai\.test\.FocalTerm.*'beta'/],
  ])('refuses %s (RangeError)', (_, attrs, message) => {
    const [g, x] = graph();
    expect(() => fn.call(g, [x], attrs)).toThrow(RangeError);
    expect(() => fn.call(g, [x], attrs)).toThrow(message);
  });

  it('refuses a call from a graph of another opset (RangeError)', () => {
    const g = new Graph({ opset: 18 });
    const x = g.input('x', 'float32', ['N', 4]);
    expect(() => fn.call(g, [x], both)).toThrow(RangeError);
    expect(() => fn.call(g, [x], both)).toThrow(/ai\.test\.FocalTerm.*17.*18/);
  });

  it('refuses a body that refers to an undeclared attribute (RangeError)', () => {
    const spec = { domain: DOMAIN, name: 'Bad', opset: 17, inputs: [{ name: 'x', dtype: 'float32' as const, shape: [2] }], attributes: ['alpha'] };
    expect(() => new FunctionDef({ ...spec, body: (g, [x]) => [['y', op.mul(x, g.attributeValue('beta', 'float'))]] })).toThrow(RangeError);
    expect(() => new FunctionDef({ ...spec, body: (g, [x]) => [['y', op.mul(x, g.attributeValue('beta', 'float'))]] })).toThrow(/'Bad'.*'beta'/);
  });

  it('refuses a function with no domain (TypeError) or an opset out of range (RangeError)', () => {
    const spec = { name: 'F', inputs: [], attributes: [], body: () => [] };
    expect(() => new FunctionDef({ ...spec, domain: '', opset: 17 })).toThrow(TypeError);
    expect(() => new FunctionDef({ ...spec, domain: DOMAIN, opset: 12 })).toThrow(RangeError);
    expect(() => new FunctionDef({ ...spec, domain: DOMAIN, opset: 22 })).toThrow(/function 'F': opset.*22/);
  });

  it('refuses a model that calls a function it does not carry, or carries one it never calls', () => {
    const [g, x] = graph();
    g.output(fn.call(g, [x], both)[0], 'y');
    expect(() => finishModel('unused', g)).toThrow(/domain 'ai\.test'/);
    const [h, hx] = graph();
    h.output(op.sigmoid(hx), 'y');
    expect(() => finishModel('unused', h, { functions: [fn] })).toThrow(/ai\.test\.FocalTerm.*never calls/);
  });
});

describe('FunctionProto attribute forms and onnxruntime issue #22687', () => {
  // Named 'Scale', not after a standard op: onnxruntime-node 1.30 aborts the whole process (a
  // libstdc++ assertion, 'Assertion __n < this->size() failed') when a custom-domain node is named
  // Add, Sub, Mul or Div and has fewer inputs than that op — it matches the op type without the
  // domain. So no function in these tests is named after a standard op.
  /** A one-attribute function model at `opset` (as a ModelProto, for tests to rewrite). */
  function scaleModel(opset: number): onnx.IModelProto {
    const fn = new FunctionDef({
      domain: DOMAIN,
      name: 'Scale',
      opset,
      inputs: [{ name: 'x', dtype: 'float32', shape: [2] }],
      attributes: ['alpha'],
      body: (g, [x]) => [['y', op.mul(x, g.attributeValue('alpha', 'float'))]],
    });
    const g = new Graph({ opset });
    g.output(fn.call(g, [g.input('x', 'float32', [2])], { alpha: attr.float(2.5) })[0], 'y');
    return buildModel(g, { functions: [fn] });
  }

  const varint = (n: number): number[] => (n < 0x80 ? [n] : [(n & 0x7f) | 0x80, ...varint(n >>> 7)]);
  /** A length-delimited protobuf field: tag, length, bytes. */
  const field = (num: number, bytes: Uint8Array): number[] => [...varint((num << 3) | 2), ...varint(bytes.length), ...bytes];

  /**
   * The model with its function's attribute declared in `attribute_proto` (FunctionProto field 11,
   * IR 9: attributes with defaults) instead of `attribute`, or (`declare: false`) not at all.
   * onnx-proto 8.0.1 predates field 11, so it is written as raw protobuf, the function as ModelProto
   * field 25.
   */
  function rewritten(model: onnx.IModelProto, declare: boolean): Uint8Array {
    const fn = (model.functions ?? [])[0];
    const alpha = onnx.AttributeProto.encode({ name: 'alpha', type: onnx.AttributeProto.AttributeType.FLOAT, f: 4 }).finish();
    const fnBytes = Uint8Array.from([...onnx.FunctionProto.encode({ ...fn, attribute: [] }).finish(), ...(declare ? field(11, alpha) : [])]);
    const rest = onnx.ModelProto.encode(onnx.ModelProto.fromObject({ ...model, functions: [], irVersion: Math.max(9, Number(model.irVersion)) })).finish();
    return Uint8Array.from([...rest, ...field(25, fnBytes)]);
  }

  const x: HostTensor = { dtype: 'float32', dims: [2], data: [1, 2] };

  it('lists attribute names in FunctionProto.attribute (the IR 8 form)', () => {
    expect(decodeModel(serializeModel(scaleModel(21))).functions[0].attributes).toEqual(['alpha']);
  });

  it.each([13, 17, 21])('runs the builder form in onnxruntime-node at opset %i', async (opset) => {
    const bytes = serializeModel(scaleModel(opset));
    recordModel(`function-scale-attribute-opset${opset}`, bytes);
    expect((await runModel(bytes, { x })).y.data).toEqual([2.5, 5]);
  });

  // #22687 was reported against ORT 1.19; in 1.30 the IR 9 form runs too (the caller's 2.5 wins over
  // the default 4), should the builder ever write defaults.
  it.each([17, 21])('runs the attribute_proto form (IR 9) in onnxruntime-node at opset %i', async (opset) => {
    expect((await runModel(rewritten(scaleModel(opset), true), { x })).y.data).toEqual([2.5, 5]);
  });

  // #22687's message is what onnxruntime-node 1.30 says when the function does not declare the
  // attribute its Constant refers to; FunctionDef refuses to build that (see 'function errors').
  it.each([17, 21])('onnxruntime-node rejects an undeclared attribute reference at opset %i', async (opset) => {
    await expect(runModel(rewritten(scaleModel(opset), false), { x })).rejects.toThrow(/Constant.*One and only one of the attributes/);
  });
});

describe('nested functions', () => {
  it('refuses a body that calls another function (TypeError)', () => {
    const inner = new FunctionDef({
      domain: 'ai.inner',
      name: 'Id',
      opset: 17,
      inputs: [{ name: 'x', dtype: 'float32', shape: [2] }],
      attributes: [],
      body: (_, [x]) => [['y', op.identity(x)]],
    });
    const outer = (): FunctionDef =>
      new FunctionDef({
        domain: DOMAIN,
        name: 'Outer',
        opset: 17,
        inputs: [{ name: 'x', dtype: 'float32', shape: [2] }],
        attributes: [],
        body: (g, [x]) => [['y', inner.call(g, [x], {})[0]]],
      });
    expect(outer).toThrow(TypeError);
    expect(outer).toThrow(/'Outer'.*'ai\.inner'.*nested/);
  });
});
