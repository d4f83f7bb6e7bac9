'use strict';
/**
 * End-to-end test of the RUN side with a real TensorRT (node:test): `node --test test/trt/` after `npm run build`
 * (uses dist/). Builds a small ONNX model in memory (MatMul + Add + Relu, dynamic batch), builds an engine with the
 * builder API, serializes / deserializes it, runs it and compares with a JS reference and with onnxruntime-node
 * (CPU) when installed. Every test skips with a printed reason where TensorRT or a CUDA GPU is missing.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const lib = require('../../dist/index.js');
const { Engine, Runtime, TensorRTError, Stream, DeviceBuffer } = lib;

const h = require('./helpers');
const skip = h.skipReason(__filename, { builderApi: true });

let ort = null;
try {
  ort = require('onnxruntime-node');
} catch {
  console.log('# onnxruntime-node is not installed: comparing with the JS reference only');
}

// ---------------------------------------------------------------------------------------------------------------
// The model: y = relu(x @ W + b), x: [batch, K] float32 (batch dynamic), W: [K, N], b: [N].

const K = 8;
const N = 16;

function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function randomArray(n, seed) {
  const r = lcg(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = 2 * r();
  return a;
}

const W = randomArray(K * N, 1);
const B = randomArray(N, 2);

const { model: makeModel, reference } = h.mlp(K, N, W, B);

function maxAbsDiff(a, b) {
  assert.equal(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const TOL = 1e-3;

const { expectCode, expectThrowCode } = h;

// Built once, shared by the tests.
let modelBytes = null;
let plan = null;
async function getPlan() {
  if (plan) return plan;
  modelBytes = makeModel();
  const builder = new lib.Builder();
  const network = builder.createNetwork();
  const parser = new lib.OnnxParser(network);
  await parser.parse(modelBytes);
  const config = builder.createConfig();
  config.setMemoryPoolLimit('workspace', 256 * 1024 * 1024);
  try {
    config.clearFlag('tf32'); // plain FP32 math, to compare closely with the CPU
  } catch {
    // TensorRT version without the flag: TF32 stays within TOL for this model anyway
  }
  config.addOptimizationProfile({ x: { min: [1, K], opt: [4, K], max: [32, K] } });
  plan = await builder.buildSerializedNetwork(network, config);
  config.dispose();
  parser.dispose();
  network.dispose();
  builder.dispose();
  assert.ok(Buffer.isBuffer(plan) && plan.length > 0);
  return plan;
}

test('engine metadata: I/O tensors, profiles, sizes, inspector', { skip }, async () => {
  const engine = await Engine.load(await getPlan());
  try {
    assert.equal(engine.ioTensors.length, 2);
    const [x, y] = engine.ioTensors;
    assert.deepEqual([x.name, x.mode, x.dtype, x.shape], ['x', 'input', 'float32', [-1, K]]);
    assert.deepEqual([y.name, y.mode, y.dtype, y.shape], ['y', 'output', 'float32', [-1, N]]);
    assert.equal(x.tensorFormat, 'linear');
    assert.equal(x.location, 'device');
    assert.equal(x.isShapeInferenceIO, false);
    assert.match(x.format, /\S/);
    assert.deepEqual(x.profiles, [{ min: [1, K], opt: [4, K], max: [32, K] }]);
    assert.equal(y.profiles, undefined);
    assert.deepEqual(engine.inputs.map((t) => t.name), ['x']);
    assert.deepEqual(engine.outputs.map((t) => t.name), ['y']);
    assert.equal(engine.numOptimizationProfiles, 1);
    assert.ok(engine.numLayers >= 1);
    assert.ok(engine.deviceMemorySize >= 0);
    assert.equal(engine.serializedSize, plan.length);
    const info = JSON.parse(engine.inspect());
    assert.ok(info && typeof info === 'object');
    assert.equal(typeof engine.inspect({ format: 'text' }), 'string');
    assert.equal(typeof engine.inspectLayer(0), 'string');
    expectThrowCode(() => engine.inspectLayer(engine.numLayers), 'INVALID_ARGUMENT');
    expectThrowCode(() => engine.tensor('nope'), 'INVALID_ARGUMENT');
  } finally {
    engine.dispose();
  }
});

test('infer matches the JS reference and onnxruntime for dynamic batches', { skip }, async () => {
  const runtime = new Runtime();
  const engine = await runtime.deserialize(await getPlan());
  const ctx = engine.createExecutionContext();
  const session = ort ? await ort.InferenceSession.create(modelBytes) : null;
  try {
    for (const batch of [1, 3, 4, 32, 2]) {
      const x = randomArray(batch * K, 100 + batch);
      const r = await ctx.inferWithShapes({ x: { data: x, shape: [batch, K] } });
      assert.deepEqual(Object.keys(r), ['y']);
      assert.ok(r.y.data instanceof Float32Array);
      assert.deepEqual(r.y.shape, [batch, N]);
      assert.deepEqual(ctx.getTensorShape('y'), [batch, N]);
      const errRef = maxAbsDiff(r.y.data, reference(x, batch));
      assert.ok(errRef < TOL, `batch ${batch}: max abs error vs JS reference ${errRef}`);
      if (session) {
        const o = await session.run({ x: new ort.Tensor('float32', x, [batch, K]) });
        const errOrt = maxAbsDiff(r.y.data, o.y.data);
        assert.ok(errOrt < TOL, `batch ${batch}: max abs error vs onnxruntime ${errOrt}`);
      }
    }
    // plain typed array: the single dynamic dimension follows from the length
    const x = randomArray(5 * K, 7);
    const { y } = await ctx.infer({ x });
    assert.ok(maxAbsDiff(y, reference(x, 5)) < TOL);
    assert.ok(ctx.allocatedBytes > 0);
  } finally {
    ctx.dispose();
    engine.dispose();
    runtime.dispose();
  }
});

test('serialize() round-trips through a file', { skip }, async () => {
  const engine = await Engine.load(await getPlan());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtn-engine-'));
  try {
    const bytes = engine.serialize();
    assert.ok(Buffer.isBuffer(bytes) && bytes.length > 0);
    const file = path.join(dir, 'mlp.engine');
    fs.writeFileSync(file, bytes);
    const again = await Engine.load(file);
    const x = randomArray(4 * K, 11);
    const a = await engine.createExecutionContext().infer({ x });
    const b = await again.createExecutionContext().infer({ x });
    assert.deepEqual(Array.from(a.y), Array.from(b.y));
    again.dispose();
  } finally {
    engine.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('concurrent infer() calls on one context are serialized; several contexts run in parallel', { skip }, async () => {
  const engine = await Engine.load(await getPlan());
  try {
    const ctx = engine.createExecutionContext();
    const xs = Array.from({ length: 8 }, (_, i) => randomArray((1 + (i % 4)) * K, 200 + i));
    const outs = await Promise.all(xs.map((x) => ctx.infer({ x })));
    outs.forEach((o, i) => assert.ok(maxAbsDiff(o.y, reference(xs[i], xs[i].length / K)) < TOL, `request ${i}`));
    const ctxs = [engine.createExecutionContext(), engine.createExecutionContext(), engine.createExecutionContext()];
    const outs2 = await Promise.all(xs.map((x, i) => ctxs[i % 3].infer({ x })));
    outs2.forEach((o, i) => assert.ok(maxAbsDiff(o.y, reference(xs[i], xs[i].length / K)) < TOL, `context ${i % 3}`));
    for (const c of [ctx, ...ctxs]) c.dispose();
  } finally {
    engine.dispose();
  }
});

test('CUDA graph replay gives the same results as a plain infer', { skip }, async () => {
  const engine = await Engine.load(await getPlan());
  const plain = engine.createExecutionContext();
  const graphed = engine.createExecutionContext();
  const stream = new Stream({ nonBlocking: true });
  try {
    for (let i = 0; i < 4; i++) {
      const x = randomArray(4 * K, 300 + i); // static shape: captured on i = 0, replayed afterwards
      const a = await plain.infer({ x });
      const b = await graphed.infer({ x }, { cudaGraph: true });
      assert.deepEqual(Array.from(b.y), Array.from(a.y), `call ${i}`);
    }
    // a new shape is captured again
    const x6 = randomArray(6 * K, 400);
    assert.deepEqual(Array.from((await graphed.infer({ x: x6 }, { cudaGraph: true, stream })).y), Array.from((await plain.infer({ x: x6 })).y));

    // the TensorRT way: own buffers, captureGraph(), replay()
    const manual = engine.createExecutionContext();
    const dx = new DeviceBuffer(4 * K * 4);
    const dy = new DeviceBuffer(4 * N * 4);
    manual.setInputShape('x', [4, K]);
    manual.setTensorAddress('x', dx);
    manual.setTensorAddress('y', dy);
    const x1 = randomArray(4 * K, 500);
    await dx.copyFrom(x1, { stream });
    manual.captureGraph(stream);
    assert.equal(manual.hasGraph, true);
    const x2 = randomArray(4 * K, 501);
    await dx.copyFrom(x2, { stream });
    manual.replay(stream);
    const y2 = new Float32Array(4 * N);
    await dy.copyTo(y2, { stream });
    assert.deepEqual(Array.from(y2), Array.from((await plain.infer({ x: x2 })).y));
    // plain enqueue on the same addresses
    await dx.copyFrom(x1, { stream });
    manual.enqueue(stream);
    const y1 = new Float32Array(4 * N);
    await dy.copyTo(y1, { stream });
    assert.deepEqual(Array.from(y1), Array.from((await plain.infer({ x: x1 })).y));
    expectThrowCode(() => manual.setTensorAddress('y', new DeviceBuffer(4)), 'INVALID_ARGUMENT');
    manual.releaseGraph();
    expectThrowCode(() => manual.replay(stream), 'INVALID_ARGUMENT');
    manual.dispose();
    dx.dispose();
    dy.dispose();
  } finally {
    plain.dispose();
    graphed.dispose();
    stream.dispose();
    engine.dispose();
  }
});

test('corrupt, truncated and empty engine data reject DESERIALIZE_ERROR; missing files IO_ERROR', { skip }, async () => {
  const good = await getPlan();
  const flipped = Buffer.from(good);
  for (let i = Math.floor(flipped.length / 4); i < flipped.length; i += 97) flipped[i] ^= 0xa5;
  const cases = [
    ['garbage', Buffer.from('definitely not a TensorRT engine'.repeat(64))],
    ['truncated to half', good.subarray(0, Math.floor(good.length / 2))],
    ['first 16 bytes', good.subarray(0, 16)],
    ['empty', new Uint8Array(0)],
    ['bytes flipped', flipped],
  ];
  const runtime = new Runtime();
  try {
    for (const [what, bytes] of cases) {
      let result;
      try {
        result = await runtime.deserialize(bytes);
      } catch (e) {
        result = e;
      }
      if (result instanceof Error) {
        assert.ok(result instanceof TensorRTError, `${what}: ${result}`);
        assert.equal(result.code, 'DESERIALIZE_ERROR', `${what}: ${result.code} ${result.message}`);
        assert.ok(result.message.length > 20, `${what}: the message says why: ${result.message}`);
      } else {
        // Flipped payload bytes can only go unnoticed where the plan carries no checksum over them; the engine then
        // loads without crashing. Every other case must be refused.
        assert.equal(what, 'bytes flipped', `${what} was accepted as an engine`);
        result.dispose();
      }
    }
    await expectCode(runtime.deserialize(path.join(os.tmpdir(), 'no-such-dir-trtn', 'x.engine')), 'IO_ERROR');
    // the runtime still works afterwards
    const engine = await runtime.deserialize(good);
    engine.dispose();
  } finally {
    runtime.dispose();
  }
});

test('wrong dtype, shape or tensor name: INVALID_ARGUMENT; use after dispose: DISPOSED', { skip }, async () => {
  const runtime = new Runtime();
  const engine = await runtime.deserialize(await getPlan());
  const ctx = engine.createExecutionContext();
  await expectCode(ctx.infer({ x: new Float64Array(4 * K) }), 'INVALID_ARGUMENT');
  await expectCode(ctx.infer({ x: new Int32Array(4 * K) }), 'INVALID_ARGUMENT');
  await expectCode(ctx.infer({ x: { data: new Float32Array(33 * K), shape: [33, K] } }), 'INVALID_ARGUMENT'); // > profile max
  await expectCode(ctx.infer({ x: { data: new Float32Array(4 * K), shape: [4, K + 1] } }), 'INVALID_ARGUMENT');
  await expectCode(ctx.infer({ x: { data: new Float32Array(4 * K), shape: [3, K] } }), 'INVALID_ARGUMENT');
  await expectCode(ctx.infer({ x: new Float32Array(4 * K), z: new Float32Array(1) }), 'INVALID_ARGUMENT');
  await expectCode(ctx.infer({}), 'INVALID_ARGUMENT');
  await expectCode(ctx.infer({ y: new Float32Array(N) }), 'INVALID_ARGUMENT');
  expectThrowCode(() => ctx.setInputShape('x', [0, K]), 'INVALID_ARGUMENT');
  expectThrowCode(() => ctx.setInputShape('y', [1, N]), 'INVALID_ARGUMENT');
  expectThrowCode(() => ctx.setInputShape('nope', [1, K]), 'INVALID_ARGUMENT');
  expectThrowCode(() => ctx.setOptimizationProfile(1), 'INVALID_ARGUMENT');
  expectThrowCode(() => ctx.getTensorShape('nope'), 'INVALID_ARGUMENT');
  // still usable after all that
  const x = randomArray(2 * K, 9);
  assert.ok(maxAbsDiff((await ctx.infer({ x })).y, reference(x, 2)) < TOL);

  // a context keeps its engine alive: disposing the engine and runtime does not stop it
  engine.dispose();
  runtime.dispose();
  assert.ok(maxAbsDiff((await ctx.infer({ x })).y, reference(x, 2)) < TOL);
  assert.throws(() => engine.ioTensors, (e) => e.code === 'DISPOSED');
  expectThrowCode(() => engine.createExecutionContext(), 'DISPOSED');
  expectThrowCode(() => engine.serialize(), 'DISPOSED');
  await expectCode(runtime.deserialize(plan), 'DISPOSED');

  // dispose while an infer() is in flight: that one completes, later ones reject DISPOSED
  const inflight = ctx.infer({ x });
  const queued = ctx.infer({ x });
  ctx.dispose();
  await inflight.then(
    (r) => assert.ok(maxAbsDiff(r.y, reference(x, 2)) < TOL),
    (e) => assert.equal(e.code, 'DISPOSED'),
  );
  await expectCode(queued, 'DISPOSED');
  await expectCode(ctx.infer({ x }), 'DISPOSED');
  expectThrowCode(() => ctx.setInputShape('x', [1, K]), 'DISPOSED');
  expectThrowCode(() => ctx.enqueue(new Stream()), 'DISPOSED');
  ctx.dispose(); // idempotent
});
