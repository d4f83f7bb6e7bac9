'use strict';
/**
 * GPU tests of the second native review's #12 (issue 23; node:test, uses dist/): features that could not work as
 * exposed. Weight streaming through Engine.setWeightStreamingBudget (setWeightStreamingBudgetV2, TensorRT 10.1+);
 * an output with a data-dependent shape (no IOutputAllocator) refused by infer() and enqueue() with UNSUPPORTED
 * naming it. They need TensorRT and a CUDA GPU and skip with a printed reason otherwise; they have been written,
 * NOT yet run (no TensorRT library on the development machines).
 */
const test = require('node:test');
const assert = require('node:assert/strict');

const lib = require('../../dist/index.js');
const { Engine, Stream, DeviceBuffer, TensorRTError } = lib;

const { skipReason, onnxHelpers } = require('../trt/helpers');

const skip = skipReason(__filename, { builderApi: true });
const compiled = skip ? [0, 0] : lib.runtimeInfo().compiledWith.tensorrt.split('.').map(Number);
const hasV2 = compiled[0] > 10 || (compiled[0] === 10 && compiled[1] >= 1);

const { vi, encode } = onnxHelpers();

/** y = Relu(x @ W), x: float32[1, K], W: [K, K] (weights TensorRT can stream). */
function matmulModel(K, W) {
  const { onnx } = require('../../dist/onnx');
  return encode({
    name: 'matmul',
    node: [
      { opType: 'MatMul', input: ['x', 'W'], output: ['xw'], name: 'matmul' },
      { opType: 'Relu', input: ['xw'], output: ['y'], name: 'relu' },
    ],
    initializer: [{ name: 'W', dims: [K, K], dataType: onnx.TensorProto.DataType.FLOAT, rawData: Buffer.from(W.buffer) }],
    input: [vi('x', [1, K])],
    output: [vi('y', [1, K])],
  });
}

async function build(model, { flags = [], stronglyTyped = false } = {}) {
  const builder = new lib.Builder();
  const network = builder.createNetwork({ stronglyTyped });
  const parser = new lib.OnnxParser(network);
  await parser.parse(model);
  const config = builder.createConfig();
  for (const f of flags) config.setFlag(f);
  const plan = await builder.buildSerializedNetwork(network, config);
  config.dispose();
  parser.dispose();
  network.dispose();
  builder.dispose();
  return Engine.load(plan);
}

const isCode = (code, re) => (e) => e instanceof TensorRTError && e.code === code && (!re || re.test(e.message));

test('#12: weight streaming: setWeightStreamingBudget (V2), refused while a context exists; results unchanged while streaming', { skip: skip || (!hasV2 && 'compiled against TensorRT < 10.1: no V2 weight-streaming API') }, async (t) => {
  const K = 512;
  const W = Float32Array.from({ length: K * K }, (_, i) => ((i * 37) % 17) / 17 - 0.5);
  const x = Float32Array.from({ length: K }, (_, i) => ((i * 29) % 13) / 13 - 0.5);
  const want = new Float32Array(K);
  for (let j = 0; j < K; j++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += x[k] * W[k * K + j];
    want[j] = Math.max(0, s);
  }
  // weight streaming needs a strongly typed network (TensorRT 10)
  const engine = await build(matmulModel(K, W), { flags: ['weightStreaming'], stronglyTyped: true });
  try {
    const streamable = engine.streamableWeightsSize;
    if (!(streamable > 0)) {
      t.skip(`TensorRT made no weights of this engine streamable (streamableWeightsSize ${streamable})`);
      return;
    }
    assert.equal(typeof engine.weightStreamingBudget, 'number');
    assert.equal(typeof engine.weightStreamingAutomaticBudget, 'number');
    assert.throws(() => engine.setWeightStreamingBudget(-1), isCode('INVALID_ARGUMENT'));
    engine.setWeightStreamingBudget(0); // stream every weight: enqueueV3 becomes synchronous
    assert.equal(engine.weightStreamingBudget, 0);
    const ctx = engine.createExecutionContext();
    assert.throws(() => engine.setWeightStreamingBudget(streamable), isCode('INVALID_ARGUMENT', /execution contexts/));
    const stream = new Stream({ nonBlocking: true });
    try {
      for (let i = 0; i < 3; i++) {
        const { y } = await ctx.infer({ x }, { stream });
        for (let j = 0; j < K; j++) assert.ok(Math.abs(y[j] - want[j]) <= 1e-2, `streaming, run ${i}, element ${j}: ${y[j]} vs ${want[j]}`);
      }
    } finally {
      ctx.dispose();
      stream.dispose();
    }
    await new Promise((r) => setTimeout(r, 50)); // a released context frees on a work thread
    engine.setWeightStreamingBudget(streamable); // no streaming
    assert.equal(engine.weightStreamingBudget, streamable);
    const ctx2 = engine.createExecutionContext();
    try {
      const { y } = await ctx2.infer({ x });
      for (let j = 0; j < K; j++) assert.ok(Math.abs(y[j] - want[j]) <= 1e-2, `not streaming, element ${j}`);
    } finally {
      ctx2.dispose();
    }
  } finally {
    engine.dispose();
  }
});

test('#12: an engine built without the weightStreaming flag: nothing streamable, a budget is refused', { skip: skip || (!hasV2 && 'compiled against TensorRT < 10.1') }, async () => {
  const K = 64;
  const W = Float32Array.from({ length: K * K }, (_, i) => (i % 7) / 7);
  const engine = await build(matmulModel(K, W));
  try {
    assert.equal(engine.streamableWeightsSize, 0);
    assert.throws(() => engine.setWeightStreamingBudget(0), isCode('INVALID_ARGUMENT', /weightStreaming/));
  } finally {
    engine.dispose();
  }
});

test('#12: an output with a data-dependent shape (NonZero) is refused by infer() and enqueue(), naming it', { skip }, async () => {
  const { onnx } = require('../../dist/onnx');
  const engine = await build(encode({
    name: 'nonzero',
    node: [{ opType: 'NonZero', input: ['x'], output: ['idx'], name: 'nonzero' }],
    input: [vi('x', [1, 8])],
    output: [vi('idx', [2, 'n'], onnx.TensorProto.DataType.INT64)],
  }));
  const ctx = engine.createExecutionContext();
  const stream = new Stream({ nonBlocking: true });
  const dx = new DeviceBuffer(8 * 4);
  const dy = new DeviceBuffer(2 * 8 * 8);
  try {
    const x = Float32Array.from([0, 1, 0, 2, 3, 0, 0, 4]);
    await assert.rejects(ctx.infer({ x }), isCode('UNSUPPORTED', /output 'idx' has a data-dependent shape/));
    ctx.setTensorAddress('x', dx);
    ctx.setTensorAddress('idx', dy);
    assert.throws(() => ctx.enqueue(stream), isCode('UNSUPPORTED', /output 'idx' has a data-dependent shape.*IOutputAllocator/));
    await assert.rejects(ctx.enqueueAsync(stream), isCode('UNSUPPORTED', /output 'idx'/));
  } finally {
    ctx.dispose();
    dx.dispose();
    dy.dispose();
    stream.dispose();
    engine.dispose();
  }
});
