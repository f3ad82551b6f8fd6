/**
 * Focal-loss graphs: one file per task, each a pure function from options to graph values; no
 * onnxruntime here. `buildLoss(options)` is the entry point; the options are the entries of
 * registry.ts, their words vocabulary.ts.
 */
export { buildLoss, describeLoss, describeTerms, elementShape, focalFunction, ioShapes, FOCAL_DOMAIN, FUNCTION_NAMES } from './build';
export type { LossModel, TensorSpec, BuildExtras } from './build';
export { PRESETS, DETECTION_PRESETS, applyPreset } from './presets';
export type { Preset, PresetOptions, DetectionPresetSpec } from './presets';
export { DEFAULTS, usesSoftForm, normalizeOptions, optionsFromMetadata, optionsToMetadata, functionAttributes, rowSource } from './options';
export type { RowSource } from './options';
export { OPTIONS, flagOf, helpLine } from './registry';
export type { OptionEntry, FlagKind } from './registry';
export { DETECTION_PRESET_NAMES, FORMS, INPUTS, LIKES, LOSS_DTYPES, NORMALIZED_FLOOR, NORMALIZE_KINDS, REDUCTIONS, SEED_EPS, plain } from './vocabulary';
export { TARGETS, TARGET_DTYPES, TARGET_FORMATS, TASKS, VARIANTS, WEIGHTS } from './vocabulary';
export type { DetectionPreset, FocalOptions, Form, InputKind, Label, Like, LossDType, LossOptions, Normalize, NormalizeKind } from './vocabulary';
export type { Reduction, TargetDType, TargetFormat, TargetKind, Task, TermOptions, Terms, Variant, WeightKind } from './vocabulary';
