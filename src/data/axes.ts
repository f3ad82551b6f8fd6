/**
 * The label axis and the channel axis of a task's arrays, and whether its targets are class
 * indices: plain arithmetic on the options, read by the graph builder (src/losses), by attach and
 * by the evaluator's per-batch code (rules.ts here, run in its worker threads too, which load no
 * graph builder).
 */
import type { FocalOptions } from '../losses/vocabulary';

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
