/**
 * calibrate(): the scales of every float tensor of an ONNX model, computed in TypeScript from a calibrator's
 * batches (entropy / minmax / percentile, the same statistics as quantize()), written through
 * `calibrator.writeCache()` in TensorRT's calibration-cache format.
 *
 * This is how methods TensorRT has no calibrator for (percentile) reach TensorRT 10's implicit INT8: calibrate
 * once, then build with `{ int8: true, calibrator }`: the builder reads the cache instead of asking for
 * batches. The cache is equally usable by trtexec (`--calib=<file>`) and the Python API.
 */
import { invalidArg, TensorRTError } from '../errors';
import * as is from '../validate';
import { checkModelArg } from '../onnx';
import { loadModel, modelInfo } from '../onnx';
import type { onnx } from '../onnx';
import { formatCalibrationCache, scaleFromAmax } from './cache';
import { collectStatistics, createOrtRunner, exposeTensors, STATISTICS_OPTIMIZATION_LEVEL, type InputSpec, type StatisticsRunner } from './collect';
import { amaxFromHistograms } from './quantize';
import type { CalibratorLike } from './types';

export interface CalibrateOptions {
  /** Statistics method; default from the calibrator's algorithm (entropy2/entropy -> entropy). */
  method?: 'entropy' | 'minmax' | 'percentile';
  /** For 'percentile' (default: the calibrator's, else 99.99). */
  percentile?: number;
  /** Read at most this many batches. */
  maxBatches?: number;
  /** Header version of the cache written (TensorRT's major*10000+minor*100+patch). Default 100000. */
  cacheVersion?: number;
  /** Shapes for calibrators whose getBatch() gives flat arrays (batch dimension included). */
  inputShapes?: Record<string, number[]>;
  /** Runs the float model (default: onnxruntime-node on the CPU). */
  runner?: (model: onnx.IModelProto) => Promise<StatisticsRunner>;
  onProgress?(e: { batch: number; samples: number }): void;
  signal?: AbortSignal;
}

const CALIBRATE_OPTION_KEYS = ['method', 'percentile', 'maxBatches', 'cacheVersion', 'inputShapes', 'runner', 'onProgress', 'signal'];

export interface CalibrateResult {
  /** tensor name -> scale (amax / 127), for every float tensor seen. */
  scales: Map<string, number>;
  /** The TensorRT cache that was handed to calibrator.writeCache(). */
  cache: Buffer;
  batches: number;
  samples: number;
}

function methodFor(c: CalibratorLike, o: CalibrateOptions): 'entropy' | 'minmax' | 'percentile' {
  if (o.method !== undefined) {
    if (!['entropy', 'minmax', 'percentile'].includes(o.method)) throw invalidArg(`unknown method "${String(o.method)}" (entropy, minmax or percentile)`);
    return o.method;
  }
  if (c.algorithm === 'entropy' || c.algorithm === 'entropy2') return 'entropy';
  if (c.algorithm === 'minmax' || c.algorithm === 'percentile') return c.algorithm;
  throw new TensorRTError('UNSUPPORTED', `calibrate(): the '${c.algorithm}' algorithm is TensorRT's own; use entropy2, minmax or percentile`);
}

/** Calibrates every float tensor of `model` (path, bytes or ModelProto) and writes the TensorRT cache. */
export async function calibrate(model: string | Uint8Array | onnx.IModelProto, calibrator: CalibratorLike, options: CalibrateOptions = {}): Promise<CalibrateResult> {
  checkModelArg(model, 'calibrate');
  is.options(options, 'calibrate', CALIBRATE_OPTION_KEYS);
  if (!calibrator || typeof calibrator !== 'object' || typeof calibrator.getBatch !== 'function' || typeof calibrator.writeCache !== 'function') {
    throw invalidArg('calibrate: calibrator must implement getBatch() and writeCache()');
  }
  const method = methodFor(calibrator, options);
  const percentile = options.percentile ?? calibrator.percentile ?? 99.99;
  if (!(typeof percentile === 'number' && percentile > 0 && percentile <= 100)) throw invalidArg(`percentile must be in (0, 100], got ${String(percentile)}`);
  if (options.maxBatches !== undefined && !(Number.isInteger(options.maxBatches) && options.maxBatches > 0)) {
    throw invalidArg(`maxBatches must be a positive integer, got ${String(options.maxBatches)}`);
  }
  const m = typeof model === 'string' || model instanceof Uint8Array ? loadModel(model) : model;
  const g = m.graph;
  if (!g) throw new TensorRTError('PARSE_ERROR', 'ONNX model has no graph');
  const info = modelInfo(m);
  const inputs: InputSpec[] = info.inputs.map((i) => ({ name: i.name, shape: i.shape }));
  // every tensor TensorRT may ask a scale for: the graph inputs and every node output (non-float ones are
  // skipped by the statistics pass)
  const initializers = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
  const tensors = new Set<string>(inputs.map((i) => i.name));
  for (const n of g.node ?? []) for (const o of n.output ?? []) if (o && !initializers.has(o)) tensors.add(o);
  const statsModel = exposeTensors(m, tensors);
  const runner = options.runner ? await options.runner(statsModel) : await createOrtRunner(statsModel, { graphOptimizationLevel: STATISTICS_OPTIMIZATION_LEVEL });
  let r;
  try {
    r = await collectStatistics(runner, calibrator, inputs, [...tensors], {
      method,
      maxBatches: options.maxBatches,
      inputShapes: options.inputShapes,
      onBatch: options.onProgress,
      signal: options.signal,
    });
  } finally {
    await runner.dispose?.();
  }
  if (r.batches === 0) throw invalidArg('calibrate: the calibrator gave no batch');
  // unusable data (issue 11): tensors whose every value was NaN / infinite have no statistics at all
  const empty = [...r.histograms].filter(([, h]) => h.total === 0 && h.nonFinite > 0).map(([t]) => t);
  if (empty.length > 0) {
    const bad = [...r.inputNonFinite].map(([k, v]) => `${v.values} in input "${k}" (${v.batches} batches)`).join(', ') || 'none in the calibration data';
    throw invalidArg(`calibration data unusable: ${empty.length} tensor(s) saw only NaN/infinite values (${empty.slice(0, 4).join(', ')}${empty.length > 4 ? ', ...' : ''}); NaN/infinite values: ${bad}`);
  }
  const scales = new Map<string, number>();
  for (const [t, amax] of amaxFromHistograms(r.histograms, method, percentile)) scales.set(t, scaleFromAmax(Math.max(amax, 1e-6)));
  const cache = formatCalibrationCache(scales, calibrator.algorithm, options.cacheVersion ?? 100000);
  await calibrator.writeCache(new Uint8Array(cache.buffer, cache.byteOffset, cache.byteLength));
  return { scales, cache, batches: r.batches, samples: r.samples };
}
