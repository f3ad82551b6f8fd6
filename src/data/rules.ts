/**
 * The task's data rules, written once for every source of batches (a caller's arrays, `.npy`
 * files, a network's output fed from files): which element types targets and weights may have,
 * and, for predictions of given dims, the rows, the per-element losses and their dims, the
 * targets' dims, and the weight counts the loss takes. `checkData` applies them all; the sources
 * only name their parts (a file, or `batch 3` and its `pred`, a network's output).
 *
 * src/data is the data a loss takes — these rules and the elements' checks (checks.ts) — between
 * the loss (src/losses, whose shapes.ts it reads: the label axes, the predictions' shape rule) and
 * the evaluator (src/runtime): plain arithmetic on the options and on typed arrays, no graph code,
 * no onnxruntime, so the evaluator's worker threads load neither (test/architecture.test.ts).
 */
import { DataError } from '../errors';
import type { FocalOptions, Label } from '../losses/vocabulary';
import { channelAxis, channelFirst, indexTargets, labelAxisOf, layoutDims, predShapeProblem, shapeText } from '../losses/shapes';

export type FloatType = 'float16' | 'float32' | 'float64';
export const isFloatType = (d: string): d is FloatType => d === 'float16' || d === 'float32' || d === 'float64';
/** Class indices are int64 or int32: the one place that says so. */
export const isIndexType = (d: string): d is 'int64' | 'int32' => d === 'int64' || d === 'int32';
const LABEL_TYPES: readonly string[] = ['float16', 'float32', 'float64', 'uint8', 'bool', 'int32', 'int64'];

export const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);
/** Whether two shapes are the same dims. */
export const sameDims = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);


/** What the rules read of the options. */
export type DataOptions = Pick<FocalOptions, 'task' | 'targets' | 'targetFormat' | 'labelMean' | 'weight' | 'labelAxis'>;

/** How targets come: class indices (one per row: multiclass, multi-label index targets), soft values in [0, 1], or 0/1 labels. */
export function targetKind(o: DataOptions): 'indices' | 'soft' | 'labels' {
  if (indexTargets(o)) return 'indices';
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

/** What predictions of some dims make under the task's rules. */
export interface LossLayout {
  /** Prediction elements, and rows (binary: the elements; else all axes but the label axis). */
  readonly elements: number;
  readonly rows: number;
  /** The label axis (undefined for binary), the labels / classes on it (1 for binary), and the rows' dims (the predictions' less that axis). */
  readonly labelAxis: number | undefined;
  readonly labels: number;
  readonly rowDims: readonly number[];
  /** Per-element losses: one per row (multiclass, label mean), else one per prediction; and their dims. */
  readonly count: number;
  readonly lossDims: readonly number[];
  /** The targets' dims: the predictions', or theirs without the label axis (class indices). */
  readonly targetDims: readonly number[];
}

/** The weight counts the loss takes for a layout, each with how a message names it (`one weight per row`). */
function weightCounts(o: DataOptions, l: LossLayout): readonly (readonly [string, number])[] {
  // One per per-element loss (a row's where the loss is per row), or one per row; a model whose
  // metadata does not say (weight none with a weight input) takes either.
  const weights: [string, number][] = [];
  if (o.weight !== 'sample') weights.push([l.count === l.rows && o.task !== 'binary' ? 'one weight per row' : 'one weight per prediction', l.count]);
  if (o.weight !== 'element' && !weights.some(([, n]) => n === l.rows)) weights.push([o.task === 'binary' ? 'one weight per prediction' : 'one weight per row', l.rows]);
  return weights;
}

/**
 * The layout of predictions of `dims` (binary: any; multilabel: [..., L]; multiclass: [N, C]; the
 * labels on `axis`, by default the options' labelAxis: [B, C, H, W] with 1).
 */
export function lossLayout(o: DataOptions, dims: readonly number[], axis: number | undefined = labelAxisOf(o, dims.length)): LossLayout {
  const { labelAxis, rowDims, lossDims, targetDims } = layoutDims(o, dims, axis);
  const rows = product(rowDims);
  return { elements: product(dims), rows, labelAxis, labels: labelAxis === undefined ? 1 : dims[labelAxis], rowDims, count: product(lossDims), lossDims, targetDims };
}

/**
 * How a batch's predictions are fed to the graph (merges of adjacent axes only: C order keeps
 * every element where it is, nothing is transposed):
 * - `rows`: the leading axes merged down to the input's rank ([B, K, L] to [B·K, L] for rank 2; a
 *   graph of the batch's own rank, or of unknown rank, takes it as it is);
 * - `channels`: the evaluator's channel-first graph [N, C, S]: the axes before the label axis
 *   merged, and those after it ([B, C, H, W] to [B, C, H·W]; [N, C] with labelAxis 1 to [N, C, 1]);
 * - `images`: perImage's graph [B, K, L] (binary [B, K]): axis 0, the images, kept, the axes
 *   between it and the labels merged.
 * The targets, weights and losses follow from these dims (lossLayout, with `graphAxis`).
 */
export type GraphForm = 'rows' | 'channels' | 'images';

export function graphDims(o: DataOptions, dims: readonly number[], form: GraphForm, rank: number | null): readonly number[] {
  if (form === 'channels') {
    const a = labelAxisOf(o, dims.length) as number;
    return [product(dims.slice(0, a)), dims[a], product(dims.slice(a + 1))];
  }
  if (form === 'images') return o.task === 'binary' ? [dims[0], product(dims.slice(1))] : [dims[0], product(dims.slice(1, -1)), dims[dims.length - 1]];
  if (rank === null || rank < 1 || rank >= dims.length) return dims;
  return [product(dims.slice(0, dims.length - rank + 1)), ...dims.slice(dims.length - rank + 1)];
}

/** The label axis of the graph's dims (graphDims): 1 in the channel-first graph, else the options' on those dims. */
export function graphAxis(o: DataOptions, form: GraphForm, rank: number): number | undefined {
  return form === 'channels' ? (o.task === 'binary' ? undefined : 1) : labelAxisOf(o, rank);
}

/**
 * MONAI's spatial size of predictions of `dims` (spatialMean): the product of the axes other than
 * the first and the label axis (binary: axis 1), or undefined for rank ≤ 2, where MONAI's
 * `mean(dim=[])` averages every element of the whole input.
 */
export function spatialSize(o: DataOptions, dims: readonly number[]): number | undefined {
  if (dims.length <= 2) return undefined;
  const a = channelAxis(o, dims.length);
  return product(dims.filter((_, i) => i !== 0 && i !== a));
}

/** Dims less their size-1 axes: two shapes alike here lay out their elements in the same order. */
const squeezed = (d: readonly number[]): string => d.filter((x) => x !== 1).join(',');

/**
 * Why weights of `shape`, whose count fits, do not fit predictions of `dims`, or undefined: they
 * must have the shape of the predictions or of the rows (the predictions' less the label axis, wherever it is;
 * size-1 axes aside), as torch and Keras refuse other shapes — weights [5, 100] for predictions
 * [100, 5] hold the right count but would be applied in the wrong order.
 */
function weightShapeProblem(o: DataOptions, dims: readonly number[], shape: readonly number[], of: string): string | undefined {
  const rowDims = lossLayout(o, dims).rowDims;
  const s = squeezed(shape);
  if (s === squeezed(dims) || s === squeezed(rowDims)) return undefined;
  return `weights must have the shape of the predictions ${shapeText(dims)} (${of})${o.task === 'binary' ? '' : ` or of the rows ${shapeText(rowDims)}`} (size-1 axes aside)`;
}

/**
 * A part of a source's data as messages name it: `where` (a file, `batch 3`, a network) and `what`
 * there (`pred `, `target `, `output 'prob' `; '' for a file). Dims are called `dims` in a batch
 * or a network's output, `shape` in a file.
 */
export interface Named {
  readonly where: string;
  readonly what: string;
}

/** A target or weight array: its element type, its count, and its shape where it has one. */
export interface DataPart extends Named {
  readonly dtype: string;
  readonly count: number;
  readonly dims?: readonly number[];
}

/** A `.npy` file (its header) as a DataPart. */
export const filePart = (h: { readonly path: string; readonly dtype: string; readonly count: number; readonly shape: readonly number[] }): DataPart => ({ where: h.path, what: '', dtype: h.dtype, count: h.count, dims: h.shape });

/** What checkData checks: predictions of `dims`, and the targets and weights that come with them. */
export interface DataCheck {
  readonly pred: Named;
  readonly dims: readonly number[];
  /** `shaped`: the targets' shape must be the rule's (a file's); else their count (a caller's arrays, binary files read flat). */
  readonly target: DataPart & { readonly shaped: boolean };
  readonly weight?: DataPart;
  /** The label / class count the model fixes, and what fixes it, as a message says it (`l2.onnx is for 2 labels`, `--alpha lists 2 values, one per label`). */
  readonly fixed?: { readonly count: number; readonly by: string };
  /** Options as the user named them (flags on the CLI). */
  readonly label: Label;
  /** The targets are a caller's JavaScript arrays (targetTypeProblem words the types so). */
  readonly arrays?: boolean;
}

const at = (n: Named, fact: string): string => `${n.where}: ${n.what}${fact}`;
const dimsOf = (n: Named, dims: readonly number[]): string => `${n.what ? 'dims' : 'shape'} ${shapeText(dims)}`;
/** `has dims [2, 3]` of a batch's array or an output, `shape [2, 3]` of a file. */
const shapeFact = (n: Named, dims: readonly number[]): string => (n.what ? `has ${dimsOf(n, dims)}` : dimsOf(n, dims));
/** `pred dims [2, 3]`, `p.npy shape [2, 3]`: the predictions at the end of a message. */
const refOf = (n: Named, dims: readonly number[]): string => `${n.what ? n.what.trim() : n.where} ${dimsOf(n, dims)}`;
function fail(n: Named, fact: string, rule: string): never {
  throw new DataError(`${at(n, fact)}; ${rule}`);
}

/**
 * The task's rules on one batch or one set of files, each refusal a one-line DataError naming the
 * part, what was expected and what was found: the predictions' rank and label axis, perImage's
 * images, the label count the model fixes; the targets' shape (or count) and type; the weights'
 * type, count and shape. Returns the layout of the predictions.
 */
export function checkData(o: DataOptions & Pick<FocalOptions, 'perImage'>, c: DataCheck): LossLayout {
  const { dims, pred, target: t, weight: w, label } = c;
  // Messages are worded only on a refusal: a batch that passes costs no string and no closure.
  const shapeRule = predShapeProblem(o, dims, label, true);
  if (shapeRule) fail(pred, shapeFact(pred, dims), shapeRule);
  const first = o.task !== 'binary' && channelFirst(o, dims.length);
  const layout = lossLayout(o, dims);
  if (o.task !== 'binary' && c.fixed && c.fixed.count !== layout.labels) throw new DataError(`${at(pred, `has ${layout.labels} ${o.task === 'multilabel' ? 'labels' : 'classes'} (${dimsOf(pred, dims)})`)}, but ${c.fixed.by}`);
  const indices = targetKind(o) === 'indices';
  const want = layout.targetDims;
  if (t.shaped && t.dims ? !sameDims(t.dims, want) : t.count !== product(want)) {
    if (!t.shaped || !t.dims) fail(t, `holds ${t.count} elements${t.dims ? ` (${dimsOf(t, t.dims)})` : ''}`, `expected ${indices ? `one class index per row: ${layout.rows}` : `one per prediction: ${layout.elements}`} (${refOf(pred, dims)})`);
    const ts = t.dims as readonly number[];
    const axisText = first ? ` with ${label('labelAxis')} ${o.labelAxis}` : '';
    const rule = !indices
      ? `${o.targets === 'soft' && o.task === 'multiclass' ? 'soft multiclass' : o.task} targets must be shaped like the predictions, ${refOf(pred, dims)}`
      : `${o.task === 'multiclass' ? 'multiclass' : 'index'} targets${axisText} must be ${shapeText(want)}, one class index ${o.task === 'multiclass' ? '' : `in [0, ${layout.labels}] `}per row of ${refOf(pred, dims)}` +
        (!first && ts.length === 2 && ts[1] === 1 && sameDims([ts[0]], want) ? '; save t.reshape(-1)' : '');
    fail(t, shapeFact(t, ts), rule);
  }
  const targetRule = targetTypeProblem(o, t.dtype, c.arrays);
  if (targetRule) fail(t, `holds ${t.dtype}`, targetRule);
  if (w) {
    if (!isFloatType(w.dtype)) fail(w, `holds ${w.dtype}`, 'weights must be float16, float32 or float64');
    const counts = weightCounts(o, layout);
    if (!counts.some(([, n]) => n === w.count)) fail(w, `holds ${w.count} elements${w.dims ? ` (${dimsOf(w, w.dims)})` : ''}`, `expected ${counts.map(([what, n]) => `${what} (${n})`).join(' or ')} (${refOf(pred, dims)})`);
    const misshaped = w.dims ? weightShapeProblem(o, dims, w.dims, pred.what ? pred.what.trim() : pred.where) : undefined;
    if (misshaped) fail(w, shapeFact(w, w.dims as readonly number[]), misshaped);
  }
  return layout;
}
