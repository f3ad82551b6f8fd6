/**
 * `focal-onnx attach NETWORK.onnx --output NAME [loss flags] -o OUT.onnx`: writes one model of the
 * network and the focal loss on its output NAME (src/attach), atomically, and prints a one-line
 * summary: the inputs and outputs of the result.
 */
import * as path from 'path';
import { attachLoss, AttachedModel } from '../attach';
import { UsageError, quote } from '../errors';
import { discardTempFile, renameTempIntoPlace, writeFileAtomic } from '../io/atomic';
import { LossOptions } from '../losses';
import { EXTERNAL_DATA_MODES, ExternalDataMode, SideFile, placeExternalData, writeSideFileTemp } from '../io/external-data';
import { externalTensors, serializeModel } from '../onnx';
import { readModelFile } from '../io/files';
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
  'external-data': {
    type: 'enum',
    values: EXTERNAL_DATA_MODES,
    description: "a network's weights in side files: inline (into OUT.onnx; default below 2 GB), copy (to OUT.onnx.data beside it; default above), keep (refer to the network's files from OUT's folder)",
  },
  json: { type: 'boolean', description: 'print the summary as one JSON object' },
} as const satisfies FlagSpecs;

const INDENT = ' '.repeat('focal-onnx attach '.length);
/** The loss flags as attach words them. */
const ATTACH_LOSS = Object.fromEntries(Object.keys(LOSS_FLAGS).map((k) => [k, (FLAGS as FlagSpecs)[k]]));

const sig = (ts: AttachedModel['inputs']): string => ts.map((t) => `${t.name} ${t.dtype}[${(t.shape ?? []).map((d) => d ?? '?').join(', ')}]`).join(', ');

/** Where the written model's weights lie (for a network with external data), for the summary and --json. */
function externalSummary(side: SideFile | undefined, model: AttachedModel['model']): { mode: ExternalDataMode; files: string[] } {
  const files = [...new Set(externalTensors(model).map((t) => t.location))];
  return { mode: side ? 'copy' : files.length ? 'keep' : 'inline', files };
}

export const attachCommand: Command = {
  name: 'attach',
  summary: "attach the focal loss to an output of a network (.onnx): one model with the network's outputs and the loss",
  usage: `focal-onnx attach NETWORK.onnx --output NAME ${flagTokens(ATTACH_LOSS, INDENT)}\n${INDENT}[--external-data inline|copy|keep] [--json] -o OUT.onnx`,
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
    // The network's side files (external data) placed so that the output loads where it is written.
    const hadExternal = externalTensors(attached.model).length > 0;
    const mode = flags['external-data'] as ExternalDataMode | undefined;
    const side = placeExternalData(attached.model, attached.bytes.length, mode, path.dirname(path.resolve(network)), flags.out, network, '--external-data');
    const bytes = hadExternal ? serializeModel(attached.model) : attached.bytes;
    // Both files complete before either is renamed into place (a failure leaves neither).
    const sideTemp = side ? await writeSideFileTemp(side) : undefined;
    try {
      writeFileAtomic(flags.out, bytes, sideTemp ? () => renameTempIntoPlace(sideTemp) : undefined);
    } catch (e) {
      if (sideTemp) discardTempFile(sideTemp);
      throw e;
    }
    const external = hadExternal ? externalSummary(side, attached.model) : undefined;
    if (flags.json) {
      write(
        io.stdout,
        JSON.stringify({
          file: flags.out,
          bytes: bytes.length,
          externalData: external ? { ...external, ...(side ? { bytes: side.bytes } : {}) } : null,
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
        `wrote ${flags.out} (${bytes.length} bytes, IR ${attached.irVersion}, opset ${attached.opset}): ${network} + ${describeOptions(attached.options)} on ${quote(attached.output)}: ` +
          `${sig(attached.inputs)} → ${sig(attached.outputs)}` +
          (external === undefined
            ? ''
            : external.mode === 'inline'
              ? `; the network's weights inline (from its side files)`
              : external.mode === 'copy'
                ? `; the network's weights in ${side?.path} (${side?.bytes} bytes)`
                : `; the network's weights in ${external.files.join(', ')} (relative to ${path.dirname(flags.out) || '.'})`),
      );
    }
    return 0;
  },
};
