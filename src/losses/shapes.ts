/**
 * The shapes of a task's arrays: the label and channel axes, whether targets are class indices,
 * the predictions' shape rule (`predShapeProblem`: one statement for the builder's predShape,
 * attach's network output and the evaluator's data) and the dims of the rows, per-element losses
 * and targets that predictions give (`layoutDims`: the builder's symbolic shapes, the evaluator's
 * numbers). Plain arithmetic on the options, apart from the graph code: the evaluator's per-batch
 * code (src/data, run in its worker threads too) reads it and loads no graph builder.
 */
import { FocalOptions, Label, plain } from './vocabulary';


/**
 * The label / class axis of predictions of rank `rank` (multilabel, multiclass: `labelAxis`, −1 the
 * last), counted from 0; undefined for binary.
 */
export function labelAxisOf(o: Pick<FocalOptions, 'task' | 'labelAxis'>, rank: number): number | undefined {
  if (o.task === 'binary') return undefined;
  return o.labelAxis < 0 ? rank + o.labelAxis : o.labelAxis;
}

/** How many axes follow the label axis (0 for labels last): a per-label table [L] gets as many trailing 1s to broadcast. */
export function labelTail(o: Pick<FocalOptions, 'task' | 'labelAxis'>, rank: number): number {
  const a = labelAxisOf(o, rank);
  return a === undefined ? 0 : rank - 1 - a;
}

/**
 * The label (channel) axis of element-shaped losses of rank `rank`: the label axis for multilabel,
 * axis 1 for binary predictions of rank ≥ 2 (MONAI's [B, 1, H, W]); undefined for rank 1.
 */
export function channelAxis(o: Pick<FocalOptions, 'task' | 'labelAxis'>, rank: number): number | undefined {
  if (rank < 2) return undefined;
  return o.task === 'binary' ? 1 : labelAxisOf(o, rank);
}

/** Whether targets are class indices, one per row: multiclass hard targets, multilabel index targets. */
export function indexTargets(o: Pick<FocalOptions, 'task' | 'targets' | 'targetFormat'>): boolean {
  return o.task === 'multiclass' ? o.targets !== 'soft' : o.task === 'multilabel' && o.targetFormat === 'index';
}

/** Dims as messages write them: `[B, 5]`, an unknown one `?`. */
export const shapeText = (s: readonly (number | string | null)[]): string => `[${s.map((d) => d ?? '?').join(', ')}]`;

/** Why `labelAxis` does not name an axis of predictions of `rank` after the first (for the end of a message), or undefined. */
export function labelAxisProblem(o: Pick<FocalOptions, 'task' | 'labelAxis'>, rank: number): string | undefined {
  const a = labelAxisOf(o, rank);
  if (a === undefined || rank < 2 || (a >= 1 && a < rank)) return undefined;
  return `is not an axis of predictions of rank ${rank} after the first (1 to ${rank - 1}, or -1 to -${rank - 1})`;
}

/** Whether predictions of `rank` hold their labels on another axis than the last (channel-first, [B, C, H, W]). */
export function channelFirst(o: Pick<FocalOptions, 'task' | 'labelAxis'>, rank: number): boolean {
  const a = labelAxisOf(o, rank);
  return a !== undefined && a !== rank - 1;
}

/**
 * The dims that predictions of `dims` give the rows (theirs less the label axis; binary: theirs),
 * the per-element losses (one a row for multiclass and labelMean) and the targets (class indices:
 * one a row): of numbers (data), or of a graph's symbolic dims (the builder's shapes).
 */
export function layoutDims<D>(o: Pick<FocalOptions, 'task' | 'targets' | 'targetFormat' | 'labelMean' | 'labelAxis'>, dims: readonly D[], axis: number | undefined = labelAxisOf(o, dims.length)): { labelAxis: number | undefined; rowDims: readonly D[]; lossDims: readonly D[]; targetDims: readonly D[] } {
  const a = o.task === 'binary' ? undefined : axis;
  const rowDims = a === undefined ? dims : dims.filter((_, i) => i !== a);
  return { labelAxis: a, rowDims, lossDims: o.task === 'multiclass' || o.labelMean ? rowDims : dims, targetDims: indexTargets(o) ? rowDims : dims };
}

/**
 * Why predictions of shape `dims` do not fit the task, as the end of a message (`multiclass
 * predictions must be …`), or undefined: the one statement of their shape rules, for the builder's
 * predShape, attach's network output and the evaluator's data. Binary: rank 1 or more (`reshaped`:
 * any, read flat); multilabel: [N, …, L], the labels on the last axis or on labelAxis, an axis
 * after the first; multiclass: [N, C], or channel-first [B, C, …] with the classes on labelAxis 1
 * (`reshaped`: on any axis but the last, as the evaluator feeds its own graph [N, C, S]); perImage:
 * the images on the first axis, rank 3 or more (binary 2), channel-first labels on axis 1. `dims`
 * may hold names (a graph's symbolic dims) or null (unknown).
 */
export function predShapeProblem(o: Pick<FocalOptions, 'task' | 'labelAxis' | 'perImage'>, dims: readonly (number | string | null)[], label: Label = plain, reshaped = false): string | undefined {
  const rank = dims.length;
  if (o.task === 'binary' && rank === 0 && !reshaped) return 'binary predictions must be of rank 1 or more';
  if (o.task === 'multilabel' && rank < 2) return `multilabel predictions must be [N, L] or of higher rank, labels on the last axis (or on ${label('labelAxis')})`;
  const axisProblem = o.task !== 'binary' ? labelAxisProblem(o, rank) : undefined;
  if (axisProblem) return `${label('labelAxis')} ${o.labelAxis} ${axisProblem}`;
  const first = o.task !== 'binary' && channelFirst(o, rank);
  if (o.task === 'multiclass' && rank !== 2 && !(reshaped ? first : rank > 2 && labelAxisOf(o, rank) === 1)) return `multiclass predictions must be [N, C] (or [B, C, …] with ${label('labelAxis')} 1)`;
  if (!o.perImage) return undefined;
  const min = o.task === 'binary' ? 2 : 3;
  if (rank < min) return `${label('perImage')} needs predictions of rank ${min} or more (${o.task === 'binary' ? '[B, K]' : '[B, K, C] or [B, C, H, W]'}: the images on the first axis)`;
  if (first && labelAxisOf(o, rank) !== 1) return `${label('perImage')} reads the images on axis 0 and, channel-first, the labels on axis 1, not on axis ${labelAxisOf(o, rank)}`;
  return undefined;
}
