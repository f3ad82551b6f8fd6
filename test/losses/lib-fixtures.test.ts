/**
 * The losses people train with, to their numbers: every golden case from torchvision's
 * `sigmoid_focal_loss`, optax's `sigmoid_focal_loss` and Keras 3's `BinaryFocalCrossentropy` /
 * `CategoricalFocalCrossentropy` (soft and hard targets, probs and logits, every task, label
 * smoothing, sample and element weights, every reduction, the presets), built by buildLoss from the
 * options the fixture names, flat and as an `ai.focal` function, in float64 and float32, on
 * onnxruntime-node; loss and `grad` against the library's value and its autograd gradient. Every
 * model passes the static CUDA placement check and is recorded for the ONNX checks in CI.
 */
import { LossDType, buildLoss } from '../../src/losses';
import { decodeModel } from '../../src/onnx';
import { checkCudaPlacement } from '../../src/onnx/placement';
import { expectNear } from '../helpers/fixtures';
import { LIB_FIXTURES, flat, libInputs, libTolerance } from '../helpers/lib-fixtures';
import { runModel } from '../helpers/ort';
import { recordModel } from '../helpers/record-model';

const { cases, versions } = LIB_FIXTURES;

it('the fixtures cover every library, task, target kind, input, weight and reduction', () => {
  expect(versions).toMatchObject({ torchvision: '0.28.0', optax: '0.2.8', keras: '3.15.1' });
  const seen = (f: (c: (typeof cases)[number]) => unknown): Set<unknown> => new Set(cases.map(f));
  expect(seen((c) => c.library)).toEqual(new Set(['torchvision', 'optax', 'keras']));
  expect(seen((c) => c.options.task)).toEqual(new Set(['binary', 'multilabel', 'multiclass']));
  expect(seen((c) => c.options.targets ?? 'soft')).toEqual(new Set(['hard', 'soft']));
  expect(seen((c) => c.options.input ?? (c.library === 'keras' ? 'probs' : 'logits'))).toEqual(new Set(['probs', 'logits']));
  expect(seen((c) => c.options.weight ?? 'none')).toEqual(new Set(['none', 'sample', 'element']));
  expect(seen((c) => c.options.reduction)).toEqual(new Set(['mean', 'sum', 'none', 'weighted-mean']));
  expect(cases.some((c) => (c.options.labelSmoothing ?? 0) > 0 && c.options.task === 'multiclass' && c.options.targets === 'hard')).toBe(true);
});

describe.each(['float64', 'float32'] as LossDType[])('%s graphs against the libraries', (dtype) => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    for (const asFunction of [false, true]) {
      // The function form's α, γ, eps and label smoothing are float32 attributes (0.6, 0.1 round).
      const tol = asFunction && dtype === 'float64' ? Math.max(1e-7, libTolerance(c, dtype)) : libTolerance(c, dtype);
      const m = buildLoss({ ...c.options, dtype, withGrad: true, asFunction });
      recordModel(`lib-${dtype}-${asFunction ? 'fn-' : ''}${c.name}`, m.bytes);
      expect(checkCudaPlacement(decodeModel(m.bytes)).ok).toBe(true);
      const out = await runModel(m.bytes, libInputs(c, dtype));
      const what = `${c.name} (${dtype}${asFunction ? ', function' : ''})`;
      expectNear(out.loss.data, flat(c.loss), tol, `${what}: loss`);
      expectNear(out.grad.data, flat(c.grad), tol, `${what}: grad`);
    }
  });
});
