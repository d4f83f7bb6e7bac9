/**
 * Data types, named as in ONNX Runtime for Node (`float32`, `float16`, ...), mapped to TensorRT's DataType
 * (`kFLOAT`, `kHALF`, ...) and to JS typed arrays. float16 / bfloat16 values travel as Uint16Array bit patterns.
 */
export type DataType =
  | 'float32' | 'float16' | 'bfloat16' | 'int8' | 'uint8' | 'int32' | 'int64' | 'bool' | 'fp8' | 'int4' | 'fp4';

export type TypedArray =
  | Float32Array | Float64Array | Uint16Array | Int8Array | Uint8Array | Int16Array | Int32Array | Uint32Array
  | BigInt64Array | BigUint64Array;

export interface DataTypeInfo {
  /** TensorRT's enum name. */
  trt: string;
  /** Bytes per element (fractional for sub-byte types). */
  bytes: number;
  /** The typed array that holds one element per entry, when there is one. */
  array?: { new (n: number): TypedArray; new (b: ArrayBufferLike, o?: number, n?: number): TypedArray; name: string };
}

export const DATA_TYPES: Readonly<Record<DataType, DataTypeInfo>> = {
  float32: { trt: 'kFLOAT', bytes: 4, array: Float32Array },
  float16: { trt: 'kHALF', bytes: 2, array: Uint16Array },
  bfloat16: { trt: 'kBF16', bytes: 2, array: Uint16Array },
  int8: { trt: 'kINT8', bytes: 1, array: Int8Array },
  uint8: { trt: 'kUINT8', bytes: 1, array: Uint8Array },
  int32: { trt: 'kINT32', bytes: 4, array: Int32Array },
  int64: { trt: 'kINT64', bytes: 8, array: BigInt64Array },
  bool: { trt: 'kBOOL', bytes: 1, array: Uint8Array },
  fp8: { trt: 'kFP8', bytes: 1, array: Uint8Array },
  int4: { trt: 'kINT4', bytes: 0.5 },
  fp4: { trt: 'kFP4', bytes: 0.5 },
};

export function isTypedArray(x: unknown): x is TypedArray {
  return ArrayBuffer.isView(x) && !(x instanceof DataView);
}

/** Whether `arr` is an acceptable JS container for `dtype` (e.g. Float32Array for float32). */
export function typedArrayMatches(dtype: DataType, arr: TypedArray): boolean {
  const info = DATA_TYPES[dtype];
  if (!info.array) return false;
  if (dtype === 'bool') return arr instanceof Uint8Array || arr instanceof Int8Array;
  return arr instanceof info.array;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
