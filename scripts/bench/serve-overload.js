#!/usr/bin/env node
'use strict';
/**
 * Goodput under overload (issue 26.4; target: goodput at 512 connections ≥ 80 % of its peak).
 *
 * `tensorrt-node serve` (the bin, a child process) with PP-OCR cls, default config (maxQueueSize 256), KServe v2
 * JSON requests of one text line (1x3x48x192, ~538 kB of JSON each), autocannon on loopback at 8, 64, 200 and 512
 * connections, each run bounded in time. Goodput: 200 answers per second (one sample each); the rest are the 503s
 * of a full queue, which serve now gives on the request line before reading the body. A health probe on its own
 * connection during each run gives the liveness latency under that load.
 *
 * Goodput is given over the whole run and over its steady state (the answers after the first --warmup seconds).
 *
 *   node scripts/bench/serve-overload.js [--duration 6] [--warmup 3] [--connections 8,64,200,512] [--json out.json]
 */
const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const autocannon = require('autocannon');
const { textLine, CLS_MODEL } = require('./ocr-data');
const { percentile, round } = require('./common');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'dist', 'cli', 'index.js');
const args = process.argv.slice(2);
const arg = (k, d) => {
  const i = args.indexOf(`--${k}`);
  return i >= 0 ? args[i + 1] : d;
};
const DURATION = Number(arg('duration', 6));
const WARMUP = Number(arg('warmup', Math.min(3, DURATION / 2)));

function start() {
  const child = spawn(process.execPath, [BIN, 'serve', CLS_MODEL, '--port', '0', '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
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

async function probe(base, stop) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const lat = [];
  while (!stop.done) {
    const t0 = process.hrtime.bigint();
    await new Promise((r) => http.get(new URL('/v2/health/live', base), { agent }, (res) => { res.resume(); res.on('end', r); }).on('error', r));
    lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    await new Promise((r) => setTimeout(r, 20));
  }
  agent.destroy();
  return lat;
}

(async () => {
  if (!fs.existsSync(BIN)) throw new Error('dist/ is not built (npm run build:ts)');
  const x = textLine(7);
  const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3, 48, 192], datatype: 'FP32', data: Array.from(x) }] }));
  console.log(`cls, KServe JSON bodies of ${(body.length / 1024).toFixed(0)} kB; ${os.cpus().length} CPUs (${os.cpus()[0].model}); ${DURATION} s a run`);
  const { child, base } = await start();
  const rows = [];
  try {
    for (const connections of (arg('connections') ? arg('connections').split(',').map(Number) : [8, 64, 200, 512])) {
      const stop = { done: false };
      const probing = probe(base, stop);
      // every 2xx answer's time, for the steady-state window after the warm-up (the first WARMUP s fill the queue:
      // 512 bodies arrive at once, and with a full queue the p50 latency is seconds)
      const t0 = Date.now();
      const okAt = [];
      const r = await new Promise((resolve, reject) => {
        const inst = autocannon({
          url: `${base}/v2/models/ch_ppocr_mobile_v2.0_cls_infer/infer`, method: 'POST', body, headers: { 'content-type': 'application/json' }, connections, duration: DURATION,
        }, (err, res) => (err ? reject(err) : resolve(res)));
        inst.on('response', (_client, status) => { if (status >= 200 && status < 300) okAt.push(Date.now() - t0); });
      });
      const ok = r['2xx'];
      const steady = okAt.filter((t) => t >= WARMUP * 1000 && t < DURATION * 1000).length / (DURATION - WARMUP);
      stop.done = true;
      const lat = await probing;
      const row = {
        connections, goodputPerSec: round(ok / DURATION, 1), steadyGoodputPerSec: round(steady, 1), answersPerSec: round(r.requests.average, 1), non2xx: r.non2xx, errors: r.errors,
        timeouts: r.timeouts, p50Ms: r.latency.p50, p99Ms: r.latency.p99, healthP99Ms: round(percentile(lat, 99), 1), healthMaxMs: round(Math.max(...lat), 1),
      };
      rows.push(row);
      console.log(`c=${String(connections).padEnd(4)} goodput ${row.goodputPerSec}/s (after ${WARMUP} s: ${row.steadyGoodputPerSec}/s), all answers ${row.answersPerSec}/s (non-2xx ${row.non2xx}, errors ${row.errors}, timeouts ${row.timeouts}), p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms; health p99 ${row.healthP99Ms} ms, max ${row.healthMaxMs} ms`);
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  const peak = Math.max(...rows.map((r) => r.goodputPerSec));
  const at512 = rows.find((r) => r.connections === 512).goodputPerSec;
  const ratio = round(at512 / peak, 2);
  const steadyPeak = Math.max(...rows.map((r) => r.steadyGoodputPerSec));
  const steadyRatio = round(rows.find((r) => r.connections === 512).steadyGoodputPerSec / steadyPeak, 2);
  console.log(`goodput at 512 connections / peak: ${ratio} over the whole ${DURATION} s; ${steadyRatio} after the first ${WARMUP} s (target >= 0.8)`);
  const out = arg('json');
  if (out) fs.writeFileSync(out, JSON.stringify({ cpus: os.cpus().length, cpu: os.cpus()[0].model, durationS: DURATION, bodyBytes: body.length, rows, peak, ratio, warmupS: WARMUP, steadyPeak, steadyRatio }, null, 2) + '\n');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
