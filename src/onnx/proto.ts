/**
 * The protobuf schema models are read and written with: ONNX 1.23.1's `onnx.proto` (IR 14),
 * generated with protobufjs into `onnx-schema.ts` (scripts/make-onnx-schema.ts) and loaded by
 * reflection. A decode keeps every field ONNX 1.23 knows — onnx-proto 8.0.1's generated code,
 * from ONNX 1.10 (IR 8), drops the newer ones (node and value_info `metadata_props`, function
 * `value_info` / `attribute_proto` / `overload`, …) that torch.onnx's dynamo exporter writes.
 *
 * Fields keep onnx-proto's camelCase names, so its TypeScript interfaces (`onnx.IModelProto`, …)
 * describe the fields of IR 8 and the objects carry the newer ones besides. proto2 semantics are
 * kept: a decoded field that was absent stays absent when encoded again; repeated numbers are
 * packed, as onnx-proto's encoder packs them, so the builder's models have the same bytes as before.
 */
import * as protobuf from 'protobufjs/light';
import type { onnx } from 'onnx-proto';
import { ONNX_SCHEMA } from './onnx-schema';

const root = protobuf.Root.fromJSON(ONNX_SCHEMA as protobuf.INamespace);

/**
 * The schema's enums, typed as onnx-proto's (the same numbers): the builder takes them from here so
 * that onnx-proto's generated code (and its protobufjs runtime, ~18 ms) is never loaded — its
 * TypeScript interfaces describe the objects, nothing more.
 */
export const DataType = root.lookupEnum('onnx.TensorProto.DataType').values as unknown as typeof onnx.TensorProto.DataType;
export const AttributeType = root.lookupEnum('onnx.AttributeProto.AttributeType').values as unknown as typeof onnx.AttributeProto.AttributeType;
/** A TensorProto data type's name by its code (`FLOAT`, `BFLOAT16`, …). */
export const DATA_TYPE_NAMES: Readonly<Record<number, string>> = root.lookupEnum('onnx.TensorProto.DataType').valuesById;

/** The ModelProto message type of the schema. */
export const ModelProtoType = root.lookupType('onnx.ModelProto');

/** The IR version of the schema (ONNX 1.23.1's `Version.IR_VERSION`). */
export const SCHEMA_IR_VERSION = root.lookupEnum('onnx.Version').values.IR_VERSION;

/** Protobuf bytes of a model (fields in field-number order: the same object gives the same bytes). */
export function encodeModelProto(model: onnx.IModelProto): Uint8Array {
  return encodeMessage(ModelProtoType, model as Record<string, unknown>, protobuf.Writer.create()).finish();
}

/** The protobuf bytes of one message of the schema (`TensorProto`, `AttributeProto`, …), plain or decoded alike. */
export function encodeMessageOf(name: string, message: object): Uint8Array {
  return encodeMessage(root.lookupType(`onnx.${name}`), message as Record<string, unknown>, protobuf.Writer.create()).finish();
}

/** Decodes protobuf bytes with the schema; throws protobufjs's error on malformed bytes. */
export function decodeModelBytes(bytes: Uint8Array): onnx.ModelProto {
  return ModelProtoType.decode(bytes) as unknown as onnx.ModelProto;
}

// ---- the encoder --------------------------------------------------------------------------------
//
// protobufjs compiles a `fromObject` and an `encode` function (and `decode`, `verify`, …) for each
// message type the first time one is used (code generation, then V8 compiles it): ~20 ms at a
// process's first model, which every `eval`, `export` and `attach` paid before its first batch. The
// encoder walks the reflected schema instead, and writes the same bytes as
// `ModelProtoType.encode(ModelProtoType.fromObject(model))` (test/onnx/encoder.test.ts compares
// them): fields in field-number order; a repeated field when it has elements, packed where the
// schema says; any other field when it is present. Present means, as in protobufjs, not null or
// undefined and, for a plain object, what `fromObject` keeps (an enum's known name or number, a
// non-empty `bytes`), for a decoded message its own property. As fast as protobufjs's on plain
// objects (30,000 nodes: 253 against 248 ms), 1.25× its time on decoded messages (236 against
// 188 ms). Decoding stays protobufjs's: walking the schema to decode took 2× its time there.

interface FieldPlan {
  readonly name: string;
  /** The key and wire type, or for a packed field the key of its length-delimited run. */
  readonly tag: number;
  /** The protobufjs Writer method of a scalar (an enum's `int32`); undefined for a message. */
  readonly scalar?: string;
  readonly message?: protobuf.Type;
  readonly enumValues?: Readonly<Record<string, number>>;
  /** The enum's numbers, to tell a known one. */
  readonly enumNumbers?: ReadonlySet<number>;
  readonly repeated: boolean;
  readonly packed: boolean;
}

const WIRE: Readonly<Record<string, number>> = { double: 1, float: 5, int32: 0, uint32: 0, sint32: 0, fixed32: 5, sfixed32: 5, int64: 0, uint64: 0, sint64: 0, fixed64: 1, sfixed64: 1, bool: 0, string: 2, bytes: 2 };
const plans = new Map<protobuf.Type, readonly FieldPlan[]>();

function planOf(t: protobuf.Type): readonly FieldPlan[] {
  let plan = plans.get(t);
  if (plan) return plan;
  plan = t.fieldsArray
    .slice()
    .sort((a, b) => a.id - b.id)
    .map((f) => {
      f.resolve();
      const e = f.resolvedType instanceof protobuf.Enum ? f.resolvedType : undefined;
      const message = f.resolvedType instanceof protobuf.Type ? f.resolvedType : undefined;
      const scalar = message ? undefined : e ? 'int32' : f.type;
      if (f.map || (message as { group?: boolean } | undefined)?.group) throw new Error(`proto.ts: ${t.name}.${f.name} is a map or group field, which the schema walk does not handle`);
      const packed = f.repeated && f.packed && scalar !== undefined && scalar !== 'string' && scalar !== 'bytes';
      const wire = packed || scalar === undefined ? 2 : WIRE[scalar];
      return { name: f.name, tag: ((f.id << 3) | wire) >>> 0, scalar, message, enumValues: e?.values, enumNumbers: e ? new Set(Object.values(e.values)) : undefined, repeated: f.repeated, packed };
    });
  plans.set(t, plan);
  return plan;
}

/** `fromObject`'s value of a plain object's scalar field, or undefined where it keeps none. */
function scalarValue(f: FieldPlan, v: unknown): unknown {
  if (f.enumValues) {
    const n = typeof v === 'string' ? f.enumValues[v] : (v as number);
    return f.enumNumbers?.has(n) ? n : undefined;
  }
  switch (f.scalar) {
    case 'double':
    case 'float':
      return Number(v);
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return (v as number) | 0;
    case 'uint32':
    case 'fixed32':
      return (v as number) >>> 0;
    case 'string':
      return String(v);
    case 'bool':
      return Boolean(v);
    case 'bytes':
      return typeof v === 'string' || (v as Uint8Array).length ? v : undefined;
    default:
      return v; // 64-bit integers: the Writer takes numbers, strings and Longs as fromObject leaves them
  }
}

function writeScalar(w: protobuf.Writer, f: FieldPlan, v: unknown): void {
  if (f.scalar === 'bytes' && typeof v === 'string') {
    const b = new Uint8Array(protobuf.util.base64.length(v));
    protobuf.util.base64.decode(v, b, 0);
    v = b;
  }
  (w as unknown as Record<string, (x: unknown) => void>)[f.scalar as string](v);
}

function encodeMessage(t: protobuf.Type, m: Record<string, unknown>, w: protobuf.Writer): protobuf.Writer {
  const decoded = m instanceof protobuf.Message;
  for (const f of planOf(t)) {
    if (decoded && !Object.prototype.hasOwnProperty.call(m, f.name)) continue;
    const v = m[f.name];
    if (v == null) continue;
    if (f.repeated) {
      const list = v as unknown[];
      if (!list.length) continue;
      const values = f.message || decoded ? list : list.map((x) => scalarValue(f, x));
      if (f.packed) {
        w.uint32(f.tag).fork();
        for (const x of values) writeScalar(w, f, x);
        w.ldelim();
      } else {
        for (const x of values) {
          if (f.message) encodeMessage(f.message, x as Record<string, unknown>, w.uint32(f.tag).fork()).ldelim();
          else writeScalar(w.uint32(f.tag), f, x);
        }
      }
    } else if (f.message) {
      encodeMessage(f.message, v as Record<string, unknown>, w.uint32(f.tag).fork()).ldelim();
    } else {
      const x = decoded ? v : scalarValue(f, v);
      if (x !== undefined) writeScalar(w.uint32(f.tag), f, x);
    }
  }
  return w;
}
