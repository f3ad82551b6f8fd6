/**
 * attachLoss on the real networks (test/fixtures/networks, both torch.onnx exporters): the
 * combined model runs in onnxruntime-node with the network's outputs bit-identical to the network
 * alone and close to PyTorch's own forward pass, the loss equal to the reference loss, `grad` equal
 * to the standalone loss model's gradient at that output; flat and `ai.focal` function forms; the
 * static CUDA placement check and the ONNX checker (onnx 1.23, full check) pass; nothing of the
 * network is lost (compared field for field by onnx 1.23); names that collide are prefixed; the IR
 * version is the higher of the two; external data stays a reference that onnxruntime resolves; and
 * each refusal is one UsageError naming what is wrong.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { UsageError } from '../../src/errors';
import { AttachedModel, attachLoss } from '../../src/attach';
import { buildLoss } from '../../src/losses';
import { Graph, buildModel, decodeModelProto, op, serializeModel } from '../../src/onnx';
import { checkCudaPlacement, formatPlacement } from '../../src/onnx/placement';
import { NETWORKS, NETWORKS_DIR, NetworkEntry } from '../helpers/networks';
import { describePython, runPython } from '../helpers/python';

const DIR = NETWORKS_DIR;

const CASES = NETWORKS.flatMap((n) => n.models.map((m) => ({ n, m })));

function targetTensor(n: NetworkEntry): ort.Tensor {
  const flat = (n.target as unknown[]).flat(4) as number[];
  return n.targetDtype === 'int64'
    ? new ort.Tensor('int64', BigInt64Array.from(flat, (v) => BigInt(v)), [n.outputShape[0]])
    : new ort.Tensor('float32', Float32Array.from(flat), n.outputShape);
}

async function run(bytes: Uint8Array | string, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const s = await ort.InferenceSession.create(bytes as Uint8Array, { executionProviders: ['cpu'], logSeverityLevel: 4 });
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

const bytesOf = (t: ort.Tensor): Buffer => {
  const a = t.data as Float32Array;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
};

describe.each(CASES)('$m.file', ({ n, m }) => {
  const network = fs.readFileSync(path.join(DIR, m.file));

  it.each([false, true])('asFunction %s: network outputs bit-identical, loss = the reference, grad = the loss model’s', async (asFunction) => {
    const a = attachLoss(network, { output: n.output, ...n.loss, asFunction, withGrad: true });
    expect(a.opset).toBe(m.opset);
    expect(a.irVersion).toBe(Math.max(m.irVersion, 8));
    expect(a.inputs.map((i) => i.name)).toEqual([n.input, 'target']);
    expect(a.outputs.map((o) => o.name)).toEqual([n.output, 'loss', 'grad']);
    const x = new ort.Tensor('float32', Float32Array.from(n.x), n.inputShape);
    const alone = await run(network, { [n.input]: x });
    const both = await run(a.bytes, { [n.input]: x, target: targetTensor(n) });
    expect(bytesOf(both[n.output]).equals(bytesOf(alone[n.output]))).toBe(true);
    const y = Array.from(both[n.output].data as Float32Array);
    y.forEach((v, i) => expect(Math.abs(v - n.forward[i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(n.forward[i]))));
    const loss = (both.loss.data as Float32Array)[0];
    expect(Math.abs(loss - n.referenceLoss)).toBeLessThan(2e-5 * Math.max(1e-3, Math.abs(n.referenceLoss)) + 1e-7);
    // The standalone loss model (same options, the output's shape) at the network's output.
    const standalone = buildLoss({ ...n.loss, opset: m.opset, withGrad: true }, { predShape: n.outputShape });
    const ref = await run(standalone.bytes, { pred: both[n.output], target: targetTensor(n) });
    expect(bytesOf(both.grad).equals(bytesOf(ref.grad))).toBe(true);
    expect((ref.loss.data as Float32Array)[0]).toBe(loss);
  });

  it('the combined model would run wholly on CUDA (static placement check)', () => {
    for (const asFunction of [false, true]) {
      const a = attachLoss(network, { output: n.output, ...n.loss, asFunction, withGrad: true });
      const report = checkCudaPlacement(a.bytes);
      expect(formatPlacement(report)).toEqual([]);
      expect(report.ok).toBe(true);
    }
  });
});

/** The combined model with the loss's additions taken out again: what is left must be the network itself. */
function stripLoss(a: AttachedModel, network: onnx.IModelProto): Uint8Array {
  const m = decodeModelProto(a.bytes);
  const g = m.graph as onnx.IGraphProto;
  const ng = network.graph as onnx.IGraphProto;
  g.node = (g.node ?? []).slice(0, (ng.node ?? []).length);
  g.input = (g.input ?? []).slice(0, (ng.input ?? []).length);
  g.output = (g.output ?? []).slice(0, (ng.output ?? []).length);
  m.functions = (m.functions ?? []).slice(0, (network.functions ?? []).length);
  m.metadataProps = (m.metadataProps ?? []).slice(0, (network.metadataProps ?? []).length);
  m.opsetImport = (m.opsetImport ?? []).slice(0, (network.opsetImport ?? []).length);
  m.irVersion = network.irVersion as number;
  return serializeModel(m);
}

describePython('the combined models, checked by onnx 1.23', (python) => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'focal-attach-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('pass the ONNX checker (full check), and keep every field of the network', () => {
    const files: string[] = [];
    const pairs: string[] = [];
    for (const { n, m } of CASES) {
      const network = fs.readFileSync(path.join(DIR, m.file));
      for (const asFunction of [false, true]) {
        const a = attachLoss(network, { output: n.output, ...n.loss, asFunction, withGrad: true });
        const file = path.join(dir, `${asFunction ? 'fn-' : ''}${m.file}`);
        fs.writeFileSync(file, a.bytes);
        files.push(file);
        const stripped = path.join(dir, `stripped-${asFunction ? 'fn-' : ''}${m.file}`);
        fs.writeFileSync(stripped, stripLoss(a, decodeModelProto(network)));
        pairs.push(path.join(DIR, m.file), stripped);
      }
    }
    const checked = runPython(python, ['-c', 'import sys, onnx\nfor f in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(f), full_check=True)\n    print("ok", f)', ...files]);
    expect(checked.trim().split('\n')).toHaveLength(files.length);
    const compared = runPython(python, ['scripts/compare-models.py', ...pairs]).trim().split('\n').map((l) => JSON.parse(l) as { equal: boolean; differences: string[] });
    expect(compared.map((c) => c.differences)).toEqual(compared.map(() => []));
    expect(compared.every((c) => c.equal)).toBe(true);
  });

  it("keeps the network's own functions, metadata and value_info beside the ai.focal function", async () => {
    const src = path.join(dir, 'with-function.onnx');
    runPython(python, ['-c', FUNCTION_NETWORK, src]);
    const network = fs.readFileSync(src);
    const a = attachLoss(network, { output: 'probs', task: 'multilabel', asFunction: true, withGrad: true });
    const m = decodeModelProto(a.bytes);
    expect((m.functions ?? []).map((f) => `${f.domain}.${f.name}`)).toEqual(['ai.example.Squash', 'ai.focal.MultiLabelFocalLoss']);
    expect((m.opsetImport ?? []).map((o) => o.domain).sort()).toEqual(['', 'ai.example', 'ai.focal']);
    const out = path.join(dir, 'with-function-loss.onnx');
    fs.writeFileSync(out, a.bytes);
    const stripped = path.join(dir, 'with-function-stripped.onnx');
    fs.writeFileSync(stripped, stripLoss(a, decodeModelProto(network)));
    runPython(python, ['-c', 'import sys, onnx\nonnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)', out]);
    const [c] = runPython(python, ['scripts/compare-models.py', src, stripped]).trim().split('\n').map((l) => JSON.parse(l) as { equal: boolean; differences: string[] });
    expect(c.differences).toEqual([]);
    const r = await run(a.bytes, { x: new ort.Tensor('float32', Float32Array.from([-2, -1, 0, 1, 2, 3]), [2, 3]), target: new ort.Tensor('float32', Float32Array.from([0, 0, 1, 1, 1, 0]), [2, 3]) });
    const alone = await run(buildLoss({ task: 'multilabel', withGrad: true }).bytes, { pred: r.probs, target: new ort.Tensor('float32', Float32Array.from([0, 0, 1, 1, 1, 0]), [2, 3]) });
    expect((r.loss.data as Float32Array)[0]).toBe((alone.loss.data as Float32Array)[0]);
  });

  it('keeps external-data references, which onnxruntime resolves next to the combined model', async () => {
    const src = path.join(dir, 'ext.onnx');
    const cnn = path.join(DIR, 'cnn-torchscript.onnx');
    runPython(python, [
      '-c',
      'import sys, onnx\nm = onnx.load(sys.argv[1])\nonnx.save_model(m, sys.argv[2], save_as_external_data=True, all_tensors_to_one_file=True, location="ext.data", size_threshold=0)',
      cnn,
      src,
    ]);
    const net = NETWORKS.find((x) => x.name === 'cnn') as NetworkEntry;
    const a = attachLoss(fs.readFileSync(src), { output: net.output, ...net.loss });
    const external = (decodeModelProto(a.bytes).graph?.initializer ?? []).filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
    expect(external.length).toBeGreaterThan(0);
    for (const t of external) expect(t.externalData?.find((e) => e.key === 'location')?.value).toBe('ext.data');
    const out = path.join(dir, 'ext-loss.onnx');
    fs.writeFileSync(out, a.bytes);
    const r = await run(out, { [net.input]: new ort.Tensor('float32', Float32Array.from(net.x), net.inputShape), target: targetTensor(net) });
    expect(Math.abs((r.loss.data as Float32Array)[0] - net.referenceLoss)).toBeLessThan(2e-5 * net.referenceLoss);
  });
});

/** A small network of the builder's own: x [N, 3] → Sigmoid → `out` (and whatever names it is given). */
function tinyNetwork(opts: { opset?: number; input?: string; output?: string; dtype?: 'float32' | 'float64' } = {}): Uint8Array {
  const g = new Graph({ opset: opts.opset ?? 17 });
  const x = g.input(opts.input ?? 'x', opts.dtype ?? 'float32', ['N', 3]);
  g.output(op.sigmoid(op.mul(x, 2)), opts.output ?? 'out');
  return serializeModel(buildModel(g, { metadata: { owner: 'me' } }));
}

describe('the public API', () => {
  it('exports attachLoss and evaluateNetwork', async () => {
    const api = await import('../../src/index');
    expect(typeof api.attachLoss).toBe('function');
    expect(typeof api.evaluateNetwork).toBe('function');
    expect(api.COLLISION_PREFIX).toBe('focal_');
  });
});

describe('names, versions and refusals', () => {
  it('prefixes the loss’s names that the network already uses (target, loss, intermediate values)', async () => {
    // The network's input is called 'target' and its output 'loss'; the builder names its
    // intermediates as the loss's do (mul_0, …).
    const net = tinyNetwork({ input: 'target', output: 'loss' });
    const a = attachLoss(net, { output: 'loss', task: 'multilabel', withGrad: true });
    expect(a.names).toEqual({ target: 'focal_target', loss: 'focal_loss', grad: 'grad' });
    expect(a.inputs.map((i) => i.name)).toEqual(['target', 'focal_target']);
    expect(a.outputs.map((o) => o.name)).toEqual(['loss', 'focal_loss', 'grad']);
    const nodes = decodeModelProto(a.bytes).graph?.node ?? [];
    const outs = nodes.flatMap((nd) => nd.output ?? []);
    expect(new Set(outs).size).toBe(outs.length);
    expect(new Set(nodes.map((nd) => nd.name)).size).toBe(nodes.length);
    const r = await run(a.bytes, {
      target: new ort.Tensor('float32', Float32Array.from([0, 1, -1, 2, 0.5, -3]), [2, 3]),
      focal_target: new ort.Tensor('float32', Float32Array.from([0, 1, 0, 1, 1, 0]), [2, 3]),
    });
    const alone = await run(buildLoss({ task: 'multilabel', withGrad: true }).bytes, { pred: r.loss, target: new ort.Tensor('float32', Float32Array.from([0, 1, 0, 1, 1, 0]), [2, 3]) });
    expect((r.focal_loss.data as Float32Array)[0]).toBe((alone.loss.data as Float32Array)[0]);
    expect(decodeModelProto(a.bytes).metadataProps?.map((p) => p.key)[0]).toBe('owner');
  });

  it('stamps the higher IR version: an IR 7 network (opset 13) with the function form (IR 8)', () => {
    const net = tinyNetwork({ opset: 13 });
    expect(Number(decodeModelProto(net).irVersion)).toBe(7);
    expect(attachLoss(net, { output: 'out', task: 'multilabel' }).irVersion).toBe(7);
    expect(attachLoss(net, { output: 'out', task: 'multilabel', asFunction: true }).irVersion).toBe(8);
  });

  it('builds the loss in the output’s float type (float64)', async () => {
    const a = attachLoss(tinyNetwork({ dtype: 'float64' }), { output: 'out', task: 'multilabel', alpha: [0.1, 0.5, 0.9] });
    expect(a.options.dtype).toBe('float64');
    const r = await run(a.bytes, { x: new ort.Tensor('float64', Float64Array.from([1, 2, 3]), [1, 3]), target: new ort.Tensor('float64', Float64Array.from([1, 0, 1]), [1, 3]) });
    expect(r.loss.type).toBe('float64');
  });

  function refuses(bytes: Uint8Array, options: Parameters<typeof attachLoss>[1], pattern: RegExp): void {
    let err: unknown;
    try {
      attachLoss(bytes, options, { source: 'net.onnx' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(pattern);
    expect((err as Error).message).not.toMatch(/\n/);
  }

  it('refuses a network below opset 13 in one line that says so', () => {
    const m = decodeModelProto(tinyNetwork({ opset: 13 }));
    m.opsetImport = [{ domain: '', version: 12 }];
    refuses(serializeModel(m), { output: 'out', task: 'multilabel' }, /^net\.onnx: uses opset 12; attach supports networks of opset 13–21 .*re-export it at opset 13 or newer/);
  });

  it.each([
    ['an output the network does not have', { output: 'logits' }, /output 'logits' is not an output of net\.onnx; its outputs: 'out'/],
    ['multiclass on a [N, 3] output with a 2-class alpha', { output: 'out', task: 'multiclass', alpha: [0.5, 0.5] }, /alpha lists 2 values, one per class, but net\.onnx: output 'out' has 3 classes/],
    ['a dtype the output does not hold', { output: 'out', task: 'multilabel', dtype: 'float64' }, /dtype float64 does not match net\.onnx: output 'out', which holds float32/],
    ['an opset other than the network’s', { output: 'out', task: 'multilabel', opset: 18 }, /opset 18 does not match net\.onnx, which uses opset 17/],
    ['a bad loss option', { output: 'out', task: 'multilabel', gamma: -1 }, /gamma must be a finite number >= 0, got -1/],
  ] as const)('refuses %s', (_what, options, pattern) => {
    refuses(tinyNetwork(), options as Parameters<typeof attachLoss>[1], pattern);
  });

  it('refuses an integer output, a rank the task cannot take, and bytes that are not a model', () => {
    const g = new Graph({ opset: 17 });
    g.output(op.cast(g.input('x', 'float32', ['N', 3]), 'int64'), 'cls');
    refuses(serializeModel(buildModel(g)), { output: 'cls' }, /output 'cls' holds int64; the loss needs float16, float32 or float64 predictions/);
    const dense = fs.readFileSync(path.join(DIR, 'dense-dynamo.onnx'));
    refuses(dense, { output: 'cls_logits', task: 'multiclass' }, /has shape \[batch, 16, 5\]; multiclass predictions must be \[N, C\]/);
    refuses(Uint8Array.from([1, 2, 3]), { output: 'out' }, /^net\.onnx: not an ONNX model/);
  });
});

/** A network calling a model-local function of its own (IR 10 fields included); run with the output path. */
const FUNCTION_NETWORK = String.raw`
import sys, onnx
from onnx import helper as h, TensorProto as T
fn = h.make_function("ai.example", "Squash", ["x"], ["y"], [h.make_node("Sigmoid", ["x"], ["y"])], [h.make_opsetid("", 18)], attributes=[])
fn.value_info.extend([h.make_tensor_value_info("y", T.FLOAT, ["N", 3])])
node = h.make_node("Squash", ["x"], ["probs"], domain="ai.example", name="squash")
node.metadata_props.extend([onnx.StringStringEntryProto(key="k", value="v")])
vi = h.make_tensor_value_info("probs", T.FLOAT, ["N", 3])
g = h.make_graph([node], "net", [h.make_tensor_value_info("x", T.FLOAT, ["N", 3])], [h.make_tensor_value_info("probs", T.FLOAT, ["N", 3])], value_info=[])
m = h.make_model(g, opset_imports=[h.make_opsetid("", 18), h.make_opsetid("ai.example", 1)], functions=[fn], ir_version=10)
m.metadata_props.extend([onnx.StringStringEntryProto(key="author", value="me")])
onnx.save(m, sys.argv[1])
`;
