/**
 * The engine cache's key: one SHA-256 over everything that decides whether a serialized engine (plan) fits.
 *
 * | part | why |
 * | --- | --- |
 * | model bytes (SHA-256) and every external-data file it references (location, size, SHA-256) | another model, or the same graph with other weights, is another engine |
 * | normalised build options (final builder flag set, profiles, memory pools, optimization level, hardware compatibility, profiling verbosity, aux streams, strongly typed) | each changes the plan (kernels, precisions, shapes it accepts, what it may run on) |
 * | INT8 calibrator: algorithm, batch size, parameters, SHA-256 of its calibration cache | the scales are baked into the plan |
 * | TensorRT version found at run time | a plan loads only with the TensorRT version that built it (unless version-compatible) |
 * | GPU: name, compute capability, memory size, SM count; CUDA runtime; OS/CPU arch | kernels are chosen for (and compiled for) the device; a 40 GB and an 80 GB A100 may pick different tactics |
 * | tensorrt-node's version and the key format | how we drive the builder may change between releases |
 *
 * Not in the key (they do not change the plan): the model's path or file name, the order of option keys, inputs
 * in a profile or flags, `onProgress`, `signal`, the timing cache (it only speeds up tactic selection), options
 * given at their default value (`tf32: true`, `fp16: false`, `builderOptimizationLevel: 3`, ...), numbers vs
 * bigints of the same pool size, the GPU's ordinal and UUID (identical GPUs share engines).
 */
import * as fs from 'fs';
import * as path from 'path';
import { onnx } from '../onnx';
import { invalidArg, TensorRTError } from '../errors';
import type { BuildOptions } from '../tensorrt/build';
import type { BuilderFlag } from '../tensorrt/config';
import { hashFile, sha256, sha256Chunked } from './fsutil';

/** Format of keys and manifests: bumped whenever either changes meaning. */
export const KEY_FORMAT = 1;

/** What the plan is built for and loaded on: the TensorRT and GPU of this process. */
export interface CacheTarget {
  /** libnvinfer version found at run time, e.g. "10.16.0". */
  tensorrt: string;
  /** CUDA runtime linked into the addon, e.g. "13.0". */
  cudaRuntime: string | null;
  gpu: {
    name: string;
    /** "9.0" */
    computeCapability: string;
    /** bytes */
    totalMemory: number;
    multiProcessorCount: number;
  };
  /** `${process.platform}-${process.arch}` */
  platform: string;
}

export interface ExternalDataFile {
  /** As written in the model (relative to the model's directory). */
  location: string;
  bytes: number;
  sha256: string;
}

export interface ModelDigest {
  sha256: string;
  bytes: number;
  externalData: ExternalDataFile[];
}

export interface NormalisedCalibrator {
  algorithm: string;
  batchSize: number;
  percentile?: number;
  quantile?: number;
  regressionCutoff?: number;
  /** SHA-256 of the calibration cache the calibrator offers (null: it will calibrate from its data). */
  cache: string | null;
}

/** Build options reduced to what changes the plan, in one canonical form. */
export interface NormalisedOptions {
  /** The builder flags that end up set, sorted (tf32 is on unless turned off: TensorRT's default). */
  flags: string[];
  stronglyTyped: boolean;
  /** Pool -> bytes as a decimal string, sorted by pool. */
  memoryPoolLimits: [string, string][];
  /** Per profile, inputs sorted by name. */
  profiles: [string, { min: number[]; opt: number[]; max: number[] }][][];
  builderOptimizationLevel: number;
  hardwareCompatibilityLevel: string;
  profilingVerbosity: string;
  maxAuxStreams: number | null;
  calibrator: NormalisedCalibrator | null;
}

/** Everything the key is computed from (also stored in each entry's manifest, for `cache ls`). */
export interface KeyComponents {
  format: number;
  model: ModelDigest;
  options: NormalisedOptions;
  target: CacheTarget;
  packageVersion: string;
}

/** Builder flags TensorRT sets by default (IBuilderConfig starts with TF32 allowed). */
const DEFAULT_ON: readonly string[] = ['tf32'];

/** Canonical form of checked BuildOptions (see checkBuildOptions) for the key. */
export async function normaliseOptions(o: BuildOptions): Promise<NormalisedOptions> {
  // The flag state buildEngine leaves the config in: defaults, then the booleans (set or clear), then `flags`.
  const on = new Set<string>(DEFAULT_ON);
  const apply = (flag: BuilderFlag, v: boolean | undefined) => {
    if (v === true) on.add(flag);
    else if (v === false) on.delete(flag);
  };
  apply('fp16', o.fp16);
  apply('bf16', o.bf16);
  apply('fp8', o.fp8);
  apply('int8', o.int8 ?? (o.calibrator ? true : undefined));
  apply('tf32', o.tf32);
  for (const f of o.flags ?? []) on.add(f);

  let calibrator: NormalisedCalibrator | null = null;
  if (o.calibrator) {
    const c = o.calibrator;
    let cache: Uint8Array | null;
    try {
      cache = await c.readCache();
    } catch (e) {
      throw e instanceof TensorRTError ? e : new TensorRTError('IO_ERROR', `engine cache: the calibrator's readCache() failed: ${(e as Error).message}`, { cause: e });
    }
    calibrator = { algorithm: c.algorithm, batchSize: c.batchSize, cache: cache && cache.byteLength ? sha256(cache) : null };
    if (c.percentile !== undefined) calibrator.percentile = c.percentile;
    if (c.quantile !== undefined) calibrator.quantile = c.quantile;
    if (c.regressionCutoff !== undefined) calibrator.regressionCutoff = c.regressionCutoff;
  }
  return {
    flags: [...on].sort(),
    stronglyTyped: o.stronglyTyped ?? false,
    memoryPoolLimits: Object.entries(o.memoryPoolLimits ?? {})
      .map(([k, v]): [string, string] => [k, BigInt(v as number | bigint).toString()])
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
    profiles: (o.profiles ?? []).map((p) =>
      Object.keys(p)
        .sort()
        .map((name): [string, { min: number[]; opt: number[]; max: number[] }] => [
          name,
          { min: [...p[name].min], opt: [...p[name].opt], max: [...p[name].max] },
        ]),
    ),
    builderOptimizationLevel: o.builderOptimizationLevel ?? 3,
    hardwareCompatibilityLevel: o.hardwareCompatibilityLevel ?? 'none',
    profilingVerbosity: o.profilingVerbosity ?? 'layerNamesOnly',
    maxAuxStreams: o.maxAuxStreams ?? null,
    calibrator,
  };
}

/** Locations of every tensor stored outside the model (data_location EXTERNAL), in graphs and subgraphs. */
export function externalDataLocations(model: onnx.IModelProto): { tensor: string; location: string }[] {
  const out: { tensor: string; location: string }[] = [];
  const seen = new Set<onnx.IGraphProto>();
  const tensor = (t: onnx.ITensorProto | null | undefined) => {
    if (!t || t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) return;
    const loc = (t.externalData ?? []).find((e) => e.key === 'location')?.value;
    if (loc) out.push({ tensor: t.name ?? '', location: loc });
  };
  const graph = (g: onnx.IGraphProto | null | undefined) => {
    if (!g || seen.has(g)) return;
    seen.add(g);
    for (const t of g.initializer ?? []) tensor(t);
    for (const s of g.sparseInitializer ?? []) {
      tensor(s.values);
      tensor(s.indices);
    }
    for (const n of g.node ?? []) {
      for (const a of n.attribute ?? []) {
        tensor(a.t);
        for (const t of a.tensors ?? []) tensor(t);
        graph(a.g);
        for (const sg of a.graphs ?? []) graph(sg);
      }
    }
  };
  graph(model.graph);
  for (const f of model.functions ?? []) {
    for (const n of f.node ?? []) for (const a of n.attribute ?? []) {
      tensor(a.t);
      graph(a.g);
    }
  }
  return out;
}

/**
 * Digest of an ONNX model and its external data. `modelPath` (when the model came from a file) is where
 * external-data locations are resolved, as TensorRT's parser does; model bytes that reference external data
 * need it.
 */
export async function digestModel(bytes: Uint8Array, modelPath: string | null): Promise<ModelDigest> {
  const digest: ModelDigest = { sha256: await sha256Chunked(bytes), bytes: bytes.byteLength, externalData: [] };
  // Cheap test first: external data is named by a "location" entry; without that string there is none.
  if (Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf('location') < 0) return digest;
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new TensorRTError('PARSE_ERROR', `engine cache: not a valid ONNX model${modelPath ? ` ${modelPath}` : ''}: ${(e as Error).message}`, { cause: e });
  }
  const refs = externalDataLocations(model);
  if (refs.length === 0) return digest;
  if (!modelPath) {
    throw invalidArg(
      `engine cache: the model bytes reference external data files (${[...new Set(refs.map((r) => r.location))].join(', ')}): ` +
        'pass the model by its path, so that those files can be found and made part of the key',
    );
  }
  const dir = path.dirname(path.resolve(modelPath));
  const files = [...new Set(refs.map((r) => r.location))].sort();
  for (const location of files) {
    const file = path.resolve(dir, location);
    try {
      const st = await fs.promises.stat(file);
      if (!st.isFile()) throw new Error('not a file');
      const h = await hashFile(file);
      digest.externalData.push({ location, bytes: h.bytes, sha256: h.sha256 });
    } catch (e) {
      const tensor = refs.find((r) => r.location === location)?.tensor;
      throw new TensorRTError(
        'IO_ERROR',
        `engine cache: external data file ${file} (of tensor '${tensor}' in ${modelPath}) cannot be read: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }
  return digest;
}

/** JSON with object keys sorted, so that equal values always give equal text. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

/** The key (64 hex digits) of a set of components. */
export function keyOf(c: KeyComponents): string {
  return sha256(canonicalJson(c));
}

/** Identifies one TensorRT + GPU combination (names the timing cache, which is valid for exactly that). */
export function targetId(t: CacheTarget): string {
  return sha256(canonicalJson({ format: KEY_FORMAT, ...t })).slice(0, 24);
}
