/**
 * focal-onnx/build: the builder alone — the graph builder (src/onnx, with the static CUDA
 * placement check), the losses, their options and presets (src/losses), attaching a loss to a
 * network (src/attach), `.npy` and float16 I/O (src/io), the error classes and the version.
 * Nothing here loads onnxruntime-node (its native binding) or any module of src/runtime or
 * src/cli: a program that only builds or attaches graphs imports `focal-onnx/build` and starts
 * without them.
 *
 * The main entry (`focal-onnx`, src/index.ts) re-exports all of these and adds the
 * runtime (sessions, evaluators) and `run`; test/package/build-entry.test.ts checks that this list
 * is exactly the main entry's minus those, and that loading it loads no runtime module.
 */
export { UsageError, DataError, isUsageError } from './errors';
export { VERSION } from './version';

export {
  ALL_DTYPES,
  DTYPES,
  FLOAT_DTYPES,
  isDType,
  isFloat,
  Graph,
  Value,
  attr,
  op,
  DEFAULT_OPSET,
  MAX_OPSET,
  MIN_OPSET,
  checkOpset,
  irVersionFor,
  FunctionDef,
  ModelFormatError,
  buildModel,
  decodeModel,
  decodeModelProto,
  serializeModel,
  PRODUCER_NAME,
  broadcast,
  shapeString,
  CUDA_KNOWN_OPS,
  checkCudaPlacement,
  formatPlacement,
} from './onnx';
export type {
  DType,
  Attr,
  Dim,
  Operand,
  Shape,
  GraphOptions,
  FunctionSpec,
  FunctionInput,
  ModelOptions,
  ModelInfo,
  NodeInfo,
  TensorInfo,
  FunctionInfo,
  AttrInfo,
  ExternalTensor,
  NodePlacement,
  PlacementReport,
} from './onnx';

export {
  buildLoss,
  describeLoss,
  focalFunction,
  ioShapes,
  FOCAL_DOMAIN,
  FUNCTION_NAMES,
  DEFAULTS,
  FORMS,
  INPUTS,
  LOSS_DTYPES,
  REDUCTIONS,
  SEED_EPS,
  TARGET_DTYPES,
  TASKS,
  normalizeOptions,
  optionsFromMetadata,
  optionsToMetadata,
  LIKES,
  PRESETS,
  TARGETS,
  WEIGHTS,
  NORMALIZE_KINDS,
  TARGET_FORMATS,
  VARIANTS,
  DETECTION_PRESETS,
  DETECTION_PRESET_NAMES,
} from './losses';
export type {
  LossModel,
  TensorSpec,
  BuildExtras,
  FocalOptions,
  Form,
  InputKind,
  Label,
  LossDType,
  LossOptions,
  Reduction,
  TargetDType,
  Task,
  Like,
  TargetKind,
  WeightKind,
  Preset,
  Normalize,
  TargetFormat,
  TermOptions,
  Variant,
  DetectionPreset,
} from './losses';

export {
  NpyReader,
  NpyWriter,
  dtypeToDescr,
  dtypeToTypedArray,
  npyHeaderBytes,
  readNpy,
  readNpyHeader,
  typedArrayFor,
  writeNpy,
} from './io/npy';
export type { NpyBatch, NpyDType, NpyHeader, NpyTypedArray, NpyTypedArrayMap, NpyVersion } from './io/npy';
export { f16ArrayToF32, f16BitsToF32, f32ArrayToF16, f32ToF16Bits } from './io/float16';
export { writeFileAtomic } from './io/atomic';

export { attachLoss, COLLISION_PREFIX } from './attach';
export type { AttachContext, AttachOptions, AttachedModel, TensorSig } from './attach';
