/**
 * The names and block shapes of the evaluator's graph additions (eval-outputs.ts adds them to a
 * model; batch.ts feeds and reads them). Kept apart, without the protobuf code, because the
 * evaluator's worker threads load this and not the model surgery.
 */

/** The input the evaluator feeds with every run when it asks for sums: the block shape (eval-outputs.ts). */
export const EVAL_INPUTS = {
  blocks: 'focal_eval_blocks',
} as const;

/**
 * Per-element losses summed per block in the loss type before float64. A row of one loss (binary,
 * multiclass): blocks of BLOCK_ELEMENTS. Rows of L labels (multilabel, [N, L]): blocks of K rows,
 * each label's K values summed — onnxruntime's middle-axis ReduceSum is slow for short blocks
 * (measured, L = 16: 0.69 ns an element with K = 16, 0.18 with 64), so K ≥ MIN_BLOCK_ROWS and
 * K·L ≥ LABEL_BLOCK_ELEMENTS.
 */
export const BLOCK_ELEMENTS = 256;
const LABEL_BLOCK_ELEMENTS = 1024;
const MIN_BLOCK_ROWS = 32;

/**
 * The rows per block for a batch of `rows` rows of `rowLength` per-element losses: the largest
 * divisor of `rows` not above the target (`targetBlockRows`), so that the blocks tile the batch
 * exactly. A batch of a prime number of rows gets blocks of one row: exact, only slower.
 */
export function blockRows(rows: number, rowLength: number): number {
  const target = targetBlockRows(rowLength);
  for (let k = Math.min(target, rows); k > 1; k--) if (rows % k === 0) return k;
  return 1;
}

/** The block rows a batch should be a multiple of (the evaluator rounds its batches to it). */
export function targetBlockRows(rowLength: number): number {
  return rowLength === 1 ? BLOCK_ELEMENTS : Math.max(MIN_BLOCK_ROWS, Math.ceil(LABEL_BLOCK_ELEMENTS / rowLength));
}

/** The `focal_eval_blocks` value for a batch: [R, K] or, multilabel ([N, L] losses), [R, K, L]. */
export function blockShape(rows: number, labels: number | undefined): number[] {
  const k = blockRows(rows, labels ?? 1);
  return labels === undefined ? [rows / k, k] : [rows / k, k, labels];
}

export const EVAL_OUTPUTS = {
  sum: 'loss_sum',
  labelSums: 'loss_label_sums',
  predMin: 'check_pred_min',
  predMax: 'check_pred_max',
  target: 'check_target',
} as const;
