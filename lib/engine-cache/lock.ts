/**
 * A cross-process, cross-host lock file whose content names the holder (pid, host, PID namespace, start time); the
 * holder refreshes its mtime every `heartbeatMs` (a heartbeat) while it holds it.
 *
 * The lock file never exists empty: the holder's record is written (and fsync'd) to a temp file beside it first,
 * which is then hard-linked to the lock's name (`link(2)` fails with EEXIST when the lock exists: atomic on local
 * file systems and on NFS). A full disk therefore fails the write of the temp file, which is removed, and no lock
 * appears; a process killed at any point leaves either no lock or a complete one (and at most a temp file, named
 * by fsutil.tempPathFor, that `cache prune` removes). Where hard links are not supported (EPERM, ENOTSUP, ENOSYS)
 * the lock is created with `O_CREAT | O_EXCL` and written in place, as before.
 *
 * A lock is **stale**, and is taken over by the next process that wants it, when
 *   - its holder ran on this host (same host name and PID namespace) and that process no longer exists
 *     (killed, crashed): recovered at once, or
 *     (killed, crashed; a zombie, killed but not yet reaped by its parent, counts as gone): recovered at once, or
 *   - it holds no holder record and is older than `EMPTY_GRACE_MS` (2 s): an empty or damaged file, which this code
 *     never makes (left by an older version, or a file system that lost the data): recovered after 2 s, or
 *   - its mtime is older than `staleMs` (no heartbeat: a holder on another host that died, or a pid reused by an
 *     unrelated process): recovered after `staleMs`.
 * So a process killed mid-build never blocks the others for longer than `staleMs`, and on one host not at all.
 *
 * Why not a library: proper-lockfile (the well-known one, mkdir + mtime) detects stale locks by mtime only, so a
 * killed holder blocks everyone for its whole stale period even on one host, and it would be a new dependency;
 * flock(2) is released by the kernel on death but is not reachable from Node without native code and behaves
 * differently on network file systems. This file is ~150 lines and says exactly what it guarantees.
 *
 * What it guarantees: at most one live holder at a time in normal operation. Taking over a stale lock renames
 * it away and checks, by inode, that the renamed file is the one judged stale; if a fresh lock slipped in between,
 * it is put back. In the remaining corner (two processes both taking over the same stale lock in the same
 * microseconds) two holders can exist; the engine cache does not rely on the lock for correctness, only to avoid
 * duplicate builds: entries are content-checked and written atomically, so a duplicate build wastes time, never
 * corrupts the cache.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import { currentPidNamespace, processAlive, tempPathFor } from './fsutil';

/** A lock file without a readable holder record older than this is stale (see above). */
export const EMPTY_GRACE_MS = 2000;

export { currentPidNamespace };

export interface LockHolder {
  pid: number;
  host: string;
  /** The holder's PID namespace (Linux: /proc/self/ns/pid), so that pids are compared only within one. */
  pidns: string;
  /** ISO time the lock was taken. */
  since: string;
  /** Random id of this acquisition. */
  token: string;
}

export interface LockOptions {
  /** A lock whose mtime is older than this is stale (default 30 000 ms). */
  staleMs?: number;
  /** How often the holder refreshes the mtime (default staleMs / 6). */
  heartbeatMs?: number;
}

/** Reads a lock file: the holder (null when unreadable or still being written), its inode and mtime; null when absent. */
export async function readLock(file: string): Promise<{ holder: LockHolder | null; ino: number; mtimeMs: number } | null> {
  let st: fs.Stats;
  let text: string;
  try {
    st = await fs.promises.stat(file);
    text = await fs.promises.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  let holder: LockHolder | null = null;
  try {
    const o = JSON.parse(text) as LockHolder;
    if (o && typeof o.pid === 'number' && typeof o.host === 'string') holder = o;
  } catch {
    holder = null; // being written (created, content not yet there) or damaged: judged by its mtime
  }
  return { holder, ino: st.ino, mtimeMs: st.mtimeMs };
}

/** Why a lock is stale, or null when it is live. */
export function staleReason(lock: { holder: LockHolder | null; mtimeMs: number }, staleMs: number, now = Date.now()): string | null {
  const h = lock.holder;
  if (h && h.host === os.hostname() && h.pidns === currentPidNamespace() && !processAlive(h.pid)) {
    return `its holder (pid ${h.pid} on ${h.host}) is gone`;
  }
  const age = now - lock.mtimeMs;
  if (!h && age > Math.min(EMPTY_GRACE_MS, staleMs)) return `it holds no holder record (empty or damaged) and is ${(age / 1000).toFixed(1)} s old`;
  if (age > staleMs) return `no heartbeat from its holder${h ? ` (pid ${h.pid} on ${h.host})` : ''} for ${(age / 1000).toFixed(1)} s`;
  return null;
}

const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);
let linksUnsupported = false;

/**
 * Creates `file` holding `text`, complete or not at all: written to a temp file, then hard-linked into place.
 * Resolves to the lock's inode, or null when `file` exists (EEXIST). Any other failure (ENOSPC, EROFS, EACCES)
 * rejects, leaving nothing behind.
 */
async function createLockFile(file: string, text: string): Promise<number | null> {
  if (linksUnsupported) return createInPlace(file, text);
  const tmp = tempPathFor(file);
  try {
    const fh = await fs.promises.open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await fs.promises.link(tmp, file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return null;
      if (code && NO_LINKS.has(code)) {
        linksUnsupported = true;
        return createInPlace(file, text);
      }
      throw e;
    }
    return (await fs.promises.stat(tmp)).ino; // the lock's inode (the same file)
  } finally {
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
  }
}

/** The fallback without hard links: O_EXCL create, then write; a failed write removes the file again. */
async function createInPlace(file: string, text: string): Promise<number | null> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return null;
    throw e;
  }
  let written = false;
  try {
    await fh.writeFile(text);
    const { ino } = await fh.stat();
    written = true;
    return ino;
  } finally {
    await fh.close().catch(() => undefined);
    if (!written) await fs.promises.rm(file, { force: true }).catch(() => undefined);
  }
}

const held = new Set<FileLock>();
let exitHook = false;

export type TryAcquireResult =
  | { lock: FileLock; recovered?: { holder: LockHolder | null; reason: string } }
  | { lock: null; holder: LockHolder | null };

export class FileLock {
  private timer: NodeJS.Timeout | null = null;
  private released = false;
  /** True once the lock was found taken over by another process (the heartbeat saw another inode). */
  lost = false;

  private constructor(readonly file: string, readonly holder: LockHolder, private readonly ino: number, heartbeatMs: number) {
    this.timer = setInterval(() => void this.beat(), heartbeatMs);
    this.timer.unref();
    held.add(this);
    if (!exitHook) {
      exitHook = true;
      // A process that exits without releasing (process.exit, an uncaught exception) frees its locks.
      process.on('exit', () => {
        for (const l of held) l.releaseSync();
      });
    }
  }

  /**
   * Takes the lock if it is free or stale; otherwise returns who holds it. Never waits (the caller polls, so that
   * it can look for the result of the holder's work in between).
   */
  static async tryAcquire(file: string, options: LockOptions = {}): Promise<TryAcquireResult> {
    const staleMs = options.staleMs ?? 30_000;
    const heartbeatMs = options.heartbeatMs ?? Math.max(10, Math.floor(staleMs / 6));
    let recovered: { holder: LockHolder | null; reason: string } | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      const holder: LockHolder = {
        pid: process.pid,
        host: os.hostname(),
        pidns: currentPidNamespace(),
        since: new Date().toISOString(),
        token: randomBytes(8).toString('hex'),
      };
      const ino = await createLockFile(file, JSON.stringify(holder));
      if (ino !== null) {
        const lock = new FileLock(file, holder, ino, heartbeatMs);
        return recovered ? { lock, recovered } : { lock };
      }
      // Held by someone: live, or stale?
      const cur = await readLock(file);
      if (!cur) continue; // released meanwhile: try again
      const why = staleReason(cur, staleMs);
      if (!why) return { lock: null, holder: cur.holder };
      // Stale: move it away under a unique name, then check that what we moved is what we judged.
      const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
      try {
        await fs.promises.rename(file, aside);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // someone else took it over first
        throw e;
      }
      const moved = await fs.promises.stat(aside).catch(() => null);
      if (moved && moved.ino !== cur.ino) {
        // A fresh lock was created between our read and the rename: put it back (unless yet another exists).
        await fs.promises.link(aside, file).catch(() => undefined);
        await fs.promises.rm(aside, { force: true });
        return { lock: null, holder: (await readLock(file))?.holder ?? null };
      }
      await fs.promises.rm(aside, { force: true });
      recovered = { holder: cur.holder, reason: why };
    }
    const cur = await readLock(file);
    return { lock: null, holder: cur?.holder ?? null };
  }

  private async beat(): Promise<void> {
    if (this.released) return;
    try {
      const st = await fs.promises.stat(this.file);
      if (st.ino !== this.ino) throw new Error('taken over');
      const now = new Date();
      await fs.promises.utimes(this.file, now, now);
    } catch {
      this.lost = true;
      this.stopTimer();
    }
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Releases the lock (removes the file if it is still ours). Idempotent. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.stopTimer();
    held.delete(this);
    try {
      const st = await fs.promises.stat(this.file);
      if (st.ino === this.ino) await fs.promises.unlink(this.file);
    } catch {
      // already gone
    }
  }

  private releaseSync(): void {
    if (this.released) return;
    this.released = true;
    this.stopTimer();
    try {
      if (fs.statSync(this.file).ino === this.ino) fs.unlinkSync(this.file);
    } catch {
      // already gone
    }
  }
}
