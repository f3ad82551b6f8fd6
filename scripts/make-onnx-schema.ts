/**
 * Generates src/onnx/schema/onnx.json, the protobufjs schema focal-onnx reads and writes models
 * with, from src/onnx/schema/onnx.proto — ONNX 1.23.1's `onnx/onnx.proto` (IR version 14), copied
 * from the onnx wheel. protobufjs parses it (as `pbjs -t json` does, without the CLI's extra
 * packages); the JSON is its reflection tree, which `Root.fromJSON` loads with no parser.
 *
 * onnx-proto 8.0.1 was generated from ONNX 1.10 (IR 8): a decode with it drops every field added
 * since (node and value_info metadata_props, FunctionProto.value_info / attribute_proto /
 * overload, graph metadata, device configurations …), which torch.onnx's dynamo exporter writes.
 *
 * Run: npm run build --silent && node dist/scripts/make-onnx-schema.js   (the output is committed;
 * a test regenerates it and compares)
 */
import * as fs from 'fs';
import * as path from 'path';
import * as protobuf from 'protobufjs';

const DIR = path.join(__dirname, '..', '..', 'src', 'onnx', 'schema');

/** The schema's JSON text for `protoFile`. */
export function schemaJson(protoFile: string): string {
  const root = new protobuf.Root();
  // keepCase false (the default): camelCase field names, as onnx-proto's generated code uses.
  root.loadSync(protoFile, { keepCase: false });
  // The proto2 parser marks repeated numbers `packed: false`; `pbjs -t json` leaves that out, and
  // onnx-proto 8.0.1's encoder (generated from such JSON) packs them. Left out here too, so the
  // builder's models keep their bytes (every protobuf parser reads both encodings).
  const json = JSON.stringify(root.toJSON({ keepComments: false }), (key, value) => {
    if (key === 'options' && value && typeof value === 'object' && (value as Record<string, unknown>).packed === false) {
      const { packed: _packed, ...rest } = value as Record<string, unknown>;
      return Object.keys(rest).length ? rest : undefined;
    }
    return value;
  }, 1);
  return `${json}\n`;
}

if (require.main === module) {
  const out = path.join(DIR, 'onnx.json');
  fs.writeFileSync(out, schemaJson(path.join(DIR, 'onnx.proto')));
  process.stdout.write(`wrote ${out}\n`);
}
