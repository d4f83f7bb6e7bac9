import type { TensorRTNative } from '../addon';
/**
 * `BuilderConfig`: TensorRT's IBuilderConfig, created by `Builder.createConfig()`: memory pool limits, builder
 * flags, optimization profiles, timing cache, optimization / hardware-compatibility levels, profiling verbosity,
 * auxiliary streams and the INT8 calibrator.
 *
 * Names are TensorRT's in camelCase (`BuilderFlag::kFP16` -> 'fp16', `MemoryPoolType::kWORKSPACE` ->
 * 'workspace'). A name that TensorRT has but the compiled version lacks (e.g. 'fp16' on TensorRT 11, where
 * networks are strongly typed) throws UNSUPPORTED; an unknown name throws INVALID_ARGUMENT. `builderFlags()` and
 * `memoryPools()` list what the compiled version has.
 */
import { types } from 'util';
import { callNative, invalidArg, TensorRTError } from '../errors';
import * as is from '../validate';
import { isTypedArray } from '../dtypes';
import { tryGetNative } from '../native';
import type { CalibrationAlgorithm, CalibratorLike } from '../calibration/types';
import { formatCalibrationCache, parseCalibrationCache } from '../calibration/cache';

/** Every MemoryPoolType of TensorRT 8.6 .. 11 (camelCase). */
export const MEMORY_POOLS = [
  'workspace',
  'dlaManagedSram',
  'dlaLocalDram',
  'dlaGlobalDram',
  'tacticDram',
  'tacticSharedMemory',
] as const;
export type MemoryPool = (typeof MEMORY_POOLS)[number];

/** Every BuilderFlag of TensorRT 8.6 .. 11 (camelCase); each version has a subset (see builderFlags()). */
export const BUILDER_FLAGS = [
  'fp16', 'int8', 'debug', 'gpuFallback', 'refit', 'disableTimingCache', 'tf32', 'sparseWeights', 'safetyScope',
  'obeyPrecisionConstraints', 'preferPrecisionConstraints', 'directIo', 'rejectEmptyAlgorithms',
  'enableTacticHeuristic', 'versionCompatible', 'excludeLeanRuntime', 'fp8', 'errorOnTimingCacheMiss', 'bf16',
  'disableCompilationCache', 'stripPlan', 'refitIdentical', 'weightStreaming', 'int4', 'refitIndividual',
  'strictNans', 'monitorMemory', 'fp4', 'editableTimingCache', 'distributiveIndependence',
] as const;
export type BuilderFlag = (typeof BUILDER_FLAGS)[number];

export const HARDWARE_COMPATIBILITY_LEVELS = ['none', 'amperePlus', 'sameComputeCapability'] as const;
export type HardwareCompatibilityLevel = (typeof HARDWARE_COMPATIBILITY_LEVELS)[number];

export const PROFILING_VERBOSITIES = ['layerNamesOnly', 'none', 'detailed'] as const;
export type ProfilingVerbosity = (typeof PROFILING_VERBOSITIES)[number];

/** The largest maxAuxStreams accepted. */
export const MAX_AUX_STREAMS = 1 << 20;

export const CALIBRATION_ALGORITHMS: readonly CalibrationAlgorithm[] = ['entropy2', 'entropy', 'minmax', 'legacy', 'percentile'];

/** Shapes of one input in an optimization profile. */
export interface ShapeRange {
  min: number[];
  opt: number[];
  max: number[];
}

/** The flags of the compiled TensorRT version ([] without TensorRT headers). */
export function builderFlags(): BuilderFlag[] {
  return (tryGetNative()?.trtEnums?.builderFlags ?? []) as BuilderFlag[];
}

/** The memory pools of the compiled TensorRT version ([] without TensorRT headers). */
export function memoryPools(): MemoryPool[] {
  return (tryGetNative()?.trtEnums?.memoryPools ?? []) as MemoryPool[];
}

// ---- validation (exported for the builder, buildEngine and tests) --------------------------------------------------

export function checkMemoryPool(pool: unknown): MemoryPool {
  return is.oneOf(pool, 'memory pool', MEMORY_POOLS);
}

export function checkPoolBytes(bytes: unknown, what = 'memory pool limit'): number | bigint {
  if (typeof bytes === 'bigint') {
    if (bytes < 0n || bytes > 0xffffffffffffffffn) throw invalidArg(`${what} must be a non-negative 64-bit byte count`);
    return bytes;
  }
  return is.integer(bytes, `${what} (bytes)`, 0);
}

export function checkBuilderFlag(flag: unknown): BuilderFlag {
  if (typeof flag !== 'string' || !(BUILDER_FLAGS as readonly string[]).includes(flag)) {
    throw invalidArg(`unknown builder flag ${typeof flag === 'string' ? JSON.stringify(flag) : is.describe(flag)} (known: ${BUILDER_FLAGS.join(', ')})`);
  }
  return flag as BuilderFlag;
}

function checkDims(v: unknown, what: string): number[] {
  const dims = is.arrayOf(v, what, (d, w) => is.integer(d, `${w} (profiles give concrete shapes)`, 0), 'an array of non-negative integers');
  if (dims.length > 8) throw invalidArg(`${what} has ${dims.length} dimensions; TensorRT allows at most 8`);
  return dims;
}

/** Checks one input's min/opt/max: same rank, integers, min <= opt <= max per dimension. */
export function checkShapeRange(name: string, r: unknown): ShapeRange {
  const o = is.object(r, `profile['${name}']`, '{ min, opt, max }');
  for (const k of Object.keys(o)) {
    if (k !== 'min' && k !== 'opt' && k !== 'max') throw invalidArg(`profile['${name}']: unknown key '${k}' (min, opt, max)`);
  }
  const min = checkDims(o.min, `profile['${name}'].min`);
  const opt = checkDims(o.opt, `profile['${name}'].opt`);
  const max = checkDims(o.max, `profile['${name}'].max`);
  if (min.length !== opt.length || opt.length !== max.length) {
    throw invalidArg(`profile['${name}']: min, opt and max must have the same rank (${min.length}, ${opt.length}, ${max.length})`);
  }
  for (let i = 0; i < min.length; i++) {
    if (!(min[i]! <= opt[i]! && opt[i]! <= max[i]!)) {
      throw invalidArg(
        `profile['${name}']: dimension ${i} needs min <= opt <= max; got ${min[i]} / ${opt[i]} / ${max[i]}`,
      );
    }
  }
  return { min, opt, max };
}

/** Checks a whole optimization profile ({ [input]: ShapeRange }, at least one input). */
export function checkProfile(p: unknown): Record<string, ShapeRange> {
  is.object(p, 'an optimization profile', 'an object { [inputName]: { min, opt, max } }');
  const names = Object.keys(p as object);
  if (names.length === 0) throw invalidArg('an optimization profile needs at least one input');
  const out: Record<string, ShapeRange> = {};
  for (const n of names) out[n] = checkShapeRange(n, (p as Record<string, unknown>)[n]);
  return out;
}

/** Checks the shape of a CalibratorLike (algorithm, batchSize, methods). */
export function checkCalibrator(c: unknown): CalibratorLike {
  is.object(c, 'calibrator', 'a CalibratorLike object or null');
  const o = c as Record<string, unknown>;
  is.oneOf(o.algorithm, 'calibrator.algorithm', CALIBRATION_ALGORITHMS);
  is.integer(o.batchSize, 'calibrator.batchSize', 1);
  for (const m of ['getBatch', 'readCache', 'writeCache'] as const) is.func(o[m], `calibrator.${m}`);
  for (const k of ['quantile', 'regressionCutoff'] as const) is.optional(o, k, is.number, `calibrator.${k}`);
  return c as CalibratorLike;
}

/**
 * The object the native calibrator bridge calls: every answer is a Promise, batches are checked here (one typed
 * array per requested input), and errors carry what went wrong (the build then fails with that message).
 */
export function calibratorAdapter(c: CalibratorLike): TensorRTNative.CalibratorAdapter {
  const adapter: TensorRTNative.CalibratorAdapter = {
    algorithm: c.algorithm,
    batchSize: c.batchSize,
    getBatch: async (names: string[], shapes?: Record<string, number[]>) => {
      if (c.algorithm === 'percentile') {
        throw new Error(
          "the 'percentile' calibrator reaches TensorRT only through its calibration cache: readCache() returned " +
            'nothing (run calibrate(model, calibrator) first: it computes the percentile scales and writes the cache)',
        );
      }
      const batch = await c.getBatch(names);
      if (batch === null || batch === undefined) return null;
      if (typeof batch !== 'object') throw new Error('getBatch must return { [inputName]: TypedArray } or null');
      const out: Record<string, ArrayBufferView> = {};
      for (const n of names) {
        const t = (batch as Record<string, unknown>)[n];
        if (!isTypedArray(t)) throw new Error(`getBatch returned no typed array for input '${n}' (got ${typeof t})`);
        if (t.byteLength === 0) throw new Error(`getBatch returned an empty array for input '${n}'`);
        out[n] = t;
      }
      // A calibrator that knows its batch's shapes (Calibrator.lastBatchShapes) is checked against what TensorRT
      // reads (the calibration profile's opt shapes for runtime dimensions); sizes are checked natively anyway.
      const known = (c as { lastBatchShapes?: Record<string, number[]> | null }).lastBatchShapes;
      if (shapes && known) {
        for (const n of names) {
          const want = shapes[n];
          const got = known[n];
          if (want && got && (want.length !== got.length || want.some((d, i) => d !== got[i]))) {
            throw new Error(
              `getBatch: the batch for input '${n}' has shape [${got.join(', ')}]; TensorRT reads [${want.join(', ')}] ` +
                '(the calibration profile\'s opt shape for runtime dimensions). Every batch must have that shape: drop or pad a short last batch',
            );
          }
        }
      }
      return out;
    },
    readCache: async () => {
      const r = await c.readCache();
      if (r === null || r === undefined) return null;
      if (!(r instanceof Uint8Array)) throw new Error('readCache must return a Uint8Array or null');
      if (!r.byteLength) return null;
      if (c.algorithm === 'percentile') {
        // TensorRT reads percentile scales through its entropy-2 interface, which only accepts caches whose
        // header names that algorithm (and the library's version): re-head the same scales.
        const { scales } = parseCalibrationCache(r);
        return formatCalibrationCache(scales, 'entropy2', loadedTensorRTVersionNumber());
      }
      return r;
    },
    writeCache: async (cache: Buffer) => {
      await c.writeCache(new Uint8Array(cache.buffer, cache.byteOffset, cache.byteLength));
    },
  };
  if (c.quantile !== undefined) adapter.quantile = c.quantile;
  if (c.regressionCutoff !== undefined) adapter.regressionCutoff = c.regressionCutoff;
  return adapter;
}

/** The loaded libnvinfer's version as TensorRT writes it in cache headers (10.16.0 -> 101600). */
function loadedTensorRTVersionNumber(): number {
  const v = tryGetNative()?.runtimeInfo().tensorrt.version ?? '10.0.0';
  const [major = 10, minor = 0, patch = 0] = v.split('.').map((x) => Number(x) || 0);
  return major * 10000 + minor * 100 + patch;
}

/** @internal Token that keeps the constructor for Builder.createConfig. */
export const CONFIG_TOKEN: unique symbol = Symbol('tensorrt-node:BuilderConfig');

export class BuilderConfig {
  #native: TensorRTNative.BuilderConfig | null;
  #calibrator: CalibratorLike | null = null;

  /** @internal Use `Builder.createConfig()`. */
  constructor(token: typeof CONFIG_TOKEN, native: TensorRTNative.BuilderConfig) {
    if (token !== CONFIG_TOKEN) throw invalidArg('use Builder.createConfig() to create a BuilderConfig');
    this.#native = native;
  }

  /** @internal */
  get native(): TensorRTNative.BuilderConfig {
    if (!this.#native) throw new TensorRTError('DISPOSED', 'BuilderConfig has been disposed');
    return this.#native;
  }

  get disposed(): boolean {
    return this.#native === null;
  }

  /** Limits the memory TensorRT may use for `pool` (bytes). */
  setMemoryPoolLimit(pool: MemoryPool, bytes: number | bigint): void {
    const p = checkMemoryPool(pool);
    const b = checkPoolBytes(bytes);
    callNative(() => this.native.setMemoryPoolLimit(p, b));
  }

  getMemoryPoolLimit(pool: MemoryPool): number {
    const p = checkMemoryPool(pool);
    return callNative(() => this.native.getMemoryPoolLimit(p));
  }

  setFlag(flag: BuilderFlag): void {
    const f = checkBuilderFlag(flag);
    callNative(() => this.native.setFlag(f));
  }

  clearFlag(flag: BuilderFlag): void {
    const f = checkBuilderFlag(flag);
    callNative(() => this.native.clearFlag(f));
  }

  getFlag(flag: BuilderFlag): boolean {
    const f = checkBuilderFlag(flag);
    return callNative(() => this.native.getFlag(f));
  }

  /** The flags currently set (of those the compiled version has). */
  get flags(): BuilderFlag[] {
    const n = this.native;
    return builderFlags().filter((f) => callNative(() => n.getFlag(f)));
  }

  /**
   * Adds an optimization profile ({ [inputName]: { min, opt, max } }, concrete shapes) and returns its index.
   * TensorRT validates it too (IOptimizationProfile::isValid).
   */
  addOptimizationProfile(profile: Record<string, ShapeRange>): number {
    const p = checkProfile(profile);
    return callNative(() => this.native.addOptimizationProfile(p));
  }

  get numOptimizationProfiles(): number {
    return callNative(() => this.native.numOptimizationProfiles);
  }

  /** 0 (fastest build) .. 5 (most tactics); TensorRT's default is 3. */
  get builderOptimizationLevel(): number {
    return callNative(() => this.native.builderOptimizationLevel);
  }

  set builderOptimizationLevel(level: number) {
    is.integer(level, 'builderOptimizationLevel', 0, 5);
    callNative(() => {
      this.native.builderOptimizationLevel = level;
    });
  }

  get hardwareCompatibilityLevel(): HardwareCompatibilityLevel {
    return callNative(() => this.native.hardwareCompatibilityLevel) as HardwareCompatibilityLevel;
  }

  set hardwareCompatibilityLevel(level: HardwareCompatibilityLevel) {
    is.oneOf(level, 'hardwareCompatibilityLevel', HARDWARE_COMPATIBILITY_LEVELS);
    callNative(() => {
      this.native.hardwareCompatibilityLevel = level;
    });
  }

  get profilingVerbosity(): ProfilingVerbosity {
    return callNative(() => this.native.profilingVerbosity) as ProfilingVerbosity;
  }

  set profilingVerbosity(v: ProfilingVerbosity) {
    is.oneOf(v, 'profilingVerbosity', PROFILING_VERBOSITIES);
    callNative(() => {
      this.native.profilingVerbosity = v;
    });
  }

  /** Auxiliary streams TensorRT may use per inference (0 disables multi-stream execution). */
  get maxAuxStreams(): number {
    return callNative(() => this.native.maxAuxStreams);
  }

  set maxAuxStreams(n: number) {
    is.integer(n, 'maxAuxStreams', 0, MAX_AUX_STREAMS);
    callNative(() => {
      this.native.maxAuxStreams = n;
    });
  }

  /**
   * Uses a timing cache: `data` from a previous `getTimingCache()` (possibly from a file), or null to start an
   * empty one. `ignoreMismatch` accepts a cache made on another device model.
   */
  setTimingCache(data: Uint8Array | null, options: { ignoreMismatch?: boolean } = {}): void {
    if (data !== null && !(data instanceof Uint8Array)) throw invalidArg('setTimingCache expects a Uint8Array or null');
    if (data && types.isSharedArrayBuffer(data.buffer)) throw invalidArg('setTimingCache: SharedArrayBuffer is not supported');
    const o = is.options(options, 'setTimingCache', ['ignoreMismatch']);
    const ignore = is.optional(o, 'ignoreMismatch', is.boolean) ?? false;
    callNative(() => this.native.setTimingCache(data, ignore));
  }

  /** The timing cache in use, serialized (null when none was set). */
  getTimingCache(): Buffer | null {
    return callNative(() => this.native.getTimingCache());
  }

  /**
   * The INT8 calibrator (implicit quantization, TensorRT 10 only: UNSUPPORTED on 11, where INT8 comes from Q/DQ
   * nodes). Its getBatch / readCache / writeCache are called while the build runs. A getBatch / readCache /
   * writeCache that throws or rejects, or a batch of the wrong size (a short last batch included), fails the build
   * with CALIBRATION_ERROR, `cause` = what it threw (docs/native-contracts.md).
   */
  get calibrator(): CalibratorLike | null {
    void this.native; // throws DISPOSED
    return this.#calibrator;
  }

  set calibrator(c: CalibratorLike | null) {
    if (c === null || c === undefined) {
      callNative(() => this.native.setCalibrator(null));
      this.#calibrator = null;
      return;
    }
    const checked = checkCalibrator(c);
    callNative(() => this.native.setCalibrator(calibratorAdapter(checked)));
    this.#calibrator = checked;
  }

  /**
   * The optimization profile whose opt shapes calibration uses for a network with runtime dimensions
   * (IBuilderConfig::setCalibrationProfile; TensorRT 10). Default: 0, the first profile. Every calibration batch
   * must have exactly those shapes.
   */
  get calibrationProfile(): number {
    return callNative(() => this.native.getCalibrationProfile());
  }

  set calibrationProfile(index: number) {
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) {
      throw invalidArg(`calibrationProfile must be a non-negative integer; got ${String(index)}`);
    }
    callNative(() => this.native.setCalibrationProfile(index));
  }

  /** Frees the config now (a build in progress keeps it until it ends). Idempotent. */
  dispose(): void {
    const n = this.#native;
    this.#native = null;
    this.#calibrator = null;
    if (n) n.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
