/**
 * Small formatters shared by `eval` and `inspect`.
 */
import { FocalOptions, describeTerms } from '../losses';

/** The options beyond the seed's, where set: ` soft targets, label smoothing 0.1, sample weight, label mean, like keras`. */
export function lossExtras(o: FocalOptions): string {
  const parts = [
    o.targets === 'soft' ? 'soft targets' : '',
    o.labelSmoothing > 0 ? `label smoothing ${o.labelSmoothing}` : '',
    o.weight !== 'none' ? `${o.weight} weight` : '',
    o.labelMean ? 'label mean' : '',
    describeTerms(o),
    o.like !== null ? `like ${o.like}` : '',
  ].filter(Boolean);
  return parts.length ? ` ${parts.join(', ')}` : '';
}

/** `binary probs α=0.25 γ=2 mean eps=0.0001 float32 (target float32) opset 17 arith` */
export function describeOptions(o: FocalOptions): string {
  const alpha = o.alpha === null ? 'none' : Array.isArray(o.alpha) ? `[${o.alpha.join(',')}]` : String(o.alpha);
  const target = o.targetDtype === o.dtype ? '' : ` (target ${o.targetDtype})`;
  const extras = [o.asFunction ? 'as function' : '', o.withGrad ? 'with grad' : ''].filter(Boolean).join(', ');
  return `${o.task} ${o.input} α=${alpha} γ=${o.gamma} ${o.reduction} eps=${o.eps} ${o.dtype}${target} opset ${o.opset} ${o.form}${lossExtras(o)}${extras ? ` (${extras})` : ''}`;
}

/** `float32[N, 5]` */
export function describeTensor(t: { dtype: string; shape: readonly (number | string | null)[] | null }): string {
  return `${t.dtype}${t.shape ? `[${t.shape.map((d) => d ?? '?').join(', ')}]` : '[?]'}`;
}

/** A loss value with 7 significant digits. */
export function formatLoss(x: number): string {
  return Number.isFinite(x) ? Number(x.toPrecision(7)).toString() : String(x);
}
