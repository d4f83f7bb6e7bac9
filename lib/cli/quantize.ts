/**
 * `tensorrt-node quantize <in.onnx> --calib <dir> -o <out.onnx>`: explicit INT8 quantization (Q/DQ) of an ONNX
 * model from a directory of .npy calibration batches, computed on the CPU (onnxruntime-node); no TensorRT or GPU
 * needed. The output file is written only when everything succeeded (temp file + rename).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { action, checkOutputFile, fileError, io, requireCuda, requireTensorRT, UsageError } from './common';
import { readModelOrEngine } from './files';
import { modelInfo, saveModel } from '../onnx';
import { npyDirectoryCalibrator, type CalibrationMethod } from '../calibration/calibrator';
import { quantize, type QuantizeProgress, type QuantizeSummary } from '../calibration/quantize';
import { createTensorRTRunner } from '../calibration/trt-runner';

interface QuantizeCliOptions {
  calib: string;
  output: string;
  method: string;
  percentile?: string;
  batches?: string;
  cache?: string;
  exclude?: string[];
  excludeOpTypes?: string[];
  keepFirstLayer?: boolean;
  keepLastLayer?: boolean;
  perChannel?: boolean;
  residualAdd?: boolean;
  foldBatchNorm?: boolean;
  progress?: boolean;
  json?: boolean;
  backend: string;
  accuracyTarget?: string;
  accuracyBatches?: string;
  maxFallbackTensors?: string;
}

const METHODS: CalibrationMethod[] = ['entropy', 'minmax', 'percentile'];

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, ...v.split(',').map((s) => s.trim()).filter((s) => s)];
}

function parsePercentile(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const p = Number(s);
  if (!/^\s*[0-9.eE+-]+\s*$/.test(s) || !(p > 0 && p <= 100)) throw new UsageError(`--percentile must be a number in (0, 100], got "${s}"`);
  return p;
}

function parseBatches(s: string | undefined, flag = '--batches'): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s.trim()) || Number(s) < 1) throw new UsageError(`${flag} must be a positive integer, got "${s}"`);
  return Number(s);
}

function parseTarget(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const c = Number(s);
  if (!/^\s*[0-9.eE+-]+\s*$/.test(s) || !(c > 0 && c <= 1)) throw new UsageError(`--accuracy-target must be a cosine similarity in (0, 1], got "${s}"`);
  return c;
}

/** The summary table printed at the end. */
export function formatSummary(s: QuantizeSummary, file: string, params: { inputs: number; output: number }): string {
  const rows: [string, string][] = [
    ['method', s.method],
    ['calibration', s.fromCache ? 'from cache (no batch read)' : `${s.batches} batches, ${s.samples} samples`],
    ['tensors calibrated', String(s.tensorsCalibrated)],
    ['nodes quantized', `${s.nodesQuantized}${s.residualAdds ? ` (${s.residualAdds} residual Add)` : ''}`],
    ['weights INT8', `${s.weightsQuantized} (${s.perChannel ? 'per channel' : 'per tensor'})`],
    ['BatchNorm folded', String(s.foldedBatchNorms)],
    ...(s.accuracy
      ? ([
          ['accuracy', `output cosine ${s.accuracy.cosineStrict.toFixed(4)}${s.accuracy.keptInFloat.length ? ` -> ${s.accuracy.cosine.toFixed(4)}` : ''} (target ${s.accuracy.target}, ${s.accuracy.met ? 'met' : 'NOT met'}; ${s.accuracy.samples} calibration samples)`],
          ['kept in float', s.accuracy.keptInFloat.length ? s.accuracy.keptInFloat.map((k) => k.tensor).join(', ') : 'none'],
        ] as [string, string][])
      : []),
    ['opset', s.opset === s.opsetBefore ? String(s.opset) : `${s.opsetBefore} -> ${s.opset}`],
    ...(s.upgrade
      ? ([['upgrade', `${s.upgrade.converted} nodes converted; ${s.upgrade.verified ? `float outputs before/after ${s.upgrade.maxAbsDiff === 0 ? 'bit-identical' : `within ${s.upgrade.maxAbsDiff!.toExponential(1)}`} (onnxruntime, 1 calibration batch)` : s.upgrade.note ?? 'not verified'}`]] as [string, string][])
      : []),
    ...(s.nonFinite.values > 0 || Object.keys(s.nonFinite.inputs).length > 0
      ? ([['non-finite', `${Object.entries(s.nonFinite.inputs).map(([k, v]) => `${v.values} NaN/Inf in input ${k} (${v.batches} batches)`).join(', ') || 'none in the data'}; ${s.nonFinite.values} in ${s.nonFinite.tensors} computed tensors (ignored)`]] as [string, string][])
      : []),
    ...(s.cacheTensors > 0 ? ([['cache', `${s.cacheTensors} tensor scales`]] as [string, string][]) : []),
    ['size', `${(params.inputs / 1e6).toFixed(2)} MB -> ${(params.output / 1e6).toFixed(2)} MB`],
    ['time', `${s.seconds.toFixed(2)} s`],
    ['output', file],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  let out = '';
  for (const [k, v] of rows) out += `  ${k.padEnd(w)}  ${v}\n`;
  if (s.note) out += `  note: ${s.note}\n`;
  return out;
}

export function registerQuantize(program: Command): void {
  program
    .command('quantize')
    .description('INT8-quantize an ONNX model (QuantizeLinear/DequantizeLinear) from .npy calibration batches, on the CPU')
    .argument('<model>', 'input ONNX model')
    .requiredOption('--calib <dir>', 'calibration data: .npy files (one batch each) for a single-input model, or one sub-folder per input name')
    .requiredOption('-o, --output <file>', 'output ONNX model')
    .option('--method <method>', 'entropy (TensorRT EntropyCalibrator2), minmax or percentile', 'entropy')
    .option('--percentile <p>', 'for --method percentile: the percentile of |x| used as range (default 99.99)')
    .option('--batches <n>', 'use at most n calibration batches')
    .option('--cache <file>', 'TensorRT calibration cache: read when it exists (skips calibration), written otherwise')
    .option('--exclude <names>', 'node names to keep in float (comma-separated, repeatable)', collect)
    .option('--exclude-op-types <types>', 'op types to keep in float (comma-separated, repeatable)', collect)
    .option('--keep-first-layer', 'keep the first quantizable layer(s) in float')
    .option('--keep-last-layer', 'keep the last quantizable layer(s) in float')
    .option('--no-per-channel', 'per-tensor weight scales')
    .option('--no-residual-add', 'no Q/DQ on residual Add inputs')
    .option('--no-fold-batch-norm', 'do not fold BatchNormalization into Conv')
    .option('--accuracy-target <cosine>', 'keep the most sensitive tensors in float until the output cosine (float vs INT8, on calibration batches) reaches this, e.g. 0.99')
    .option('--accuracy-batches <n>', 'calibration batches used to measure the accuracy (default 16)')
    .option('--max-fallback-tensors <n>', 'with --accuracy-target: keep at most n tensors in float (default: no limit)')
    .option('--backend <name>', 'what runs the float model for statistics: onnxruntime (CPU) or tensorrt (GPU)', 'onnxruntime')
    .option('--no-progress', 'no progress bar')
    .option('--json', 'print the summary as JSON')
    .action(
      action('quantize', async (modelPath: string, o: QuantizeCliOptions) => {
        if (!METHODS.includes(o.method as CalibrationMethod)) throw new UsageError(`--method must be one of ${METHODS.join(', ')}, got "${o.method}"`);
        const method = o.method as CalibrationMethod;
        const percentile = parsePercentile(o.percentile);
        if (percentile !== undefined && method !== 'percentile') throw new UsageError('--percentile needs --method percentile');
        const limit = parseBatches(o.batches);
        const accuracyTarget = parseTarget(o.accuracyTarget);
        const accuracyBatches = parseBatches(o.accuracyBatches, '--accuracy-batches');
        if (o.maxFallbackTensors !== undefined && !/^\d+$/.test(o.maxFallbackTensors.trim())) throw new UsageError(`--max-fallback-tensors must be a non-negative integer, got "${o.maxFallbackTensors}"`);
        const maxFallbackTensors = o.maxFallbackTensors !== undefined ? Number(o.maxFallbackTensors) : undefined;
        if (maxFallbackTensors !== undefined && accuracyTarget === undefined) throw new UsageError('--max-fallback-tensors needs --accuracy-target');
        if (accuracyBatches !== undefined && accuracyTarget === undefined) throw new UsageError('--accuracy-batches needs --accuracy-target');
        if (o.backend !== 'onnxruntime' && o.backend !== 'tensorrt') throw new UsageError(`--backend must be onnxruntime or tensorrt, got "${o.backend}"`);
        const out = path.resolve(o.output);
        if (path.resolve(modelPath) === out) throw new UsageError('the output file must differ from the input model');
        checkOutputFile(o.output, 'model');
        if (o.cache !== undefined) checkOutputFile(o.cache, 'calibration cache');

        // IO_ERROR / PARSE_ERROR / DESERIALIZE_ERROR, as in every command; TensorFlow formats are converted in memory
        const { model, bytes: modelBytes, convertedFrom } = readModelOrEngine(modelPath, 'onnx');
        if (o.backend === 'tensorrt') {
          requireTensorRT();
          requireCuda();
        }
        const inputBytes = convertedFrom ? modelBytes.length : fs.statSync(modelPath).size;
        const cal = npyDirectoryCalibrator(o.calib, { method, percentile, limit, cacheFile: o.cache });
        const info = modelInfo(model);
        if (cal.source.inputs === null && info.inputs.length !== 1) {
          throw new UsageError(`${o.calib} holds .npy files directly, which feeds a single-input model, but the model has ${info.inputs.length} inputs (${info.inputs.map((i) => i.name).join(', ')}): use one sub-folder per input name`);
        }
        const total = cal.source.count;
        const showBar = io().isTTY && o.progress !== false && !o.json;
        const bar = showBar
          ? new SingleBar({ format: '{phase} [{bar}] {value}/{total} {unit} | {detail}', hideCursor: true, clearOnComplete: true, stream: io().progressStream, barsize: 30 })
          : null;
        const t0 = performance.now();
        bar?.start(total, 0, { phase: 'statistics', unit: 'batches', detail: '- samples/s' });
        let phase = 'statistics';
        const onProgress = (e: QuantizeProgress) => {
          if (!bar) return;
          if (e.phase !== phase) {
            phase = e.phase;
            bar.setTotal(e.tensors ?? 1);
          }
          if (e.phase === 'statistics') {
            bar.update(e.batch, { phase: 'statistics', unit: 'batches', detail: `${(e.samples / ((performance.now() - t0) / 1000)).toFixed(1)} samples/s` });
          } else if (e.phase === 'thresholds') {
            bar.update(e.tensor ?? 0, { phase: 'thresholds', unit: 'tensors', detail: `${method} ${e.name ?? ''}` });
          } else if (e.phase === 'accuracy') {
            if (e.tensors !== undefined) bar.setTotal(e.tensors);
            const what = e.step === 'strict' ? 'all quantized' : e.step === 'rank' ? `sensitivity of ${e.name}` : `kept in float: ${e.tensor}, last ${e.name}`;
            bar.update(e.tensor ?? 1, { phase: 'accuracy', unit: 'tensors', detail: `${what}: cosine ${e.cosine?.toFixed(4) ?? '-'}` });
          } else {
            bar.update(1, { phase: e.phase === 'verify-upgrade' ? 'upgrade check' : 'rewriting', unit: '', detail: '' });
          }
        };
        let result;
        try {
          result = await quantize(model, cal, {
            method,
            percentile,
            maxBatches: limit,
            expectedBatches: total,
            excludeNodes: o.exclude,
            excludeOpTypes: o.excludeOpTypes,
            keepFirstLayer: o.keepFirstLayer,
            keepLastLayer: o.keepLastLayer,
            perChannel: o.perChannel,
            quantizeResidualAdd: o.residualAdd,
            foldBatchNorm: o.foldBatchNorm,
            accuracyTarget,
            accuracyBatches,
            maxFallbackTensors,
            ...(o.backend === 'tensorrt' ? { runner: (m) => createTensorRTRunner(m) } : {}),
            onProgress,
          });
        } finally {
          bar?.stop();
        }
        bar?.start(1, 0, { phase: 'writing', unit: '', detail: out });
        const bytes = saveModel(result.model);
        const tmp = `${out}.tmp-${process.pid}`;
        try {
          fs.writeFileSync(tmp, bytes);
          fs.renameSync(tmp, out);
        } catch (e) {
          fs.rmSync(tmp, { force: true });
          throw fileError('write', 'model', o.output, e);
        } finally {
          bar?.update(1);
          bar?.stop();
        }
        const s = result.summary;
        if (o.json) {
          const { amax, ...rest } = s;
          io().out(`${JSON.stringify({ ...rest, output: out, amax: Object.fromEntries(amax) }, null, 2)}\n`);
        } else {
          io().out(`quantized ${modelPath}\n${formatSummary(s, o.output, { inputs: inputBytes, output: bytes.length })}`);
        }
        if (s.accuracy && !s.accuracy.met) {
          // the model is written (it is the closest to the target that was found), but the run did not do what was asked
          io().err(
            `tensorrt-node quantize: accuracy target ${s.accuracy.target} NOT met: output cosine ${s.accuracy.cosine.toFixed(4)} with ${s.accuracy.keptInFloat.length} tensor(s) kept in float; the model was still written to ${o.output}\n`,
          );
          io().exitCode = 1;
        }
      }),
    );
}
