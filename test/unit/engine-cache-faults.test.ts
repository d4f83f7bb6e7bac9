/**
 * The engine cache under faults (issue 26 item 7): a full disk, a lock holder killed at any point or left a zombie,
 * directory-shaped entries, a cache path that is a file. The build and deserialize callbacks are TEST DOUBLES of
 * the cache's own contract (bytes chosen here, returned as text; a made-up TensorRT version and GPU): no TensorRT,
 * no engine. Processes are real: children on the current sources (fixtures/cache-faults-child.js), the CLI as a
 * user runs it (helpers/cli-process.ts), and a real full file system (a 64 KiB tmpfs mounted in a user + mount
 * namespace, `unshare -rm`; skipped with the reason where the kernel does not allow that).
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CacheStore, EngineCache, type CacheEvent, type CacheTarget } from '../../lib/engine-cache';
import { EMPTY_GRACE_MS, FileLock, readLock } from '../../lib/engine-cache/lock';
import { isZombie } from '../../lib/engine-cache/fsutil';
import { cliProcess } from './helpers/cli-process';

const CHILD = path.join(__dirname, 'fixtures', 'cache-faults-child.js');
const REGISTER = path.join(__dirname, 'helpers', 'ts-register.js');
const CLS = path.join(__dirname, '..', '..', 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');

/** Test double of the TensorRT + GPU description (no real version, no real GPU). */
const TARGET: CacheTarget = {
  tensorrt: '0.0.0-test-double',
  cudaRuntime: null,
  gpu: { name: 'test double (not a GPU)', computeCapability: '0.0', totalMemory: 1, multiProcessorCount: 1 },
  platform: `${process.platform}-${process.arch}`,
};

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cache-faults-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = () => {
  const d = path.join(tmp, `c${++n}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
};
const childArgs = (o: object) => ['-r', REGISTER, CHILD, JSON.stringify(o)];

function doubleCache(dir: string) {
  let builds = 0;
  const events: CacheEvent[] = [];
  const cache = new EngineCache<string>({ dir, target: () => TARGET, build: async () => Buffer.from(`plan-double ${++builds}`), deserialize: async (p) => p.toString(), pollMs: 50 });
  return { events, builds: () => builds, load: (m: string) => cache.load(m, { onCacheEvent: (e) => events.push(e) }) };
}

const unshare = spawnSync('unshare', ['-rm', 'sh', '-c', `mkdir -p ${os.tmpdir()}/unshare-probe-$$ && mount -t tmpfs -o size=64k tmpfs ${os.tmpdir()}/unshare-probe-$$ && umount ${os.tmpdir()}/unshare-probe-$$; rmdir ${os.tmpdir()}/unshare-probe-$$`], { encoding: 'utf8' });
const noTmpfs = unshare.status === 0 ? null : `unshare -rm cannot mount a tmpfs here (${(unshare.error?.message ?? unshare.stderr).trim().split('\n')[0]})`;
if (noTmpfs) console.log(`full-disk test skipped: ${noTmpfs}`);

describe('a full disk (a real 64 KiB tmpfs, filled)', () => {
  (noTmpfs ? test.skip : test)('leaves no lock file, empty or not; every start builds uncached at once, never waits for a lock', async () => {
    const dir = fresh();
    const r = spawnSync('unshare', ['-rm', 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs "$1" && exec "$2" "$3" "$4" "$5" "$6"', 'sh', dir, process.execPath, ...childArgs({ mode: 'full-disk', dir, model: CLS })], { encoding: 'utf8', timeout: 60_000 });
    const last = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { result?: { filled: number; lockError: string | null; lockDirAfter: unknown[]; loads: { ms: number; outcome: string; path: string | null; engine: string; events: string[] }[]; leftovers: string[] } };
    expect({ stderr: r.stderr, status: r.status }).toEqual({ stderr: '', status: 0 });
    const res = last.result!;
    expect(res.filled).toBeGreaterThan(0);
    expect(res.filled).toBeLessThanOrEqual(64 * 1024);
    expect(res.lockError).toBe('ENOSPC'); // the lock could not be written: refused, not left empty
    expect(res.lockDirAfter).toEqual([]);
    for (const l of res.loads) {
      expect(l).toMatchObject({ outcome: 'built', path: null, engine: 'plan-double' });
      expect(l.events).toEqual(['uncached']);
      expect(l.ms).toBeLessThan(5000); // not the 30 s lock wait
    }
    expect(res.leftovers).toEqual([]);
  });
});

describe('a lock holder killed at any point', () => {
  test('never leaves an empty lock: killed in a take/release loop, the lock is absent or names the dead holder, taken over at once', async () => {
    const dir = fresh();
    const file = path.join(dir, 'k.lock');
    for (let round = 0; round < 8; round++) {
      const child = spawn(process.execPath, childArgs({ mode: 'hammer', file }), { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      await new Promise((r) => setTimeout(r, 20 + ((round * 37) % 150)));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('close', r));
      const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
      if (text !== null) expect(JSON.parse(text)).toMatchObject({ pid: child.pid });
      const t0 = Date.now();
      const got = await FileLock.tryAcquire(file);
      expect(got.lock).not.toBeNull();
      expect(Date.now() - t0).toBeLessThan(1000);
      await got.lock!.release();
    }
    expect(fs.readdirSync(dir).filter((f) => !f.startsWith('.tmp-'))).toEqual([]);
  });

  test(`an empty lock file (an older version's, or a lost write) is stale after ${EMPTY_GRACE_MS / 1000} s, not lockStaleMs`, async () => {
    const dir = fresh();
    const file = path.join(dir, 'e.lock');
    fs.writeFileSync(file, '');
    expect((await FileLock.tryAcquire(file)).lock).toBeNull(); // just made: maybe being written
    const old = new Date(Date.now() - EMPTY_GRACE_MS - 500);
    fs.utimesSync(file, old, old);
    const got = await FileLock.tryAcquire(file);
    expect(got).toMatchObject({ recovered: { holder: null, reason: expect.stringMatching(/no holder record/) } });
    await got.lock!.release();
  });

  test('a killed holder left a zombie (not reaped by its parent) counts as gone: taken over at once', async () => {
    const dir = fresh();
    const file = path.join(dir, 'z.lock');
    // sh starts the holder in the background, then becomes `sleep`, which never reaps it: a zombie.
    const sh = spawn('sh', ['-c', `"$0" "$@" & echo $!; exec sleep 60`, process.execPath, ...childArgs({ mode: 'kill-self', file })], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const pid = Number(await new Promise<string>((resolve) => sh.stdout.once('data', (b: Buffer) => resolve(b.toString().trim()))));
      const deadline = Date.now() + 30_000;
      while (!isZombie(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(isZombie(pid)).toBe(true);
      expect((await readLock(file))?.holder?.pid).toBe(pid);
      const t0 = Date.now();
      const got = await FileLock.tryAcquire(file); // default staleMs 30 s
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(got).toMatchObject({ recovered: { holder: { pid }, reason: expect.stringMatching(/is gone/) } });
      await got.lock!.release();
    } finally {
      sh.kill('SIGKILL');
    }
  });
});

describe('directory-shaped entries are corrupt: rebuilt, not IO_ERROR', () => {
  test.each([['manifest', (s: CacheStore, k: string) => s.manifestPath(k)], ['plan', (s: CacheStore, k: string) => s.planPath(k)]])('the %s path is a directory', async (what, pathOf) => {
    const dir = fresh();
    const c = doubleCache(dir);
    const first = await c.load(CLS);
    expect(first.outcome).toBe('built');
    const store = new CacheStore(dir);
    const p = pathOf(store, first.key!);
    fs.rmSync(p);
    fs.mkdirSync(path.join(p, 'inside'), { recursive: true });
    const again = await c.load(CLS);
    expect(again).toMatchObject({ outcome: 'rebuilt', engine: 'plan-double 2', path: store.planPath(first.key!) });
    expect(c.events.find((e) => e.type === 'rebuild')?.reason).toContain(`the ${what} path is a directory`);
    expect((await c.load(CLS)).outcome).toBe('hit');
  });
});

describe('cache ls on something that is not a cache', () => {
  test.each([
    ['a file as the cache directory', (d: string) => (fs.writeFileSync(path.join(d, 'f'), 'x'), path.join(d, 'f')), /f is not a directory/],
    ['a cache whose engines/ is a file', (d: string) => (fs.writeFileSync(path.join(d, 'engines'), 'x'), d), /engines is not a directory/],
  ])('%s: exit 1, IO_ERROR', async (_what, make, message) => {
    const cacheDir = make(fresh());
    for (const argv of [['cache', 'ls', '--cache-dir', cacheDir], ['cache', 'ls', '--json', '--cache-dir', cacheDir]]) {
      const r = await cliProcess(argv);
      expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 1, stdout: '' });
      expect(r.stderr).toMatch(/^tensorrt-node cache: engine cache: .* \[IO_ERROR\]\n$/);
      expect(r.stderr).toMatch(message);
    }
  });

  test('a cache directory that does not exist yet is an empty cache (exit 0)', async () => {
    const r = await cliProcess(['cache', 'ls', '--cache-dir', path.join(fresh(), 'never-made')]);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(r.stdout).toMatch(/no cached engines/);
  });
});
