/**
 * Running the command line in-process with captured streams (`runCli`), or as a real process
 * (`spawnCli`, needs `npm run build`), and a scratch directory per test file.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { Writable } from 'stream';
import { run } from '../../src/cli/main';
import { CliIO } from '../../src/cli/command';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A writable stream that keeps what is written; `isTTY` as given. */
export function captureStream(isTTY = false): Writable & { text(): string; isTTY: boolean; columns: number } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  }) as Writable & { text(): string; isTTY: boolean; columns: number };
  stream.text = () => chunks.join('');
  stream.isTTY = isTTY;
  stream.columns = 100;
  return stream;
}

/** Runs `focal-onnx argv…` in this process; stderr claims to be a terminal when `tty`. */
export async function runCli(argv: readonly string[], options: { tty?: boolean } = {}): Promise<CliResult> {
  const stdout = captureStream();
  const stderr = captureStream(options.tty ?? false);
  const io: CliIO = { stdout, stderr };
  const code = await run(argv, io);
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

export const BIN = path.join(__dirname, '..', '..', 'bin', 'focal-onnx.js');

/** Runs `node bin/focal-onnx.js argv…` (the built dist/) and waits for it. */
export function spawnCli(argv: readonly string[], cwd?: string): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...argv], { encoding: 'utf8', cwd, timeout: 60000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A fresh directory under os.tmpdir() for the test file, removed after its tests. */
export function scratchDir(prefix = 'focal-onnx-'): () => string {
  let dir = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  return () => dir;
}
