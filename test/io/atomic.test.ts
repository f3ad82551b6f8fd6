/** writeFileAtomic, the temporary-file registry and the exit/signal cleanup handlers. */
import * as fs from 'fs';
import * as path from 'path';
import { spawn } from 'child_process';
import * as ts from 'typescript';
import fsModule = require('fs');
import { UsageError } from '../../src/errors';
import {
  fsUsageError,
  installCleanupHandlers,
  liveTempFiles,
  trackTemp,
  untrackTemp,
  writeFileAtomic,
} from '../../src/io/atomic';
import { scratchDir, tempFilesIn } from './helpers';

const dir = scratchDir();
const isRoot = process.getuid?.() === 0;

describe('writeFileAtomic', () => {
  it('writes one buffer or several in order, replacing an existing file', () => {
    const file = path.join(dir(), 'out.bin');
    writeFileAtomic(file, new Uint8Array([1, 2, 3]));
    expect(Array.from(fs.readFileSync(file))).toEqual([1, 2, 3]);
    writeFileAtomic(file, [Buffer.from('ab'), new Uint16Array([0x6463]), new Float32Array(0)]);
    expect(fs.readFileSync(file, 'latin1')).toBe('abcd');
    expect(tempFilesIn(dir())).toEqual([]);
    expect(liveTempFiles()).toEqual([]);
  });

  it('handles a destination name at the usual 255-byte limit', () => {
    const file = path.join(dir(), 'n'.repeat(255));
    writeFileAtomic(file, new Uint8Array([9]));
    expect(Array.from(fs.readFileSync(file))).toEqual([9]);
    fs.unlinkSync(file);
  });

  it('refuses a missing directory with a UsageError naming the path', () => {
    const file = path.join(dir(), 'missing', 'out.bin');
    expect(() => writeFileAtomic(file, new Uint8Array(1))).toThrow(UsageError);
    expect(() => writeFileAtomic(file, new Uint8Array(1))).toThrow(
      `${file}: cannot write: directory ${JSON.stringify(path.dirname(file))} does not exist`,
    );
  });

  it('refuses a destination that is a directory, leaving it alone', () => {
    const sub = path.join(dir(), 'a-directory');
    fs.mkdirSync(sub);
    fs.writeFileSync(path.join(sub, 'inside'), 'x');
    expect(() => writeFileAtomic(sub, new Uint8Array(1))).toThrow(`${sub}: cannot write: is a directory`);
    expect(fs.readdirSync(sub)).toEqual(['inside']);
    expect(tempFilesIn(dir())).toEqual([]);
  });

  it('writes straight into a device or a FIFO, which stays what it was (never renamed over /dev/null)', async () => {
    writeFileAtomic('/dev/null', new Uint8Array([1, 2, 3]));
    expect(fs.statSync('/dev/null').isCharacterDevice()).toBe(true);
    expect(tempFilesIn('/dev')).toEqual([]);
    const fifo = path.join(dir(), 'a-fifo');
    require('child_process').execFileSync('mkfifo', [fifo]);
    const reader = new Promise<string>((resolve, reject) => {
      const c = spawn('cat', [fifo]);
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.on('close', () => resolve(out));
      c.on('error', reject);
    });
    writeFileAtomic(fifo, [Buffer.from('through '), Buffer.from('the fifo')]);
    expect(await reader).toBe('through the fifo');
    expect(fs.statSync(fifo).isFIFO()).toBe(true);
    expect(tempFilesIn(dir())).toEqual([]);
  });

  it('refuses a socket as a destination', async () => {
    const sock = path.join(dir(), 'a-socket');
    const server = require('net').createServer();
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      expect(() => writeFileAtomic(sock, new Uint8Array(1))).toThrow(`${sock}: cannot write: is a socket; expected a file path`);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('refuses a path through a regular file', () => {
    const file = path.join(dir(), 'plain');
    fs.writeFileSync(file, '');
    const target = path.join(file, 'out.bin');
    expect(() => writeFileAtomic(target, new Uint8Array(1))).toThrow(
      `${target}: cannot write: a component of the path is not a directory`,
    );
  });

  (isRoot ? it.skip : it)(`refuses an unwritable directory${isRoot ? ' (SKIPPED: running as root)' : ''}`, () => {
    const locked = path.join(dir(), 'locked');
    fs.mkdirSync(locked, 0o555);
    const file = path.join(locked, 'out.bin');
    expect(() => writeFileAtomic(file, new Uint8Array(1))).toThrow(`${file}: cannot write: permission denied`);
    fs.chmodSync(locked, 0o755);
  });

  it('maps permission denied when creating the temporary file (simulated, works as root too)', () => {
    const file = path.join(dir(), 'denied.bin');
    const eacces = Object.assign(new Error('EACCES: permission denied, open'), { code: 'EACCES' });
    const spy = jest.spyOn(fsModule, 'openSync').mockImplementation(() => {
      throw eacces;
    });
    try {
      expect(() => writeFileAtomic(file, new Uint8Array(1))).toThrow(`${file}: cannot write: permission denied`);
    } finally {
      spy.mockRestore();
    }
    expect(liveTempFiles()).toEqual([]);
  });

  it('on a failure while writing, removes the temporary file and leaves the destination untouched', () => {
    const file = path.join(dir(), 'precious.bin');
    fs.writeFileSync(file, 'precious');
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, fsync'), { code: 'ENOSPC' });
    const spy = jest.spyOn(fsModule, 'fsyncSync').mockImplementation(() => {
      throw enospc;
    });
    try {
      expect(() => writeFileAtomic(file, new Uint8Array(100))).toThrow(
        `${file}: cannot write: no space left on device`,
      );
    } finally {
      spy.mockRestore();
    }
    expect(fs.readFileSync(file, 'utf8')).toBe('precious');
    expect(tempFilesIn(dir())).toEqual([]);
    expect(liveTempFiles()).toEqual([]);
  });

  it('passes on errors the user cannot fix unchanged', () => {
    const file = path.join(dir(), 'eio.bin');
    const eio = Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
    const spy = jest.spyOn(fsModule, 'renameSync').mockImplementation(() => {
      throw eio;
    });
    try {
      expect(() => writeFileAtomic(file, new Uint8Array(1))).toThrow(eio);
    } finally {
      spy.mockRestore();
    }
    expect(fs.existsSync(file)).toBe(false);
    expect(tempFilesIn(dir())).toEqual([]);
  });
});

describe('fsUsageError', () => {
  it('maps user-fixable codes to one-line UsageErrors and returns others as they are', () => {
    const e = (code: string): Error => Object.assign(new Error(code), { code });
    expect(fsUsageError('x.npy', 'read', e('EACCES'))).toEqual(new UsageError('x.npy: cannot read: permission denied'));
    expect(fsUsageError('x.npy', 'read', e('ENOENT'), { ENOENT: 'file does not exist' })).toEqual(
      new UsageError('x.npy: cannot read: file does not exist'),
    );
    const other = e('EIO');
    expect(fsUsageError('x.npy', 'read', other)).toBe(other);
    expect(fsUsageError('x.npy', 'read', 'not an error')).toBe('not an error');
  });
});

describe('temporary-file registry', () => {
  it('tracks and untracks paths', () => {
    const p = path.join(dir(), '.tracked.tmp');
    trackTemp(p);
    expect(liveTempFiles()).toContain(p);
    untrackTemp(p);
    expect(liveTempFiles()).not.toContain(p);
  });

  it('installs its handlers once', () => {
    installCleanupHandlers();
    const counts = (): number[] => ['exit', 'SIGINT', 'SIGTERM'].map((e) => process.listenerCount(e));
    const before = counts();
    installCleanupHandlers();
    trackTemp('x');
    untrackTemp('x');
    expect(counts()).toEqual(before);
  });
});

/**
 * Cleanup in a real process: src/io and src/errors are transpiled to plain JS (no type checking,
 * so others' work in progress elsewhere cannot break this), and a child holds an uncommitted
 * NpyWriter and a raw temporary file, then is signalled or exits.
 */
describe('cleanup handlers in a child process', () => {
  let childDir = '';
  let outDir = '';
  beforeAll(() => {
    childDir = path.join(dir(), 'child');
    outDir = path.join(dir(), 'child-out');
    fs.mkdirSync(path.join(childDir, 'src', 'io'), { recursive: true });
    fs.mkdirSync(outDir);
    const root = path.join(__dirname, '..', '..');
    for (const rel of ['src/errors.ts', 'src/io/atomic.ts', 'src/io/npy.ts', 'src/io/float16.ts']) {
      const js = ts.transpileModule(fs.readFileSync(path.join(root, rel), 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      }).outputText;
      fs.writeFileSync(path.join(childDir, rel.replace(/\.ts$/, '.js')), js);
    }
    fs.writeFileSync(
      path.join(childDir, 'child.js'),
      `const fs = require('fs');
const path = require('path');
const { NpyWriter } = require('./src/io/npy.js');
const { createTempFile, discardTempFile, liveTempFiles } = require('./src/io/atomic.js');
const [mode, out] = process.argv.slice(2);
const w = NpyWriter.create(path.join(out, mode + '.npy'), 'float32', [4]);
w.appendSync(new Float32Array(2));
const raw = createTempFile(path.join(out, mode + '.bin'));
const temps = liveTempFiles();
const existed = temps.map((t) => fs.existsSync(t));
if (mode.startsWith('over')) {
  // The writes are over (given up here): no temporary file is live any more.
  w.abort();
  discardTempFile(raw);
}
if (mode === 'over-listener') process.on('SIGINT', () => { process.stdout.write('own handler\\n'); process.exit(7); });
process.stdout.write(JSON.stringify({ temps, existed }) + '\\n');
if (mode === 'throw') throw new Error('deliberate');
if (mode === 'wait' || mode.startsWith('over')) setInterval(() => {}, 1000);
`,
    );
  });

  interface ChildReport {
    /** The temporary files the child had open... */
    temps: string[];
    /** ...and whether each existed then (checked by the child: it may exit right after). */
    existed: boolean[];
  }

  /** Runs the child; once it has reported, optionally signals it; returns its report, exit code or signal, and later output. */
  function runChild(
    mode: 'wait' | 'end' | 'throw' | 'over' | 'over-listener',
    signal?: NodeJS.Signals,
  ): Promise<ChildReport & { code: number | null; killedBy: NodeJS.Signals | null; rest: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(childDir, 'child.js'), mode, outDir], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let reported = false;
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (!reported && stdout.includes('\n')) {
          reported = true;
          if (signal !== undefined) child.kill(signal);
        }
      });
      child.on('error', reject);
      child.on('close', (code, killedBy) => {
        if (!reported) return reject(new Error(`child (${mode}) exited with ${code} before reporting`));
        const nl = stdout.indexOf('\n');
        resolve({ code, killedBy, rest: stdout.slice(nl + 1), ...(JSON.parse(stdout.slice(0, nl)) as ChildReport) });
      });
    });
  }

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s removes the temporary files and exits with %i', async (signal, exitCode) => {
    const { code, temps, existed } = await runChild('wait', signal);
    expect(code).toBe(exitCode);
    expect(existed).toEqual([true, true]);
    for (const t of temps) expect(fs.existsSync(t)).toBe(false);
    expect(fs.readdirSync(outDir)).toEqual([]);
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('%s once the writes are over: the handler stands aside, the signal kills the process', async (signal) => {
    // Not process.exit: that would tear down worker threads mid-run (an evaluator pool started later).
    const { code, killedBy, existed } = await runChild('over', signal);
    expect(existed).toEqual([true, true]);
    expect({ code, killedBy }).toEqual({ code: null, killedBy: signal });
    expect(fs.readdirSync(outDir)).toEqual([]);
  });

  it("SIGINT once the writes are over, with the program's own listener: that listener decides", async () => {
    const { code, killedBy, rest } = await runChild('over-listener', 'SIGINT');
    expect({ code, killedBy, rest }).toEqual({ code: 7, killedBy: null, rest: 'own handler\n' });
    expect(fs.readdirSync(outDir)).toEqual([]);
  });

  it.each([
    ['end', 0],
    ['throw', 1],
  ] as const)('exit (%s) removes the temporary files', async (mode, exitCode) => {
    const { code, temps, existed } = await runChild(mode);
    expect(code).toBe(exitCode);
    expect(existed).toEqual([true, true]);
    for (const t of temps) expect(fs.existsSync(t)).toBe(false);
    expect(fs.readdirSync(outDir)).toEqual([]);
  });
});
