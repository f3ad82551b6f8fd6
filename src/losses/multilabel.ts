/**
 * Multi-label focal loss — the seed's `FocalLoss_MultiLabel`: `pred`, `target` [N, L] → `loss`
 * (or of higher rank, labels on the last axis: [B, K, L] is the same loss as [B·K, L]).
 *
 * The seed runs the binary loss on each label column, keeps each column's mean (or sum), then
 * takes the mean (or sum) over labels. With N rows in every column that is the mean (or sum) over
 * all N·L elements, which is what the graph computes: the binary element-wise loss on [N, L], then
 * one reduction. α may be one number or one per label (α_l for target 1, 1 − α_l for target 0).
 *
 * The per-label vector the seed builds (`loss[0, label]`) is the reduction over N alone; the
 * evaluator asks for it as an extra output.
 */
import { Value } from '../onnx';
import { labelAxisOf, reduce, spatialSize } from './focal';
import { FocalOptions } from './options';

/**
 * The seed's per-label vector [L]: each label column's mean (or sum) over the N rows — over every
 * axis but the last for predictions of higher rank ([B, K, L]: over the B·K rows). A sum divided
 * as the loss is (MONAI's spatial mean, spatialMean: by the spatial size), so that the labels'
 * values add up to the loss.
 */
export function perLabel(elements: Value, o: FocalOptions): Value {
  if (o.reduction !== 'mean' && o.reduction !== 'sum') throw new RangeError(`perLabel: needs reduction mean or sum, got ${o.reduction}`);
  const a = labelAxisOf(o, elements.rank);
  const divisor = o.reduction === 'sum' && o.spatialMean ? { divisor: spatialSize(elements, o, elements.dtype) } : {};
  return reduce(elements, o.reduction, { axes: [...Array(elements.rank).keys()].filter((i) => i !== a), ...divisor });
}
