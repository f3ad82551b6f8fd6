/**
 * The bytes of a user's .onnx file, file-system problems as one-line `UsageError`s. Apart from
 * model-file.ts (which decodes the model) so that a session can be made from a path without
 * loading the protobuf code.
 */
import { readRegularFile } from '../io/files';

/** The bytes of the model file `file` (a regular file: a FIFO, device, directory or socket is refused unopened). */
export function readModelFile(file: string): Uint8Array {
  return readRegularFile(file, 'an .onnx file');
}
