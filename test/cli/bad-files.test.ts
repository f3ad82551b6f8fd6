/**
 * Every bad file refused, nothing hangs (issue 19): a path that is not a regular file (FIFO,
 * character device, directory, socket) is refused before it is opened for reading — a FIFO with no
 * writer must not block the process; weights must have the shape of the predictions or of the rows,
 * not just their count; weighted-mean with Σ w = 0 is 0 (as Keras) and says so; SIGTERM and
 * SIGINT end a long eval at once, with the shell's 143 / 130 and no output.
 */
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { writeNpy } from '../../src/io/npy';
import { createEvaluator } from '../../src/runtime/evaluator';
import { BIN, runCli, scratchDir, spawnCli } from '../helpers/cli';

const ROOT = path.join(__dirname, '..', '..');
const built = fs.existsSync(path.join(ROOT, 'dist', 'src', 'cli', 'main.js'));
const itBuilt = built ? it : it.skip;
const posix = process.platform !== 'win32';
const itPosix = posix ? it : it.skip;
const FIX = path.join(ROOT, 'test', 'fixtures', 'external');

const dir = scratchDir('focal-bad-files-');
const f = (name: string): string => path.join(dir(), name);

/** Fixed pseudo-random numbers in (0.01, 0.99). */
function probs(n: number, seed = 7): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => 0.01 + 0.98 * ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32));
}
const labels = (n: number): Float32Array => Float32Array.from(probs(n, 11), (v) => (v < 0.3 ? 1 : 0));

const expectOneLine = (r: { code: number; stdout: string; stderr: string }, ...parts: string[]): void => {
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  for (const p of parts) expect(lines[0]).toContain(p);
};

beforeAll(() => {
  writeNpy(f('p.npy'), 'float32', [100, 5], probs(500));
  writeNpy(f('t.npy'), 'float32', [100, 5], labels(500));
  writeNpy(f('w-transposed.npy'), 'float32', [5, 100], probs(500, 3));
  writeNpy(f('w-elements.npy'), 'float32', [100, 5], probs(500, 3));
  writeNpy(f('w-rows.npy'), 'float32', [100], probs(100, 3));
  writeNpy(f('w-rows-column.npy'), 'float32', [100, 1], probs(100, 3));
  writeNpy(f('w-zero.npy'), 'float32', [100], new Float32Array(100));
  writeNpy(f('w-net-regrouped.npy'), 'float32', [16, 3, 2], probs(96, 3));
  if (posix) execFileSync('mkfifo', [f('fifo')]);
  fs.mkdirSync(f('a-dir'));
});

describe('a path that is not a regular file is refused before it is opened', () => {
  // Spawned: were the FIFO opened for reading, the process would block (this test then fails on
  // spawnCli's timeout instead of hanging the test runner).
  const ML = ['--task', 'multilabel'];
  const cases: [string, () => string[], string][] = [
    ['--pred', () => ['eval', ...ML, '--pred', f('fifo'), '--target', f('t.npy')], 'expected a .npy file'],
    ['--target', () => ['eval', ...ML, '--pred', f('p.npy'), '--target', f('fifo')], 'expected a .npy file'],
    ['--weight', () => ['eval', ...ML, '--pred', f('p.npy'), '--target', f('t.npy'), '--weight', f('fifo')], 'expected a .npy file'],
    ['--model', () => ['eval', '--model', f('fifo'), '--pred', f('p.npy'), '--target', f('t.npy')], 'expected an .onnx file'],
    ['--network', () => ['eval', '--network', f('fifo'), '--output', 'logits', '--feed', `features=${path.join(FIX, 'x.npy')}`, '--target', path.join(FIX, 'target.npy')], 'expected an .onnx file'],
    ['--feed', () => ['eval', '--network', path.join(FIX, 'tagger.onnx'), '--output', 'logits', ...ML, '--feed', `features=${f('fifo')}`, '--target', path.join(FIX, 'target.npy')], 'expected a .npy file'],
    ['inspect', () => ['inspect', f('fifo')], 'expected an .onnx file'],
    ['attach', () => ['attach', f('fifo'), '--output', 'y', '-o', f('out.onnx')], 'expected an .onnx file'],
  ];
  (posix && built ? it.each(cases) : it.skip.each(cases))('a FIFO as %s', (_what, argv, expected) => {
    expectOneLine(spawnCli(argv()), `${f('fifo')}: is a FIFO (named pipe), ${expected}`);
  });

  (posix && built ? it : it.skip)('a FIFO as a network’s side file (onnxruntime would block opening it)', () => {
    const d = f('fifo-side');
    fs.mkdirSync(d);
    fs.copyFileSync(path.join(FIX, 'tagger.onnx'), path.join(d, 'tagger.onnx'));
    execFileSync('mkfifo', [path.join(d, 'tagger.onnx.data')]);
    expectOneLine(
      spawnCli(['eval', '--network', path.join(d, 'tagger.onnx'), '--output', 'logits', ...ML, '--feed', `features=${path.join(FIX, 'x.npy')}`, '--target', path.join(FIX, 'target.npy')]),
      `${path.join(d, 'tagger.onnx')}: its weights lie in a side file, 'tagger.onnx.data', expected at ${path.join(d, 'tagger.onnx.data')}`,
      'which is a FIFO (named pipe), not a regular file',
    );
  });

  itPosix('a character device (/dev/zero, which never ends) as --pred and as --model', async () => {
    expectOneLine(await runCli(['eval', '--pred', '/dev/zero', '--target', f('t.npy')]), '/dev/zero: is a character device, expected a .npy file');
    expectOneLine(await runCli(['eval', '--model', '/dev/zero', '--pred', f('p.npy'), '--target', f('t.npy')]), '/dev/zero: is a character device, expected an .onnx file');
    expectOneLine(await runCli(['inspect', '/dev/zero']), '/dev/zero: is a character device, expected an .onnx file');
  });

  it('a directory as --target and as --network', async () => {
    expectOneLine(await runCli(['eval', '--pred', f('p.npy'), '--target', f('a-dir')]), `${f('a-dir')}: is a directory, expected a .npy file`);
    expectOneLine(
      await runCli(['eval', '--network', f('a-dir'), '--output', 'logits', '--feed', `features=${path.join(FIX, 'x.npy')}`, '--target', path.join(FIX, 'target.npy')]),
      `${f('a-dir')}: is a directory, expected an .onnx file`,
    );
  });

  itPosix('a socket as --target', async () => {
    // A short path: a socket's path is limited to ~100 bytes.
    const sock = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 's-')), 's');
    const server = net.createServer();
    await new Promise<void>((res) => server.listen(sock, res));
    try {
      expectOneLine(await runCli(['eval', '--pred', f('p.npy'), '--target', sock]), `${sock}: is a socket, expected a .npy file`);
    } finally {
      await new Promise((res) => server.close(res));
      fs.rmSync(path.dirname(sock), { recursive: true, force: true });
    }
  });
});

describe('weights must have the shape of the predictions or of the rows, not just their count', () => {
  const ML = ['--task', 'multilabel'];
  it('weights [5, 100] for predictions [100, 5] are refused (torch and Keras refuse them)', async () => {
    expectOneLine(
      await runCli(['eval', ...ML, '--pred', f('p.npy'), '--target', f('t.npy'), '--weight', f('w-transposed.npy')]),
      `${f('w-transposed.npy')}: shape [5, 100]; weights must have the shape of the predictions [100, 5] (${f('p.npy')}) or of the rows [100] (size-1 axes aside)`,
    );
  });

  it.each(['w-elements.npy', 'w-rows.npy', 'w-rows-column.npy'])('%s is taken', async (w) => {
    const r = await runCli(['eval', ...ML, '--pred', f('p.npy'), '--target', f('t.npy'), '--weight', f(w), '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(Number.isFinite(JSON.parse(r.stdout).loss)).toBe(true);
  });

  it('eval --network: weights [16, 3, 2] for the output [16, 6] are refused', async () => {
    expectOneLine(
      await runCli(['eval', '--network', path.join(FIX, 'tagger.onnx'), '--output', 'logits', ...ML, '--input', 'logits', '--feed', `features=${path.join(FIX, 'x.npy')}`, '--target', path.join(FIX, 'target.npy'), '--weight', f('w-net-regrouped.npy')]),
      `${f('w-net-regrouped.npy')}: shape [16, 3, 2]; weights must have the shape of the predictions [16, 6] (output 'logits') or of the rows [16]`,
    );
  });

  it("createEvaluator: a weight Tensor of dims [5, 100] for pred dims [100, 5] is refused, the batch named", async () => {
    const ev = await createEvaluator({ loss: { task: 'multilabel', weight: 'element' } });
    try {
      const batch = { pred: probs(500), target: labels(500), dims: [100, 5] };
      await expect(ev.add({ ...batch, weight: new ort.Tensor('float32', probs(500, 3), [5, 100]) })).rejects.toThrow(
        'batch 0: weight has dims [5, 100]; weights must have the shape of the predictions [100, 5] (pred) or of the rows [100] (size-1 axes aside)',
      );
      await ev.add({ ...batch, weight: new ort.Tensor('float32', probs(500, 3), [100, 5]) });
      expect(ev.result().batches).toBe(1);
    } finally {
      await ev.close();
    }
  });
});

describe('weighted-mean with Σ w = 0', () => {
  const argv = (): string[] => ['eval', '--task', 'multilabel', '--reduction', 'weighted-mean', '--pred', f('p.npy'), '--target', f('t.npy'), '--weight', f('w-zero.npy')];
  it('is 0, as Keras gives, and the summary says so', async () => {
    const r = await runCli(argv());
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('loss      0 (Σ w·l / Σ w over 500 elements); every weight is 0 (Σ w = 0): the loss is 0, as Keras gives, not 0/0');
  });

  it('--json: loss 0, weightSum 0 and the note', async () => {
    const j = JSON.parse((await runCli([...argv(), '--json'])).stdout);
    expect({ loss: j.loss, weightSum: j.weightSum, note: j.note }).toEqual({ loss: 0, weightSum: 0, note: 'every weight is 0 (Σ w = 0): the loss is 0, as Keras gives, not 0/0' });
  });

  it('a model file that reduces: a batch of zero weights adds nothing (its graph gives 0/0)', async () => {
    expect((await runCli(['export', '--task', 'multilabel', '--reduction', 'weighted-mean', '--weight', 'sample', '-o', f('wm.onnx')])).code).toBe(0);
    const half = new Float32Array(100).fill(1, 50);
    writeNpy(f('w-half.npy'), 'float32', [100], half);
    const byModel = JSON.parse((await runCli(['eval', '--model', f('wm.onnx'), '--pred', f('p.npy'), '--target', f('t.npy'), '--weight', f('w-half.npy'), '--batch-size', '250', '--json'])).stdout);
    const byFlags = JSON.parse((await runCli(['eval', '--task', 'multilabel', '--reduction', 'weighted-mean', '--pred', f('p.npy'), '--target', f('t.npy'), '--weight', f('w-half.npy'), '--json'])).stdout);
    expect(byModel.batches).toBe(2);
    expect(Math.abs(byModel.loss - byFlags.loss)).toBeLessThan(1e-6 * byFlags.loss);
    const zero = JSON.parse((await runCli(['eval', '--model', f('wm.onnx'), '--pred', f('p.npy'), '--target', f('t.npy'), '--weight', f('w-zero.npy'), '--json'])).stdout);
    expect({ loss: zero.loss, weightSum: zero.weightSum }).toEqual({ loss: 0, weightSum: 0 });
  });
});

describe('SIGTERM and SIGINT end a long eval at once', () => {
  const N = 1 << 23;
  beforeAll(() => {
    writeNpy(f('long-p.npy'), 'float32', [N], probs(N));
    writeNpy(f('long-t.npy'), 'float32', [N], labels(N));
  });

  /** The shell's exit status of a child ended by `signal` (128 + its number), or its code. */
  async function interrupted(signal: 'SIGTERM' | 'SIGINT'): Promise<{ status: number; stdout: string; started: boolean }> {
    const child = spawn(process.execPath, [BIN, 'eval', '--pred', f('long-p.npy'), '--target', f('long-t.npy'), '--batch-size', '512', '--threads', '1', '--progress'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let started = false;
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    // The progress bar's first update: the evaluation is under way.
    child.stderr.once('data', () => {
      started = true;
      child.kill(signal);
    });
    const [code, sig] = await new Promise<[number | null, NodeJS.Signals | null]>((res) => child.on('exit', (c, s) => res([c, s])));
    return { status: code ?? 128 + os.constants.signals[sig as NodeJS.Signals], stdout, started };
  }

  itBuilt.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)('%s mid-run: status %d, nothing on stdout', async (signal, status) => {
    const r = await interrupted(signal);
    expect(r).toEqual({ status, stdout: '', started: true });
  });
});
