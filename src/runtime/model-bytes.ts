/**
 * The bytes of a user's .onnx file, file-system problems as one-line `UsageError`s. Apart from
 * model-file.ts (which decodes the model) so that a session can be made from a path without
 * loading the protobuf code.
 */
import * as fs from 'fs';
import { UsageError } from '../errors';
import { fsUsageError } from '../io/atomic';

/** The bytes of the model file `file`. */
export function readModelFile(file: string): Uint8Array {
  try {
    if (fs.statSync(file).isDirectory()) throw new UsageError(`${file}: is a directory, expected an .onnx file`);
    return fs.readFileSync(file);
  } catch (err) {
    throw fsUsageError(file, 'read', err, { ENOENT: 'file does not exist' });
  }
}
