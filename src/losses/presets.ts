/**
 * Presets by library name (`like`, `--like NAME`): the options that make focal-onnx compute the
 * focal loss of another library's call with that call's defaults, each read from the library's
 * source (what each sets and why, and the versions chosen: docs/conventions.md, *The libraries'
 * focal losses* and *Detection and segmentation*). A preset is data: options laid under the
 * user's (any option given overrides it) by `normalizeOptions`, once; the name is recorded in the
 * model's metadata (`focal.like`).
 *
 * The detection and segmentation presets are checked against each library's own source file, run
 * from outside the repository (scripts/make-detection-fixtures.py and make-source-fixtures.py
 * `--sources DIR` → test/fixtures/detection-cases.json and source-cases.json).
 */
import { UsageError } from '../errors';
import { F32_EPS, plain } from './vocabulary';
import type { BaseLike, DetectionPreset, Label, Like, LossOptions, Task } from './vocabulary';

/** The options a preset sets (never `like` itself, nor the structural dtype / opset / form). */
export type PresetOptions = Pick<LossOptions, 'input' | 'targets' | 'alpha' | 'gamma' | 'eps' | 'reduction' | 'labelMean'>;

export interface Preset {
  /** What the library's call is, for messages and the README. */
  readonly call: string;
  readonly options: PresetOptions;
  /** An α the library reads as "no weighting" (torchvision's and fvcore's −1). */
  readonly alphaOff?: number;
}

export const PRESETS: Readonly<Record<BaseLike, Preset>> = {
  seed: { call: 'FocalLoss / FocalLoss_MultiLabel (the seed)', options: { input: 'probs', targets: 'hard', alpha: 0.25, gamma: 2, eps: 1e-4, reduction: 'mean' } },
  torchvision: { call: 'torchvision.ops.sigmoid_focal_loss', options: { input: 'logits', targets: 'soft', alpha: 0.25, gamma: 2, eps: 0, reduction: 'none' }, alphaOff: -1 },
  fvcore: { call: 'fvcore.nn.sigmoid_focal_loss', options: { input: 'logits', targets: 'soft', alpha: 'none', gamma: 2, eps: 0, reduction: 'none' }, alphaOff: -1 },
  optax: { call: 'optax.losses.sigmoid_focal_loss', options: { input: 'logits', targets: 'soft', alpha: 'none', gamma: 2, eps: 0, reduction: 'none' } },
  keras: {
    call: 'keras.losses.BinaryFocalCrossentropy / CategoricalFocalCrossentropy',
    options: { input: 'probs', targets: 'soft', alpha: 'none', gamma: 2, eps: 1e-7, reduction: 'mean', labelMean: true },
  },
};

/** The library call it reproduces and the version checked; its tasks; its defaults (mmdet's eps on avg_factor is `normalizeOffset`). */
export interface DetectionPresetSpec {
  readonly follows: string;
  readonly version: string;
  readonly tasks: readonly Task[];
  readonly options: LossOptions;
  /** What to say beside a task refused. */
  readonly advice?: string;
}

export const DETECTION_PRESETS: Readonly<Record<DetectionPreset, DetectionPresetSpec>> = {
  mmdet: {
    follows: 'mmdet FocalLoss(use_sigmoid=True) (CPU path: one-hot over C + 1, background dropped); avg_factor as a number to normalize, plus float32 eps',
    version: 'mmdetection 3.x (and 2.x since PR #7449, March 2022, which added the eps), mmdet/models/losses/focal_loss.py and utils.py',
    tasks: ['multilabel'],
    options: { task: 'multilabel', input: 'logits', eps: 0, alpha: 0.25, gamma: 2, reduction: 'mean', targetFormat: 'index', normalizeOffset: F32_EPS },
  },
  detectron2: {
    follows: "detectron2 RetinaNet.losses' loss_cls: labels −1 ignored, background K, sum / max(1, positives) (its normalizer's moving average at this batch's count)",
    version: 'detectron2 0.6+ (02b5c4e2), detectron2/modeling/meta_arch/retinanet.py',
    tasks: ['multilabel'],
    options: { task: 'multilabel', input: 'logits', eps: 0, alpha: 0.25, gamma: 2, reduction: 'mean', targetFormat: 'index', ignoreIndex: -1, normalize: 'positives' },
  },
  smp: {
    follows: "smp FocalLoss('binary' | 'multilabel') (ignore_index removes elements); 'multiclass' is --task multilabel --target-format index --normalize positives",
    version: 'segmentation_models_pytorch 0.5.0 (multiclass sums the classes; newer smp averages them), losses/focal.py and _functional.py',
    tasks: ['binary', 'multilabel'],
    options: { task: 'binary', input: 'logits', eps: 0, alpha: 'none', gamma: 2, reduction: 'mean' },
    advice: "smp's multiclass mode is one-vs-rest sigmoid: --task multilabel --target-format index --normalize positives",
  },
  kornia: {
    follows: 'kornia binary_focal_loss_with_logits (ignore_index −100, ignored elements multiplied by 0 and still counted)',
    version: 'kornia 0.9.0rc1 (b4f5a78a), kornia/losses/focal.py',
    tasks: ['binary', 'multilabel'],
    options: { task: 'multilabel', input: 'logits', eps: 0, alpha: 0.25, gamma: 2, reduction: 'none', ignoreIndex: -100, countIgnored: true },
  },
  monai: {
    follows: "MONAI FocalLoss() (sigmoid, include_background=True; weight is classWeight, to_onehot_y is --target-format index; reduction='sum' averages the spatial axes first: spatialMean)",
    version: 'MONAI 1.5.0, monai/losses/focal_loss.py',
    tasks: ['binary', 'multilabel'],
    options: { task: 'multilabel', input: 'logits', eps: 0, alpha: 'none', gamma: 2, reduction: 'mean', spatialMean: true },
  },
};

/**
 * `raw` over the preset it names: every option `raw` gives (not undefined) wins. The library's own
 * "no α" value (torchvision's −1) becomes 'none'.
 */
export function applyPreset<T extends LossOptions>(raw: T, like: Like, label: Label = plain): T {
  const p = like in PRESETS ? PRESETS[like as BaseLike] : DETECTION_PRESETS[like as DetectionPreset];
  const out: Record<string, unknown> = { ...p.options };
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) out[k] = v;
  if ('alphaOff' in p && out.alpha === p.alphaOff) out.alpha = 'none';
  const task = out.task as Task;
  if ('tasks' in p && !p.tasks.includes(task)) {
    throw new UsageError(`${label('like')} ${like} is ${p.follows.split(' (')[0]}: ${label('task')} ${p.tasks.join(' or ')}, got ${task}${p.advice ? ` (${p.advice})` : ''}`);
  }
  return out as T;
}
