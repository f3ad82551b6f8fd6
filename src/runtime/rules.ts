/**
 * The task's data rules, written once for every source of batches (a caller's arrays, `.npy`
 * files, a network's output fed from files): which element types targets and weights may have,
 * and, for predictions of given dims, the rows, the per-element losses and their dims, the
 * targets' dims, and the weight counts the loss takes. The sources only word the messages (a
 * file's name and shape, or `batch 3`).
 */
import { UsageError } from '../errors';
import type { FocalOptions } from '../losses';

export type FloatType = 'float16' | 'float32' | 'float64';
export const isFloatType = (d: string): d is FloatType => d === 'float16' || d === 'float32' || d === 'float64';
/** Class indices are int64 or int32: the one place that says so. */
export const isIndexType = (d: string): d is 'int64' | 'int32' => d === 'int64' || d === 'int32';
const LABEL_TYPES: readonly string[] = ['float16', 'float32', 'float64', 'uint8', 'bool', 'int32', 'int64'];

export const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);
export const shapeText = (s: readonly (number | string | null)[]): string => `[${s.map((d) => d ?? '?').join(', ')}]`;

/** What the rules read of the options. */
export type DataOptions = Pick<FocalOptions, 'task' | 'targets' | 'targetFormat' | 'labelMean' | 'weight'>;

/** How targets come: class indices (one per row: multiclass, multi-label index targets), soft values in [0, 1], or 0/1 labels. */
export function targetKind(o: DataOptions): 'indices' | 'soft' | 'labels' {
  if ((o.task === 'multiclass' && o.targets !== 'soft') || o.targetFormat === 'index') return 'indices';
  return o.targets === 'soft' ? 'soft' : 'labels';
}

/**
 * Why targets of `dtype` are refused (the rule, for the end of a message), or undefined when they
 * are taken. `arrays`: name the JavaScript arrays (a caller's batches) rather than file types.
 */
export function targetTypeProblem(o: DataOptions, dtype: string, arrays = false): string | undefined {
  switch (targetKind(o)) {
    case 'indices':
      if (isIndexType(dtype)) return undefined;
      return `${o.task === 'multiclass' ? 'multiclass' : 'index'} targets are class indices: ${arrays ? 'int64 (BigInt64Array) or int32 (Int32Array)' : 'save them as int64 or int32'}`;
    case 'soft':
      return isFloatType(dtype) ? undefined : `soft targets must be float16, float32 or float64${o.task === 'multiclass' ? ' (rows of class probabilities)' : ''}`;
    case 'labels':
      return LABEL_TYPES.includes(dtype) ? undefined : `${o.task} targets must be float, uint8, bool, int32 or int64`;
  }
}

/** Why weights of `dtype` are refused, or undefined. */
/** A weight file and the model's `weight` input must come together: `model` names the model, `file` the weight file given, if any. */
export function checkWeightInput(takesWeight: boolean, file: string | undefined, model: string): void {
  if (takesWeight && file === undefined) throw new UsageError(`${model}: takes weights (an input 'weight'); give them with --weight W.npy (weight in the API)`);
  if (file !== undefined && !takesWeight) throw new UsageError(`${file}: weights given, but ${model} takes none (no input 'weight')`);
}

export function weightTypeProblem(dtype: string): string | undefined {
  return isFloatType(dtype) ? undefined : 'weights must be float16, float32 or float64';
}

/** What predictions of some dims make under the task's rules. */
export interface LossLayout {
  /** Prediction elements, and rows (binary: the elements; else all axes but the last). */
  readonly elements: number;
  readonly rows: number;
  /** Per-element losses: one per row (multiclass, label mean), else one per prediction; and their dims. */
  readonly count: number;
  readonly lossDims: readonly number[];
  /** The targets' dims: the predictions', or theirs without the last axis (class indices). */
  readonly targetDims: readonly number[];
}

/** The weight counts the loss takes for a layout, each with how a message names it (`one per row`). */
export function weightCounts(o: DataOptions, l: LossLayout): readonly (readonly [string, number])[] {
  // One per per-element loss (a row's where the loss is per row), or one per row; a model whose
  // metadata does not say (weight none with a weight input) takes either.
  const weights: [string, number][] = [];
  if (o.weight !== 'sample') weights.push([l.count === l.rows && o.task !== 'binary' ? 'one per row' : 'one per prediction', l.count]);
  if (o.weight !== 'element' && !weights.some(([, n]) => n === l.rows)) weights.push([o.task === 'binary' ? 'one per prediction' : 'one per row', l.rows]);
  return weights;
}

/** The layout of predictions of `dims` (binary: any; multilabel: [..., L]; multiclass: [N, C]). */
export function lossLayout(o: DataOptions, dims: readonly number[]): LossLayout {
  const elements = product(dims);
  const rows = o.task === 'binary' ? elements : product(dims.slice(0, -1));
  const perRow = o.task === 'multiclass' || o.labelMean;
  const count = perRow ? rows : elements;
  return {
    elements,
    rows,
    count,
    lossDims: perRow ? dims.slice(0, -1) : dims,
    targetDims: targetKind(o) === 'indices' ? dims.slice(0, -1) : dims,
  };
}

/** The weights' dims for `count` weights of predictions of `dims`: the predictions', or one per row. */
export function weightDims(dims: readonly number[], count: number): readonly number[] {
  if (count === product(dims)) return dims;
  return dims.length > 1 ? dims.slice(0, -1) : [count];
}

/** `one per prediction (6) or one per row (2)`: the weight counts a layout takes, for messages (`noun`: `one weight per …`). */
export const weightsText = (counts: readonly (readonly [string, number])[], noun = ''): string => counts.map(([what, n]) => `${noun ? what.replace('one ', `one ${noun} `) : what} (${n})`).join(' or ');

/** Dims less their size-1 axes: two shapes alike here lay out their elements in the same order. */
const squeezed = (d: readonly number[]): string => d.filter((x) => x !== 1).join(',');

/**
 * Why weights of `shape`, whose count fits, do not fit predictions of `dims`, or undefined: they
 * must have the shape of the predictions or of the rows (the predictions' less the label axis;
 * size-1 axes aside), as torch and Keras refuse other shapes — weights [5, 100] for predictions
 * [100, 5] hold the right count but would be applied in the wrong order.
 */
export function weightShapeProblem(o: DataOptions, dims: readonly number[], shape: readonly number[], of: string): string | undefined {
  const rowDims = o.task === 'binary' ? dims : dims.slice(0, -1);
  const s = squeezed(shape);
  if (s === squeezed(dims) || s === squeezed(rowDims)) return undefined;
  return `weights must have the shape of the predictions ${shapeText(dims)} (${of})${o.task === 'binary' ? '' : ` or of the rows ${shapeText(rowDims)}`} (size-1 axes aside)`;
}
