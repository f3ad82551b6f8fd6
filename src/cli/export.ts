/**
 * `focal-onnx export`: writes the focal-loss model for the given options to an .onnx file
 * (atomically: a complete file or none), and prints a one-line summary of what it wrote.
 */
import { writeFileAtomic } from '../io/atomic';
import { buildLoss, LossModel } from '../losses';
import { FlagSpecs, parseArgs } from './args';
import { CliIO, Command, write } from './command';
import { LOSS_FLAGS, flagLabel, flagTokens, lossOptionsFromFlags } from './loss-flags';
import { UsageError, quote } from '../errors';
import { lossExtras } from './format';

const FLAGS = {
  ...LOSS_FLAGS,
  out: { type: 'string', alias: 'o', placeholder: 'FILE.onnx', description: 'where to write the model (required; atomically: a complete file or none)' },
  // The flag's earlier name, still accepted: -o / --out is the output file in every command.
  output: { type: 'string', placeholder: 'FILE.onnx', description: 'the same as --out (its earlier name)' },
  json: { type: 'boolean', description: 'print the summary as one JSON object' },
} as const satisfies FlagSpecs;

const INDENT = ' '.repeat('focal-onnx export '.length);

/** `binary probs α=0.25 γ=2 mean eps=0.0001 float32 opset 17 arith: pred float32[N], target float32[N] → loss float32[]` */
export function summarizeModel(m: LossModel): string {
  const o = m.options;
  const alpha = o.alpha === null ? 'none' : Array.isArray(o.alpha) ? `[${o.alpha.join(',')}]` : String(o.alpha);
  const sig = (ts: LossModel['inputs']): string => ts.map((t) => `${t.name} ${t.dtype}[${t.shape.join(', ')}]`).join(', ');
  const extras = [o.asFunction ? 'as function' : '', o.withGrad ? 'with grad' : ''].filter(Boolean).join(', ');
  return (
    `${o.task} ${o.input} α=${alpha} γ=${o.gamma} ${o.reduction} eps=${o.eps} ${o.dtype} opset ${o.opset} ${o.form}${lossExtras(o)}` +
    `${extras ? ` (${extras})` : ''}: ${sig(m.inputs)} → ${sig(m.outputs)}`
  );
}

export const exportCommand: Command = {
  name: 'export',
  summary: 'write a focal-loss graph as an .onnx model',
  usage: `focal-onnx export ${flagTokens(LOSS_FLAGS, INDENT)}\n${INDENT}[--json] -o FILE.onnx`,
  flags: FLAGS,
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const { flags, positionals } = parseArgs('focal-onnx export', FLAGS, argv);
    if (positionals.length) throw new UsageError(`export takes no positional arguments, got ${quote(positionals[0])}`);
    if (flags.out !== undefined && flags.output !== undefined) throw new UsageError('--out and --output are the same flag (the file to write); give one');
    const file = flags.out ?? flags.output;
    if (file === undefined) throw new UsageError('--out (-o) is required: the .onnx file to write');
    const options = lossOptionsFromFlags(flags);
    const model = buildLoss(options, { label: flagLabel });
    writeFileAtomic(file, model.bytes);
    if (flags.json) {
      write(io.stdout, JSON.stringify({ file, bytes: model.bytes.length, options: model.options, inputs: model.inputs, outputs: model.outputs }));
    } else {
      write(io.stdout, `wrote ${file} (${model.bytes.length} bytes): ${summarizeModel(model)}`);
    }
    return 0;
  },
};
