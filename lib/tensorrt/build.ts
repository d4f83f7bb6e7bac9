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
import { callNative, invalidArg, TensorRTError } from '../errors';
import * as is from '../validate';
import { Builder, type BuildProgressEvent } from './builder';
import type { NetworkDefinition } from './network';
import {
  type BuilderConfig,
  checkBuilderFlag,
  checkCalibrator,
  checkMemoryPool,
  checkPoolBytes,
  checkProfile,
  HARDWARE_COMPATIBILITY_LEVELS,
  MAX_AUX_STREAMS,
  PROFILING_VERBOSITIES,
  type BuilderFlag,
  type HardwareCompatibilityLevel,
  type MemoryPool,
  type ProfilingVerbosity,
  type ShapeRange,
} from './config';
import { checkModelSource, checkReadableFile, OnnxParser } from './parser';
import type { CalibratorLike } from '../calibration/types';

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

/**
 * Validates and normalises BuildOptions (no TensorRT needed): the one place buildEngine's options are checked.
 * What it returns is handed to TensorRT as is (see buildEngine). Exported for tests and the CLI.
 */
export function checkBuildOptions(options: unknown): BuildOptions {
  const o = is.options(options, 'buildEngine', OPTION_KEYS);
  const out: BuildOptions = {};
  for (const k of ['fp16', 'bf16', 'int8', 'fp8', 'tf32', 'stronglyTyped'] as const) {
    const v = is.optional(o, k, is.boolean, `buildEngine option ${k}`);
    if (v !== undefined) out[k] = v;
  }
  if (out.stronglyTyped && (out.fp16 || out.bf16 || out.int8 || out.fp8)) {
    throw invalidArg(
      'buildEngine: precision flags (fp16, bf16, int8, fp8) do not apply to strongly typed networks: their types come from the model',
    );
  }
  if (o.memoryPoolLimits !== undefined) {
    const m = is.object(o.memoryPoolLimits, 'memoryPoolLimits', 'an object { pool: bytes }');
    const limits: Partial<Record<MemoryPool, number | bigint>> = {};
    for (const [pool, bytes] of Object.entries(m)) {
      limits[checkMemoryPool(pool)] = checkPoolBytes(bytes, `memoryPoolLimits.${pool}`);
    }
    out.memoryPoolLimits = limits;
  }
  const profiles = is.optional(o, 'profiles', (v, w) => is.arrayOf(v, w, checkProfile, 'an array of { [inputName]: { min, opt, max } }'));
  if (profiles) out.profiles = profiles;
  const timingCache = is.optional(o, 'timingCache', is.path);
  if (timingCache !== undefined) out.timingCache = timingCache;
  const level = is.optional(o, 'builderOptimizationLevel', (v, w) => is.integer(v, w, 0, 5));
  if (level !== undefined) out.builderOptimizationLevel = level;
  const hw = is.optional(o, 'hardwareCompatibilityLevel', (v, w) => is.oneOf(v, w, HARDWARE_COMPATIBILITY_LEVELS));
  if (hw !== undefined) out.hardwareCompatibilityLevel = hw;
  const pv = is.optional(o, 'profilingVerbosity', (v, w) => is.oneOf(v, w, PROFILING_VERBOSITIES));
  if (pv !== undefined) out.profilingVerbosity = pv;
  const aux = is.optional(o, 'maxAuxStreams', (v, w) => is.integer(v, w, 0, MAX_AUX_STREAMS));
  if (aux !== undefined) out.maxAuxStreams = aux;
  const flags = is.optional(o, 'flags', (v, w) => is.arrayOf(v, w, checkBuilderFlag, 'an array of builder flag names'));
  if (flags) out.flags = flags;
  if (o.calibrator !== undefined && o.calibrator !== null) {
    if (out.stronglyTyped) throw invalidArg('buildEngine: a calibrator (implicit INT8) cannot be used with a strongly typed network');
    if (out.int8 === false) throw invalidArg('buildEngine: a calibrator needs int8 (int8: false was given)');
    out.calibrator = checkCalibrator(o.calibrator);
  }
  const onProgress = is.optional(o, 'onProgress', is.func<(e: BuildProgressEvent) => void>);
  if (onProgress) out.onProgress = onProgress;
  const signal = is.optional(o, 'signal', is.abortSignal);
  if (signal) out.signal = signal;
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

    // Every value below was checked by checkBuildOptions: it goes to TensorRT without a second check.
    const n = cfg.native;
    const set = (flag: BuilderFlag, on: boolean | undefined) => {
      if (on === true) callNative(() => n.setFlag(flag));
      else if (on === false) callNative(() => n.clearFlag(flag));
    };
    // The calibrator first: on TensorRT 11 its UNSUPPORTED says why better than the missing int8 flag would.
    if (o.calibrator) cfg.calibrator = o.calibrator;
    set('fp16', o.fp16);
    set('bf16', o.bf16);
    set('fp8', o.fp8);
    set('int8', o.int8 ?? (o.calibrator ? true : undefined));
    if (o.tf32 !== undefined) set('tf32', o.tf32);
    for (const f of o.flags ?? []) set(f, true);
    for (const [pool, bytes] of Object.entries(o.memoryPoolLimits ?? {})) {
      callNative(() => n.setMemoryPoolLimit(pool as MemoryPool, bytes as number | bigint));
    }
    for (const p of o.profiles ?? []) callNative(() => n.addOptimizationProfile(p));
    const { builderOptimizationLevel: level, hardwareCompatibilityLevel: hw, profilingVerbosity: pv, maxAuxStreams: aux } = o;
    callNative(() => {
      if (level !== undefined) n.builderOptimizationLevel = level;
      if (hw !== undefined) n.hardwareCompatibilityLevel = hw;
      if (pv !== undefined) n.profilingVerbosity = pv;
      if (aux !== undefined) n.maxAuxStreams = aux;
    });

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
