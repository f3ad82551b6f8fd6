/**
 * Nothing lost: every file the CLI writes appears complete under its name or not at all.
 *
 * - `export -o`: a missing directory, a path through a regular file, a directory as the target,
 *   or a write that fails half-way (a simulated full disk) → exit 2, nothing created, an existing
 *   file keeps its bytes, no temporary file left; a success replaces the file by a rename (a new
 *   inode: a reader holding the old file keeps reading the old bytes).
 * - `eval --out`: a failure half-way through the data (a NaN prediction or a bad target in the
 *   last batch, a full disk on the k-th append) → exit 2, no output, an existing file untouched;
 *   and the real executable interrupted by SIGINT or SIGTERM while it streams the losses → exit
 *   130 / 143, no output file, no temporary file, an existing output keeps its old bytes.
 *
 * The signal tests spawn `node bin/focal-onnx.js` (the build in dist/, made by `npm test`'s
 * pretest; they are skipped with a note when it is missing).
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import fsModule = require('fs');
import { buildLoss } from '../../src/losses';
import { NpyWriter, readNpy, writeNpy } from '../../src/io/npy';
import { BIN, runCli, scratchDir } from '../helpers/cli';

const dir = scratchDir('focal-onnx-atomic-cli-');
const ROOT = path.join(__dirname, '..', '..');
const built = fs.existsSync(path.join(ROOT, 'dist', 'src', 'cli', 'main.js'));
const itBuilt = built ? it : it.skip;

/** A fresh subdirectory per test, so listings show exactly what a command left. */
let sub = 0;
function freshDir(): string {
  const d = path.join(dir(), `t${sub++}`);
  fs.mkdirSync(d);
  return d;
}

const OLD = Buffer.from('the old bytes, which must survive');

function expectOneLine(r: { code: number; stdout: string; stderr: string }, ...contains: string[]): void {
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
  expect(r.stderr).toMatch(/^focal-onnx: [^\n]+\n$/);
  for (const c of contains) expect(r.stderr).toContain(c);
}

const enospc = (): NodeJS.ErrnoException => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

describe('export -o writes atomically', () => {
  it('refuses a missing directory, creating nothing', async () => {
    const d = freshDir();
    const out = path.join(d, 'missing', 'deeper', 'm.onnx');
    expectOneLine(await runCli(['export', '-o', out]), out, 'does not exist');
    expect(fs.readdirSync(d)).toEqual([]);
  });

  it('refuses a path through a regular file (unwritable even as root), leaving the file alone', async () => {
    const d = freshDir();
    fs.writeFileSync(path.join(d, 'plain'), OLD);
    const out = path.join(d, 'plain', 'm.onnx');
    expectOneLine(await runCli(['export', '-o', out]), out, 'not a directory');
    expect(fs.readdirSync(d)).toEqual(['plain']);
    expect(fs.readFileSync(path.join(d, 'plain'))).toEqual(OLD);
  });

  it('refuses a directory as the target, leaving it alone', async () => {
    const d = freshDir();
    fs.mkdirSync(path.join(d, 'target.onnx'));
    fs.writeFileSync(path.join(d, 'target.onnx', 'inside'), OLD);
    expectOneLine(await runCli(['export', '-o', path.join(d, 'target.onnx')]), 'is a directory');
    expect(fs.readdirSync(d)).toEqual(['target.onnx']);
    expect(fs.readdirSync(path.join(d, 'target.onnx'))).toEqual(['inside']);
  });

  it('does not touch an existing file when the options are bad', async () => {
    const d = freshDir();
    const out = path.join(d, 'm.onnx');
    fs.writeFileSync(out, OLD);
    expectOneLine(await runCli(['export', '--gamma', '-1', '-o', out]), '--gamma');
    expect(fs.readFileSync(out)).toEqual(OLD);
    expect(fs.readdirSync(d)).toEqual(['m.onnx']);
  });

  it('keeps an existing file and leaves no temporary file when the disk fills half-way', async () => {
    const d = freshDir();
    const out = path.join(d, 'm.onnx');
    fs.writeFileSync(out, OLD);
    const real = fsModule.writeSync;
    let calls = 0;
    // The first write lands (a partial temporary file exists), the second fails.
    const spy = jest.spyOn(fsModule, 'writeSync').mockImplementation(((fd: number, buffer: Uint8Array, offset?: number, length?: number, position?: number | null) => {
      if (++calls > 1) throw enospc();
      return real(fd, buffer, offset, Math.min(length ?? buffer.length, 100), position);
    }) as typeof fs.writeSync);
    let r;
    try {
      r = await runCli(['export', '-o', out]);
    } finally {
      spy.mockRestore();
    }
    expect(calls).toBeGreaterThan(1);
    expectOneLine(r, out, 'no space left on device');
    expect(fs.readFileSync(out)).toEqual(OLD);
    expect(fs.readdirSync(d)).toEqual(['m.onnx']);
  });

  it('replaces an existing file by a rename: complete new bytes, and a holder of the old file still reads the old bytes', async () => {
    const d = freshDir();
    const out = path.join(d, 'm.onnx');
    fs.writeFileSync(out, OLD);
    const oldIno = fs.statSync(out).ino;
    const held = fs.openSync(out, 'r');
    try {
      const r = await runCli(['export', '--task', 'multiclass', '-o', out]);
      expect(r.code).toBe(0);
      expect(fs.readFileSync(out)).toEqual(Buffer.from(buildLoss({ task: 'multiclass' }).bytes));
      expect(fs.statSync(out).ino).not.toBe(oldIno);
      const buf = Buffer.alloc(OLD.length);
      fs.readSync(held, buf, 0, buf.length, 0);
      expect(buf).toEqual(OLD);
    } finally {
      fs.closeSync(held);
    }
    expect(fs.readdirSync(d)).toEqual(['m.onnx']);
  });
});

describe('eval --out never leaves a partial file', () => {
  const N = 20000;
  let pred = '';
  let target = '';
  let badPred = '';
  let badTarget = '';
  beforeAll(() => {
    const d = freshDir();
    const p = Float32Array.from({ length: N }, (_, i) => ((i * 2654435761) >>> 0) / 2 ** 32);
    const t = Float32Array.from({ length: N }, (_, i) => (i % 3 === 0 ? 1 : 0));
    pred = path.join(d, 'pred.npy');
    target = path.join(d, 'target.npy');
    writeNpy(pred, 'float32', [N], p);
    writeNpy(target, 'float32', [N], t);
    // The very last element is bad: the run fails after every other batch was written.
    const pBad = p.slice();
    pBad[N - 1] = NaN;
    badPred = path.join(d, 'bad-pred.npy');
    writeNpy(badPred, 'float32', [N], pBad);
    const tBad = t.slice();
    tBad[N - 1] = 2;
    badTarget = path.join(d, 'bad-target.npy');
    writeNpy(badTarget, 'float32', [N], tBad);
  });

  const evalArgs = (p: string, t: string, out: string): string[] => ['eval', '--pred', p, '--target', t, '--reduction', 'none', '--batch-size', '1000', '--out', out];

  it.each([
    ['a NaN prediction in the last batch', () => badPred, () => target, 'predictions must be finite'],
    ['a target of 2 in the last batch', () => pred, () => badTarget, 'must be 0 or 1'],
  ])('%s: exit 2, no output, an existing output untouched', async (_name, p, t, why) => {
    const d = freshDir();
    const out = path.join(d, 'losses.npy');
    expectOneLine(await runCli(evalArgs(p(), t(), out)), why, `element ${N - 1}`);
    expect(fs.readdirSync(d)).toEqual([]);
    fs.writeFileSync(out, OLD);
    expectOneLine(await runCli(evalArgs(p(), t(), out)), why);
    expect(fs.readFileSync(out)).toEqual(OLD);
    expect(fs.readdirSync(d)).toEqual(['losses.npy']);
  });

  /**
   * A full disk on the k-th append, injected into the real executable with a preload script that
   * makes the k-th `fs.write` fail with ENOSPC (asynchronously, as a real disk error arrives).
   */
  function evalWithFullDisk(out: string, failAt: number): { code: number | null; stdout: string; stderr: string } {
    const preload = path.join(dir(), 'enospc-preload.js');
    fs.writeFileSync(
      preload,
      `const fs = require('fs'); const real = fs.write; let calls = 0;
fs.write = function (...args) {
  const cb = args[args.length - 1];
  if (++calls === ${failAt}) { setImmediate(() => cb(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }))); return; }
  return real.apply(this, args);
};`,
    );
    const r = spawnSync(process.execPath, ['-r', preload, BIN, ...evalArgs(pred, target, out)], { encoding: 'utf8', timeout: 60000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  // Batch k's append is awaited only before batch k+1's append; a write failing in between (a disk
  // error arriving while the next batch computes) is caught there, never an unhandled rejection.
  itBuilt('a full disk on the 5th append: exit 2 and one line', () => {
    const d = freshDir();
    const out = path.join(d, 'losses.npy');
    fs.writeFileSync(out, OLD);
    const r = evalWithFullDisk(out, 5);
    try {
      expectOneLine({ code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr }, out, 'no space left on device');
    } finally {
      // Whatever the exit path, nothing may be lost or left behind.
      expect(fs.readFileSync(out)).toEqual(OLD);
      expect(fs.readdirSync(d)).toEqual(['losses.npy']);
    }
  });

  itBuilt('a full disk on any append never leaves a partial file nor touches the existing output', () => {
    for (const failAt of [1, 3, 8]) {
      const d = freshDir();
      const out = path.join(d, 'losses.npy');
      fs.writeFileSync(out, OLD);
      const r = evalWithFullDisk(out, failAt);
      expect(r.code).toBe(2);
      expect(fs.readFileSync(out)).toEqual(OLD);
      expect(fs.readdirSync(d)).toEqual(['losses.npy']);
    }
  });

  it('a success replaces the existing output with the complete losses', async () => {
    const d = freshDir();
    const out = path.join(d, 'losses.npy');
    fs.writeFileSync(out, OLD);
    const r = await runCli([...evalArgs(pred, target, out), '--json']);
    expect(r.code).toBe(0);
    const { header, data } = readNpy(out);
    expect(header.shape).toEqual([N]);
    let sum = 0;
    for (const x of data as Float32Array) sum += x;
    // The evaluator sums in float32 blocks of 256, then float64 (eval-outputs.ts).
    const reported = (JSON.parse(r.stdout) as { sum: number }).sum;
    expect(Math.abs(sum - reported)).toBeLessThanOrEqual(1e-7 * Math.abs(sum));
    expect(fs.readdirSync(d)).toEqual(['losses.npy']);
  });
});

describe('eval --out interrupted by a signal (the real executable)', () => {
  // Large enough, in small batches, that the run takes a few seconds: the signal lands mid-run.
  const N = 8_000_000;
  let pred = '';
  let target = '';
  beforeAll(() => {
    if (!built) return;
    const d = freshDir();
    pred = path.join(d, 'pred.npy');
    target = path.join(d, 'target.npy');
    // Streamed in chunks, so the test itself stays small in memory.
    const chunk = 1 << 20;
    const p = NpyWriter.create(pred, 'float32', [N]);
    const t = NpyWriter.create(target, 'float32', [N]);
    const pb = new Float32Array(chunk);
    const tb = new Float32Array(chunk);
    for (let start = 0; start < N; start += chunk) {
      const n = Math.min(chunk, N - start);
      for (let i = 0; i < n; i++) {
        const k = start + i;
        pb[i] = ((k * 2654435761) >>> 0) / 2 ** 32;
        tb[i] = k % 3 === 0 ? 1 : 0;
      }
      p.appendSync(pb.subarray(0, n));
      t.appendSync(tb.subarray(0, n));
    }
    return Promise.all([p.commit(), t.commit()]);
  }, 60000);

  /** Spawns eval --out, waits for its temporary output file to appear, then sends `signal`. */
  async function interrupt(out: string, signal: 'SIGINT' | 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; sawTemp: boolean }> {
    const d = path.dirname(out);
    const child = spawn(process.execPath, [BIN, 'eval', '--pred', pred, '--target', target, '--reduction', 'none', '--batch-size', '1024', '--threads', '1', '--out', out], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, sig) => res({ code, signal: sig })));
    let sawTemp = false;
    let done = false;
    void exited.then(() => (done = true));
    const deadline = Date.now() + 30000;
    while (!done && Date.now() < deadline) {
      if (fs.readdirSync(d).some((f) => f.endsWith('.tmp'))) {
        sawTemp = true;
        // Let a few batches land in the temporary file first.
        await new Promise((r) => setTimeout(r, 150));
        child.kill(signal);
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    if (!sawTemp) child.kill('SIGKILL');
    const result = await exited;
    return { ...result, stderr, sawTemp };
  }

  itBuilt.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s mid-run: exit %d, no output file, no temporary file', async (signal, code) => {
    const d = freshDir();
    const out = path.join(d, 'losses.npy');
    const r = await interrupt(out, signal);
    expect(r.sawTemp).toBe(true);
    expect({ code: r.code, signal: r.signal }).toEqual({ code, signal: null });
    expect(fs.readdirSync(d)).toEqual([]);
  }, 60000);

  itBuilt('SIGINT mid-run with an existing output: it keeps its old bytes', async () => {
    const d = freshDir();
    const out = path.join(d, 'losses.npy');
    fs.writeFileSync(out, OLD);
    const r = await interrupt(out, 'SIGINT');
    expect(r.sawTemp).toBe(true);
    expect(r.code).toBe(130);
    expect(fs.readFileSync(out)).toEqual(OLD);
    expect(fs.readdirSync(d)).toEqual(['losses.npy']);
  }, 60000);

  it('is built (npm test builds first)', () => {
    if (!built) console.warn(`SKIPPED the signal tests: ${BIN} needs 'npm run build'`);
    expect(fs.existsSync(BIN)).toBe(true);
  });
});
