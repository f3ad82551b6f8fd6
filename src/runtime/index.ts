/**
 * Running focal-loss models: sessions on the CPU or CUDA (the only onnxruntime-node import is in
 * session.ts), the static CUDA placement check, and the evaluator (evaluator.ts: `createEvaluator`,
 * batches from memory; its per-batch work in batch.ts, its graph additions in eval-outputs.ts /
 * eval-blocks.ts), which `evaluate` (evaluate.ts) feeds from `.npy` files (file-batches.ts), on
 * large files with worker-thread sessions too (pool.ts / eval-worker.ts); and `evaluateNetwork`
 * (evaluate-network.ts), a user's network with the loss attached, fed from `.npy` files.
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
export type { ModelFile } from './model-file';
