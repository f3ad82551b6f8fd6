/**
 * Running focal-loss models: sessions on the CPU or CUDA (the only onnxruntime-node import is in
 * session.ts), the static CUDA placement check, and the evaluator — one core (evaluator.ts: the
 * model and its graph additions, eval-outputs.ts; the per-batch checks and run, batch.ts; the
 * task's data rules, rules.ts; the float64 accumulation) fed by three sources: batches from memory
 * (`createEvaluator`), prediction files (`evaluate`, evaluate.ts) and a network's input files
 * (`evaluateNetwork`, evaluate-network.ts), the files through one read-ahead stream (stream.ts).
 */
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
export { CUDA_KNOWN_OPS, checkCudaPlacement, formatPlacement } from './placement';
export type { NodePlacement, PlacementReport } from './placement';
export { createEvaluator } from './evaluator';
export type { BatchLosses, BatchValue, Evaluator, EvaluatorBatch, EvaluatorOptions, EvaluatorResult, TensorLike } from './evaluator';
export { DEFAULT_BATCH_ELEMENTS, MAX_WORKERS, MIN_POOL_BATCHES, evaluate } from './evaluate';
export type { EvaluateOptions, EvaluateProgress, EvaluateResult } from './evaluate';
export { DEFAULT_NETWORK_BATCH_ELEMENTS, evaluateNetwork } from './evaluate-network';
export type { EvaluateNetworkOptions, EvaluateNetworkProgress, EvaluateNetworkResult } from './evaluate-network';
export { loadModelFile, readModelFile } from './model-file';
export { DEFAULT_SWEEP_GAMMA } from '../diagnostics/accumulate';
export type { CdfCurve, ClassDiagnostics, Diagnostics, DiagnosticsOptions, SplitSum } from '../diagnostics/accumulate';
export type { ModelFile } from './model-file';
