/**
 * The ONNX graph builder: typed values, opset-aware emitters, model-local functions,
 * deterministic serialization and decoding; parameters folded into typed constants (`param.ts`),
 * composites for what ONNX lacks (`math.ts`) and sizes counted on the device (`sizes.ts`). Knows
 * nothing of focal loss.
 */
export { ALL_DTYPES, DTYPES, FLOAT_DTYPES, isDType, isFloat } from './dtype';
export type { DType } from './dtype';
export { Graph, Value, attr } from './graph';
export type { Attr, Dim, Operand, Shape, GraphOptions } from './graph';
export * as op from './ops';
export { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, checkOpset, irVersionFor } from './opset';
export { FunctionDef, ModelFormatError, buildModel, decodeModel, decodeModelProto, serializeModel, PRODUCER_NAME } from './model';
export type { FunctionSpec, FunctionInput, ModelOptions, ModelInfo, NodeInfo, TensorInfo, FunctionInfo, AttrInfo } from './model';
export { broadcast, knownSize, shapeString } from './shape';
export { divBy, logOf, logOneMinus, minusOne, oneMinus, param, pdiv, recip, scaled, toType, typed, withTail } from './param';
export { log1p, logSigmoidPair, powByProducts, powDerivative } from './math';
export type { Param } from './param';
export { classCount, elementCount, oneHotRows, onesLike, rowLength } from './sizes';
export { externalTensors, relocateExternalData } from './external';
export type { ExternalTensor, ExternalPlacement } from './external';
export { CUDA_KNOWN_OPS, checkCudaPlacement, formatPlacement } from './placement';
export type { NodePlacement, PlacementReport } from './placement';
