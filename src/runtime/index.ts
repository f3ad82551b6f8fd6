/** Running focal-loss models (src/runtime): see docs/architecture.md for where each part lives. */
export {
  CudaUnavailableError,
  DEFAULT_GRAPH_OPTIMIZATION,
  DEFAULT_THREADS,
  EXECUTION_PROVIDERS,
  GRAPH_OPTIMIZATION_LEVELS,
  createSession,
  describeCudaFailure,
} from './session';
export type {
  ExecutionProvider,
  ExecutionProviderChoice,
  GraphOptimizationLevel,
  HostTensor,
  Session,
  SessionOptions,
  TensorDType,
  TensorDataMap,
} from './session';
export { createEvaluator } from './evaluator';
export type { BatchLosses, BatchValue, Evaluator, EvaluatorBatch, EvaluatorOptions, EvaluatorResult, TensorLike } from './evaluator';
export { DEFAULT_BATCH_ELEMENTS, MAX_WORKERS, MIN_POOL_BATCHES, evaluate } from './evaluate';
export type { EvaluateOptions, EvaluateProgress, EvaluateResult } from './evaluate';
export { DEFAULT_NETWORK_BATCH_ELEMENTS, evaluateNetwork } from './evaluate-network';
export type { EvaluateNetworkOptions, EvaluateNetworkProgress, EvaluateNetworkResult } from './evaluate-network';
export { loadModelFile } from './model-file';
export { readModelFile } from '../io/files';
// The evaluators' diagnostics (src/diagnostics), with the evaluators' names: not in the build-only entry.
export { DEFAULT_SWEEP_GAMMA } from '../diagnostics/accumulate';
export type { CdfCurve, ClassDiagnostics, Diagnostics, DiagnosticsOptions, SplitSum } from '../diagnostics/accumulate';
export type { ModelFile } from './model-file';
