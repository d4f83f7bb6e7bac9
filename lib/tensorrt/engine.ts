import type { TensorRTNative } from '../addon';
/**
 * `Engine`: a deserialized TensorRT engine (ICudaEngine). Read its I/O tensors, sizes and layer information,
 * serialize it again, and create `ExecutionContext`s to run it.
 *
 * ```ts
 * const engine = await Engine.load('model.engine');
 * console.log(engine.inputs); // [{ name: 'x', dtype: 'float32', shape: [-1, 3, 224, 224], profiles: [...] }]
 * const ctx = engine.createExecutionContext();
 * const { y } = await ctx.infer({ x: { data: new Float32Array(3 * 224 * 224), shape: [1, 3, 224, 224] } });
 * ```
 *
 * Engines are shared: create one context per concurrent request from the same engine. A context keeps its engine
 * alive; `engine.dispose()` makes this object unusable at once, and TensorRT's engine is freed when its last
 * context is disposed (or collected) too.
 */
import { awaitNative, callNative, invalidArg, TensorRTError } from '../errors';
import type { DataType } from '../dtypes';
import { ExecutionContext } from './context';
import type { IOTensor } from './io-tensor';
import { checkEngineSource, checkRuntimeOptions, createNativeRuntime, type EngineSource, type RuntimeOptions } from './engine-source';
import * as is from '../validate';

import type { ShapeRange } from './config';

export type { ShapeRange, IOTensor };

export interface InspectOptions {
  /** 'json' (default) or 'text' (one line per layer). */
  format?: 'json' | 'text';
  /** Report the shapes of this context (its input shapes must be set). */
  context?: ExecutionContext;
}

/**
 * The Runtime that deserialized an engine, as this file sees it. runtime.ts, which imports this file, widens it to
 * the whole `Runtime` (declaration merging), so `engine.runtime` is a `Runtime` to users while this file does not
 * import runtime.ts back.
 */
export interface EngineRuntime {
  readonly disposed: boolean;
}

declare module './context' {
  /** `ctx.engine` is the Engine that created the context (see ContextEngine in context.ts). */
  interface ContextEngine extends Engine {}
}

/** Keeps `new Engine(...)` for Engine.load and Runtime.deserialize. */
const ENGINE_TOKEN: unique symbol = Symbol('tensorrt-node:Engine');

function freezeTensor(t: TensorRTNative.RawIOTensor): IOTensor {
  const out: IOTensor = {
    name: t.name,
    mode: t.mode,
    dtype: t.dtype as DataType,
    shape: Object.freeze([...t.shape]) as number[],
    format: t.format,
    tensorFormat: t.tensorFormat,
    vectorizedDim: t.vectorizedDim,
    componentsPerElement: t.componentsPerElement,
    bytesPerComponent: t.bytesPerComponent,
    location: t.location,
    isShapeInferenceIO: t.isShapeInferenceIO,
  };
  const ranges = (r: TensorRTNative.RawShapeRange[]) =>
    Object.freeze(r.map((p) => Object.freeze({ min: Object.freeze([...p.min]), opt: Object.freeze([...p.opt]), max: Object.freeze([...p.max]) }))) as ShapeRange[];
  if (t.profiles) out.profiles = ranges(t.profiles);
  if (t.profileValues) out.profileValues = ranges(t.profileValues);
  return Object.freeze(out);
}

function checkInspectOptions(opts: unknown): { format: 'json' | 'text'; context?: ExecutionContext } {
  if (opts === undefined) return { format: 'json' };
  const o = is.options(opts, 'inspect', ['format', 'context']);
  const format = is.optional(o, 'format', (v, w) => is.oneOf(v, w, ['json', 'text'] as const), 'inspect: format') ?? 'json';
  if (o.context !== undefined && !(o.context instanceof ExecutionContext)) throw invalidArg('inspect: context must be an ExecutionContext');
  return { format, context: o.context as ExecutionContext | undefined };
}

export class Engine {
  /** @internal */ readonly _native: TensorRTNative.Engine;
  /** The Runtime that deserialized this engine (null for `Engine.load`, whose engine owns a runtime of its own). */
  readonly runtime: EngineRuntime | null;
  /** The runtime `Engine.load` created, released with the engine. */
  private readonly ownRuntime: TensorRTNative.Runtime | null;
  private io: readonly IOTensor[] | null = null;

  /** @internal Engines come from `Runtime.deserialize` or `Engine.load`. */
  private constructor(token: symbol, native: TensorRTNative.Engine, runtime: EngineRuntime | null, ownRuntime: TensorRTNative.Runtime | null) {
    if (token !== ENGINE_TOKEN) throw invalidArg('Engines come from Engine.load() or Runtime.deserialize()');
    this._native = native;
    this.runtime = runtime;
    this.ownRuntime = ownRuntime;
  }

  /** @internal */
  static _wrap(native: TensorRTNative.Engine, runtime: EngineRuntime): Engine {
    return new Engine(ENGINE_TOKEN, native, runtime, null);
  }

  /**
   * Deserializes an engine (bytes or a file path) with a Runtime of its own, released with the engine.
   * Rejects TENSORRT_UNAVAILABLE / IO_ERROR / DESERIALIZE_ERROR / INVALID_ARGUMENT.
   */
  static async load(data: EngineSource, options?: RuntimeOptions): Promise<Engine> {
    const src = checkEngineSource(data, 'Engine.load');
    const runtime = createNativeRuntime(checkRuntimeOptions(options));
    try {
      const native = await awaitNative(callNative(() => runtime.deserialize(src)));
      return new Engine(ENGINE_TOKEN, native, null, runtime);
    } catch (e) {
      runtime.dispose();
      throw e;
    }
  }

  get disposed(): boolean {
    return this._native.disposed;
  }

  private check(what: string): void {
    if (this._native.disposed) throw new TensorRTError('DISPOSED', `Engine has been disposed (${what})`);
  }

  /** Every I/O tensor, in the engine's order (frozen objects). */
  get ioTensors(): readonly IOTensor[] {
    this.check('ioTensors');
    if (!this.io) {
      const raw = callNative(() => this._native.ioTensors());
      this.io = Object.freeze(raw.map(freezeTensor));
    }
    return this.io;
  }

  get inputs(): readonly IOTensor[] {
    return this.ioTensors.filter((t) => t.mode === 'input');
  }

  get outputs(): readonly IOTensor[] {
    return this.ioTensors.filter((t) => t.mode === 'output');
  }

  /** The I/O tensor called `name` (INVALID_ARGUMENT naming the tensors when there is none). */
  tensor(name: string): IOTensor {
    is.string(name, 'Engine.tensor: the tensor name');
    const t = this.ioTensors.find((x) => x.name === name);
    if (!t) {
      throw invalidArg(`the engine has no I/O tensor named ${JSON.stringify(name)} (I/O tensors: ${this.ioTensors.map((x) => x.name).join(', ')})`);
    }
    return t;
  }

  get numOptimizationProfiles(): number {
    this.check('numOptimizationProfiles');
    return this._native.numOptimizationProfiles;
  }

  /** Bytes of scratch device memory each execution context allocates (getDeviceMemorySizeV2). */
  get deviceMemorySize(): number {
    this.check('deviceMemorySize');
    return this._native.deviceMemorySize;
  }

  /** Scratch memory needed for one profile (-1 when the TensorRT version cannot tell). */
  deviceMemorySizeForProfile(profile: number): number {
    this.check('deviceMemorySizeForProfile');
    const n = this.numOptimizationProfiles;
    if (!Number.isInteger(profile) || profile < 0 || profile >= n) {
      throw invalidArg(`profile must be an integer in [0, ${n}); got ${String(profile)}`);
    }
    return callNative(() => this._native.deviceMemorySizeForProfile(profile));
  }

  get numLayers(): number {
    this.check('numLayers');
    return this._native.numLayers;
  }

  get name(): string {
    this.check('name');
    return this._native.name;
  }

  get numAuxStreams(): number {
    this.check('numAuxStreams');
    return this._native.numAuxStreams;
  }

  /** How much layer information the engine keeps: 'layerNamesOnly' (default), 'none' or 'detailed'. */
  get profilingVerbosity(): string {
    this.check('profilingVerbosity');
    return this._native.profilingVerbosity;
  }

  /** 'none', 'amperePlus' or 'sameComputeCapability'. */
  get hardwareCompatibilityLevel(): string {
    this.check('hardwareCompatibilityLevel');
    return this._native.hardwareCompatibilityLevel;
  }

  /**
   * Whether the engine was built with the 'refit' flag. tensorrt-node has no IRefitter: refit such a plan with
   * TensorRT's own tools (Python API, trtexec) and load the result.
   */
  get refittable(): boolean {
    this.check('refittable');
    return this._native.refittable;
  }

  /** Bytes of weights that can be streamed (0 unless built with the 'weightStreaming' flag). */
  get streamableWeightsSize(): number {
    this.check('streamableWeightsSize');
    return this._native.streamableWeightsSize;
  }

  /**
   * The weight-streaming budget in bytes (getWeightStreamingBudgetV2; streamableWeightsSize means no streaming);
   * undefined before TensorRT 10.1, which has no V2 weight-streaming API.
   */
  get weightStreamingBudget(): number | undefined {
    this.check('weightStreamingBudget');
    return this._native.weightStreamingBudget;
  }

  /** The budget TensorRT would choose (getWeightStreamingAutomaticBudget); undefined before TensorRT 10.1. */
  get weightStreamingAutomaticBudget(): number | undefined {
    this.check('weightStreamingAutomaticBudget');
    return this._native.weightStreamingAutomaticBudget;
  }

  /** Extra device memory each execution context needs while streaming; undefined before TensorRT 10.1. */
  get weightStreamingScratchMemorySize(): number | undefined {
    this.check('weightStreamingScratchMemorySize');
    return this._native.weightStreamingScratchMemorySize;
  }

  /**
   * Sets how many bytes of weights stay on the GPU (setWeightStreamingBudgetV2): 0 streams them all,
   * streamableWeightsSize disables streaming. Only for engines built with the 'weightStreaming' flag, and only while
   * the engine has no execution context (TensorRT's rule). While weights stream, enqueueV3 is synchronous: infer()
   * and enqueueAsync() then call it on a work thread. UNSUPPORTED before TensorRT 10.1.
   */
  setWeightStreamingBudget(bytes: number): void {
    this.check('setWeightStreamingBudget');
    const n = is.integer(bytes, 'setWeightStreamingBudget: bytes', 0);
    callNative(() => this._native.setWeightStreamingBudget(n));
  }

  /** CUDA device the engine lives on (the device current when it was deserialized). */
  get device(): number {
    this.check('device');
    return this._native.device;
  }

  /** Size in bytes of the serialized engine it was deserialized from. */
  get serializedSize(): number {
    this.check('serializedSize');
    return this._native.serializedSize;
  }

  /** The serialized engine (a copy; write it to a `.engine` file and `Engine.load` it later). */
  serialize(): Buffer {
    this.check('serialize');
    return callNative(() => this._native.serialize());
  }

  /**
   * The engine inspector's description (IEngineInspector::getEngineInformation): JSON text by default, one line
   * per layer with `{ format: 'text' }`. How much it tells depends on the profiling verbosity the engine was built
   * with (`profilingVerbosity: 'detailed'` in the builder config for every layer's parameters).
   */
  inspect(opts?: InspectOptions): string {
    this.check('inspect');
    const o = checkInspectOptions(opts);
    if (o.context?.disposed) throw new TensorRTError('DISPOSED', 'ExecutionContext has been disposed (inspect)');
    return callNative(() => this._native.inspect(o.format, o.context?._native));
  }

  /** The inspector's description of one layer (0 <= index < numLayers). */
  inspectLayer(index: number, opts?: InspectOptions): string {
    this.check('inspectLayer');
    const o = checkInspectOptions(opts);
    const n = this.numLayers;
    if (!Number.isInteger(index) || index < 0 || index >= n) throw invalidArg(`layer index must be an integer in [0, ${n}); got ${String(index)}`);
    if (o.context?.disposed) throw new TensorRTError('DISPOSED', 'ExecutionContext has been disposed (inspectLayer)');
    return callNative(() => this._native.inspectLayer(index, o.format, o.context?._native));
  }

  /** A new execution context (its own scratch memory, stream and I/O buffers). One per concurrent request. */
  createExecutionContext(): ExecutionContext {
    this.check('createExecutionContext');
    const native = callNative(() => this._native.createExecutionContext());
    return ExecutionContext._wrap(native, this);
  }

  /** Unusable from now on; TensorRT's engine is freed with its last execution context. Idempotent. */
  dispose(): void {
    this._native.dispose();
    this.ownRuntime?.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

