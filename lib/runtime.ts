import type { TensorRTNative } from './addon';
/**
 * `Runtime`: TensorRT's IRuntime, which turns serialized engines (`.engine` / `.plan` bytes, as written by
 * `buildSerializedNetwork` or trtexec) into `Engine`s.
 *
 * ```ts
 * const runtime = new Runtime();
 * const engine = await runtime.deserialize('model.engine'); // or a Buffer / Uint8Array
 * ```
 * Deserialization runs on a worker thread (files are read there too). Empty, corrupt, truncated or incompatible
 * data (another TensorRT version, another GPU) rejects with `TensorRTError('DESERIALIZE_ERROR')` carrying what
 * TensorRT said; an unreadable file rejects with `IO_ERROR`. Without TensorRT every entry point throws
 * `TENSORRT_UNAVAILABLE` saying why (see `runtimeInfo()`).
 *
 * Lifetimes: an Engine keeps what it needs of its Runtime alive, so disposing the Runtime right after
 * deserializing is fine (`Engine.load` does exactly that).
 */
import { types } from 'util';
import { awaitNative, callNative, invalidArg, TensorRTError } from './errors';
import { getTrtNative } from './native';
import { Engine } from './engine';

export interface RuntimeOptions {
  /** DLA core used by engines built for DLA (IRuntime::setDLACore). */
  dlaCore?: number;
  /** Threads TensorRT may use for deserialization and execution (IRuntime::setMaxThreads). */
  maxThreads?: number;
  /** Allow engines that carry host code (version-compatible engines with the lean runtime embedded). */
  engineHostCodeAllowed?: boolean;
}

/** Engine data accepted by `deserialize` / `Engine.load`: the serialized bytes or a file path. */
export type EngineSource = Uint8Array | ArrayBuffer | ArrayBufferView | string;

/**
 * Checks the argument of `deserialize` / `Engine.load` (types only: emptiness and content are TensorRT's call,
 * reported as DESERIALIZE_ERROR). Exported for tests.
 */
export function checkEngineSource(data: unknown, what = 'deserialize'): EngineSource {
  if (typeof data === 'string') {
    if (data.length === 0) throw invalidArg(`${what}: the engine path is an empty string`);
    if (data.includes('\0')) throw invalidArg(`${what}: the engine path contains a NUL character`);
    return data;
  }
  if (types.isArrayBuffer(data)) return data;
  if (ArrayBuffer.isView(data)) {
    if (types.isSharedArrayBuffer(data.buffer)) throw invalidArg(`${what}: views of a SharedArrayBuffer are not supported`);
    return data;
  }
  if (types.isSharedArrayBuffer(data)) throw invalidArg(`${what}: SharedArrayBuffer is not supported; pass a Uint8Array`);
  const got = data === null ? 'null' : Array.isArray(data) ? 'an array' : typeof data;
  throw invalidArg(`${what}: expected the engine bytes (Uint8Array / Buffer / ArrayBuffer) or a file path; got ${got}`);
}

export function checkRuntimeOptions(options: unknown): RuntimeOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArg('Runtime options must be an object');
  }
  const o = options as Record<string, unknown>;
  const allowed = ['dlaCore', 'maxThreads', 'engineHostCodeAllowed'];
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw invalidArg(`Runtime: unknown option '${k}' (allowed: ${allowed.join(', ')})`);
  }
  const out: RuntimeOptions = {};
  const int = (k: 'dlaCore' | 'maxThreads', lo: number, hi: number) => {
    const v = o[k];
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
      throw invalidArg(`Runtime option ${k} must be an integer in [${lo}, ${hi}]; got ${String(v)}`);
    }
    out[k] = v;
  };
  int('dlaCore', 0, 1024);
  int('maxThreads', 1, 4096);
  if (o.engineHostCodeAllowed !== undefined) {
    if (typeof o.engineHostCodeAllowed !== 'boolean') throw invalidArg('Runtime option engineHostCodeAllowed must be a boolean');
    out.engineHostCodeAllowed = o.engineHostCodeAllowed;
  }
  return out;
}

export class Runtime {
  /** @internal */ readonly _native: TensorRTNative.Runtime;

  /** Creates an IRuntime (throws TENSORRT_UNAVAILABLE when TensorRT cannot be loaded, with the reason). */
  constructor(options: RuntimeOptions = {}) {
    const o = checkRuntimeOptions(options);
    const native = getTrtNative();
    const N = native.Runtime;
    if (!N) {
      throw new TensorRTError('TENSORRT_UNAVAILABLE', 'this tensorrt-node addon has no Runtime class (built without the runtime sources)');
    }
    this._native = callNative(() => new N(o));
  }

  get disposed(): boolean {
    return this._native.disposed;
  }

  /** Number of DLA cores the runtime can use. */
  get numDlaCores(): number {
    this.check('numDlaCores');
    return callNative(() => this._native.numDlaCores);
  }

  /**
   * Deserializes an engine from its bytes (copied before this returns, so the buffer may be reused at once) or from
   * a file path (read on the worker thread). Uses the CUDA device current at the call.
   */
  async deserialize(data: EngineSource): Promise<Engine> {
    const src = checkEngineSource(data, 'Runtime.deserialize');
    this.check('deserialize');
    const native = await awaitNative(callNative(() => this._native.deserialize(src)));
    return Engine._wrap(native, this);
  }

  /** Releases the runtime (engines already deserialized keep working). Idempotent. */
  dispose(): void {
    this._native.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  private check(what: string): void {
    if (this._native.disposed) throw new TensorRTError('DISPOSED', `Runtime has been disposed (${what})`);
  }
}
