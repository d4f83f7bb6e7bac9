/**
 * The engine cache: build once per model, build options, TensorRT version and GPU; load ever after.
 *
 * ```ts
 * import { loadEngine } from 'tensorrt-node';
 * const engine = await loadEngine('detector.onnx', {
 *   cacheDir: '/var/cache/tensorrt-node',   // a shared volume in Kubernetes: every replica reuses one build
 *   fp16: true,
 *   profiles: [{ images: { min: [1, 3, 640, 640], opt: [4, 3, 640, 640], max: [8, 3, 640, 640] } }],
 *   onCacheEvent: (e) => console.log(e.type, e.reason ?? ''),   // hit | miss | rebuild | wait | lock-recovered | stored | uncached
 * });
 * ```
 * For an ONNX model the key (lib/engine-cache/key.ts) is computed; a valid entry is deserialized, else the engine is
 * built (once across processes: lib/engine-cache/lock.ts), written atomically with its checksum
 * (lib/engine-cache/store.ts) and returned. A `.engine` file (or engine bytes) is loaded as it is, checked against
 * the TensorRT and GPU of this process: with the cache's manifest beside it, mismatches are named before
 * TensorRT is asked; otherwise TensorRT's refusal is reported together with what this process has.
 *
 * The build and the deserialization are functions the cache calls (`EngineCache` options `build` and
 * `deserialize`, defaults: `buildEngine` and `Engine.load`), so the cache's own behaviour can be tested without
 * TensorRT, with test doubles of those two contracts.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { invalidArg, TensorRTError } from '../errors';
import * as is from '../validate';
import { buildEngine, checkBuildOptions, type BuildOptions } from '../tensorrt/build';
import { checkModelSource } from '../tensorrt/parser';
import { Engine } from '../tensorrt/engine';
import { checkRuntimeOptions, type RuntimeOptions } from '../tensorrt/runtime';
import { runtimeInfo } from '../info';
import { getDevice, getDeviceProperties } from '../cuda';
import { packageRoot } from '../native';
import { fsyncDir, sha256Chunked, sleep, tempPathFor } from './fsutil';
import { FileLock, type LockHolder } from './lock';
import { digestModel, KEY_FORMAT, keyOf, normaliseOptions, targetId, type CacheTarget, type KeyComponents } from './key';
import { CacheStore, MANIFEST_KIND, parseManifest, type Manifest } from './store';

export { CacheStore, type EntryInfo, type Manifest, type PruneOptions, type PruneResult } from './store';
export { FileLock, type LockHolder, type LockOptions } from './lock';
export { keyOf, normaliseOptions, digestModel, externalDataLocations, canonicalJson, type CacheTarget, type KeyComponents, type NormalisedOptions } from './key';
export { writeFileAtomic } from './fsutil';

/** What happened, reported through `onCacheEvent` (and printed by the CLI). */
export interface CacheEvent {
  /**
   * - `hit`: a valid entry was loaded.
   * - `miss`: no entry for the key: building (`reason` says so).
   * - `rebuild`: an entry existed but could not be used (`reason`: corrupt, truncated, checksum mismatch,
   *   unloadable by TensorRT): removed, building again.
   * - `wait`: another process is building this entry (`holder`): waiting for its result.
   * - `lock-recovered`: a lock left by a process that died (or stopped its heartbeat) was taken over (`reason`).
   * - `stored`: the built engine was written to the cache (`path`, `bytes`, `buildMs`).
   * - `uncached`: the cache directory cannot be written (read-only, full, not a directory: `reason`): the engine
   *   is built and returned all the same, but not kept.
   * - `engine-file`: an engine file / bytes was loaded directly (`reason`: how it was checked).
   */
  type: 'hit' | 'miss' | 'rebuild' | 'wait' | 'lock-recovered' | 'stored' | 'uncached' | 'engine-file';
  /** The model file name, or '<bytes>'. */
  model: string;
  key?: string;
  reason?: string;
  /** The plan file in the cache. */
  path?: string;
  holder?: LockHolder | null;
  bytes?: number;
  buildMs?: number;
  /** For hits: when the entry was built. */
  createdAt?: string;
}

/** Builds a plan: the cache's build callback (default: `buildEngine`). */
export type CacheBuildFunction = (model: string | Uint8Array, options: BuildOptions) => Promise<Uint8Array>;

export interface EngineCacheOptions<E = Engine> {
  /** The cache directory (created if missing). */
  dir: string;
  /** Builds a plan from the model and build options (default: buildEngine). Its `timingCache` option is the cache's. */
  build?: CacheBuildFunction;
  /** Turns plan bytes into the returned engine (default: Engine.load with `runtime` options). */
  deserialize?: (plan: Buffer) => Promise<E>;
  /** The TensorRT and GPU the plan is for (default: those of this process: runtimeInfo() and the current device). */
  target?: () => CacheTarget | Promise<CacheTarget>;
  /** A lock with no heartbeat for this long is stale (default 30 s). */
  lockStaleMs?: number;
  /** How often a waiting process looks for the result (default 250 ms). */
  pollMs?: number;
}

export interface CacheLoadOptions extends BuildOptions {
  onCacheEvent?: (e: CacheEvent) => void;
}

export interface CacheLoadResult<E> {
  engine: E;
  /** null for engine files loaded as they are. */
  key: string | null;
  outcome: 'hit' | 'built' | 'rebuilt' | 'engine-file';
  /** The plan file (in the cache, or the engine file given). */
  path: string | null;
  /** Why it was (re)built. */
  reason?: string;
}

/** Caches made without a directory (loadEngine of engine files): they refuse ONNX models. */
const NO_DIR = new WeakSet<object>();

const ENGINE_EXTENSIONS = new Set(['.engine', '.plan', '.trt']);

/** TensorRT's plan files start with the tag "ftrt". */
export function looksLikeEngine(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x66 && bytes[1] === 0x74 && bytes[2] === 0x72 && bytes[3] === 0x74;
}

/** The TensorRT and GPU of this process (TENSORRT_UNAVAILABLE / CUDA_UNAVAILABLE with the reason otherwise). */
export function currentTarget(): CacheTarget {
  const info = runtimeInfo();
  if (!info.tensorrt.available || !info.tensorrt.version) {
    throw new TensorRTError('TENSORRT_UNAVAILABLE', `engine cache: TensorRT is not available: ${info.tensorrt.reason ?? 'unknown reason'}`);
  }
  if (!info.cuda.available || info.cuda.devices.length === 0) {
    throw new TensorRTError('CUDA_UNAVAILABLE', `engine cache: no CUDA device: ${info.cuda.reason ?? 'unknown reason'}`);
  }
  const dev = getDevice();
  const p = info.cuda.devices.find((d) => d.index === dev) ?? getDeviceProperties(dev);
  return {
    tensorrt: info.tensorrt.version,
    cudaRuntime: info.compiledWith.cuda,
    gpu: { name: p.name, computeCapability: p.computeCapability, totalMemory: p.totalMemory, multiProcessorCount: p.multiProcessorCount },
    platform: `${process.platform}-${process.arch}`,
  };
}

let pkgVersion: string | null = null;
function packageVersion(): string {
  if (pkgVersion === null) {
    try {
      pkgVersion = String(JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).version);
    } catch {
      pkgVersion = 'unknown';
    }
  }
  return pkgVersion;
}

const describeTarget = (t: CacheTarget) => `TensorRT ${t.tensorrt} on ${t.gpu.name} (compute capability ${t.gpu.computeCapability})`;

/**
 * What stops a plan built for `built` from loading on `here`: hard mismatches (TensorRT version unless
 * version-compatible; compute capability unless hardware-compatible) and notes (other GPU model or memory size).
 */
export function compareTargets(built: CacheTarget, here: CacheTarget, options?: { flags?: string[]; hardwareCompatibilityLevel?: string }): { mismatches: string[]; notes: string[] } {
  for (const [t, what] of [[built, 'built'], [here, 'here']] as const) {
    is.object(is.object(t, `compareTargets: ${what}`, 'a CacheTarget').gpu, `compareTargets: ${what}.gpu`);
  }
  if (options !== undefined) {
    const o = is.object(options, 'compareTargets options');
    is.optional(o, 'flags', (v, w) => is.arrayOf(v, w, is.string));
  }
  const mismatches: string[] = [];
  const notes: string[] = [];
  const versionCompatible = options?.flags?.includes('versionCompatible') ?? false;
  if (built.tensorrt !== here.tensorrt) {
    const msg = `TensorRT version: built with ${built.tensorrt}, this process has ${here.tensorrt}`;
    if (!versionCompatible || built.tensorrt.split('.')[0] !== here.tensorrt.split('.')[0]) mismatches.push(msg);
    else notes.push(`${msg} (the engine is version-compatible)`);
  }
  const hw = options?.hardwareCompatibilityLevel ?? 'none';
  if (built.gpu.computeCapability !== here.gpu.computeCapability) {
    const msg = `GPU compute capability: built for ${built.gpu.computeCapability} (${built.gpu.name}), this device is ${here.gpu.computeCapability} (${here.gpu.name})`;
    const [maj] = here.gpu.computeCapability.split('.').map(Number);
    if (hw === 'amperePlus' && maj >= 8) notes.push(`${msg} (the engine is hardware-compatible: Ampere+)`);
    else mismatches.push(msg);
  } else if (built.gpu.name !== here.gpu.name) {
    notes.push(`GPU: built on ${built.gpu.name}, this device is ${here.gpu.name} (same compute capability; TensorRT may warn, and tactics were timed on the other GPU)`);
  } else if (built.gpu.totalMemory !== here.gpu.totalMemory) {
    notes.push(`GPU memory: built on a ${built.gpu.totalMemory}-byte ${built.gpu.name}, this one has ${here.gpu.totalMemory} bytes`);
  }
  if (built.platform !== here.platform) mismatches.push(`platform: built for ${built.platform}, this is ${here.platform}`);
  return { mismatches, notes };
}

function emit(cb: ((e: CacheEvent) => void) | undefined, e: CacheEvent): void {
  if (!cb) return;
  try {
    cb(e);
  } catch (err) {
    process.emitWarning(`tensorrt-node: onCacheEvent threw: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function cancelled(signal: AbortSignal): TensorRTError {
  return new TensorRTError('BUILD_FAILED', 'engine cache: cancelled (AbortSignal aborted)', { cause: signal.reason });
}

export class EngineCache<E = Engine> {
  readonly store: CacheStore;
  private readonly buildFn: CacheBuildFunction;
  private readonly deserializeFn: (plan: Buffer) => Promise<E>;
  private readonly targetFn: () => CacheTarget | Promise<CacheTarget>;
  private readonly lockStaleMs: number;
  private readonly pollMs: number;

  constructor(options: EngineCacheOptions<E>) {
    if (!options || typeof options !== 'object') throw invalidArg('EngineCache options must be an object { dir, ... }');
    if (typeof options.dir !== 'string' || options.dir.length === 0) throw invalidArg('EngineCache: dir (the cache directory) must be a non-empty string');
    for (const k of ['build', 'deserialize', 'target'] as const) {
      if (options[k] !== undefined && typeof options[k] !== 'function') throw invalidArg(`EngineCache: ${k} must be a function`);
    }
    const num = (v: unknown, name: string, def: number) => {
      if (v === undefined) return def;
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw invalidArg(`EngineCache: ${name} must be a positive number of milliseconds`);
      return v;
    };
    this.store = new CacheStore(options.dir);
    this.buildFn = options.build ?? buildEngine;
    this.deserializeFn = options.deserialize ?? ((plan) => Engine.load(plan) as unknown as Promise<E>);
    this.targetFn = options.target ?? currentTarget;
    this.lockStaleMs = num(options.lockStaleMs, 'lockStaleMs', 30_000);
    this.pollMs = num(options.pollMs, 'pollMs', 250);
  }

  /** The key components and key of a model + options on this target (no build, no cache access). */
  async keyFor(model: string | Uint8Array, options: BuildOptions = {}): Promise<{ key: string; components: KeyComponents }> {
    checkModelSource(model, 'EngineCache.keyFor');
    const o = checkBuildOptions(options);
    const src = await readModel(model, 'EngineCache.keyFor');
    const components: KeyComponents = {
      format: KEY_FORMAT,
      model: await digestModel(src.bytes, src.path),
      options: await normaliseOptions(o),
      target: await this.targetFn(),
      packageVersion: packageVersion(),
    };
    return { key: keyOf(components), components };
  }

  /**
   * Loads `model`: an ONNX model through the cache (hit, or build + store), an engine as it is (checked). See
   * the module's documentation.
   */
  async load(model: string | Uint8Array, options: CacheLoadOptions = {}): Promise<CacheLoadResult<E>> {
    checkModelSource(model, 'loadEngine');
    if (options === null || typeof options !== 'object') throw invalidArg('loadEngine options must be an object');
    const { onCacheEvent, ...rest } = options;
    if (onCacheEvent !== undefined && typeof onCacheEvent !== 'function') throw invalidArg('onCacheEvent must be a function');
    const o = checkBuildOptions(rest);
    const src = await readModel(model, 'loadEngine');
    const modelName = src.path ? path.basename(src.path) : '<bytes>';
    if (looksLikeEngine(src.bytes) || (src.path && ENGINE_EXTENSIONS.has(path.extname(src.path).toLowerCase()))) {
      return this.loadEngineFile(src, modelName, onCacheEvent);
    }
    if (NO_DIR.has(this)) {
      throw invalidArg('loadEngine: an ONNX model needs options.cacheDir (or $TENSORRT_NODE_CACHE_DIR): the directory where built engines are kept');
    }
    const target = await this.targetFn();
    const digest = await digestModel(src.bytes, src.path);
    const computeKey = async (): Promise<{ key: string; components: KeyComponents }> => {
      const components: KeyComponents = { format: KEY_FORMAT, model: digest, options: await normaliseOptions(o), target, packageVersion: packageVersion() };
      return { key: keyOf(components), components };
    };
    let { key, components } = await computeKey();
    // (Directories are created only when something is to be written: a read-only cache, pre-built in CI and
    // mounted read-only, serves hits.)
    const signal = o.signal;
    const badPlans = new Set<string>(); // SHA-256 of plans TensorRT refused here
    let rebuildReason: string | null = null;
    let waitedFor: string | null = null;
    let poll = Math.min(50, this.pollMs);

    for (;;) {
      if (signal?.aborted) throw cancelled(signal);
      // 1. A valid entry: load it (without the lock: entries are immutable once committed).
      const r = await this.store.read(key);
      if (r.status === 'ok' && !badPlans.has(r.manifest.plan.sha256)) {
        try {
          const engine = await this.deserializeFn(r.plan);
          await this.store.touch(key);
          emit(onCacheEvent, { type: 'hit', model: modelName, key, path: this.store.planPath(key), bytes: r.plan.length, createdAt: r.manifest.createdAt });
          return { engine, key, outcome: 'hit', path: this.store.planPath(key) };
        } catch (e) {
          if (!(e instanceof TensorRTError) || e.code !== 'DESERIALIZE_ERROR') throw e;
          badPlans.add(r.manifest.plan.sha256);
          rebuildReason = `the cached engine cannot be loaded here (${e.message.split('\n')[0]})`;
        }
      } else if (r.status === 'corrupt') {
        rebuildReason = `corrupt entry: ${r.reason}`;
      }
      // 2. Take the entry's lock to build (or to remove a bad entry); if another process holds it, wait for its result.
      let got: Awaited<ReturnType<typeof FileLock.tryAcquire>>;
      try {
        await this.store.ensure();
        got = await FileLock.tryAcquire(this.store.lockPath(key), { staleMs: this.lockStaleMs });
      } catch (e) {
        // The cache cannot be written (a read-only mount, a full disk): build without it rather than fail the start.
        const why = `cannot write to the cache ${this.store.dir} (${(e as Error).message.split('\n')[0]}): building without caching`;
        emit(onCacheEvent, { type: 'uncached', model: modelName, key, reason: `${rebuildReason ?? 'no entry'}; ${why}` });
        const plan = Buffer.from(await this.buildFn(src.path && src.hasExternalData ? src.path : src.bytes, o));
        if (plan.length === 0) throw new TensorRTError('BUILD_FAILED', 'engine cache: the build returned an empty plan');
        return { engine: await this.deserializeFn(plan), key, outcome: 'built', path: null, reason: why };
      }
      if (!got.lock) {
        if (waitedFor !== key) {
          waitedFor = key;
          emit(onCacheEvent, { type: 'wait', model: modelName, key, holder: got.holder, reason: `another process (pid ${got.holder?.pid ?? '?'} on ${got.holder?.host ?? '?'}) is building it` });
        }
        await sleep(poll, signal).catch(() => {
          throw cancelled(signal as AbortSignal);
        });
        poll = Math.min(poll * 2, this.pollMs);
        // A calibrator without a cache yet: the holder's build writes one, which changes the key.
        if (o.calibrator) ({ key, components } = await computeKey());
        continue;
      }
      const lock = got.lock;
      if (got.recovered) {
        emit(onCacheEvent, { type: 'lock-recovered', model: modelName, key, holder: got.recovered.holder, reason: `took over a stale lock: ${got.recovered.reason}` });
      }
      try {
        // Under the lock: look again (the previous holder may have just finished).
        const again = await this.store.read(key);
        if (again.status === 'ok' && !badPlans.has(again.manifest.plan.sha256)) continue; // finally: released; loop loads it
        if (again.status === 'corrupt') rebuildReason = `corrupt entry: ${again.reason}`;
        // A bad entry that cannot be removed: built anyway; storing it then fails and says so (uncached).
        if (again.status !== 'absent') await this.store.remove(key).catch(() => undefined);
        const reason = rebuildReason ?? 'no entry for this model, build options, TensorRT version and GPU';
        emit(onCacheEvent, { type: rebuildReason ? 'rebuild' : 'miss', model: modelName, key, reason });
        const t0 = process.hrtime.bigint();
        const plan = Buffer.from(await this.runBuild(src, o, target));
        const buildMs = Number(process.hrtime.bigint() - t0) / 1e6;
        if (plan.length === 0) throw new TensorRTError('BUILD_FAILED', 'engine cache: the build returned an empty plan');
        if (signal?.aborted) throw cancelled(signal);
        // A calibrator that calibrated during the build now has a cache: key the entry by it, as the next start will.
        if (o.calibrator) {
          const k2 = await computeKey();
          if (k2.key !== key) {
            await lock.release();
            key = k2.key;
            components = k2.components;
          }
        }
        const manifest: Manifest = {
          kind: MANIFEST_KIND,
          format: KEY_FORMAT,
          key,
          modelName: src.path ? path.basename(src.path) : null,
          components,
          plan: { file: path.basename(this.store.planPath(key)), bytes: plan.length, sha256: await sha256Chunked(plan) },
          createdAt: new Date().toISOString(),
          buildMs,
          builtBy: { host: os.hostname(), pid: process.pid },
        };
        let stored = true;
        try {
          await this.store.write(manifest, plan);
        } catch (e) {
          // Full disk, read-only file: the engine is still good; report that it is not kept.
          stored = false;
          await this.store.remove(key).catch(() => undefined);
          emit(onCacheEvent, { type: 'uncached', model: modelName, key, reason: `the built engine could not be stored: ${(e as Error).message.split('\n')[0]}` });
        }
        if (stored) emit(onCacheEvent, { type: 'stored', model: modelName, key, path: this.store.planPath(key), bytes: plan.length, buildMs });
        let engine: E;
        try {
          engine = await this.deserializeFn(plan);
        } catch (e) {
          if (e instanceof TensorRTError && e.code === 'DESERIALIZE_ERROR') {
            await this.store.remove(key);
            throw new TensorRTError('DESERIALIZE_ERROR', `engine cache: the engine just built for ${modelName} cannot be loaded (${describeTarget(target)}): ${e.message}`, { cause: e });
          }
          throw e;
        }
        const out: CacheLoadResult<E> = { engine, key, outcome: rebuildReason ? 'rebuilt' : 'built', path: stored ? this.store.planPath(key) : null, reason };
        return out;
      } finally {
        await lock.release();
      }
    }
  }

  /** Runs the build callback with the cache's timing cache (a private copy, committed atomically afterwards). */
  private async runBuild(src: ModelSource, o: BuildOptions, target: CacheTarget): Promise<Uint8Array> {
    // Models with external data are built from their path (TensorRT finds the data beside it); others from the
    // very bytes that were hashed, so that a file replaced meanwhile cannot end up under the old key.
    const model = src.path && src.hasExternalData ? src.path : src.bytes;
    if (o.timingCache !== undefined) return this.buildFn(model, o); // the caller manages its own timing cache
    const shared = this.store.timingCachePath(targetId(target));
    const tmp = tempPathFor(shared);
    try {
      try {
        await fs.promises.copyFile(shared, tmp);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      const plan = await this.buildFn(model, { ...o, timingCache: tmp });
      const st = await fs.promises.stat(tmp).catch(() => null);
      if (st && st.size > 0) {
        const fh = await fs.promises.open(tmp, 'r+');
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
        await fs.promises.rename(tmp, shared);
        await fsyncDir(path.dirname(shared));
      }
      return plan;
    } finally {
      await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    }
  }

  private async loadEngineFile(src: ModelSource, name: string, onCacheEvent?: (e: CacheEvent) => void): Promise<CacheLoadResult<E>> {
    const target = await this.targetFn();
    let how = `no manifest beside it: checked by TensorRT while loading on ${describeTarget(target)}`;
    if (src.path) {
      const manifestFile = src.path.replace(/\.[^./]*$/, '') + '.json';
      const text = await fs.promises.readFile(manifestFile, 'utf8').catch(() => null);
      const m = text === null ? null : parseManifest(text);
      if (m && typeof m !== 'string') {
        const { mismatches, notes } = compareTargets(m.components.target, target, m.components.options);
        if (mismatches.length) {
          throw new TensorRTError(
            'DESERIALIZE_ERROR',
            `${src.path} was built for ${describeTarget(m.components.target)} and cannot be loaded by ${describeTarget(target)}: ` +
              `${mismatches.join('; ')}. Rebuild it (loadEngine with the ONNX model and a cacheDir does so automatically)`,
          );
        }
        const sha = await sha256Chunked(src.bytes);
        if (src.bytes.length !== m.plan.bytes || sha !== m.plan.sha256) {
          throw new TensorRTError('DESERIALIZE_ERROR', `${src.path} does not match its manifest ${manifestFile} (size or SHA-256 differs): the file is corrupt or was replaced`);
        }
        how = `checked against its manifest ${path.basename(manifestFile)}${notes.length ? ` (${notes.join('; ')})` : ''}`;
      }
    }
    let engine: E;
    try {
      engine = await this.deserializeFn(Buffer.from(src.bytes.buffer, src.bytes.byteOffset, src.bytes.byteLength));
    } catch (e) {
      if (e instanceof TensorRTError && e.code === 'DESERIALIZE_ERROR') {
        throw new TensorRTError(
          'DESERIALIZE_ERROR',
          `${src.path ?? 'the engine bytes'} cannot be loaded by ${describeTarget(target)}: ${e.message.split('\n')[0]}. ` +
            'An engine loads only with the TensorRT version and GPU architecture it was built for (unless built version- or hardware-compatible); rebuild it from the ONNX model',
          { cause: e },
        );
      }
      throw e;
    }
    emit(onCacheEvent, { type: 'engine-file', model: name, path: src.path ?? undefined, reason: how });
    return { engine, key: null, outcome: 'engine-file', path: src.path };
  }
}

interface ModelSource {
  bytes: Uint8Array;
  path: string | null;
  hasExternalData?: boolean;
}

/** Reads the model argument (checked by checkModelSource: a non-empty path without NUL, or non-empty bytes). */
async function readModel(model: string | Uint8Array, what: string): Promise<ModelSource> {
  if (typeof model === 'string') {
    let bytes: Buffer;
    try {
      bytes = await fs.promises.readFile(model);
    } catch (e) {
      throw new TensorRTError('IO_ERROR', `${what}: cannot read ${model}: ${(e as Error).message}`, { cause: e });
    }
    if (bytes.length === 0) throw invalidArg(`${what}: ${model} is empty`);
    return { bytes, path: model, hasExternalData: bytes.indexOf('location') >= 0 };
  }
  return { bytes: model, path: null };
}

export interface LoadEngineOptions extends CacheLoadOptions {
  /** The cache directory (needed for ONNX models; default $TENSORRT_NODE_CACHE_DIR). */
  cacheDir?: string;
  /** Options of the Runtime that deserializes the engine. */
  runtime?: RuntimeOptions;
  /** A build lock without heartbeat for this long is taken over (default 30 s; see docs/engine-cache.md). */
  lockStaleMs?: number;
}

/**
 * An Engine for an ONNX model (built once, then loaded from `cacheDir`) or an `.engine` (loaded and checked).
 * See the module's documentation and docs/engine-cache.md.
 */
export async function loadEngine(model: string | Uint8Array, options: LoadEngineOptions = {}): Promise<Engine> {
  if (options === null || typeof options !== 'object') throw invalidArg('loadEngine options must be an object');
  const { cacheDir, runtime, lockStaleMs, ...rest } = options;
  if (cacheDir !== undefined && (typeof cacheDir !== 'string' || cacheDir.length === 0)) throw invalidArg('loadEngine: cacheDir must be a directory path');
  const ro = checkRuntimeOptions(runtime);
  const dir = cacheDir ?? process.env.TENSORRT_NODE_CACHE_DIR;
  const cache = new EngineCache<Engine>({ dir: dir ?? os.tmpdir(), deserialize: (plan) => Engine.load(plan, ro), ...(lockStaleMs !== undefined ? { lockStaleMs } : {}) });
  if (!dir) NO_DIR.add(cache); // engine files need no cache directory; ONNX models are refused in load()
  return (await cache.load(model, rest)).engine;
}
