/**
 * `attachLoss(networkBytes, options)`: one model of a user's network and the focal loss on one of
 * its outputs.
 *
 * - Inputs: the network's, plus the loss's own (`target`, and any other the options add). Outputs:
 *   the network's, untouched (the same nodes compute them, so their values are bit-identical), plus
 *   `loss` (and `grad` = d loss / d that output with `withGrad`).
 * - The loss is built by the graph builder (every node checked for types and shapes) at the
 *   network's default-domain opset (13–21), for the output's element type and shape: binary any
 *   shape, multi-label [N, …, L] (labels on the last axis), multi-class [N, C]. Its `pred` input
 *   becomes the network's output; `asFunction` makes it one `ai.focal` node with the function in
 *   `functions`.
 * - Names of the loss (values, nodes) that the network already uses — anywhere, subgraphs
 *   included — are prefixed (`focal_`), so nothing of the network is renamed; `names` says what
 *   the loss's inputs and outputs are called in the result.
 * - Everything else of the network is kept as decoded by the ONNX 1.23 schema (src/onnx/proto.ts):
 *   initializers (external-data references too: the file names stay relative to the model),
 *   value_info, functions, metadata, doc strings, training info, every field of IR 10 and later.
 *   The IR version is the higher of the two; the loss's options go into `metadata_props` as
 *   `focal.*` (with `focal.output`, the output it is attached to).
 *
 * Knows nothing of onnxruntime (attaching works anywhere).
 */
import type { onnx } from 'onnx-proto';
import { UsageError, quote } from '../errors';
import { BuildExtras, FocalOptions, Label, LossOptions, RowSource, buildLoss, normalizeOptions, plain, rowSource } from '../losses';
import { DType, MAX_OPSET, MIN_OPSET, ModelFormatError, Shape, decodeModelProto, serializeModel } from '../onnx';
import { codeName, dtypeFromCode } from '../onnx/dtype';
import { labelAxisOf, predShapeProblem, shapeText } from '../losses/shapes';

/** The prefix given to a loss name that the network already uses. */
export const COLLISION_PREFIX = 'focal_';

export interface AttachOptions extends LossOptions {
  /** The network output the loss takes as its prediction. */
  readonly output: string;
}

export interface AttachContext {
  /** What the network is called in messages (its file name); default 'the network'. */
  readonly source?: string;
  /** Names options in messages (the CLI passes its flags). */
  readonly label?: Label;
  /** How `output` is named in messages (default 'output'; the CLI: '--output'). */
  readonly outputLabel?: string;
  /**
   * An evaluator's extra outputs (buildLoss's extras, for a loss built with reduction none):
   * `imageScaled` (perImage) and `focalSum` (the normalized loss's Σ F, divided over the whole input).
   */
  readonly extras?: Pick<BuildExtras, 'imageScaled' | 'focalSum'>;
}

export interface TensorSig {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly (number | string | null)[] | null;
}

export interface AttachedModel {
  readonly options: FocalOptions;
  /** The network output the loss is attached to. */
  readonly output: string;
  readonly model: onnx.IModelProto;
  readonly bytes: Uint8Array;
  /** The loss's own inputs and outputs (target, loss, grad, …) by their name in the result. */
  readonly names: Readonly<Record<string, string>>;
  readonly inputs: readonly TensorSig[];
  readonly outputs: readonly TensorSig[];
  readonly irVersion: number;
  readonly opset: number;
}

function toNum(x: unknown): number {
  if (typeof x === 'number') return x;
  if (x && typeof (x as { toNumber?: unknown }).toNumber === 'function') return (x as { toNumber(): number }).toNumber();
  return Number(x ?? 0);
}

/** The default-domain opset a model imports, or undefined. */
export function defaultOpset(model: onnx.IModelProto): number | undefined {
  const entry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return entry ? toNum(entry.version) : undefined;
}

/** Every value and node name used in a graph and its subgraphs. */
function collectNames(g: onnx.IGraphProto, values: Set<string>, nodes: Set<string>): void {
  for (const list of [g.input, g.output, g.valueInfo]) for (const v of list ?? []) if (v.name) values.add(v.name);
  for (const t of g.initializer ?? []) if (t.name) values.add(t.name);
  for (const s of g.sparseInitializer ?? []) if (s.values?.name) values.add(s.values.name);
  for (const n of g.node ?? []) {
    for (const x of [...(n.input ?? []), ...(n.output ?? [])]) if (x) values.add(x);
    if (n.name) nodes.add(n.name);
    for (const a of n.attribute ?? []) {
      if (a.g) collectNames(a.g, values, nodes);
      for (const sg of a.graphs ?? []) collectNames(sg, values, nodes);
    }
  }
}

function shapeOf(v: onnx.IValueInfoProto): (number | string | null)[] | null {
  const dims = v.type?.tensorType?.shape?.dim;
  if (!dims) return null;
  return dims.map((d) => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? toNum(d.dimValue) : null));
}

function sig(v: onnx.IValueInfoProto): TensorSig {
  const code = v.type?.tensorType?.elemType ?? 0;
  return { name: v.name ?? '', dtype: code ? codeName(code) : 'unknown', shape: shapeOf(v) };
}

/** The loss's pred shape for the network output's shape, checked against the task (the target's follows from it, `ioShapes`). */
function predShapeFor(o: FocalOptions, dims: readonly (number | string | null)[], where: string, fixed: RowSource | undefined, label: Label): Shape {
  const problem = predShapeProblem(o, dims, label);
  if (problem) throw new UsageError(`${where} has shape ${shapeText(dims)}; ${problem}`);
  // Unknown dimensions get symbols of their own (the builder needs a number or a symbol).
  const pred: (number | string)[] = dims.map((d, k) => (d === null ? `${COLLISION_PREFIX}dim${k}` : d));
  const last = labelAxisOf(o, pred.length);
  if (fixed !== undefined && last !== undefined) {
    if (typeof pred[last] === 'number' && pred[last] !== fixed.count) {
      throw new UsageError(`${fixed.text}, but ${where} has ${pred[last]} ${o.task === 'multilabel' ? 'labels' : 'classes'} (shape ${shapeText(dims)})`);
    }
    pred[last] = fixed.count;
  }
  return pred;
}

/** Builds the model of the network in `networkBytes` with the focal loss on `options.output`; see the top of this file. */
export function attachLoss(networkBytes: Uint8Array, options: AttachOptions, context: AttachContext = {}): AttachedModel {
  const source = context.source ?? 'the network';
  const label = context.label ?? plain;
  const outputLabel = context.outputLabel ?? 'output';
  const { output, ...loss } = options;
  if (typeof output !== 'string' || output === '') throw new UsageError(`${outputLabel} must name an output of ${source}, got ${String(output)}`);

  let net: onnx.ModelProto;
  try {
    net = decodeModelProto(networkBytes);
  } catch (e) {
    if (e instanceof ModelFormatError) throw new UsageError(`${source}: ${e.message}`);
    throw e;
  }
  const g = net.graph as onnx.IGraphProto;
  const opset = defaultOpset(net);
  if (opset === undefined) throw new UsageError(`${source}: imports no opset of the default ONNX domain`);
  if (opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new UsageError(
      `${source}: uses opset ${opset}; attach supports networks of opset ${MIN_OPSET}–${MAX_OPSET} (the loss is built at the network's opset)` +
        (opset < MIN_OPSET ? `: re-export it at opset ${MIN_OPSET} or newer` : ''),
    );
  }
  if (loss.opset !== undefined && loss.opset !== opset) {
    throw new UsageError(`${label('opset')} ${loss.opset} does not match ${source}, which uses opset ${opset}; drop ${label('opset')} (the loss is built at the network's opset)`);
  }

  const out = (g.output ?? []).find((o) => o.name === output);
  if (!out) {
    const names = (g.output ?? []).map((o) => quote(o.name ?? '')).join(', ');
    throw new UsageError(`${outputLabel} ${quote(output)} is not an output of ${source}; its outputs: ${names || 'none'}`);
  }
  const where = `${source}: output ${quote(output)}`;
  const code = out.type?.tensorType?.elemType ?? 0;
  const dtype = dtypeFromCode(code);
  if (dtype !== 'float16' && dtype !== 'float32' && dtype !== 'float64') {
    throw new UsageError(`${where} holds ${code ? codeName(code) : 'no tensor type'}; the loss needs float16, float32 or float64 predictions`);
  }
  if (loss.dtype !== undefined && loss.dtype !== dtype) {
    throw new UsageError(`${label('dtype')} ${loss.dtype} does not match ${where}, which holds ${dtype}; drop ${label('dtype')} (the network decides)`);
  }
  const dims = shapeOf(out);
  if (!dims) throw new UsageError(`${where} has no shape; the loss needs at least its rank`);

  const o = normalizeOptions({ ...loss, dtype: dtype as DType as FocalOptions['dtype'], opset }, label);
  // perImage (or the evaluator's per-image losses, imageScaled): the images on the output's first axis, whole.
  const imageRule = context.extras?.imageScaled && !o.perImage ? predShapeProblem({ ...o, perImage: true }, dims, label) : undefined;
  if (imageRule) throw new UsageError(`${where} has shape ${shapeText(dims)}; ${imageRule}`);
  const extras: BuildExtras = { predShape: predShapeFor(o, dims, where, rowSource(o, label), label), ...(context.extras ?? {}) };
  const lm = buildLoss(o, extras);
  return merge(net, lm.model, output, o, opset, source, label);
}

function merge(net: onnx.ModelProto, lossModel: onnx.IModelProto, output: string, o: FocalOptions, opset: number, source: string, label: Label): AttachedModel {
  const g = net.graph as onnx.IGraphProto;
  const lg = lossModel.graph as onnx.IGraphProto;
  const taken = new Set<string>();
  const takenNodes = new Set<string>();
  collectNames(g, taken, takenNodes);
  for (const f of net.functions ?? []) if (f.name) takenNodes.add(`${f.domain ?? ''}.${f.name}`);

  // The loss's names: its pred input becomes the output; the rest keep their names unless taken.
  const own = new Set<string>();
  const ownNodes = new Set<string>();
  collectNames(lg, own, ownNodes);
  const renames = new Map<string, string>([['pred', output]]);
  const fresh = (name: string, used: Set<string>, mine: Set<string>): string => {
    if (!used.has(name)) return name;
    let n = `${COLLISION_PREFIX}${name}`;
    while (used.has(n) || mine.has(n)) n = `${COLLISION_PREFIX}${n}`;
    return n;
  };
  for (const name of own) {
    if (name === 'pred') continue;
    const n = fresh(name, taken, own);
    renames.set(name, n);
    taken.add(n);
  }
  const rn = (name: string): string => (name === '' ? '' : (renames.get(name) ?? name));
  const nodeNames = new Map<string, string>();
  for (const name of ownNodes) {
    const n = fresh(name, takenNodes, ownNodes);
    nodeNames.set(name, n);
    takenNodes.add(n);
  }

  for (const f of lossModel.functions ?? []) {
    if ((net.functions ?? []).some((nf) => nf.domain === f.domain && nf.name === f.name && (nf as { overload?: string }).overload === undefined)) {
      throw new UsageError(`${source}: already defines the function ${f.domain}.${f.name}; attach the loss without ${label('asFunction')}`);
    }
  }
  const opsetImport = [...(net.opsetImport ?? [])];
  for (const imp of lossModel.opsetImport ?? []) {
    if (!imp.domain) continue;
    const have = opsetImport.find((x) => x.domain === imp.domain);
    if (have && toNum(have.version) !== toNum(imp.version)) {
      throw new UsageError(`${source}: imports domain ${imp.domain} at version ${toNum(have.version)}, the loss's function needs version ${toNum(imp.version)}`);
    }
    if (!have) opsetImport.push(imp);
  }

  const lossNodes = (lg.node ?? []).map((n) => ({
    ...n,
    name: n.name ? (nodeNames.get(n.name) ?? n.name) : n.name,
    input: (n.input ?? []).map(rn),
    output: (n.output ?? []).map(rn),
  }));
  const lossInputs = (lg.input ?? []).filter((v) => v.name !== 'pred').map((v) => ({ ...v, name: rn(v.name ?? '') }));
  const lossOutputs = (lg.output ?? []).map((v) => ({ ...v, name: rn(v.name ?? '') }));

  const meta = new Map<string, string>();
  for (const p of net.metadataProps ?? []) meta.set(p.key ?? '', p.value ?? '');
  for (const p of lossModel.metadataProps ?? []) meta.set(p.key ?? '', p.value ?? '');
  meta.set('focal.output', output);
  // The network's own entries keep their order; ours follow, sorted (deterministic).
  const netKeys = (net.metadataProps ?? []).map((p) => p.key ?? '');
  const ours = [...meta.keys()].filter((k) => !netKeys.includes(k)).sort();
  const metadataProps = [...netKeys, ...ours].map((key) => ({ key, value: meta.get(key) as string }));

  const irVersion = Math.max(toNum(net.irVersion), toNum(lossModel.irVersion));
  const model: onnx.IModelProto = {
    ...net,
    irVersion,
    opsetImport,
    metadataProps,
    graph: {
      ...g,
      node: [...(g.node ?? []), ...lossNodes],
      input: [...(g.input ?? []), ...lossInputs],
      output: [...(g.output ?? []), ...lossOutputs],
    },
    functions: [...(net.functions ?? []), ...(lossModel.functions ?? [])],
  };
  const names: Record<string, string> = {};
  for (const v of [...(lg.input ?? []), ...(lg.output ?? [])]) if (v.name && v.name !== 'pred') names[v.name] = rn(v.name);
  const graph = model.graph as onnx.IGraphProto;
  return {
    options: o,
    output,
    model,
    bytes: serializeModel(model),
    names,
    inputs: (graph.input ?? []).map(sig),
    outputs: (graph.output ?? []).map(sig),
    irVersion,
    opset,
  };
}
