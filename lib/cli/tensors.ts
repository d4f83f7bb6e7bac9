/**
 * Pure helpers shared by `run` and `bench`: concrete input shapes from an engine's I/O description and the user's
 * shapes, random inputs of the right dtype, .npy inputs checked against the engine, half-precision conversion and
 * summary statistics of outputs. No native code.
 */
import { bf16ToFloat, elementCount, floatToHalf, halfToFloat, type TypedArray } from '../dtypes';
import type { NpyArray, NpyDType } from '../npy';
import { UsageError } from './common';
import { fmtShape, type ShapeMap, type ShapeRange } from './parse';

export interface TensorInfo {
  name: string;
  mode: 'input' | 'output';
  dtype: string;
  shape: number[];
  profiles?: ShapeRange[];
  location?: 'device' | 'host';
  isShapeInferenceIO?: boolean;
  profileValues?: ShapeRange[];
}

/** Bytes per element of the tensor dtypes that can be fed from JS. */
const ELEMENT_BYTES: Record<string, number> = {
  float32: 4, float16: 2, bfloat16: 2, int8: 1, uint8: 1, int32: 4, int64: 8, bool: 1, fp8: 1,
};

export function bytesPerElement(dtype: string): number {
  const b = ELEMENT_BYTES[dtype];
  if (b === undefined) throw new UsageError(`tensors of type ${dtype} cannot be fed or read from the CLI`);
  return b;
}

export { elementCount };

/**
 * The shape to run each input with: the user's (--shapes, or the .npy file's), else the engine's static shape,
 * else the opt shape of optimization profile 0 for dynamic dimensions (-1). Checks rank and static dimensions,
 * and the profile's [min, max] range where the engine gives one.
 */
export function resolveInputShapes(inputs: readonly TensorInfo[], given: ShapeMap, profile = 0): Record<string, number[]> {
  const names = new Set(inputs.map((t) => t.name));
  for (const n of Object.keys(given)) {
    if (!names.has(n)) throw new UsageError(`the engine has no input named '${n}' (inputs: ${[...names].join(', ')})`);
  }
  const out: Record<string, number[]> = {};
  for (const t of inputs) {
    const want = given[t.name];
    const range = t.profiles?.[profile];
    if (want) {
      if (want.length !== t.shape.length) {
        throw new UsageError(`input '${t.name}' has rank ${t.shape.length} (${fmtShape(t.shape)}); got shape ${fmtShape(want)}`);
      }
      want.forEach((d, i) => {
        if (t.shape[i] >= 0 && t.shape[i] !== d) {
          throw new UsageError(`input '${t.name}' has a fixed dimension ${i} of ${t.shape[i]}; got shape ${fmtShape(want)}`);
        }
        if (range && (d < range.min[i] || d > range.max[i])) {
          throw new UsageError(
            `input '${t.name}': shape ${fmtShape(want)} is outside optimization profile ${profile} (min ${fmtShape(range.min)}, max ${fmtShape(range.max)})`,
          );
        }
      });
      out[t.name] = [...want];
    } else if (t.shape.every((d) => d >= 0)) {
      out[t.name] = [...t.shape];
    } else if (range) {
      out[t.name] = [...range.opt];
    } else {
      throw new UsageError(`input '${t.name}' has dynamic shape ${fmtShape(t.shape)}: give it with --shapes ${t.name}:...`);
    }
  }
  return out;
}

/** Deterministic PRNG (mulberry32) so that `--seed` reproduces inputs. */
export function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export { bf16ToFloat, floatToHalf, halfToFloat } from '../dtypes';

/**
 * Random data for an input: floats uniform in [-1, 1), int8 over its range, uint8 0..255, int32/int64 in [0, 8)
 * (safe as indices), bool 0/1. float16/bfloat16 as bit patterns in a Uint16Array.
 */
export function randomData(dtype: string, n: number, rng: () => number): TypedArray {
  switch (dtype) {
    case 'float32': return Float32Array.from({ length: n }, () => rng() * 2 - 1);
    case 'float16': return Uint16Array.from({ length: n }, () => floatToHalf(rng() * 2 - 1));
    case 'bfloat16': return Uint16Array.from({ length: n }, () => {
      f32[0] = rng() * 2 - 1;
      return u32[0] >>> 16;
    });
    case 'int8': return Int8Array.from({ length: n }, () => Math.floor(rng() * 256) - 128);
    case 'uint8': case 'fp8': return Uint8Array.from({ length: n }, () => Math.floor(rng() * 256));
    case 'int32': return Int32Array.from({ length: n }, () => Math.floor(rng() * 8));
    case 'int64': return BigInt64Array.from({ length: n }, () => BigInt(Math.floor(rng() * 8)));
    case 'bool': return Uint8Array.from({ length: n }, () => (rng() < 0.5 ? 0 : 1));
    default: throw new UsageError(`cannot generate random data of type ${dtype}; give this input with --input name=file.npy`);
  }
}

/** The .npy dtype that carries a tensor dtype, or null (bfloat16, fp8, int4, fp4 have none). */
export function npyDtypeOf(dtype: string): NpyDType | null {
  return ['float32', 'float16', 'int8', 'uint8', 'int32', 'int64', 'bool'].includes(dtype) ? (dtype as NpyDType) : null;
}

/** Checks an .npy input against the engine's input tensor; returns its data and shape. */
export function checkNpyInput(t: TensorInfo, a: NpyArray, file: string): { data: TypedArray; shape: number[] } {
  if (a.dtype !== t.dtype) {
    throw new UsageError(`${file}: input '${t.name}' is ${t.dtype} but the file holds ${a.dtype} (convert it with arr.astype(...))`);
  }
  return { data: a.data, shape: [...a.shape] };
}

export interface ValueStats {
  min: number;
  max: number;
  mean: number;
  nan: number;
}

/** min / max / mean of a tensor's values (NaNs counted apart); null for empty tensors. */
export function valueStats(dtype: string, data: TypedArray): ValueStats | null {
  if (data.length === 0) return null;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let nan = 0;
  let n = 0;
  for (let i = 0; i < data.length; i++) {
    const raw = data[i];
    let v = typeof raw === 'bigint' ? Number(raw) : raw;
    if (dtype === 'float16') v = halfToFloat(v);
    else if (dtype === 'bfloat16') v = bf16ToFloat(v);
    if (Number.isNaN(v)) {
      nan++;
      continue;
    }
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    n++;
  }
  return { min, max, mean: n ? sum / n : NaN, nan };
}
