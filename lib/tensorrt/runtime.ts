import type { TensorRTNative } from '../addon';
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
import { awaitNative, callNative, TensorRTError } from '../errors';
import { Engine } from './engine';
import {
  checkEngineSource, checkRuntimeOptions, createNativeRuntime, RUNTIME_FLAVORS, type EngineSource, type RuntimeFlavor, type RuntimeOptions,
} from './engine-source';

export { checkEngineSource, checkRuntimeOptions, RUNTIME_FLAVORS, type EngineSource, type RuntimeFlavor, type RuntimeOptions };

declare module './engine' {
  /** `engine.runtime` is the Runtime that deserialized the engine (see EngineRuntime in engine.ts). */
  interface EngineRuntime extends Runtime {}
}

export class Runtime {
  /** @internal */ readonly _native: TensorRTNative.Runtime;

  /** Creates an IRuntime (throws TENSORRT_UNAVAILABLE when TensorRT cannot be loaded, with the reason). */
  constructor(options: RuntimeOptions = {}) {
    this._native = createNativeRuntime(checkRuntimeOptions(options));
  }

  get disposed(): boolean {
    return this._native.disposed;
  }

  /** The TensorRT library serving this runtime: 'full', 'lean' or 'dispatch' (RuntimeOptions.flavor). */
  get flavor(): RuntimeFlavor {
    return this._native.flavor ?? 'full';
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
