/**
 * The ONNX 1.23 schema (src/onnx/proto.ts): generated from the onnx.proto it ships with, and a
 * lossless round trip — real networks exported by torch.onnx (dynamo: IR 10, opset 18;
 * TorchScript: IR 8) and a model using fields up to IR 11 are decoded and re-encoded, then compared
 * field for field by onnx 1.23 in Python (scripts/compare-models.py). The same round trip through
 * onnx-proto 8.0.1 (ONNX 1.10) is shown to lose the dynamo exporter's fields, which is why the
 * schema exists.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { decodeModel, decodeModelProto, serializeModel } from '../../src/onnx';
import { SCHEMA_IR_VERSION } from '../../src/onnx/proto';
import { schemaModule } from '../../scripts/make-onnx-schema';
import { describePython, runPython } from '../helpers/python';

const ROOT = path.join(__dirname, '..', '..');
const NETWORKS = path.join(ROOT, 'test', 'fixtures', 'networks');
const networkFiles = fs.readdirSync(NETWORKS).filter((f) => f.endsWith('.onnx')).sort();

interface Comparison {
  a: string;
  b: string;
  equal: boolean;
  differences: string[];
}

function compare(python: string, pairs: [string, string][]): Comparison[] {
  const out = runPython(python, ['scripts/compare-models.py', ...pairs.flat()]);
  return out.trim().split('\n').map((l) => JSON.parse(l) as Comparison);
}

describe('the schema', () => {
  it('is the one protobufjs generates from the shipped onnx.proto (ONNX 1.23.1, IR 14)', () => {
    const committed = fs.readFileSync(path.join(ROOT, 'src', 'onnx', 'onnx-schema.ts'), 'utf8');
    expect(schemaModule(path.join(ROOT, 'src', 'onnx', 'schema', 'onnx.proto'))).toBe(committed);
    expect(SCHEMA_IR_VERSION).toBe(14);
  });

  it('has both exporters among the networks', () => {
    const irs = networkFiles.map((f) => decodeModel(fs.readFileSync(path.join(NETWORKS, f))).irVersion);
    expect(new Set(irs)).toEqual(new Set([8, 10]));
    expect(networkFiles.length).toBeGreaterThanOrEqual(8);
  });
});

describePython('decode and re-encode, compared by onnx 1.23', (python) => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'focal-schema-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('every real network survives with nothing lost (and onnx-proto 8.0.1 loses the dynamo fields)', () => {
    const pairs: [string, string][] = [];
    const oldPairs: [string, string][] = [];
    for (const f of networkFiles) {
      const bytes = fs.readFileSync(path.join(NETWORKS, f));
      const again = path.join(dir, f);
      fs.writeFileSync(again, serializeModel(decodeModelProto(bytes)));
      pairs.push([path.join(NETWORKS, f), again]);
      const old = path.join(dir, `old-${f}`);
      fs.writeFileSync(old, onnx.ModelProto.encode(onnx.ModelProto.decode(bytes)).finish());
      oldPairs.push([path.join(NETWORKS, f), old]);
    }
    for (const c of compare(python, pairs)) expect({ file: c.a, differences: c.differences, equal: c.equal }).toEqual({ file: c.a, differences: [], equal: true });
    const old = compare(python, oldPairs);
    const dynamoLosses = old.filter((c) => c.a.includes('-dynamo')).map((c) => c.equal);
    expect(dynamoLosses.length).toBeGreaterThan(0);
    expect(dynamoLosses.every((eq) => !eq)).toBe(true);
    expect(old.find((c) => c.a.includes('-dynamo'))?.differences.join(' ')).toMatch(/metadata_props/);
  });

  it('a model with fields up to IR 11 (functions with attribute_proto, overload and value_info; external data; sparse initializers; training info; device configurations) survives too', () => {
    const src = path.join(dir, 'rich.onnx');
    runPython(python, ['-c', RICH_MODEL, src]);
    const again = path.join(dir, 'rich-again.onnx');
    fs.writeFileSync(again, serializeModel(decodeModelProto(fs.readFileSync(src))));
    const [c] = compare(python, [[src, again]]);
    expect(c.differences).toEqual([]);
    expect(c.equal).toBe(true);
    // The external data stays a reference (a file next to the model), not data.
    const t = decodeModelProto(fs.readFileSync(again)).graph?.initializer?.find((x) => x.name === 'w');
    expect(t?.dataLocation).toBe(onnx.TensorProto.DataLocation.EXTERNAL);
    expect(t?.externalData?.map((e) => e.key)).toContain('location');
  });
});

/** Writes a small model using fields onnx-proto 8.0.1 does not know (run with the output path). */
const RICH_MODEL = String.raw`
import sys, numpy as np, onnx
from onnx import helper as h, TensorProto as T, numpy_helper as nh
out = sys.argv[1]
fn = h.make_function("ai.example", "Scale", ["x"], ["y"],
    [h.make_node("Constant", [], ["s"], value_float=2.0), h.make_node("Mul", ["x", "s"], ["y"])],
    [h.make_opsetid("", 21)], attributes=[], overload="v1",
    value_info=[h.make_tensor_value_info("s", T.FLOAT, [])])
fn.attribute_proto.extend([h.make_attribute("k", 3)])
fn.metadata_props.extend([onnx.StringStringEntryProto(key="fk", value="fv")])
node = h.make_node("Scale", ["a"], ["b"], domain="ai.example", overload="v1")
node.metadata_props.extend([onnx.StringStringEntryProto(key="nk", value="nv")])
add = h.make_node("Add", ["b", "w"], ["c"])
w = nh.from_array(np.arange(4, dtype=np.float32), "w")
sp = h.make_sparse_tensor(nh.from_array(np.array([1.0], np.float32), "sp"), nh.from_array(np.array([2], np.int64), "sp_i"), [4])
vi = h.make_tensor_value_info("b", T.FLOAT, ["N"])
vi.metadata_props.extend([onnx.StringStringEntryProto(key="vk", value="vv")])
g = h.make_graph([node, add], "rich", [h.make_tensor_value_info("a", T.FLOAT, [4])], [h.make_tensor_value_info("c", T.FLOAT, [4])],
    initializer=[w], sparse_initializer=[sp], value_info=[vi])
g.metadata_props.extend([onnx.StringStringEntryProto(key="gk", value="gv")])
m = h.make_model(g, opset_imports=[h.make_opsetid("", 21), h.make_opsetid("ai.example", 1)], functions=[fn], ir_version=11)
m.training_info.extend([onnx.TrainingInfoProto(algorithm=h.make_graph([], "train", [], []))])
m.configuration.extend([onnx.DeviceConfigurationProto(name="dev", num_devices=2, device=["a", "b"])])
onnx.save_model(m, out, save_as_external_data=True, all_tensors_to_one_file=True, location="rich.data", size_threshold=0)
`;

describePython('scripts/make-networks.py', (python) => {
  it('is deterministic: a rerun writes the committed networks byte for byte', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'focal-networks-'));
    try {
      runPython(python, ['scripts/make-networks.py', out], undefined, 600_000);
      const made = fs.readdirSync(out).sort();
      expect(made).toEqual(fs.readdirSync(NETWORKS).sort());
      for (const f of made) expect([f, Buffer.from(fs.readFileSync(path.join(out, f))).equals(fs.readFileSync(path.join(NETWORKS, f)))]).toEqual([f, true]);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 600_000);
});
