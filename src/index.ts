/**
 * focal-onnx: focal-loss graphs as ONNX models, and their evaluation with ONNX Runtime in Node.
 *
 * The public API, by name: everything of the build-only entry (`focal-onnx/build`, src/build.ts:
 * the graph builder, the losses, attaching a loss to a network, `.npy` and float16 I/O, the error
 * classes, the CUDA placement check), plus sessions and the evaluators (src/runtime), and `run`,
 * the command line as a function.
 */
export * from './build';

export {
  CudaUnavailableError,
  DEFAULT_BATCH_ELEMENTS,
  DEFAULT_GRAPH_OPTIMIZATION,
  MAX_WORKERS,
  MIN_POOL_BATCHES,
  DEFAULT_THREADS,
  EXECUTION_PROVIDERS,
  GRAPH_OPTIMIZATION_LEVELS,
  createEvaluator,
  DEFAULT_SWEEP_GAMMA,
  evaluateNetwork,
  DEFAULT_NETWORK_BATCH_ELEMENTS,
  createSession,
  describeCudaFailure,
  evaluate,
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
  Session,
  SessionOptions,
  TensorDType,
  TensorDataMap,
} from './runtime';

export type { EvaluateNetworkOptions, EvaluateNetworkProgress, EvaluateNetworkResult } from './runtime';
export type { CdfCurve, ClassDiagnostics, Diagnostics, DiagnosticsOptions, SplitSum } from './runtime';

export { run } from './cli/main';
export type { CliIO } from './cli/command';
