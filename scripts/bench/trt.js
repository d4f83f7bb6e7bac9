'use strict';
/**
 * TensorRT inference benchmark (runs only where TensorRT is installed; elsewhere it returns the reason).
 *
 * ResNet-50 with random weights, exported to ONNX on this host with torchvision (python3), built at FP32 and
 * FP16 through buildEngine; latency of ExecutionContext.infer (host arrays in, host arrays out) and of
 * enqueue + Stream.synchronize on preallocated device buffers (median / p99 over `iterations`), throughput of
 * back-to-back enqueues; the same engine file timed by trtexec (--loadEngine) when trtexec is found.
 *
 *   node scripts/bench/trt.js [--iterations 1000] [--workdir /tmp/tn-trt-bench] [--json]
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { loadLib, cudaSkipReason, stats, round, cli, nowUs } = require('./common');

function findTrtexec() {
  const dirs = (process.env.PATH || '').split(':').concat(['/usr/src/tensorrt/bin', '/usr/local/tensorrt/bin', '/opt/tensorrt/bin']);
  for (const d of dirs) {
    const f = path.join(d, 'trtexec');
    if (d && fs.existsSync(f)) return f;
  }
  return null;
}

function exportResNet50(file) {
  const py = [
    'import sys, torch, torchvision',
    'm = torchvision.models.resnet50(weights=None).eval()',
    'torch.onnx.export(m, torch.randn(1, 3, 224, 224), sys.argv[1], input_names=["input"], output_names=["output"], opset_version=17, dynamo=False)',
  ].join('\n');
  const r = spawnSync('python3', ['-c', py, file], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`ONNX export failed: ${(r.stderr || r.error?.message || '').slice(-400)}`);
}

function trtexecTimes(trtexec, engine) {
  const r = spawnSync(trtexec, [`--loadEngine=${engine}`, '--iterations=1000', '--warmUp=500', '--duration=0', '--useSpinWait'], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  const text = `${r.stdout}\n${r.stderr}`;
  const num = (re) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : null;
  };
  return {
    throughputQps: num(/Throughput:\s*([\d.]+)\s*qps/),
    latencyMedianMs: num(/Latency:.*?median\s*=\s*([\d.]+)\s*ms/),
    latencyP99Ms: num(/Latency:.*?percentile\(99%\)\s*=\s*([\d.]+)\s*ms/),
    gpuComputeMedianMs: num(/GPU Compute Time:.*?median\s*=\s*([\d.]+)\s*ms/),
    exitStatus: r.status,
  };
}

async function run({ iterations = 1000, workdir = path.join(os.tmpdir(), 'tn-trt-bench') } = {}) {
  const lib = loadLib();
  const skip = cudaSkipReason(lib);
  if (skip) return { skipped: skip };
  const info = lib.runtimeInfo();
  if (!info.tensorrt.available) return { skipped: `TensorRT not available: ${info.tensorrt.reason ?? 'unknown reason'}` };
  if (typeof lib.buildEngine !== 'function' || typeof lib.Engine !== 'function') {
    return { skipped: 'this build of tensorrt-node exports no buildEngine / Engine' };
  }
  fs.mkdirSync(workdir, { recursive: true });
  const onnx = path.join(workdir, 'resnet50.onnx');
  if (!fs.existsSync(onnx)) exportResNet50(onnx);
  const trtexec = findTrtexec();
  const { DeviceBuffer, Stream } = lib;
  const results = [];
  for (const precision of ['fp32', 'fp16']) {
    const t0 = performance.now();
    const plan = await lib.buildEngine(onnx, { fp16: precision === 'fp16', memoryPoolLimits: { workspace: 4 << 30 } });
    const buildS = (performance.now() - t0) / 1e3;
    const enginePath = path.join(workdir, `resnet50-${precision}.engine`);
    fs.writeFileSync(enginePath, plan);
    const engine = await lib.Engine.load(plan);
    const ctx = engine.createExecutionContext();
    const input = engine.inputs[0];
    const output = engine.outputs[0];
    const count = (shape) => shape.reduce((a, b) => a * b, 1);
    const x = new Float32Array(count(input.shape)).map(() => Math.random());
    const r = { precision, buildSeconds: round(buildS, 1), input: input.shape, output: output.shape };
    // infer(): host in, host out
    for (let i = 0; i < 50; i++) await ctx.infer({ [input.name]: x });
    const inferUs = [];
    for (let i = 0; i < iterations; i++) {
      const a = nowUs();
      await ctx.infer({ [input.name]: x });
      inferUs.push(nowUs() - a);
    }
    r.infer = stats(inferUs);
    // enqueue(): device buffers bound once
    const stream = new Stream({ nonBlocking: true });
    const bytesPer = (t) => count(t.shape) * (t.dtype === 'float16' ? 2 : 4);
    const dIn = await DeviceBuffer.from(x);
    const dOut = new DeviceBuffer(bytesPer(output));
    ctx.setTensorAddress(input.name, dIn);
    ctx.setTensorAddress(output.name, dOut);
    for (let i = 0; i < 50; i++) ctx.enqueue(stream);
    await stream.synchronize();
    const enqUs = [];
    for (let i = 0; i < iterations; i++) {
      const a = nowUs();
      ctx.enqueue(stream);
      await stream.synchronize();
      enqUs.push(nowUs() - a);
    }
    r.enqueue = stats(enqUs);
    const tq = performance.now();
    for (let i = 0; i < iterations; i++) ctx.enqueue(stream);
    await stream.synchronize();
    r.enqueueThroughputQps = round(iterations / ((performance.now() - tq) / 1e3), 1);
    r.trtexec = trtexec ? trtexecTimes(trtexec, enginePath) : { skipped: 'trtexec not found on PATH or in /usr/src/tensorrt/bin' };
    dIn.dispose();
    dOut.dispose();
    stream.dispose();
    ctx.dispose();
    engine.dispose();
    results.push(r);
  }
  return { model: 'ResNet-50 (torchvision, random weights), batch 1, 3x224x224', iterations, results };
}

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--iterations') o.iterations = Number(argv[++i]);
    else if (argv[i] === '--workdir') o.workdir = argv[++i];
  }
  return o;
}

module.exports = { run };
cli(module, (argv) => run(parseArgs(argv)));
