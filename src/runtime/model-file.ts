/**
 * Reading a user's .onnx file: its bytes (file-system problems as one-line `UsageError`s), its
 * decoded structure, and the focal-loss options recorded in its metadata, when it has them.
 */
import { UsageError } from '../errors';
import { FocalOptions, optionsFromMetadata } from '../losses';
import { ModelFormatError, ModelInfo, decodeModel } from '../onnx';
import { readModelFile } from './model-bytes';

export { readModelFile };

export interface ModelFile {
  readonly file: string;
  readonly bytes: Uint8Array;
  readonly info: ModelInfo;
  /** The options in its `focal.*` metadata; undefined for a model not written by focal-onnx. */
  readonly options: FocalOptions | undefined;
}

/** Reads and decodes `file`; a file that is not an ONNX model or has bad focal.* metadata is the user's error. */
export function loadModelFile(file: string): ModelFile {
  return decodeModelFile(readModelFile(file), file);
}

/** Decodes a model's bytes (`source` names it in messages: its file, or `model`). */
export function decodeModelFile(bytes: Uint8Array, source: string): ModelFile {
  let info: ModelInfo;
  try {
    info = decodeModel(bytes);
  } catch (e) {
    if (e instanceof ModelFormatError) throw new UsageError(`${source}: ${e.message}`);
    throw e;
  }
  let options: FocalOptions | undefined;
  try {
    options = optionsFromMetadata(info.metadata, info.opsets[''] ?? info.opsets['ai.onnx'] ?? 0);
  } catch (e) {
    // A UsageError names the bad option; a SyntaxError comes from a list (focal.alpha) that is not JSON.
    if (e instanceof UsageError || e instanceof SyntaxError) throw new UsageError(`${source}: its focal.* metadata is invalid: ${e.message}`);
    throw e;
  }
  return { file: source, bytes, info, options };
}
