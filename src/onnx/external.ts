/**
 * External data: tensors whose bytes lie in a side file (`data_location = EXTERNAL`, with
 * `location`, `offset` and `length` in `external_data`), as torch's dynamo exporter and
 * `onnx.save_model(..., save_as_external_data=True)` write them. The location is relative to the
 * model file's folder. Here only the references, found and rewritten in a decoded model; reading
 * and checking the files is io/external-data.ts's.
 */
import type { onnx } from 'onnx-proto';

/** TensorProto.DataLocation.EXTERNAL. */
const EXTERNAL = 1;

/** One tensor stored in a side file. */
export interface ExternalTensor {
  /** The tensor's name ('' for an unnamed attribute tensor). */
  readonly name: string;
  /** The side file, relative to the model's folder, as the model writes it. */
  readonly location: string;
  /** Where its bytes start in the file, and how many (undefined: to the end of the file). */
  readonly offset: number;
  readonly length: number | undefined;
}

/** Every TensorProto of the model: initializers, sparse ones, node attributes (subgraphs and functions too). */
function* tensorsOf(model: onnx.IModelProto): Generator<onnx.ITensorProto> {
  function* graph(g: onnx.IGraphProto | null | undefined): Generator<onnx.ITensorProto> {
    if (!g) return;
    yield* g.initializer ?? [];
    for (const s of g.sparseInitializer ?? []) {
      if (s.values) yield s.values;
      if (s.indices) yield s.indices;
    }
    for (const n of g.node ?? []) yield* nodes([n]);
  }
  function* nodes(list: readonly onnx.INodeProto[]): Generator<onnx.ITensorProto> {
    for (const n of list) {
      for (const a of n.attribute ?? []) {
        if (a.t) yield a.t;
        yield* a.tensors ?? [];
        if (a.sparseTensor?.values) yield a.sparseTensor.values;
        yield* graph(a.g);
        for (const sub of a.graphs ?? []) yield* graph(sub);
      }
    }
  }
  yield* graph(model.graph);
  for (const f of model.functions ?? []) yield* nodes(f.node ?? []);
}

/** The external-data entry `key` of a tensor. */
function entry(t: onnx.ITensorProto, key: string): string | undefined {
  return (t.externalData ?? []).find((e) => e.key === key)?.value ?? undefined;
}

function refOf(t: onnx.ITensorProto): ExternalTensor {
  const length = entry(t, 'length');
  return { name: t.name ?? '', location: entry(t, 'location') ?? '', offset: Number(entry(t, 'offset') ?? 0), length: length === undefined ? undefined : Number(length) };
}

/** The tensors of `model` whose data lies in a side file, in the model's order. */
export function externalTensors(model: onnx.IModelProto): ExternalTensor[] {
  const out: ExternalTensor[] = [];
  for (const t of tensorsOf(model)) if (t.dataLocation === EXTERNAL) out.push(refOf(t));
  return out;
}

/** Where a tensor's bytes now are: inline (`rawData`), or in a side file at `location`. */
export type ExternalPlacement = { readonly rawData: Uint8Array } | { readonly location: string; readonly offset: number; readonly length: number };

/**
 * Rewrites, in place, every external tensor of `model` to where `place` puts it (called once per
 * tensor, in the order of `externalTensors`). A tensor made inline loses its external entries.
 */
export function relocateExternalData(model: onnx.IModelProto, place: (t: ExternalTensor, index: number) => ExternalPlacement): void {
  let i = 0;
  for (const t of tensorsOf(model)) {
    if (t.dataLocation !== EXTERNAL) continue;
    const p = place(refOf(t), i++);
    if ('rawData' in p) {
      t.rawData = p.rawData;
      t.dataLocation = 0;
      t.externalData = [];
    } else {
      // Keeps other entries (a checksum) as they are; location, offset and length are the new ones.
      const rest = (t.externalData ?? []).filter((e) => e.key !== 'location' && e.key !== 'offset' && e.key !== 'length');
      t.externalData = [
        { key: 'location', value: p.location },
        { key: 'offset', value: String(p.offset) },
        { key: 'length', value: String(p.length) },
        ...rest,
      ];
    }
  }
}

