'use strict';
/**
 * `node scripts/bench/serve.js --versus`: `tensorrt-node serve` side by side with the server a user writes by hand
 * (scripts/bench/hand-server.js: Fastify + onnxruntime-node, JSON in, session.run, JSON out), in one run, on the
 * same model (PP-OCR cls, 1x3x48x192 FP32 per request) and the same request bodies (KServe v2 JSON, and the binary
 * tensor extension), each server a child process of its own.
 *
 * For each body form and concurrency (1, 16, 64, 256), serve's runs and the hand-written server's alternate in
 * three slices each (so that the machine's changing load falls on both alike): `c` closed-loop clients on keep-alive connections for
 * `--duration` seconds, each request timed with hrtime (µs); p50 / p99 latency, requests/s, the server process's
 * CPU time (user + system, /proc/<pid>/stat, all its threads) per request, and the latency of GET
 * /v2/health/ready sent every 20 ms on a connection of its own meanwhile (what a Kubernetes probe sees).
 * Targets: at concurrency 1 serve's p50 <= 1.2x the hand-written server's; at 64 serve's requests/s >= 2x.
 *   node scripts/bench/serve.js --versus [--duration 3] [--backend onnxruntime|tensorrt] [--json out.json]
 *     [--concurrency 1,16,64,256] [--serve-args "--max-batch-size 8"]
 */
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { percentile, median, round } = require('./common');

const SLICES = 3;
const CLK_TCK = 100; // Linux USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s

function cpuMs(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK; // utime (14), stime (15)
  } catch {
    return NaN; // not Linux: no CPU figure
  }
}

/** `c` closed-loop clients POSTing `req` for `ms`; per-request µs, count of non-200s. */
async function closedLoop(base, req, c, ms) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: c });
  const url = new URL('/v2/models/model/infer', base);
  const headers = { ...req.headers, 'content-length': String(req.body.length) };
  const us = [];
  let bad = 0;
  let errors = 0;
  const end = Date.now() + ms;
  const one = () => new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const q = http.request(url, { method: 'POST', agent, headers }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode === 200) us.push(Number(process.hrtime.bigint() - t0) / 1000);
        else bad++;
        resolve();
      });
    });
    q.on('error', () => {
      errors++;
      resolve();
    });
    q.end(req.body);
  });
  const t0 = Date.now();
  await Promise.all(Array.from({ length: c }, async () => {
    while (Date.now() < end) await one();
  }));
  const elapsed = (Date.now() - t0) / 1000;
  agent.destroy();
  return { us, bad, errors, elapsed };
}

/** GET /v2/health/ready every `everyMs` on one connection until stopped; latencies in µs. */
function healthPoller(base, everyMs = 20) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL('/v2/health/ready', base);
  const us = [];
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const t0 = process.hrtime.bigint();
      await new Promise((resolve) => {
        http.get(url, { agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        }).on('error', resolve);
      });
      us.push(Number(process.hrtime.bigint() - t0) / 1000);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return async () => {
    stop = true;
    await loop;
    agent.destroy();
    return us;
  };
}

/**
 * Both servers at concurrency `c` for `ms` each, in `slices` alternating slices (serve, hand, serve, hand, ...):
 * a slower stretch of the shared machine then falls on both alike. Figures over all slices of a server.
 */
async function measurePair(servers, req, c, ms, slices) {
  const acc = servers.map(() => ({ us: [], health: [], bad: 0, errors: 0, elapsed: 0, cpu: 0 }));
  for (let k = 0; k < slices; k++) {
    for (const [i, server] of servers.entries()) {
      const poll = healthPoller(server.base);
      const cpu0 = cpuMs(server.child.pid);
      const r = await closedLoop(server.base, req, c, ms / slices);
      acc[i].cpu += cpuMs(server.child.pid) - cpu0;
      acc[i].health.push(...(await poll()));
      acc[i].us.push(...r.us);
      acc[i].bad += r.bad;
      acc[i].errors += r.errors;
      acc[i].elapsed += r.elapsed;
    }
  }
  return acc.map((a) => ({
    requests: a.us.length,
    non200: a.bad,
    errors: a.errors,
    reqPerSec: round(a.us.length / a.elapsed, 1),
    p50Ms: round(median(a.us) / 1000, 3),
    p99Ms: round(percentile(a.us, 99) / 1000, 3),
    cpuMsPerReq: round(a.cpu / Math.max(1, a.us.length), 3),
    healthP50Ms: round(median(a.health) / 1000, 3),
    healthP99Ms: round(percentile(a.health, 99) / 1000, 3),
  }));
}

/**
 * Runs the comparison. `h` gives serve.js's helpers: spawnListening, startServer, stopServer, bodies, textLine,
 * CLS_MODEL, DURATION, BACKEND, arg.
 */
async function versus(h) {
  const x = h.textLine(1);
  const b = h.bodies(x);
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'tensorrt-node-serve-versus-'));
  fs.mkdirSync(path.join(repo, 'model', '1'), { recursive: true });
  fs.copyFileSync(h.CLS_MODEL, path.join(repo, 'model', '1', 'model.onnx'));
  process.on('exit', () => fs.rmSync(repo, { recursive: true, force: true }));
  const conc = String(h.arg('--concurrency', '1,16,64,256')).split(',').map(Number);
  const serveArgs = String(h.arg('--serve-args', '')).split(' ').filter(Boolean);
  const ms = h.DURATION * 1000;
  const result = {
    machine: `${os.cpus()[0].model}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    loadBefore: os.loadavg().map((v) => round(v, 2)),
    model: 'PP-OCR cls 1x3x48x192 FP32',
    serve: `tensorrt-node serve --backend ${h.BACKEND} ${serveArgs.join(' ')}`.trim(),
    hand: 'scripts/bench/hand-server.js (Fastify + onnxruntime-node, one session, default options)',
    durationPerRunS: h.DURATION,
    runs: [],
  };
  const serve = await h.startServer(repo, serveArgs);
  const hand = await h.spawnListening([path.join(__dirname, 'hand-server.js'), h.CLS_MODEL], 'hand-written server');
  try {
    // warm-up: both servers, both bodies
    for (const s of [serve, hand]) for (const req of [b.binary, b.json]) await closedLoop(s.base, req, 4, 1000);
    for (const tensors of ['json', 'binary']) {
      for (const c of conc) {
        const row = { tensors, connections: c };
        [row.serve, row.hand] = await measurePair([serve, hand], b[tensors], c, ms, SLICES);
        row.p50Ratio = round(row.serve.p50Ms / row.hand.p50Ms, 3);
        row.throughputRatio = round(row.serve.reqPerSec / row.hand.reqPerSec, 3);
        result.runs.push(row);
        console.log(JSON.stringify(row));
      }
    }
  } finally {
    await h.stopServer(serve);
    await h.stopServer(hand);
  }
  result.loadAfter = os.loadavg().map((v) => round(v, 2));
  const at = (t, c) => result.runs.find((r) => r.tensors === t && r.connections === c);
  result.targets = {};
  for (const t of ['json', 'binary']) {
    if (at(t, 1)) result.targets[`p50RatioC1_${t}`] = { value: at(t, 1).p50Ratio, target: '<= 1.2', pass: at(t, 1).p50Ratio <= 1.2 };
    if (at(t, 64)) result.targets[`throughputRatioC64_${t}`] = { value: at(t, 64).throughputRatio, target: '>= 2', pass: at(t, 64).throughputRatio >= 2 };
  }
  console.log(JSON.stringify(result.targets));
  return result;
}

module.exports = { versus };
