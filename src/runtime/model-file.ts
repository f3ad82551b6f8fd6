/**
 * Reading a user's .onnx file: its bytes (file-system problems as one-line `UsageError`s), its
 * decoded structure, and the focal-loss options recorded in its metadata, when it has them.
 */
import * as path from 'path';
import { UsageError } from '../errors';
import { checkExternalData } from '../io/external-data';
import { FocalOptions, optionsFromMetadata } from '../losses';
import { ModelFormatError, ModelInfo, decodeModel } from '../onnx';
import { readModelFile } from '../io/files';

export interface ModelFile {
  readonly file: string;
  readonly bytes: Uint8Array;
  readonly info: ModelInfo;
  /** The options in its `focal.*` metadata; undefined for a model not written by focal-onnx. */
  readonly options: FocalOptions | undefined;
  /** The folder its external data (side files) resolves from: the file's own (for bytes: the working directory). */
  readonly dir: string;
}

/** The folder a model file's external data resolves from, whatever the working directory. */
export function modelFolder(file: string): string {
  return path.dirname(path.resolve(file));
}

/**
 * Throws a one-line UsageError when a side file of the model is missing or unusable (naming the
 * file expected and where); a model without external data passes.
 */
export function checkModelExternalData(m: ModelFile): void {
  checkExternalData(m.info.externalData, m.dir, m.file);
}

/** Reads and decodes `file`; a file that is not an ONNX model or has bad focal.* metadata is the user's error. */
export function loadModelFile(file: string): ModelFile {
  return decodeModelFile(readModelFile(file), file, modelFolder(file));
}

/** Decodes a model's bytes (`source` names it in messages: its file, or `model`; `dir`: where its side files are). */
export function decodeModelFile(bytes: Uint8Array, source: string, dir: string = process.cwd()): ModelFile {
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
  return { file: source, bytes, info, options, dir };
}
