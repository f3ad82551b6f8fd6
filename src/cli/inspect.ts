/**
 * `focal-onnx inspect FILE.onnx [--json] [--ep cuda]`: what a model is — IR and opsets, inputs and
 * outputs with shapes, nodes by op, the loss options in its focal.* metadata, its formula (the
 * model's doc_string), its model-local functions — and whether every node has a CUDA kernel (the static check of
 * src/onnx/placement.ts; no GPU needed), listing every node that would leave the GPU. With
 * `--ep cuda` the exit code is 3 when there is one, for scripts.
 */
import { UsageError } from '../errors';
import { ExternalFile, externalFiles } from '../io/external-data';
import { NodeInfo, PlacementReport, checkCudaPlacement, formatPlacement } from '../onnx';
import { loadModelFile } from '../runtime/model-file';
import { FlagSpecs, parseArgs } from './args';
import { CliIO, Command, write } from './command';
import { describeOptions, describeTensor } from './format';

const FLAGS = {
  json: { type: 'boolean', description: 'print one JSON object' },
  ep: { type: 'enum', values: ['cuda'], description: 'exit with code 3 when a node would leave the GPU' },
} as const satisfies FlagSpecs;

/** Exit code of `inspect --ep cuda` when some node has no CUDA kernel. */
export const PLACEMENT_FAILED_EXIT = 3;

/** Nodes per op, most frequent first (a Map: an op type such as '__proto__' is just a name). */
function opCounts(nodes: readonly NodeInfo[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const n of nodes) {
    const op = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
    counts.set(op, (counts.get(op) ?? 0) + 1);
  }
  return Object.fromEntries([...counts].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1)));
}

function countsText(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([op, n]) => (n > 1 ? `${op} ×${n}` : op))
    .join(', ');
}

function placementLine(r: PlacementReport): string {
  const kernels = r.nodes.filter((n) => n.placement === 'cuda').length;
  const consts = r.nodes.filter((n) => n.placement === 'initializer').length;
  const detail = `${kernels} kernel node${kernels === 1 ? '' : 's'}${consts ? ` and ${consts} constant${consts === 1 ? '' : 's'}` : ''}`;
  if (r.ok) return `runs wholly on CUDA: ${detail}, all with CUDA kernels`;
  return `${r.offGpu.length} node${r.offGpu.length === 1 ? '' : 's'} would leave the GPU (${detail} on CUDA)`;
}

/** A side file: which tensors, where it is looked for, and whether it is usable. */
function externalLine(f: ExternalFile): string {
  const what = `${f.tensors} tensor${f.tensors === 1 ? '' : 's'} (${f.bytes} bytes) in ${f.location}, at ${f.path}`;
  return f.problem ? `${what}, which ${f.problem}` : what;
}

/** `text` in lines of at most `width` columns, broken at spaces (a longer word stays whole). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.trim().split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'describe an .onnx model: inputs, outputs, nodes, loss options, formula, CUDA placement',
  usage: 'focal-onnx inspect FILE.onnx [--json] [--ep cuda]',
  flags: FLAGS,
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const { flags, positionals } = parseArgs('focal-onnx inspect', FLAGS, argv);
    if (positionals.length !== 1) {
      throw new UsageError(positionals.length ? `inspect takes one model file, got ${positionals.length}: ${positionals.join(' ')}` : 'inspect needs a model file: focal-onnx inspect FILE.onnx');
    }
    const file = positionals[0];
    const m = loadModelFile(file);
    const g = m.info.graph;
    const placement = checkCudaPlacement(m.info);
    const failed = flags.ep === 'cuda' && !placement.ok ? PLACEMENT_FAILED_EXIT : 0;
    const external = externalFiles(m.info.externalData, m.dir);
    const functions = m.info.functions.map((f) => ({ domain: f.domain, name: f.name, inputs: f.inputs, outputs: f.outputs, attributes: f.attributes, nodes: opCounts(f.nodes) }));

    if (flags.json) {
      write(
        io.stdout,
        JSON.stringify({
          file,
          bytes: m.bytes.length,
          irVersion: m.info.irVersion,
          opsets: m.info.opsets,
          producer: m.info.producer,
          docString: m.info.docString,
          metadata: m.info.metadata,
          options: m.options ?? null,
          inputs: g.inputs,
          outputs: g.outputs,
          initializers: g.initializers,
          externalData: external.map((f) => ({ location: f.location, path: f.path, tensors: f.tensors, bytes: f.bytes, size: f.size ?? null, problem: f.problem ?? null })),
          nodes: opCounts(g.nodes),
          nodeCount: g.nodes.length,
          functions,
          cuda: { ok: placement.ok, offGpu: placement.offGpu, nodes: placement.nodes.length },
        }),
      );
      return failed;
    }

    const opsets = Object.entries(m.info.opsets)
      .map(([d, v]) => (d === '' || d === 'ai.onnx' ? `opset ${v}` : `${d} ${v}`))
      .join(', ');
    const sig = (ts: typeof g.inputs): string => ts.map((t) => `${t.name} ${describeTensor(t)}`).join(', ') || 'none';
    const lines: [string, string][] = [
      ['model', `${file} (${m.bytes.length} bytes), IR ${m.info.irVersion}, ${opsets}${m.info.producer ? `, by ${m.info.producer}` : ''}`],
      ['inputs', sig(g.inputs)],
      ['outputs', sig(g.outputs)],
      ['nodes', `${g.nodes.length}: ${countsText(opCounts(g.nodes))}`],
    ];
    if (g.initializers.length) lines.push(['weights', sig(g.initializers)]);
    for (const f of external) lines.push(['external', externalLine(f)]);
    for (const f of functions) lines.push(['function', `${f.domain}.${f.name}(${f.inputs.join(', ')}) → ${f.outputs.join(', ')}: ${countsText(f.nodes)}`]);
    lines.push(['loss', m.options ? describeOptions(m.options) : 'no focal.* metadata (not written by focal-onnx)']);
    // The model's doc_string: for focal-onnx's models, the formula with its numbers.
    if (m.info.docString) lines.push(['formula', wrap(m.info.docString, 90).join(`\n${''.padEnd(10)}`)]);
    lines.push(['CUDA', placementLine(placement)]);
    const out = lines.map(([k, v]) => `${k.padEnd(10)}${v}`);
    out.push(...formatPlacement(placement).map((l) => `${''.padEnd(10)}${l}`));
    write(io.stdout, out.join('\n'));
    return failed;
  },
};
