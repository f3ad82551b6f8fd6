/**
 * Atomic file output: a file either appears complete under its final name or not at all.
 *
 * Every output is written to a temporary file in the destination's own directory (so the final
 * rename never crosses file systems), named `.<name>.<pid>.<random>.tmp`, then fsynced and renamed
 * over the destination. Until the rename, an existing destination is untouched; on any failure
 * the temporary file is removed. The new file gets default permissions (0666 less the umask), and
 * a destination that is a symbolic link is replaced by the file, not written through. A
 * destination that exists and is not a regular file — a character device such as /dev/null or a
 * FIFO — is written straight into (it cannot be replaced, and must not be: renaming over
 * /dev/null as root would turn it into a regular file); a socket is refused.
 *
 * - `writeFileAtomic(path, data)`: the whole job for data already in memory.
 * - `createTempFile`, `writeAllSync`, `renameTempIntoPlace`, `discardTempFile`: the steps, for
 *   streamed output (NpyWriter in npy.ts), where the caller fsyncs and closes before the rename.
 *
 * Live temporary files are kept in a registry (`trackTemp` / `untrackTemp`). Tracking a file
 * installs, once, handlers for the process 'exit' event and for SIGINT and SIGTERM that unlink
 * every live temporary file synchronously; on a signal the process then exits with 128 + the
 * signal number (130 for SIGINT, 143 for SIGTERM). So an interrupted run leaves neither a partial
 * output nor a stray temporary file behind. (A SIGKILL cannot be caught: it may leave a `.tmp`.)
 *
 * Errors the user can fix (missing directory, permissions, a directory in the way, a full disk)
 * become `UsageError`s naming the path as given and the reason; see `fsUsageError`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { UsageError } from '../errors';

/** Readable reasons for the file-system errors a user can cause and fix. */
const FS_REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a component of the path is not a directory',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many symbolic links',
};

/**
 * Turns a file-system error the user can act on into a one-line `UsageError`
 * (`<path>: cannot <action>: <reason>`); returns any other error unchanged, for rethrowing.
 * `reasons` overrides the wording for particular codes.
 */
export function fsUsageError(
  file: string,
  action: string,
  err: unknown,
  reasons: Readonly<Record<string, string>> = {},
): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const reason = code === undefined ? undefined : (reasons[code] ?? FS_REASONS[code]);
  return reason === undefined ? err : new UsageError(`${file}: cannot ${action}: ${reason}`);
}

// ---------------------------------------------------------------------------------------------
// Registry of live temporary files and the cleanup handlers.

const liveTemps = new Set<string>();
let handlersInstalled = false;

/** Registers a temporary file to be unlinked if the process exits before it is committed. */
export function trackTemp(tempPath: string): void {
  installCleanupHandlers();
  liveTemps.add(tempPath);
}

/** Forgets a temporary file (it was renamed into place or removed). */
export function untrackTemp(tempPath: string): void {
  liveTemps.delete(tempPath);
}

/** The temporary files currently registered (a copy). */
export function liveTempFiles(): string[] {
  return [...liveTemps];
}

/** Unlinks every registered temporary file, synchronously, ignoring errors. */
function removeLiveTemps(): void {
  for (const temp of liveTemps) {
    try {
      fs.unlinkSync(temp);
    } catch {
      // Already gone (renamed or removed concurrently), or nothing more can be done while exiting.
    }
  }
  liveTemps.clear();
}

/**
 * Installs (once; later calls do nothing) the 'exit', SIGINT and SIGTERM handlers that remove all
 * live temporary files. On a signal while temporary files are live (a write in progress), the
 * process exits with code 128 + signal number right after the cleanup, so SIGINT/SIGTERM listeners
 * registered later never run. With none live (the writes are over), the handler stands aside: when
 * it is the signal's only listener it removes itself and raises the signal again, so the process
 * ends as it would have without it — killed by the signal, not by `process.exit`, which would tear
 * down worker threads in the middle of an onnxruntime run (the evaluator's pool, in a process that
 * wrote an output file earlier) and abort; when others listen, they decide.
 */
export function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const handlers = signals.map((signal) => {
    const onSignal = (): void => {
      if (liveTemps.size > 0) {
        removeLiveTemps();
        process.exit(128 + os.constants.signals[signal]);
      }
      if (process.listenerCount(signal) > 1) return;
      // Uninstalled (a later write installs them again), and the signal raised again.
      process.removeListener('exit', removeLiveTemps);
      signals.forEach((s, i) => process.removeListener(s, handlers[i]));
      handlersInstalled = false;
      process.kill(process.pid, signal);
    };
    return onSignal;
  });
  process.on('exit', removeLiveTemps);
  signals.forEach((s, i) => process.on(s, handlers[i]));
}

// ---------------------------------------------------------------------------------------------
// Temporary-file primitives (shared with NpyWriter) and writeFileAtomic.

/** An open, tracked temporary file that will become `dest`. */
export interface TempFile {
  /** Destination path, as given by the caller (used in messages). */
  readonly dest: string;
  /** Path of the temporary file, in the destination's directory. */
  readonly tempPath: string;
  /** Open file descriptor, write-only. */
  readonly fd: number;
  /** `dest` is a device or FIFO, opened and written directly: no temporary file, no rename, no fsync. */
  readonly direct?: boolean;
}

/** Reasons worded for output paths (ENOENT there means the directory is missing). */
function writeReasons(dest: string): Record<string, string> {
  return { ENOENT: `directory ${JSON.stringify(path.dirname(dest))} does not exist` };
}

/**
 * Creates and tracks a new temporary file next to `dest`. Throws a `UsageError` when `dest` is a
 * directory or its directory is missing or not writable, before anything is written.
 */
export function createTempFile(dest: string): TempFile {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(dest);
  } catch {
    // Usually ENOENT (a new file); any real problem shows up when creating the temporary file.
  }
  if (stat?.isDirectory()) throw new UsageError(`${dest}: cannot write: is a directory`);
  if (stat?.isSocket()) throw new UsageError(`${dest}: cannot write: is a socket; expected a file path`);
  if (stat && (stat.isCharacterDevice() || stat.isBlockDevice() || stat.isFIFO())) {
    try {
      return { dest, tempPath: dest, fd: fs.openSync(dest, 'w'), direct: true };
    } catch (err) {
      throw fsUsageError(dest, 'write', err);
    }
  }

  // The name is cut so that the temporary name stays within the usual 255-byte limit.
  const name = path.basename(dest).slice(0, 200);
  const tempPath = path.join(path.dirname(dest), `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = fs.openSync(tempPath, 'wx', 0o666);
  } catch (err) {
    throw fsUsageError(dest, 'write', err, writeReasons(dest));
  }
  trackTemp(tempPath);
  return { dest, tempPath, fd };
}

/** Largest number of bytes handed to one read or write call (Node refuses 2 GiB and more). */
export const MAX_IO_BYTES = 1 << 30;

/**
 * Writes all of `bytes` at byte `position` of `fd` (at the current file position when null),
 * looping over short writes.
 */
export function writeAllSync(fd: number, bytes: ArrayBufferView, position: number | null): void {
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let done = 0; done < view.length; ) {
    const length = Math.min(view.length - done, MAX_IO_BYTES);
    done += fs.writeSync(fd, view, done, length, position === null ? null : position + done);
  }
}

/**
 * Closes and removes a temporary file, ignoring errors (it is being discarded). `closeFd: false`
 * leaves the descriptor open for the caller to close later (e.g. after in-flight writes settle).
 */
export function discardTempFile(temp: TempFile, closeFd = true): void {
  if (temp.direct) {
    if (closeFd) {
      try {
        fs.closeSync(temp.fd);
      } catch {
        // Already closed.
      }
    }
    return;
  }
  untrackTemp(temp.tempPath);
  if (closeFd) {
    try {
      fs.closeSync(temp.fd);
    } catch {
      // Already closed.
    }
  }
  try {
    fs.unlinkSync(temp.tempPath);
  } catch {
    // Already gone.
  }
}

/** fsyncs the directory holding `file` so a rename into it is durable; best effort. */
function syncDirectory(file: string): void {
  try {
    const dirFd = fs.openSync(path.dirname(file), 'r');
    try {
      fs.fsyncSync(dirFd);
    } finally {
      fs.closeSync(dirFd);
    }
  } catch {
    // Some file systems refuse to open or fsync directories; the rename itself has happened.
  }
}

/**
 * Renames a temporary file (already fsynced and closed) over its destination and forgets it. On
 * failure removes it and throws (a `UsageError` when the user can fix the cause).
 */
export function renameTempIntoPlace(temp: TempFile): void {
  if (temp.direct) return;
  try {
    fs.renameSync(temp.tempPath, temp.dest);
  } catch (err) {
    discardTempFile(temp, false);
    throw fsUsageError(temp.dest, 'write', err, writeReasons(temp.dest));
  }
  untrackTemp(temp.tempPath);
  syncDirectory(temp.dest);
}

/**
 * Writes `data` (one buffer, or several written in order) to `file` atomically: temporary file in
 * the same directory, write, fsync, rename. On failure the temporary file is removed, an existing
 * `file` is untouched, and user-fixable errors are `UsageError`s naming `file` and the reason.
 */
export function writeFileAtomic(file: string, data: ArrayBufferView | readonly ArrayBufferView[]): void {
  const temp = createTempFile(file);
  try {
    const chunks: readonly ArrayBufferView[] = ArrayBuffer.isView(data) ? [data] : data;
    for (const chunk of chunks) writeAllSync(temp.fd, chunk, null);
    if (!temp.direct) fs.fsyncSync(temp.fd);
    fs.closeSync(temp.fd);
  } catch (err) {
    discardTempFile(temp);
    throw fsUsageError(file, 'write', err);
  }
  renameTempIntoPlace(temp);
}
