/**
 * `tensorrt-node build <model.onnx> -o <model.engine>`: trtexec's everyday build options, a progress bar fed
 * by the builder's progress events, and the build time at the end.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Option, type Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { TensorRTError } from '../errors';
import type { ModelInfo } from '../onnx';
import { readModelOrEngine } from './files';
import { action, io, requireCuda, requireTensorRT, toJson, UsageError } from './common';
import {
  buildProfile, formatBytes, formatMs, parseIntOption, parseMemPoolSize, parseShapes,
  type ShapeMap, type ShapeRange,
} from './parse';
import type { BuildOptions } from '../build';
import { buildEngine, checkBuildOptions } from './trt';
import { buildThroughCache } from './cache';
import { writeFileAtomic } from '../engine-cache/fsutil';

/** Flags that are buildEngine options under the same name (lib/build.ts's BuildOptions, not a copy of it). */
const SAME_NAME_OPTIONS = ['fp16', 'bf16', 'int8', 'fp8', 'tf32', 'stronglyTyped', 'timingCache', 'builderOptimizationLevel'] as const;

/** The parsed flags of `build`: BuildOptions' own fields where a flag maps to one, and the CLI's own. */
export interface BuildCliOptions extends Pick<BuildOptions, (typeof SAME_NAME_OPTIONS)[number]> {
  output?: string;
  saveEngine?: string;
  shapes?: ShapeMap;
  minShapes?: ShapeMap;
  optShapes?: ShapeMap;
  maxShapes?: ShapeMap;
  memPoolSize?: Record<string, number>;
  calib?: string;
  calibCache?: string;
  calibMethod?: 'entropy' | 'minmax' | 'percentile';
  calibBatches?: number;
  progress?: boolean;
  json?: boolean;
  /** Engine cache directory: build only when the cache has no valid entry (docs/engine-cache.md). */
  cacheDir?: string;
}

/** The BuildOptions for the library, from the parsed flags (everything except the calibrator and callbacks). */
export function toBuildOptions(o: BuildCliOptions): { options: BuildOptions; profile: Record<string, ShapeRange> | null } {
  if (o.stronglyTyped && (o.fp16 || o.bf16 || o.int8 || o.fp8)) {
    throw new UsageError('--stronglyTyped takes precisions from the model; it cannot be combined with --fp16/--bf16/--int8/--fp8');
  }
  const options: BuildOptions = {};
  if (o.fp16) options.fp16 = true;
  if (o.bf16) options.bf16 = true;
  if (o.int8 || o.calib) options.int8 = true;
  if (o.fp8) options.fp8 = true;
  if (o.tf32 === false) options.tf32 = false;
  if (o.stronglyTyped) options.stronglyTyped = true;
  if (o.memPoolSize) options.memoryPoolLimits = { ...o.memPoolSize } as NonNullable<BuildOptions['memoryPoolLimits']>;
  if (o.timingCache) options.timingCache = o.timingCache;
  if (o.builderOptimizationLevel !== undefined) options.builderOptimizationLevel = o.builderOptimizationLevel;
  const profile = buildProfile({ shapes: o.shapes, minShapes: o.minShapes, optShapes: o.optShapes, maxShapes: o.maxShapes });
  if (profile) options.profiles = [profile];
  return { options, profile };
}

/**
 * Checks the profile against the ONNX model's inputs: names exist, ranks and fixed dimensions agree, and every
 * input with dynamic dimensions has a shape (as trtexec requires), so these mistakes show before TensorRT runs.
 */
export function checkShapesAgainstModel(info: Pick<ModelInfo, 'inputs'>, profile: Record<string, ShapeRange> | null): void {
  const byName = new Map(info.inputs.map((v) => [v.name, v]));
  for (const [name, r] of Object.entries(profile ?? {})) {
    const v = byName.get(name);
    if (!v) throw new UsageError(`the model has no input named '${name}' (inputs: ${info.inputs.map((i) => i.name).join(', ')})`);
    if (r.opt.length !== v.shape.length) {
      throw new UsageError(`input '${name}' has rank ${v.shape.length} ([${v.shape.join(', ')}]); got shape ${r.opt.join('x') || '[]'}`);
    }
    v.shape.forEach((d, i) => {
      if (typeof d === 'number' && d >= 0 && (r.min[i] !== d || r.max[i] !== d)) {
        throw new UsageError(`input '${name}' has a fixed dimension ${i} of ${d} ([${v.shape.join(', ')}]); got ${r.min[i]}..${r.max[i]}`);
      }
    });
  }
  const missing = info.inputs.filter((v) => v.shape.some((d) => typeof d !== 'number' || d < 0) && !(profile && v.name in profile));
  if (missing.length) {
    const m = missing[0];
    throw new UsageError(
      `input${missing.length > 1 ? 's' : ''} ${missing.map((v) => `'${v.name}' [${v.shape.join(', ')}]`).join(', ')} ` +
        `ha${missing.length > 1 ? 've' : 's'} dynamic dimensions: give --shapes ${m.name}:${m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : 1)).join('x')} ` +
        'or --minShapes/--optShapes/--maxShapes',
    );
  }
}

/** Draws the build progress: one bar for the outermost phase, the innermost active phase as its label. */
export class BuildProgress {
  private bar: SingleBar | null = null;
  private readonly stack: { phase: string; step: number; steps: number }[] = [];
  private lastLine = '';

  /** 'bar' on a terminal, 'lines' (one per top-level phase) otherwise, 'off' for --no-progress / --json. */
  constructor(private readonly mode: 'bar' | 'lines' | 'off') {}

  onEvent(e: { phase: string; step: number; steps: number; depth: number; event: 'start' | 'step' | 'end' }): void {
    if (this.mode === 'off') return;
    if (e.event === 'start') {
      this.stack.length = Math.min(this.stack.length, e.depth);
      this.stack[e.depth] = { phase: e.phase, step: 0, steps: e.steps };
    } else if (e.event === 'step') {
      const s = this.stack[e.depth];
      if (s) s.step = e.step;
    } else {
      this.stack.length = Math.min(this.stack.length, e.depth);
    }
    this.render();
  }

  private render(): void {
    const top = this.stack[0];
    const inner = this.stack[this.stack.length - 1];
    const label = this.stack.map((s) => s.phase).join(' > ');
    if (this.mode === 'lines') {
      // Not a terminal: one line per outermost phase, no redraws.
      if (top && top.phase !== this.lastLine) {
        this.lastLine = top.phase;
        io().err(`build: ${top.phase}\n`);
      }
      return;
    }
    if (!top) return;
    if (!this.bar) {
      this.bar = new SingleBar(
        { format: 'building [{bar}] {percentage}% | {label}', hideCursor: true, clearOnComplete: true, stream: io().progressStream, barsize: 30 },
        Presets.shades_classic,
      );
      this.bar.start(Math.max(top.steps, 1), 0, { label });
    }
    this.bar.setTotal(Math.max(top.steps, 1));
    this.bar.update(Math.min(top.step, top.steps), { label: inner ? `${label} (${inner.step}/${inner.steps})` : label });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

export function registerBuild(program: Command): void {
  const cmd = program
    .command('build')
    .description('build a TensorRT engine from an ONNX model (trtexec --onnx ... --saveEngine ...)')
    .argument('<model>', 'ONNX model (.onnx)')
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
    .option('--cache-dir <dir>', 'engine cache: build only if it holds no engine for this model, options, TensorRT and GPU; -o then copies it out')
    .action(
      action('build', async (model: string, raw: Record<string, unknown>) => {
        const o = { ...raw, tf32: raw.noTF32 ? false : undefined } as BuildCliOptions;
        const output = o.output ?? o.saveEngine;
        if (!output && !o.cacheDir) throw new UsageError('missing the output file: -o <model.engine> (or --cache-dir DIR)');
        const { options } = toBuildOptions(o);
        checkBuildOptions(options); // the library's checks, before any file or TensorRT is touched
        const { bytes, info, convertedFrom } = readModelOrEngine(model, 'onnx'); // a corrupt model fails here, before TensorRT is needed; TensorFlow formats converted in memory
        checkShapesAgainstModel(info, options.profiles?.[0] ?? null);
        if (o.calib && !fs.existsSync(o.calib)) throw new UsageError(`calibration directory ${o.calib} does not exist`, 'IO_ERROR');
        const outDir = output ? path.dirname(path.resolve(output)) : null;
        if (outDir && !fs.existsSync(outDir)) throw new UsageError(`output directory ${outDir} does not exist`, 'IO_ERROR');
        requireTensorRT();
        requireCuda();
        if (o.calib) {
          // eslint-disable-next-line @typescript-eslint/no-require-imports
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
            throw new UsageError(`cannot write ${output}: ${(e as Error).message}`, 'IO_ERROR');
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
