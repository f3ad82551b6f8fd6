/**
 * Focal-loss graphs: one file per task, each a pure function from options to graph values; no
 * onnxruntime here. `buildLoss(options)` is the entry point.
 */
export { buildLoss, describeLoss, elementShape, focalFunction, ioShapes, FOCAL_DOMAIN, FUNCTION_NAMES } from './build';
export { PRESETS, applyPreset } from './presets';
export type { Preset, PresetOptions } from './presets';
export type { LossModel, TensorSpec, BuildExtras } from './build';
export {
  DEFAULTS,
  FORMS,
  INPUTS,
  LIKES,
  TARGETS,
  WEIGHTS,
  usesSoftForm,
  LOSS_DTYPES,
  REDUCTIONS,
  SEED_EPS,
  TARGET_DTYPES,
  TASKS,
  normalizeOptions,
  optionsFromMetadata,
  optionsToMetadata,
} from './options';
export type { FocalOptions, Form, InputKind, Label, Like, LossDType, LossOptions, Reduction, TargetDType, TargetKind, Task, WeightKind } from './options';
export { NORMALIZE_KINDS, TARGET_FORMATS, VARIANTS, NORMALIZED_FLOOR, describeTerms } from './terms';
export type { Normalize, NormalizeKind, TargetFormat, TermOptions, Terms, Variant } from './terms';
export { DETECTION_PRESETS, DETECTION_PRESET_NAMES } from './presets-detection';
export type { DetectionPreset } from './presets-detection';
