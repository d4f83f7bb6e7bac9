/**
 * Calibration statistics: run the float model on every calibration batch with the needed intermediate tensors
 * exposed as outputs, and stream each tensor's values into a fixed-size histogram (memory does not grow with the
 * number of batches). The runner is onnxruntime-node on the CPU by default; any `StatisticsRunner` (for example
 * one backed by a TensorRT engine built with those tensors marked as outputs) can stand in.
 */
import { ONNXRUNTIME_NODE_ADVICE, TensorRTError, invalidArg } from '../errors';
import * as is from '../validate';
import { elementCount, type TypedArray } from '../dtypes';
import { onnx, saveModel, toNumber } from '../onnx';
import { AbsHistogram, DEFAULT_BINS } from './histogram';
import { createHistogramPool, defaultStatisticsWorkers } from './histogram-pool';
import type { CalibratorLike } from './types';
import type { ShapedBatch, ShapedTensor } from './calibrator';

/** Runs a float model on one batch and returns the requested tensors. */
export interface StatisticsRunner {
  run(feeds: ShapedBatch, outputNames: string[]): Promise<Record<string, { data: TypedArray; shape: number[] }>>;
  dispose?(): void | Promise<void>;
}

/** The minimal surface of onnxruntime-node used here (it is an optional dependency, loaded at run time). */
interface OrtModule {
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
  InferenceSession: {
    create(model: Uint8Array, options?: Record<string, unknown>): Promise<{
      run(feeds: Record<string, unknown>, fetches?: string[], options?: Record<string, unknown>): Promise<Record<string, { data: unknown; dims: readonly number[]; type: string }>>;
      release?(): Promise<void>;
      inputNames: readonly string[];
      outputNames: readonly string[];
    }>;
  };
}

/** Loads onnxruntime-node, or throws UNSUPPORTED saying how to get it. */
export function loadOnnxRuntime(): OrtModule {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- onnxruntime-node is an optional dependency, loaded when statistics run on it
    return require('onnxruntime-node') as OrtModule;
  } catch (e) {
    throw new TensorRTError('UNSUPPORTED', `onnxruntime-node, which runs calibration on the CPU, cannot be loaded (${(e as Error).message.split('\n')[0]}): ${ONNXRUNTIME_NODE_ADVICE}`, { cause: e });
  }
}

/**
 * onnxruntime's graph optimization level of the statistics sessions of calibrate() and quantize(): 'basic'. With
 * dozens of tensors exposed as outputs, 'all' inserts a layout reorder per exposed tensor and is slower
 * (docs/quantization.md).
 */
export const STATISTICS_OPTIMIZATION_LEVEL = 'basic';

/**
 * A StatisticsRunner on onnxruntime-node (CPU). `model` must already list the tensors to expose among its graph
 * outputs (see exposeTensors).
 */
export async function createOrtRunner(
  model: onnx.IModelProto | Uint8Array,
  options: { intraOpNumThreads?: number; graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all' } = {},
): Promise<StatisticsRunner> {
  const o = is.options(options, 'createOrtRunner', ['intraOpNumThreads', 'graphOptimizationLevel']);
  is.optional(o, 'intraOpNumThreads', (v, w) => is.integer(v, w, 0, 4096), 'createOrtRunner option intraOpNumThreads');
  is.optional(o, 'graphOptimizationLevel', (v, w) => is.oneOf(v, w, ['disabled', 'basic', 'extended', 'all'] as const), 'createOrtRunner option graphOptimizationLevel');
  const ort = loadOnnxRuntime();
  const bytes = model instanceof Uint8Array ? model : saveModel(model);
  let session: Awaited<ReturnType<OrtModule['InferenceSession']['create']>>;
  try {
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
      logSeverityLevel: 4, // errors reach the caller as exceptions; keep onnxruntime's own log quiet
      ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
    });
  } catch (e) {
    throw new TensorRTError('PARSE_ERROR', `onnxruntime cannot load the model: ${firstLine(e)}`, { cause: e });
  }
  return {
    async run(feeds, outputNames) {
      const f: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(feeds)) {
        if (!(v.data instanceof Float32Array)) throw invalidArg(`input ${k}: calibration data must be float32`);
        f[k] = new ort.Tensor('float32', v.data, v.shape);
      }
      let out: Record<string, { data: unknown; dims: readonly number[]; type: string }>;
      try {
        out = await session.run(f, outputNames, { logSeverityLevel: 4 });
      } catch (e) {
        const shapes = Object.entries(feeds).map(([k, v]) => `${k}: ${v.shape.join('x')}`).join(', ');
        throw new TensorRTError('INVALID_ARGUMENT', `the model cannot run on this calibration batch (${shapes}): ${firstLine(e)}`, { cause: e });
      }
      const r: Record<string, { data: TypedArray; shape: number[] }> = {};
      for (const [k, v] of Object.entries(out)) r[k] = { data: v.data as TypedArray, shape: [...v.dims] };
      return r;
    },
    async dispose() {
      await session.release?.();
    },
  };
}

function firstLine(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0].slice(0, 400);
}

/** A copy of `model` whose graph outputs also list `names` (intermediate tensors), for the statistics pass. */
export function exposeTensors(model: onnx.IModelProto, names: Iterable<string>): onnx.ModelProto {
  const m = onnx.ModelProto.decode(saveModel(model));
  const g = m.graph!;
  const have = new Set((g.output ?? []).map((o) => o.name ?? ''));
  const inputs = new Set((g.input ?? []).map((o) => o.name ?? ''));
  for (const n of names) {
    if (have.has(n) || inputs.has(n)) continue;
    (g.output ??= []).push(onnx.ValueInfoProto.create({ name: n }));
    have.add(n);
  }
  return m;
}

/** Model input description used to validate batches. */
export interface InputSpec {
  name: string;
  /** Dims: a number for fixed ones, a string or -1 for dynamic ones. */
  shape: (number | string)[];
}

export interface CollectOptions {
  method: 'entropy' | 'minmax' | 'percentile';
  bins?: number;
  maxBatches?: number;
  /** Shapes for CalibratorLike objects whose getBatch() gives flat arrays (batch dimension included). */
  inputShapes?: Record<string, number[]>;
  onBatch?(e: { batch: number; samples: number }): void;
  signal?: AbortSignal;
  /**
   * Overlap the runner's work on batch i+1 with the histogram updates of batch i (default true): the runner
   * (onnxruntime's own threads, or the GPU) and the JS thread then work at the same time, so a 2-core machine uses
   * both cores.
   */
  pipeline?: boolean;
  /**
   * Worker threads that update the histograms (default 0: on the JS thread, overlapped with the runner's work on
   * the next batch). The result is the same either way (each tensor's batches are added in order). Measured on 2
   * shared cores, workers were no faster (onnxruntime's own threads already use both cores): see
   * docs/quantization.md.
   */
  workers?: number;
  /** Keep copies of the first `keep` batches (for an accuracy check afterwards). Default 0. */
  keep?: number;
}

export interface CollectResult {
  histograms: Map<string, AbsHistogram>;
  /** Shape of each tensor in the first batch. */
  shapes: Map<string, number[]>;
  batches: number;
  samples: number;
  /** Copies of the first `options.keep` batches. */
  kept: ShapedBatch[];
  /** NaN / infinite values found in the calibration data itself, per input: values and batches holding any. */
  inputNonFinite: Map<string, { values: number; batches: number }>;
}

/** Number of NaN / infinite values in an array. */
export function countNonFinite(data: ArrayLike<number>): number {
  let bad = 0;
  const n = data.length;
  for (let i = 0; i < n; i++) {
    const v = data[i];
    if (v - v !== 0) bad++; // NaN and +-Infinity give NaN
  }
  return bad;
}

/** Validates a batch against the model inputs and fills in shapes from the model for flat arrays. */
export function checkBatch(batch: Record<string, ShapedTensor & { unknownShape?: boolean }>, inputs: InputSpec[], batchSize: number, inputShapes?: Record<string, number[]>): ShapedBatch {
  const out: ShapedBatch = {};
  for (const spec of inputs) {
    const t = batch[spec.name];
    if (!t) throw invalidArg(`calibration batch has no data for input "${spec.name}" (has: ${Object.keys(batch).join(', ') || 'nothing'})`);
    if (!(t.data instanceof Float32Array)) throw invalidArg(`input "${spec.name}": calibration data must be float32, got ${t.data.constructor.name}`);
    let shape = t.shape;
    if (t.unknownShape) {
      const given = inputShapes?.[spec.name];
      if (given) shape = given;
      else {
        const rest = spec.shape.slice(1);
        if (rest.some((d) => typeof d !== 'number' || d < 0)) {
          throw invalidArg(`input "${spec.name}" has dynamic dims [${spec.shape.join(', ')}]: give the batch shapes (inputShapes, or { data, shape } batches)`);
        }
        shape = [batchSize, ...(rest as number[])];
      }
    }
    const n = elementCount(shape);
    if (n !== t.data.length) throw invalidArg(`input "${spec.name}": shape [${shape.join(', ')}] holds ${n} values but the batch has ${t.data.length}`);
    if (shape.length !== spec.shape.length) {
      throw invalidArg(`input "${spec.name}": batch shape [${shape.join(', ')}] does not match the model's [${spec.shape.join(', ')}] (rank ${shape.length} vs ${spec.shape.length})`);
    }
    spec.shape.forEach((d, i) => {
      if (typeof d === 'number' && d > 0 && d !== shape[i]) {
        throw invalidArg(`input "${spec.name}": batch shape [${shape.join(', ')}] does not match the model's [${spec.shape.join(', ')}] at dim ${i}`);
      }
    });
    out[spec.name] = { data: t.data, shape };
  }
  return out;
}

/** Next batch of any CalibratorLike, with shapes when it can give them. */
export async function nextBatch(cal: CalibratorLike, inputNames: string[]): Promise<Record<string, ShapedTensor & { unknownShape?: boolean }> | null> {
  const shaped = (cal as { getShapedBatch?: (n: string[]) => Promise<ShapedBatch | null> }).getShapedBatch;
  if (typeof shaped === 'function') return shaped.call(cal, inputNames);
  const b = await cal.getBatch(inputNames);
  if (b === null || b === undefined) return null;
  if (typeof b !== 'object') throw invalidArg('getBatch() must return an object (input name -> typed array) or null');
  const out: Record<string, ShapedTensor & { unknownShape?: boolean }> = {};
  for (const [k, v] of Object.entries(b)) out[k] = { data: v, shape: [v.length], unknownShape: true };
  return out;
}

/**
 * Runs the calibration: for every batch, `runner` computes the `tensors` (graph inputs come from the batch
 * itself) and each one's |x| goes into its histogram. Batches are dropped after use.
 */
export async function collectStatistics(
  runner: StatisticsRunner,
  calibrator: CalibratorLike,
  inputs: InputSpec[],
  tensors: string[],
  options: CollectOptions,
): Promise<CollectResult> {
  const bins = options.bins ?? DEFAULT_BINS;
  const histograms = new Map<string, AbsHistogram>();
  for (const t of tensors) histograms.set(t, new AbsHistogram(bins));
  const shapes = new Map<string, number[]>();
  const inputNames = inputs.map((i) => i.name);
  const inputSet = new Set(inputNames);
  const fetch = tensors.filter((t) => !inputSet.has(t));
  let batches = 0;
  let samples = 0;
  const kept: ShapedBatch[] = [];
  const inputNonFinite = new Map<string, { values: number; batches: number }>();
  const max = options.maxBatches ?? Infinity;
  const pipeline = options.pipeline ?? true;
  let started = 0;
  const read = async (): Promise<{ batch: ShapedBatch; out: Promise<Record<string, { data: TypedArray; shape: number[] }>> } | null> => {
    if (started >= max) return null;
    if (options.signal?.aborted) throw new TensorRTError('INVALID_ARGUMENT', 'calibration aborted');
    const raw = await nextBatch(calibrator, inputNames);
    if (!raw) return null;
    started++;
    const batch = checkBatch(raw, inputs, calibrator.batchSize, options.inputShapes);
    for (const name of inputNames) {
      const bad = countNonFinite(batch[name].data as Float32Array);
      if (bad > 0) {
        const e = inputNonFinite.get(name) ?? { values: 0, batches: 0 };
        e.values += bad;
        e.batches++;
        inputNonFinite.set(name, e);
      }
    }
    if (kept.length < (options.keep ?? 0)) {
      kept.push(Object.fromEntries(Object.entries(batch).map(([k, v]) => [k, { data: v.data.slice(), shape: [...v.shape] }])));
    }
    const out = fetch.length > 0 ? runner.run(batch, fetch) : Promise.resolve({});
    out.catch(() => undefined); // awaited below; avoids an unhandled rejection while the previous batch is added
    return { batch, out };
  };
  const pool = (options.workers ?? 0) > 0 ? createHistogramPool(tensors, bins, options.workers ?? defaultStatisticsWorkers()) : null;
  try {
    let pending = await read();
    while (pending) {
      const { batch, out: outP } = pending;
      const out = await outP;
      pending = null;
      // start the next batch on the runner before the histograms of this one are updated
      let next: Promise<Awaited<ReturnType<typeof read>>> | null = null;
      if (pipeline) next = read();
      for (const t of tensors) {
        const v = inputSet.has(t) ? batch[t] : out[t];
        if (!v) continue;
        if (!(v.data instanceof Float32Array)) continue; // not a float tensor: nothing to calibrate
        if (pool) pool.add(t, v.data);
        else histograms.get(t)!.add(v.data);
        if (!shapes.has(t)) shapes.set(t, v.shape.map((d) => toNumber(d)));
      }
      batches++;
      samples += batch[inputNames[0]]?.shape[0] ?? calibrator.batchSize;
      if (pool) await pool.endBatch(batches);
      options.onBatch?.({ batch: batches, samples });
      pending = next ? await next : await read();
    }
    if (pool) for (const [t, h] of await pool.finish()) histograms.set(t, h);
  } finally {
    await pool?.terminate();
  }
  if (batches === 0) throw invalidArg('the calibrator gave no batches');
  return { histograms, shapes, batches, samples, kept, inputNonFinite };
}
