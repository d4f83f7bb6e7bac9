import type { TensorRTNative } from './addon';
/**
 * runtimeInfo(): what tensorrt-node was compiled with, whether TensorRT can be loaded and which CUDA devices
 * are present, plus the TensorRT logger controls. Nothing here throws because something is missing.
 */
import { invalidArg } from './errors';
import { nativeLoadError, nativeSelection, packageRoot, tryGetNative } from './native';

/** Properties of one CUDA device (cudaGetDeviceProperties), e.g. `computeCapability` "9.0" for an H100. */
export type DeviceProperties = TensorRTNative.DeviceProperties;

/** One TensorRT library as the loader found it (runtimeInfo().tensorrt, probeTensorRT(flavor)). */
export interface TensorRTLibraryInfo {
  available: boolean;
  /**
   * Which library: 'full' (libnvinfer: builder, parser, refit, every engine), 'lean' (libnvinfer_lean) or
   * 'dispatch' (libnvinfer_dispatch), the runtime-only libraries of version-compatible engines. Absent only when
   * the addon is not loaded.
   */
  flavor?: 'full' | 'lean' | 'dispatch';
  /** Why this library serves the process: TENSORRT_NODE_RUNTIME, or that libnvinfer was absent. */
  selectedBecause?: string;
  /** Version of the library found, e.g. "10.16.1". */
  version?: string;
  /** With the build number (getInferLibBuildVersion), e.g. "10.16.1.11": the pip wheel's version. */
  buildVersion?: string;
  /** The library that was opened. */
  libraryPath?: string;
  /** The libnvonnxparser that was opened, when found. */
  onnxParserPath?: string;
  /** The libnvinfer_plugin whose plugins were registered (full), or the lean runtime's libnvinfer_vc_plugin. */
  pluginPath?: string;
  /** What this library cannot do (empty for the full library). */
  cannot?: string[];
  /** Why TensorRT cannot be used: what was missing and every path searched (or a note when available). */
  reason?: string;
}

export interface RuntimeInfo {
  compiledWith: {
    /** TensorRT header version compiled in, e.g. "10.16.0"; null when built without TensorRT headers. */
    tensorrt: string | null;
    /** CUDA runtime version compiled in, e.g. "13.0"; null when the addon is not loaded. */
    cuda: string | null;
    /** N-API version the addon targets. */
    napiVersion: number | null;
  };
  tensorrt: TensorRTLibraryInfo;
  /**
   * What the compiled TensorRT version supports (all false / empty without TensorRT headers): implicitInt8
   * (IInt8Calibrator, TensorRT 10), fp16Flag / int8Flag / bf16Flag / fp8Flag / int4Flag / fp4Flag / tf32Flag
   * (builder flags), bf16 / fp8 / int4 / fp4 / int64 (data types), stronglyTyped, alwaysStronglyTyped (11),
   * progressMonitor (build progress + cancellation), uff (TensorRT <= 8.6), versionCompatible, weightStreaming,
   * platformCapabilities, builderOptimizationLevel, hardwareCompatibility, sameComputeCapability, maxAuxStreams,
   * stripPlan, tacticSharedMemory, timingCache, onnxParser.
   */
  features: Record<string, boolean>;
  cuda: {
    available: boolean;
    /** cudaDriverGetVersion(), e.g. 13000 (absent without a driver). */
    driverVersion?: number;
    /** The driver's CUDA version as "major.minor". */
    driverCudaVersion?: string;
    /** CUDA runtime linked into the addon, e.g. "13.0". */
    runtimeVersion?: string;
    devices: DeviceProperties[];
    /** CUDA error enum name when CUDA is unavailable (e.g. "cudaErrorNoDevice"). */
    cudaError?: string;
    reason?: string;
  };
  /**
   * The native addon: loaded or why not; `file` and `selectedBecause`: which file lib/native.ts chose and why;
   * `kind`: `prebuilt` (shipped in the package), `source build` or `override` ($TENSORRT_NODE_ADDON); `variant`: the
   * prebuilt variant, `cuda` (CUDA only) or `trt<major>`.
   */
  addon: {
    loaded: boolean;
    packageRoot: string;
    reason?: string;
    file?: string;
    selectedBecause?: string;
    kind?: 'prebuilt' | 'source build' | 'override';
    variant?: string | null;
  };
  node: { version: string; napiVersion: string | undefined; platform: string; arch: string };
}

/** Describes the TensorRT and CUDA found at run time. Never throws. */
export function runtimeInfo(): RuntimeInfo {
  const node = {
    version: process.versions.node,
    napiVersion: process.versions.napi,
    platform: process.platform,
    arch: process.arch,
  };
  const addon = tryGetNative();
  if (!addon) {
    const reason = nativeLoadError ?? 'the native addon is not loaded';
    return {
      compiledWith: { tensorrt: null, cuda: null, napiVersion: null },
      tensorrt: { available: false, reason },
      features: {},
      cuda: { available: false, devices: [], reason },
      addon: { loaded: false, packageRoot, reason },
      node,
    };
  }
  let raw: TensorRTNative.RuntimeInfo;
  try {
    raw = addon.runtimeInfo();
  } catch (e) {
    const reason = `runtimeInfo failed: ${e instanceof Error ? e.message : String(e)}`;
    return {
      compiledWith: { tensorrt: null, cuda: null, napiVersion: null },
      tensorrt: { available: false, reason },
      features: {},
      cuda: { available: false, devices: [], reason },
      addon: { loaded: true, packageRoot, ...selected() },
      node,
    };
  }
  return {
    compiledWith: {
      tensorrt: raw.compiledWith?.tensorrt ?? null,
      cuda: raw.compiledWith?.cuda ?? null,
      napiVersion: raw.compiledWith?.napiVersion ?? null,
    },
    // A libnvinfer whose prebuilt variant is not shipped: say that (the CUDA-only addon's own reason would only say
    // it was built without TensorRT headers).
    tensorrt: {
      ...raw.tensorrt,
      ...(raw.tensorrt?.cannot ? { cannot: [...raw.tensorrt.cannot] } : {}),
      ...(nativeSelection?.missingVariant && !raw.tensorrt.available ? { reason: nativeSelection.missingVariant } : {}),
    },
    features: { ...(raw.features ?? addon.features ?? {}) },
    cuda: { ...raw.cuda, devices: (raw.cuda?.devices ?? []).map((d) => ({ ...d })) },
    addon: { loaded: true, packageRoot, ...selected() },
    node,
  };
}

/**
 * One TensorRT library, whatever the process uses: 'full', 'lean' or 'dispatch' (opened if not yet, which costs the
 * library's load time). Never throws for a missing library: `available: false` with the reason.
 */
export function probeTensorRT(flavor: 'full' | 'lean' | 'dispatch'): TensorRTLibraryInfo {
  if (flavor !== 'full' && flavor !== 'lean' && flavor !== 'dispatch') {
    throw invalidArg(`probeTensorRT: flavor must be 'full', 'lean' or 'dispatch'; got ${String(flavor)}`);
  }
  const addon = tryGetNative();
  if (!addon) return { available: false, flavor, reason: nativeLoadError ?? 'the native addon is not loaded' };
  if (typeof addon.probeTensorRT !== 'function') {
    return { available: false, flavor, reason: 'this tensorrt-node addon predates probeTensorRT: rebuild it (npm run build:native)' };
  }
  const p = addon.probeTensorRT(flavor);
  return { ...p, cannot: [...(p.cannot ?? [])] };
}

function selected(): Omit<RuntimeInfo['addon'], 'loaded' | 'packageRoot'> {
  return nativeSelection
    ? { file: nativeSelection.file, selectedBecause: nativeSelection.reason, kind: nativeSelection.kind, variant: nativeSelection.variant }
    : {};
}

// ------------------------------------------------------------------------------------------------------------
// Logger

export type LogSeverity = 'internalError' | 'error' | 'warning' | 'info' | 'verbose';
export const LOG_SEVERITIES: readonly LogSeverity[] = ['internalError', 'error', 'warning', 'info', 'verbose'];
export type LogCallback = (severity: LogSeverity, message: string) => void;

let minSeverity: LogSeverity = 'warning';
const listeners = new Set<LogCallback>();

function isSeverity(s: unknown): s is LogSeverity {
  return typeof s === 'string' && (LOG_SEVERITIES as readonly string[]).includes(s);
}

/** Minimum severity of TensorRT messages printed to stderr (and passed to onLog listeners). Default 'warning'. */
export function setLogSeverity(severity: LogSeverity): void {
  if (!isSeverity(severity)) {
    throw invalidArg(`log severity must be one of ${LOG_SEVERITIES.join(', ')}; got ${String(severity)}`);
  }
  minSeverity = severity;
  const addon = tryGetNative();
  if (addon && typeof addon.setLogSeverity === 'function') addon.setLogSeverity(severity);
}

/** The current minimum log severity. */
export function getLogSeverity(): LogSeverity {
  return minSeverity;
}

function dispatch(severity: string, message: string): void {
  const sev: LogSeverity = isSeverity(severity) ? severity : 'info';
  for (const cb of [...listeners]) {
    try {
      cb(sev, message);
    } catch (e) {
      process.emitWarning(`tensorrt-node: onLog listener threw: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/**
 * Receive TensorRT log messages (at or above the current severity), delivered on the JS thread whatever thread
 * TensorRT logged from. Returns a function that removes the listener.
 */
export function onLog(cb: LogCallback): () => void {
  if (typeof cb !== 'function') throw invalidArg('onLog expects a function (severity, message) => void');
  listeners.add(cb);
  const addon = tryGetNative();
  if (listeners.size === 1 && addon && typeof addon.setLogCallback === 'function') addon.setLogCallback(dispatch);
  return () => {
    if (!listeners.delete(cb)) return;
    const a = tryGetNative();
    if (listeners.size === 0 && a && typeof a.setLogCallback === 'function') a.setLogCallback(null);
  };
}
