/**
 * `focal-onnx eval` in-process (src/cli/eval.ts through `run`): the summary, `--json`, `--out`,
 * the progress bar, the CUDA-missing message, and the exit codes — 0, and 2 with one line on
 * stderr for the user's mistakes.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readNpy, writeNpy } from '../../src/io/npy';
import { buildLoss } from '../../src/losses';
import { FIXTURES, RTOL, expectNear } from '../helpers/fixtures';
import { runCli, scratchDir } from '../helpers/cli';

const dir = scratchDir('focal-cli-eval-');
const file = (name: string): string => path.join(dir(), name);

function write(name: string, dtype: 'float32' | 'float64' | 'int64' | 'uint8', shape: number[], values: number[]): string {
  const f = file(name);
  const data = dtype === 'int64' ? BigInt64Array.from(values, (x) => BigInt(x)) : dtype === 'uint8' ? Uint8Array.from(values) : dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
  writeNpy(f, dtype, shape, data);
  return f;
}

/** The seed's multi-label case with its per-label vector, and a binary one. */
const ML = FIXTURES.find((c) => c.task === 'multilabel' && c.reduction === 'mean' && c.source === 'seed' && c.dtype === 'float32' && c.perLabel) as (typeof FIXTURES)[number];
const BIN = FIXTURES.find((c) => c.task === 'binary' && c.reduction === 'sum' && c.input === 'logits' && c.dtype === 'float64') as (typeof FIXTURES)[number];

function mlFiles(): string[] {
  return ['--pred', write('ml-p.npy', 'float32', ML.predShape, ML.pred), '--target', write('ml-t.npy', 'uint8', ML.targetShape, ML.target)];
}

function mlFlags(): string[] {
  const alpha = ML.alpha === null ? 'none' : Array.isArray(ML.alpha) ? ML.alpha.join(',') : String(ML.alpha);
  return ['--task', 'multilabel', '--input', ML.input, '--alpha', alpha, '--gamma', String(ML.gamma), '--eps', String(ML.eps), '--opset', String(ML.opset), '--form', ML.form];
}

describe('focal-onnx eval', () => {
  it('prints a readable summary: loss, elements, time, elements/s, provider', async () => {
    const r = await runCli(['eval', ...mlFlags(), ...mlFiles()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^loss {6}\S+ \(mean over \d+ elements\)$/m);
    expect(r.stdout).toMatch(/^per label /m);
    expect(r.stdout).toMatch(/^data .*ml-p\.npy, .*ml-t\.npy: \d+ rows × \d+ labels$/m);
    expect(r.stdout).toMatch(/^time {6}[\d.]+ s, [\d.]+[KMG]? elements\/s \(1 batch of up to \d+ rows\); session load [\d.]+ s$/m);
    expect(r.stdout).toMatch(/^provider  cpu$/m);
    expect(r.stdout).toMatch(/^model {5}built from the flags: multilabel /m);
  });

  it('--json: one object with loss, count, ep, seconds and the seed’s per-label vector', async () => {
    const r = await runCli(['eval', ...mlFlags(), ...mlFiles(), '--json', '--batch-size', '5']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const j = JSON.parse(r.stdout);
    expectNear([j.loss], [ML.loss as number], RTOL.float32, 'loss');
    expectNear(j.perLabel, ML.perLabel as number[], RTOL.float32, 'perLabel');
    expect(j).toMatchObject({ count: ML.pred.length, ep: 'cpu', reduction: 'mean', out: null, model: null });
    expect(typeof j.seconds).toBe('number');
    expect(j.batches).toBeGreaterThan(1);
  });

  it('--json for a binary case of the seed (sum, logits, float64, any shape flattened)', async () => {
    const alpha = BIN.alpha === null ? 'none' : String(BIN.alpha);
    const args = ['eval', '--input', 'logits', '--reduction', 'sum', '--alpha', alpha, '--gamma', String(BIN.gamma), '--eps', String(BIN.eps), '--form', BIN.form];
    const r = await runCli([...args, '--pred', write('b-p.npy', 'float64', BIN.predShape, BIN.pred), '--target', write('b-t.npy', 'float64', BIN.targetShape, BIN.target), '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expectNear([j.loss], [BIN.loss as number], RTOL.float64, 'loss');
    expect(j.options.dtype).toBe('float64');
    expect(j.perLabel).toBeUndefined();
  });

  it('--model: the options come from the file', async () => {
    const model = file('ml.onnx');
    fs.writeFileSync(model, buildLoss({ task: 'multilabel', input: ML.input, alpha: ML.alpha ?? 'none', gamma: ML.gamma, eps: ML.eps, opset: ML.opset, form: ML.form, targetDtype: 'uint8' }).bytes);
    const r = await runCli(['eval', '--model', model, ...mlFiles(), '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expectNear([j.loss], [ML.loss as number], RTOL.float32, 'loss');
    expect(j.model).toBe(model);
  });

  it('--out writes the per-element losses (.npy) and says so', async () => {
    const out = file('losses.npy');
    const r = await runCli(['eval', ...mlFlags(), ...mlFiles(), '--out', out, '--batch-size', '4']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^wrote {5}.*losses\.npy \(per-element losses\)$/m);
    const written = readNpy(out);
    expect(written.header.shape).toEqual(ML.predShape);
    const mean = Array.from(written.data as Float32Array).reduce((a, b) => a + b, 0) / ML.pred.length;
    expectNear([mean], [ML.loss as number], RTOL.float32, 'mean of --out');
    expect(fs.readdirSync(dir()).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('draws a progress bar on stderr when it is a terminal, and nothing otherwise', async () => {
    const tty = await runCli(['eval', ...mlFlags(), ...mlFiles(), '--batch-size', '4'], { tty: true });
    expect(tty.code).toBe(0);
    expect(tty.stderr).toMatch(/\r\[[#-]+\] +\d+% {2}\d+\/\d+ {2}[\d.]+[KMG]?\/s {2}\d+:\d\d left/);
    expect(tty.stderr.endsWith('\r\x1b[K')).toBe(true);
    const pipe = await runCli(['eval', ...mlFlags(), ...mlFiles(), '--batch-size', '4']);
    expect(pipe.stderr).toBe('');
    for (const flag of ['--progress=false', '--no-progress']) {
      const off = await runCli(['eval', ...mlFlags(), ...mlFiles(), flag], { tty: true });
      expect({ flag, code: off.code, stderr: off.stderr }).toEqual({ flag, code: 0, stderr: '' });
    }
  });

  it('--ep auto falls back to the CPU with a one-line notice when CUDA is not there', async () => {
    const r = await runCli(['eval', ...mlFlags(), ...mlFiles(), '--ep', 'auto', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    if (j.ep === 'cpu') expect(r.stderr).toMatch(/^focal-onnx: --ep auto: .*; using the CPU\n$/);
  });

  it('--ep cuda without CUDA: exit 2 and one line naming npm run setup:cuda', async () => {
    const r = await runCli(['eval', ...mlFlags(), ...mlFiles(), '--ep', 'cuda']);
    if (r.code === 0) return; // a machine with CUDA
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^focal-onnx: --ep cuda: .*npm run setup:cuda.*\n$/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it.each([
    ['no --pred', ['eval', '--target', 't.npy'], /^focal-onnx: --pred is required/],
    ['no --target', ['eval', '--pred', 'p.npy'], /^focal-onnx: --target is required/],
    ['a positional argument', ['eval', 'p.npy', 't.npy'], /eval takes no positional arguments, got 'p\.npy'/],
    ['--model with loss flags', ['eval', '--model', 'm.onnx', '--gamma', '1', '--task', 'multilabel', '--pred', 'p', '--target', 't'], /--model takes its loss options from the file; drop --task, --gamma or drop --model/],
    ['a bad --batch-size', ['eval', '--pred', 'p', '--target', 't', '--batch-size', '0'], /--batch-size must be an integer >= 1, got '0'/],
    ['a bad --ep', ['eval', '--pred', 'p', '--target', 't', '--ep', 'gpu'], /--ep must be one of cpu, cuda, auto, got 'gpu'/],
    ['a bad --alpha', ['eval', '--pred', 'p', '--target', 't', '--alpha', '2'], /--alpha must be a number in \[0, 1\]/],
    ['a missing file', ['eval', '--pred', 'missing-p.npy', '--target', 't'], /missing-p\.npy: cannot read: file does not exist/],
    ["export's --weight kind for eval's weight file", ['eval', '--pred', 'p', '--target', 't', '--weight', 'element'], /^focal-onnx: --weight element: eval takes the weights' \.npy file, whose shape says sample or element; 'element' is no file\n$/],
  ])('exit 2 and one line on stderr: %s', async (_name, argv, message) => {
    const r = await runCli(argv as string[]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('exit 2 for bad data, and no --out file left behind', async () => {
    const out = file('never.npy');
    const r = await runCli(['eval', '--pred', write('bad-p.npy', 'float32', [4], [0.1, 0.2, 0.3, 0.4]), '--target', write('bad-t.npy', 'float32', [4], [0, 1, 2, 0]), '--out', out, '--batch-size', '2']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^focal-onnx: .*bad-t\.npy: element 2 is 2; binary targets must be 0 or 1\n$/);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(dir()).filter((f) => f.startsWith('.never'))).toEqual([]);
  });

  it('--help lists the flags', async () => {
    const r = await runCli(['eval', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--model', '--pred', '--target', '--ep', '--batch-size', '--threads', '--graph-optimization', '--out', '--json', '--progress', '--task']) expect(r.stdout).toContain(flag);
  });
});
