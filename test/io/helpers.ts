/**
 * Shared helpers for the src/io tests: a scratch directory per test file, hand-crafted `.npy`
 * bytes for the refusal tests, and access to a Python with numpy for the compatibility tests
 * (which skip when none is found).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';

/** A fresh directory under os.tmpdir(), removed after the test file's tests. */
export function scratchDir(): () => string {
  let dir = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'focal-onnx-io-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  return () => dir;
}

/** `.npy` bytes with a header `text` as given (no padding added), for malformed-file tests. */
export function craftNpy(
  text: string,
  data: Uint8Array = new Uint8Array(0),
  options: { major?: number; minor?: number; magic?: Uint8Array; headerLength?: number } = {},
): Buffer {
  const major = options.major ?? 1;
  const magic = options.magic ?? Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
  const body = Buffer.from(text, major === 3 ? 'utf8' : 'latin1');
  const length = Buffer.alloc(major === 1 ? 2 : 4);
  if (major === 1) length.writeUInt16LE(options.headerLength ?? body.length);
  else length.writeUInt32LE(options.headerLength ?? body.length);
  return Buffer.concat([magic, Buffer.from([major, options.minor ?? 0]), length, body, data]);
}

/** A header dict the way numpy lays it out (without padding) for `descr` and a shape tuple text. */
export function dictText(descr: string, shape: string, fortran = 'False'): string {
  return `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }\n`;
}

/** Files created in `dir` whose names end in `.tmp` (stray temporary files). */
export function tempFilesIn(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));
}

const PYTHON_CANDIDATES = ['/usr/bin/python3', 'python3'];

/** A Python interpreter that can import numpy, or undefined. */
export const numpyPython: string | undefined = PYTHON_CANDIDATES.find(
  (py) => spawnSync(py, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0,
);

export const NUMPY_SKIP_NOTE = `SKIPPED: numpy is not importable by ${PYTHON_CANDIDATES.join(' or ')}`;

/** Runs Python `code` (with `sys.argv[1:] = args`) with numpy available; returns stdout. */
export function runNumpy(code: string, args: string[] = []): string {
  if (numpyPython === undefined) throw new Error(NUMPY_SKIP_NOTE);
  const r = spawnSync(numpyPython, ['-c', code, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
