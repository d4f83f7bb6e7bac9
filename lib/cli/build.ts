/**
 * `tensorrt-node build <model.onnx> -o <model.engine>`: trtexec's everyday build options, a progress bar fed
 * by the builder's progress events, and the build time at the end.
 */
import { Option, type Command } from 'commander';
import { TensorRTError } from '../errors';
import { readModelOrEngine } from './files';
import { action, checkInputPath, checkOutputFile, fileError, io, requireCuda, requireTensorRT, toJson, UsageError } from './common';
import { formatBytes, formatMs, parseIntOption, parseMemPoolSize, parseShapes, type ShapeMap } from './parse';
import { buildEngine, checkBuildOptions } from './trt';
import { buildThroughCache } from './cache';
import { writeFileAtomic } from '../engine-cache/fsutil';
import { BuildProgress, checkShapesAgainstModel, toBuildOptions, type BuildCliOptions } from './build-options';

export { BuildProgress, checkShapesAgainstModel, toBuildOptions, type BuildCliOptions };

export function registerBuild(program: Command): void {
  const cmd = program
    .command('build')
    .description('build a TensorRT engine from an ONNX model (trtexec --onnx ... --saveEngine ...), or from a TensorFlow model converted first')
    .argument('<model>', 'ONNX model (.onnx), or a SavedModel directory, frozen GraphDef .pb or TF.js model.json (converted in memory)')
    .option('-o, --output <file>', 'where to write the serialized engine')
    .addOption(new Option('--saveEngine <file>', "trtexec's spelling of --output").hideHelp())
    .option('--fp16', 'allow FP16 kernels (TensorRT 10; not with --stronglyTyped)')
    .option('--bf16', 'allow BF16 kernels (TensorRT 10)')
    .option('--int8', 'allow INT8 kernels (implicit calibration with --calib on TensorRT 10; Q/DQ models on 10 and 11)')
    .option('--fp8', 'allow FP8 kernels (TensorRT 10)')
    .option('--noTF32', 'disable TF32 for float32 layers')
    .option('--stronglyTyped', 'build a strongly typed network: precisions come from the model')
    .option('--shapes <spec>', 'static shapes of dynamic inputs, e.g. input:1x3x224x224[,other:...]', (v, p?: ShapeMap) => parseShapes(v, p, '--shapes'))
    .option('--minShapes <spec>', 'profile minimum shapes (trtexec syntax)', (v, p?: ShapeMap) => parseShapes(v, p, '--minShapes'))
    .option('--optShapes <spec>', 'profile optimum shapes', (v, p?: ShapeMap) => parseShapes(v, p, '--optShapes'))
    .option('--maxShapes <spec>', 'profile maximum shapes', (v, p?: ShapeMap) => parseShapes(v, p, '--maxShapes'))
    .option('--memPoolSize <spec>', 'memory pool limits, e.g. workspace:4096M (suffixes B/K/M/G; no suffix = MiB)', (v, p?: Record<string, number>) => parseMemPoolSize(v, p))
    .option('--timingCache <file>', 'timing cache: loaded when the file exists, written after the build')
    .option('--builderOptimizationLevel <n>', 'builder optimization level 0-5 (default 3)', parseIntOption('--builderOptimizationLevel', 0, 5))
    .option('--calib <dir>', 'INT8 calibration data: a directory of .npy batches (implies --int8; TensorRT 10)')
    .option('--calibCache <file>', 'INT8 calibration cache: reused when present, written after calibration')
    .addOption(new Option('--calibMethod <method>', 'calibration algorithm').choices(['entropy', 'minmax', 'percentile']).default('entropy'))
    .option('--calibBatches <n>', 'use at most n calibration batches', parseIntOption('--calibBatches', 1))
    .option('--no-progress', 'no progress bar')
    .option('--json', 'print the build summary as JSON')
    .option('--tag-set <list>', 'SavedModel MetaGraph tags (default serve)')
    .option('--signature-def <key>', 'SavedModel signature (default serving_default)')
    .option('--cache-dir <dir>', 'engine cache: build only if it holds no engine for this model, options, TensorRT and GPU; -o then copies it out')
    .action(
      action('build', async (model: string, raw: Record<string, unknown>) => {
        const o = { ...raw, tf32: raw.noTF32 ? false : undefined } as BuildCliOptions;
        const output = o.output ?? o.saveEngine;
        if (!output && !o.cacheDir) throw new UsageError('missing the output file: -o <model.engine> (or --cache-dir DIR)');
        const { options } = toBuildOptions(o);
        checkBuildOptions(options); // the library's checks, before any file or TensorRT is touched
        const tf: { tags?: string[]; signature?: string } = {};
        if (typeof raw.tagSet === 'string') tf.tags = raw.tagSet.split(',').map((t) => t.trim()).filter((t) => t);
        if (typeof raw.signatureDef === 'string') tf.signature = raw.signatureDef;
        const { bytes, info, convertedFrom } = readModelOrEngine(model, 'onnx', tf); // a corrupt model fails here, before TensorRT is needed; TensorFlow formats converted in memory
        checkShapesAgainstModel(info, options.profiles?.[0] ?? null);
        if (o.calib) checkInputPath(o.calib, 'calibration directory', 'directory');
        if (output) checkOutputFile(output, 'engine');
        requireTensorRT();
        requireCuda();
        if (o.calib) {
          // eslint-disable-next-line @typescript-eslint/no-require-imports -- calibrators load only with --calib
          const cal = require('../calibration/calibrator') as typeof import('../calibration/calibrator');
          options.calibrator = cal.npyDirectoryCalibrator(o.calib, {
            method: o.calibMethod ?? 'entropy',
            ...(o.calibCache ? { cacheFile: o.calibCache } : {}),
            ...(o.calibBatches ? { limit: o.calibBatches } : {}),
          });
        }
        const progress = new BuildProgress(o.progress === false || o.json ? 'off' : io().isTTY ? 'bar' : 'lines');
        options.onProgress = (e) => progress.onEvent(e);
        const abort = new AbortController();
        const onSigint = () => abort.abort();
        process.once('SIGINT', onSigint);
        options.signal = abort.signal;
        const t0 = process.hrtime.bigint();
        let engine: Buffer;
        let cached: Awaited<ReturnType<typeof buildThroughCache>> | null = null;
        try {
          if (o.cacheDir) {
            // ONNX files by path (external data, the file name in the manifest); converted models by their ONNX bytes
            cached = await buildThroughCache(convertedFrom ? bytes : model, o.cacheDir, options, !!o.json);
            engine = cached.plan;
            if (!cached.path && !output) {
              throw new TensorRTError('IO_ERROR', `the engine was built but the cache ${o.cacheDir} cannot be written (${cached.reason ?? 'see above'}); give -o to keep it`);
            }
          } else engine = await buildEngine(bytes, options);
        } finally {
          progress.stop();
          process.removeListener('SIGINT', onSigint);
        }
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (output) {
          try {
            await writeFileAtomic(output, engine); // temp file + rename: never a half-written engine
          } catch (e) {
            throw fileError('write', 'engine', output, e);
          }
        }
        const cache = cached ? { dir: o.cacheDir, outcome: cached.outcome, key: cached.key, path: cached.path, ...(cached.reason ? { reason: cached.reason } : {}) } : undefined;
        if (o.json) io().out(toJson({ model, output: output ?? cached?.path, bytes: engine.length, buildTimeMs: ms, options: { ...options, onProgress: undefined, signal: undefined, calibrator: o.calib ? o.calib : undefined }, cache }));
        else if (cached?.outcome === 'hit') io().out(`Cache hit: ${output ?? cached.path} (${formatBytes(engine.length)}) for ${model}, loaded in ${formatMs(ms)}\n`);
        else io().out(`Built ${output ?? cached?.path} (${formatBytes(engine.length)}) from ${model} in ${formatMs(ms)}\n`);
      }),
    );
  return void cmd;
}
