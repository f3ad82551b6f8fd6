/**
 * Properties of the detection and segmentation terms (src/losses/terms.ts) over random option sets
 * (index targets, ignore values, every normalization, class and positive weights, FL*, the
 * normalized and reduced losses, both forms, flat or function, every opset) and data:
 *
 * - every model passes the static CUDA check, and its options read back from its metadata;
 * - `grad` is the derivative of the graph's own loss (central differences, float64), away from
 *   kinks (a clamp's or the reduced loss's threshold, where the one-sided differences disagree);
 * - an ignored element adds nothing: its gradient is 0, and changing its prediction leaves the loss.
 *
 * The numbers themselves are pinned by the library references (test/losses/detection.test.ts).
 */
import fc from 'fast-check';
import { buildLoss, normalizeOptions, optionsFromMetadata } from '../../src/losses';
import { decodeModel } from '../../src/onnx';
import { checkCudaPlacement } from '../../src/onnx/placement';
import { HostTensor, runModel } from '../helpers/ort';
import { recordModel } from '../helpers/record-model';
import { TermsCase, termsCaseArb } from './arbitraries';
import { fcParams } from './fc-config';

async function lossAndGrad(bytes: Uint8Array, c: TermsCase, pred: number[], targetDtype: string): Promise<{ loss: number; grad: number[] }> {
  const feeds: Record<string, HostTensor> = {
    pred: { dtype: 'float64', dims: c.predShape, data: pred },
    target: { dtype: targetDtype as HostTensor['dtype'], dims: c.targetShape, data: c.target },
  };
  if (c.normalizer !== undefined) feeds.normalizer = { dtype: 'float64', dims: [], data: [c.normalizer] };
  const out = await runModel(bytes, feeds);
  return { loss: out.loss.data.reduce((a, b) => a + b, 0), grad: out.grad.data };
}

let serial = 0;

describe('property: the detection terms', () => {
  it('CUDA placement, metadata, gradients by central differences, ignored elements', async () => {
    await fc.assert(
      fc.asyncProperty(termsCaseArb, async (c) => {
        const m = buildLoss(c.options);
        recordModel(`terms-${serial++}`, m.bytes);
        const placement = checkCudaPlacement(m.bytes);
        if (!placement.ok) throw new Error(`not wholly on CUDA: ${JSON.stringify(placement.offGpu)}`);
        const info = decodeModel(m.bytes);
        expect(optionsFromMetadata(info.metadata, m.options.opset)).toEqual(normalizeOptions(m.options));

        const base = await lossAndGrad(m.bytes, c, c.pred, m.options.targetDtype);
        if (!Number.isFinite(base.loss)) return; // e.g. every element ignored: the mean is 0/0
        const scale = Math.max(1e-3, ...base.grad.map(Math.abs));
        for (const i of c.ignoredPred) expect(Math.abs(base.grad[i])).toBe(0);
        if (c.ignoredPred.length) {
          const moved = [...c.pred];
          for (const i of c.ignoredPred) moved[i] = c.options.input === 'logits' ? -moved[i] : 1 - moved[i];
          if (c.options.task === 'multiclass' && c.options.input === 'probs') return; // rows must stay distributions
          const again = await lossAndGrad(m.bytes, c, moved, m.options.targetDtype);
          expect(Math.abs(again.loss - base.loss)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(base.loss)));
        }
        // Central differences on up to 4 coordinates.
        const h = 1e-6;
        for (const i of [...c.pred.keys()].filter((k) => !c.ignoredPred.includes(k)).slice(0, 4)) {
          const up = [...c.pred];
          const down = [...c.pred];
          up[i] += h;
          down[i] -= h;
          if (c.options.input === 'probs' && (down[i] <= 0 || up[i] >= 1)) continue;
          const [lu, ld] = await Promise.all([lossAndGrad(m.bytes, c, up, m.options.targetDtype), lossAndGrad(m.bytes, c, down, m.options.targetDtype)]);
          const plus = (lu.loss - base.loss) / h;
          const minus = (base.loss - ld.loss) / h;
          if (Math.abs(plus - minus) > 1e-3 * scale) continue; // a kink between the two
          const central = (lu.loss - ld.loss) / (2 * h);
          if (!(Math.abs(central - base.grad[i]) <= 2e-5 * scale)) {
            throw new Error(`grad[${i}] = ${base.grad[i]}, central difference ${central} (scale ${scale}); options ${JSON.stringify(c.options)}`);
          }
        }
      }),
      fcParams(50),
    );
  }, 300_000);
});
