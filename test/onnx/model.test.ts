/**
 * Models: the IR version stamped for each opset, deterministic serialization (same build, same
 * bytes; decode and re-encode, same bytes), decoding into ModelInfo, and ModelFormatError for bytes
 * that are not a model.
 */
import { onnx } from 'onnx-proto';
import {
  FunctionDef,
  Graph,
  MAX_OPSET,
  MIN_OPSET,
  ModelFormatError,
  PRODUCER_NAME,
  attr,
  buildModel,
  decodeModel,
  decodeModelProto,
  irVersionFor,
  op,
  serializeModel,
} from '../../src/onnx';
import { finishModel } from '../helpers/model';
import { recordModel } from '../helpers/record-model';
import { runModel } from '../helpers/ort';

describe('IR version', () => {
  it.each([
    [13, 7],
    [14, 7],
    [15, 8],
    [16, 8],
    [17, 8],
    [18, 8],
    [19, 9],
    [20, 9],
    [21, 10],
  ])('opset %i -> IR %i, and onnxruntime-node loads it', async (opset, ir) => {
    expect(irVersionFor(opset)).toBe(ir);
    const g = new Graph({ opset });
    g.output(op.abs(g.input('x', 'float32', [2])), 'y');
    const bytes = finishModel('ir-version', g);
    const model = decodeModel(bytes);
    expect(model.irVersion).toBe(ir);
    expect(model.opsets).toEqual({ '': opset });
    const out = await runModel(bytes, { x: { dtype: 'float32', dims: [2], data: [-1, 2] } });
    expect(out.y.data).toEqual([1, 2]);
  });

  it('covers exactly opsets 13 to 21', () => {
    expect([MIN_OPSET, MAX_OPSET]).toEqual([13, 21]);
  });
});

/** A graph using many emitters, a function with attributes, metadata and symbolic dims. */
function richModel(metadataOrder: 'ab' | 'ba' = 'ab'): Uint8Array {
  const opset = 18;
  const fn = new FunctionDef({
    domain: 'ai.test',
    name: 'Shift',
    opset,
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 'C'] }],
    attributes: ['by'],
    body: (g, [x]) => [['y', op.add(x, g.attributeValue('by', 'float'))]],
  });
  const g = new Graph({ opset, name: 'rich' });
  const x = g.input('x', 'float32', ['N', 3]);
  const t = g.input('t', 'int64', ['N']);
  const [shifted] = fn.call(g, [x], { by: attr.float(0.5) });
  const mask = op.oneHot(t, 3, g.constant([0, 1], 'float32'));
  const p = op.clip(op.softmax(shifted), 1e-7, 1);
  const loss = op.neg(op.reduceSum(op.mul(op.log(p), mask), { axes: [1], keepdims: false }));
  g.output(op.reduceMean(loss, { keepdims: false }), 'loss');
  g.output(loss, 'per_sample');
  const metadata = metadataOrder === 'ab' ? { alpha: '0.25', gamma: '2' } : { gamma: '2', alpha: '0.25' };
  return serializeModel(buildModel(g, { functions: [fn], metadata, docString: 'rich model', producerVersion: '0.1.0' }));
}

describe('determinism', () => {
  it('builds the same graph twice into byte-identical models', () => {
    const a = richModel();
    const b = richModel();
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  it('does not depend on the order metadata keys were given in', () => {
    expect(Buffer.from(richModel('ab')).equals(Buffer.from(richModel('ba')))).toBe(true);
  });

  it('re-encodes a decoded model to the same bytes', () => {
    const bytes = richModel();
    const again = onnx.ModelProto.encode(decodeModelProto(bytes)).finish();
    expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
  });

  it('runs the rich model in onnxruntime-node', async () => {
    const bytes = richModel();
    recordModel('model-rich-opset18', bytes);
    const out = await runModel(bytes, {
      x: { dtype: 'float32', dims: [2, 3], data: [0, 1, 2, 1, 1, 1] },
      t: { dtype: 'int64', dims: [2], data: [2, 0] },
    });
    const logSoftmax = (row: number[], k: number): number => row[k] - Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
    const perSample = [-logSoftmax([0.5, 1.5, 2.5], 2), -logSoftmax([1.5, 1.5, 1.5], 0)];
    expect(out.per_sample.data[0]).toBeCloseTo(perSample[0], 6);
    expect(out.per_sample.data[1]).toBeCloseTo(perSample[1], 6);
    expect(out.loss.data[0]).toBeCloseTo((perSample[0] + perSample[1]) / 2, 6);
  });
});

describe('decodeModel', () => {
  it('reads back the model structure', () => {
    const model = decodeModel(richModel());
    expect(model.irVersion).toBe(8);
    expect(model.opsets).toEqual({ '': 18, 'ai.test': 1 });
    expect(model.producer).toBe(`${PRODUCER_NAME} 0.1.0`);
    expect(model.docString).toBe('rich model');
    expect(model.metadata).toEqual({ alpha: '0.25', gamma: '2' });
    expect(model.graph.name).toBe('rich');
    expect(model.graph.inputs).toEqual([
      { name: 'x', dtype: 'float32', shape: ['N', 3] },
      { name: 't', dtype: 'int64', shape: ['N'] },
    ]);
    expect(model.graph.outputs).toEqual([
      { name: 'loss', dtype: 'float32', shape: [] },
      { name: 'per_sample', dtype: 'float32', shape: ['N'] },
    ]);
    expect(model.graph.initializers).toEqual([]);
    expect(model.functions.map((f) => `${f.domain}.${f.name}`)).toEqual(['ai.test.Shift']);
    expect(model.graph.nodes[0]).toMatchObject({ opType: 'Shift', domain: 'ai.test', inputs: ['x'], attributes: { by: 0.5 } });
  });

  it('sorts custom-domain imports by code point', () => {
    const make = (domain: string): FunctionDef =>
      new FunctionDef({ domain, name: 'Id', opset: 17, inputs: [{ name: 'x', dtype: 'float32', shape: [1] }], attributes: [], body: (_, [x]) => [['y', op.identity(x)]] });
    const fns = ['b.test', 'B.test', 'a.test'].map(make);
    const g = new Graph({ opset: 17 });
    let v = g.input('x', 'float32', [1]);
    for (const f of fns) [v] = f.call(g, [v], {});
    g.output(v, 'y');
    const model = buildModel(g, { functions: fns });
    expect(model.opsetImport?.map((o) => o.domain)).toEqual(['', 'B.test', 'a.test', 'b.test']);
  });

  it.each<[string, Uint8Array]>([
    ['empty bytes', new Uint8Array()],
    ['text', new Uint8Array(Buffer.from('this is not an onnx model'))],
    ['0xff bytes', new Uint8Array(64).fill(0xff)],
    ['a truncated model', richModel().slice(0, 100)],
    ['a model with no IR version', onnx.ModelProto.encode({ graph: { name: 'g' } }).finish()],
  ])('throws ModelFormatError on %s', (_, bytes) => {
    expect(() => decodeModel(bytes)).toThrow(ModelFormatError);
    expect(() => decodeModelProto(bytes)).toThrow(ModelFormatError);
  });

  it('ModelFormatError is an Error with its own name', () => {
    const e = new ModelFormatError('x');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('ModelFormatError');
  });
});
