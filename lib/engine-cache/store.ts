/**
 * The engine cache's directory:
 * ```
 * <dir>/engines/<key>.engine   the plan (loadable as it is: trtexec --loadEngine, Engine.load)
 * <dir>/engines/<key>.json     its manifest: key components, plan size + SHA-256, created, built by
 * <dir>/locks/<key>.lock       held while one process builds that entry
 * <dir>/timing/<target>.timing-cache   TensorRT's timing cache, one per TensorRT version + GPU, reused by every build
 * ```
 * Both files of an entry are written atomically (plan first, manifest last: the manifest's rename commits the
 * entry). An entry is valid when its manifest parses, names its key, and the plan has the recorded size and
 * SHA-256; anything else is corrupt and is removed (under the entry's lock) and rebuilt. A manifest's mtime is the
 * entry's last use (refreshed on every hit), which `prune --older-than` and `--max-size` go by.
 */
import * as fs from 'fs';
import * as path from 'path';
import { invalidArg, TensorRTError } from '../errors';
import { mkdirpSync, readFileHashed, TEMP_PREFIX, tempOwnerGone, writeFileAtomic } from './fsutil';
import { FileLock, readLock, staleReason, type LockOptions } from './lock';
import { KEY_FORMAT, type KeyComponents } from './key';
import * as is from '../validate';

export const MANIFEST_KIND = 'tensorrt-node engine cache entry';

export interface Manifest {
  kind: typeof MANIFEST_KIND;
  format: number;
  key: string;
  /** File name of the model the entry was built from (null for bytes). */
  modelName: string | null;
  components: KeyComponents;
  plan: { file: string; bytes: number; sha256: string };
  createdAt: string;
  buildMs: number;
  builtBy: { host: string; pid: number };
}

export type ReadResult =
  | { status: 'absent' }
  | { status: 'corrupt'; reason: string; manifest?: Manifest }
  | { status: 'ok'; manifest: Manifest; plan: Buffer };

export interface EntryInfo {
  key: string;
  modelName: string | null;
  status: 'ok' | 'incomplete' | 'corrupt';
  /** Why the entry is incomplete or corrupt. */
  problem?: string;
  /** Plan + manifest bytes. */
  bytes: number;
  planBytes: number | null;
  tensorrt: string | null;
  gpu: string | null;
  createdAt: string | null;
  /** Last use (the manifest's mtime, refreshed on each hit), ms since the epoch. */
  lastUsedMs: number;
}

export interface PruneOptions {
  /** Remove entries not used for this long (ms). */
  olderThanMs?: number;
  /** Then remove least recently used entries until the cache holds at most this many bytes. */
  maxSizeBytes?: number;
  /** Report what would be removed without removing it. */
  dryRun?: boolean;
  /** Leftovers of killed writers (temp files, orphan plans) older than this are removed (default 10 min). */
  leftoverAgeMs?: number;
  lock?: LockOptions;
  now?: number;
}

export interface PruneResult {
  removed: { key: string | null; file?: string; modelName: string | null; bytes: number; reason: string }[];
  /** Entries that matched but were left because another process holds their lock. */
  skipped: { key: string; reason: string }[];
  keptEntries: number;
  keptBytes: number;
  freedBytes: number;
}

const KEY_RE = /^([0-9a-f]{64})\.(engine|json)$/;

/** An entry key: the SHA-256 of its key components, 64 lowercase hex digits (so a key never names a path). */
function checkKey(key: unknown, what: string): string {
  if (typeof key !== 'string' || !/^[0-9a-f]{64}$/.test(key)) {
    throw invalidArg(`${what}: the key must be 64 lowercase hex digits (an entry key); got ${is.describe(key)}`);
  }
  return key;
}

const positiveMs = (v: unknown, what: string) => is.number(v, what, { lo: 0, loOpen: true });

export class CacheStore {
  readonly dir: string;
  readonly enginesDir: string;
  readonly locksDir: string;
  readonly timingDir: string;

  constructor(dir: string) {
    this.dir = path.resolve(is.path(dir, 'CacheStore: the cache directory'));
    this.enginesDir = path.join(this.dir, 'engines');
    this.locksDir = path.join(this.dir, 'locks');
    this.timingDir = path.join(this.dir, 'timing');
  }

  async ensure(): Promise<void> {
    try {
      for (const d of [this.enginesDir, this.locksDir, this.timingDir]) mkdirpSync(d); // not recursive mkdir: it spins on /proc/x
    } catch (e) {
      throw new TensorRTError('IO_ERROR', `engine cache: cannot create ${this.dir}: ${(e as Error).message}`, { cause: e });
    }
  }

  planPath(key: string): string {
    checkKey(key, 'CacheStore.planPath');
    return path.join(this.enginesDir, `${key}.engine`);
  }

  manifestPath(key: string): string {
    checkKey(key, 'CacheStore.manifestPath');
    return path.join(this.enginesDir, `${key}.json`);
  }

  lockPath(key: string): string {
    checkKey(key, 'CacheStore.lockPath');
    return path.join(this.locksDir, `${key}.lock`);
  }

  timingCachePath(target: string): string {
    if (typeof target !== 'string' || !/^[0-9a-f]{24}$/.test(target)) {
      throw invalidArg(`CacheStore.timingCachePath: the target id must be 24 lowercase hex digits (targetId()); got ${is.describe(target)}`);
    }
    return path.join(this.timingDir, `${target}.timing-cache`);
  }

  /** Reads and verifies one entry (the whole plan is read and its SHA-256 checked). */
  async read(key: string): Promise<ReadResult> {
    checkKey(key, 'CacheStore.read');
    let text: string;
    try {
      text = await fs.promises.readFile(this.manifestPath(key), 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return { status: 'absent' };
      // A directory where the manifest belongs cannot be an entry: corrupt, removed and rebuilt like any other.
      if (code === 'EISDIR') return { status: 'corrupt', reason: 'the manifest path is a directory' };
      throw new TensorRTError('IO_ERROR', `engine cache: cannot read ${this.manifestPath(key)}: ${(e as Error).message}`, { cause: e });
    }
    const m = parseManifest(text);
    if (typeof m === 'string') return { status: 'corrupt', reason: `manifest ${m}` };
    if (m.key !== key || m.plan.file !== path.basename(this.planPath(key))) return { status: 'corrupt', reason: 'manifest belongs to another entry', manifest: m };
    let plan: { data: Buffer; sha256: string };
    try {
      plan = await readFileHashed(this.planPath(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'corrupt', reason: 'plan file is missing', manifest: m };
      if ((e as NodeJS.ErrnoException).code === 'EISDIR') return { status: 'corrupt', reason: 'the plan path is a directory', manifest: m };
      throw new TensorRTError('IO_ERROR', `engine cache: cannot read ${this.planPath(key)}: ${(e as Error).message}`, { cause: e });
    }
    if (plan.data.length !== m.plan.bytes) {
      return { status: 'corrupt', reason: `plan is truncated or altered: ${plan.data.length} bytes, the manifest says ${m.plan.bytes}`, manifest: m };
    }
    if (plan.sha256 !== m.plan.sha256) return { status: 'corrupt', reason: 'plan checksum (SHA-256) does not match its manifest', manifest: m };
    return { status: 'ok', manifest: m, plan: plan.data };
  }

  /** Writes an entry: the plan, then the manifest that commits it (each atomically). */
  async write(manifest: Manifest, plan: Uint8Array): Promise<void> {
    checkKey(is.object(manifest, 'CacheStore.write: the manifest').key, 'CacheStore.write: manifest.key');
    is.bytes(plan, 'CacheStore.write: the plan');
    try {
      await writeFileAtomic(this.planPath(manifest.key), plan);
      await writeFileAtomic(this.manifestPath(manifest.key), `${JSON.stringify(manifest, null, 2)}\n`);
    } catch (e) {
      throw new TensorRTError('IO_ERROR', `engine cache: cannot write entry ${manifest.key} in ${this.enginesDir}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Removes an entry (manifest first, so that no reader takes a half-removed entry for valid). */
  async remove(key: string): Promise<void> {
    checkKey(key, 'CacheStore.remove');
    // recursive: a directory in an entry's place (a corrupt entry) goes too; both names are the cache's own
    await fs.promises.rm(this.manifestPath(key), { force: true, recursive: true });
    await fs.promises.rm(this.planPath(key), { force: true, recursive: true });
  }

  /** Records a use of the entry (its manifest's mtime). */
  async touch(key: string): Promise<void> {
    checkKey(key, 'CacheStore.touch');
    const now = new Date();
    await fs.promises.utimes(this.manifestPath(key), now, now).catch(() => undefined);
  }

  /**
   * Every entry in the directory, valid or not. Sizes are checked; checksums only with `verify` (that reads every
   * plan).
   */
  async list(options: { verify?: boolean } = {}): Promise<EntryInfo[]> {
    is.optional(is.options(options, 'CacheStore.list', ['verify']), 'verify', is.boolean);
    let names: string[];
    try {
      names = await fs.promises.readdir(this.enginesDir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // No engines/ yet (a cache never written, or none at all): empty. A file where the cache or engines/ should
      // be is not a cache: IO_ERROR, never "no cached engines".
      const st = await fs.promises.stat(this.dir).catch(() => null);
      if (code === 'ENOENT' && (!st || st.isDirectory())) return [];
      const what = st && !st.isDirectory() ? `${this.dir} is not a directory` : code === 'ENOTDIR' || code === 'ENOENT' ? `${this.enginesDir} is not a directory` : `cannot read ${this.enginesDir}: ${(e as Error).message}`;
      throw new TensorRTError('IO_ERROR', `engine cache: ${what}`, { cause: e });
    }
    const keys = new Set<string>();
    for (const n of names) {
      const m = KEY_RE.exec(n);
      if (m) keys.add(m[1]);
    }
    const out: EntryInfo[] = [];
    for (const key of [...keys].sort()) {
      const planSt = await fs.promises.stat(this.planPath(key)).catch(() => null);
      const manSt = await fs.promises.stat(this.manifestPath(key)).catch(() => null);
      const info: EntryInfo = {
        key,
        modelName: null,
        status: 'ok',
        bytes: (planSt?.size ?? 0) + (manSt?.size ?? 0),
        planBytes: planSt?.size ?? null,
        tensorrt: null,
        gpu: null,
        createdAt: null,
        lastUsedMs: (manSt ?? planSt)?.mtimeMs ?? 0,
      };
      if (!manSt) {
        info.status = 'incomplete';
        info.problem = 'plan without manifest (a write in progress, or one that was killed)';
      } else {
        const m = parseManifest(await fs.promises.readFile(this.manifestPath(key), 'utf8').catch(() => ''));
        if (typeof m === 'string') {
          info.status = 'corrupt';
          info.problem = `manifest ${m}`;
        } else {
          info.modelName = m.modelName;
          info.tensorrt = m.components.target.tensorrt;
          info.gpu = `${m.components.target.gpu.name} (compute ${m.components.target.gpu.computeCapability})`;
          info.createdAt = m.createdAt;
          if (m.key !== key) {
            info.status = 'corrupt';
            info.problem = 'manifest belongs to another entry';
          } else if (!planSt) {
            info.status = 'corrupt';
            info.problem = 'plan file is missing';
          } else if (planSt.size !== m.plan.bytes) {
            info.status = 'corrupt';
            info.problem = `plan is truncated or altered: ${planSt.size} bytes, the manifest says ${m.plan.bytes}`;
          }
        }
      }
      if (options.verify && info.status === 'ok') {
        const r = await this.read(key);
        if (r.status === 'corrupt') {
          info.status = 'corrupt';
          info.problem = r.reason;
        }
      }
      out.push(info);
    }
    return out;
  }

  /**
   * Removes leftovers (temp files of killed writers, stale locks, incomplete and corrupt entries), then entries
   * unused for `olderThanMs`, then least recently used entries until at most `maxSizeBytes` remain. An entry whose
   * lock is held by a live process is left alone.
   */
  async prune(o: PruneOptions = {}): Promise<PruneResult> {
    const opts = is.options(o, 'CacheStore.prune', ['olderThanMs', 'maxSizeBytes', 'dryRun', 'leftoverAgeMs', 'lock', 'now']);
    for (const k of ['olderThanMs', 'leftoverAgeMs'] as const) is.optional(opts, k, (v, w) => is.number(v, w, { lo: 0 }), `CacheStore.prune: ${k}`);
    is.optional(opts, 'maxSizeBytes', (v, w) => is.number(v, w, { lo: 0 }), 'CacheStore.prune: maxSizeBytes');
    is.optional(opts, 'now', (v, w) => is.number(v, w), 'CacheStore.prune: now');
    is.optional(opts, 'dryRun', is.boolean, 'CacheStore.prune: dryRun');
    const lock = is.optional(opts, 'lock', (v, w) => is.options(v, w, ['staleMs', 'heartbeatMs']), 'CacheStore.prune: lock');
    if (lock) for (const k of ['staleMs', 'heartbeatMs'] as const) is.optional(lock, k, positiveMs, `CacheStore.prune: lock.${k}`);
    const now = o.now ?? Date.now();
    const leftoverAge = o.leftoverAgeMs ?? 10 * 60_000;
    const res: PruneResult = { removed: [], skipped: [], keptEntries: 0, keptBytes: 0, freedBytes: 0 };
    const rm = async (file: string) => {
      if (!o.dryRun) await fs.promises.rm(file, { force: true });
    };
    // 1. temp files and stale-lock leftovers
    for (const d of [this.enginesDir, this.timingDir, this.locksDir]) {
      const names = await fs.promises.readdir(d).catch(() => [] as string[]);
      for (const n of names) {
        const file = path.join(d, n);
        const st = await fs.promises.stat(file).catch(() => null);
        if (!st) continue;
        let reason: string | null = null;
        if (n.startsWith(TEMP_PREFIX)) {
          const gone = tempOwnerGone(n);
          if (gone) reason = `temp file of a process that is gone (pid ${gone.pid})`;
          else if (now - st.mtimeMs > Math.max(leftoverAge, 24 * 3600_000)) reason = 'temp file older than a day';
        } else if (/\.lock\.stale-/.test(n)) {
          reason = 'leftover of a lock take-over';
        } else if (n.endsWith('.lock')) {
          const l = await readLock(file);
          const why = l ? staleReason(l, o.lock?.staleMs ?? 30_000, now) : null;
          if (why) reason = `stale lock: ${why}`;
        }
        if (reason) {
          await rm(file);
          res.removed.push({ key: null, file, modelName: null, bytes: st.size, reason });
          res.freedBytes += st.size;
        }
      }
    }
    // 2. entries
    const entries = await this.list();
    const keep: EntryInfo[] = [];
    const removeEntry = async (e: EntryInfo, reason: string): Promise<boolean> => {
      let lock: FileLock | null = null;
      if (!o.dryRun) {
        const r = await FileLock.tryAcquire(this.lockPath(e.key), o.lock);
        if (!r.lock) {
          res.skipped.push({ key: e.key, reason: `in use: locked by pid ${r.holder?.pid ?? '?'} on ${r.holder?.host ?? '?'}` });
          return false;
        }
        lock = r.lock;
      }
      try {
        if (!o.dryRun) await this.remove(e.key);
      } finally {
        await lock?.release();
      }
      res.removed.push({ key: e.key, modelName: e.modelName, bytes: e.bytes, reason });
      res.freedBytes += e.bytes;
      return true;
    };
    for (const e of entries) {
      if (e.status === 'corrupt') {
        if (!(await removeEntry(e, `corrupt: ${e.problem}`))) keep.push(e);
      } else if (e.status === 'incomplete' && now - e.lastUsedMs > leftoverAge) {
        if (!(await removeEntry(e, `incomplete: ${e.problem}`))) keep.push(e);
      } else if (o.olderThanMs !== undefined && now - e.lastUsedMs > o.olderThanMs) {
        const days = (now - e.lastUsedMs) / 86_400_000;
        if (!(await removeEntry(e, `not used for ${days >= 1 ? `${days.toFixed(1)} days` : `${((now - e.lastUsedMs) / 3600_000).toFixed(1)} hours`}`))) keep.push(e);
      } else keep.push(e);
    }
    if (o.maxSizeBytes !== undefined) {
      let total = keep.reduce((s, e) => s + e.bytes, 0);
      const byAge = [...keep].sort((a, b) => a.lastUsedMs - b.lastUsedMs);
      for (const e of byAge) {
        if (total <= o.maxSizeBytes) break;
        if (await removeEntry(e, `least recently used, over the size limit of ${o.maxSizeBytes} bytes`)) {
          total -= e.bytes;
          keep.splice(keep.indexOf(e), 1);
        }
      }
    }
    res.keptEntries = keep.length;
    res.keptBytes = keep.reduce((s, e) => s + e.bytes, 0);
    return res;
  }
}

/** Parses a manifest; a string says what is wrong with it. */
export function parseManifest(text: string): Manifest | string {
  if (text === '') return 'is empty';
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch {
    return 'is not valid JSON';
  }
  if (!m || typeof m !== 'object' || m.kind !== MANIFEST_KIND) return 'is not an engine cache manifest';
  if (m.format !== KEY_FORMAT) return `has format ${String(m.format)}, this version reads ${KEY_FORMAT}`;
  if (!m.plan || typeof m.plan.bytes !== 'number' || typeof m.plan.sha256 !== 'string' || typeof m.key !== 'string') return 'lacks the plan size or checksum';
  if (!m.components || !m.components.target || !m.components.target.gpu) return 'lacks its key components';
  return m;
}
