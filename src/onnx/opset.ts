/**
 * Opsets the builder targets and the IR version each needs (onnx `docs/Versioning.md`).
 * A model is stamped with the lowest IR its opset needs, so older runtimes still load it.
 */
export const MIN_OPSET = 13;
export const MAX_OPSET = 21;
export const DEFAULT_OPSET = 17;

/** IR 8 introduced model-local functions (`ModelProto.functions`). */
export const FUNCTIONS_MIN_IR = 8;

export function checkOpset(opset: number, what = 'opset'): number {
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new RangeError(`${what} must be an integer in [${MIN_OPSET}, ${MAX_OPSET}], got ${String(opset)}`);
  }
  return opset;
}

/** Lowest IR version that carries the default-domain `opset`. */
export function irVersionFor(opset: number): number {
  if (opset <= 11) return 6;
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  if (opset <= 22) return 10;
  return 11;
}
