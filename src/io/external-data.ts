/**
 * A model's side files (external data) on disk: where each lies — relative to the model file's
 * folder, as ONNX and onnxruntime resolve it, whatever the working directory — and whether it is
 * there, big enough, and a regular file. The references themselves come from the decoded model
 * (onnx/external.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { UsageError, quote } from '../errors';
import type { onnx } from 'onnx-proto';
import { ExternalPlacement, ExternalTensor, externalTensors, relocateExternalData } from '../onnx/external';
import { TempFile, createTempFile, discardTempFile, fsUsageError } from './atomic';
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

/** How `attach` writes a network's external data: into the model, into OUT.data beside it, or referring to the original. */
export type ExternalDataMode = 'inline' | 'copy' | 'keep';
export const EXTERNAL_DATA_MODES = ['inline', 'copy', 'keep'] as const;

/** Protobuf's limit on one message: a model of this size or more cannot hold its weights inline. */
export const INLINE_LIMIT = 2 ** 31 - 1;

/** A side file to write beside the output (`copy`): its path, and where each tensor goes in it from where. */
export interface SideFile {
  readonly path: string;
  readonly location: string;
  /** Its size. */
  readonly bytes: number;
  /** The folder the tensors' source files are in. */
  readonly srcDir: string;
  readonly pieces: readonly { readonly tensor: ExternalTensor; readonly at: number; readonly length: number }[];
}

/**
 * Rewrites the external tensors of `model` (read from a model in the folder `srcDir`, named
 * `source` in messages) for writing it at `out`, so that it loads where it is written:
 * - `inline`: each tensor's bytes go into the model (refused when the model would reach 2 GB);
 *   the default (`mode` undefined) below 2 GB, as `onnx.save` does, `copy` above;
 * - `copy`: into one new side file `OUT.data` beside `out` (returned, to be written with the model by writeSideFileTemp);
 * - `keep`: the model refers to the original files by a path relative to `out`'s folder —
 *   refused when that path would leave the folder (onnxruntime refuses '..' and absolute paths).
 * `flag` names the option in messages. The side files are checked first (checkExternalData).
 */
export function placeExternalData(
  model: onnx.IModelProto,
  modelBytes: number,
  mode: ExternalDataMode | undefined,
  srcDir: string,
  out: string,
  source: string,
  flag: string,
): SideFile | undefined {
  const refs = externalTensors(model);
  if (refs.length === 0) return undefined;
  checkExternalData(refs, srcDir, source);
  const relocate = (place: (t: ExternalTensor) => ExternalPlacement): void => relocateExternalData(model, place);
  const outDir = path.dirname(path.resolve(out));
  if (mode === 'keep') {
    const moved = new Map<string, string>();
    const files = externalFiles(refs, srcDir);
    for (const f of files) {
      const rel = path.relative(outDir, f.path).split(path.sep).join('/');
      if (rel === '' || locationProblem(rel)) {
        throw new UsageError(`${flag} keep: ${out} would refer to ${f.path} as ${quote(rel)}, outside its folder ${outDir}, which onnxruntime refuses; use ${flag} copy or inline`);
      }
      moved.set(f.location, rel);
    }
    const size = (t: ExternalTensor): number => (files.find((f) => f.location === t.location)?.size ?? 0) - t.offset;
    relocate((t) => ({ location: moved.get(t.location) as string, offset: t.offset, length: t.length ?? size(t) }));
    return undefined;
  }
  const total = modelBytes + externalFiles(refs, srcDir).reduce((a, f) => a + f.bytes, 0);
  if (mode === 'inline' && total >= INLINE_LIMIT) throw new UsageError(`${flag} inline: ${out} would hold ${total} bytes with its weights, over protobuf's 2 GB; use ${flag} copy or keep`);
  if (mode === 'inline' || (mode === undefined && total < INLINE_LIMIT)) {
    relocate((t) => ({ rawData: readExternalTensor(t, srcDir) }));
    return undefined;
  }
  const sidePath = `${out}.data`;
  const location = path.basename(sidePath);
  const pieces: { tensor: ExternalTensor; at: number; length: number }[] = [];
  const sizes = new Map(externalFiles(refs, srcDir).map((f) => [f.location, f.size ?? 0]));
  let offset = 0;
  relocate((t) => {
    const length = t.length ?? (sizes.get(t.location) ?? 0) - t.offset;
    // Each tensor starts on a 4 KiB boundary (mmap-friendly, as onnx can align them).
    offset += (4096 - (offset % 4096)) % 4096;
    pieces.push({ tensor: t, at: offset, length });
    offset += length;
    return { location, offset: pieces[pieces.length - 1].at, length };
  });
  return { path: sidePath, location, bytes: offset, srcDir, pieces };
}

/** Writes `data` at `position` of `fd`; resolves to the bytes written (a short write returns fewer). */
function writeAt(fd: number, data: Buffer, position: number): Promise<number> {
  return new Promise((resolve, reject) => fs.write(fd, data, 0, data.length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

/** Bytes copied per read and write: the weights stream through, never wholly in memory. */
const COPY_CHUNK = 1 << 24;

/**
 * Writes `side` (placeExternalData's `copy`) to a temporary file beside its destination, every
 * tensor streamed from its source file in chunks — asynchronously, so that SIGINT / SIGTERM end a
 * copy of gigabytes at once (the cleanup handlers remove the temporary file); fsynced and closed,
 * for the caller to rename into place (renameTempIntoPlace) with the model, or discard.
 */
export async function writeSideFileTemp(side: SideFile): Promise<TempFile> {
  const temp = createTempFile(side.path);
  const buf = Buffer.alloc(Math.min(COPY_CHUNK, Math.max(1, ...side.pieces.map((p) => p.length))));
  try {
    for (const { tensor, at, length } of side.pieces) {
      const file = path.resolve(side.srcDir, tensor.location);
      const source = await fs.promises.open(file, 'r');
      try {
        for (let done = 0; done < length; ) {
          const { bytesRead: n } = await source.read(buf, 0, Math.min(buf.length, length - done), tensor.offset + done);
          if (n === 0) throw new UsageError(`${file}: ends before the ${length} bytes of tensor ${quote(tensor.name)} at offset ${tensor.offset}`);
          for (let w = 0; w < n; ) w += await writeAt(temp.fd, buf.subarray(w, n), at + done + w);
          done += n;
        }
      } finally {
        await source.close();
      }
    }
    // The file's length is the end of its last tensor (a tensor of 0 bytes writes nothing); a
    // device written directly (atomic.ts) is neither truncated nor fsynced.
    if (!temp.direct) {
      fs.ftruncateSync(temp.fd, side.bytes);
      fs.fsyncSync(temp.fd);
    }
    fs.closeSync(temp.fd);
  } catch (err) {
    discardTempFile(temp);
    throw fsUsageError(side.path, 'write', err);
  }
  return temp;
}
