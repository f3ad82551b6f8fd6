/**
 * `focal-onnx inspect`: opset, IR, inputs and outputs with shapes, nodes by op, the loss options
 * from the metadata, the formula (the model's doc_string), and the static CUDA placement (exit 3 with `--ep cuda` when a node would
 * leave the GPU).
 */
import * as fs from 'fs';
import * as path from 'path';
import { buildLoss } from '../../src/losses';
import { Graph, buildModel, op, serializeModel } from '../../src/onnx';
import { runCli, scratchDir } from '../helpers/cli';

const dir = scratchDir('focal-cli-inspect-');

function modelFile(name: string, bytes: Uint8Array): string {
  const f = path.join(dir(), name);
  fs.writeFileSync(f, bytes);
  return f;
}

function badModel(): Uint8Array {
  const g = new Graph({ opset: 17 });
  const x = g.input('x', 'int64', ['N']);
  g.output(op.reduceMean(x, { keepdims: false }), 'm');
  return serializeModel(buildModel(g));
}

describe('focal-onnx inspect', () => {
  it('describes a focal-onnx model', async () => {
    const f = modelFile('ml.onnx', buildLoss({ task: 'multilabel', alpha: [0.2, 0.8], reduction: 'sum' }).bytes);
    const r = await runCli(['inspect', f]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^model {5}.*ml\.onnx \(\d+ bytes\), IR 8, opset 17, by focal-onnx /m);
    expect(r.stdout).toMatch(/^inputs {4}pred float32\[N, 2\], target float32\[N, 2\]$/m);
    expect(r.stdout).toMatch(/^outputs {3}loss float32\[\]$/m);
    expect(r.stdout).toMatch(/^nodes {5}\d+: .*Mul ×\d.*ReduceSum/m);
    expect(r.stdout).toMatch(/^loss {6}multilabel probs α=\[0\.2,0\.8\] γ=2 sum eps=0\.0001 float32 opset 17 arith$/m);
    expect(r.stdout).toMatch(/^CUDA {6}runs wholly on CUDA: \d+ kernel nodes and \d+ constants, all with CUDA kernels$/m);
  });

  it("prints the formula: the model's doc_string, wrapped, every word of it", async () => {
    const m = buildLoss({ alpha: 0.5, reduction: 'sum' });
    const r = await runCli(['inspect', modelFile('formula.onnx', m.bytes)]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    const start = lines.findIndex((l) => l.startsWith('formula   '));
    expect(start).toBeGreaterThan(0);
    const block = [lines[start].slice(10)];
    for (let i = start + 1; lines[i].startsWith(' '.repeat(10)); i++) block.push(lines[i].slice(10));
    expect(block.length).toBeGreaterThan(1);
    for (const l of block) expect(l.length).toBeLessThanOrEqual(90);
    expect(block.join(' ')).toMatch(/^Binary focal loss .*loss = -alpha_t \* \(1 - clamp\(p_t, eps, 1\)\)\^gamma \* log\(clamp\(p_t, eps, 1\)\)\. .*alpha = 0\.5, gamma = 2, eps = 0\.0001, reduction = sum/);
    const json = JSON.parse((await runCli(['inspect', modelFile('formula.onnx', m.bytes), '--json'])).stdout) as { docString: string };
    expect(block.join(' ')).toBe(json.docString.trim().split(/\s+/).join(' '));
  });

  it('shows the function of the function form', async () => {
    const f = modelFile('fn.onnx', buildLoss({ asFunction: true }).bytes);
    const r = await runCli(['inspect', f, '--ep', 'cuda']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^nodes {5}1: ai\.focal\.BinaryFocalLoss$/m);
    expect(r.stdout).toMatch(/^function  ai\.focal\.BinaryFocalLoss\(pred, target\) → loss: /m);
    expect(r.stdout).toMatch(/opset 17, ai\.focal 1/);
  });

  it('--json: one object', async () => {
    const f = modelFile('mc.onnx', buildLoss({ task: 'multiclass', input: 'logits' }).bytes);
    const r = await runCli(['inspect', f, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ irVersion: 8, opsets: { '': 17 }, options: { task: 'multiclass', input: 'logits' }, cuda: { ok: true, offGpu: [] } });
    expect(j.inputs).toEqual([
      { name: 'pred', dtype: 'float32', shape: ['N', 'C'] },
      { name: 'target', dtype: 'int64', shape: ['N'] },
    ]);
    expect(j.nodes.LogSoftmax).toBe(1);
  });

  it('lists the nodes that would leave the GPU; --ep cuda makes that exit 3', async () => {
    const f = modelFile('bad.onnx', badModel());
    const plain = await runCli(['inspect', f]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^CUDA {6}1 node would leave the GPU/m);
    expect(plain.stdout).toMatch(/ReduceMean 'ReduceMean_0' \(int64\): no CUDA kernel for ReduceMean on int64/);
    expect(plain.stdout).toMatch(/^loss {6}no focal\.\* metadata/m);
    const strict = await runCli(['inspect', f, '--ep', 'cuda']);
    expect(strict.code).toBe(3);
    const json = await runCli(['inspect', f, '--ep', 'cuda', '--json']);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout).cuda.offGpu[0]).toMatchObject({ opType: 'ReduceMean', placement: 'cpu' });
  });

  it.each([
    ['no file', ['inspect'], /inspect needs a model file/],
    ['two files', ['inspect', 'a.onnx', 'b.onnx'], /inspect takes one model file, got 2/],
    ['a missing file', ['inspect', 'missing.onnx'], /missing\.onnx: cannot read: file does not exist/],
    ['--ep cpu', ['inspect', 'x.onnx', '--ep', 'cpu'], /--ep must be one of cuda, got 'cpu'/],
  ])('exit 2: %s', async (_name, argv, message) => {
    const r = await runCli(argv as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('exit 2 for a file that is not a model', async () => {
    const f = modelFile('text.onnx', Buffer.from('definitely not protobuf'));
    const r = await runCli(['inspect', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/text\.onnx: not an ONNX model/);
  });
});
