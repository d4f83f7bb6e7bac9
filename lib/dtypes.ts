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

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

// IEEE 754 half precision and bfloat16 bit patterns <-> numbers (one place for the CLI's .npy data and serve's
// FP16 tensors).
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE float32 -> float16 bits, round to nearest even. */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // Inf / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> 0
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  e = h >>> 10;
  return sign | (e >= 0x1f ? 0x7c00 : h);
}

/** float16 bits -> number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** bfloat16 bits -> number. */
export function bf16ToFloat(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}
