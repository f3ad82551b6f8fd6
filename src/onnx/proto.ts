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

type MessageName = 'NodeProto' | 'ValueInfoProto' | 'TensorProto';
/** A message of the schema from a plain object, as onnx-proto's `fromObject` makes one. */
export function messageFromObject<T>(name: MessageName, object: object): T {
  return root.lookupType(`onnx.${name}`).fromObject(object as Record<string, unknown>) as unknown as T;
}

/** The ModelProto message type of the schema. */
export const ModelProtoType = root.lookupType('onnx.ModelProto');

/** The IR version of the schema (ONNX 1.23.1's `Version.IR_VERSION`). */
export const SCHEMA_IR_VERSION = root.lookupEnum('onnx.Version').values.IR_VERSION;

/** Protobuf bytes of a model (fields in field-number order: the same object gives the same bytes). */
export function encodeModelProto(model: onnx.IModelProto): Uint8Array {
  return ModelProtoType.encode(ModelProtoType.fromObject(model as Record<string, unknown>)).finish();
}

/** Decodes protobuf bytes with the schema; throws protobufjs's error on malformed bytes. */
export function decodeModelBytes(bytes: Uint8Array): onnx.ModelProto {
  return ModelProtoType.decode(bytes) as unknown as onnx.ModelProto;
}
