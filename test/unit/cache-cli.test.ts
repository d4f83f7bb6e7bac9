/**
 * `tensorrt-node cache ls|prune` and `--cache-dir` of build/run/bench, run in-process through runCli. Entries are
 * made by the engine cache with TEST DOUBLES of its build/deserialize callbacks and of the TensorRT/GPU description
 * (no TensorRT here): ls and prune only read the cache's files. Commands that build need TensorRT: where it is
 * missing they are checked for their one-line error; where it exists test/trt/engine-cache.test.js covers them.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli } from '../../lib/cli/program';
import { formatCacheEvent, parseAge } from '../../lib/cli/cache';
import { EngineCache, type CacheTarget } from '../../lib/engine-cache';
import { runtimeInfo } from '../../lib/info';

const CLS = path.join(__dirname, '..', '..', 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const TARGET: CacheTarget = {
  tensorrt: '0.0.0-test-double',
  cudaRuntime: null,
  gpu: { name: 'test double (not a GPU)', computeCapability: '0.0', totalMemory: 1, multiProcessorCount: 1 },
  platform: `${process.platform}-${process.arch}`,
};

async function cli(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { out: (s) => (stdout += s), err: (s) => (stderr += s), isTTY: false });
  return { code, stdout, stderr };
}
function expectUserError(r: { code: number; stdout: string; stderr: string }, command: string, re: RegExp) {
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0].startsWith(`tensorrt-node ${command}: `)).toBe(true);
  expect(lines[0]).toMatch(re);
}

let tmp: string;
let saved: string | undefined;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trt-cache-cli-'));
  saved = process.env.TENSORRT_NODE_CACHE_DIR;
  delete process.env.TENSORRT_NODE_CACHE_DIR;
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  if (saved !== undefined) process.env.TENSORRT_NODE_CACHE_DIR = saved;
});

/** A cache with 3 entries from the PP-OCR classifier under 3 option sets; build/deserialize are test doubles. */
async function filled(dir: string) {
  const cache = new EngineCache<string>({ dir, target: () => TARGET, build: async (_m, o) => Buffer.from(`plan-double ${JSON.stringify(o.profiles ?? [])}`.padEnd(4096)), deserialize: async (p) => p.toString() });
  const keys: string[] = [];
  for (const max of [8, 16, 32]) {
    keys.push((await cache.load(CLS, { profiles: [{ x: { min: [1, 3, 48, 192], opt: [4, 3, 48, 192], max: [max, 3, 48, 192] } }] })).key!);
  }
  const days = [40, 3, 0];
  keys.forEach((k, i) => {
    const t = new Date(Date.now() - days[i] * 86_400_000);
    fs.utimesSync(path.join(dir, 'engines', `${k}.json`), t, t);
  });
  return keys;
}

test('parseAge and the event lines', () => {
  expect(parseAge('30d')).toBe(30 * 86_400_000);
  expect(parseAge('12h')).toBe(12 * 3600_000);
  expect(parseAge('90m')).toBe(90 * 60_000);
  expect(parseAge('2w')).toBe(14 * 86_400_000);
  expect(() => parseAge('7x')).toThrow(/not an age/);
  const key = 'a'.repeat(64);
  expect(formatCacheEvent({ type: 'hit', model: 'm.onnx', key, path: '/c/engines/x.engine', createdAt: '2026-01-01T00:00:00Z' })).toBe(
    'cache hit: m.onnx [key aaaaaaaaaaaa]: loading /c/engines/x.engine (built 2026-01-01T00:00:00Z)');
  expect(formatCacheEvent({ type: 'miss', model: 'm.onnx', key, reason: 'no entry' })).toBe('cache miss: m.onnx [key aaaaaaaaaaaa]: no entry: building');
  expect(formatCacheEvent({ type: 'rebuild', model: 'm.onnx', key, reason: 'corrupt entry: plan checksum (SHA-256) does not match its manifest' })).toMatch(/^cache rebuild: m\.onnx .*checksum/);
  expect(formatCacheEvent({ type: 'wait', model: 'm.onnx', key, reason: 'another process (pid 7 on h) is building it' })).toMatch(/waiting: another process \(pid 7/);
  expect(formatCacheEvent({ type: 'stored', model: 'm.onnx', key, path: '/p', bytes: 2048, buildMs: 1500 })).toBe('cache: stored /p (2.00 KiB, built in 1.50 s)');
});

test('cache ls: the entries, as a table and as JSON; an empty or missing cache', async () => {
  const dir = path.join(tmp, 'ls');
  const empty = await cli('cache', 'ls', '--cache-dir', dir);
  expect(empty).toEqual({ code: 0, stdout: `${path.resolve(dir)}: no cached engines\n`, stderr: '' });
  const keys = await filled(dir);
  const r = await cli('cache', 'ls', '--cache-dir', dir);
  expect(r.code).toBe(0);
  expect(r.stderr).toBe('');
  const lines = r.stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^KEY\s+MODEL\s+TENSORRT\s+GPU\s+SIZE\s+LAST USED\s+STATUS$/);
  expect(lines).toHaveLength(5);
  for (const k of keys) expect(r.stdout).toMatch(new RegExp(`^${k.slice(0, 12)}\\s+ch_ppocr_mobile_v2\\.0_cls_infer\\.onnx\\s+0\\.0\\.0-test-double\\s+test double \\(not a GPU\\) \\(compute 0\\.0\\)\\s+.*ok$`, 'm'));
  expect(r.stdout).toMatch(/40\.0 days ago/);
  expect(lines[4]).toMatch(/^3 entries, .* in /);
  const j = JSON.parse((await cli('cache', 'ls', '--cache-dir', dir, '--json')).stdout);
  expect(j.entries.map((e: { key: string }) => e.key).sort()).toEqual([...keys].sort());
  expect(j.entries[0]).toMatchObject({ status: 'ok', tensorrt: '0.0.0-test-double', modelName: 'ch_ppocr_mobile_v2.0_cls_infer.onnx' });
  // --verify checks the checksums: a plan altered in place (same size) shows as corrupt only then
  const plan = path.join(dir, 'engines', `${keys[1]}.engine`);
  const b = fs.readFileSync(plan);
  b[100] ^= 0xff;
  fs.writeFileSync(plan, b);
  expect((await cli('cache', 'ls', '--cache-dir', dir)).stdout).not.toMatch(/corrupt/);
  expect((await cli('cache', 'ls', '--cache-dir', dir, '--verify')).stdout).toMatch(new RegExp(`^${keys[1].slice(0, 12)}.*corrupt: plan checksum \\(SHA-256\\) does not match its manifest$`, 'm'));
  b[100] ^= 0xff;
  fs.writeFileSync(plan, b);
  // TENSORRT_NODE_CACHE_DIR is the default
  process.env.TENSORRT_NODE_CACHE_DIR = dir;
  try {
    expect((await cli('cache', 'ls')).stdout).toBe(r.stdout);
  } finally {
    delete process.env.TENSORRT_NODE_CACHE_DIR;
  }
});

test('cache prune --older-than, --max-size, --dry-run, --json', async () => {
  const dir = path.join(tmp, 'prune');
  const keys = await filled(dir);
  const dry = await cli('cache', 'prune', '--cache-dir', dir, '--older-than', '30d', '--dry-run');
  expect(dry.code).toBe(0);
  expect(dry.stdout).toMatch(new RegExp(`^would remove ${keys[0].slice(0, 12)} ch_ppocr.*not used for 40\\.0 days`, 'm'));
  expect(fs.existsSync(path.join(dir, 'engines', `${keys[0]}.engine`))).toBe(true);
  const r = await cli('cache', 'prune', '--cache-dir', dir, '--older-than', '30d');
  expect(r.stdout).toMatch(/^removed /m);
  expect(r.stdout).toMatch(/2 entries .* kept/);
  expect(fs.existsSync(path.join(dir, 'engines', `${keys[0]}.engine`))).toBe(false);
  // --max-size 8K keeps only the most recently used entry (each is ~4 KiB of plan + its manifest)
  const j = JSON.parse((await cli('cache', 'prune', '--cache-dir', dir, '--max-size', '8K', '--json')).stdout);
  expect(j.removed.map((x: { key: string }) => x.key)).toEqual([keys[1]]);
  expect(j.keptEntries).toBe(1);
});

test('cache: user errors are one line', async () => {
  expectUserError(await cli('cache', 'ls'), 'cache', /--cache-dir DIR \(or set TENSORRT_NODE_CACHE_DIR\)/);
  expectUserError(await cli('cache', 'prune', '--cache-dir', tmp, '--older-than', '3 weeks'), 'cache', /not an age like 30d/);
  expectUserError(await cli('cache', 'prune', '--cache-dir', tmp, '--max-size', 'big'), 'cache', /not a size/);
});

test('run/bench of an ONNX model without a cache directory say how to get an engine', async () => {
  expectUserError(await cli('run', CLS), 'run', /is an ONNX model, not a TensorRT engine: build one first .* or give --cache-dir DIR/);
  expectUserError(await cli('bench', CLS), 'bench', /is an ONNX model, not a TensorRT engine/);
  expectUserError(await cli('build', CLS), 'build', /missing the output file: -o <model\.engine> \(or --cache-dir DIR\)/);
});

const trtMissing = !runtimeInfo().tensorrt.available;
(trtMissing ? test : test.skip)('build/run/bench --cache-dir of an ONNX model need TensorRT: one line saying so (TensorRT missing here)', async () => {
  const dir = path.join(tmp, 'notrt');
  for (const cmd of ['run', 'bench']) {
    expectUserError(await cli(cmd, CLS, '--cache-dir', dir, '--shapes', 'x:1x3x48x192'), cmd, /needs TensorRT.*\[TENSORRT_UNAVAILABLE\]/);
  }
  expectUserError(await cli('build', CLS, '--cache-dir', dir, '--shapes', 'x:1x3x48x192'), 'build', /needs TensorRT.*\[TENSORRT_UNAVAILABLE\]/);
  // shapes are checked against the model before TensorRT is needed
  expectUserError(await cli('run', CLS, '--cache-dir', dir), 'run', /dynamic dimensions: give --shapes/);
});
