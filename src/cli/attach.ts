/**
 * `focal-onnx attach NETWORK.onnx --output NAME [loss flags] -o OUT.onnx`: writes one model of the
 * network and the focal loss on its output NAME (src/attach), atomically, and prints a one-line
 * summary: the inputs and outputs of the result.
 */
import * as path from 'path';
import { attachLoss, AttachedModel } from '../attach';
import { UsageError, quote } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import { LossOptions } from '../losses';
import { readModelFile } from '../runtime/model-bytes';
import { FlagSpecs, parseArgs } from './args';
import { CliIO, Command, write } from './command';
import { describeOptions } from './format';
import { LOSS_FLAGS, flagLabel, flagTokens, lossOptionsFromFlags } from './loss-flags';

const FLAGS = {
  output: { type: 'string', placeholder: 'NAME', description: "the network's output the loss takes as its prediction (required)" },
  ...LOSS_FLAGS,
  dtype: { ...LOSS_FLAGS.dtype, description: "element type of pred and loss (default: the output's)" },
  opset: { ...LOSS_FLAGS.opset, description: "ONNX opset, 13–21 (default and only choice: the network's)" },
  'as-function': { ...LOSS_FLAGS['as-function'], description: 'attach the loss as one ai.focal node defined by a model-local function' },
  'with-grad': { ...LOSS_FLAGS['with-grad'], description: 'add an output grad = d(loss)/d(the output)' },
  out: { type: 'string', alias: 'o', placeholder: 'OUT.onnx', description: 'where to write the combined model (required)' },
  json: { type: 'boolean', description: 'print the summary as one JSON object' },
} as const satisfies FlagSpecs;

const INDENT = ' '.repeat('focal-onnx attach '.length);
/** The loss flags as attach words them. */
const ATTACH_LOSS = Object.fromEntries(Object.keys(LOSS_FLAGS).map((k) => [k, (FLAGS as FlagSpecs)[k]]));

const sig = (ts: AttachedModel['inputs']): string => ts.map((t) => `${t.name} ${t.dtype}[${(t.shape ?? []).map((d) => d ?? '?').join(', ')}]`).join(', ');

/** The external-data files the model's initializers refer to (relative to the model's directory). */
function externalFiles(a: AttachedModel): string[] {
  const files = new Set<string>();
  for (const t of a.model.graph?.initializer ?? []) {
    const location = t.externalData?.find((e) => e.key === 'location')?.value;
    if (location) files.add(location);
  }
  return [...files];
}

export const attachCommand: Command = {
  name: 'attach',
  summary: "attach the focal loss to an output of a network (.onnx): one model with the network's outputs and the loss",
  usage: `focal-onnx attach NETWORK.onnx --output NAME ${flagTokens(ATTACH_LOSS, INDENT)}\n${INDENT}[--json] -o OUT.onnx`,
  flags: FLAGS,
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const { flags, positionals } = parseArgs('focal-onnx attach', FLAGS, argv);
    if (positionals.length === 0) throw new UsageError('attach needs the network: focal-onnx attach NETWORK.onnx --output NAME -o OUT.onnx');
    if (positionals.length > 1) throw new UsageError(`attach takes one network, got a second argument ${quote(positionals[1])}`);
    const network = positionals[0];
    if (flags.output === undefined) throw new UsageError(`--output is required: the output of ${network} the loss takes as its prediction`);
    if (flags.out === undefined) throw new UsageError('--out (-o) is required: the .onnx file to write');
    if (path.resolve(flags.out) === path.resolve(network)) throw new UsageError(`${flags.out}: is the network itself; write the combined model elsewhere`);
    // dtype and opset are the network's; given, attachLoss checks that they match it.
    const { dtype, opset, ...rest } = flags;
    const { dtype: _d, opset: _o, ...normalized } = lossOptionsFromFlags(rest);
    const loss: LossOptions = { ...normalized };
    if (dtype !== undefined) loss.dtype = dtype as LossOptions['dtype'];
    if (opset !== undefined) loss.opset = opset as number;
    const attached = attachLoss(readModelFile(network), { ...loss, output: flags.output }, { source: network, label: flagLabel, outputLabel: '--output' });
    writeFileAtomic(flags.out, attached.bytes);
    const external = externalFiles(attached);
    if (external.length && path.resolve(path.dirname(flags.out)) !== path.resolve(path.dirname(network))) {
      write(io.stderr, `focal-onnx: note: ${flags.out} refers to external data (${external.join(', ')}) relative to its directory, as ${network} does; copy those files next to it`);
    }
    if (flags.json) {
      write(
        io.stdout,
        JSON.stringify({
          file: flags.out,
          bytes: attached.bytes.length,
          network,
          output: attached.output,
          irVersion: attached.irVersion,
          opset: attached.opset,
          names: attached.names,
          options: attached.options,
          inputs: attached.inputs,
          outputs: attached.outputs,
        }),
      );
    } else {
      write(
        io.stdout,
        `wrote ${flags.out} (${attached.bytes.length} bytes, IR ${attached.irVersion}, opset ${attached.opset}): ${network} + ${describeOptions(attached.options)} on ${quote(attached.output)}: ` +
          `${sig(attached.inputs)} → ${sig(attached.outputs)}`,
      );
    }
    return 0;
  },
};
