/**
 * Presets by library name (`like`, `--like NAME`): the options that make focal-onnx compute the
 * focal loss of another library's call with that call's defaults. A preset is applied under the
 * user's explicit options (any option given overrides it) by `normalizeOptions`, and the name is
 * recorded in the model's metadata (`focal.like`).
 *
 * Each entry is the library's own defaults, read from its source:
 * - `seed`: today's defaults (the seed's `FocalLoss`: probabilities, hard targets, α 0.25, γ 2,
 *   the clamp of p_t at 1e-4, mean).
 * - `torchvision`: `torchvision.ops.sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2,
 *   reduction="none")` — logits, soft targets, BCE with logits (no clamp), α = −1 means none.
 * - `fvcore`: `fvcore.nn.sigmoid_focal_loss(..., alpha=-1, gamma=2, reduction="none")` — the same
 *   formula, α off.
 * - `optax`: `optax.losses.sigmoid_focal_loss(logits, labels, alpha=None, gamma=2.0)` — logits,
 *   soft labels, no reduction.
 * - `keras`: `keras.losses.BinaryFocalCrossentropy` / `CategoricalFocalCrossentropy` —
 *   probabilities (`from_logits=False`), the probability clipped to [1e-7, 1 − 1e-7] inside the
 *   cross-entropy (`backend.epsilon()`), α only with `apply_class_balancing` (so none here until
 *   `alpha` is given), binary averaged over the last axis (`labelMean`), reduction
 *   `sum_over_batch_size` (mean).
 */
import type { LossOptions } from './options';
import { DETECTION_PRESET_NAMES } from './presets-detection';

const BASE_LIKES = ['seed', 'torchvision', 'fvcore', 'optax', 'keras'] as const;
type BaseLike = (typeof BASE_LIKES)[number];
/** These and the detection / segmentation presets (presets-detection.ts). */
export const LIKES = [...BASE_LIKES, ...DETECTION_PRESET_NAMES] as const;
export type Like = (typeof LIKES)[number];

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
  seed: {
    call: 'FocalLoss / FocalLoss_MultiLabel (the seed)',
    options: { input: 'probs', targets: 'hard', alpha: 0.25, gamma: 2, eps: 1e-4, reduction: 'mean' },
  },
  torchvision: {
    call: 'torchvision.ops.sigmoid_focal_loss',
    options: { input: 'logits', targets: 'soft', alpha: 0.25, gamma: 2, eps: 0, reduction: 'none' },
    alphaOff: -1,
  },
  fvcore: {
    call: 'fvcore.nn.sigmoid_focal_loss',
    options: { input: 'logits', targets: 'soft', alpha: 'none', gamma: 2, eps: 0, reduction: 'none' },
    alphaOff: -1,
  },
  optax: {
    call: 'optax.losses.sigmoid_focal_loss',
    options: { input: 'logits', targets: 'soft', alpha: 'none', gamma: 2, eps: 0, reduction: 'none' },
  },
  keras: {
    call: 'keras.losses.BinaryFocalCrossentropy / CategoricalFocalCrossentropy',
    options: { input: 'probs', targets: 'soft', alpha: 'none', gamma: 2, eps: 1e-7, reduction: 'mean', labelMean: true },
  },
};

/**
 * `raw` over the preset it names: every option `raw` gives (not undefined) wins. The library's own
 * "no α" value (torchvision's −1) becomes 'none'.
 */
export function applyPreset<T extends LossOptions>(raw: T, like: BaseLike): T {
  const preset = PRESETS[like];
  const out: Record<string, unknown> = { ...preset.options };
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) out[k] = v;
  if (preset.alphaOff !== undefined && out.alpha === preset.alphaOff) out.alpha = 'none';
  return out as T;
}
