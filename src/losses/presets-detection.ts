/**
 * Presets (`like`) for the detection and segmentation libraries: each sets the defaults and
 * conventions of one library's focal loss, read from its public source at the version named, and
 * checked against a reference implementation of that code (test/helpers/references/
 * detection_focal.py → test/fixtures/detection-cases.json). Options given beside `like` override
 * its defaults.
 */
import { UsageError } from '../errors';
import type { Label, LossOptions, Task } from './options';

export interface Preset {
  /** The library call it reproduces, and the version it was checked against. */
  readonly follows: string;
  readonly version: string;
  readonly tasks: readonly Task[];
  readonly options: LossOptions;
  /** A convention beyond the defaults, applied to the merged options. */
  readonly adjust?: (o: LossOptions) => LossOptions;
}

/** float32's machine epsilon, which mmdet adds to `avg_factor`. */
export const F32_EPS = 2 ** -23;

export const DETECTION_PRESET_NAMES = ['mmdet', 'detectron2', 'smp', 'kornia', 'monai'] as const;
export type DetectionPreset = (typeof DETECTION_PRESET_NAMES)[number];

export const isDetectionPreset = (name: string): name is DetectionPreset => (DETECTION_PRESET_NAMES as readonly string[]).includes(name);

export const DETECTION_PRESETS: Record<DetectionPreset, Preset> = {
  mmdet: {
    follows: 'mmdet FocalLoss(use_sigmoid=True) (CPU path: one-hot over C + 1, background dropped); avg_factor as a number to normalize, plus float32 eps',
    version: 'mmdetection 2.x, mmdet/models/losses/focal_loss.py at d898526f',
    tasks: ['multilabel'],
    options: { task: 'multilabel', input: 'logits', eps: 0, alpha: 0.25, gamma: 2, reduction: 'mean', targetFormat: 'index' },
    adjust: (o) => (typeof o.normalize === 'number' ? { ...o, normalize: o.normalize + F32_EPS } : o),
  },
  detectron2: {
    follows: "detectron2 RetinaNet.losses' loss_cls: labels −1 ignored, background K, sum / max(1, positives) (without its moving average)",
    version: 'detectron2 0.6+ (02b5c4e2), detectron2/modeling/meta_arch/retinanet.py',
    tasks: ['multilabel'],
    options: { task: 'multilabel', input: 'logits', eps: 0, alpha: 0.25, gamma: 2, reduction: 'mean', targetFormat: 'index', ignoreIndex: -1, normalize: 'positives' },
  },
  smp: {
    follows: "smp FocalLoss('binary' | 'multilabel') (ignore_index removes elements); 'multiclass' is --task multilabel --target-format index --normalize positives",
    version: 'segmentation_models_pytorch 0.5.0, losses/focal.py and _functional.py',
    tasks: ['binary', 'multilabel'],
    options: { task: 'binary', input: 'logits', eps: 0, alpha: 'none', gamma: 2, reduction: 'mean' },
  },
  kornia: {
    follows: 'kornia binary_focal_loss_with_logits (ignore_index −100, ignored elements multiplied by 0 and still counted)',
    version: 'kornia 0.9.0rc1 (b4f5a78a), kornia/losses/focal.py',
    tasks: ['binary', 'multilabel'],
    options: { task: 'multilabel', input: 'logits', eps: 0, alpha: 0.25, gamma: 2, reduction: 'none', ignoreIndex: -100, countIgnored: true },
  },
  monai: {
    follows: 'MONAI FocalLoss() (sigmoid, include_background=True; weight is classWeight, to_onehot_y is --target-format index)',
    version: 'MONAI 1.5.0, monai/losses/focal_loss.py',
    tasks: ['binary', 'multilabel'],
    options: { task: 'multilabel', input: 'logits', eps: 0, alpha: 'none', gamma: 2, reduction: 'mean' },
  },
};

const ADVICE: Partial<Record<DetectionPreset, string>> = {
  smp: "smp's multiclass mode is one-vs-rest sigmoid: --task multilabel --target-format index --normalize positives",
};

/** `raw` with the preset's defaults under it (and its convention applied); `resolved`: already applied once. */
export function applyDetectionPreset(name: DetectionPreset, raw: LossOptions, label: Label, resolved: boolean): LossOptions {
  const p = DETECTION_PRESETS[name];
  const merged: LossOptions = { ...p.options };
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
  const task = merged.task as Task;
  if (!p.tasks.includes(task)) {
    throw new UsageError(`${label('like')} ${name} is ${p.follows.split(' (')[0]}: task ${p.tasks.join(' or ')}, got ${task}${ADVICE[name] ? ` (${ADVICE[name]})` : ''}`);
  }
  return p.adjust && !resolved ? p.adjust(merged) : merged;
}
