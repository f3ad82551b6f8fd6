/**
 * The graph `focal-onnx eval` runs for loss options (evaluate.ts): the per-element loss over
 * checked inputs, with the evaluator's block sums and data checks (eval-outputs.ts). For the
 * benchmarks that measure it (bench.ts, profile-graph.ts) without going through files.
 */
import { LossOptions, buildLoss } from '../src/losses';
import { addEvalOutputs } from '../src/runtime/eval-outputs';

/** The fetches of that graph (float32 inputs: both data checks are in the graph). */
export const EVAL_GRAPH_FETCHES = ['loss_sum', 'check_pred_min', 'check_pred_max', 'check_target'] as const;

export function evalGraphBytes(options: LossOptions): Uint8Array {
  return addEvalOutputs(buildLoss({ ...options, reduction: 'none' }, { validInputs: true }).bytes, {
    sums: options.task === 'multilabel' ? 'labels' : 'total',
    checkPred: true,
    checkTarget: true,
  });
}
