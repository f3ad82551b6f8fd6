/**
 * Opening a user's file for reading: only a regular file. A FIFO would block the open (and, the
 * thread blocked, neither Ctrl-C nor SIGTERM would end the process), a character device such as
 * /dev/zero never ends, a directory or a socket is no data file: each is refused, by its kind,
 * before it is opened for reading. The check is made again on the open descriptor (opened without
 * blocking), so a file swapped in between is refused too.
 */
import * as fs from 'fs';
import { UsageError } from '../errors';
import { fsUsageError } from './atomic';

/** What a file that is not a regular one is, for messages ('a FIFO (named pipe)'), or undefined for a regular file. */
export function irregularKind(st: fs.Stats): string | undefined {
  if (st.isFile()) return undefined;
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function refuse(file: string, kind: string, expected: string): UsageError {
  return new UsageError(`${file}: ${kind === 'not a regular file' ? kind : `is ${kind}`}, expected ${expected}`);
}

/** Opening without blocking: a FIFO swapped in after the stat opens at once (and is then refused). */
const OPEN_FLAGS = typeof fs.constants.O_NONBLOCK === 'number' ? fs.constants.O_RDONLY | fs.constants.O_NONBLOCK : 'r';

/**
 * The descriptor of `file` opened for reading, when it is a regular file; otherwise a one-line
 * UsageError naming the file, what it is and `expected` ('a regular .npy file').
 */
export function openRegularFile(file: string, expected: string): number {
  let fd: number;
  try {
    const kind = irregularKind(fs.statSync(file));
    if (kind) throw refuse(file, kind, expected);
    fd = fs.openSync(file, OPEN_FLAGS);
  } catch (err) {
    throw fsUsageError(file, 'read', err, { ENOENT: 'file does not exist' });
  }
  const kind = irregularKind(fs.fstatSync(fd));
  if (kind) {
    fs.closeSync(fd);
    throw refuse(file, kind, expected);
  }
  return fd;
}

/** The bytes of the model file `file` (a regular file: a FIFO, device, directory or socket is refused unopened). */
export function readModelFile(file: string): Uint8Array {
  return readRegularFile(file, 'an .onnx file');
}

/** The whole of a regular file (see openRegularFile). */
export function readRegularFile(file: string, expected: string): Buffer {
  const fd = openRegularFile(file, expected);
  try {
    return fs.readFileSync(fd);
  } catch (err) {
    throw fsUsageError(file, 'read', err);
  } finally {
    fs.closeSync(fd);
  }
}
