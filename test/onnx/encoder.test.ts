/**
 * proto.ts's encoder, which walks the reflected schema instead of having protobufjs generate code,
 * writes the bytes protobufjs's own `ModelProto.encode(ModelProto.fromObject(model))` writes: for
 * every model the builder makes here (plain objects: every preset and task, the function and
 * gradient forms, other opsets and types, weights, ignore masks), for every loss attached to a real
 * network (decoded messages with plain objects added), and for decoded files and their plain
 * `toObject` copies (every field of IR 8 to 11 the exporters write).
 */
import * as fs from 'fs';
import * as path from 'path';
import type * as protobuf from 'protobufjs/light';
import * as proto from '../../src/onnx/proto';
import { attachLoss } from '../../src/attach';
import { LossOptions, buildLoss } from '../../src/losses';
import { LIKES } from '../../src/losses/vocabulary';
import { DEFAULT_MODELS } from '../../src/models';
import { NETWORKS, NETWORKS_DIR } from '../helpers/networks';

const ROOT = path.join(__dirname, '..', '..');

/** protobufjs's generated fromObject and encode: what the models' bytes were before the encoder. */
const reference = (model: object): Uint8Array => proto.ModelProtoType.encode(proto.ModelProtoType.fromObject(model as Record<string, unknown>)).finish();

/** Every model object the library encodes while `f` runs, with both encodings of it. */
function encodings(f: () => void): { ours: Buffer; theirs: Buffer }[] {
  const seen: { ours: Buffer; theirs: Buffer }[] = [];
  const encode = proto.encodeModelProto;
  const spy = jest.spyOn(proto, 'encodeModelProto').mockImplementation((m) => {
    const ours = encode(m);
    seen.push({ ours: Buffer.from(ours), theirs: Buffer.from(reference(m)) });
    return ours;
  });
  try {
    f();
  } finally {
    spy.mockRestore();
  }
  return seen;
}

const BUILT: [string, LossOptions][] = [
  ...DEFAULT_MODELS.map((e): [string, LossOptions] => [e.file, e.options]),
  ...LIKES.map((like): [string, LossOptions] => [`like ${like}`, { like }]),
  ['multiclass float16, opset 13, sum', { task: 'multiclass', dtype: 'float16', opset: 13, reduction: 'sum' }],
  ['multiclass ignoreIndex, classWeight, function + grad', { task: 'multiclass', ignoreIndex: -100, classWeight: [1, 2, 3], asFunction: true, withGrad: true }],
  ['binary float64 logits, sample weights, weighted-mean, opset 21', { dtype: 'float64', input: 'logits', weight: 'sample', reduction: 'weighted-mean', opset: 21 }],
  ['multilabel soft targets, label smoothing, none', { task: 'multilabel', targets: 'soft', labelSmoothing: 0.1, reduction: 'none' }],
  ['binary γ 0.5, α none', { gamma: 0.5, alpha: null }],
];

describe('the schema-walking encoder', () => {
  it.each(BUILT)('writes protobufjs bytes for a built loss: %s', (_name, options) => {
    const seen = encodings(() => buildLoss(options));
    expect(seen.length).toBeGreaterThan(0);
    for (const { ours, theirs } of seen) expect(ours.equals(theirs)).toBe(true);
  });

  it.each(NETWORKS.flatMap((n) => n.models.map((m) => ({ n, file: m.file }))))('writes protobufjs bytes for a loss attached to $file', ({ n, file }) => {
    const network = fs.readFileSync(path.join(NETWORKS_DIR, file));
    for (const asFunction of [false, true]) {
      const seen = encodings(() => attachLoss(network, { output: n.output, ...n.loss, asFunction, withGrad: true }));
      expect(seen.length).toBeGreaterThan(0);
      for (const { ours, theirs } of seen) expect(ours.equals(theirs)).toBe(true);
    }
  });

  const FILES = [
    ...fs.readdirSync(NETWORKS_DIR).filter((f) => f.endsWith('.onnx')).map((f) => path.join(NETWORKS_DIR, f)),
    ...fs.readdirSync(path.join(ROOT, 'models')).filter((f) => f.endsWith('.onnx')).map((f) => path.join(ROOT, 'models', f)),
    ...['saved.onnx', 'tagger.onnx'].map((f) => path.join(ROOT, 'test', 'fixtures', 'external', f)),
  ];
  it.each(FILES.map((f) => [path.relative(ROOT, f), f]))('writes protobufjs bytes for %s, decoded and as a plain copy', (_name, file) => {
    const decoded = proto.decodeModelBytes(fs.readFileSync(file));
    const plain = proto.ModelProtoType.toObject(decoded as unknown as protobuf.Message);
    const fromDecoded = Buffer.from(proto.encodeModelProto(decoded));
    expect(fromDecoded.equals(Buffer.from(reference(decoded)))).toBe(true);
    expect(Buffer.from(proto.encodeModelProto(plain)).equals(Buffer.from(reference(plain)))).toBe(true);
    expect(fromDecoded.length).toBeGreaterThan(100);
  });

  it('keeps what fromObject drops and writes what a decoded message holds', () => {
    // A plain object's empty bytes and unknown enum are absent after fromObject; a decoded message's
    // own empty bytes are present (written as an empty field).
    const plain = { irVersion: 8, graph: { name: 'g', initializer: [{ name: 't', dataType: 1, dims: [0], rawData: new Uint8Array(0) }] } };
    expect(Buffer.from(proto.encodeModelProto(plain)).equals(Buffer.from(reference(plain)))).toBe(true);
    const withEmpty = proto.decodeModelBytes(reference({ irVersion: 8, graph: { name: 'g', initializer: [{ name: 't', dataType: 1, dims: [0], rawData: 'AA==' }] } }));
    ((withEmpty.graph as { initializer: object[] }).initializer[0] as { rawData: Uint8Array }).rawData = new Uint8Array(0);
    expect(Buffer.from(proto.encodeModelProto(withEmpty)).equals(Buffer.from(reference(withEmpty)))).toBe(true);
    const named: object = { irVersion: 8, graph: { initializer: [{ name: 't', dataType: 'DOUBLE', dims: ['3'], doubleData: [1, 2, 3] }] } };
    expect(Buffer.from(proto.encodeModelProto(named as never)).equals(Buffer.from(reference(named)))).toBe(true);
  });
});
