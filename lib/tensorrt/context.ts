import type { TensorRTNative } from '../addon';
/**
 * `ExecutionContext`: runs an `Engine` (IExecutionContext).
 *
 * Two ways to run:
 * - `infer(inputs)`: the convenient one. Checks names, dtypes, shapes and lengths against the engine; sets the input
 *   shapes; copies the inputs through pinned staging memory into device buffers owned by the context (allocated on
 *   first use, grown when needed, reused afterwards); runs `enqueueV3`; copies the outputs back; and resolves with one
 *   typed array per output (`inferWithShapes` also gives their shapes). Everything is queued on the context's own
 *   CUDA stream (or `options.stream`); the Promise settles when the GPU is done, without blocking the event loop.
 *   With `{ cudaGraph: true }` the first call with given shapes runs normally and captures `enqueueV3` into a CUDA
 *   graph; later calls with the same shapes replay that graph (less CPU launch overhead). Capture failures reject
 *   with `UNSUPPORTED` and leave the context usable without `cudaGraph`.
 * - the TensorRT way: `setInputShape`, `setTensorAddress` (your `DeviceBuffer`s), `enqueue(stream)`, and optionally
 *   `captureGraph(stream)` / `replay(stream)`; you synchronize with `stream.synchronize()` or an `Event`.
 *
 * One context is not thread-safe: calls to `infer()` on one context are queued and run one after the other. For
 * concurrent requests use one context per request (each has its own stream and buffers); engines are shared.
 *
 * Memory: device and pinned buffers are reported to V8 as external memory and freed by `dispose()` (after any
 * `infer()` in flight has completed) or when the context is garbage-collected. Use after dispose: DISPOSED.
 */
import { types } from 'util';
import { awaitNative, callNative, invalidArg, TensorRTError } from '../errors';
import { DATA_TYPES, DataType, elementCount, TypedArray } from '../dtypes';
import { DeviceBuffer, Stream } from '../cuda';
import type { IOTensor } from './io-tensor';
import * as is from '../validate';
import { describe } from '../validate';

/** An input of `infer()`: a typed array (shape taken from the engine / context) or data with its shape. */
export type InferInput = TypedArray | { data: TypedArray; shape: readonly number[]; dtype?: string };
export type InferInputs = Record<string, InferInput>;

export interface InferOptions {
  /** Stream to run on (default: the context's own stream). */
  stream?: Stream;
  /** Capture enqueueV3 into a CUDA graph on the first call with given shapes, replay it afterwards. */
  cudaGraph?: boolean;
}

export interface InferTensor {
  data: TypedArray;
  shape: number[];
  dtype: DataType;
}

export interface CaptureGraphOptions {
  /** Run enqueueV3 once before capturing (TensorRT requires a run after shape changes). Default true. */
  warmup?: boolean;
}

/** A checked input, ready for the native layer. */
export interface ResolvedInput {
  name: string;
  dtype: DataType;
  shape: number[];
  data: TypedArray;
}

// ------------------------------------------------------------------------------------------------------------------
// Pure validation (exported for tests)

/** Typed array classes that carry each dtype (float16 / bfloat16 as Uint16Array bit patterns). */
export const ARRAY_TYPES_FOR: Readonly<Record<DataType, readonly string[]>> = {
  float32: ['Float32Array'],
  float16: ['Uint16Array'],
  bfloat16: ['Uint16Array'],
  int8: ['Int8Array'],
  uint8: ['Uint8Array'],
  int32: ['Int32Array'],
  int64: ['BigInt64Array'],
  bool: ['Uint8Array', 'Int8Array'],
  fp8: ['Uint8Array'],
  int4: [],
  fp4: [],
};

/** The class name of a typed array (works across realms), or null for anything else. */
export function typedArrayName(x: unknown): string | null {
  if (!ArrayBuffer.isView(x) || types.isDataView(x)) return null;
  const tag = (x as unknown as { [Symbol.toStringTag]: unknown })[Symbol.toStringTag];
  return typeof tag === 'string' ? tag : null;
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * The engine a context runs, as this file sees it: what it reads of it. engine.ts, which creates contexts and
 * imports this file, widens it to the whole `Engine` (declaration merging), so `ctx.engine` is an `Engine` to users
 * while this file does not import engine.ts back.
 */
export interface ContextEngine {
  readonly ioTensors: readonly IOTensor[];
  readonly numOptimizationProfiles: number;
}

/** Keeps `new ExecutionContext(...)` for Engine.createExecutionContext. */
const CONTEXT_TOKEN: unique symbol = Symbol('tensorrt-node:ExecutionContext');

const volume = elementCount;

/**
 * Checks a concrete shape for input `t` under optimization profile `profile`: non-negative integers, the engine's
 * rank, the engine's static dimensions, and the profile's [min, max] range for every dimension.
 */
export function checkInputShape(t: IOTensor, shape: unknown, profile: number, what = `input '${t.name}'`): number[] {
  if (!Array.isArray(shape) && !(ArrayBuffer.isView(shape) && typedArrayName(shape))) {
    throw invalidArg(`${what}: shape must be an array of dimensions; got ${describe(shape)}`);
  }
  const dims = Array.from(shape as ArrayLike<unknown>);
  for (const d of dims) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw invalidArg(`${what}: shape ${fmt(dims as number[])} must hold non-negative integers`);
    }
  }
  const s = dims as number[];
  if (s.length !== t.shape.length) {
    throw invalidArg(`${what}: shape ${fmt(s)} has rank ${s.length}; the engine's shape ${fmt(t.shape)} has rank ${t.shape.length}`);
  }
  for (let i = 0; i < s.length; i++) {
    if (t.shape[i] >= 0 && s[i] !== t.shape[i]) {
      throw invalidArg(`${what}: shape ${fmt(s)} does not match the engine's shape ${fmt(t.shape)} (dimension ${i} is fixed to ${t.shape[i]})`);
    }
  }
  const range = t.profiles?.[profile];
  if (range) {
    for (let i = 0; i < s.length; i++) {
      if (s[i] < range.min[i] || s[i] > range.max[i]) {
        throw invalidArg(
          `${what}: shape ${fmt(s)} is outside optimization profile ${profile} ` +
            `(min ${fmt(range.min)}, max ${fmt(range.max)}; dimension ${i} must be in [${range.min[i]}, ${range.max[i]}])`,
        );
      }
    }
  }
  return s;
}

/** Whether `arr` is a typed array that carries `dtype`. */
export function arrayMatchesDtype(dtype: DataType, arr: unknown): boolean {
  const name = typedArrayName(arr);
  return !!name && (ARRAY_TYPES_FOR[dtype] ?? []).includes(name);
}

function expectedArray(dtype: DataType): string {
  const names = ARRAY_TYPES_FOR[dtype] ?? [];
  return names.length ? names.join(' or ') : '(no typed array)';
}

export interface ResolveContext {
  /** The context's optimization profile. */
  profile: number;
  /** The shape currently set on the context for an input (dimensions -1 when not set). */
  currentShape?: (name: string) => readonly number[] | undefined;
}

/**
 * Checks the `inputs` of `infer()` against the engine's tensors and returns them with concrete shapes:
 * - every key must be an input of the engine and every input must be given;
 * - the data must be the typed array of the tensor's dtype (Float32Array for float32, Uint16Array for
 *   float16 / bfloat16, BigInt64Array for int64, Uint8Array for bool / uint8, ...);
 * - the shape is the one given (`{ data, shape }`), else the engine's static shape, else (one dynamic dimension)
 *   the one that the data's length implies, else the shape set on the context (setInputShape() or the last infer());
 * - the shape must fit the engine and the current optimization profile, and the length must match it.
 * Throws INVALID_ARGUMENT (UNSUPPORTED for sub-byte types, which infer() cannot carry).
 */
export function resolveInferInputs(tensors: readonly IOTensor[], inputs: unknown, ctx: ResolveContext): ResolvedInput[] {
  if (inputs === null || typeof inputs !== 'object' || Array.isArray(inputs) || ArrayBuffer.isView(inputs)) {
    throw invalidArg(`infer: inputs must be an object { [inputName]: TypedArray | { data, shape } }; got ${describe(inputs)}`);
  }
  const ins = tensors.filter((t) => t.mode === 'input');
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const given = inputs as Record<string, unknown>;
  for (const k of Object.keys(given)) {
    const t = byName.get(k);
    if (!t) throw invalidArg(`infer: the engine has no input named ${JSON.stringify(k)} (inputs: ${ins.map((x) => x.name).join(', ')})`);
    if (t.mode !== 'input') throw invalidArg(`infer: ${JSON.stringify(k)} is an output of the engine, not an input`);
  }
  const out: ResolvedInput[] = [];
  for (const t of ins) {
    if (!Object.prototype.hasOwnProperty.call(given, t.name) || given[t.name] === undefined) {
      throw invalidArg(`infer: input '${t.name}' (${t.dtype} ${fmt(t.shape)}) is missing`);
    }
    const v = given[t.name];
    let data: unknown;
    let shape: unknown;
    if (typedArrayName(v)) {
      data = v;
    } else if (v && typeof v === 'object' && !Array.isArray(v) && 'data' in v) {
      const o = v as { data: unknown; shape?: unknown; dtype?: unknown };
      for (const k of Object.keys(o)) {
        if (k !== 'data' && k !== 'shape' && k !== 'dtype') throw invalidArg(`infer: input '${t.name}': unknown field '${k}' (data, shape, dtype)`);
      }
      data = o.data;
      shape = o.shape;
      if (o.dtype !== undefined && o.dtype !== t.dtype) {
        throw invalidArg(`infer: input '${t.name}' is ${t.dtype}; got data declared as ${String(o.dtype)}`);
      }
    } else {
      throw invalidArg(`infer: input '${t.name}' must be a typed array or { data, shape }; got ${describe(v)}`);
    }
    if (!(t.dtype in ARRAY_TYPES_FOR)) {
      throw new TensorRTError('UNSUPPORTED', `infer: input '${t.name}' has dtype ${t.dtype}, which this version of tensorrt-node cannot pass; use enqueue()`);
    }
    if (ARRAY_TYPES_FOR[t.dtype].length === 0) {
      throw new TensorRTError('UNSUPPORTED', `infer: input '${t.name}' is ${t.dtype} (sub-byte), which infer() cannot pass; use setTensorAddress() and enqueue()`);
    }
    if (!arrayMatchesDtype(t.dtype, data)) {
      throw invalidArg(`infer: input '${t.name}' is ${t.dtype}: pass a ${expectedArray(t.dtype)}; got ${describe(data)}`);
    }
    const arr = data as TypedArray;
    if (types.isSharedArrayBuffer(arr.buffer)) throw invalidArg(`infer: input '${t.name}': views of a SharedArrayBuffer are not supported`);
    let dims: number[];
    if (shape !== undefined) {
      dims = checkInputShape(t, shape, ctx.profile, `infer: input '${t.name}'`);
    } else if (t.shape.every((d) => d >= 0)) {
      dims = [...t.shape];
    } else {
      const cur = ctx.currentShape?.(t.name);
      const dynamic = t.shape.filter((d) => d < 0).length;
      const known = volume(t.shape.filter((d) => d >= 0));
      if (dynamic === 1 && known > 0 && arr.length % known === 0) {
        dims = t.shape.map((d) => (d < 0 ? arr.length / known : d));
      } else if (cur && cur.length === t.shape.length && cur.every((d) => d >= 0)) {
        dims = [...cur];
      } else if (dynamic === 1) {
        throw invalidArg(`infer: input '${t.name}' has shape ${fmt(t.shape)}: ${arr.length} elements do not fill it; pass { data, shape }`);
      } else {
        throw invalidArg(`infer: input '${t.name}' has the dynamic shape ${fmt(t.shape)}: pass { data, shape } or call setInputShape() first`);
      }
      dims = checkInputShape(t, dims, ctx.profile, `infer: input '${t.name}'`);
    }
    const n = volume(dims);
    if (arr.length !== n) {
      throw invalidArg(`infer: input '${t.name}' of shape ${fmt(dims)} needs ${n} elements; got ${arr.length}`);
    }
    const values = t.isShapeInferenceIO ? t.profileValues?.[ctx.profile] : undefined;
    if (values) {
      for (let i = 0; i < arr.length && i < values.min.length; i++) {
        const x = Number(arr[i]);
        if (x < values.min[i] || x > values.max[i]) {
          throw invalidArg(
            `infer: shape-tensor input '${t.name}' value ${i} = ${x} is outside optimization profile ${ctx.profile} ` +
              `([${values.min[i]}, ${values.max[i]}])`,
          );
        }
      }
    }
    out.push({ name: t.name, dtype: t.dtype, shape: dims, data: arr });
  }
  return out;
}

export function checkInferOptions(opts: unknown): { stream?: Stream; cudaGraph: boolean } {
  if (opts === undefined) return { cudaGraph: false };
  const o = is.options(opts, 'infer', ['stream', 'cudaGraph']);
  if (o.stream !== undefined && !(o.stream instanceof Stream)) throw invalidArg(`infer: stream must be a Stream; got ${describe(o.stream)}`);
  if (o.cudaGraph !== undefined && typeof o.cudaGraph !== 'boolean') throw invalidArg(`infer: cudaGraph must be a boolean; got ${describe(o.cudaGraph)}`);
  return { stream: o.stream as Stream | undefined, cudaGraph: (o.cudaGraph as boolean | undefined) ?? false };
}

/** Native outputs (ArrayBuffers) as typed arrays of each output's dtype. */
export function wrapOutputs(tensors: readonly IOTensor[], raw: readonly TensorRTNative.RawInferOutput[]): Record<string, InferTensor> {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const out: Record<string, InferTensor> = {};
  for (const r of raw) {
    const t = byName.get(r.name);
    if (!t) throw new TensorRTError('INTERNAL', `infer returned an unknown tensor '${r.name}'`);
    const info = DATA_TYPES[t.dtype];
    if (!info?.array) throw new TensorRTError('UNSUPPORTED', `output '${r.name}' has dtype ${t.dtype}, which has no typed array`);
    const Ctor = info.array;
    const n = volume(r.shape);
    if (n * info.bytes !== r.buffer.byteLength) {
      throw new TensorRTError('INTERNAL', `output '${r.name}': ${r.buffer.byteLength} bytes for shape ${fmt(r.shape)} of ${t.dtype}`);
    }
    out[r.name] = { data: new Ctor(r.buffer, 0, n), shape: [...r.shape], dtype: t.dtype };
  }
  return out;
}

// ------------------------------------------------------------------------------------------------------------------

function checkStreamArg(s: unknown, what: string): TensorRTNative.Stream {
  if (!(s instanceof Stream)) throw invalidArg(`${what}: stream must be a Stream; got ${describe(s)}`);
  if (s.disposed) throw new TensorRTError('DISPOSED', `Stream has been disposed (${what})`);
  return s._native;
}

export class ExecutionContext {
  /** @internal */ readonly _native: TensorRTNative.ExecutionContext;
  /** The engine this context runs (kept alive by the context). */
  readonly engine: ContextEngine;
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;

  /** @internal Contexts come from `engine.createExecutionContext()`. */
  private constructor(token: symbol, native: TensorRTNative.ExecutionContext, engine: ContextEngine) {
    if (token !== CONTEXT_TOKEN) throw invalidArg('ExecutionContexts come from engine.createExecutionContext()');
    this._native = native;
    this.engine = engine;
  }

  /** @internal */
  static _wrap(native: TensorRTNative.ExecutionContext, engine: ContextEngine): ExecutionContext {
    return new ExecutionContext(CONTEXT_TOKEN, native, engine);
  }

  get disposed(): boolean {
    return this._native.disposed;
  }

  /** true while infer() calls are queued or running. */
  get busy(): boolean {
    return this.pending > 0;
  }

  /** Bytes of device scratch, I/O buffers and pinned staging this context holds. */
  get allocatedBytes(): number {
    return this._native.allocatedBytes;
  }

  private check(what: string): void {
    if (this._native.disposed) throw new TensorRTError('DISPOSED', `ExecutionContext has been disposed (${what})`);
  }

  private tensorOf(name: unknown, what: string): IOTensor {
    if (typeof name !== 'string') throw invalidArg(`${what}: tensor name must be a string; got ${describe(name)}`);
    const t = this.engine.ioTensors.find((x) => x.name === name);
    if (!t) {
      throw invalidArg(`${what}: the engine has no I/O tensor named ${JSON.stringify(name)} (I/O tensors: ${this.engine.ioTensors.map((x) => x.name).join(', ')})`);
    }
    return t;
  }

  /** Sets the shape of a (dynamic) input; it must fit the current optimization profile. */
  setInputShape(name: string, shape: readonly number[]): void {
    this.check('setInputShape');
    const t = this.tensorOf(name, 'setInputShape');
    if (t.mode !== 'input') throw invalidArg(`setInputShape: '${name}' is an output; only input shapes can be set`);
    const dims = checkInputShape(t, shape, this._native.optimizationProfile, `setInputShape('${name}')`);
    callNative(() => this._native.setInputShape(name, dims));
  }

  /** The tensor's shape in this context: inputs as set, outputs as inferred from the inputs (-1 while unknown). */
  getTensorShape(name: string): number[] {
    this.check('getTensorShape');
    this.tensorOf(name, 'getTensorShape');
    return callNative(() => this._native.getTensorShape(name));
  }

  get optimizationProfile(): number {
    this.check('optimizationProfile');
    return this._native.optimizationProfile;
  }

  /**
   * Selects optimization profile `index` (setOptimizationProfileAsync on `stream`, default the context's own
   * stream). Input shapes must be set again afterwards.
   */
  setOptimizationProfile(index: number, stream?: Stream): void {
    this.check('setOptimizationProfile');
    const n = this.engine.numOptimizationProfiles;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= n) {
      throw invalidArg(`setOptimizationProfile: index must be an integer in [0, ${n}); got ${describe(index)}`);
    }
    const s = stream === undefined ? undefined : checkStreamArg(stream, 'setOptimizationProfile');
    callNative(() => this._native.setOptimizationProfile(index, s));
  }

  /**
   * Binds device memory to a tensor for enqueue() / captureGraph(): a DeviceBuffer (kept alive while bound) or a raw
   * device address. A DeviceBuffer smaller than the tensor's current (fully known, linear) shape is refused.
   */
  setTensorAddress(name: string, address: DeviceBuffer | bigint): void {
    this.check('setTensorAddress');
    const t = this.tensorOf(name, 'setTensorAddress');
    if (address instanceof DeviceBuffer) {
      if (address.disposed) throw new TensorRTError('DISPOSED', `DeviceBuffer has been disposed (setTensorAddress('${name}'))`);
      const shape = this._native.getTensorShape(name);
      const info = DATA_TYPES[t.dtype];
      if (info && t.tensorFormat === 'linear' && shape.every((d) => d >= 0)) {
        const need = Math.ceil(volume(shape) * info.bytes);
        if (address.byteLength < need) {
          throw invalidArg(`setTensorAddress('${name}'): ${t.dtype} ${fmt(shape)} needs ${need} bytes; the DeviceBuffer has ${address.byteLength}`);
        }
      }
      callNative(() => this._native.setTensorAddress(name, address._native));
    } else if (typeof address === 'bigint') {
      if (address < 0n || address >= 1n << 64n) throw invalidArg(`setTensorAddress('${name}'): address ${address} is out of range`);
      callNative(() => this._native.setTensorAddress(name, address));
    } else {
      throw invalidArg(`setTensorAddress('${name}'): expected a DeviceBuffer or a bigint device address; got ${describe(address)}`);
    }
  }

  getTensorAddress(name: string): bigint {
    this.check('getTensorAddress');
    this.tensorOf(name, 'getTensorAddress');
    return callNative(() => this._native.getTensorAddress(name));
  }

  get allInputDimensionsSpecified(): boolean {
    this.check('allInputDimensionsSpecified');
    return this._native.allInputDimensionsSpecified;
  }

  /** enqueueV3 on `stream` with the shapes and addresses set. Throws TENSORRT_ERROR with TensorRT's words on failure. */
  enqueue(stream: Stream): void {
    this.check('enqueue');
    const s = checkStreamArg(stream, 'enqueue');
    callNative(() => this._native.enqueue(s));
  }

  /**
   * enqueue() as a Promise: enqueueV3 is called before this returns (so work queued on `stream` afterwards runs
   * after it), except for engines that stream their weights, whose enqueueV3 is synchronous: a work thread of the
   * addon calls it, and only awaiting this orders later work after it. Resolves once the work is queued on
   * `stream`; await `stream.synchronize()` (or an Event) for its completion. Queued behind infer() calls in flight,
   * like them (then its enqueueV3 comes when its turn has come: await those first when the order matters).
   */
  async enqueueAsync(stream: Stream): Promise<void> {
    this.check('enqueueAsync');
    const s = checkStreamArg(stream, 'enqueueAsync');
    return this.serialized(async () => {
      this.check('enqueueAsync');
      await awaitNative(callNative(() => this._native.enqueueAsync(s)));
    });
  }

  /**
   * Runs the engine on `inputs`; resolves with one typed array per output (see the module comment).
   * infer() binds its own device buffers: addresses set earlier with setTensorAddress are replaced, so set them
   * again before a later manual enqueue(). It waits for work queued earlier on this context by enqueue()/replay().
   */
  async infer(inputs: InferInputs, options?: InferOptions): Promise<Record<string, TypedArray>> {
    const r = await this.inferWithShapes(inputs, options);
    const out: Record<string, TypedArray> = {};
    for (const k of Object.keys(r)) out[k] = r[k].data;
    return out;
  }

  /** Like infer(), with each output's shape and dtype. */
  async inferWithShapes(inputs: InferInputs, options?: InferOptions): Promise<Record<string, InferTensor>> {
    this.check('infer');
    const o = checkInferOptions(options);
    if (o.stream?.disposed) throw new TensorRTError('DISPOSED', 'Stream has been disposed (infer)');
    const tensors = this.engine.ioTensors;
    // The native context is read only when this call's turn has come: an earlier infer() may be using it on a
    // work thread meanwhile (IExecutionContext is not thread-safe; the native getters refuse while it is busy).
    return this.serialized(async () => {
      this.check('infer');
      if (o.stream?.disposed) throw new TensorRTError('DISPOSED', 'Stream has been disposed (infer)');
      const resolved = resolveInferInputs(tensors, inputs, {
        profile: this._native.optimizationProfile,
        currentShape: (name) => this._native.getTensorShape(name),
      });
      const raw = await awaitNative(
        callNative(() =>
          this._native.infer(
            resolved.map((r) => ({ name: r.name, shape: r.shape, data: r.data })),
            o.stream?._native,
            o.cudaGraph,
          ),
        ),
      );
      return wrapOutputs(tensors, raw);
    });
  }

  /**
   * Captures enqueueV3 (with the current shapes and tensor addresses) into a CUDA graph on `stream`, after one
   * warm-up enqueue unless `{ warmup: false }`. Throws UNSUPPORTED when the engine cannot be captured.
   */
  captureGraph(stream: Stream, options: CaptureGraphOptions = {}): void {
    this.check('captureGraph');
    const s = checkStreamArg(stream, 'captureGraph');
    const o = is.options(options, 'captureGraph', ['warmup']);
    const warmup = is.optional(o, 'warmup', is.boolean, 'captureGraph: warmup') ?? true;
    if (this.pending > 0) throw invalidArg('captureGraph: infer() calls are in flight on this context; await them first');
    callNative(() => this._native.captureGraph(s, warmup));
  }

  /** Launches the captured graph on `stream` (same shapes, same addresses, new data in them). */
  replay(stream: Stream): void {
    this.check('replay');
    const s = checkStreamArg(stream, 'replay');
    if (!this._native.hasGraph) throw invalidArg('replay: no CUDA graph captured; call captureGraph() first');
    callNative(() => this._native.replay(s));
  }

  get hasGraph(): boolean {
    return !this._native.disposed && this._native.hasGraph;
  }

  releaseGraph(): void {
    this.check('releaseGraph');
    callNative(() => this._native.releaseGraph());
  }

  /** Frees the context's memory (after an infer() in flight has completed); queued infer() calls reject DISPOSED. */
  dispose(): void {
    this._native.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * Runs `job` after every earlier queued job has settled (one IExecutionContext runs one thing at a time). With
   * nothing queued it starts at once, so its native call queues the GPU work before the caller's call returns, ahead
   * of what the caller queues next on the same stream (review 2, #9).
   */
  private async serialized<T>(job: () => Promise<T>): Promise<T> {
    const prev = this.pending > 0 ? this.queue : null;
    let release!: () => void;
    this.queue = new Promise<void>((r) => (release = r));
    this.pending++;
    try {
      if (prev) await prev;
      return await job();
    } finally {
      this.pending--;
      release();
    }
  }
}
