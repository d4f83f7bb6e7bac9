'use strict';
// Run by scripts/check-install.js inside a scratch project: `tensorrt-node serve` of a one-model repository on the
// onnxruntime backend, asked over KServe v2 and TF Serving REST; the oracle is onnxruntime-node run directly.
const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const path = require('path');

const model = process.argv[2];
const repo = path.join(process.cwd(), 'serve-repo');
fs.mkdirSync(path.join(repo, 'cls', '1'), { recursive: true });
fs.copyFileSync(model, path.join(repo, 'cls', '1', 'model.onnx'));
const shape = [1, 3, 48, 192];
const data = Float32Array.from({ length: 3 * 48 * 192 }, (_, i) => Math.cos(i * 0.003));

function post(port, p, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, method: body ? 'POST' : 'GET', headers: { 'content-type': 'application/json' } }, (res) => {
      let s = '';
      res.on('data', (c) => (s += c));
      res.on('end', () => resolve({ status: res.statusCode, body: s }));
    });
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

function nest(flat, dims) {
  if (dims.length === 1) return Array.from(flat);
  const step = flat.length / dims[0];
  return Array.from({ length: dims[0] }, (_, i) => nest(flat.subarray(i * step, (i + 1) * step), dims.slice(1)));
}

let child = null;
(async () => {
  const ort = require('onnxruntime-node');
  const session = await ort.InferenceSession.create(model);
  const want = Array.from((await session.run({ x: new ort.Tensor('float32', data, shape) }))[session.outputNames[0]].data);
  child = spawn(process.execPath, [path.join('node_modules', 'tensorrt-node', 'dist', 'cli', 'index.js'), 'serve', repo, '--port', '0', '--backend', 'onnxruntime'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not listen in 60 s: ${log.slice(-500)}`)), 60000);
    const onData = (c) => {
      log += c;
      const m = /serving \d+ model\(s\) at http:\/\/127\.0\.0\.1:(\d+)/.exec(log); // serve's start line
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${log.slice(-500)}`)));
  });
  try {
    let ready = { status: 0 };
    for (let i = 0; i < 100 && ready.status !== 200; i++) {
      ready = await post(port, '/v2/models/cls/ready');
      if (ready.status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    const v2 = await post(port, '/v2/models/cls/infer', { inputs: [{ name: 'x', shape, datatype: 'FP32', data: Array.from(data) }] });
    const v2out = JSON.parse(v2.body).outputs[0].data;
    const v1 = await post(port, '/v1/models/cls:predict', { inputs: { x: nest(data, shape) } });
    const v1out = JSON.parse(v1.body).outputs.flat(Infinity);
    const diff = (a) => Math.max(...want.map((w, i) => Math.abs(w - a[i])));
    const backend = /"backend":"onnxruntime"|onnxruntime/.test(log);
    const ok = ready.status === 200 && v2.status === 200 && v1.status === 200 && v2out.length === want.length && v1out.length === want.length &&
      diff(v2out) === 0 && diff(v1out) === 0 && backend;
    console.log(JSON.stringify({ ok, ready: ready.status, v2: v2.status, v1: v1.status, want, v2out, v1out }));
  } finally {
    child.kill('SIGTERM');
  }
})().catch((e) => {
  console.log(JSON.stringify({ ok: false, error: String(e && e.message) }));
  process.exitCode = 1;
  if (child && child.exitCode === null) child.kill('SIGKILL'); // never left running (its pipes would keep this process alive)
});
