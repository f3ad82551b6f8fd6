/**
 * External data, wherever the model lies (issue 19): a network exported by torch 2.13's dynamo
 * exporter with its side file (test/fixtures/external/tagger.onnx + tagger.onnx.data) and the same
 * network saved by onnx.save_model(save_as_external_data=True) (saved.onnx + saved-weights.data),
 * evaluated from another working directory (eval --network, evaluateNetwork, eval --model of an
 * attached model, createEvaluator({ model })), attached with --external-data inline / copy / keep
 * and the output opened by onnxruntime from anywhere; a missing side file is one line naming the
 * file expected and where; inspect says where the side files are.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { readNpy } from '../../src/io/npy';
import { decodeModel } from '../../src/onnx';
import { createSession, evaluate } from '../../src/runtime';
import { evaluateNetwork } from '../../src/runtime/evaluate-network';
import { createEvaluator } from '../../src/runtime/evaluator';
import { runCli, scratchDir } from '../helpers/cli';
import { describePython, runPython } from '../helpers/python';

const FIX = path.resolve(__dirname, '..', 'fixtures', 'external');
const LOSS = ['--task', 'multilabel', '--input', 'logits', '--alpha', '0.25', '--gamma', '2'];
const dir = scratchDir('focal-external-');

/** The loss of PyTorch's own logits (logits.npy), evaluated as predictions: what the exported network's loss must be. */
let reference = NaN;
const home = process.cwd();

beforeAll(async () => {
  reference = (await evaluate({ pred: path.join(FIX, 'logits.npy'), target: path.join(FIX, 'target.npy'), loss: { task: 'multilabel', input: 'logits', alpha: 0.25, gamma: 2 } })).loss;
  // Every test runs from a folder that is not the models' (and names the models relative to it).
  fs.mkdirSync(path.join(dir(), 'cwd'), { recursive: true });
  process.chdir(path.join(dir(), 'cwd'));
});
afterAll(() => process.chdir(home));

/** A fixture's path as the user in the other folder writes it. */
const fix = (name: string): string => path.relative(process.cwd(), path.join(FIX, name));
const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 * Math.abs(b);

describe('the fixtures', () => {
  it.each([
    ['tagger.onnx', 'tagger.onnx.data'],
    ['saved.onnx', 'saved-weights.data'],
  ])('%s keeps its weights in %s', (model, side) => {
    const info = decodeModel(fs.readFileSync(path.join(FIX, model)));
    expect(info.externalData.length).toBeGreaterThan(0);
    expect(new Set(info.externalData.map((t) => t.location))).toEqual(new Set([side]));
    expect(info.externalData.every((t) => t.length !== undefined && t.offset + (t.length as number) <= fs.statSync(path.join(FIX, side)).size)).toBe(true);
  });
});

describe('evaluated from another folder', () => {
  it.each(['tagger.onnx', 'saved.onnx'])('eval --network %s: the loss of PyTorch’s logits', async (model) => {
    const r = await runCli(['eval', '--network', fix(model), '--output', 'logits', ...LOSS, '--feed', `features=${fix('x.npy')}`, '--target', fix('target.npy'), '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const loss = JSON.parse(r.stdout).loss as number;
    expect(close(loss, reference)).toBe(true);
  });

  it('--ep auto and --ep cuda: the side file found from the CUDA session too (or, without the CUDA provider, the one line that says so)', async () => {
    const argv = ['eval', '--network', fix('tagger.onnx'), '--output', 'logits', ...LOSS, '--feed', `features=${fix('x.npy')}`, '--target', fix('target.npy'), '--json'];
    const auto = await runCli([...argv, '--ep', 'auto']);
    expect(auto.code).toBe(0);
    expect(close(JSON.parse(auto.stdout).loss, reference)).toBe(true);
    const cuda = await runCli([...argv, '--ep', 'cuda']);
    if (cuda.code === 0) expect(close(JSON.parse(cuda.stdout).loss, reference)).toBe(true);
    else expect({ code: cuda.code, stderr: cuda.stderr }).toEqual({ code: 2, stderr: expect.stringMatching(/^focal-onnx: --ep cuda: (the CUDA execution provider is not installed|no usable CUDA device)[^\n]*\n$/) });
  });

  it('createSession(path) opens the network by a path relative to this folder', async () => {
    const session = await createSession(fix('tagger.onnx'));
    try {
      const x = readNpy(path.join(FIX, 'x.npy'));
      const out = await session.run({ features: { dtype: 'float32', dims: [...x.header.shape], data: x.data as Float32Array } });
      const want = readNpy(path.join(FIX, 'logits.npy')).data as Float32Array;
      expect(Math.max(...Array.from(out.logits.data as Float32Array, (v, i) => Math.abs(v - want[i])))).toBeLessThan(1e-5);
    } finally {
      await session.release();
    }
  });

  it('evaluateNetwork with the absolute path of the network, in batches', async () => {
    const r = await evaluateNetwork({ network: path.join(FIX, 'tagger.onnx'), output: 'logits', feeds: { features: fix('x.npy') }, target: fix('target.npy'), loss: { task: 'multilabel', input: 'logits', alpha: 0.25, gamma: 2 }, batchSize: 5 * 32 });
    expect(r.batches).toBe(4);
    expect(close(r.loss, reference)).toBe(true);
  });

  it('a missing side file: one line naming the file expected and where', async () => {
    const lonely = path.join(dir(), 'lonely');
    fs.mkdirSync(lonely, { recursive: true });
    fs.copyFileSync(path.join(FIX, 'tagger.onnx'), path.join(lonely, 'tagger.onnx'));
    const r = await runCli(['eval', '--network', path.relative(process.cwd(), path.join(lonely, 'tagger.onnx')), '--output', 'logits', ...LOSS, '--feed', `features=${fix('x.npy')}`, '--target', fix('target.npy')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`'tagger.onnx.data', expected at ${path.join(lonely, 'tagger.onnx.data')}`);
    expect(r.stderr).toContain('does not exist');
    await expect(createEvaluator({ model: path.join(lonely, 'tagger.onnx'), output: 'logits' })).rejects.toThrow(/tagger\.onnx: its weights lie in a side file, 'tagger\.onnx\.data', expected at .*lonely\/tagger\.onnx\.data/);
  });
});

describe('attach: the output loads where it is written', () => {
  const x = (): ort.Tensor => {
    const a = readNpy(path.join(FIX, 'x.npy'));
    return new ort.Tensor('float32', a.data as Float32Array, [...a.header.shape]);
  };
  const target = (): Float32Array => readNpy(path.join(FIX, 'target.npy')).data as Float32Array;
  const logits = (): Float32Array => readNpy(path.join(FIX, 'logits.npy')).data as Float32Array;

  async function attach(mode: string | undefined, out: string, network = fix('tagger.onnx')): Promise<{ code: number; stderr: string; json: Record<string, unknown> }> {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const r = await runCli(['attach', network, '--output', 'logits', ...LOSS, '-o', out, '--json', ...(mode ? ['--external-data', mode] : [])]);
    return { code: r.code, stderr: r.stderr, json: r.code === 0 ? JSON.parse(r.stdout) : {} };
  }

  /** Opens `file` by its absolute path from yet another folder, runs it: the network's logits and the reference loss. */
  async function opensAnywhere(file: string): Promise<void> {
    const abs = path.resolve(file);
    const session = await ort.InferenceSession.create(abs);
    const out = await session.run({ features: x(), target: new ort.Tensor('float32', target(), [16, 6]) });
    const got = out.logits.data as Float32Array;
    const want = logits();
    expect(Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i])))).toBeLessThan(1e-5);
    expect(close(Number(out.loss.data[0]), reference)).toBe(true);
    await session.release();
  }

  it('by default the weights go into the model (below 2 GB, as onnx.save)', async () => {
    const out = path.join('..', 'elsewhere', 'inline', 'full.onnx');
    const r = await attach(undefined, out);
    expect(r.code).toBe(0);
    expect(r.json.externalData).toEqual({ mode: 'inline', files: [] });
    expect(decodeModel(fs.readFileSync(out)).externalData).toEqual([]);
    expect(fs.readdirSync(path.dirname(out))).toEqual(['full.onnx']);
    await opensAnywhere(out);
  });

  it('copy writes OUT.onnx.data beside the output', async () => {
    const out = path.join('..', 'elsewhere', 'copy', 'full.onnx');
    const r = await attach('copy', out);
    expect(r.code).toBe(0);
    expect(fs.readdirSync(path.dirname(out)).sort()).toEqual(['full.onnx', 'full.onnx.data']);
    expect(new Set(decodeModel(fs.readFileSync(out)).externalData.map((t) => t.location))).toEqual(new Set(['full.onnx.data']));
    await opensAnywhere(out);
    // … and eval --model of the attached model, from this other folder.
    const e = await runCli(['eval', '--model', out, '--feed', `features=${fix('x.npy')}`, '--target', fix('target.npy'), '--json']);
    expect(e.stderr).toBe('');
    expect(close(JSON.parse(e.stdout).loss, reference)).toBe(true);
  });

  it('keep refers to the network’s side file from the output’s folder; createEvaluator({ model }) opens it from anywhere', async () => {
    const base = path.join(dir(), 'keep');
    fs.mkdirSync(path.join(base, 'net'), { recursive: true });
    for (const f of ['tagger.onnx', 'tagger.onnx.data']) fs.copyFileSync(path.join(FIX, f), path.join(base, 'net', f));
    const out = path.join(base, 'full.onnx');
    const r = await attach('keep', out, path.join(base, 'net', 'tagger.onnx'));
    expect(r.code).toBe(0);
    expect(r.json.externalData).toEqual({ mode: 'keep', files: ['net/tagger.onnx.data'] });
    expect(fs.readdirSync(base).sort()).toEqual(['full.onnx', 'net']);
    await opensAnywhere(out);
    const ev = await createEvaluator({ model: path.relative(process.cwd(), out), output: 'logits' });
    try {
      await ev.add({ inputs: { features: x() }, target: target(), dims: [16, 6] });
      expect(close(ev.result().loss, reference)).toBe(true);
    } finally {
      await ev.close();
    }
  });

  it('keep is refused when the path would leave the output’s folder (onnxruntime refuses ..)', async () => {
    const r = await attach('keep', path.join('..', 'elsewhere', 'keep-out', 'full.onnx'));
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--external-data keep: .*full\.onnx would refer to .*tagger\.onnx\.data as '\.\.\/.*', outside its folder .*; use --external-data copy or inline/);
    expect(fs.existsSync(path.join('..', 'elsewhere', 'keep-out', 'full.onnx'))).toBe(false);
  });
});

describe('inspect', () => {
  it('says which tensors lie in a side file and where it is looked for', async () => {
    const r = await runCli(['inspect', fix('tagger.onnx')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`external  \\d+ tensors \\(\\d+ bytes\\) in tagger\\.onnx\\.data, at ${path.join(FIX, 'tagger.onnx.data').replace(/[.]/g, '\\.')}\\n`));
    const j = JSON.parse((await runCli(['inspect', fix('saved.onnx'), '--json'])).stdout);
    expect(j.externalData).toEqual([expect.objectContaining({ location: 'saved-weights.data', path: path.join(FIX, 'saved-weights.data'), size: fs.statSync(path.join(FIX, 'saved-weights.data')).size, problem: null })]);
  });

  it('and when it is missing', async () => {
    const lonely = path.join(dir(), 'inspect-lonely');
    fs.mkdirSync(lonely, { recursive: true });
    fs.copyFileSync(path.join(FIX, 'saved.onnx'), path.join(lonely, 'saved.onnx'));
    const r = await runCli(['inspect', path.join(lonely, 'saved.onnx')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`in saved-weights.data, at ${path.join(lonely, 'saved-weights.data')}, which does not exist`);
  });
});

describePython('scripts/make-external-networks.py', (python) => {
  it('writes the committed fixtures, byte for byte (torch writes the side file)', () => {
    const out = path.join(dir(), 'made');
    runPython(python, [path.join(home, 'scripts', 'make-external-networks.py'), out], undefined, 300_000);
    expect(fs.readdirSync(out).sort()).toEqual(fs.readdirSync(FIX).sort());
    for (const f of fs.readdirSync(FIX)) expect(fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(FIX, f)))).toBe(true);
  }, 300_000);

  it.each(['inline', 'copy', 'keep'])('attach --external-data %s of saved.onnx: onnx 1.23 loads it (full check) and Python onnxruntime runs it from another folder', async (mode) => {
    const base = path.join(dir(), `py-${mode}`);
    fs.mkdirSync(base, { recursive: true });
    for (const f of ['saved.onnx', 'saved-weights.data']) fs.copyFileSync(path.join(FIX, f), path.join(base, f));
    const out = path.join(base, 'full.onnx');
    const r = await runCli(['attach', path.join(base, 'saved.onnx'), '--output', 'logits', ...LOSS, '-o', out, '--external-data', mode]);
    expect(r.stderr).toBe('');
    const script = [
      'import sys, os, numpy as np, onnx, onnxruntime as ort',
      'out, fix = sys.argv[1], sys.argv[2]',
      'onnx.checker.check_model(out, full_check=True)',
      'os.chdir("/")',
      's = ort.InferenceSession(out, providers=["CPUExecutionProvider"])',
      'logits, loss = s.run(None, {"features": np.load(fix + "/x.npy"), "target": np.load(fix + "/target.npy")})',
      'print(float(np.abs(logits - np.load(fix + "/logits.npy")).max()), float(loss))',
    ].join('\n');
    const [diff, loss] = runPython(python, ['-c', script, out, FIX]).trim().split(' ').map(Number);
    expect(diff).toBeLessThan(1e-5);
    expect(close(loss, reference)).toBe(true);
  }, 120_000);
});
