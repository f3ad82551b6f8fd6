/**
 * Models and model-local functions: building `ModelProto`s from graphs, serializing them to bytes
 * (deterministically: the same build gives the same bytes), and decoding bytes back into a
 * readable structure.
 *
 * A model-local function is ONNX's own way to ship a custom op that every runtime can run: a node
 * of a custom domain (e.g. `ai.focal`) whose definition travels in `ModelProto.functions`, with a
 * body of standard ops that refers to the node's attributes through `ref_attr_name`. A runtime that
 * knows the op may run its own kernel; any other inlines the body.
 */
import type { onnx } from 'onnx-proto';
import { DType, DTYPES, codeName, dtypeFromCode } from './dtype';
import { Attr, Dim, Graph, Shape, Value } from './graph';
import { ExternalTensor, externalTensors } from './external';
import { FUNCTIONS_MIN_IR, checkOpset, irVersionFor } from './opset';
import { AttributeType, decodeModelBytes, encodeModelProto } from './proto';
import { shapeString } from './shape';

export const PRODUCER_NAME = 'focal-onnx';

// ---- functions ----------------------------------------------------------------------------------

export interface FunctionInput {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
}

export interface FunctionSpec {
  readonly domain: string;
  readonly name: string;
  /** Default-domain opset the body uses (13–21); a model calling the function must use the same. */
  readonly opset: number;
  /** Version of the custom domain (default 1). */
  readonly domainVersion?: number;
  readonly inputs: readonly FunctionInput[];
  /** Attribute names the body refers to; a call must give each of them. */
  readonly attributes: readonly string[];
  readonly docString?: string;
  /** Builds the body from the typed inputs; returns the outputs in order, by name. */
  readonly body: (g: Graph, inputs: Value[]) => ReadonlyArray<readonly [string, Value]>;
}

/** A function defined once and called from model graphs as a single node. */
export class FunctionDef {
  readonly domain: string;
  readonly name: string;
  readonly opset: number;
  readonly domainVersion: number;
  readonly inputs: readonly FunctionInput[];
  readonly attributes: readonly string[];
  readonly outputs: readonly { name: string; dtype: DType; shape: Shape }[];
  private readonly body: Graph;
  private readonly docString?: string;

  constructor(spec: FunctionSpec) {
    if (!spec.domain) throw new TypeError(`function '${spec.name}': a custom domain is required (e.g. 'ai.example')`);
    this.domain = spec.domain;
    this.name = spec.name;
    this.opset = checkOpset(spec.opset, `function '${spec.name}': opset`);
    this.domainVersion = spec.domainVersion ?? 1;
    this.inputs = spec.inputs;
    this.attributes = [...spec.attributes];
    this.docString = spec.docString;
    this.body = new Graph({ opset: spec.opset, kind: 'function', name: spec.name });
    const ins = spec.inputs.map((i) => this.body.input(i.name, i.dtype, i.shape));
    const outs = spec.body(this.body, ins);
    for (const [name, v] of outs) this.body.output(v, name);
    this.outputs = this.body.outputs.map((o) => ({ name: o.name, dtype: o.dtype, shape: o.shape }));
    this.checkAttributeRefs();
    // toProto imports only the default domain and buildModel carries only functions the model graph
    // calls, so a nested call would serialize into a model no runtime loads; ORT also mishandles
    // nested functions (#10250, #12506). Bodies stay flat.
    const nested = [...this.body.customDomains.keys()];
    if (nested.length) {
      throw new TypeError(`function '${spec.name}': the body calls ops of domain '${nested.join("', '")}'; nested functions are not supported`);
    }
  }

  /** Emits one node of this function into `g`, checking the inputs against the declared types. */
  call(g: Graph, inputs: readonly Value[], attrs: Readonly<Record<string, Attr>>): Value[] {
    const op = `${this.domain}.${this.name}`;
    if (g.opset !== this.opset) {
      throw new RangeError(`${op}: the function's body uses opset ${this.opset} but the graph uses opset ${g.opset}`);
    }
    if (inputs.length !== this.inputs.length) {
      throw new RangeError(`${op}: takes ${this.inputs.length} inputs, got ${inputs.length}`);
    }
    const symbols = new Map<string, Dim>();
    inputs.forEach((v, i) => {
      const decl = this.inputs[i];
      g.own(op, decl.name, v);
      if (v.dtype !== decl.dtype) {
        throw new TypeError(`${op}: input ${decl.name} has element type ${v.dtype}; expected ${decl.dtype}`);
      }
      if (v.rank !== decl.shape.length) {
        throw new RangeError(`${op}: input ${decl.name} has shape ${shapeString(v.shape)}; expected ${shapeString(decl.shape)}`);
      }
      decl.shape.forEach((d, k) => {
        const actual = v.shape[k];
        if (typeof d === 'number') {
          if (d !== actual) {
            throw new RangeError(`${op}: input ${decl.name} has shape ${shapeString(v.shape)}; expected ${shapeString(decl.shape)}`);
          }
        } else {
          const bound = symbols.get(d);
          if (bound !== undefined && bound !== actual) {
            throw new RangeError(`${op}: input ${decl.name} dimension ${k} is ${actual} but ${d} is ${bound} elsewhere`);
          }
          symbols.set(d, actual);
        }
      });
    });
    for (const name of Object.keys(attrs)) {
      if (!this.attributes.includes(name)) {
        throw new RangeError(`${op}: unknown attribute '${name}'; expected ${this.attributes.join(', ') || 'none'}`);
      }
    }
    for (const name of this.attributes) {
      if (!(name in attrs)) throw new RangeError(`${op}: attribute '${name}' is required`);
    }
    g.useDomain(this.domain, this.domainVersion);
    const outTypes = this.outputs.map((o) => ({
      dtype: o.dtype,
      shape: o.shape.map((d) => (typeof d === 'string' && symbols.has(d) ? (symbols.get(d) as Dim) : d)),
    }));
    return g.addNode(this.name, inputs, attrs, outTypes, this.domain);
  }

  toProto(): onnx.IFunctionProto {
    const proto: onnx.IFunctionProto = {
      name: this.name,
      domain: this.domain,
      input: this.body.inputs.map((v) => v.name),
      output: this.body.outputs.map((v) => v.name),
      attribute: [...this.attributes],
      node: this.body.toNodeProtos(),
      opsetImport: [{ domain: '', version: this.opset }],
    };
    if (this.docString) proto.docString = this.docString;
    return proto;
  }

  private checkAttributeRefs(): void {
    for (const node of this.body.nodes) {
      for (const a of Object.values(node.attrs)) {
        if (a.kind === 'ref' && !this.attributes.includes(a.ref)) {
          throw new RangeError(
            `function '${this.name}': the body refers to attribute '${a.ref}', which is not declared (declared: ${this.attributes.join(', ') || 'none'})`,
          );
        }
      }
    }
  }
}

// ---- models -------------------------------------------------------------------------------------

export interface ModelOptions {
  readonly docString?: string;
  /** Written as `metadata_props`, sorted by key. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Functions the graph calls (each must be called from the graph at least once). */
  readonly functions?: readonly FunctionDef[];
  readonly producerVersion?: string;
  readonly modelVersion?: number;
}

function valueInfo(v: Value): onnx.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: DTYPES[v.dtype].code,
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** The model around `graph`, stamped with the lowest IR version its opset (and functions) need. */
export function buildModel(graph: Graph, options: ModelOptions = {}): onnx.IModelProto {
  if (graph.kind !== 'model') throw new TypeError('buildModel: the graph is a function body, not a model graph');
  if (graph.outputs.length === 0) throw new RangeError('buildModel: the graph has no outputs');
  const functions = options.functions ?? [];
  for (const [domain] of graph.customDomains) {
    if (!functions.some((f) => f.domain === domain)) {
      throw new RangeError(`buildModel: the graph calls domain '${domain}' but no function of it is given`);
    }
  }
  for (const f of functions) {
    if (!graph.customDomains.has(f.domain)) {
      throw new RangeError(`buildModel: function ${f.domain}.${f.name} is given but the graph never calls it`);
    }
  }
  const ir = Math.max(irVersionFor(graph.opset), functions.length ? FUNCTIONS_MIN_IR : 0);
  const opsetImport: onnx.IOperatorSetIdProto[] = [{ domain: '', version: graph.opset }];
  for (const [domain, version] of [...graph.customDomains].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    opsetImport.push({ domain, version });
  }
  const model: onnx.IModelProto = {
    irVersion: ir,
    opsetImport,
    producerName: PRODUCER_NAME,
    producerVersion: options.producerVersion ?? '',
    graph: {
      name: graph.name,
      node: graph.toNodeProtos(),
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
    },
  };
  if (options.docString) model.docString = options.docString;
  if (options.modelVersion !== undefined) model.modelVersion = options.modelVersion;
  const meta = options.metadata ?? {};
  const keys = Object.keys(meta).sort();
  if (keys.length) model.metadataProps = keys.map((key) => ({ key, value: meta[key] }));
  if (functions.length) model.functions = functions.map((f) => f.toProto());
  return model;
}

/** Protobuf bytes of a model, with the ONNX 1.23 schema (proto.ts): fields the builder does not make pass through. */
export function serializeModel(model: onnx.IModelProto): Uint8Array {
  return encodeModelProto(model);
}

// ---- decoding -----------------------------------------------------------------------------------

/** The bytes are not a well-formed ONNX model (a user's file, not our bug). */
export class ModelFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFormatError';
  }
}

/**
 * Decodes protobuf bytes into a ModelProto with the ONNX 1.23 schema (proto.ts: nothing a newer
 * exporter writes is lost), refusing bytes that are not a model.
 */
export function decodeModelProto(bytes: Uint8Array): onnx.ModelProto {
  let model: onnx.ModelProto;
  try {
    model = decodeModelBytes(bytes);
  } catch (e) {
    throw new ModelFormatError(`not an ONNX model: ${(e as Error).message}`);
  }
  if (!model.graph) throw new ModelFormatError('not an ONNX model: no graph');
  if (!(toNum(model.irVersion) > 0)) throw new ModelFormatError('not an ONNX model: no IR version');
  return model;
}

export interface TensorInfo {
  readonly name: string;
  /** Element type name (`float32`, `int64`, …), or `unknown`. */
  readonly dtype: string;
  /** Dimensions: numbers, symbols, or null where unknown; null when the shape is absent. */
  readonly shape: (number | string | null)[] | null;
}

export type AttrInfo = number | string | number[] | string[] | { ref: string } | { tensor: TensorSummary } | null;

export interface TensorSummary {
  readonly dtype: string;
  readonly dims: number[];
  /** Values for small tensors with raw or typed data (at most 16 elements). */
  readonly values?: number[];
}

export interface NodeInfo {
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  readonly inputs: string[];
  readonly outputs: string[];
  readonly attributes: Record<string, AttrInfo>;
}

export interface FunctionInfo {
  readonly domain: string;
  readonly name: string;
  readonly inputs: string[];
  readonly outputs: string[];
  readonly attributes: string[];
  readonly opsets: Record<string, number>;
  readonly nodes: NodeInfo[];
}

export interface ModelInfo {
  readonly irVersion: number;
  /** Opset per domain ('' is the default ONNX domain). */
  readonly opsets: Record<string, number>;
  readonly producer: string;
  readonly docString: string;
  readonly metadata: Record<string, string>;
  readonly graph: {
    readonly name: string;
    readonly inputs: TensorInfo[];
    readonly outputs: TensorInfo[];
    readonly initializers: TensorInfo[];
    readonly nodes: NodeInfo[];
  };
  readonly functions: FunctionInfo[];
  /** The tensors whose bytes lie in a side file (external data), relative to the model's folder. */
  readonly externalData: ExternalTensor[];
}

function toNum(x: unknown): number {
  if (typeof x === 'number') return x;
  if (x && typeof (x as { toNumber?: unknown }).toNumber === 'function') return (x as { toNumber(): number }).toNumber();
  return Number(x ?? 0);
}

function tensorInfo(v: onnx.IValueInfoProto): TensorInfo {
  const tt = v.type?.tensorType;
  const dims = tt?.shape?.dim;
  return {
    name: v.name ?? '',
    dtype: tt?.elemType ? codeName(tt.elemType) : 'unknown',
    shape: dims ? dims.map((d) => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? toNum(d.dimValue) : null)) : null,
  };
}

function summarizeTensor(t: onnx.ITensorProto): TensorSummary {
  const dims = (t.dims ?? []).map(toNum);
  const dtype = dtypeFromCode(t.dataType ?? 0);
  const count = dims.reduce((a, b) => a * b, 1);
  const summary: { dtype: string; dims: number[]; values?: number[] } = { dtype: codeName(t.dataType ?? 0), dims };
  if (count <= 16) {
    if (dtype && t.rawData && t.rawData.length === count * DTYPES[dtype].bytes) {
      summary.values = decodeRaw(dtype, t.rawData, count);
    } else if (t.floatData?.length) summary.values = [...t.floatData];
    else if (t.doubleData?.length) summary.values = [...t.doubleData];
    else if (t.int64Data?.length) summary.values = t.int64Data.map(toNum);
    else if (t.int32Data?.length) summary.values = [...t.int32Data];
  }
  return summary;
}

function decodeRaw(dtype: DType, raw: Uint8Array, count: number): number[] {
  const b = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    switch (dtype) {
      case 'float16': {
        const h = b.readUInt16LE(i * 2);
        const s = h & 0x8000 ? -1 : 1;
        const e = (h >> 10) & 0x1f;
        const m = h & 0x3ff;
        out.push(e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15));
        break;
      }
      case 'float32':
        out.push(b.readFloatLE(i * 4));
        break;
      case 'float64':
        out.push(b.readDoubleLE(i * 8));
        break;
      case 'int8':
        out.push(b.readInt8(i));
        break;
      case 'int32':
        out.push(b.readInt32LE(i * 4));
        break;
      case 'int64':
        out.push(Number(b.readBigInt64LE(i * 8)));
        break;
      case 'uint8':
      case 'bool':
        out.push(b.readUInt8(i));
        break;
    }
  }
  return out;
}

function attrInfo(a: onnx.IAttributeProto): AttrInfo {
  if (a.refAttrName) return { ref: a.refAttrName };
  const T = AttributeType;
  switch (a.type) {
    case T.FLOAT:
      return a.f ?? 0;
    case T.INT:
      return toNum(a.i);
    case T.STRING:
      return Buffer.from(a.s ?? new Uint8Array()).toString('utf8');
    case T.TENSOR:
      return a.t ? { tensor: summarizeTensor(a.t) } : null;
    case T.FLOATS:
      return [...(a.floats ?? [])];
    case T.INTS:
      return (a.ints ?? []).map(toNum);
    case T.STRINGS:
      return (a.strings ?? []).map((s) => Buffer.from(s).toString('utf8'));
    default:
      return null;
  }
}

function nodeInfo(n: onnx.INodeProto): NodeInfo {
  const attributes: Record<string, AttrInfo> = {};
  for (const a of n.attribute ?? []) attributes[a.name ?? ''] = attrInfo(a);
  return {
    name: n.name ?? '',
    opType: n.opType ?? '',
    domain: n.domain ?? '',
    inputs: [...(n.input ?? [])],
    outputs: [...(n.output ?? [])],
    attributes,
  };
}

function opsetMap(list: onnx.IOperatorSetIdProto[] | null | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of list ?? []) out[o.domain ?? ''] = toNum(o.version);
  return out;
}

/** Decodes model bytes into a readable structure (for `inspect`, tests and placement checks). */
export function decodeModel(bytes: Uint8Array): ModelInfo {
  const m = decodeModelProto(bytes);
  const g = m.graph as onnx.IGraphProto;
  const metadata: Record<string, string> = {};
  for (const p of m.metadataProps ?? []) metadata[p.key ?? ''] = p.value ?? '';
  return {
    irVersion: toNum(m.irVersion),
    opsets: opsetMap(m.opsetImport),
    producer: [m.producerName, m.producerVersion].filter(Boolean).join(' '),
    docString: m.docString ?? '',
    metadata,
    graph: {
      name: g.name ?? '',
      inputs: (g.input ?? []).map(tensorInfo),
      outputs: (g.output ?? []).map(tensorInfo),
      initializers: (g.initializer ?? []).map((t) => ({
        name: t.name ?? '',
        dtype: codeName(t.dataType ?? 0),
        shape: (t.dims ?? []).map(toNum),
      })),
      nodes: (g.node ?? []).map(nodeInfo),
    },
    functions: (m.functions ?? []).map((f) => ({
      domain: f.domain ?? '',
      name: f.name ?? '',
      inputs: [...(f.input ?? [])],
      outputs: [...(f.output ?? [])],
      attributes: [...(f.attribute ?? [])],
      opsets: opsetMap(f.opsetImport),
      nodes: (f.node ?? []).map(nodeInfo),
    })),
    externalData: externalTensors(m),
  };
}
