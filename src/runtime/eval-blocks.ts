/**
 * The names and block shapes of the evaluator's graph additions (eval-outputs.ts, which says what
 * they are and re-exports these): plain data and arithmetic, apart from the graph code, so that the
 * per-batch code (batch.ts, run in the evaluator's worker threads too: pool.ts) loads no graph
 * builder or protobuf code.
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

/**
 * The `focal_eval_blocks` value for multi-label losses whose labels are not last (channel-first,
 * [X, C, S] as src/data/rules.ts's graphDims 'channels' gives them): [X, C, R, K], blocks of K elements of
 * each label's S (R·K = S); `one`: a single block of S (small batches, summed in float64).
 */
export function channelBlockShape(x: number, c: number, s: number, one = false): number[] {
  const k = one ? s : blockRows(s, 1);
  return [x, c, s / k, k];
}

export const EVAL_OUTPUTS = {
  sum: 'loss_sum',
  labelSums: 'loss_label_sums',
  predMin: 'check_pred_min',
  predMax: 'check_pred_max',
  target: 'check_target',
} as const;
