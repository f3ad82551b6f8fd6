/**
 * A model's side files (external data) on disk: where each lies — relative to the model file's
 * folder, as ONNX and onnxruntime resolve it, whatever the working directory — and whether it is
 * there, big enough, and a regular file. The references themselves come from the decoded model
 * (onnx/external.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { UsageError, quote } from '../errors';
import type { ExternalTensor } from '../onnx/external';
import { irregularKind } from './files';

/** One side file of a model. */
export interface ExternalFile {
  /** As the model writes it (relative to the model's folder). */
  readonly location: string;
  /** Where it is looked for: the model's folder joined with the location. */
  readonly path: string;
  /** Tensors stored there, and the bytes they span (the end of the last one; the file's size where a tensor runs to its end). */
  readonly tensors: number;
  readonly bytes: number;
  /** Its size, or undefined where it is missing or not a regular file (`problem` says which). */
  readonly size: number | undefined;
  /** Why the model cannot load from it (missing, too short, outside the model's folder, …), or undefined. */
  readonly problem: string | undefined;
}

/** Why a location cannot be resolved as onnxruntime and onnx do (relative, inside the model's folder), or undefined. */
function locationProblem(location: string): string | undefined {
  if (location === '') return 'names no file (an empty location)';
  if (path.isAbsolute(location) || path.win32.isAbsolute(location)) return 'is an absolute path; onnxruntime takes only a path relative to the model';
  const parts = location.split(/[\\/]+/);
  if (parts.includes('..')) return "leads out of the model's folder ('..'), which onnxruntime refuses";
  return undefined;
}

/**
 * The side files `refs` point to, for a model in the folder `dir` (a model file's folder; the
 * working directory for a model given as bytes), each checked (see `problem`); never throws.
 */
export function externalFiles(refs: readonly ExternalTensor[], dir: string): ExternalFile[] {
  const byLocation = new Map<string, ExternalTensor[]>();
  for (const r of refs) byLocation.set(r.location, [...(byLocation.get(r.location) ?? []), r]);
  return [...byLocation].map(([location, tensors]) => {
    const file = path.resolve(dir, location);
    const toEnd = tensors.some((t) => t.length === undefined);
    let bytes = Math.max(...tensors.map((t) => t.offset + (t.length ?? 0)));
    const bad = locationProblem(location);
    if (bad) return { location, path: file, tensors: tensors.length, bytes, size: undefined, problem: bad };
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const problem = code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist' : `cannot be read (${code ?? String(e)})`;
      return { location, path: file, tensors: tensors.length, bytes, size: undefined, problem };
    }
    const kind = irregularKind(st);
    if (kind) return { location, path: file, tensors: tensors.length, bytes, size: undefined, problem: `is ${kind}, not a regular file` };
    if (toEnd) bytes = Math.max(bytes, st.size);
    const short = tensors.find((t) => t.offset + (t.length ?? 0) > st.size);
    const problem = short ? `holds ${st.size} bytes, but tensor ${quote(short.name)} needs bytes ${short.offset}–${short.offset + (short.length ?? 0)}` : undefined;
    return { location, path: file, tensors: tensors.length, bytes, size: st.size, problem };
  });
}

/**
 * Throws a one-line UsageError when a side file of the model `source` (in the folder `dir`) is
 * missing or unusable: the file expected and where, and what is wrong.
 */
export function checkExternalData(refs: readonly ExternalTensor[], dir: string, source: string): void {
  for (const f of externalFiles(refs, dir)) {
    if (!f.problem) continue;
    if (locationProblem(f.location)) throw new UsageError(`${source}: its external data location ${quote(f.location)} ${f.problem}`);
    throw new UsageError(`${source}: its weights lie in a side file, ${quote(f.location)}, expected at ${f.path} (relative to the model's folder ${path.resolve(dir)}), which ${f.problem}`);
  }
}

/** The bytes of one external tensor, read from its file (checked with `checkExternalData` first). */
export function readExternalTensor(t: ExternalTensor, dir: string): Uint8Array {
  const file = path.resolve(dir, t.location);
  const fd = fs.openSync(file, 'r');
  try {
    const length = t.length ?? fs.fstatSync(fd).size - t.offset;
    const out = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(fd, out, done, length - done, t.offset + done);
      if (n === 0) throw new UsageError(`${file}: ends before the ${length} bytes of tensor ${quote(t.name)} at offset ${t.offset}`);
      done += n;
    }
    return out;
  } finally {
    fs.closeSync(fd);
  }
}
