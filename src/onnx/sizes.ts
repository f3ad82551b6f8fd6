/**
 * Sizes known only at run time, counted on the device, and the one-hot rows of indices over such a
 * size. A graph that reads a dimension through Shape → Gather would not run wholly on CUDA: Shape
 * writes to host memory and onnxruntime's CUDA provider hands small computations on host tensors
 * to the CPU. ConstantOfShape takes its shape input in host memory, so Shape → ConstantOfShape →
 * ReduceSum stays on the device.
 */
import { DType } from './dtype';
import { Value } from './graph';
import * as op from './ops';
import { Param, param, toType } from './param';
import { knownSize } from './shape';

/** Ones shaped like `x`, in `dtype`. */
export const onesLike = (x: Value, dtype: DType): Value => op.constantOfShape(op.shape(x), 1, dtype);

/** The number of elements of `x` in `dtype`: a number when the shape is known, else a device scalar. */
export function elementCount(x: Value, dtype: DType): Param {
  return knownSize(x.shape) ?? op.reduceSum(onesLike(x, dtype), { keepdims: false });
}

/**
 * The length of `x`'s axis `axis` (the last by default) in `dtype`: a number when known, else
 * counted on the device (the last: from row 0 for rank 2, else count(x) / count(rows)).
 */
export function rowLength(x: Value, dtype: DType, axis = x.rank - 1): Param {
  if (axis !== x.rank - 1) return typeof x.shape[axis] === 'number' ? (x.shape[axis] as number) : toType(classCount(x, axis), dtype);
  const last = x.shape[x.rank - 1];
  if (typeof last === 'number') return last;
  if (x.rank === 2) return elementCount(op.gather(x, x.graph.constant(0, 'int64'), 0), dtype);
  const all = elementCount(x, dtype);
  const rows = elementCount(op.reduceSum(x, { axes: [x.rank - 1], keepdims: false }), dtype);
  return op.div(param(all, dtype), param(rows, dtype));
}

/**
 * The size of `x`'s axis `axis` (the last by default) as an int64 scalar (OneHot's depth): a
 * constant when known, else counted on the device along the line of `x` at index 0 of every other
 * axis (so each must be at least 1).
 */
export function classCount(x: Value, axis = x.rank - 1): Value {
  const g = x.graph;
  const d = x.shape[axis];
  if (typeof d === 'number') return g.constant(d, 'int64');
  let line = x;
  for (let i = x.rank - 1; i > axis; i--) line = op.gather(line, g.constant(0, 'int64'), i);
  while (line.rank > 1) line = op.gather(line, g.constant(0, 'int64'), 0);
  return op.cast(elementCount(line, 'float32') as Value, 'int64');
}

/**
 * The one-hot rows of indices `index` (int32 or int64, as the caller cast them) over `depth` along
 * `axis`, in `ct`: OneHot emits float32 (CUDA's OneHot takes (int64, int64, float32) or (int32,
 * int32, float32)), cast where `ct` differs. `known`: the depth when it is known, for the shape.
 */
export function oneHotRows(index: Value, depth: Value, ct: DType, axis = -1, known?: number | string): Value {
  return toType(op.oneHot(index, depth, index.graph.constant([0, 1], 'float32'), axis, known), ct);
}
