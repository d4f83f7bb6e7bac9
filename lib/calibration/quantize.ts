/**
 * Explicit INT8 quantization: `quantize(model, calibrator, options)` returns a new ONNX model with
 * QuantizeLinear/DequantizeLinear (Q/DQ) pairs where TensorRT fuses them: the activation inputs of Conv,
 * ConvTranspose, Gemm and MatMul (per-tensor symmetric INT8 scales from the calibration statistics), their
 * constant weights (per-output-channel symmetric INT8, stored as INT8 initializers + DequantizeLinear), and the
 * inputs of residual Adds whose both sides are quantized. Works without TensorRT and without a GPU
 * (statistics on the CPU with onnxruntime-node). The result is what TensorRT 10 and 11 build INT8 engines from.
 */
import { TensorRTError, invalidArg } from '../errors';
import * as is from '../validate';
import { checkModelArg } from '../onnx';
import { onnx, loadModel, modelInfo, toNumber, tensorToFloat32, makeTensor } from '../onnx';
import {
  GraphIndex, cloneModel, foldBatchNormalization, intAttr, isDefaultDomain, opsetOf,
  removeUnusedConstants, attrInt,
} from '../onnx/graph';
import { upgradeOpset } from '../onnx/upgrade';
import { computeAmax, type AbsHistogram } from './histogram';
import { formatCalibrationCache, parseCalibrationCache, CACHE_ALGORITHM_NAMES } from './cache';
import { checkBatch, collectStatistics, createOrtRunner, exposeTensors, loadOnnxRuntime, nextBatch, STATISTICS_OPTIMIZATION_LEVEL, type InputSpec, type StatisticsRunner } from './collect';
import type { CalibratorLike } from './types';
import { Calibrator, type ShapedBatch } from './calibrator';
import type { TypedArray } from '../dtypes';

/** Math through a module-level alias: global look-ups in hot loops are slow inside vm sandboxes (jest). */
const M = Math;

const DT = onnx.TensorProto.DataType;

export const DEFAULT_QUANTIZED_OP_TYPES = ['Conv', 'ConvTranspose', 'Gemm', 'MatMul'] as const;

export interface QuantizeOptions {
  /** Statistics method; default from the calibrator's algorithm (entropy2/entropy -> 'entropy', minmax, percentile). */
  method?: 'entropy' | 'minmax' | 'percentile';
  /** For 'percentile': the percentile of |x| (default: the calibrator's, else 99.99). */
  percentile?: number;
  /** Op types whose inputs are quantized (default Conv, ConvTranspose, Gemm, MatMul). */
  opTypes?: string[];
  /** Node names to leave in float. */
  excludeNodes?: string[];
  /** Op types to leave in float. */
  excludeOpTypes?: string[];
  /** Keep the first quantizable layer(s) (those fed by the graph inputs) in float. Default false. */
  keepFirstLayer?: boolean;
  /** Keep the last quantizable layer(s) (those that feed the graph outputs) in float. Default false. */
  keepLastLayer?: boolean;
  /** Q/DQ on both inputs of residual Adds whose two sides are quantized. Default true. */
  quantizeResidualAdd?: boolean;
  /** Fold BatchNormalization into the preceding Conv first (as TensorRT does). Default true. */
  foldBatchNorm?: boolean;
  /** Per-output-channel weight scales (needs opset >= 13; the model is upgraded when its ops allow). Default true. */
  perChannel?: boolean;
  /** Use at most this many calibration batches. */
  maxBatches?: number;
  /** Batch shapes for calibrators that give flat arrays and models with dynamic dims. */
  inputShapes?: Record<string, number[]>;
  /** Histogram bins (default 2048). */
  bins?: number;
  /** Runs the float model for statistics; default onnxruntime-node on the CPU. */
  runner?: (model: onnx.ModelProto) => Promise<StatisticsRunner>;
  /**
   * Progress of every phase: 'statistics' after each calibration batch (batch, samples, batches when known),
   * 'thresholds' per tensor (tensor i of tensors), 'verify-upgrade' once the upgraded model was checked,
   * 'accuracy' per model measured by the fallback (tensor i of tensors, the current cosine), 'rewrite' at the end.
   */
  onProgress?(e: QuantizeProgress): void;
  /** Total number of batches when known (for progress). */
  expectedBatches?: number;
  signal?: AbortSignal;
  /** Version number written into the calibration cache header (default 100000 = TensorRT 10.0.0). */
  cacheVersion?: number;
  /**
   * Accuracy-driven fallback: the output cosine similarity (float vs quantized, all outputs) to reach on the first
   * `accuracyBatches` calibration batches, in (0, 1]. When the fully quantized model falls short, the quantized
   * activation tensors are ranked by sensitivity (the output cosine of a model where only that tensor is quantized)
   * (on the first of those batches, up to 5 million input values) and the most sensitive ones are kept in float, one at a time, until the target
   * is met. Needs onnxruntime-node.
   * summary.accuracy says what was kept. Default: no check.
   */
  accuracyTarget?: number;
  /** Calibration batches kept to measure the accuracy on (default 16). */
  accuracyBatches?: number;
  /** At most this many tensors are kept in float by the fallback (default: no limit). */
  maxFallbackTensors?: number;
  /**
   * Which tensors the calibration cache handed to calibrator.writeCache() covers: 'all' (default) every float
   * tensor of the network (graph inputs and node outputs of the model as given, what TensorRT's implicit INT8
   * asks scales for), 'quantized' only the activation tensors that get Q/DQ (a faster statistics pass). Default
   * 'all', except for a Calibrator of this library without `cacheFile` (nothing would keep the cache): 'quantized'.
   */
  cacheTensors?: 'all' | 'quantized';
  /** Worker threads for the histogram updates (default 0: on the JS thread, overlapped with the model run of the next batch). */
  statisticsWorkers?: number;
}

/** One progress event of quantize(). `batch` / `samples` are those read so far in every phase. */
export interface QuantizeProgress {
  phase: 'statistics' | 'thresholds' | 'verify-upgrade' | 'accuracy' | 'rewrite';
  batch: number;
  samples: number;
  /** Total batches when known (statistics). */
  batches?: number;
  /** thresholds / accuracy: the tensor being processed (1-based) out of `tensors`. */
  tensor?: number;
  tensors?: number;
  /** accuracy: what is being measured ('strict', 'rank' = sensitivity of one tensor, 'fallback'). */
  step?: 'strict' | 'rank' | 'fallback';
  /** accuracy: the tensor measured, and the cosine just measured. */
  name?: string;
  cosine?: number;
}

/** What the opset upgrade did (summary.upgrade). */
export interface UpgradeReport {
  from: number;
  to: number;
  /** Nodes rewritten to the target opset's form. */
  converted: number;
  /** Whether the float model before and after the upgrade was run on the first calibration batch and agreed. */
  verified: boolean;
  /** Largest |before - after| over all outputs on that batch (0 = bit-identical). */
  maxAbsDiff?: number;
  /** Why it was not verified. */
  note?: string;
}

const QUANTIZE_OPTION_KEYS = [
  'method', 'percentile', 'opTypes', 'excludeNodes', 'excludeOpTypes', 'keepFirstLayer', 'keepLastLayer', 'quantizeResidualAdd',
  'foldBatchNorm', 'perChannel', 'maxBatches', 'inputShapes', 'bins', 'runner', 'onProgress', 'expectedBatches', 'signal',
  'cacheVersion', 'accuracyTarget', 'accuracyBatches', 'maxFallbackTensors', 'cacheTensors', 'statisticsWorkers',
];

export interface QuantizeSummary {
  method: 'entropy' | 'minmax' | 'percentile';
  /** Activation tensors that received a scale (Q/DQ inserted). */
  tensorsCalibrated: number;
  /** Nodes whose inputs are quantized (Conv/Gemm/MatMul/... and residual Adds). */
  nodesQuantized: number;
  /** Weight tensors stored as INT8. */
  weightsQuantized: number;
  residualAdds: number;
  foldedBatchNorms: number;
  batches: number;
  samples: number;
  /** True when the scales came from the calibration cache (no batch was read). */
  fromCache: boolean;
  opsetBefore: number;
  opset: number;
  perChannel: boolean;
  /** Why per-channel weights were not possible, when they were not. */
  note?: string;
  /** With accuracyTarget: the measured cosines and the tensors kept in float. */
  accuracy?: AccuracyReport;
  /** When the opset was raised: what was converted and the equivalence check. */
  upgrade?: UpgradeReport;
  /** NaN / infinite values in the calibration data (per input: values and batches) and in the measured tensors. */
  nonFinite: { inputs: Record<string, { values: number; batches: number }>; tensors: number; values: number };
  /** Tensors the calibration cache holds a scale for (0 when the scales came from a cache). */
  cacheTensors: number;
  seconds: number;
  /** Activation tensor -> amax (clipping threshold); scale = amax / 127. */
  amax: Map<string, number>;
}

export interface QuantizeResult {
  model: onnx.ModelProto;
  summary: QuantizeSummary;
}

function methodOf(cal: CalibratorLike, options: QuantizeOptions): 'entropy' | 'minmax' | 'percentile' {
  if (options.method) {
    if (!['entropy', 'minmax', 'percentile'].includes(options.method)) throw invalidArg(`unknown method "${options.method}" (entropy, minmax or percentile)`);
    return options.method;
  }
  switch (cal.algorithm) {
    case 'entropy': case 'entropy2': return 'entropy';
    case 'minmax': return 'minmax';
    case 'percentile': return 'percentile';
    default: throw new TensorRTError('UNSUPPORTED', `calibration algorithm "${cal.algorithm}" is not supported by quantize(); use entropy2, minmax or percentile`);
  }
}

interface Plan {
  /** nodes whose inputs get Q/DQ */
  nodes: onnx.INodeProto[];
  /** node -> indices of its activation inputs to quantize */
  actInputs: Map<onnx.INodeProto, number[]>;
  /** node -> [input index of the weight, channel axis] */
  weightInputs: Map<onnx.INodeProto, [number, number]>;
  residualAdds: onnx.INodeProto[];
}

/** Decides which nodes and inputs get Q/DQ. */
function plan(g: onnx.IGraphProto, idx: GraphIndex, options: QuantizeOptions): Plan {
  const opTypes = new Set(options.opTypes ?? DEFAULT_QUANTIZED_OP_TYPES);
  const exNodes = new Set(options.excludeNodes ?? []);
  const exOps = new Set(options.excludeOpTypes ?? []);
  const excluded = (n: onnx.INodeProto) => exNodes.has(n.name ?? '') || exOps.has(n.opType ?? '') || (n.output ?? []).some((o) => exNodes.has(o));
  let cands = (g.node ?? []).filter((n) => isDefaultDomain(n) && opTypes.has(n.opType ?? '') && !excluded(n));
  // only float tensors with a non-constant activation input
  cands = cands.filter((n) => !idx.isConstant(n.input?.[0] ?? ''));
  const candSet = new Set(cands);
  if (options.keepFirstLayer) {
    const first = reach(idx, [...idx.graphInputs], candSet, 'down');
    cands = cands.filter((n) => !first.has(n));
  }
  if (options.keepLastLayer) {
    const last = reach(idx, [...idx.graphOutputs], candSet, 'up');
    cands = cands.filter((n) => !last.has(n));
  }
  const actInputs = new Map<onnx.INodeProto, number[]>();
  const weightInputs = new Map<onnx.INodeProto, [number, number]>();
  for (const n of cands) {
    const op = n.opType;
    const inp = n.input ?? [];
    const acts: number[] = [0];
    const w = inp[1] ?? '';
    const wt = w ? idx.constant(w) : undefined;
    if (wt && wt.dataType === DT.FLOAT) {
      const rank = (wt.dims ?? []).length;
      let axis = 0;
      if (op === 'ConvTranspose') axis = 1;
      else if (op === 'Gemm') axis = attrInt(n, 'transB', 0) ? 0 : 1;
      else if (op === 'MatMul') axis = rank - 1;
      if (rank >= 1) weightInputs.set(n, [1, axis]);
    } else if (w && !wt) {
      acts.push(1); // activation x activation (MatMul)
    }
    actInputs.set(n, acts);
  }
  const quantizedNodes = new Set(cands);
  const quantizedTensors = new Set<string>();
  for (const [n, acts] of actInputs) for (const i of acts) quantizedTensors.add(n.input![i]);
  const residualAdds: onnx.INodeProto[] = [];
  if (options.quantizeResidualAdd ?? true) {
    for (const n of g.node ?? []) {
      if (n.opType !== 'Add' || !isDefaultDomain(n) || excluded(n)) continue;
      const inp = n.input ?? [];
      if (inp.length !== 2 || inp.some((i) => !i || idx.isConstant(i))) continue;
      const side = (t: string) => {
        const p = idx.producer.get(t);
        return (p !== undefined && quantizedNodes.has(p)) || quantizedTensors.has(t);
      };
      if (side(inp[0]) && side(inp[1])) {
        residualAdds.push(n);
        actInputs.set(n, [0, 1]);
      }
    }
  }
  return { nodes: [...cands, ...residualAdds], actInputs, weightInputs, residualAdds };
}

/** Candidates reached from `start` tensors without passing through another candidate. */
function reach(idx: GraphIndex, start: string[], cands: Set<onnx.INodeProto>, dir: 'down' | 'up'): Set<onnx.INodeProto> {
  const found = new Set<onnx.INodeProto>();
  const seen = new Set<string>();
  const stack = [...start];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    const nodes = dir === 'down' ? (idx.consumers.get(t) ?? []).map((c) => c.node) : [idx.producer.get(t)].filter((x): x is onnx.INodeProto => !!x);
    for (const n of nodes) {
      if (cands.has(n)) {
        found.add(n);
        continue;
      }
      for (const next of dir === 'down' ? n.output ?? [] : n.input ?? []) if (next && !idx.isConstant(next)) stack.push(next);
    }
  }
  return found;
}

/** Per-channel (or per-tensor) symmetric INT8 weights: { q, scales }. */
export function quantizeWeights(w: Float32Array, dims: number[], axis: number | null): { q: Int8Array; scales: Float32Array } {
  const n = w.length;
  const q = new Int8Array(n);
  if (axis === null) {
    let m = 0;
    for (let i = 0; i < n; i++) m = M.max(m, M.abs(w[i]));
    const s = m > 0 ? m / 127 : 1;
    for (let i = 0; i < n; i++) q[i] = M.max(-127, M.min(127, M.round(w[i] / s)));
    return { q, scales: Float32Array.of(s) };
  }
  const c = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = n / (c * inner);
  const amax = new Float32Array(c);
  for (let o = 0; o < outer; o++)
    for (let k = 0; k < c; k++) {
      const base = (o * c + k) * inner;
      let m = amax[k];
      for (let j = 0; j < inner; j++) m = M.max(m, M.abs(w[base + j]));
      amax[k] = m;
    }
  const scales = new Float32Array(c);
  for (let k = 0; k < c; k++) scales[k] = amax[k] > 0 ? amax[k] / 127 : 1;
  for (let o = 0; o < outer; o++)
    for (let k = 0; k < c; k++) {
      const base = (o * c + k) * inner;
      const s = scales[k];
      for (let j = 0; j < inner; j++) q[base + j] = M.max(-127, M.min(127, M.round(w[base + j] / s)));
    }
  return { q, scales };
}

/** Smallest scale written for a tensor that was all zeros during calibration. */
const MIN_AMAX = 1e-6;

/**
 * Quantizes an ONNX model to explicit INT8 (Q/DQ). `model` is a path, bytes or a decoded ModelProto (not
 * modified). The calibrator's batches run through the float model once; with a calibration cache
 * (calibrator.readCache()) that covers every needed tensor, no batch is read. The scales are handed to
 * calibrator.writeCache() in TensorRT's cache format.
 */
export async function quantize(model: string | Uint8Array | onnx.IModelProto, calibrator: CalibratorLike, options: QuantizeOptions = {}): Promise<QuantizeResult> {
  const t0 = performance.now();
  checkModelArg(model, 'quantize');
  is.options(options, 'quantize', QUANTIZE_OPTION_KEYS);
  if (!calibrator || typeof calibrator !== 'object' || typeof calibrator.getBatch !== 'function') {
    throw invalidArg('quantize: calibrator must implement getBatch(), readCache(), writeCache()');
  }
  if (options.maxBatches !== undefined && !(Number.isInteger(options.maxBatches) && options.maxBatches > 0)) {
    throw invalidArg(`maxBatches must be a positive integer, got ${String(options.maxBatches)}`);
  }
  if (options.accuracyTarget !== undefined && !(typeof options.accuracyTarget === 'number' && options.accuracyTarget > 0 && options.accuracyTarget <= 1)) {
    throw invalidArg(`accuracyTarget must be a number in (0, 1], got ${String(options.accuracyTarget)}`);
  }
  for (const k of ['accuracyBatches', 'maxFallbackTensors'] as const) {
    const v = options[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= (k === 'accuracyBatches' ? 1 : 0))) throw invalidArg(`${k} must be a ${k === 'accuracyBatches' ? 'positive' : 'non-negative'} integer, got ${String(v)}`);
  }
  const accuracyBatches = options.accuracyTarget !== undefined ? options.accuracyBatches ?? DEFAULT_ACCURACY_BATCHES : 0;
  const method = methodOf(calibrator, options);
  const percentile = options.percentile ?? calibrator.percentile ?? 99.99;
  if (!(percentile > 0 && percentile <= 100)) throw invalidArg(`percentile must be in (0, 100], got ${percentile}`);
  const original = typeof model === 'string' || model instanceof Uint8Array ? loadModel(model) : cloneModel(model);
  if (!original.graph) throw new TensorRTError('PARSE_ERROR', 'ONNX model has no graph');
  const opsetBefore = opsetOf(original);
  let perChannel = options.perChannel ?? true;
  let note: string | undefined;
  const progress = (e: Omit<QuantizeProgress, 'batch' | 'samples'>) => options.onProgress?.({ batch: batches, samples, ...e });
  let batches = 0;
  let samples = 0;

  // 1. Prepare the float model: the lowest opset that has what is needed (per-tensor Q/DQ: 10, per-axis: 13),
  //    reached by converting every op whose meaning changed; then BN folding (on a copy: the statistics run on the
  //    unfolded model, whose tensors are those of the network as given).
  let upgraded = original;
  let upgrade: UpgradeReport | undefined;
  const target = perChannel ? 13 : Math.max(10, opsetBefore);
  if (opsetBefore < target) {
    let up = cloneModel(original);
    let r = upgradeOpset(up, target);
    if (!r.ok && target === 13) {
      const fallback = Math.max(10, opsetBefore);
      const up2 = cloneModel(original);
      const r2 = opsetBefore >= 10 ? { ...r, ok: true, converted: 0, to: opsetBefore } : upgradeOpset(up2, fallback);
      if (r2.ok) {
        perChannel = false;
        note = `${r2.to === opsetBefore ? `kept opset ${opsetBefore}` : `opset ${opsetBefore} -> ${r2.to}`} (no per-channel weights: the upgrade to 13 is impossible: ${r.reason}); weights are quantized per tensor`;
        up = opsetBefore >= 10 ? cloneModel(original) : up2;
        r = r2;
      }
    }
    if (!r.ok) throw new TensorRTError('UNSUPPORTED', `cannot quantize: the model (opset ${opsetBefore}) cannot be upgraded to opset ${target}, which Q/DQ needs: ${r.reason}`);
    if (r.to !== opsetBefore) {
      upgraded = up;
      upgrade = { from: opsetBefore, to: r.to, converted: r.converted, verified: false };
    }
  }
  const m = cloneModel(upgraded);
  const folded = options.foldBatchNorm ?? true ? foldBatchNormalization(m) : 0;
  const g = m.graph!;
  const idx = new GraphIndex(g);
  const p = plan(g, idx, options);
  const actTensors = new Set<string>();
  for (const [n, acts] of p.actInputs) for (const i of acts) actTensors.add(n.input![i]);
  if (actTensors.size === 0) {
    const ops = [...new Set((g.node ?? []).map((n) => n.opType))].slice(0, 12).join(', ');
    throw new TensorRTError(
      'UNSUPPORTED',
      `nothing to quantize: no ${(options.opTypes ?? DEFAULT_QUANTIZED_OP_TYPES).join('/')} node with a float activation input is left (after exclusions); the model's ops: ${ops}`,
    );
  }

  // 2. Scales: from the cache when it covers every tensor, else calibrate.
  const info = modelInfo(m);
  const inputs: InputSpec[] = info.inputs.map((i) => ({ name: i.name, shape: i.shape }));
  let amax = new Map<string, number>();
  let fromCache = false;
  let cacheTensors = 0;
  const nonFinite = { inputs: {} as Record<string, { values: number; batches: number }>, tensors: 0, values: 0 };
  const algoName = CACHE_ALGORITHM_NAMES[calibrator.algorithm] ?? calibrator.algorithm;
  const cacheBytes = await calibrator.readCache();
  if (cacheBytes && cacheBytes.length > 0) {
    const cache = parseCalibrationCache(cacheBytes);
    if (cache.algorithm === algoName && [...actTensors].every((t) => cache.scales.has(t) && Number.isFinite(cache.scales.get(t)!))) {
      for (const t of actTensors) amax.set(t, cache.scales.get(t)! * 127);
      fromCache = true;
    }
  }
  let shapes = new Map<string, number[]>();
  let kept: ShapedBatch[] = [];
  if (!fromCache) {
    // every tensor of the network as given (for the cache), or only the quantized ones
    const measured = new Set(actTensors);
    // default: every tensor, unless the calibrator is one of ours without a cache file (its writeCache() keeps nothing)
    const keepsNothing = calibrator instanceof Calibrator && !calibrator.cacheFile && calibrator.writeCache === Calibrator.prototype.writeCache;
    const cacheAll = options.cacheTensors ?? (keepsNothing ? 'quantized' : 'all');
    if (cacheAll === 'all') {
      const init = new Set((original.graph.initializer ?? []).map((t) => t.name ?? ''));
      for (const i of original.graph.input ?? []) if (!init.has(i.name ?? '')) measured.add(i.name ?? '');
      const have = new Set<string>((upgraded.graph!.node ?? []).flatMap((n) => n.output ?? []));
      for (const n of original.graph.node ?? []) for (const o of n.output ?? []) if (o && !init.has(o) && have.has(o)) measured.add(o);
    }
    const statsModel = exposeTensors(upgraded, measured);
    // 'basic': with dozens of intermediate tensors exposed, onnxruntime's layout optimizations ('all') add a reorder
    // per exposed tensor and run slower (PP-OCR rec: 175 vs 115 ms per batch, scripts/bench/vs-ort.js)
    const runner = options.runner ? await options.runner(statsModel) : await createOrtRunner(statsModel, { graphOptimizationLevel: STATISTICS_OPTIMIZATION_LEVEL });
    let r;
    try {
      r = await collectStatistics(runner, calibrator, inputs, [...measured], {
        method,
        bins: options.bins,
        maxBatches: options.maxBatches,
        inputShapes: options.inputShapes,
        signal: options.signal,
        onBatch: (e) => options.onProgress?.({ phase: 'statistics', ...e, batches: options.expectedBatches }),
        keep: Math.max(accuracyBatches, upgrade ? 1 : 0),
        ...(options.statisticsWorkers !== undefined ? { workers: options.statisticsWorkers } : {}),
      });
    } finally {
      await runner.dispose?.();
    }
    kept = r.kept;
    batches = r.batches;
    samples = r.samples;
    shapes = r.shapes;
    for (const [k, v] of r.inputNonFinite) nonFinite.inputs[k] = v;
    const inputNames = new Set(inputs.map((i) => i.name));
    for (const [t, h] of r.histograms) {
      if (h.nonFinite > 0 && !inputNames.has(t)) {
        nonFinite.tensors++;
        nonFinite.values += h.nonFinite;
      }
    }
    checkStatistics(r.histograms, actTensors, nonFinite, batches);
    amax = amaxFromHistograms(r.histograms, method, percentile, (i, n, name) => progress({ phase: 'thresholds', tensor: i, tensors: n, name }));
    const bad = [...actTensors].filter((t) => !Number.isFinite(amax.get(t)));
    if (bad.length > 0) throw new TensorRTError('INVALID_ARGUMENT', `calibration failed: the ${method} threshold of ${bad.length} tensor(s) is not finite (${bad.slice(0, 5).join(', ')})${describeNonFinite(nonFinite)}`);
    const scales = new Map<string, number>();
    for (const [t, a] of amax) if (Number.isFinite(a)) scales.set(t, M.max(a, MIN_AMAX) / 127);
    cacheTensors = scales.size;
    await calibrator.writeCache(formatCalibrationCache(scales, calibrator.algorithm, options.cacheVersion));
  }

  // 3. The upgrade must not change what the float model computes: run both on the same calibration batch.
  let evalBatches = kept.slice(0, accuracyBatches);
  if (options.accuracyTarget !== undefined && evalBatches.length === 0) {
    // scales came from the cache: read the evaluation batches now
    evalBatches = await readBatches(calibrator, inputs, options, accuracyBatches);
  }
  if (upgrade) {
    const check = kept[0] ?? evalBatches[0] ?? (await readBatches(calibrator, inputs, options, 1).catch(() => []))[0];
    if (check) Object.assign(upgrade, await verifyUpgrade(original, upgraded, check));
    else upgrade.note = 'not verified: the scales came from the cache and the calibrator gave no batch to run';
    progress({ phase: 'verify-upgrade' });
  }

  // 4. Rewrite; with an accuracy target, keep the most sensitive tensors in float until it is met.
  const strict = rewrite(m, options, amax, shapes, perChannel, new Set());
  if (strict.nodesQuantized === 0) {
    throw new TensorRTError('INVALID_ARGUMENT', `nothing was quantized: none of the ${actTensors.size} activation tensors got a scale${describeNonFinite(nonFinite)}`);
  }
  let result = strict;
  let accuracy: AccuracyReport | undefined;
  if (options.accuracyTarget !== undefined) {
    const r = await accuracyFallback(m, options, amax, shapes, perChannel, strict, evalBatches, options.accuracyTarget, (e) => progress({ phase: 'accuracy', ...e }));
    result = r.result;
    accuracy = r.report;
  }
  progress({ phase: 'rewrite' });
  const opset = opsetOf(result.model);
  const quantizedAmax = new Map([...amax].filter(([t]) => actTensors.has(t)));
  return {
    model: result.model,
    summary: {
      method,
      tensorsCalibrated: result.used.size,
      nodesQuantized: result.nodesQuantized,
      weightsQuantized: result.weightsQuantized,
      residualAdds: result.residualAdds,
      foldedBatchNorms: folded,
      batches,
      samples,
      fromCache,
      opsetBefore,
      opset,
      perChannel,
      ...(note ? { note } : {}),
      ...(accuracy ? { accuracy } : {}),
      ...(upgrade ? { upgrade } : {}),
      nonFinite,
      cacheTensors,
      seconds: (performance.now() - t0) / 1000,
      amax: quantizedAmax,
    },
  };
}

/** " (the calibration data held N NaN/infinite values in input x (k batches); ...)" or "". */
function describeNonFinite(nf: QuantizeSummary['nonFinite']): string {
  const parts = Object.entries(nf.inputs).map(([k, v]) => `${v.values} in input "${k}" (${v.batches} batch${v.batches === 1 ? '' : 'es'})`);
  if (parts.length === 0 && nf.values === 0) return '';
  return `; NaN/infinite values: ${parts.length ? `${parts.join(', ')} of the calibration data` : 'none in the calibration data'}${nf.values ? `, ${nf.values} in ${nf.tensors} tensor(s) computed from it` : ''}`;
}

/** Refuses statistics that are empty (no finite value seen) or non-finite for a tensor that needs a scale. */
function checkStatistics(h: Map<string, AbsHistogram>, needed: Set<string>, nf: QuantizeSummary['nonFinite'], batches: number): void {
  const empty: string[] = [];
  const infinite: string[] = [];
  for (const t of needed) {
    const x = h.get(t);
    if (!x || x.total === 0) empty.push(t);
    else if (!Number.isFinite(x.amax) || !Number.isFinite(x.range)) infinite.push(t);
  }
  if (empty.length === 0 && infinite.length === 0) return;
  const what = [
    empty.length ? `${empty.length} of ${needed.size} tensors have no finite value in ${batches} batch${batches === 1 ? '' : 'es'} (${empty.slice(0, 4).join(', ')}${empty.length > 4 ? ', ...' : ''})` : '',
    infinite.length ? `${infinite.length} have non-finite statistics (${infinite.slice(0, 4).join(', ')})` : '',
  ].filter((x) => x).join('; ');
  throw new TensorRTError('INVALID_ARGUMENT', `calibration data unusable: ${what}${describeNonFinite(nf)}`);
}

/** Tolerance of the upgrade check: float rounding relative to the output's magnitude. */
const UPGRADE_RTOL = 1e-5;

/** Runs the model before and after the opset upgrade on one batch (onnxruntime-node) and compares all outputs. */
async function verifyUpgrade(before: onnx.ModelProto, after: onnx.ModelProto, batch: ShapedBatch): Promise<Partial<UpgradeReport>> {
  try {
    loadOnnxRuntime();
  } catch {
    return { verified: false, note: 'not verified: onnxruntime-node (optional dependency) is not installed' };
  }
  const names = (before.graph?.output ?? []).map((o) => o.name ?? '');
  const run = async (mm: onnx.ModelProto) => {
    const r = await createOrtRunner(mm, { graphOptimizationLevel: 'basic' });
    try {
      return await r.run(batch, names);
    } finally {
      await r.dispose?.();
    }
  };
  const a = await run(before);
  const b = await run(after);
  let maxAbsDiff = 0;
  for (const k of names) {
    const x = a[k].data as ArrayLike<number>;
    const y = b[k]?.data as ArrayLike<number> | undefined;
    if (!y || y.length !== x.length) throw new TensorRTError('INTERNAL', `opset upgrade changed output "${k}": ${y?.length ?? 'no'} values instead of ${x.length}`);
    let peak = 0;
    let diff = 0;
    for (let i = 0; i < x.length; i++) {
      const xi = Number(x[i]);
      const yi = Number(y[i]);
      if (Number.isNaN(xi) && Number.isNaN(yi)) continue;
      peak = M.max(peak, M.abs(xi));
      diff = M.max(diff, M.abs(xi - yi));
      if (Number.isNaN(diff)) diff = Infinity;
    }
    maxAbsDiff = M.max(maxAbsDiff, diff);
    if (diff > UPGRADE_RTOL * M.max(1, peak)) {
      throw new TensorRTError('INTERNAL', `the opset upgrade changed what the model computes: output "${k}" differs by up to ${diff} (largest value ${peak}); please report this model`);
    }
  }
  return { verified: true, maxAbsDiff };
}

interface Rewritten {
  model: onnx.ModelProto;
  /** Activation tensors that got Q/DQ. */
  used: Set<string>;
  /** Activation tensors that could get Q/DQ (a scale and a quantized consumer), before keepFloat. */
  candidates: string[];
  nodesQuantized: number;
  weightsQuantized: number;
  residualAdds: number;
}

/**
 * The Q/DQ model from a prepared float model (not modified): Q/DQ for activations right after their producer,
 * INT8 weights + DQ before their consumer. Tensors in `keepFloat` get no Q/DQ, and the nodes they feed keep float
 * weights.
 */
function rewrite(
  prepared: onnx.ModelProto,
  options: QuantizeOptions,
  amax: Map<string, number>,
  shapes: Map<string, number[]>,
  perChannel: boolean,
  keepFloat: Set<string>,
): Rewritten {
  const m = cloneModel(prepared);
  const g = m.graph!;
  const idx = new GraphIndex(g);
  const p = plan(g, idx, options);
  // Residual Adds need both inputs of one shape (no broadcast); drop those that are not when shapes are known.
  const residual: onnx.INodeProto[] = [];
  for (const n of p.residualAdds) {
    const a = shapes.get(n.input![0]);
    const b = shapes.get(n.input![1]);
    if (a && b && a.join(',') !== b.join(',')) p.actInputs.delete(n);
    else residual.push(n);
  }
  const candidates: string[] = [];
  for (const [n, acts] of p.actInputs) for (const i of acts) if (amax.has(n.input![i]) && !candidates.includes(n.input![i])) candidates.push(n.input![i]);
  const used = new Set(candidates.filter((t) => !keepFloat.has(t)));

  const dqOf = new Map<string, string>();
  const after = new Map<string, onnx.NodeProto[]>(); // producer output -> nodes to insert after it
  const front: onnx.NodeProto[] = [];
  for (const t of used) {
    const a = M.max(amax.get(t)!, MIN_AMAX);
    const s = idx.unique(`${t}_scale`);
    const z = idx.unique(`${t}_zero_point`);
    idx.addInitializer(makeTensor(s, DT.FLOAT, [], Float32Array.of(a / 127)));
    idx.addInitializer(makeTensor(z, DT.INT8, [], Int8Array.of(0)));
    const qo = idx.unique(`${t}_quantized`);
    const dqo = idx.unique(`${t}_dequantized`);
    const nodes = [
      onnx.NodeProto.create({ name: idx.unique(`${t}_QuantizeLinear`), opType: 'QuantizeLinear', input: [t, s, z], output: [qo] }),
      onnx.NodeProto.create({ name: idx.unique(`${t}_DequantizeLinear`), opType: 'DequantizeLinear', input: [qo, s, z], output: [dqo] }),
    ];
    if (idx.producer.has(t)) after.set(t, nodes);
    else front.push(...nodes);
    dqOf.set(t, dqo);
  }
  let nodesQuantized = 0;
  for (const [n, acts] of p.actInputs) {
    let any = false;
    for (const i of acts) {
      const d = dqOf.get(n.input![i]);
      if (d) {
        n.input![i] = d;
        any = true;
      }
    }
    if (any) nodesQuantized++;
  }
  const weightDq = new Map<string, string>();
  let weightsQuantized = 0;
  for (const [n, [wi, axis]] of p.weightInputs) {
    if (!isQuantizedNode(n, dqOf)) continue; // its activation had no scale: keep the node in float
    const w = n.input![wi];
    let d = weightDq.get(w);
    if (!d) {
      const wt = idx.constant(w)!;
      const dims = (wt.dims ?? []).map((x) => toNumber(x));
      const { q, scales } = quantizeWeights(tensorToFloat32(wt), dims, perChannel ? axis : null);
      const qn = idx.unique(`${w}_int8`);
      const sn = idx.unique(`${w}_scale`);
      const zn = idx.unique(`${w}_zero_point`);
      idx.addInitializer(makeTensor(qn, DT.INT8, dims, q));
      idx.addInitializer(makeTensor(sn, DT.FLOAT, perChannel ? [scales.length] : [], scales));
      idx.addInitializer(makeTensor(zn, DT.INT8, perChannel ? [scales.length] : [], new Int8Array(scales.length)));
      d = idx.unique(`${w}_dequantized`);
      const dq = onnx.NodeProto.create({ name: idx.unique(`${w}_DequantizeLinear`), opType: 'DequantizeLinear', input: [qn, sn, zn], output: [d] });
      if (perChannel) dq.attribute.push(intAttr('axis', axis));
      front.push(dq);
      weightDq.set(w, d);
      weightsQuantized++;
    }
    n.input![wi] = d;
  }
  const newNodes: onnx.INodeProto[] = [...front];
  for (const n of g.node ?? []) {
    newNodes.push(n);
    for (const o of n.output ?? []) {
      const extra = after.get(o);
      if (extra) newNodes.push(...extra);
    }
  }
  g.node = newNodes;
  removeUnusedConstants(g);
  const dqs = new Set(dqOf.values());
  const residualAdds = residual.filter((n) => p.actInputs.has(n) && (n.input ?? []).some((i) => dqs.has(i))).length;
  return { model: m, used, candidates, nodesQuantized, weightsQuantized, residualAdds };
}

/** What the accuracy-driven fallback did (summary.accuracy). */
export interface AccuracyReport {
  target: number;
  /** Output cosine of the model with every candidate tensor quantized. */
  cosineStrict: number;
  /** Output cosine of the returned model. */
  cosine: number;
  met: boolean;
  /** Calibration batches (and samples) the cosines were measured on. */
  batches: number;
  samples: number;
  /**
   * Activation tensors kept in float, most sensitive first, with the output cosine of the model where only that
   * tensor is quantized (measured on the first evaluation batches, up to 5 million input values).
   */
  keptInFloat: { tensor: string; cosineAlone: number }[];
  seconds: number;
}

const DEFAULT_ACCURACY_BATCHES = 16;
/**
 * The ranking by sensitivity (one model run per tensor) uses the first evaluation batches up to this many input
 * values (e.g. all 16 crops of 3x48x192, 4 pages of 3x640x640), at least one batch.
 */
const SENSITIVITY_VALUES = 5_000_000;

/** Reads up to `n` batches from the calibrator (when the scales came from a cache). */
async function readBatches(cal: CalibratorLike, inputs: InputSpec[], options: QuantizeOptions, n: number): Promise<ShapedBatch[]> {
  const out: ShapedBatch[] = [];
  const names = inputs.map((i) => i.name);
  while (out.length < n) {
    const raw = await nextBatch(cal, names);
    if (!raw) break;
    out.push(checkBatch(raw, inputs, cal.batchSize, options.inputShapes));
  }
  if (out.length === 0) throw invalidArg('accuracyTarget: the calibrator gave no batches to measure the accuracy on');
  return out;
}

/**
 * Whether every graph input of `model` has a dynamic dimension 0 (a batch dimension batches can be concatenated
 * along). An input whose dimension 0 is fixed (`[1,25,96]`), or a scalar, takes its batches as they are.
 */
function batchDimDynamic(model: onnx.ModelProto): boolean {
  const inits = new Set((model.graph?.initializer ?? []).map((t) => t.name));
  return (model.graph?.input ?? []).filter((i) => !inits.has(i.name)).every((i) => {
    const dims = i.type?.tensorType?.shape?.dim;
    if (!dims) return false; // rank unknown: do not guess
    const d0 = dims[0];
    return d0 !== undefined && !(Number(d0.dimValue ?? 0) > 0);
  });
}

/**
 * Concatenates batches of equal sample shapes along dim 0 (fewer, larger runs); others stay apart. Only for models
 * whose batch dimension is dynamic (`merge` false: the batches as they are, one run each).
 */
function groupBatches(batches: ShapedBatch[], merge: boolean, maxSamples = 16): ShapedBatch[] {
  if (!merge) return batches;
  const groups: ShapedBatch[][] = [];
  const key = (b: ShapedBatch) => Object.entries(b).map(([k, v]) => `${k}:${v.shape.slice(1).join('x')}`).sort().join(',');
  let cur: ShapedBatch[] = [];
  let curKey = '';
  let curN = 0;
  for (const b of batches) {
    const k = key(b);
    const n = Object.values(b)[0]?.shape[0] ?? 1;
    if (cur.length > 0 && (k !== curKey || curN + n > maxSamples)) {
      groups.push(cur);
      cur = [];
      curN = 0;
    }
    cur.push(b);
    curKey = k;
    curN += n;
  }
  if (cur.length > 0) groups.push(cur);
  return groups.map((gr) => {
    if (gr.length === 1) return gr[0];
    const out: ShapedBatch = {};
    for (const name of Object.keys(gr[0])) {
      const parts = gr.map((b) => b[name]);
      const total = parts.reduce((a, t) => a + t.data.length, 0);
      const data = new Float32Array(total);
      let o = 0;
      for (const t of parts) {
        data.set(t.data as Float32Array, o);
        o += t.data.length;
      }
      out[name] = { data, shape: [parts.reduce((a, t) => a + t.shape[0], 0), ...parts[0].shape.slice(1)] };
    }
    return out;
  });
}

/** Cosine similarity of two lists of output sets (all outputs, all batches, as one vector). */
function outputCosine(ref: Record<string, { data: TypedArray }>[], got: Record<string, { data: TypedArray }>[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < ref.length; i++)
    for (const [k, v] of Object.entries(ref[i])) {
      if (!(v.data instanceof Float32Array || v.data instanceof Float64Array)) continue; // integer outputs (indices, shapes): not compared
      const a = v.data;
      const b = got[i][k].data as ArrayLike<number>;
      if (b.length !== a.length) throw new TensorRTError('INTERNAL', `output ${k}: ${b.length} values, expected ${a.length}`);
      for (let j = 0; j < a.length; j++) {
        dot += a[j] * b[j];
        na += a[j] * a[j];
        nb += b[j] * b[j];
      }
    }
  if (na === 0 && nb === 0) return 1;
  return na > 0 && nb > 0 ? dot / M.sqrt(na * nb) : 0;
}

/**
 * Accuracy-driven fallback: measures the output cosine (float vs Q/DQ, onnxruntime-node, Q/DQ evaluated as written)
 * on the evaluation batches; below `target`, ranks the quantized activation tensors by the cosine of a model where
 * only that one is quantized (on the first batches, up to SENSITIVITY_VALUES input values), and keeps the worst ones in float, one at a
 * time, until the target is met on all evaluation batches.
 */
async function accuracyFallback(
  prepared: onnx.ModelProto,
  options: QuantizeOptions,
  amax: Map<string, number>,
  shapes: Map<string, number[]>,
  perChannel: boolean,
  strict: Rewritten,
  evalBatches: ShapedBatch[],
  target: number,
  onStep?: (e: Pick<QuantizeProgress, 'tensor' | 'tensors' | 'step' | 'name' | 'cosine'>) => void,
): Promise<{ result: Rewritten; report: AccuracyReport }> {
  const t0 = performance.now();
  const outputNames = (prepared.graph?.output ?? []).map((o) => o.name ?? '');
  const runAll = async (model: onnx.ModelProto, level: 'basic' | 'all', feeds: ShapedBatch[]) => {
    const r = await createOrtRunner(model, { graphOptimizationLevel: level });
    try {
      const outs = [];
      for (const f of feeds) outs.push(await r.run(f, outputNames));
      return outs;
    } finally {
      await r.dispose?.();
    }
  };
  // the acceptance check runs on every evaluation batch; the ranking (one run per tensor) on the first few
  const merge = batchDimDynamic(prepared);
  const feeds = groupBatches(evalBatches, merge);
  let nRank = 0;
  for (let size = 0; nRank < evalBatches.length; nRank++) {
    size += Object.values(evalBatches[nRank]).reduce((a, t) => a + t.data.length, 0);
    if (nRank > 0 && size > SENSITIVITY_VALUES) break;
  }
  const rankFeeds = groupBatches(evalBatches.slice(0, nRank), merge);
  const ref = await runAll(prepared, 'all', feeds);
  const cosineOf = async (model: onnx.ModelProto) => outputCosine(ref, await runAll(model, 'basic', feeds));
  const cosineStrict = await cosineOf(strict.model);
  onStep?.({ step: 'strict', cosine: cosineStrict });
  const samples = evalBatches.reduce((a, b) => a + (Object.values(b)[0]?.shape[0] ?? 1), 0);
  const report: AccuracyReport = { target, cosineStrict, cosine: cosineStrict, met: cosineStrict >= target, batches: evalBatches.length, samples, keptInFloat: [], seconds: 0 };
  let result = strict;
  if (!report.met && (options.maxFallbackTensors ?? 1) > 0) {
    // sensitivity: the model with only tensor t quantized
    const cands = strict.candidates;
    const alone = new Map<string, number>();
    const rankRef = nRank === evalBatches.length ? ref : await runAll(prepared, 'all', rankFeeds);
    for (const t of cands) {
      if (options.signal?.aborted) throw new TensorRTError('INVALID_ARGUMENT', 'quantization aborted');
      const only = rewrite(prepared, options, amax, shapes, perChannel, new Set(cands.filter((x) => x !== t)));
      alone.set(t, outputCosine(rankRef, await runAll(only.model, 'basic', rankFeeds)));
      onStep?.({ step: 'rank', tensor: alone.size, tensors: cands.length, name: t, cosine: alone.get(t) });
    }
    const order = [...cands].sort((a, b) => alone.get(a)! - alone.get(b)!);
    const limit = options.maxFallbackTensors ?? order.length;
    const keep = new Set<string>();
    for (const t of order) {
      if (keep.size >= limit) break;
      keep.add(t);
      report.keptInFloat.push({ tensor: t, cosineAlone: alone.get(t)! });
      const r = rewrite(prepared, options, amax, shapes, perChannel, keep);
      const c = await cosineOf(r.model);
      result = r;
      report.cosine = c;
      onStep?.({ step: 'fallback', tensor: keep.size, tensors: order.length, name: t, cosine: c });
      if (c >= target) {
        report.met = true;
        break;
      }
    }
  }
  report.seconds = (performance.now() - t0) / 1000;
  return { result, report };
}

function isQuantizedNode(n: onnx.INodeProto, dqOf: Map<string, string>): boolean {
  const ds = new Set(dqOf.values());
  return (n.input ?? []).some((i) => ds.has(i));
}

/** amax per tensor from its histogram by the given method; `onTensor(i, n, name)` after each tensor. */
export function amaxFromHistograms(
  h: Map<string, AbsHistogram>,
  method: 'entropy' | 'minmax' | 'percentile',
  percentile = 99.99,
  onTensor?: (i: number, n: number, name: string) => void,
): Map<string, number> {
  const out = new Map<string, number>();
  let i = 0;
  for (const [t, hist] of h) {
    if (hist.total > 0) out.set(t, computeAmax(hist, method, percentile));
    onTensor?.(++i, h.size, t);
  }
  return out;
}
