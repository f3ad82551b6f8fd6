/**
 * Building test models: `finishModel` builds, serializes and records (see record-model.ts) a graph,
 * and `nodeProducing` / `constantValues` read a decoded model's nodes.
 */
import { Graph, ModelInfo, ModelOptions, NodeInfo, buildModel, serializeModel } from '../../src/onnx';
import { recordModel } from './record-model';

/** The model's bytes; recorded under `name` for the CI's ONNX checker. */
export function finishModel(name: string, g: Graph, options: ModelOptions = {}): Uint8Array {
  const bytes = serializeModel(buildModel(g, options));
  recordModel(`${name}-opset${g.opset}`, bytes);
  return bytes;
}

/** The node (of `nodes`) that produces the value named `output`. */
export function nodeProducing(nodes: readonly NodeInfo[], output: string): NodeInfo {
  const node = nodes.find((n) => n.outputs.includes(output));
  if (!node) throw new Error(`no node produces '${output}'`);
  return node;
}

/** The nodes of the main graph with op type `opType`. */
export function nodesOf(model: ModelInfo, opType: string): NodeInfo[] {
  return model.graph.nodes.filter((n) => n.opType === opType);
}

/** The dtype and values of the Constant node producing `name` (as `decodeModel` summarizes it). */
export function constantValues(nodes: readonly NodeInfo[], name: string): { dtype: string; dims: number[]; values?: number[] } {
  const node = nodeProducing(nodes, name);
  if (node.opType !== 'Constant') throw new Error(`'${name}' comes from ${node.opType}, not Constant`);
  const v = node.attributes.value;
  if (!v || typeof v !== 'object' || !('tensor' in v)) throw new Error(`Constant '${name}' has no tensor value`);
  return v.tensor;
}
