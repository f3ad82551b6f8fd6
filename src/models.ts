/**
 * The default model set shipped in models/ (written by `npm run export-models`, checked
 * byte-for-byte by a test), and its README.
 */
import { buildLoss, describeLoss, LossOptions } from './losses';

export interface ModelEntry {
  readonly file: string;
  readonly options: LossOptions;
}

const TASK_NAMES = ['binary', 'multilabel', 'multiclass'] as const;

function entries(): ModelEntry[] {
  const out: ModelEntry[] = [];
  for (const task of TASK_NAMES) {
    for (const input of ['probs', 'logits'] as const) out.push({ file: `${task}-${input}.onnx`, options: { task, input } });
  }
  for (const task of ['binary', 'multilabel'] as const) out.push({ file: `${task}-probs-onehot.onnx`, options: { task, form: 'onehot' } });
  // The same losses as one ai.focal node (a model-local function), and with the `grad` output.
  for (const [suffix, extra] of [
    ['function', { asFunction: true }],
    ['grad', { withGrad: true }],
  ] as const) {
    for (const task of TASK_NAMES) {
      for (const input of ['probs', 'logits'] as const) out.push({ file: `${task}-${input}-${suffix}.onnx`, options: { task, input, ...extra } });
    }
  }
  return out;
}

export const DEFAULT_MODELS: readonly ModelEntry[] = entries();

function sig(ts: readonly { name: string; dtype: string; shape: readonly (number | string)[] }[]): string {
  return ts.map((t) => `\`${t.name}\` ${t.dtype}[${t.shape.join(', ')}]`).join(', ');
}

/** models/README.md: each file with its inputs, outputs and options. */
export function modelsReadme(): string {
  const rows = DEFAULT_MODELS.map((e) => {
    const m = buildLoss(e.options);
    const o = m.options;
    const extras = [o.asFunction ? 'function form' : '', o.withGrad ? 'with grad' : ''].filter(Boolean).join(', ');
    return `| \`${e.file}\` | ${sig(m.inputs)} | ${sig(m.outputs)} | ${o.task}, ${o.input}, ${o.form}${extras ? `, ${extras}` : ''} |`;
  });
  const defaults = buildLoss({}).options;
  return [
    '# Exported models',
    '',
    'Written by `npm run export-models` (do not edit by hand; a test rebuilds every file and compares the bytes).',
    `Unless the table says otherwise: opset ${defaults.opset}, ${defaults.dtype}, α = ${defaults.alpha}, γ = ${defaults.gamma},`,
    `reduction ${defaults.reduction}, eps = ${defaults.eps} — the seed's defaults. \`N\` is the batch, \`L\` the labels, \`C\` the classes.`,
    'Each model records its options in `metadata_props` (`focal.*`) and its formula in `doc_string`;',
    '`npx focal-onnx inspect FILE` shows both.',
    '',
    '| file | inputs | outputs | options |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    '## Formulas',
    '',
    ...TASK_NAMES.map((t) => `- **${t}**: ${describeLoss(buildLoss({ task: t }).options)}`),
    '',
  ].join('\n');
}
