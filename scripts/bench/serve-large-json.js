#!/usr/bin/env node
'use strict';
/**
 * Health latency while serve receives one large JSON request (issue 25.6; target: ≤ 50 ms during a 60 MiB body).
 *
 * `tensorrt-node serve` (the bin, a child process) with PP-OCR det; one KServe v2 JSON request of ~60 MiB
 * (1x3x1056x1056 FP32 as a flat `data` list, binary output asked for) while a second connection probes
 * GET /v2/health/live back to back. Two runs in the same process tree, same machine, same body:
 *   - offload: the default (bodies of 1 MiB or more parsed in a worker thread, lib/serve/json-offload.ts)
 *   - baseline: TENSORRT_NODE_JSON_OFFLOAD_BYTES=Infinity (JSON.parse on the event loop, as before)
 * Reported per run: the probes' max and p99 latency while the request was in flight, how many were answered,
 * and the large request's status and time. Loopback only; each run bounded in time.
 *
 *   node scripts/bench/serve-large-json.js [--json out.json] [--size 1056]
 */
const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { percentile, round } = require('./common');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'dist', 'cli', 'index.js');
const DET = path.join(ROOT, 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_PP-OCRv4_det_infer.onnx');
const args = process.argv.slice(2);
const arg = (k, d) => {
  const i = args.indexOf(`--${k}`);
  return i >= 0 ? args[i + 1] : d;
};
const SIZE = Number(arg('size', 1056));

function start(env) {
  const child = spawn(process.execPath, [BIN, 'serve', DET, '--port', '0', '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`serve did not start: ${out.slice(-500)}`)); }, 60000);
    const on = (c) => {
      out += c;
      const m = /"address":"(http:\/\/[^"]+)"/.exec(out);
      if (m) { clearTimeout(t); resolve({ child, base: m[1] }); }
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
  });
}

function send(base, method, p, body, agent) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(new URL(p, base), { method, agent, headers: body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    });
    req.on('error', (e) => resolve({ status: e.code, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    req.end(body);
  });
}

async function run(label, env, body) {
  const { child, base } = await start(env);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < 20; i++) await send(base, 'GET', '/v2/health/live', undefined, agent); // warm
    let done = false;
    const big = send(base, 'POST', '/v2/models/ch_PP-OCRv4_det_infer/infer', body, false).then((r) => { done = true; return r; });
    const lat = [];
    while (!done) {
      const r = await send(base, 'GET', '/v2/health/live', undefined, agent);
      if (!done) lat.push(r.ms);
    }
    const r = await big;
    return { run: label, status: r.status, requestMs: round(r.ms, 0), probes: lat.length, probeMaxMs: round(Math.max(...lat), 1), probeP99Ms: round(percentile(lat, 99), 1), probeP50Ms: round(percentile(lat, 50), 2) };
  } finally {
    agent.destroy();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

(async () => {
  if (!fs.existsSync(BIN)) throw new Error('dist/ is not built (npm run build:ts)');
  const n = 3 * SIZE * SIZE;
  const data = new Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.fround(Math.sin(i) * 0.5 + 0.123456); // float32 values as JSON.stringify writes them (~17 digits)
  const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3, SIZE, SIZE], datatype: 'FP32', data }], parameters: { binary_data_output: true } }));
  console.log(`body: ${(body.length / 1048576).toFixed(1)} MiB of JSON (1x3x${SIZE}x${SIZE} FP32); ${os.cpus().length} CPUs (${os.cpus()[0].model})`);
  const rows = [];
  for (const [label, env] of [['offload (default)', {}], ['baseline: parse on the event loop', { TENSORRT_NODE_JSON_OFFLOAD_BYTES: 'Infinity' }]]) {
    const r = await run(label, env, body);
    rows.push(r);
    console.log(`${r.run.padEnd(36)} status ${r.status}  request ${r.requestMs} ms  health probes during it: ${r.probes}, p50 ${r.probeP50Ms} ms, p99 ${r.probeP99Ms} ms, max ${r.probeMaxMs} ms`);
  }
  const ratio = round(rows[1].probeMaxMs / rows[0].probeMaxMs, 1);
  console.log(`max health latency, baseline / offload: ${ratio}x`);
  const out = arg('json');
  if (out) fs.writeFileSync(out, JSON.stringify({ bodyMiB: round(body.length / 1048576, 1), cpus: os.cpus().length, cpu: os.cpus()[0].model, rows, ratio }, null, 2) + '\n');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
