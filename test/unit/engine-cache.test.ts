/**
 * The engine cache (lib/engine-cache) on the CPU, without TensorRT. The engine build and deserialization are the
 * cache's own callbacks, replaced here by TEST DOUBLES of that contract: `build` returns bytes this test chose
 * (they are no TensorRT plan) and counts its calls; `deserialize` returns the bytes as text; `target` describes a
 * made-up TensorRT version and GPU ("test double"). What is tested is the cache: its key, its files, its lock
 * between real processes (spawned children, see fixtures/cache-child.js), killing a lock holder, corrupt entries.
 * The real TensorRT path is test/trt/engine-cache.test.js (skips where TensorRT is absent).
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { onnx } from '../../lib/onnx';
import { TensorRTError } from '../../lib/errors';
import type { BuildOptions } from '../../lib/tensorrt/build';
import { CacheStore, EngineCache, compareTargets, keyOf, type CacheEvent, type CacheTarget, type KeyComponents } from '../../lib/engine-cache';
import { FileLock, currentPidNamespace, staleReason } from '../../lib/engine-cache/lock';

const root = path.join(__dirname, '..', '..');
const CHILD = path.join(__dirname, 'fixtures', 'cache-child.js');
const WRITER = path.join(__dirname, 'fixtures', 'atomic-writer.js');

/** Test double of the TensorRT + GPU description (no real version, no real GPU). */
const TARGET: CacheTarget = {
  tensorrt: '0.0.0-test-double',
  cudaRuntime: null,
  gpu: { name: 'test double (not a GPU)', computeCapability: '0.0', totalMemory: 1, multiProcessorCount: 1 },
  platform: `${process.platform}-${process.arch}`,
};

/** A tiny ONNX model y = x + w (w: float32[4] initializer, inline or in an external file). */
function model(w: number[] = [1, 2, 3, 4], external?: string): Uint8Array {
  const init = onnx.TensorProto.create({ name: 'w', dims: [4], dataType: onnx.TensorProto.DataType.FLOAT });
  if (external) {
    init.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    init.externalData = [onnx.StringStringEntryProto.create({ key: 'location', value: external })];
  } else init.rawData = new Uint8Array(new Float32Array(w).buffer);
  const vi = (name: string) =>
    onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 4 }] } } } });
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      graph: { name: 'g', node: [{ opType: 'Add', input: ['x', 'w'], output: ['y'] }], initializer: [init], input: [vi('x')], output: [vi('y')] },
    }),
  ).finish();
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trt-cache-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDir = () => path.join(tmp, `c${++n}`);
const write = (name: string, data: Uint8Array | string) => {
  const f = path.join(tmp, name);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, data);
  return f;
};

/** A cache whose build and deserialize callbacks are test doubles; records builds and events. */
function doubleCache(dir: string, opts: { plan?: (i: number) => string; deserialize?: (plan: Buffer) => Promise<string>; target?: CacheTarget } = {}) {
  const builds: { model: string | Uint8Array; options: BuildOptions; timingBefore: string | null }[] = [];
  const events: CacheEvent[] = [];
  const cache = new EngineCache<string>({
    dir,
    target: () => opts.target ?? TARGET,
    build: async (m, o) => {
      const timingBefore = o.timingCache && fs.existsSync(o.timingCache) ? fs.readFileSync(o.timingCache, 'utf8') : null;
      builds.push({ model: m, options: o, timingBefore });
      if (o.timingCache) fs.writeFileSync(o.timingCache, `timing after build ${builds.length}`);
      return Buffer.from(opts.plan ? opts.plan(builds.length) : `plan-double ${builds.length}`);
    },
    deserialize: opts.deserialize ?? (async (p) => p.toString()),
    pollMs: 50,
  });
  const load = (m: string | Uint8Array, o: BuildOptions = {}) => cache.load(m, { ...o, onCacheEvent: (e) => events.push(e) });
  return { cache, builds, events, load };
}

// ------------------------------------------------------------------------------------------------------------
describe('key', () => {
  const cache = new EngineCache({ dir: path.join(os.tmpdir(), 'unused'), target: () => TARGET });
  const key = async (m: string | Uint8Array, o: BuildOptions = {}) => (await cache.keyFor(m, o)).key;
  const base = model();

  test.each<[string, BuildOptions]>([
    ['fp16', { fp16: true }],
    ['bf16', { bf16: true }],
    ['int8', { int8: true }],
    ['fp8', { fp8: true }],
    ['tf32 off', { tf32: false }],
    ['stronglyTyped', { stronglyTyped: true }],
    ['a memory pool limit', { memoryPoolLimits: { workspace: 1 << 30 } }],
    ['a profile', { profiles: [{ x: { min: [1], opt: [2], max: [4] } }] }],
    ['builder optimization level', { builderOptimizationLevel: 5 }],
    ['hardware compatibility', { hardwareCompatibilityLevel: 'amperePlus' }],
    ['profiling verbosity', { profilingVerbosity: 'detailed' }],
    ['aux streams', { maxAuxStreams: 2 }],
    ['another builder flag', { flags: ['sparseWeights'] }],
    ['version compatibility', { flags: ['versionCompatible'] }],
  ])('changes with %s', async (_what, o) => {
    expect(await key(base, o)).not.toBe(await key(base));
  });

  test('changes with the model bytes (one weight)', async () => {
    expect(await key(model([1, 2, 3, 5]))).not.toBe(await key(base));
  });

  test('changes with every profile detail: a shape, the profile order, a pool size', async () => {
    const p1 = { x: { min: [1], opt: [2], max: [4] } };
    const p2 = { x: { min: [1], opt: [2], max: [8] } };
    expect(await key(base, { profiles: [p1] })).not.toBe(await key(base, { profiles: [p2] }));
    expect(await key(base, { profiles: [p1, p2] })).not.toBe(await key(base, { profiles: [p2, p1] }));
    expect(await key(base, { memoryPoolLimits: { workspace: 1 << 30 } })).not.toBe(await key(base, { memoryPoolLimits: { workspace: 1 << 29 } }));
  });

  test('changes with the calibration cache contents and the calibrator algorithm', async () => {
    const cal = (algorithm: 'entropy2' | 'minmax', cacheText: string | null) => ({
      algorithm, batchSize: 8, getBatch: () => null, readCache: () => (cacheText === null ? null : Buffer.from(cacheText)), writeCache: () => undefined,
    });
    const a = await key(base, { calibrator: cal('entropy2', 'TRT-1-EntropyCalibration2\nx: 3c000000\n') });
    expect(await key(base, { calibrator: cal('entropy2', 'TRT-1-EntropyCalibration2\nx: 3d000000\n') })).not.toBe(a);
    expect(await key(base, { calibrator: cal('minmax', 'TRT-1-EntropyCalibration2\nx: 3c000000\n') })).not.toBe(a);
    expect(await key(base, { calibrator: cal('entropy2', null) })).not.toBe(a);
    // ... and a calibrator implies int8: explicit int8 gives the same key
    expect(await key(base, { int8: true, calibrator: cal('entropy2', 'c') })).toBe(await key(base, { calibrator: cal('entropy2', 'c') }));
  });

  test('changes with the TensorRT version, every GPU property, the CUDA runtime, the platform, the package version', async () => {
    const { components } = await cache.keyFor(base);
    const k0 = keyOf(components);
    const variants: ((c: KeyComponents) => void)[] = [
      (c) => (c.target.tensorrt = '0.0.1-test-double'),
      (c) => (c.target.gpu.name = 'another test double'),
      (c) => (c.target.gpu.computeCapability = '0.1'),
      (c) => (c.target.gpu.totalMemory = 2),
      (c) => (c.target.gpu.multiProcessorCount = 2),
      (c) => (c.target.cudaRuntime = '13.0'),
      (c) => (c.target.platform = 'linux-arm64-test'),
      (c) => (c.packageVersion = '99.0.0'),
      (c) => (c.format = 99),
    ];
    const keys = variants.map((v) => {
      const c = JSON.parse(JSON.stringify(components)) as KeyComponents;
      v(c);
      return keyOf(c);
    });
    expect(new Set([k0, ...keys]).size).toBe(variants.length + 1);
  });

  test('does not change with the path, option order, defaults, callbacks, bigint vs number, flag spelling or order', async () => {
    const k = await key(base, { fp16: true, profiles: [{ x: { min: [1], opt: [2], max: [4] }, z: { min: [1], opt: [1], max: [1] } }], memoryPoolLimits: { workspace: 1024, tacticSharedMemory: 64 } });
    const a = write('same/a.onnx', base);
    const b = write('other/dir/b.onnx', base);
    const same: [string | Uint8Array, BuildOptions][] = [
      [a, { fp16: true, profiles: [{ x: { min: [1], opt: [2], max: [4] }, z: { min: [1], opt: [1], max: [1] } }], memoryPoolLimits: { workspace: 1024, tacticSharedMemory: 64 } }],
      [b, { memoryPoolLimits: { tacticSharedMemory: 64n, workspace: 1024n }, profiles: [{ z: { min: [1], opt: [1], max: [1] }, x: { min: [1], opt: [2], max: [4] } }], fp16: true }],
      [Buffer.from(base), {
        flags: ['fp16', 'fp16'], tf32: true, bf16: false, int8: false, fp8: false, stronglyTyped: false, builderOptimizationLevel: 3,
        hardwareCompatibilityLevel: 'none', profilingVerbosity: 'layerNamesOnly', timingCache: '/somewhere/else.cache',
        onProgress: () => undefined, signal: new AbortController().signal,
        profiles: [{ x: { min: [1], opt: [2], max: [4] }, z: { min: [1], opt: [1], max: [1] } }], memoryPoolLimits: { workspace: 1024, tacticSharedMemory: 64 },
      }],
    ];
    for (const [m, o] of same) expect(await key(m, o)).toBe(k);
    // tf32 given through flags or as the default is the same final flag set
    expect(await key(base, { flags: ['tf32'] })).toBe(await key(base));
    expect(await key(base, { flags: ['sparseWeights', 'refit'] })).toBe(await key(base, { flags: ['refit', 'sparseWeights'] }));
  });

  test('external data files are part of the key; bytes that reference them need the path; a missing one is IO_ERROR', async () => {
    const m = model(undefined, 'weights.bin');
    const file = write('ext/model.onnx', m);
    write('ext/weights.bin', Buffer.from(new Float32Array([1, 2, 3, 4]).buffer));
    const k1 = await key(file);
    write('ext/weights.bin', Buffer.from(new Float32Array([1, 2, 3, 5]).buffer));
    const k2 = await key(file);
    expect(k2).not.toBe(k1);
    // the same model and data elsewhere: same key
    write('ext2/copy.onnx', m);
    write('ext2/weights.bin', Buffer.from(new Float32Array([1, 2, 3, 5]).buffer));
    expect(await key(path.join(tmp, 'ext2/copy.onnx'))).toBe(k2);
    await expect(key(m)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/weights\.bin.*path/) });
    fs.rmSync(path.join(tmp, 'ext/weights.bin'));
    await expect(key(file)).rejects.toMatchObject({ code: 'IO_ERROR', message: expect.stringMatching(/weights\.bin.*tensor 'w'/) });
  });

  test('bad options are INVALID_ARGUMENT before anything is hashed', async () => {
    await expect(key(base, { fp16: 'yes' } as unknown as BuildOptions)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(key(base, { nope: 1 } as unknown as BuildOptions)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

// ------------------------------------------------------------------------------------------------------------
describe('cache in one process (test doubles of build and deserialize)', () => {
  test('miss builds and stores once, then hits; the files are atomic-write results with a checksum', async () => {
    const dir = freshDir();
    const c = doubleCache(dir);
    const m = write('m1.onnx', model());
    const r1 = await c.load(m, { fp16: true });
    expect(r1).toMatchObject({ engine: 'plan-double 1', outcome: 'built' });
    const r2 = await c.load(m, { fp16: true });
    expect(r2).toMatchObject({ engine: 'plan-double 1', outcome: 'hit', key: r1.key });
    expect(c.builds).toHaveLength(1);
    expect(c.events.map((e) => e.type)).toEqual(['miss', 'stored', 'hit']);
    expect(c.events[0].reason).toMatch(/no entry/);
    const store = new CacheStore(dir);
    const files = fs.readdirSync(store.enginesDir).sort();
    expect(files).toEqual([`${r1.key}.engine`, `${r1.key}.json`]);
    const manifest = JSON.parse(fs.readFileSync(store.manifestPath(r1.key!), 'utf8'));
    expect(manifest.plan).toMatchObject({ bytes: 13, sha256: require('crypto').createHash('sha256').update('plan-double 1').digest('hex') });
    expect(manifest.modelName).toBe('m1.onnx');
    expect(fs.readdirSync(store.locksDir)).toEqual([]); // lock released
    // other options: another entry
    await c.load(m, { fp16: false, bf16: true });
    expect(c.builds).toHaveLength(2);
  });

  test('the timing cache is kept beside the plans and reused by the next build (any model)', async () => {
    const dir = freshDir();
    const c = doubleCache(dir);
    await c.load(model([1, 1, 1, 1]));
    await c.load(model([2, 2, 2, 2]));
    expect(c.builds[0].timingBefore).toBeNull();
    expect(c.builds[1].timingBefore).toBe('timing after build 1');
    const timing = fs.readdirSync(path.join(dir, 'timing'));
    expect(timing).toHaveLength(1);
    expect(timing[0]).toMatch(/\.timing-cache$/);
    expect(fs.readFileSync(path.join(dir, 'timing', timing[0]), 'utf8')).toBe('timing after build 2');
    // a caller's own timingCache is left to the caller
    await c.load(model([3, 3, 3, 3]), { timingCache: path.join(tmp, 'own.cache') });
    expect(c.builds[2].options.timingCache).toBe(path.join(tmp, 'own.cache'));
  });

  test.each<[string, (store: CacheStore, key: string) => void, RegExp]>([
    ['a flipped byte', (s, k) => { const f = s.planPath(k); const b = fs.readFileSync(f); b[3] ^= 0xff; fs.writeFileSync(f, b); }, /checksum/],
    ['a truncated plan', (s, k) => fs.truncateSync(s.planPath(k), 5), /truncated.*5 bytes/],
    ['an empty plan', (s, k) => fs.truncateSync(s.planPath(k), 0), /truncated.*0 bytes/],
    ['a missing plan', (s, k) => fs.rmSync(s.planPath(k)), /plan file is missing/],
    ['a garbage manifest', (s, k) => fs.writeFileSync(s.manifestPath(k), '{"kind": "tensorrt-n'), /manifest is not valid JSON/],
    ['an empty manifest', (s, k) => fs.writeFileSync(s.manifestPath(k), ''), /manifest is empty/],
  ])('a corrupt entry (%s) is detected, removed and rebuilt', async (_what, damage, reason) => {
    const dir = freshDir();
    const c = doubleCache(dir);
    const m = model([9, 9, 9, 9]);
    const r1 = await c.load(m);
    damage(new CacheStore(dir), r1.key!);
    c.events.length = 0;
    const r2 = await c.load(m);
    expect(r2).toMatchObject({ engine: 'plan-double 2', outcome: 'rebuilt', key: r1.key });
    expect(c.events.map((e) => e.type)).toEqual(['rebuild', 'stored']);
    expect(c.events[0].reason).toMatch(reason);
    expect(await c.load(m)).toMatchObject({ engine: 'plan-double 2', outcome: 'hit' });
  });

  test('a plan without its manifest (a write killed between the two renames) is a miss, rebuilt', async () => {
    const dir = freshDir();
    const c = doubleCache(dir);
    const r1 = await c.load(model([4, 4, 4, 4]));
    fs.rmSync(new CacheStore(dir).manifestPath(r1.key!));
    expect(await c.load(model([4, 4, 4, 4]))).toMatchObject({ outcome: 'built', engine: 'plan-double 2' });
  });

  test('an entry TensorRT refuses (DESERIALIZE_ERROR) is rebuilt once; a fresh plan refused too is an error, no loop', async () => {
    const dir = freshDir();
    let refuse = new Set(['plan-double 1']);
    const c = doubleCache(dir, {
      deserialize: async (p) => {
        if (refuse.has(p.toString())) throw new TensorRTError('DESERIALIZE_ERROR', 'test double: refused');
        return p.toString();
      },
    });
    const m = model([5, 5, 5, 5]);
    refuse = new Set();
    await c.load(m);
    refuse = new Set(['plan-double 1']);
    c.events.length = 0;
    expect(await c.load(m)).toMatchObject({ engine: 'plan-double 2', outcome: 'rebuilt' });
    expect(c.events[0]).toMatchObject({ type: 'rebuild', reason: expect.stringMatching(/cannot be loaded here.*test double: refused/) });
    refuse = new Set(['plan-double 2', 'plan-double 3']);
    await expect(c.load(m)).rejects.toMatchObject({ code: 'DESERIALIZE_ERROR', message: expect.stringMatching(/just built.*test double: refused/) });
    expect(c.builds).toHaveLength(3);
    expect(fs.readdirSync(new CacheStore(dir).enginesDir)).toEqual([]); // the refused plan is not kept
  });

  test('a failing build leaves no entry, no temp file and no lock', async () => {
    const dir = freshDir();
    const cache = new EngineCache<string>({
      dir, target: () => TARGET, deserialize: async (p) => p.toString(),
      build: async () => { throw new TensorRTError('BUILD_FAILED', 'test double: build failed'); },
    });
    await expect(cache.load(model([6, 6, 6, 6]))).rejects.toMatchObject({ code: 'BUILD_FAILED' });
    const s = new CacheStore(dir);
    expect([...fs.readdirSync(s.enginesDir), ...fs.readdirSync(s.locksDir), ...fs.readdirSync(s.timingDir)]).toEqual([]);
  });

  test('a cache that cannot be written (no directory can be made, a plan that cannot be stored) still gives the engine, reported as uncached', async () => {
    const asFile = write('not-a-dir', 'a regular file where the cache directory should be');
    const c1 = doubleCache(asFile);
    expect(await c1.load(model([15, 15, 15, 15]))).toMatchObject({ engine: 'plan-double 1', outcome: 'built', path: null });
    expect(c1.events.map((e) => e.type)).toEqual(['uncached']);
    expect(c1.events[0].reason).toMatch(/no entry; cannot write to the cache .*not-a-dir.*building without caching/);
    // the plan's name taken by a directory: the rename fails
    const dir = freshDir();
    const c2 = doubleCache(dir);
    const { key } = await c2.cache.keyFor(model([16, 16, 16, 16]));
    fs.mkdirSync(path.join(dir, 'engines', `${key}.engine`), { recursive: true });
    expect(await c2.load(model([16, 16, 16, 16]))).toMatchObject({ engine: 'plan-double 1', outcome: 'built', path: null });
    expect(c2.events.map((e) => e.type)).toEqual(['miss', 'uncached']);
    expect(c2.events[1].reason).toMatch(/could not be stored/);
    expect(fs.readdirSync(path.join(dir, 'engines')).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
  });

  test('a calibrator without a cache: the entry is keyed by the cache its calibration wrote, so the next start hits', async () => {
    const dir = freshDir();
    let calCache: Buffer | null = null;
    const calibrator = { algorithm: 'entropy2' as const, batchSize: 1, getBatch: () => null, readCache: () => calCache, writeCache: () => undefined };
    const c = doubleCache(dir);
    const real = c.cache['buildFn' as keyof typeof c.cache] as unknown as (m: Uint8Array, o: BuildOptions) => Promise<Uint8Array>;
    (c.cache as unknown as { buildFn: unknown }).buildFn = async (m: Uint8Array, o: BuildOptions) => {
      calCache = Buffer.from('TRT-1-EntropyCalibration2\nx: 3c000000\n'); // what a calibrating build leaves behind
      return real(m, o);
    };
    const r1 = await c.load(model(), { calibrator });
    const r2 = await c.load(model(), { calibrator });
    expect(r2).toMatchObject({ outcome: 'hit', key: r1.key });
  });

  test('engine files: checked against the manifest beside them, mismatches named; without one TensorRT\'s refusal is explained', async () => {
    const dir = freshDir();
    const c = doubleCache(dir);
    const r = await c.load(model([7, 7, 7, 7]));
    const plan = r.path!;
    // the same target: loads (and the plan's checksum is checked)
    expect(await c.load(plan)).toMatchObject({ outcome: 'engine-file', engine: 'plan-double 1' });
    // another TensorRT version and GPU here
    const other = doubleCache(dir, { target: { ...TARGET, tensorrt: '0.0.9-test-double', gpu: { ...TARGET.gpu, name: 'other test double', computeCapability: '9.9' } } });
    await expect(other.load(plan)).rejects.toMatchObject({
      code: 'DESERIALIZE_ERROR',
      message: expect.stringMatching(/TensorRT version: built with 0\.0\.0-test-double, this process has 0\.0\.9-test-double.*compute capability: built for 0\.0/),
    });
    // a plan altered after the manifest was written
    const copy = path.join(dir, 'copy.engine');
    fs.copyFileSync(plan, copy);
    fs.copyFileSync(plan.replace(/\.engine$/, '.json'), path.join(dir, 'copy.json'));
    fs.appendFileSync(copy, 'x');
    await expect(c.load(copy)).rejects.toMatchObject({ code: 'DESERIALIZE_ERROR', message: expect.stringMatching(/does not match its manifest/) });
    // no manifest: TensorRT (here its double) decides, and the error says what this process has
    const refusing = new EngineCache<string>({ dir, target: () => TARGET, deserialize: async () => { throw new TensorRTError('DESERIALIZE_ERROR', 'test double: version tag mismatch'); } });
    const bare = write('bare.engine', 'ftrt-not-really-a-plan');
    await expect(refusing.load(bare)).rejects.toMatchObject({
      code: 'DESERIALIZE_ERROR',
      message: expect.stringMatching(/bare\.engine cannot be loaded by TensorRT 0\.0\.0-test-double on test double \(not a GPU\).*test double: version tag mismatch/),
    });
  });

  test('compareTargets: version- and hardware-compatible engines are notes, not mismatches', () => {
    const built = { ...TARGET, tensorrt: '10.0.1', gpu: { ...TARGET.gpu, computeCapability: '8.0' } };
    const here = { ...TARGET, tensorrt: '10.16.0', gpu: { ...TARGET.gpu, computeCapability: '9.0' } };
    expect(compareTargets(built, here).mismatches).toHaveLength(2);
    const r = compareTargets(built, here, { flags: ['versionCompatible'], hardwareCompatibilityLevel: 'amperePlus' });
    expect(r.mismatches).toEqual([]);
    expect(r.notes).toHaveLength(2);
    expect(compareTargets({ ...built, tensorrt: '11.1.0' }, here, { flags: ['versionCompatible'] }).mismatches[0]).toMatch(/TensorRT version/);
  });

  test('ONNX without a cache directory, bad arguments: INVALID_ARGUMENT', async () => {
    const { loadEngine } = await import('../../lib/engine-cache');
    const saved = process.env.TENSORRT_NODE_CACHE_DIR;
    delete process.env.TENSORRT_NODE_CACHE_DIR;
    try {
      await expect(loadEngine(model())).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/cacheDir/) });
    } finally {
      if (saved !== undefined) process.env.TENSORRT_NODE_CACHE_DIR = saved;
    }
    await expect(loadEngine(42 as unknown as string, { cacheDir: tmp })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(loadEngine(model(), { cacheDir: tmp, fp16: 1 } as unknown as BuildOptions)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(() => new EngineCache({ dir: '' })).toThrow(TensorRTError);
    await expect(doubleCache(freshDir()).load(path.join(tmp, 'missing.onnx'))).rejects.toMatchObject({ code: 'IO_ERROR' });
  });
});

// ------------------------------------------------------------------------------------------------------------
describe('lock', () => {
  test('staleReason: a dead holder on this host at once; a silent one after staleMs; a live or fresh one never', () => {
    const now = Date.now();
    const here = { host: os.hostname(), pidns: currentPidNamespace(), since: '', token: '' };
    // a pid that does not exist: a child that has exited
    const dead = require('child_process').spawnSync(process.execPath, ['-e', '0']).pid as number;
    expect(staleReason({ holder: { ...here, pid: dead }, mtimeMs: now }, 30_000, now)).toMatch(new RegExp(`pid ${dead} .* is gone`));
    expect(staleReason({ holder: { ...here, pid: process.pid }, mtimeMs: now - 10_000 }, 30_000, now)).toBeNull();
    expect(staleReason({ holder: { ...here, pid: process.pid }, mtimeMs: now - 40_000 }, 30_000, now)).toMatch(/no heartbeat .* for 40\.0 s/);
    // another PID namespace (another container with the same host name): its pids are not ours to check
    expect(staleReason({ holder: { ...here, pidns: 'pid:[1]', pid: dead }, mtimeMs: now }, 30_000, now)).toBeNull();
    expect(staleReason({ holder: { ...here, host: 'another-host.test', pid: dead }, mtimeMs: now }, 30_000, now)).toBeNull();
    // a lock file without a holder record (never made by lock.ts, which links complete files into place; an older
    // version's being written, or a lost write): live for 2 s, then stale (engine-cache-faults.test.ts)
    expect(staleReason({ holder: null, mtimeMs: now }, 30_000, now)).toBeNull();
    expect(staleReason({ holder: null, mtimeMs: now - 3_000 }, 30_000, now)).toMatch(/no holder record .* 3\.0 s old/);
  });

  test('a lock of another host with a live heartbeat is waited for, not taken', async () => {
    const dir = freshDir();
    const c = doubleCache(dir);
    const m = model([8, 8, 8, 8]);
    const { key } = await c.cache.keyFor(m);
    const store = new CacheStore(dir);
    await store.ensure();
    const lockFile = store.lockPath(key);
    fs.writeFileSync(lockFile, JSON.stringify({ pid: 1, host: 'another-host.test', pidns: 'x', since: new Date().toISOString(), token: 't' }));
    const beat = setInterval(() => { const now = new Date(); try { fs.utimesSync(lockFile, now, now); } catch { /* removed */ } }, 100);
    const cache = new EngineCache<string>({ dir, target: () => TARGET, build: async () => Buffer.from('built'), deserialize: async (p) => p.toString(), lockStaleMs: 2000, pollMs: 50 });
    const events: CacheEvent[] = [];
    let done = false;
    const p = cache.load(m, { onCacheEvent: (e) => events.push(e) }).then((r) => { done = true; return r; });
    await new Promise((r) => setTimeout(r, 2500)); // longer than lockStaleMs: the heartbeat keeps it live
    expect(done).toBe(false);
    expect(events.map((e) => e.type)).toEqual(['wait']);
    expect(events[0].holder).toMatchObject({ host: 'another-host.test' });
    clearInterval(beat);
    fs.rmSync(lockFile); // the holder finishes (without an entry: the waiter builds)
    expect(await p).toMatchObject({ outcome: 'built', engine: 'built' });
  });

  test('a lock of another host without heartbeat is recovered after lockStaleMs', async () => {
    const dir = freshDir();
    const m = model([10, 10, 10, 10]);
    const cache = new EngineCache<string>({ dir, target: () => TARGET, build: async () => Buffer.from('built'), deserialize: async (p) => p.toString(), lockStaleMs: 300, pollMs: 50 });
    const { key } = await cache.keyFor(m);
    const store = new CacheStore(dir);
    await store.ensure();
    fs.writeFileSync(store.lockPath(key), JSON.stringify({ pid: 1, host: 'another-host.test', pidns: 'x', since: '2020-01-01T00:00:00Z', token: 't' }));
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(store.lockPath(key), old, old);
    const events: CacheEvent[] = [];
    expect(await cache.load(m, { onCacheEvent: (e) => events.push(e) })).toMatchObject({ outcome: 'built' });
    expect(events[0]).toMatchObject({ type: 'lock-recovered', reason: expect.stringMatching(/no heartbeat.*another-host\.test/) });
  });

  test('waiting can be cancelled with the AbortSignal', async () => {
    const dir = freshDir();
    const m = model([11, 11, 11, 11]);
    const c = doubleCache(dir);
    const { key } = await c.cache.keyFor(m);
    const store = new CacheStore(dir);
    await store.ensure();
    const held = await FileLock.tryAcquire(store.lockPath(key));
    expect(held.lock).not.toBeNull();
    try {
      await expect(c.load(m, { signal: AbortSignal.timeout(300) })).rejects.toMatchObject({ code: 'BUILD_FAILED', message: expect.stringMatching(/cancelled/) });
    } finally {
      await held.lock!.release();
    }
    expect(fs.existsSync(store.lockPath(key))).toBe(false);
  });
});

// ------------------------------------------------------------------------------------------------------------
describe('several real processes', () => {
  const distReady = fs.existsSync(path.join(root, 'dist', 'engine-cache', 'index.js'));
  if (!distReady) console.log('dist/engine-cache is missing: run `npm run build:ts` (the child processes load dist/)');
  const t = distReady ? test : test.skip;

  interface ChildOut { events: { event: string; reason?: string; holderPid?: number }[]; result?: { engine: string; outcome: string; key: string }; error?: unknown; code: number | null }
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  function child(args: Record<string, unknown>): { proc: ChildProcess; done: Promise<ChildOut>; printed: (re: RegExp) => Promise<void> } {
    const proc = spawn(process.execPath, [CHILD, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(proc);
    let out = '';
    const watchers: { re: RegExp; resolve: () => void }[] = [];
    proc.stdout!.on('data', (d) => {
      out += d;
      for (const w of watchers.splice(0)) if (w.re.test(out)) w.resolve(); else watchers.push(w);
    });
    const printed = (re: RegExp) => new Promise<void>((resolve) => (re.test(out) ? resolve() : watchers.push({ re, resolve })));
    const done = new Promise<ChildOut>((resolve) => {
      proc.on('close', (code) => {
        const lines = out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
        resolve({ events: lines.filter((l) => l.event), result: lines.find((l) => l.result)?.result, error: lines.find((l) => l.error)?.error, code });
      });
    });
    return { proc, done, printed };
  }
  const waitFor = async (file: string, ms = 30_000) => {
    const t0 = Date.now();
    while (!fs.existsSync(file)) {
      if (Date.now() - t0 > ms) throw new Error(`${file} did not appear`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  t('6 processes starting together build once; the others wait and load the same engine', async () => {
    const dir = freshDir();
    const m = write('multi.onnx', model([12, 12, 12, 12]));
    const log = path.join(tmp, `builds-${n}.log`);
    const runs = Array.from({ length: 6 }, () => child({ dir, model: m, log, buildMs: 1500, plan: 'plan-double from a child' }).done);
    const outs = await Promise.all(runs);
    expect(outs.map((o) => o.code)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(fs.readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(1); // ONE build
    expect(new Set(outs.map((o) => o.result!.engine))).toEqual(new Set(['plan-double from a child']));
    expect(new Set(outs.map((o) => o.result!.key)).size).toBe(1);
    const outcomes = outs.map((o) => o.result!.outcome).sort();
    expect(outcomes).toEqual(['built', 'hit', 'hit', 'hit', 'hit', 'hit']);
    // the builder reported a miss; the others a hit (most of them after waiting for the builder)
    const builder = outs.find((o) => o.result!.outcome === 'built')!;
    expect(builder.events.map((e) => e.event)).toEqual(['miss', 'stored']);
    for (const o of outs.filter((x) => x !== builder)) expect(o.events[o.events.length - 1].event).toBe('hit');
    const s = new CacheStore(dir);
    expect(fs.readdirSync(s.locksDir)).toEqual([]);
  });

  t('4 processes finding the same corrupt entry: one removes and rebuilds it, the others load the rebuilt one', async () => {
    const dir = freshDir();
    const m = write('corrupt-multi.onnx', model([14, 14, 14, 14]));
    const log = path.join(tmp, `builds-${n}.log`);
    const first = await child({ dir, model: m, log, plan: 'plan-double v1' }).done;
    expect(first.result).toMatchObject({ outcome: 'built' });
    fs.truncateSync(new CacheStore(dir).planPath(first.result!.key), 3);
    const outs = await Promise.all(Array.from({ length: 4 }, () => child({ dir, model: m, log, buildMs: 1000, plan: 'plan-double v2' }).done));
    expect(fs.readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(2); // the first build + ONE rebuild
    expect(outs.map((o) => o.result!.engine)).toEqual(Array(4).fill('plan-double v2'));
    expect(outs.map((o) => o.result!.outcome).sort()).toEqual(['hit', 'hit', 'hit', 'rebuilt']);
    const rebuilder = outs.find((o) => o.result!.outcome === 'rebuilt')!;
    expect(rebuilder.events.find((e) => e.event === 'rebuild')!.reason).toMatch(/truncated/);
  });

  t('a lock holder killed mid-build (SIGKILL) does not block the others: its lock is recovered and the engine built', async () => {
    const dir = freshDir();
    const m = write('killed.onnx', model([13, 13, 13, 13]));
    const log = path.join(tmp, `builds-${n}.log`);
    const marker = path.join(tmp, `building-${n}`);
    // lockStaleMs of 10 minutes: only the dead-pid check can recover the lock within this test
    const a = child({ dir, model: m, log, marker, hang: true, plan: 'never', lockStaleMs: 600_000 });
    await waitFor(marker);
    const b = child({ dir, model: m, log, buildMs: 0, plan: 'plan-double from B', lockStaleMs: 600_000 });
    await b.printed(/"event":"wait"/); // B is waiting for A
    a.proc.kill('SIGKILL');
    const outB = await b.done;
    expect((await a.done).code).toBeNull(); // killed
    expect(outB.code).toBe(0);
    expect(outB.result).toMatchObject({ engine: 'plan-double from B', outcome: 'built' });
    const ev = outB.events.map((e) => e.event);
    expect(ev).toEqual(['wait', 'lock-recovered', 'miss', 'stored']);
    expect(outB.events[1].reason).toMatch(new RegExp(`pid ${a.proc.pid} on .* is gone`));
    expect(fs.readFileSync(log, 'utf8').trim().split('\n').map(Number)).toEqual([a.proc.pid, b.proc.pid]);
    // the killed builder left a timing-cache temp file: prune removes it (its pid is gone)
    const s = new CacheStore(dir);
    const r = await s.prune();
    expect(r.removed.every((x) => /process that is gone|stale/.test(x.reason))).toBe(true);
    expect(fs.readdirSync(s.timingDir).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
  });

  t('atomic writes: a writer killed at random moments leaves the file absent or complete, never partial', async () => {
    const size = 16 << 20;
    for (let i = 0; i < 4; i++) {
      const target = path.join(tmp, `atomic-${i}.bin`);
      const proc = spawn(process.execPath, [WRITER, target, String(size)], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(proc);
      await new Promise<void>((r) => proc.stdout!.once('data', () => r()));
      await new Promise((r) => setTimeout(r, 50 + Math.floor(Math.random() * 400)));
      proc.kill('SIGKILL');
      await new Promise((r) => proc.on('close', r));
      if (fs.existsSync(target)) {
        const b = fs.readFileSync(target);
        expect(b.length).toBe(size);
        expect(b.every((x) => x === b[0])).toBe(true);
      }
      // temp files of the killed writer may remain (they are never read as the target)
      for (const f of fs.readdirSync(tmp).filter((x) => x.startsWith('.tmp-'))) fs.rmSync(path.join(tmp, f));
    }
  });
});

// ------------------------------------------------------------------------------------------------------------
describe('ls and prune', () => {
  async function filled() {
    const dir = freshDir();
    const c = doubleCache(dir, { plan: (i) => 'p'.repeat(1000 * i) });
    const r = [];
    for (let i = 1; i <= 4; i++) r.push(await c.load(model([i, 0, 0, 0])));
    const s = new CacheStore(dir);
    // last use: entry 1 ten days ago, 2 five days ago, 3 one hour ago, 4 now
    const ages = [10 * 86_400_000, 5 * 86_400_000, 3600_000, 0];
    r.forEach((x, i) => {
      const t = new Date(Date.now() - ages[i]);
      fs.utimesSync(s.manifestPath(x.key!), t, t);
    });
    return { dir, s, keys: r.map((x) => x.key!) };
  }

  test('ls lists entries with model, TensorRT, GPU, size, and flags corrupt ones', async () => {
    const { s, keys } = await filled();
    fs.truncateSync(s.planPath(keys[1]), 10);
    const l = await s.list();
    expect(l).toHaveLength(4);
    const byKey = Object.fromEntries(l.map((e) => [e.key, e]));
    expect(byKey[keys[0]]).toMatchObject({ status: 'ok', modelName: null, planBytes: 1000, tensorrt: '0.0.0-test-double', gpu: 'test double (not a GPU) (compute 0.0)' });
    expect(byKey[keys[1]]).toMatchObject({ status: 'corrupt', problem: expect.stringMatching(/truncated/) });
  });

  test('prune --older-than removes entries unused that long; --max-size then the least recently used', async () => {
    const { s, keys } = await filled();
    const r1 = await s.prune({ olderThanMs: 7 * 86_400_000 });
    expect(r1.removed.map((x) => x.key)).toEqual([keys[0]]);
    expect(r1.removed[0].reason).toMatch(/not used for 10\.0 days/);
    const size = Object.fromEntries((await s.list()).map((e) => [e.key, e.bytes]));
    const r2 = await s.prune({ maxSizeBytes: size[keys[2]] + size[keys[3]] + 10, dryRun: true });
    expect(r2.removed.map((x) => x.key)).toEqual([keys[1]]);
    expect(await s.list()).toHaveLength(3); // dry run
    const r3 = await s.prune({ maxSizeBytes: 0 });
    expect(r3.removed.map((x) => x.key)).toEqual([keys[1], keys[2], keys[3]]);
    expect(fs.readdirSync(s.enginesDir)).toEqual([]);
  });

  test('prune leaves an entry whose lock a live process holds', async () => {
    const { s, keys } = await filled();
    const held = await FileLock.tryAcquire(s.lockPath(keys[0]));
    try {
      const r = await s.prune({ olderThanMs: 86_400_000 });
      expect(r.removed.map((x) => x.key)).toEqual([keys[1]]);
      expect(r.skipped).toEqual([{ key: keys[0], reason: expect.stringMatching(/in use: locked by pid/) }]);
    } finally {
      await held.lock!.release();
    }
  });
});
