/**
 * The engine cache on the command line:
 *   `tensorrt-node cache ls [--cache-dir DIR] [--json]`
 *   `tensorrt-node cache prune [--cache-dir DIR] [--older-than 30d] [--max-size 20G] [--dry-run] [--json]`
 * and what `build`, `run` and `bench` share for `--cache-dir`: the flags, opening an ONNX model through the cache,
 * and one stderr line per cache event (hit, miss, rebuild and its reason, wait, lock recovered, stored).
 * The cache's directory listing needs no TensorRT; lib/engine-cache's loader is required only when a command
 * builds or loads (the CLI keeps TensorRT modules lazy, see trt.ts).
 */
import * as path from 'path';
import { Option, type Command } from 'commander';
import { TensorRTError } from '../errors';
import { loadModel, modelInfo, type ModelInfo } from '../onnx';
import { CacheStore, type EntryInfo } from '../engine-cache/store';
import type { CacheEvent } from '../engine-cache';
import { action, io, readInputFile, toJson, UsageError } from './common';
import { formatBytes, formatMs, parseIntOption, parseMemPoolSize, parseShapes, parseSize, table, type ShapeMap } from './parse';
import { BuildProgress, checkShapesAgainstModel, toBuildOptions, type BuildCliOptions } from './build-options';
import { checkBuildOptions, loadEngine, type EngineLike } from './trt';
import { readEngineFile } from './inspect';

/** `--cache-dir`, else $TENSORRT_NODE_CACHE_DIR, else null. */
export function cacheDirOf(o: { cacheDir?: string }): string | null {
  return o.cacheDir ?? (process.env.TENSORRT_NODE_CACHE_DIR || null);
}

/** `30d`, `12h`, `90m`, `45s`, `2w` -> milliseconds. */
export function parseAge(text: string, what = '--older-than'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$/i.exec(text);
  if (!m) throw new UsageError(`${what}: '${text}' is not an age like 30d, 12h, 90m, 45s or 2w`);
  const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86_400e3, w: 7 * 86_400e3 }[m[2].toLowerCase() as 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * unit;
}

function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, (now - ms) / 1000);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129_600) return `${(s / 3600).toFixed(1)} h ago`;
  return `${(s / 86_400).toFixed(1)} days ago`;
}

/** One stderr line per cache event. */
export function formatCacheEvent(e: CacheEvent): string {
  const key = e.key ? ` [key ${e.key.slice(0, 12)}]` : '';
  switch (e.type) {
    case 'hit':
      return `cache hit: ${e.model}${key}: loading ${e.path}${e.createdAt ? ` (built ${e.createdAt})` : ''}`;
    case 'miss':
      return `cache miss: ${e.model}${key}: ${e.reason}: building`;
    case 'rebuild':
      return `cache rebuild: ${e.model}${key}: ${e.reason}`;
    case 'wait':
      return `cache: ${e.model}${key}: waiting: ${e.reason}`;
    case 'lock-recovered':
      return `cache: ${e.model}${key}: ${e.reason}`;
    case 'stored':
      return `cache: stored ${e.path} (${formatBytes(e.bytes ?? 0)}, built in ${formatMs(e.buildMs ?? 0)})`;
    case 'uncached':
      return `cache: ${e.model}${key}: not cached: ${e.reason}`;
    case 'engine-file':
      return `engine ${e.path ?? e.model}: ${e.reason}`;
    default:
      return `cache: ${String((e as CacheEvent).type)}`;
  }
}

const printEvent = (e: CacheEvent) => io().err(`${formatCacheEvent(e)}\n`);

/** The build flags `run` and `bench` accept for ONNX models (with `--cache-dir`). */
export function addCacheBuildOptions(cmd: Command): Command {
  return cmd
    .option('--cache-dir <dir>', 'engine cache for ONNX models: build on first use, load after (default $TENSORRT_NODE_CACHE_DIR)')
    .option('--fp16', 'ONNX models: allow FP16 kernels (TensorRT 10)')
    .option('--bf16', 'ONNX models: allow BF16 kernels (TensorRT 10)')
    .option('--int8', 'ONNX models: allow INT8 kernels (Q/DQ models)')
    .option('--fp8', 'ONNX models: allow FP8 kernels (TensorRT 10)')
    .option('--noTF32', 'ONNX models: disable TF32')
    .option('--stronglyTyped', 'ONNX models: build a strongly typed network')
    .option('--minShapes <spec>', 'ONNX models: profile minimum shapes (default: --shapes)', (v, p?: ShapeMap) => parseShapes(v, p, '--minShapes'))
    .option('--optShapes <spec>', 'ONNX models: profile optimum shapes', (v, p?: ShapeMap) => parseShapes(v, p, '--optShapes'))
    .option('--maxShapes <spec>', 'ONNX models: profile maximum shapes', (v, p?: ShapeMap) => parseShapes(v, p, '--maxShapes'))
    .option('--memPoolSize <spec>', 'ONNX models: memory pool limits, e.g. workspace:4096M', (v, p?: Record<string, number>) => parseMemPoolSize(v, p))
    .option('--builderOptimizationLevel <n>', 'ONNX models: builder optimization level 0-5', parseIntOption('--builderOptimizationLevel', 0, 5))
    .option('--no-progress', 'no build progress');
}

export interface CacheBuildFlags extends Omit<BuildCliOptions, 'output' | 'saveEngine' | 'calib' | 'calibCache' | 'calibMethod' | 'calibBatches' | 'json'> {
  cacheDir?: string;
  noTF32?: boolean;
}

function onnxInfo(bytes: Uint8Array): ModelInfo | null {
  if (bytes.length >= 4 && bytes[0] === 0x66 && bytes[1] === 0x74 && bytes[2] === 0x72 && bytes[3] === 0x74) return null; // "ftrt"
  try {
    return modelInfo(loadModel(bytes));
  } catch {
    return null;
  }
}

/**
 * For `run` and `bench`: reads `file` now (so that bad files fail before TensorRT is needed) and returns the
 * function that opens the engine later: an engine file as it is; an ONNX model through the cache of
 * `--cache-dir` (built on first use with the build flags; `--shapes` is the profile unless min/opt/max are given).
 */
export function prepareEngine(file: string, o: CacheBuildFlags, shapes: ShapeMap): () => Promise<EngineLike> {
  const bytes = readInputFile(file, 'engine');
  const info = bytes.length ? onnxInfo(bytes) : null;
  if (!info) {
    const b = readEngineFile(file);
    return () => loadEngine(b);
  }
  const dir = cacheDirOf(o);
  if (!dir) {
    throw new TensorRTError(
      'INVALID_ARGUMENT',
      `${file} is an ONNX model, not a TensorRT engine: build one first with \`tensorrt-node build ${file} -o model.engine\`, ` +
        'or give --cache-dir DIR to build it on first use and load it from there after',
    );
  }
  const hasRange = !!(o.minShapes || o.optShapes || o.maxShapes);
  const { options } = toBuildOptions({ ...o, tf32: o.noTF32 ? false : undefined, shapes: hasRange ? undefined : shapes });
  checkBuildOptions(options);
  checkShapesAgainstModel(info, options.profiles?.[0] ?? null);
  return async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the cache loader (and TensorRT with it) loads only for commands that build or load
    const { EngineCache } = require('../engine-cache') as typeof import('../engine-cache');
    const progress = new BuildProgress(o.progress === false ? 'off' : io().isTTY ? 'bar' : 'lines');
    try {
      const r = await new EngineCache({ dir }).load(file, { ...options, onProgress: (e) => progress.onEvent(e), onCacheEvent: printEvent });
      return r.engine;
    } finally {
      progress.stop();
    }
  };
}

function entryRows(entries: EntryInfo[], now: number): string[][] {
  return [
    ['KEY', 'MODEL', 'TENSORRT', 'GPU', 'SIZE', 'LAST USED', 'STATUS'],
    ...entries.map((e) => [
      e.key.slice(0, 12),
      e.modelName ?? '<bytes>',
      e.tensorrt ?? '?',
      e.gpu ?? '?',
      formatBytes(e.bytes),
      ago(e.lastUsedMs, now),
      e.status === 'ok' ? 'ok' : `${e.status}: ${e.problem}`,
    ]),
  ];
}

function requireDir(o: { cacheDir?: string }): string {
  const dir = cacheDirOf(o);
  if (!dir) throw new UsageError('give the cache directory: --cache-dir DIR (or set TENSORRT_NODE_CACHE_DIR)');
  return dir;
}

export function registerCache(program: Command): void {
  const cache = program.command('cache').description('list and prune the engine cache (see docs/engine-cache.md)');
  cache
    .command('ls')
    .description('list the cached engines: model, TensorRT version, GPU, size, last use, status')
    .option('--cache-dir <dir>', 'the cache directory (default $TENSORRT_NODE_CACHE_DIR)')
    .option('--verify', "also check every plan's SHA-256 against its manifest (reads every plan)")
    .option('--json', 'print the entries as JSON')
    .action(
      action('cache', async (o: { cacheDir?: string; json?: boolean; verify?: boolean }) => {
        const dir = requireDir(o);
        const store = new CacheStore(dir);
        const entries = await store.list({ verify: !!o.verify });
        const total = entries.reduce((s, e) => s + e.bytes, 0);
        if (o.json) {
          io().out(toJson({ dir: store.dir, entries: entries.map((e) => ({ ...e, lastUsed: new Date(e.lastUsedMs).toISOString() })), totalBytes: total }));
          return;
        }
        if (entries.length === 0) {
          io().out(`${store.dir}: no cached engines\n`);
          return;
        }
        io().out(`${table(entryRows(entries, Date.now()), '')}\n${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}, ${formatBytes(total)} in ${store.dir}\n`);
      }),
    );
  cache
    .command('prune')
    .description('remove leftovers (temp files of killed writers, stale locks, corrupt entries) and, with the options, old or excess entries')
    .option('--cache-dir <dir>', 'the cache directory (default $TENSORRT_NODE_CACHE_DIR)')
    .option('--older-than <age>', 'remove entries not used for this long: 30d, 12h, 90m, 2w', (v) => parseAge(v))
    .addOption(new Option('--max-size <size>', 'then remove the least recently used entries until the cache is at most this big: 20G, 500M').argParser((v) => parseSize(v, '--max-size')))
    .option('--dry-run', 'print what would be removed, remove nothing')
    .option('--json', 'print the result as JSON')
    .action(
      action('cache', async (o: { cacheDir?: string; olderThan?: number; maxSize?: number; dryRun?: boolean; json?: boolean }) => {
        const dir = requireDir(o);
        const store = new CacheStore(dir);
        const r = await store.prune({
          ...(o.olderThan !== undefined ? { olderThanMs: o.olderThan } : {}),
          ...(o.maxSize !== undefined ? { maxSizeBytes: o.maxSize } : {}),
          dryRun: !!o.dryRun,
        });
        if (o.json) {
          io().out(toJson({ dir: store.dir, dryRun: !!o.dryRun, ...r }));
          return;
        }
        const verb = o.dryRun ? 'would remove' : 'removed';
        const L: string[] = [];
        for (const x of r.removed) {
          const what = x.key ? `${x.key.slice(0, 12)} ${x.modelName ?? '<bytes>'}` : path.relative(store.dir, x.file ?? '');
          L.push(`${verb} ${what} (${formatBytes(x.bytes)}): ${x.reason}`);
        }
        for (const x of r.skipped) L.push(`kept ${x.key.slice(0, 12)}: ${x.reason}`);
        L.push(`${o.dryRun ? 'Would free' : 'Freed'} ${formatBytes(r.freedBytes)}; ${r.keptEntries} entr${r.keptEntries === 1 ? 'y' : 'ies'} (${formatBytes(r.keptBytes)}) kept in ${store.dir}`);
        io().out(`${L.join('\n')}\n`);
      }),
    );
}

/** For `build --cache-dir`: the plan from the cache (built when missing), without deserializing it. */
export async function buildThroughCache(
  model: string | Uint8Array,
  dir: string,
  options: import('../tensorrt/build').BuildOptions,
  quiet: boolean,
): Promise<{ plan: Buffer; outcome: string; key: string | null; path: string | null; reason?: string }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the cache loader (and TensorRT with it) loads only for commands that build or load
  const { EngineCache } = require('../engine-cache') as typeof import('../engine-cache');
  const events: CacheEvent[] = [];
  const r = await new EngineCache<Buffer>({ dir, deserialize: async (p) => p }).load(model, {
    ...options,
    onCacheEvent: (e) => {
      events.push(e);
      if (!quiet) printEvent(e);
    },
  });
  return { plan: r.engine, outcome: r.outcome, key: r.key, path: r.path, ...(r.reason ? { reason: r.reason } : {}) };
}
