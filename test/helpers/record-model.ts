/**
 * Lets CI check every model the tests build with the official ONNX checker.
 *
 * When the environment variable `FOCAL_RECORD_MODELS` names a directory, `recordModel` writes the
 * bytes there as `<sanitized name>.onnx` (creating the directory, and adding `-2`, `-3`, … when the
 * name is taken — also by another jest worker); otherwise it does nothing. `.ci/run` then runs
 * `scripts/check-models.py` over that directory.
 */
import * as fs from 'fs';
import * as path from 'path';

export const RECORD_ENV = 'FOCAL_RECORD_MODELS';

/** A file-name stem made of `[A-Za-z0-9._-]`, at most 120 characters, never empty. */
export function sanitizeModelName(name: string): string {
  const stem = name
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[._]+|[._]+$/g, '')
    .slice(0, 120);
  return stem || 'model';
}

/** Writes `bytes` to `$FOCAL_RECORD_MODELS/<name>.onnx` when that variable is set; returns the path or undefined. */
export function recordModel(name: string, bytes: Uint8Array): string | undefined {
  const dir = process.env[RECORD_ENV];
  if (!dir) return undefined;
  fs.mkdirSync(dir, { recursive: true });
  const stem = sanitizeModelName(name);
  for (let n = 1; ; n++) {
    const file = path.join(dir, n === 1 ? `${stem}.onnx` : `${stem}-${n}.onnx`);
    try {
      // 'wx' fails when the file exists, so parallel workers never overwrite each other's models.
      fs.writeFileSync(file, bytes, { flag: 'wx' });
      return file;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}
