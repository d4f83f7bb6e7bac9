/**
 * `buildEngine(model, options)`: ONNX model (path or bytes) -> serialized TensorRT engine, in one call
 * (Builder + NetworkDefinition + OnnxParser + BuilderConfig, all disposed afterwards).
 *
 * ```ts
 * const plan = await buildEngine('model.onnx', {
 *   fp16: true,
 *   memoryPoolLimits: { workspace: 2 ** 30 },
 *   profiles: [{ x: { min: [1, 3, 224, 224], opt: [8, 3, 224, 224], max: [32, 3, 224, 224] } }],
 *   timingCache: 'model.cache',
 *   onProgress: (e) => console.log(e.phase, e.step, e.steps),
 * });
 * fs.writeFileSync('model.engine', plan);
 * ```
 * Every option is checked before TensorRT is touched (INVALID_ARGUMENT), so mistakes are reported the same way
 * with or without TensorRT. Precision flags (fp16, bf16, int8, fp8) are for weakly typed networks on
 * TensorRT 10; with `stronglyTyped` (and always on TensorRT 11) precisions come from the model itself (casts,
 * Q/DQ nodes). A `calibrator` implies int8 (implicit INT8: TensorRT 10 only).
 */
import * as fs from 'fs';
import { invalidArg, TensorRTError } from './errors';
import { Builder, checkBuildSerializedOptions, type BuildProgressEvent } from './builder';
import type { NetworkDefinition } from './network';
import {
  type BuilderConfig,
  checkBuilderFlag,
  checkCalibrator,
  checkMemoryPool,
  checkPoolBytes,
  checkProfile,
  HARDWARE_COMPATIBILITY_LEVELS,
  PROFILING_VERBOSITIES,
  type BuilderFlag,
  type HardwareCompatibilityLevel,
  type MemoryPool,
  type ProfilingVerbosity,
  type ShapeRange,
} from './config';
import { checkModelSource, checkReadableFile, OnnxParser } from './parser';
import type { CalibratorLike } from './calibration/types';

export interface BuildOptions {
  fp16?: boolean;
  bf16?: boolean;
  int8?: boolean;
  fp8?: boolean;
  /** TF32 for FP32 layers: TensorRT enables it by default; false turns it off. */
  tf32?: boolean;
  stronglyTyped?: boolean;
  /** Bytes per pool: { workspace: 1 << 30, ... }. */
  memoryPoolLimits?: Partial<Record<MemoryPool, number | bigint>>;
  /** Optimization profiles, one object per profile: { [inputName]: { min, opt, max } }. Needed for dynamic inputs. */
  profiles?: Record<string, ShapeRange>[];
  /** Timing cache file: loaded when it exists, (re)written after a successful build. */
  timingCache?: string;
  /** 0..5 (TensorRT's default 3). */
  builderOptimizationLevel?: number;
  hardwareCompatibilityLevel?: HardwareCompatibilityLevel;
  profilingVerbosity?: ProfilingVerbosity;
  maxAuxStreams?: number;
  /** Any other builder flags to set ('sparseWeights', 'refit', 'versionCompatible', ...). */
  flags?: BuilderFlag[];
  /** INT8 calibrator (implicit quantization, TensorRT 10). Implies int8. */
  calibrator?: CalibratorLike;
  onProgress?: (e: BuildProgressEvent) => void;
  signal?: AbortSignal;
}

const OPTION_KEYS = [
  'fp16', 'bf16', 'int8', 'fp8', 'tf32', 'stronglyTyped', 'memoryPoolLimits', 'profiles', 'timingCache',
  'builderOptimizationLevel', 'hardwareCompatibilityLevel', 'profilingVerbosity', 'maxAuxStreams', 'flags',
  'calibrator', 'onProgress', 'signal',
];

/** Validates and normalises BuildOptions (no TensorRT needed). Exported for tests and the CLI. */
export function checkBuildOptions(options: unknown): BuildOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw invalidArg('build options must be an object');
  const o = options as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!OPTION_KEYS.includes(k)) throw invalidArg(`buildEngine: unknown option '${k}' (allowed: ${OPTION_KEYS.join(', ')})`);
  }
  const out: BuildOptions = {};
  for (const k of ['fp16', 'bf16', 'int8', 'fp8', 'tf32', 'stronglyTyped'] as const) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== 'boolean') throw invalidArg(`buildEngine option ${k} must be a boolean; got ${String(v)}`);
    out[k] = v;
  }
  if (out.stronglyTyped && (out.fp16 || out.bf16 || out.int8 || out.fp8)) {
    throw invalidArg(
      'buildEngine: precision flags (fp16, bf16, int8, fp8) do not apply to strongly typed networks: their types come from the model',
    );
  }
  if (o.memoryPoolLimits !== undefined) {
    const m = o.memoryPoolLimits;
    if (m === null || typeof m !== 'object' || Array.isArray(m)) throw invalidArg('memoryPoolLimits must be an object { pool: bytes }');
    const limits: Partial<Record<MemoryPool, number | bigint>> = {};
    for (const [pool, bytes] of Object.entries(m as Record<string, unknown>)) {
      limits[checkMemoryPool(pool)] = checkPoolBytes(bytes, `memoryPoolLimits.${pool}`);
    }
    out.memoryPoolLimits = limits;
  }
  if (o.profiles !== undefined) {
    if (!Array.isArray(o.profiles)) throw invalidArg('profiles must be an array of { [inputName]: { min, opt, max } }');
    out.profiles = o.profiles.map((p) => checkProfile(p));
  }
  if (o.timingCache !== undefined) {
    if (typeof o.timingCache !== 'string' || o.timingCache.length === 0) throw invalidArg('timingCache must be a file path');
    out.timingCache = o.timingCache;
  }
  if (o.builderOptimizationLevel !== undefined) {
    const v = o.builderOptimizationLevel;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 5) {
      throw invalidArg(`builderOptimizationLevel must be an integer in [0, 5]; got ${String(v)}`);
    }
    out.builderOptimizationLevel = v;
  }
  if (o.hardwareCompatibilityLevel !== undefined) {
    const v = o.hardwareCompatibilityLevel;
    if (typeof v !== 'string' || !(HARDWARE_COMPATIBILITY_LEVELS as readonly string[]).includes(v)) {
      throw invalidArg(`hardwareCompatibilityLevel must be one of ${HARDWARE_COMPATIBILITY_LEVELS.join(', ')}`);
    }
    out.hardwareCompatibilityLevel = v as HardwareCompatibilityLevel;
  }
  if (o.profilingVerbosity !== undefined) {
    const v = o.profilingVerbosity;
    if (typeof v !== 'string' || !(PROFILING_VERBOSITIES as readonly string[]).includes(v)) {
      throw invalidArg(`profilingVerbosity must be one of ${PROFILING_VERBOSITIES.join(', ')}`);
    }
    out.profilingVerbosity = v as ProfilingVerbosity;
  }
  if (o.maxAuxStreams !== undefined) {
    const v = o.maxAuxStreams;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw invalidArg('maxAuxStreams must be a non-negative integer');
    out.maxAuxStreams = v;
  }
  if (o.flags !== undefined) {
    if (!Array.isArray(o.flags)) throw invalidArg('flags must be an array of builder flag names');
    out.flags = o.flags.map((f) => checkBuilderFlag(f));
  }
  if (o.calibrator !== undefined && o.calibrator !== null) {
    if (out.stronglyTyped) throw invalidArg('buildEngine: a calibrator (implicit INT8) cannot be used with a strongly typed network');
    if (out.int8 === false) throw invalidArg('buildEngine: a calibrator needs int8 (int8: false was given)');
    out.calibrator = checkCalibrator(o.calibrator);
  }
  const s = checkBuildSerializedOptions({ onProgress: o.onProgress, signal: o.signal });
  if (s.onProgress) out.onProgress = s.onProgress;
  if (s.signal) out.signal = s.signal;
  return out;
}

/** Builds a serialized TensorRT engine from an ONNX model (file path or bytes). */
export async function buildEngine(model: string | Uint8Array, options: BuildOptions = {}): Promise<Buffer> {
  const m = checkModelSource(model, 'buildEngine');
  const o = checkBuildOptions(options);
  if (o.signal?.aborted) throw new TensorRTError('BUILD_FAILED', 'the build was cancelled (AbortSignal aborted)', { cause: o.signal.reason });
  const builder = new Builder(); // TENSORRT_UNAVAILABLE (with the reason) from here on
  let network: NetworkDefinition | null = null;
  let config: BuilderConfig | null = null;
  try {
    if (typeof m === 'string') await checkReadableFile(m, 'buildEngine');
    network = builder.createNetwork({ stronglyTyped: o.stronglyTyped ?? false });
    const parser = new OnnxParser(network);
    try {
      await parser.parse(m);
    } finally {
      parser.dispose();
    }
    config = builder.createConfig();
    const cfg = config;

    // Inputs: dynamic ones need a profile; profile names must be inputs.
    const inputs = network.inputs;
    const inputNames = new Set(inputs.map((t) => t.name));
    for (const [i, p] of (o.profiles ?? []).entries()) {
      for (const name of Object.keys(p)) {
        if (!inputNames.has(name)) {
          throw invalidArg(`profiles[${i}]: '${name}' is not a network input (inputs: ${[...inputNames].join(', ')})`);
        }
      }
    }
    const dynamic = inputs.filter((t) => t.shape.some((d) => d < 0));
    if (dynamic.length > 0) {
      const covered = (o.profiles ?? []).length > 0 && dynamic.every((t) => (o.profiles ?? []).every((p) => t.name in p));
      if (!covered) {
        throw invalidArg(
          'buildEngine: the model has dynamic inputs ' +
            dynamic.map((t) => `${t.name} [${t.shape.join(', ')}]`).join(', ') +
            ': give options.profiles with min/opt/max shapes for each of them in every profile',
        );
      }
    }

    const set = (flag: BuilderFlag, on: boolean | undefined) => {
      if (on === true) cfg.setFlag(flag);
      else if (on === false) cfg.clearFlag(flag);
    };
    // The calibrator first: on TensorRT 11 its UNSUPPORTED says why better than the missing int8 flag would.
    if (o.calibrator) cfg.calibrator = o.calibrator;
    set('fp16', o.fp16);
    set('bf16', o.bf16);
    set('fp8', o.fp8);
    set('int8', o.int8 ?? (o.calibrator ? true : undefined));
    if (o.tf32 !== undefined) set('tf32', o.tf32);
    for (const f of o.flags ?? []) config.setFlag(f);
    for (const [pool, bytes] of Object.entries(o.memoryPoolLimits ?? {})) {
      config.setMemoryPoolLimit(pool as MemoryPool, bytes as number | bigint);
    }
    for (const p of o.profiles ?? []) config.addOptimizationProfile(p);
    if (o.builderOptimizationLevel !== undefined) config.builderOptimizationLevel = o.builderOptimizationLevel;
    if (o.hardwareCompatibilityLevel !== undefined) config.hardwareCompatibilityLevel = o.hardwareCompatibilityLevel;
    if (o.profilingVerbosity !== undefined) config.profilingVerbosity = o.profilingVerbosity;
    if (o.maxAuxStreams !== undefined) config.maxAuxStreams = o.maxAuxStreams;

    if (o.timingCache) {
      let cache: Buffer | null = null;
      try {
        cache = await fs.promises.readFile(o.timingCache);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
          throw new TensorRTError('IO_ERROR', `cannot read the timing cache ${o.timingCache}: ${(e as Error).message}`, { cause: e });
        }
      }
      config.setTimingCache(cache && cache.byteLength ? cache : null, { ignoreMismatch: true });
    }

    const buildOpts: { onProgress?: (e: BuildProgressEvent) => void; signal?: AbortSignal } = {};
    if (o.onProgress) buildOpts.onProgress = o.onProgress;
    if (o.signal) buildOpts.signal = o.signal;
    const plan = await builder.buildSerializedNetwork(network, config, buildOpts);

    if (o.timingCache) {
      const cache = config.getTimingCache();
      if (cache) {
        try {
          await fs.promises.writeFile(o.timingCache, cache);
        } catch (e) {
          throw new TensorRTError('IO_ERROR', `cannot write the timing cache ${o.timingCache}: ${(e as Error).message}`, { cause: e });
        }
      }
    }
    return plan;
  } finally {
    config?.dispose();
    network?.dispose();
    builder.dispose();
  }
}
