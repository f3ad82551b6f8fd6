/**
 * Running focal-loss models: sessions on the CPU or CUDA (the only onnxruntime-node import is in
 * session.ts), the static CUDA placement check, and the streaming evaluator (evaluate.ts; its
 * per-batch work in batch.ts, its graph additions in eval-outputs.ts / eval-blocks.ts, its
 * worker-thread sessions in pool.ts / eval-worker.ts).
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
export { DEFAULT_BATCH_ELEMENTS, MAX_WORKERS, MIN_POOL_BATCHES, evaluate } from './evaluate';
export type { EvaluateOptions, EvaluateProgress, EvaluateResult } from './evaluate';
export { loadModelFile, readModelFile } from './model-file';
export type { ModelFile } from './model-file';
