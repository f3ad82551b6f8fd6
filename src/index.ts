/**
 * focal-onnx: focal-loss graphs as ONNX models, and their evaluation with ONNX Runtime in Node.
 *
 * The public API, by name: the graph builder (src/onnx), the losses (src/losses), attaching a
 * loss to a network (src/attach), `.npy` and float16 I/O (src/io), sessions, the CUDA placement
 * check and the evaluators (src/runtime), the error classes, and `run`, the command line as a
 * function.
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

export {
  CudaUnavailableError,
  CUDA_KNOWN_OPS,
  DEFAULT_BATCH_ELEMENTS,
  DEFAULT_GRAPH_OPTIMIZATION,
  MAX_WORKERS,
  MIN_POOL_BATCHES,
  DEFAULT_THREADS,
  EXECUTION_PROVIDERS,
  GRAPH_OPTIMIZATION_LEVELS,
  checkCudaPlacement,
  createEvaluator,
  evaluateNetwork,
  DEFAULT_NETWORK_BATCH_ELEMENTS,
  createSession,
  describeCudaFailure,
  evaluate,
  formatPlacement,
  loadModelFile,
  readModelFile,
} from './runtime';
export type {
  BatchLosses,
  BatchValue,
  Evaluator,
  EvaluatorBatch,
  EvaluatorOptions,
  EvaluatorResult,
  TensorLike,
  EvaluateOptions,
  EvaluateProgress,
  EvaluateResult,
  ExecutionProvider,
  ExecutionProviderChoice,
  GraphOptimizationLevel,
  HostTensor,
  ModelFile,
  NodePlacement,
  PlacementReport,
  Session,
  SessionOptions,
  TensorDType,
  TensorDataMap,
} from './runtime';

export type { EvaluateNetworkOptions, EvaluateNetworkProgress, EvaluateNetworkResult } from './runtime';

export { attachLoss, COLLISION_PREFIX } from './attach';
export type { AttachContext, AttachOptions, AttachedModel, TensorSig } from './attach';

export { run } from './cli/main';
export type { CliIO } from './cli/command';
