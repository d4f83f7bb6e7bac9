/**
 * File-system helpers of the engine cache: atomic writes (temp file in the same directory, fsync, rename, fsync
 * of the directory), streaming SHA-256, and temp-file names that say which process made them.
 *
 * A reader therefore sees a cache file either complete or not at all, even when the writer is killed or the
 * machine loses power mid-write (the rename is the commit point; fsync before it makes the data durable first).
 */
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** Prefix of every temp file the cache creates (`cache prune` removes the leftovers of killed writers). */
export const TEMP_PREFIX = '.tmp-';

let pidNamespace: string | null = null;
/** This process's PID namespace (Linux: the link /proc/self/ns/pid, e.g. "pid:[4026531836]"; '' where unknown). */
export function currentPidNamespace(): string {
  if (pidNamespace === null) {
    try {
      pidNamespace = fs.readlinkSync('/proc/self/ns/pid');
    } catch {
      pidNamespace = '';
    }
  }
  return pidNamespace;
}

/** This host's name as it appears in temp-file names. */
export function hostTag(): string {
  return os.hostname().replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 40);
}

const pidnsTag = () => currentPidNamespace().replace(/\D/g, '');

/** A unique temp-file name beside `target`: `.tmp-<host>-<pid namespace>-<pid>-<random>-<basename>`. */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `${TEMP_PREFIX}${hostTag()}-${pidnsTag()}-${process.pid}-${randomBytes(4).toString('hex')}-${path.basename(target)}`);
}

/**
 * Whether a temp file named by tempPathFor belongs to a process of this host and PID namespace that no longer
 * exists (a writer that was killed): then it can be removed. False for other names and other hosts.
 */
export function tempOwnerGone(name: string): { pid: number } | null {
  const m = /^\.tmp-(.+)-(\d*)-(\d+)-[0-9a-f]{8}-/.exec(name);
  if (!m || m[1] !== hostTag() || m[2] !== pidnsTag()) return null;
  const pid = Number(m[3]);
  return processAlive(pid) ? null : { pid };
}

/**
 * `mkdir -p` that cannot spin: Node's `fs.mkdir(p, { recursive: true })` loops forever where a parent exists but
 * refuses children with ENOENT (/proc/nope). Creates the missing levels one by one; errors are mkdir's own.
 */
export function mkdirpSync(dir: string): void {
  const missing: string[] = [];
  let p = path.resolve(dir);
  for (;;) {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (st) {
      if (!st.isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${p}'`), { code: 'ENOTDIR', path: p });
      break;
    }
    missing.push(p);
    const up = path.dirname(p);
    if (up === p) break;
    p = up;
  }
  for (const d of missing.reverse()) {
    try {
      fs.mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !fs.statSync(d).isDirectory()) throw e;
    }
  }
}

/** fsync of a directory, so that a rename in it is durable. Some file systems refuse it (EINVAL/EISDIR): ignored. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: fs.promises.FileHandle | null = null;
  try {
    fh = await fs.promises.open(dir, 'r');
    await fh.sync();
  } catch {
    // not supported here (some network / FUSE file systems): the rename is still atomic
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/**
 * Writes `data` to `target` atomically: a temp file beside it is written and fsync'd, then renamed over
 * `target`, then the directory is fsync'd. On any failure the temp file is removed and `target` is untouched.
 */
export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  const tmp = tempPathFor(target);
  let fh: fs.promises.FileHandle | null = null;
  try {
    fh = await fs.promises.open(tmp, 'wx', 0o644);
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = null;
    await fs.promises.rename(tmp, target);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  await fsyncDir(path.dirname(target));
}

/**
 * SHA-256 (hex) of bytes in 4 MiB slices, yielding to the event loop between them, so that hashing a large model
 * or plan never holds the JS thread for more than a few milliseconds at a time.
 */
export async function sha256Chunked(data: Uint8Array): Promise<string> {
  const h = createHash('sha256');
  const step = 4 << 20;
  for (let off = 0; off < data.byteLength; off += step) {
    h.update(data.subarray(off, Math.min(off + step, data.byteLength)));
    if (off + step < data.byteLength) await new Promise<void>((r) => setImmediate(r));
  }
  return h.digest('hex');
}

/** SHA-256 (hex) of bytes (small data: manifests, calibration caches, key text). */
export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Reads a whole file and its SHA-256 in one pass. The file is read in chunks through a stream, so hashing a
 * large plan never holds the event loop for long.
 */
export async function readFileHashed(file: string): Promise<{ data: Buffer; sha256: string }> {
  const h = createHash('sha256');
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const s = fs.createReadStream(file, { highWaterMark: 1 << 20 });
    s.on('data', (c) => {
      const b = c as Buffer;
      h.update(b);
      chunks.push(b);
    });
    s.on('error', reject);
    s.on('end', () => resolve());
  });
  return { data: Buffer.concat(chunks), sha256: h.digest('hex') };
}

/** SHA-256 and size of a file, streamed (the content is not kept). */
export async function hashFile(file: string): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  await new Promise<void>((resolve, reject) => {
    const s = fs.createReadStream(file, { highWaterMark: 1 << 20 });
    s.on('data', (c) => {
      h.update(c as Buffer);
      bytes += (c as Buffer).length;
    });
    s.on('error', reject);
    s.on('end', () => resolve());
  });
  return { sha256: h.digest('hex'), bytes };
}

/**
 * Whether process `pid` exists on this host and still runs (EPERM: it exists but belongs to another user). A zombie
 * (killed or exited, not yet reaped by its parent: state Z, or X, in /proc/<pid>/stat on Linux) answers signal 0
 * but holds nothing any more: not alive.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !isZombie(pid);
}

/** Linux: whether /proc/<pid>/stat says the process is a zombie (Z) or dead (X); false where /proc is absent. */
export function isZombie(pid: number): boolean {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return false;
  }
  // "pid (comm) S ...": comm may hold spaces and parentheses, so the state follows the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X';
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
