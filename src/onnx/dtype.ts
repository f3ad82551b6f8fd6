/**
 * ONNX element types the builder knows, with their TensorProto codes and byte sizes.
 */
import { DATA_TYPE_NAMES, DataType } from './proto';

export type DType =
  | 'float16'
  | 'float32'
  | 'float64'
  | 'int8'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'bool';

const DT = DataType;

interface DTypeInfo {
  readonly code: number;
  readonly bytes: number;
  readonly kind: 'float' | 'int' | 'bool';
}

export const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  float16: { code: DT.FLOAT16, bytes: 2, kind: 'float' },
  float32: { code: DT.FLOAT, bytes: 4, kind: 'float' },
  float64: { code: DT.DOUBLE, bytes: 8, kind: 'float' },
  int8: { code: DT.INT8, bytes: 1, kind: 'int' },
  int32: { code: DT.INT32, bytes: 4, kind: 'int' },
  int64: { code: DT.INT64, bytes: 8, kind: 'int' },
  uint8: { code: DT.UINT8, bytes: 1, kind: 'int' },
  bool: { code: DT.BOOL, bytes: 1, kind: 'bool' },
};

export const ALL_DTYPES = Object.keys(DTYPES) as DType[];
export const FLOAT_DTYPES: readonly DType[] = ['float16', 'float32', 'float64'];
export const NUMERIC_DTYPES: readonly DType[] = ['float16', 'float32', 'float64', 'int8', 'int32', 'int64', 'uint8'];
export const SIGNED_DTYPES: readonly DType[] = ['float16', 'float32', 'float64', 'int8', 'int32', 'int64'];

export function isDType(s: string): s is DType {
  return Object.prototype.hasOwnProperty.call(DTYPES, s);
}

export function isFloat(d: DType): boolean {
  return DTYPES[d].kind === 'float';
}

/** The builder's name for a TensorProto element-type code, or undefined when it is not one we know. */
export function dtypeFromCode(code: number): DType | undefined {
  return ALL_DTYPES.find((d) => DTYPES[d].code === code);
}

/** A readable name for any TensorProto code (for decoded models that use types we do not build). */
export function codeName(code: number): string {
  const known = dtypeFromCode(code);
  if (known) return known;
  const name = DATA_TYPE_NAMES[code];
  return name ? name.toLowerCase() : `type${code}`;
}
