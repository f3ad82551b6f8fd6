/**
 * d(loss)/d(pred), built analytically in the graph (ONNX has no autodiff).
 */
import { Value } from '../onnx';
import { LossParams } from './focal';
import { FocalOptions } from './options';

export function focalGradient(_pred: Value, _target: Value, _o: FocalOptions, _p: LossParams): Value {
  throw new RangeError('withGrad: the gradient output is not built yet');
}
