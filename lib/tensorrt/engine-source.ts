import type { TensorRTNative } from '../addon';
/**
 * The arguments of `Runtime` and `Engine.load`: runtime options and engine data, and their checks. A leaf module
 * (runtime.ts and engine.ts both import it; runtime.ts imports engine.ts, never the other way).
 */
import { callNative, invalidArg, TensorRTError } from '../errors';
import { getTrtNative } from '../native';
import * as is from '../validate';

export interface RuntimeOptions {
  /** DLA core used by engines built for DLA (IRuntime::setDLACore). */
  dlaCore?: number;
  /** Threads TensorRT may use for deserialization and execution (IRuntime::setMaxThreads). */
  maxThreads?: number;
  /** Allow engines that carry host code (version-compatible engines with the lean runtime embedded). */
  engineHostCodeAllowed?: boolean;
  /**
   * Which TensorRT library serves this runtime: 'full' (libnvinfer), 'lean' (libnvinfer_lean: version-compatible
   * engines only) or 'dispatch' (libnvinfer_dispatch: version-compatible plans embedding the lean runtime, which
   * needs `engineHostCodeAllowed: true`). Default: the process's library (`TENSORRT_NODE_RUNTIME`, else libnvinfer,
   * else the lean / dispatch runtime where libnvinfer is absent); see `runtimeInfo().tensorrt.flavor`.
   */
  flavor?: RuntimeFlavor;
}

/** The TensorRT libraries a Runtime can use (see RuntimeOptions.flavor). */
export type RuntimeFlavor = 'full' | 'lean' | 'dispatch';
export const RUNTIME_FLAVORS: readonly RuntimeFlavor[] = ['full', 'lean', 'dispatch'];

/** Engine data accepted by `deserialize` / `Engine.load`: the serialized bytes or a file path. */
export type EngineSource = Uint8Array | ArrayBuffer | ArrayBufferView | string;

/**
 * Checks the argument of `deserialize` / `Engine.load` (types only: emptiness and content are TensorRT's call,
 * reported as DESERIALIZE_ERROR). Exported for tests.
 */
export function checkEngineSource(data: unknown, what = 'deserialize'): EngineSource {
  return is.pathOrBytes(data, `${what}: the engine`, 'the engine bytes (Uint8Array / Buffer / ArrayBuffer) or a file path', { anyView: true });
}

export function checkRuntimeOptions(options: unknown): RuntimeOptions {
  const o = is.options(options, 'Runtime', ['dlaCore', 'maxThreads', 'engineHostCodeAllowed', 'flavor']);
  const out: RuntimeOptions = {};
  const dlaCore = is.optional(o, 'dlaCore', (v, w) => is.integer(v, w, 0, 1024), 'Runtime option dlaCore');
  const maxThreads = is.optional(o, 'maxThreads', (v, w) => is.integer(v, w, 1, 4096), 'Runtime option maxThreads');
  const hostCode = is.optional(o, 'engineHostCodeAllowed', is.boolean, 'Runtime option engineHostCodeAllowed');
  if (dlaCore !== undefined) out.dlaCore = dlaCore;
  if (maxThreads !== undefined) out.maxThreads = maxThreads;
  if (hostCode !== undefined) out.engineHostCodeAllowed = hostCode;
  const flavor = o.flavor;
  if (flavor !== undefined) {
    if (typeof flavor !== 'string' || !(RUNTIME_FLAVORS as readonly string[]).includes(flavor)) {
      throw invalidArg(`Runtime option flavor must be one of ${RUNTIME_FLAVORS.join(', ')}; got ${JSON.stringify(flavor) ?? String(flavor)}`);
    }
    out.flavor = flavor as RuntimeFlavor;
  }
  return out;
}

/** A native IRuntime with checked options (TENSORRT_UNAVAILABLE when TensorRT cannot be loaded, with the reason). */
export function createNativeRuntime(options: RuntimeOptions): TensorRTNative.Runtime {
  const N = getTrtNative().Runtime;
  if (!N) {
    throw new TensorRTError('TENSORRT_UNAVAILABLE', 'this tensorrt-node addon has no Runtime class (built without the runtime sources)');
  }
  return callNative(() => new N(options));
}
