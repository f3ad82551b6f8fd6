/**
 * The project's own checks on a built model, as one function the properties call on every model
 * they build: it decodes, its structure is sound (SSA names, nodes in topological order, only the
 * default and `ai.focal` domains), its signature is what `ioShapes` promises, its metadata reads
 * back as the same options, and its bytes are deterministic and survive decode → serialize.
 */
import { onnx } from 'onnx-proto';
import { BuildExtras, FOCAL_DOMAIN, FUNCTION_NAMES, LossModel, buildLoss, elementShape, ioShapes, normalizeOptions, optionsFromMetadata } from '../../src/losses';
import { NodeInfo, decodeModel, decodeModelProto, irVersionFor, serializeModel } from '../../src/onnx';

function checkNodes(nodes: readonly NodeInfo[], available: Set<string>, where: string, domains: readonly string[]): void {
  for (const n of nodes) {
    if (!domains.includes(n.domain)) throw new Error(`${where}: node ${n.opType} in unexpected domain '${n.domain}'`);
    for (const i of n.inputs) {
      if (i !== '' && !available.has(i)) throw new Error(`${where}: node ${n.name || n.opType} reads '${i}' before it is defined`);
    }
    for (const o of n.outputs) {
      if (available.has(o)) throw new Error(`${where}: '${o}' is defined twice`);
      available.add(o);
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

/** Throws, describing the first problem, unless `m` passes every check. */
export function checkModel(m: LossModel, extras: BuildExtras = {}): void {
  const o = m.options;
  const info = decodeModel(m.bytes);

  // Opsets, IR version, functions.
  if (info.opsets[''] !== o.opset) throw new Error(`default opset ${info.opsets['']}, expected ${o.opset}`);
  const minIr = o.asFunction ? Math.max(8, irVersionFor(o.opset)) : irVersionFor(o.opset);
  if (info.irVersion !== minIr) throw new Error(`IR version ${info.irVersion}, expected ${minIr}`);
  if (o.asFunction) {
    if (info.functions.length !== 1) throw new Error(`${info.functions.length} functions, expected 1`);
    const f = info.functions[0];
    if (f.domain !== FOCAL_DOMAIN || f.name !== FUNCTION_NAMES[o.task]) throw new Error(`function ${f.domain}.${f.name}`);
    if (info.opsets[FOCAL_DOMAIN] === undefined) throw new Error(`no opset import for ${FOCAL_DOMAIN}`);
    checkNodes(f.nodes, new Set(f.inputs), 'function body', ['']);
    for (const out of f.outputs) if (!f.nodes.some((n) => n.outputs.includes(out))) throw new Error(`function output ${out} is never produced`);
    if (info.graph.nodes.length !== 1 || info.graph.nodes[0].domain !== FOCAL_DOMAIN) throw new Error('the graph is not one ai.focal node');
  } else if (info.functions.length !== 0 || info.opsets[FOCAL_DOMAIN] !== undefined) {
    throw new Error('a flat model carries functions or the ai.focal domain');
  }

  // Structure of the main graph.
  const available = new Set([...info.graph.inputs.map((i) => i.name), ...info.graph.initializers.map((i) => i.name)]);
  checkNodes(info.graph.nodes, available, 'graph', ['', FOCAL_DOMAIN]);
  for (const out of info.graph.outputs) if (!available.has(out.name)) throw new Error(`graph output ${out.name} is never produced`);

  // Signature.
  const shapes = ioShapes(o, extras.predShape);
  const expectIO = (got: { name: string; dtype: string; shape: unknown }, name: string, dtype: string, shape?: readonly unknown[]): void => {
    if (got.name !== name || got.dtype !== dtype || (shape && JSON.stringify(got.shape) !== JSON.stringify(shape))) {
      throw new Error(`${name}: got ${JSON.stringify(got)}, expected ${dtype}${shape ? JSON.stringify(shape) : ''}`);
    }
  };
  if (info.graph.inputs.length !== (shapes.weight ? 3 : 2)) throw new Error(`${info.graph.inputs.length} graph inputs`);
  if (shapes.weight) expectIO(info.graph.inputs[2], 'weight', o.dtype, shapes.weight);
  expectIO(info.graph.inputs[0], 'pred', o.dtype, shapes.pred);
  expectIO(info.graph.inputs[1], 'target', o.targetDtype, shapes.target);
  const lossShape = o.reduction === 'none' ? elementShape(o, shapes.pred) : [];
  const outNames = ['loss', ...(extras.perLabel ? ['loss_per_label'] : []), ...(o.withGrad ? ['grad'] : [])];
  if (JSON.stringify(info.graph.outputs.map((x) => x.name)) !== JSON.stringify(outNames)) {
    throw new Error(`outputs ${info.graph.outputs.map((x) => x.name).join(', ')}, expected ${outNames.join(', ')}`);
  }
  expectIO(info.graph.outputs[0], 'loss', o.dtype, lossShape);

  // Options: normalized options are a fixed point, and the metadata reads back as the same options.
  if (JSON.stringify(normalizeOptions(o)) !== JSON.stringify(o)) throw new Error('normalizeOptions is not idempotent');
  const back = optionsFromMetadata(info.metadata, info.opsets['']);
  if (JSON.stringify(back) !== JSON.stringify(o)) throw new Error(`metadata reads back as ${JSON.stringify(back)}, built from ${JSON.stringify(o)}`);

  // Bytes: deterministic, and decode → serialize is the identity.
  if (!sameBytes(buildLoss(o, extras).bytes, m.bytes)) throw new Error('building the same options twice gave different bytes');
  const decoded = decodeModelProto(m.bytes);
  if (!sameBytes(serializeModel(decoded), m.bytes)) throw new Error('decode → serialize changed the bytes');
  if (!sameBytes(onnx.ModelProto.encode(decoded).finish(), m.bytes)) throw new Error('decode → encode changed the bytes');
}
