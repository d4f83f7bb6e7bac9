'use strict';
/**
 * What the TensorRT suites (test/trt/*.test.js) share: why a suite skips (printed once, as `# test/trt/<file>
 * skipped: <reason>`; test/gpu's TensorRT tests use it too), the ONNX model helpers, the two small ONNX models they build engines from, and the TensorRTError assertions.
 */
const assert = require('node:assert/strict');
const path = require('node:path');

const lib = require('../../dist/index.js');

/**
 * False where TensorRT and a CUDA GPU are usable (and, with `builderApi`, dist/ has the builder classes); else the
 * reason, printed once for `file`.
 */
function skipReason(file, { builderApi = false } = {}) {
  const info = lib.runtimeInfo();
  let why = false;
  if (builderApi && (!info.compiledWith || !info.compiledWith.tensorrt)) why = 'tensorrt-node was built without TensorRT headers';
  else if (!info.tensorrt.available) why = `TensorRT is not available: ${info.tensorrt.reason ?? 'unknown reason'}`;
  else if (info.tensorrt.flavor && info.tensorrt.flavor !== 'full') {
    why = `only TensorRT's ${info.tensorrt.flavor} runtime loads (${info.tensorrt.libraryPath}): no builder (test/trt-runtime covers it)`;
  }
  else if (!info.cuda.available) why = `no usable CUDA GPU: ${info.cuda.reason ?? 'unknown reason'}`;
  else if (builderApi) {
    for (const k of ['Builder', 'OnnxParser']) if (typeof lib[k] !== 'function') why = why || `dist/ has no ${k} (builder API not built)`;
  }
  if (why) console.log(`# test/${path.basename(path.dirname(file))}/${path.basename(file)} skipped: ${why}`);
  return why;
}

function onnxHelpers() {
  const { onnx } = require('../../dist/onnx');
  const F = onnx.TensorProto.DataType.FLOAT;
  const init = (name, dims, data) => ({ name, dims, dataType: F, rawData: Buffer.from(data.buffer, data.byteOffset, data.byteLength) });
  const vi = (name, dims, elemType = F) => ({
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  });
  const encode = (graph) =>
    onnx.ModelProto.encode(onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'tensorrt-node-test',
      opsetImport: [{ domain: '', version: 13 }],
      graph,
    })).finish();
  return { init, vi, encode };
}

/** y = Relu(x) + x, x: float32[1, n] (n = 4 unless given). */
function tinyModel(n = 4) {
  const { vi, encode } = onnxHelpers();
  return encode({
    name: 'tiny',
    node: [
      { opType: 'Relu', input: ['x'], output: ['r'], name: 'relu' },
      { opType: 'Add', input: ['r', 'x'], output: ['y'], name: 'add' },
    ],
    input: [vi('x', [1, n])],
    output: [vi('y', [1, n])],
  });
}

/**
 * y = relu(x @ W + b), x: float32[batch, K] (batch dynamic), W: [K, N], b: [N]: `model()` its ONNX bytes,
 * `reference(x, batch)` the same arithmetic in JS.
 */
function mlp(K, N, W, B) {
  function model() {
    const { init, vi, encode } = onnxHelpers();
    return encode({
      name: 'mlp',
      node: [
        { opType: 'MatMul', input: ['x', 'W'], output: ['xw'], name: 'matmul' },
        { opType: 'Add', input: ['xw', 'b'], output: ['xwb'], name: 'add' },
        { opType: 'Relu', input: ['xwb'], output: ['y'], name: 'relu' },
      ],
      initializer: [init('W', [K, N], W), init('b', [N], B)],
      input: [vi('x', ['batch', K])],
      output: [vi('y', ['batch', N])],
    });
  }
  function reference(x, batch) {
    const y = new Float32Array(batch * N);
    for (let i = 0; i < batch; i++) {
      for (let j = 0; j < N; j++) {
        let s = B[j];
        for (let k = 0; k < K; k++) s += x[i * K + k] * W[k * N + j];
        y[i * N + j] = Math.max(0, s);
      }
    }
    return y;
  }
  return { model, reference };
}

function checkCode(e, code) {
  assert.ok(e instanceof lib.TensorRTError, `expected a TensorRTError, got ${e}`);
  assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
  return true;
}

/** `p` rejects with a TensorRTError of `code`. */
async function expectCode(p, code) {
  await assert.rejects(p, (e) => checkCode(e, code));
}

/** `fn()` throws a TensorRTError of `code`. */
function expectThrowCode(fn, code) {
  assert.throws(fn, (e) => checkCode(e, code));
}

module.exports = { skipReason, onnxHelpers, tinyModel, mlp, expectCode, expectThrowCode };
