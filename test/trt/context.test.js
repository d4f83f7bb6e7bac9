'use strict';
/**
 * Execution-context rules of issue 9 with a real TensorRT (node:test, uses dist/): a DeviceBuffer bound with
 * setTensorAddress and disposed is refused before enqueue / captureGraph / replay (#5); cached CUDA graphs are
 * dropped on every profile switch, A -> B -> A included (#8); infer() keeps the libuv pool free (#7, #9: its GPU
 * work is queued off the libuv pool); enqueueAsync() resolves once enqueueV3 is queued (#9; since issue 23 #9 both
 * queue their GPU work before returning: test/gpu/stream-order.test.js). Every test skips with a printed reason where TensorRT or a CUDA GPU
 * is missing (so far they have only been compiled and skipped: no TensorRT library existed on any machine of
 * this project).
 */
const test = require('node:test');
const assert = require('node:assert/strict');

const lib = require('../../dist/index.js');
const { Engine, TensorRTError, Stream, DeviceBuffer } = lib;

const h = require('./helpers');
const skip = h.skipReason(__filename, { builderApi: true });

// y = relu(x @ W + b), x: [batch, K] (batch dynamic); two optimization profiles (batch 1..8 and 9..64).
const K = 8;
const N = 16;
const W = Float32Array.from({ length: K * N }, (_, i) => ((i * 37) % 17) / 17 - 0.5);
const B = Float32Array.from({ length: N }, (_, i) => ((i * 11) % 7) / 7 - 0.5);

const { model: makeModel, reference } = h.mlp(K, N, W, B);

function close(a, b, what) {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-3, `${what}: element ${i}: ${a[i]} vs ${b[i]}`);
}

let plan = null;
async function getEngine() {
  if (!plan) {
    const builder = new lib.Builder();
    const network = builder.createNetwork();
    const parser = new lib.OnnxParser(network);
    await parser.parse(makeModel());
    const config = builder.createConfig();
    config.addOptimizationProfile({ x: { min: [1, K], opt: [4, K], max: [8, K] } });
    config.addOptimizationProfile({ x: { min: [9, K], opt: [16, K], max: [64, K] } });
    plan = await builder.buildSerializedNetwork(network, config);
    config.dispose();
    parser.dispose();
    network.dispose();
    builder.dispose();
  }
  return Engine.load(plan);
}

const input = (batch, seed) => Float32Array.from({ length: batch * K }, (_, i) => (((i + seed) * 29) % 13) / 13 - 0.5);

test('a disposed DeviceBuffer still bound to a context is refused before enqueue, captureGraph and replay (#5)', { skip }, async () => {
  const engine = await getEngine();
  const ctx = engine.createExecutionContext();
  const stream = new Stream({ nonBlocking: true });
  const dx = new DeviceBuffer(4 * K * 4);
  const dy = new DeviceBuffer(4 * N * 4);
  try {
    ctx.setInputShape('x', [4, K]);
    ctx.setTensorAddress('x', dx);
    ctx.setTensorAddress('y', dy);
    await dx.copyFrom(input(4, 1), { stream });
    ctx.captureGraph(stream);
    dy.dispose();
    for (const call of [() => ctx.enqueue(stream), () => ctx.replay(stream), () => ctx.captureGraph(stream)]) {
      assert.throws(call, (e) => e instanceof TensorRTError && e.code === 'DISPOSED' && /tensor 'y'/.test(e.message));
    }
    await assert.rejects(ctx.enqueueAsync(stream), (e) => e instanceof TensorRTError && e.code === 'DISPOSED');
    // binding another buffer makes the context usable again
    const dy2 = new DeviceBuffer(4 * N * 4);
    ctx.setTensorAddress('y', dy2);
    ctx.enqueue(stream);
    const y = new Float32Array(4 * N);
    await dy2.copyTo(y, { stream });
    close(y, reference(input(4, 1), 4), 'after rebinding');
    // enqueueAsync: enqueueV3 on a work thread, resolved once queued
    await dx.copyFrom(input(4, 7), { stream });
    await ctx.enqueueAsync(stream);
    await dy2.copyTo(y, { stream });
    close(y, reference(input(4, 7), 4), 'enqueueAsync');
    dy2.dispose();
  } finally {
    ctx.dispose();
    dx.dispose();
    stream.dispose();
    engine.dispose();
  }
});

test('CUDA graphs are dropped on every profile switch: A -> B -> A gives fresh results (#8)', { skip }, async () => {
  const engine = await getEngine();
  const ctx = engine.createExecutionContext();
  const stream = new Stream({ nonBlocking: true });
  try {
    for (const [profile, batch, seed] of [[0, 4, 1], [1, 16, 2], [0, 4, 3], [0, 4, 4], [1, 16, 5], [0, 4, 6]]) {
      if (ctx.optimizationProfile !== profile) ctx.setOptimizationProfile(profile, stream);
      const x = input(batch, seed);
      const { y } = await ctx.infer({ x }, { cudaGraph: true, stream });
      close(y, reference(x, batch), `profile ${profile}, batch ${batch}, seed ${seed}`);
    }
  } finally {
    ctx.dispose();
    stream.dispose();
    engine.dispose();
  }
});

test('infer() on 8 contexts keeps the libuv pool free (UV_THREADPOOL_SIZE=4): fs works meanwhile (#7, #9)', { skip }, async () => {
  const fs = require('node:fs');
  const engine = await getEngine();
  const ctxs = Array.from({ length: 8 }, () => engine.createExecutionContext());
  try {
    let running = true;
    const loops = ctxs.map(async (ctx, i) => {
      let n = 0;
      while (running) {
        const x = input(8, i + n);
        close((await ctx.infer({ x })).y, reference(x, 8), `context ${i}`);
        n++;
      }
      return n;
    });
    const lat = [];
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      await fs.promises.readFile(__filename);
      lat.push(performance.now() - t0);
    }
    running = false;
    const counts = await Promise.all(loops);
    lat.sort((a, b) => a - b);
    console.log(`# readFile p99 ${lat[Math.floor(lat.length * 0.99)].toFixed(2)} ms with 8 contexts inferring (${counts.join(', ')} calls)`);
    assert.ok(counts.every((c) => c > 0));
  } finally {
    for (const c of ctxs) c.dispose();
    engine.dispose();
  }
});
