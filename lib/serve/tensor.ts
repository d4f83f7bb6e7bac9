/**
 * Tensors as `serve` moves them between the protocols, the batcher and the backends: a name, a dtype (named as in
 * ONNX Runtime), a concrete shape and one typed array. Here too: the decoding of JSON values into typed arrays
 * (one pass, one copy, checking every value) and the encoding back, the dtype names of TF Serving (`DT_FLOAT`) and
 * KServe v2 (`FP32`), and IEEE half-precision conversion for FP16 JSON values.
 *
 * Written here rather than taken from a library: the decoding has to write straight into the typed array the
 * backend runs on (the JSON decoding target is "no slower than JSON.parse of the body plus one copy") and report
 * a client's mistake as a TensorRTError saying what was expected.
 */
import { elementCount, floatToHalf, halfToFloat, type TypedArray } from '../dtypes';
import { invalidArg, TensorRTError } from '../errors';
import { describe } from '../validate';
import { isPacked, jsonWorkersPending, MAX_DEPTH, OFFLOAD_BYTES, OFFLOAD_WHEN_BUSY, parseJsonOffThread, type Packed } from './json-offload';
import { nextTurn, TURN_BYTES, turnsWaiting } from './turns';

export type ServeDType =
  | 'float32' | 'float16' | 'float64' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'bool'
  | 'string';

/** The dtypes held in typed arrays (all but `string`). */
export type NumericDType = Exclude<ServeDType, 'string'>;

/**
 * What tensors travel in: the typed arrays (the library's TypedArray), and for `string` tensors (ONNX `string`,
 * KServe `BYTES`, TF `DT_STRING`) a plain array of JS strings, as onnxruntime-node takes and gives them. Bytes
 * from the wire become strings as UTF-8 (onnxruntime-node encodes them back so), so bytes that are not UTF-8 do
 * not survive the trip.
 */
export type ServeArray = TypedArray | string[];

/** A concrete tensor. float16 values are Uint16Array bit patterns, bool values a Uint8Array of 0/1. */
export interface Tensor {
  name: string;
  dtype: ServeDType;
  shape: number[];
  data: ServeArray;
}

/** A model's input or output: -1 marks a dynamic dimension. */
export interface TensorSpec {
  name: string;
  dtype: ServeDType;
  shape: number[];
}

type ArrayCtor = { new (n: number): ServeArray; new (b: ArrayBufferLike, o?: number, n?: number): ServeArray; BYTES_PER_ELEMENT: number };

export const ARRAYS: Readonly<Record<NumericDType, ArrayCtor>> = {
  float32: Float32Array, float16: Uint16Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array,
  int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array,
  uint64: BigUint64Array, bool: Uint8Array,
};

const SERVE_DTYPES = new Set<string>([...Object.keys(ARRAYS), 'string']);

/** KServe v2 / Triton datatype names. */
export const KSERVE_DTYPES: Readonly<Record<ServeDType, string>> = {
  float32: 'FP32', float16: 'FP16', float64: 'FP64', int8: 'INT8', uint8: 'UINT8', int16: 'INT16', uint16: 'UINT16',
  int32: 'INT32', uint32: 'UINT32', int64: 'INT64', uint64: 'UINT64', bool: 'BOOL', string: 'BYTES',
};
export const FROM_KSERVE: Readonly<Record<string, ServeDType>> = Object.fromEntries(
  Object.entries(KSERVE_DTYPES).map(([k, v]) => [v, k as ServeDType]),
);

/** TensorFlow's DataType enum names (TF Serving metadata). */
export const TF_DTYPES: Readonly<Record<ServeDType, string>> = {
  float32: 'DT_FLOAT', float16: 'DT_HALF', float64: 'DT_DOUBLE', int8: 'DT_INT8', uint8: 'DT_UINT8', int16: 'DT_INT16',
  uint16: 'DT_UINT16', int32: 'DT_INT32', uint32: 'DT_UINT32', int64: 'DT_INT64', uint64: 'DT_UINT64', bool: 'DT_BOOL',
  string: 'DT_STRING',
};

/** Triton config.pbtxt data types. */
export const TRITON_DTYPES: Readonly<Record<ServeDType, string>> = {
  float32: 'TYPE_FP32', float16: 'TYPE_FP16', float64: 'TYPE_FP64', int8: 'TYPE_INT8', uint8: 'TYPE_UINT8', int16: 'TYPE_INT16',
  uint16: 'TYPE_UINT16', int32: 'TYPE_INT32', uint32: 'TYPE_UINT32', int64: 'TYPE_INT64', uint64: 'TYPE_UINT64', bool: 'TYPE_BOOL',
  string: 'TYPE_STRING',
};

export function isServeDType(s: string): s is ServeDType {
  return SERVE_DTYPES.has(s);
}

/** Elements of a shape (the library's one shape product, lib/dtypes.ts). */
export const volume = elementCount;

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

// ------------------------------------------------------------------------------------------------------------------
// IEEE 754 half precision (round to nearest even), for FP16 values given as JSON numbers.

export { floatToHalf, halfToFloat } from '../dtypes';

// ------------------------------------------------------------------------------------------------------------------
// JSON values -> typed arrays

/** Writes one JSON scalar into `out[i]`, checking it fits `dtype`. */
function putScalar(out: ServeArray, i: number, v: unknown, dtype: ServeDType, what: string): void {
  switch (dtype) {
    case 'string':
      (out as string[])[i] = stringValue(v, what);
      return;
    case 'float32':
    case 'float64':
      if (typeof v !== 'number') throw invalidArg(`${what}: expected numbers (${KSERVE_DTYPES[dtype]}); got ${describe(v)}`);
      (out as Float32Array)[i] = v;
      return;
    case 'float16':
      if (typeof v !== 'number') throw invalidArg(`${what}: expected numbers (FP16); got ${describe(v)}`);
      (out as Uint16Array)[i] = floatToHalf(v);
      return;
    case 'bool':
      if (typeof v === 'boolean') (out as Uint8Array)[i] = v ? 1 : 0;
      else if (v === 0 || v === 1) (out as Uint8Array)[i] = v;
      else throw invalidArg(`${what}: expected true/false (BOOL); got ${describe(v)}`);
      return;
    case 'int64':
    case 'uint64': {
      let b: bigint;
      if (typeof v === 'number' && Number.isInteger(v)) b = BigInt(v);
      else if (typeof v === 'string' && /^-?\d+$/.test(v)) b = BigInt(v);
      else throw invalidArg(`${what}: expected integers (${KSERVE_DTYPES[dtype]}); got ${describe(v)}`);
      const ok = dtype === 'int64' ? b >= -(1n << 63n) && b < 1n << 63n : b >= 0n && b < 1n << 64n;
      if (!ok) throw invalidArg(`${what}: ${b} is out of range for ${KSERVE_DTYPES[dtype]}`);
      (out as BigInt64Array)[i] = b;
      return;
    }
    default: {
      if (typeof v !== 'number' || !Number.isInteger(v)) throw invalidArg(`${what}: expected integers (${KSERVE_DTYPES[dtype]}); got ${describe(v)}`);
      const [lo, hi] = INT_RANGE[dtype]!;
      if (v < lo || v > hi) throw invalidArg(`${what}: ${v} is out of range for ${KSERVE_DTYPES[dtype]} [${lo}, ${hi}]`);
      (out as Int32Array)[i] = v;
    }
  }
}

/**
 * One element of a string tensor: a JSON string (KServe BYTES, TF Serving), TF Serving's `{"b64": "..."}` (its
 * bytes as UTF-8), or the bytes themselves (gRPC `bytes_contents`).
 */
function stringValue(v: unknown, what: string): string {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
  if (v && typeof v === 'object' && !Array.isArray(v) && typeof (v as { b64?: unknown }).b64 === 'string' && Object.keys(v).length === 1) {
    const b = (v as { b64: string }).b64;
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(b)) throw invalidArg(`${what}: the b64 value is not base64`);
    return Buffer.from(b, 'base64').toString('utf8');
  }
  throw invalidArg(`${what}: expected strings (BYTES); got ${describe(v)}`);
}

const INT_RANGE: Partial<Record<ServeDType, [number, number]>> = {
  int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767], uint16: [0, 65535],
  int32: [-2147483648, 2147483647], uint32: [0, 4294967295],
};

/**
 * The buffers of typed arrays that serve made itself for one request or one batch (decoded copies, merged batches):
 * nothing reads them after the batch is handed to the backend, so a backend may take them (transfer them to a worker
 * thread) instead of copying them. Arrays that a caller passes in are never in it.
 */
const DISPOSABLE = new WeakSet<object>();

/** Marks `a` as serve's own, when it spans its whole buffer (see DISPOSABLE). */
export function markDisposable<A extends ServeArray>(a: A): A {
  if (Array.isArray(a)) return a;
  if (a.byteOffset === 0 && a.byteLength === a.buffer.byteLength) DISPOSABLE.add(a.buffer);
  return a;
}

/** Whether a backend may take `a`'s buffer instead of copying it; it is then no longer marked. */
export function takeDisposable(a: ServeArray): boolean {
  return !Array.isArray(a) && DISPOSABLE.delete(a.buffer);
}

/**
 * Recycled input buffers, by byte length: a backend that got a buffer back after a batch (the onnxruntime worker
 * hands its inputs back) puts it here, and the next request's copy goes into it instead of fresh memory. At
 * concurrency 1 a fresh 110 kB buffer costs ~25-75 us to allocate and fill (first touch of its pages), a reused one
 * ~6-11 us (measured on the 2-core VM; docs/serving.md, run F). Bounded: a few buffers per size, 64 MiB in all.
 */
const POOL = new Map<number, ArrayBuffer[]>();
const POOL_PER_SIZE = 4;
const POOL_MAX_BYTES = 64 * 1024 * 1024;
let poolBytes = 0;

/** A new array of `count` elements of `dtype` for serve's own use (zero-filled only when fresh), marked disposable. */
export function allocDisposable(dtype: ServeDType, count: number): ServeArray {
  if (dtype === 'string') return new Array<string>(count).fill('');
  const C = ARRAYS[dtype];
  const bytes = count * C.BYTES_PER_ELEMENT;
  const free = POOL.get(bytes);
  const buf = free?.pop();
  if (buf) poolBytes -= bytes;
  const a = buf ? new C(buf, 0, count) : new C(count);
  DISPOSABLE.add((a as TypedArray).buffer);
  return a;
}

/** Gives a buffer that nothing references any more back for reuse (see POOL). */
export function recycle(buf: ArrayBuffer): void {
  if (!(buf instanceof ArrayBuffer) || buf.byteLength === 0 || poolBytes + buf.byteLength > POOL_MAX_BYTES) return;
  let free = POOL.get(buf.byteLength);
  if (!free) POOL.set(buf.byteLength, (free = []));
  if (free.length >= POOL_PER_SIZE) return;
  free.push(buf);
  poolBytes += buf.byteLength;
}

/**
 * Copies a flat JSON array of numbers into a new typed array: the hot path (KServe `data`, flat). The float32 case
 * is one loop with one type check per value.
 */
export function fromFlat(values: unknown[] | Packed, dtype: ServeDType, what: string): ServeArray {
  if (!isPacked(values)) return withPacked(values, (v) => fromFlatLists(v as unknown[], dtype, what));
  try {
    return fromNestedLists(values, dtype, what, -1).data;
  } catch (e) {
    // the lists it stands for give the error they give (the message of the flat path, its index)
    if (e instanceof TensorRTError) return fromFlatLists(unpackDeep(values) as unknown[], dtype, what);
    throw e;
  }
}

/**
 * Runs a decoder on a value that may hold packed lists (json-offload.ts); where it fails, runs it again on the
 * plain lists they stand for, so that every error is exactly the one the lists give (errors only: rare and small).
 */
function withPacked<T>(value: unknown, run: (v: unknown) => T): T {
  try {
    return run(value);
  } catch (e) {
    if (!(e instanceof TensorRTError)) throw e;
    const plain = unpackDeep(value);
    if (plain === value) throw e;
    return run(plain);
  }
}

/**
 * The plain nested lists a value's packed parts stand for; the value itself when it holds none. Lists deeper than
 * the worker ever packs (it refuses bodies nested past MAX_DEPTH) are not walked: nothing packed is down there.
 */
function unpackDeep(v: unknown, depth = 0): unknown {
  if (isPacked(v)) {
    const flat: (number | boolean)[] = v.bool ? Array.from(v.data, (x) => x === 1) : Array.from(v.data);
    return toNested(flat, v.shape);
  }
  if (Array.isArray(v) && depth <= MAX_DEPTH) {
    let changed = false;
    const out = v.map((x) => {
      const y = x !== null && typeof x === 'object' ? unpackDeep(x, depth + 1) : x;
      if (y !== x) changed = true;
      return y;
    });
    return changed ? out : v;
  }
  return v;
}

function fromFlatLists(values: unknown[], dtype: ServeDType, what: string): ServeArray {
  const n = values.length;
  const out = allocDisposable(dtype, n);
  if (dtype === 'float32' || dtype === 'float64') {
    const o = out as Float32Array;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v !== 'number') {
        if (Array.isArray(v) || isPacked(v)) return fromNested(values, dtype, what, -1).data; // nested after all
        throw invalidArg(`${what}: expected numbers (${KSERVE_DTYPES[dtype]}); got ${describe(v)} at index ${i}`);
      }
      o[i] = v;
    }
    return out;
  }
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (Array.isArray(v) || isPacked(v)) return fromNested(values, dtype, what, -1).data;
    putScalar(out, i, v, dtype, what);
  }
  return out;
}

/**
 * Deepest nesting of a JSON tensor: far above any model's rank (ONNX / TensorRT allow 8 dimensions, TensorFlow
 * 254 at most), and low enough that the walks below never approach the stack's limit.
 */
export const MAX_NESTING = 64;

/** The shape of a nested JSON array, read along its first elements; deeper than MAX_NESTING is a client's mistake. */
export function nestedShape(value: unknown, what = 'the value'): number[] {
  const shape: number[] = [];
  let v = value;
  const tooDeep = () => invalidArg(`${what}: lists nested deeper than ${MAX_NESTING} levels (a tensor's rank is far lower)`);
  while (Array.isArray(v) || isPacked(v)) {
    if (isPacked(v)) {
      // a packed list (json-offload.ts): the rest of the shape at once
      if (shape.length + v.shape.length > MAX_NESTING) throw tooDeep();
      shape.push(...v.shape);
      break;
    }
    if (shape.length === MAX_NESTING) throw tooDeep();
    shape.push(v.length);
    v = v[0];
  }
  return shape;
}

/**
 * Copies a nested JSON array (a tensor written as nested lists, as in TF Serving) into a typed array, checking
 * that every level is as long as the first (a ragged list is a client's mistake). `count` > 0 checks the total.
 */
export function fromNested(value: unknown, dtype: ServeDType, what: string, count: number): { shape: number[]; data: ServeArray } {
  return withPacked(value, (v) => fromNestedLists(v, dtype, what, count));
}

function fromNestedLists(value: unknown, dtype: ServeDType, what: string, count: number): { shape: number[]; data: ServeArray } {
  const shape = nestedShape(value, what);
  const n = volume(shape);
  if (count >= 0 && n !== count) throw invalidArg(`${what}: has ${n} values; expected ${count}`);
  const out = allocDisposable(dtype, n);
  let k = 0;
  const walk = (v: unknown, depth: number): void => {
    if (isPacked(v)) {
      // the same checks as the lists it stands for: its shape must be the rest of the first element's
      const rest = shape.slice(depth);
      if (v.shape.length !== rest.length || v.shape.some((d, i) => d !== rest[i])) {
        throw invalidArg(`${what}: ragged nested list: expected ${fmtShape(rest)} at depth ${depth} (shape ${fmtShape(shape)}); got a list of ${fmtShape(v.shape)}`);
      }
      k = putPacked(out, k, v, dtype, what);
      return;
    }
    if (depth === shape.length) {
      if (Array.isArray(v)) throw invalidArg(`${what}: ragged nested list (deeper than the first element's ${fmtShape(shape)})`);
      putScalar(out, k++, v, dtype, what);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw invalidArg(`${what}: ragged nested list: expected a list of ${shape[depth]} at depth ${depth} (shape ${fmtShape(shape)}); got ${Array.isArray(v) ? `a list of ${v.length}` : describe(v)}`);
    }
    if (depth === shape.length - 1 && (dtype === 'float32' || dtype === 'float64')) {
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (typeof x !== 'number') throw invalidArg(`${what}: expected numbers (${KSERVE_DTYPES[dtype]}); got ${describe(x)}`);
        out[k++] = x;
      }
      return;
    }
    for (let i = 0; i < v.length; i++) walk(v[i], depth + 1);
  };
  walk(value, 0);
  return { shape, data: out };
}

/**
 * Copies a packed list (json-offload.ts) into `out` from `k` on, with putScalar's checks and messages; returns
 * the next index. float32/float64 is one native conversion; the other types check each value.
 */
function putPacked(out: ServeArray, k: number, p: Packed, dtype: ServeDType, what: string): number {
  const d = p.data;
  if (p.bool) {
    if (dtype !== 'bool') {
      putScalar(out, k, true, dtype, what); // throws: booleans where numbers belong
    }
    (out as Uint8Array).set(d as Uint8Array, k);
    return k + d.length;
  }
  if (dtype === 'float32' || dtype === 'float64') {
    (out as Float32Array).set(d as unknown as Float64Array, k);
    return k + d.length;
  }
  for (let i = 0; i < d.length; i++) putScalar(out, k + i, d[i], dtype, what);
  return k + d.length;
}

/**
 * A typed array of `dtype` over raw little-endian bytes (copied when unaligned), checking the length; for `string`
 * (BYTES) the elements as Triton lays them out (decodeStrings).
 */
export function fromBytes(buf: Uint8Array, dtype: ServeDType, count: number, what: string): ServeArray {
  if (dtype === 'string') return decodeStrings(buf, count, what);
  const C = ARRAYS[dtype];
  const bytes = C.BYTES_PER_ELEMENT;
  if (buf.byteLength !== count * bytes) {
    throw invalidArg(`${what}: has ${buf.byteLength} bytes; expected ${count * bytes} (${count} × ${bytes}-byte ${KSERVE_DTYPES[dtype]})`);
  }
  if (buf.byteOffset % bytes === 0) return new C(buf.buffer, buf.byteOffset, count);
  const out = allocDisposable(dtype, count) as TypedArray;
  new Uint8Array(out.buffer, 0, buf.byteLength).set(buf);
  return out;
}

/**
 * The elements of a BYTES tensor from its raw form (KServe's binary tensor extension, gRPC `raw_input_contents`):
 * each a 4-byte little-endian length, then that many bytes (read as UTF-8). Exactly `count` elements must fill the
 * buffer: a length running past its end, a truncated prefix or bytes left over are the client's mistake.
 */
export function decodeStrings(buf: Uint8Array, count: number, what: string): string[] {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = new Array<string>(count);
  let off = 0;
  for (let i = 0; i < count; i++) {
    if (off + 4 > b.length) throw invalidArg(`${what}: BYTES element ${i} of ${count}: ${b.length - off} bytes left where its 4-byte length belongs (${b.length} bytes in all)`);
    const n = b.readUInt32LE(off);
    off += 4;
    if (off + n > b.length) throw invalidArg(`${what}: BYTES element ${i} of ${count}: its length prefix says ${n} bytes; ${b.length - off} are left`);
    out[i] = b.toString('utf8', off, off + n);
    off += n;
  }
  if (off !== b.length) throw invalidArg(`${what}: ${b.length - off} bytes are left after the ${count} BYTES elements the shape holds`);
  return out;
}

/** The raw form of BYTES elements (decodeStrings'): each a 4-byte little-endian length, then its UTF-8 bytes. */
export function encodeStrings(values: readonly string[]): Buffer {
  const parts = values.map((v) => Buffer.from(v, 'utf8'));
  const out = Buffer.allocUnsafe(parts.reduce((a, p) => a + 4 + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.writeUInt32LE(p.length, off);
    p.copy(out, off + 4);
    off += 4 + p.length;
  }
  return out;
}

// ------------------------------------------------------------------------------------------------------------------
// typed arrays -> JSON values

/**
 * Non-finite floats in JSON responses: JSON has no NaN or Infinity and JSON.stringify would write `null`. serve
 * writes the bare tokens `NaN`, `Infinity` and `-Infinity`, as TensorFlow Serving's REST API does (its "JSON
 * conformance" section; Python's json module and most JSON libraries' lenient modes read them), on both
 * protocols; KServe's binary tensor extension carries the IEEE bits unchanged. toJsonValues puts a marker string
 * in their place, and stringifyResponse turns the markers into the tokens.
 */
const NONFINITE_TAG = `\u0001nonfinite${process.pid}${Math.random().toString(36).slice(2)}:`;
const NONFINITE_RE = new RegExp(`"${JSON.stringify(NONFINITE_TAG).slice(1, -1).replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}(NaN|-?Infinity)"`, 'g');

function markNonFinite(x: number): number | string {
  return Number.isFinite(x) ? x : NONFINITE_TAG + String(x);
}

/** The values of a tensor as JS numbers / booleans (float16 decoded; 64-bit integers as numbers; see NONFINITE_TAG). */
export function toJsonValues(t: { dtype: ServeDType; data: ServeArray }): (number | boolean | string)[] {
  const d = t.data;
  switch (t.dtype) {
    case 'string': return Array.from(d as string[]);
    case 'float16': return finite(Array.from(d as Uint16Array, halfToFloat));
    case 'bool': return Array.from(d as Uint8Array, (x) => x !== 0);
    case 'int64':
    case 'uint64': return Array.from(d as BigInt64Array, (x) => Number(x));
    case 'float32':
    case 'float64': return finite(Array.from(d as Float32Array));
    default: return Array.from(d as Float32Array);
  }
}

function finite(xs: number[]): number[] {
  for (let i = 0; i < xs.length; i++) if (!Number.isFinite(xs[i]!)) (xs as unknown[])[i] = markNonFinite(xs[i]!);
  return xs;
}

/** JSON.stringify of a response, non-finite values written as NaN / Infinity / -Infinity (see NONFINITE_TAG). */
export function stringifyResponse(v: unknown): string {
  const s = JSON.stringify(v);
  return s.includes(NONFINITE_TAG.slice(1)) ? s.replace(NONFINITE_RE, '$1') : s;
}

/** Nested lists of `shape` over flat values (TF Serving's output form). */
export function toNested<T>(flat: T[], shape: readonly number[], offset = 0): unknown {
  if (shape.length === 0) return flat[offset];
  const [d, ...rest] = shape;
  const inner = volume(rest);
  const out = new Array(d);
  if (rest.length === 0) {
    for (let i = 0; i < d!; i++) out[i] = flat[offset + i];
    return out;
  }
  for (let i = 0; i < d!; i++) out[i] = toNested(flat, rest, offset + i * inner);
  return out;
}

/** The raw bytes of a typed array (a view, no copy); of strings, their BYTES form (encodeStrings). */
export function bytesOf(data: ServeArray): Buffer {
  if (Array.isArray(data)) return encodeStrings(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Checks a decoded tensor against the model's input: dtype and rank must match, static dimensions must be equal.
 * Says what was expected.
 */
export function checkAgainstSpec(t: Tensor, spec: TensorSpec, batched: boolean): void {
  if (t.dtype !== spec.dtype) {
    throw invalidArg(`input '${spec.name}': expected datatype ${KSERVE_DTYPES[spec.dtype]} (${TF_DTYPES[spec.dtype]}); got ${KSERVE_DTYPES[t.dtype]}`);
  }
  const ok = t.shape.length === spec.shape.length && spec.shape.every((d, i) => d < 0 || d === t.shape[i]);
  if (!ok) {
    throw invalidArg(`input '${spec.name}': shape ${fmtShape(t.shape)} does not match the model's ${fmtShape(spec.shape)} (-1: any size)`);
  }
  if (batched && t.shape[0] === 0) throw invalidArg(`input '${spec.name}': the batch dimension is 0`);
  if (volume(t.shape) !== t.data.length) {
    throw new TensorRTError('INVALID_ARGUMENT', `input '${spec.name}': shape ${fmtShape(t.shape)} holds ${volume(t.shape)} values; got ${t.data.length}`);
  }
}

// ------------------------------------------------------------------------------------------------------------------
// Errors -> HTTP (both protocols answer `{"error": "..."}`)

/**
 * The HTTP status of an error, as TF Serving maps its status codes (INVALID_ARGUMENT 400, NOT_FOUND 404,
 * UNAVAILABLE 503, DEADLINE_EXCEEDED 504); anything else is the server's fault (500).
 */
export function httpStatusFor(e: unknown): number {
  const code = e instanceof TensorRTError ? e.code : undefined;
  switch (code) {
    case 'INVALID_ARGUMENT': return 400;
    case 'NOT_FOUND': return 404;
    case 'UNAVAILABLE': return 503;
    case 'DEADLINE_EXCEEDED': return 504;
    default: return 500;
  }
}

/** Parses a request body (a Buffer) as JSON; bad JSON is the client's mistake (INVALID_ARGUMENT). */
export function parseJsonBody(body: unknown, what = 'the request body'): Record<string, unknown> {
  let v: unknown;
  if (Buffer.isBuffer(body)) {
    if (body.length === 0) throw invalidArg(`${what} is empty; expected a JSON object`);
    try {
      v = JSON.parse(body.toString('utf8'));
    } catch (e) {
      throw invalidArg(`${what} is not valid JSON: ${(e as Error).message}`);
    }
  } else {
    v = body;
  }
  return jsonObject(v, what);
}

function jsonObject(v: unknown, what: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v) || isPacked(v)) throw invalidArg(`${what} must be a JSON object; got ${v === undefined ? 'nothing' : isPacked(v) ? 'an array' : describe(v)}`);
  return v as Record<string, unknown>;
}

/**
 * parseJsonBody for the protocols' request bodies: one of OFFLOAD_BYTES or more is parsed in a worker thread, so
 * that the event loop never waits on a large JSON.parse (json-offload.ts); its large numeric lists come back packed,
 * which fromFlat / fromNested read like the lists. Bodies of TURN_BYTES or more parsed here wait for their turn,
 * one per event-loop iteration (turns.ts) — or, with TENSORRT_NODE_JSON_OFFLOAD_BUSY=1 while other parses wait or
 * run in the workers, go to a worker too (json-offload.ts: OFFLOAD_WHEN_BUSY).
 */
export async function parseJsonRequest(body: unknown, what = 'the request body'): Promise<Record<string, unknown>> {
  if (!Buffer.isBuffer(body) || body.length < TURN_BYTES) return parseJsonBody(body, what);
  if (body.length < OFFLOAD_BYTES && !(OFFLOAD_WHEN_BUSY && (turnsWaiting() > 0 || jsonWorkersPending() > 0))) {
    await nextTurn(); // one such parse per event-loop turn (turns.ts)
    return parseJsonBody(body, what);
  }
  return jsonObject(await parseJsonOffThread(body, what, MAX_NESTING), what);
}

export { isPacked };
