/**
 * The graph builder: typed value handles, nodes checked as they are added, shared typed constants.
 *
 * A `Graph` is either the main graph of a model (`kind: 'model'`) or the body of a model-local
 * function (`kind: 'function'`). Values are handles carrying an element type and a shape whose
 * dimensions are numbers or symbols (`'N'`, `'L'`, `'C'`); the emitters in `ops.ts` check their
 * inputs against the operator's type constraints and infer the output type and shape, so a mistake
 * throws where it is made, naming the op and the input.
 *
 * Names: inputs are named when declared; intermediate values get generated names; `output()` gives
 * a value its final name. The same sequence of calls gives the same names, so serialization is
 * deterministic.
 */
import type { onnx } from 'onnx-proto';
import { AttributeType } from './proto';
import { DType, DTYPES, NUMERIC_DTYPES, isFloat } from './dtype';
import { checkOpset } from './opset';
import { f32ToF16Bits } from '../io/float16';

export type Dim = number | string;
export type Shape = readonly Dim[];

/** A typed handle to a value in one graph. Create through `Graph` and the emitters, never directly. */
export class Value {
  /** @internal */
  constructor(
    readonly graph: Graph,
    private currentName: string,
    readonly dtype: DType,
    readonly shape: Shape,
    /**
     * Element values known when building, for shape inference: the numbers of a constant, or the
     * dimensions (numbers or symbols) that a Shape node and a Gather of it produce.
     */
    readonly known?: readonly Dim[],
  ) {}

  get name(): string {
    return this.currentName;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** @internal Only `Graph.output` renames, before anything is serialized. */
  rename(name: string): void {
    this.currentName = name;
  }

  toString(): string {
    return `'${this.name}' (${this.dtype}[${this.shape.join(', ')}])`;
  }
}

/** An operand of an emitter: a value of the graph or a number literal (a constant of the matching type). */
export type Operand = Value | number;

/** Node attributes, tagged with their ONNX attribute type. */
export type Attr =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'ints'; readonly value: readonly number[] }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'tensor'; readonly value: onnx.ITensorProto }
  /** A reference to an attribute of the enclosing function (`ref_attr_name`); function bodies only. */
  | { readonly kind: 'ref'; readonly ref: string; readonly type: 'int' | 'float' | 'string' | 'ints' | 'floats' };

export const attr = {
  int: (value: number): Attr => ({ kind: 'int', value }),
  float: (value: number): Attr => ({ kind: 'float', value }),
  string: (value: string): Attr => ({ kind: 'string', value }),
  ints: (value: readonly number[]): Attr => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): Attr => ({ kind: 'floats', value }),
};

interface NodeRecord {
  readonly opType: string;
  readonly domain: string;
  readonly inputs: readonly (Value | null)[];
  readonly outputs: readonly Value[];
  readonly attrs: Readonly<Record<string, Attr>>;
}

export interface GraphOptions {
  /** Default-domain opset, 13 to 21. */
  readonly opset: number;
  readonly kind?: 'model' | 'function';
  /** Graph name (model graphs) — defaults to 'main'. */
  readonly name?: string;
}

/** A value type as given to `input()` or declared as a function's input. */
export interface ValueType {
  readonly dtype: DType;
  readonly shape: Shape;
}

export class Graph {
  readonly opset: number;
  readonly kind: 'model' | 'function';
  readonly name: string;
  private readonly nodeList: NodeRecord[] = [];
  private readonly inputList: Value[] = [];
  private readonly outputList: Value[] = [];
  private readonly names = new Set<string>();
  private readonly constants = new Map<string, Value>();
  /** Custom domains called from this graph (function calls), with their version. */
  private readonly domainImports = new Map<string, number>();
  private counter = 0;

  constructor(options: GraphOptions) {
    this.opset = checkOpset(options.opset);
    this.kind = options.kind ?? 'model';
    this.name = options.name ?? 'main';
  }

  get inputs(): readonly Value[] {
    return this.inputList;
  }
  get outputs(): readonly Value[] {
    return this.outputList;
  }
  get nodes(): readonly NodeRecord[] {
    return this.nodeList;
  }
  get customDomains(): ReadonlyMap<string, number> {
    return this.domainImports;
  }

  /** Declares a graph input. Model inputs always carry a shape (the ONNX checker requires one). */
  input(name: string, dtype: DType, shape: Shape): Value {
    if (!DTYPES[dtype]) throw new TypeError(`input '${name}': unknown element type ${String(dtype)}`);
    if (!Array.isArray(shape)) throw new TypeError(`input '${name}': shape must be an array of dimensions`);
    shape.forEach((d) => checkDim(`input '${name}'`, d));
    this.claimName(name, `input '${name}'`);
    const v = new Value(this, name, dtype, [...shape]);
    this.inputList.push(v);
    return v;
  }

  /** Marks `value` as a graph output named `name`, renaming it when it is an intermediate value. */
  output(value: Value, name: string): Value {
    this.own('output', 'value', value);
    if (this.outputList.some((o) => o.name === name)) {
      throw new RangeError(`output '${name}' is already an output of this graph`);
    }
    let out = value;
    const isIntermediate = !this.inputList.includes(value) && !this.outputList.includes(value) && !this.isConstant(value);
    if (isIntermediate && value.name !== name) {
      this.claimName(name, `output '${name}'`);
      this.names.delete(value.name);
      value.rename(name);
    } else if (value.name !== name) {
      [out] = this.addNode('Identity', [value], {}, [{ dtype: value.dtype, shape: value.shape }]);
      this.claimName(name, `output '${name}'`);
      this.names.delete(out.name);
      out.rename(name);
    }
    this.outputList.push(out);
    return out;
  }

  /**
   * A constant of `dtype` (shared: the same dtype, shape and values give the same value).
   * `shape` defaults to a scalar for one number and to [length] for an array.
   */
  constant(values: number | readonly number[], dtype: DType, shape?: Shape): Value {
    const list = typeof values === 'number' ? [values] : [...values];
    const dims = shape ?? (typeof values === 'number' ? [] : [list.length]);
    const count = dims.reduce<number>((a, d) => a * (typeof d === 'number' ? d : NaN), 1);
    if (count !== list.length) {
      throw new RangeError(`Constant: ${list.length} values do not fill shape [${dims.join(', ')}]`);
    }
    for (const x of list) checkLiteral('Constant', dtype, x);
    const key = `${dtype}|${dims.join(',')}|${list.map((x) => (Object.is(x, -0) ? '-0' : String(x))).join(',')}`;
    const cached = this.constants.get(key);
    if (cached) return cached;
    const tensor = makeTensor(dtype, dims as number[], list);
    const [v] = this.addNode('Constant', [], { value: { kind: 'tensor', value: tensor } }, [{ dtype, shape: dims }], '', list);
    this.constants.set(key, v);
    return v;
  }

  /**
   * In a function body: the caller's attribute `name` as a value — a `Constant` node whose
   * `value_float` / `value_int` / `value_floats` refers to it: a float32 or int64 scalar, or a
   * float32 vector of `length` elements for 'floats'.
   */
  attributeValue(name: string, type: 'float' | 'int' | 'floats', length?: number): Value {
    if (this.kind !== 'function') {
      throw new TypeError(`attribute reference '${name}': only a function body can refer to its attributes`);
    }
    if (type === 'floats' && !(Number.isInteger(length) && (length as number) > 0)) {
      throw new RangeError(`attribute reference '${name}': a 'floats' attribute needs its length, got ${String(length)}`);
    }
    const key = `ref|${type}|${name}`;
    const cached = this.constants.get(key);
    if (cached) return cached;
    const attrName = { float: 'value_float', int: 'value_int', floats: 'value_floats' }[type];
    const dtype: DType = type === 'int' ? 'int64' : 'float32';
    const shape: Shape = type === 'floats' ? [length as number] : [];
    const [v] = this.addNode('Constant', [], { [attrName]: { kind: 'ref', ref: name, type } }, [{ dtype, shape }]);
    this.constants.set(key, v);
    return v;
  }

  /** Turns a number literal into a constant matching `like`'s element type; values pass through. */
  operand(op: string, inputName: string, x: Operand, like: DType): Value {
    if (x instanceof Value) {
      this.own(op, inputName, x);
      return x;
    }
    if (typeof x !== 'number') {
      throw new TypeError(`${op}: input ${inputName} must be a value of this graph or a number, got ${describe(x)}`);
    }
    checkLiteral(`${op}: input ${inputName}`, like, x);
    return this.constant(x, like);
  }

  /** Throws unless `v` is a value of this graph. */
  own(op: string, inputName: string, v: unknown): asserts v is Value {
    if (!(v instanceof Value)) {
      throw new TypeError(`${op}: input ${inputName} must be a value of this graph, got ${describe(v)}`);
    }
    if (v.graph !== this) {
      throw new TypeError(`${op}: input ${inputName} ${v} belongs to another graph`);
    }
  }

  /**
   * Adds a node whose output types the caller has inferred. Emitters in `ops.ts` are the intended
   * callers; `domain` is '' for standard ops. Returns the output values.
   */
  addNode(
    opType: string,
    inputs: readonly (Value | null)[],
    attrs: Readonly<Record<string, Attr>>,
    outputTypes: readonly ValueType[],
    domain = '',
    known?: readonly Dim[],
  ): Value[] {
    inputs.forEach((v, i) => {
      if (v !== null) this.own(opType, `#${i}`, v);
    });
    for (const a of Object.values(attrs)) {
      if (a.kind === 'ref' && this.kind !== 'function') {
        throw new TypeError(`${opType}: attribute references (ref_attr_name) exist only in function bodies`);
      }
    }
    const outputs = outputTypes.map((t) => {
      const name = this.freshName(opType);
      return new Value(this, name, t.dtype, t.shape, known);
    });
    this.nodeList.push({ opType, domain, inputs: [...inputs], outputs, attrs });
    return outputs;
  }

  /** Records that this graph calls ops of `domain` (for the model's opset imports). */
  useDomain(domain: string, version: number): void {
    const known = this.domainImports.get(domain);
    if (known !== undefined && known !== version) {
      throw new RangeError(`domain '${domain}' is imported at version ${known} and ${version}`);
    }
    this.domainImports.set(domain, version);
  }

  private isConstant(v: Value): boolean {
    for (const c of this.constants.values()) if (c === v) return true;
    return false;
  }

  private freshName(opType: string): string {
    let name: string;
    do {
      name = `${opType.toLowerCase()}_${this.counter++}`;
    } while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  private claimName(name: string, what: string): void {
    if (typeof name !== 'string' || name.length === 0) throw new TypeError(`${what}: a name must be a non-empty string`);
    if (this.names.has(name)) throw new RangeError(`${what}: the name '${name}' is already used in this graph`);
    this.names.add(name);
  }

  /** The graph as ONNX protobuf nodes (names resolved now, so renames by `output()` apply). */
  toNodeProtos(): onnx.INodeProto[] {
    return this.nodeList.map((n, i) => {
      const node: onnx.INodeProto = {
        input: n.inputs.map((v) => (v === null ? '' : v.name)),
        output: n.outputs.map((v) => v.name),
        name: `${n.opType}_${i}`,
        opType: n.opType,
      };
      if (n.domain) node.domain = n.domain;
      const attrs = Object.keys(n.attrs)
        .sort()
        .map((k) => attrToProto(k, n.attrs[k]));
      if (attrs.length) node.attribute = attrs;
      return node;
    });
  }
}

function attrToProto(name: string, a: Attr): onnx.IAttributeProto {
  const T = AttributeType;
  switch (a.kind) {
    case 'int':
      return { name, type: T.INT, i: a.value };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'string':
      return { name, type: T.STRING, s: Buffer.from(a.value, 'utf8') };
    case 'ints':
      return { name, type: T.INTS, ints: [...a.value] };
    case 'floats':
      return { name, type: T.FLOATS, floats: [...a.value] };
    case 'tensor':
      return { name, type: T.TENSOR, t: a.value };
    case 'ref': {
      const types = { int: T.INT, float: T.FLOAT, string: T.STRING, ints: T.INTS, floats: T.FLOATS } as const;
      return { name, type: types[a.type], refAttrName: a.ref };
    }
  }
}

/** Little-endian raw bytes of `values` as `dtype` (float16 rounded to nearest even). */
export function encodeValues(dtype: DType, values: readonly number[]): Uint8Array {
  const buf = Buffer.alloc(values.length * DTYPES[dtype].bytes);
  values.forEach((x, i) => {
    switch (dtype) {
      case 'float16':
        buf.writeUInt16LE(f32ToF16Bits(x), i * 2);
        break;
      case 'float32':
        buf.writeFloatLE(x, i * 4);
        break;
      case 'float64':
        buf.writeDoubleLE(x, i * 8);
        break;
      case 'int8':
        buf.writeInt8(x, i);
        break;
      case 'int32':
        buf.writeInt32LE(x, i * 4);
        break;
      case 'int64':
        buf.writeBigInt64LE(BigInt(x), i * 8);
        break;
      case 'uint8':
      case 'bool':
        buf.writeUInt8(x ? (dtype === 'bool' ? 1 : x) : 0, i);
        break;
    }
  });
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function makeTensor(dtype: DType, dims: readonly number[], values: readonly number[]): onnx.ITensorProto {
  return { dims: [...dims], dataType: DTYPES[dtype].code, rawData: encodeValues(dtype, values) };
}

function checkDim(what: string, d: Dim): void {
  if (typeof d === 'number' ? !Number.isInteger(d) || d < 0 : typeof d !== 'string' || d.length === 0) {
    throw new RangeError(`${what}: a dimension must be an integer >= 0 or a symbol like 'N', got ${describe(d)}`);
  }
}

function checkLiteral(what: string, dtype: DType, x: number): void {
  if (typeof x !== 'number' || Number.isNaN(x)) {
    throw new TypeError(`${what}: a literal must be a number, got ${describe(x)}`);
  }
  if (!NUMERIC_DTYPES.includes(dtype) && dtype !== 'bool') {
    throw new TypeError(`${what}: no literal of element type ${dtype}`);
  }
  if (!isFloat(dtype) && !Number.isSafeInteger(x)) {
    throw new TypeError(`${what}: the literal ${x} is not an integer, but the operand type is ${dtype}`);
  }
  const range = INT_RANGE[dtype];
  if (range && (x < range[0] || x > range[1])) {
    throw new RangeError(`${what}: the literal ${x} is outside the range [${range[0]}, ${range[1]}] of ${dtype}`);
  }
}

/** Bounds of the integer types narrower than a JS safe integer (int64 literals stop at 2^53). */
const INT_RANGE: Partial<Record<DType, readonly [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  bool: [0, 1],
};

export function describe(x: unknown): string {
  if (x instanceof Value) return `value ${x}`;
  if (typeof x === 'string') return `'${x}'`;
  if (Array.isArray(x)) return `[${x.map(describe).join(', ')}]`;
  if (x === null) return 'null';
  if (typeof x === 'object') return 'an object';
  return String(x);
}
