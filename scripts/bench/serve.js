#!/usr/bin/env node
'use strict';
/**
 * Serving benchmark: `tensorrt-node serve` (the bin, a child process) with PP-OCR cls (1x3x48x192 per request),
 * load from autocannon on loopback, each run bounded in time.
 *   - requests/s and p50/p99 at concurrency 1, 8, 64 with batching on and off (binary tensors)
 *   - JSON vs binary tensors (concurrency 1 and 64, batching on)
 *   - the server's overhead over an in-process onnxruntime run (p50, concurrency 1, binary tensors; a plain
 *     sequential keep-alive client measures it with hrtime, autocannon's latencies are whole milliseconds)
 *   - JSON decoding vs JSON.parse of the same body plus one copy into a Float32Array
 * Usage: node scripts/bench/serve.js [--duration 5] [--backend onnxruntime|tensorrt] [--json out.json]
 *        node scripts/bench/serve.js --overhead-only [--pairs 1000]   (the c=1 overhead figures alone)
 *        [--intra-op-threads N]: the server's onnxruntime threads per run, and the in-process baseline's
 * With --backend tensorrt it needs TensorRT and a GPU, and says why it skips otherwise.
 *        node scripts/bench/serve.js --versus [--duration 3] [--json out.json]: serve side by side with a hand-written
 *        Fastify + onnxruntime-node server (scripts/bench/serve-versus.js, hand-server.js)
 */
const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const autocannon = require('autocannon');
const { textLine, CLS_MODEL } = require('./ocr-data');
const { median, percentile, round } = require('./common');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'dist', 'cli', 'index.js');
const args = process.argv.slice(2);
const arg = (k, d) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : d;
};
const DURATION = Number(arg('--duration', '5'));
const BACKEND = arg('--backend', 'onnxruntime');
const JSON_OUT = arg('--json', null);
// --overhead-only: the c=1 overhead measurement alone (no autocannon runs, no targets): for working on the serve path
const OVERHEAD_ONLY = args.includes('--overhead-only');
const PAIRS = Number(arg('--pairs', '1000'));
// --intra-op-threads N: the server's onnxruntime threads per run (serve's option of that name), and the in-process
// baseline's the same
const INTRA = arg('--intra-op-threads', null);

/** Spawns `argv` and resolves { child, base } once it logs its `"address":"http://..."` (serve's and the bare server's log). */
function spawnListening(argv, what, stderr = 'pipe') {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', stderr] });
    let out = '';
    const onData = (c) => {
      out += c.toString();
      const m = /"address":"(http:\/\/[^"]+)"/.exec(out);
      if (m) {
        child.stdout.off('data', onData);
        child.stdout.resume();
        resolve({ child, base: m[1] });
      }
    };
    child.stdout.on('data', onData);
    if (child.stderr) child.stderr.on('data', (c) => (out += c.toString()));
    child.on('exit', (code) => reject(new Error(`${what} exited (${code}): ${out}`)));
  });
}

function startServer(model, extra) {
  const intra = INTRA ? ['--intra-op-threads', INTRA] : [];
  return spawnListening([BIN, 'serve', model, '--port', '0', '--backend', BACKEND, ...intra, ...extra], 'serve');
}

function stopServer(s) {
  return new Promise((resolve) => {
    s.child.removeAllListeners('exit');
    s.child.on('exit', resolve);
    s.child.kill('SIGTERM');
  });
}

function bodies(x) {
  const head = Buffer.from(JSON.stringify({
    inputs: [{ name: 'x', shape: [1, 3, 48, 192], datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }],
    outputs: [{ name: 'softmax_0.tmp_0', parameters: { binary_data: true } }],
  }));
  return {
    binary: {
      body: Buffer.concat([head, Buffer.from(x.buffer, x.byteOffset, x.byteLength)]),
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.length) },
    },
    json: {
      body: Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3, 48, 192], datatype: 'FP32', data: Array.from(x) }] })),
      headers: { 'content-type': 'application/json' },
    },
  };
}

async function load(base, req, connections) {
  const r = await autocannon({
    url: `${base}/v2/models/model/infer`, method: 'POST', body: req.body, headers: req.headers, connections, duration: DURATION,
  });
  return {
    connections,
    reqPerSec: round(r.requests.average, 1),
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    total: r.requests.total,
  };
}

/**
 * A bare Fastify server in a child process of its own, like the bin: the same raw-body parser, one route that takes
 * the same binary body and answers a binary-extension response of the same size as serve's (JSON header + 2
 * floats), nothing else. The floor under any HTTP server in its own process on this machine: what the transport
 * (loopback, two processes waking each other, Node's HTTP on both sides) costs for this body.
 */
const BARE_SERVER = `
const Fastify = require(process.argv[1]);
const app = Fastify();
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_r, b, done) => done(null, b));
const head = Buffer.from(JSON.stringify({ model_name: 'model', model_version: '1', outputs: [{ name: 'softmax_0.tmp_0', datatype: 'FP32', shape: [1, 2], parameters: { binary_data_size: 8 } }] }));
app.post('/v2/models/model/infer', async (req, reply) => {
  reply.header('Inference-Header-Content-Length', String(head.length)).type('application/octet-stream');
  return reply.send(Buffer.concat([head, Buffer.alloc(8)]));
});
app.listen({ port: 0, host: '127.0.0.1' }).then((a) => console.log(JSON.stringify({ address: a })));
`;

function startBareServer() {
  return spawnListening(['-e', BARE_SERVER, require.resolve('fastify')], 'bare Fastify server', 'inherit');
}

/** Sequential POSTs of one body on one keep-alive connection; each call resolves with its time in µs (hrtime). */
function sequentialClient(base, req) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL('/v2/models/model/infer', base);
  const headers = { ...req.headers, 'content-length': String(req.body.length) };
  const one = () => new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const q = http.request(url, { method: 'POST', agent, headers }, (res) => {
      res.on('data', () => {});
      res.on('end', () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - t0) / 1000) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    q.on('error', reject);
    q.end(req.body);
  });
  return { one, close: () => agent.destroy() };
}

/** The server's onnxruntime session options (dist/serve/backends/onnxruntime.js) at the bin's defaults. */
function ortSessionOptions() {
  return require(path.join(ROOT, 'dist', 'serve', 'backends', 'onnxruntime.js')).onnxRuntimeSessionOptions({ intraOpNumThreads: INTRA ? Number(INTRA) : undefined });
}

/**
 * The server's overhead at concurrency 1: sequential binary requests on one keep-alive connection, interleaved
 * with in-process onnxruntime runs of the same input (one after the other, so that the machine's changing load
 * hits both alike); per-request times in µs from hrtime (autocannon's latencies are whole milliseconds).
 * The client is this process, the server the bin in its own process (as deployed). The same pairs (request, then
 * in-process run) are made with a bare Fastify server in its own process (startBareServer), which computes nothing:
 * its latency is the floor of the overhead (what the transport alone costs here), and serve's overhead minus it is
 * serve's own part. Serve's pairs and the bare server's alternate in blocks of 50, so that the machine's changing
 * load hits both alike; not request by request, because a third process woken between two of serve's requests
 * makes them slower (measured: ~200 µs more overhead at the median), which is not serve's doing.
 */
async function overheadPairs(base, bareBase, req, x, n) {
  const ort = require('onnxruntime-node');
  // The server's session settings (lib/serve/backends/onnxruntime.ts: its defaults, unless config.json says
  // otherwise): the in-process call must compute exactly as the server's session does.
  const s = await ort.InferenceSession.create(CLS_MODEL, ortSessionOptions());
  const run = async () => {
    const t0 = process.hrtime.bigint();
    await s.run({ x: new ort.Tensor('float32', x, [1, 3, 48, 192]) });
    return Number(process.hrtime.bigint() - t0) / 1000;
  };
  const serve = sequentialClient(base, req);
  const bare = sequentialClient(bareBase, req);
  for (let i = 0; i < 50; i++) {
    await serve.one();
    await run();
    await bare.one();
    await run();
  }
  const httpUs = [], inprocUs = [], diffUs = [], bareUs = [], bareInprocUs = [];
  const BLOCK = 50;
  for (let i = 0; i < n; i += BLOCK) {
    for (let j = 0; j < BLOCK; j++) {
      const a = await serve.one();
      const b = await run();
      httpUs.push(a);
      inprocUs.push(b);
      diffUs.push(a - b);
    }
    for (let j = 0; j < BLOCK; j++) {
      const a = await bare.one();
      const b = await run();
      bareUs.push(a);
      bareInprocUs.push(b);
    }
  }
  serve.close();
  bare.close();
  await s.release();
  return { httpUs, inprocUs, diffUs, bareUs, bareInprocUs };
}

/**
 * The floor under any HTTP server here: a bare Fastify route that takes the same binary body and answers 16 bytes,
 * client and server in this process, sequential on one keep-alive connection (p50 in µs).
 */
async function transportFloor(body, headers) {
  const Fastify = require('fastify');
  const app = Fastify();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_r, b, done) => done(null, b));
  app.post('/x', async (_req, reply) => reply.send(Buffer.alloc(16)));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${app.server.address().port}/x`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const one = () => new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const q = http.request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': String(body.length) } }, (r) => {
      r.resume();
      r.on('end', () => resolve(Number(process.hrtime.bigint() - t0) / 1000));
    });
    q.end(body);
  });
  for (let i = 0; i < 200; i++) await one();
  const us = [];
  for (let i = 0; i < 1000; i++) us.push(await one());
  agent.destroy();
  await app.close();
  return { p50Us: round(median(us), 1), minUs: round(Math.min(...us), 1) };
}

function decodeBench(json) {
  const { parseJsonBody } = require(path.join(ROOT, 'dist', 'serve', 'tensor.js'));
  const { decodeInfer } = require(path.join(ROOT, 'dist', 'serve', 'protocols', 'kserve-v2.js'));
  const mv = { backend: { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 3, -1, -1] }], outputs: [{ name: 'softmax_0.tmp_0', dtype: 'float32', shape: [-1, 2] }] } };
  // The two are timed in alternation (order swapped every iteration), so that a slower stretch of the machine
  // (another process, a GC of the other's garbage) falls on both alike; medians of each.
  const baselineFn = () => {
    const o = JSON.parse(json.toString('utf8'));
    return new Float32Array(o.inputs[0].data); // the fastest one copy of a JS array into a Float32Array
  };
  const oursFn = () => decodeInfer(parseJsonBody(json), null, mv);
  const timeOne = (f) => {
    const t0 = process.hrtime.bigint();
    f();
    return Number(process.hrtime.bigint() - t0) / 1000;
  };
  for (let i = 0; i < 50; i++) {
    baselineFn();
    oursFn();
  }
  const b = [];
  const o = [];
  for (let i = 0; i < 300; i++) {
    if (i % 2) {
      b.push(timeOne(baselineFn));
      o.push(timeOne(oursFn));
    } else {
      o.push(timeOne(oursFn));
      b.push(timeOne(baselineFn));
    }
  }
  const baseline = median(b);
  const ours = median(o);
  return { bodyBytes: json.length, jsonParsePlusCopyUs: round(baseline, 1), serveDecodeUs: round(ours, 1), ratio: round(ours / baseline, 3) };
}

async function main() {
  if (!fs.existsSync(BIN)) throw new Error('dist/ is not built: npm run build:ts');
  if (BACKEND === 'tensorrt') {
    const lib = require(path.join(ROOT, 'dist', 'index.js'));
    const info = lib.runtimeInfo();
    if (!info.tensorrt.available || !info.cuda.available) {
      console.log(`serve benchmark (tensorrt backend) skipped: ${!info.tensorrt.available ? `TensorRT is not available (${info.tensorrt.reason})` : `no CUDA GPU (${info.cuda.reason})`}`);
      return;
    }
  }
  if (args.includes('--versus')) {
    const r = await require('./serve-versus').versus({ spawnListening, startServer, stopServer, bodies, textLine, CLS_MODEL, DURATION: Number(arg('--duration', '3')), BACKEND, arg });
    if (JSON_OUT) fs.writeFileSync(JSON_OUT, JSON.stringify(r, null, 2));
    return;
  }
  const x = textLine(1);
  const b = bodies(x);
  // a repository with the model as `model` version 1 (URLs /v2/models/model/...)
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'tensorrt-node-serve-bench-'));
  fs.mkdirSync(path.join(repo, 'model', '1'), { recursive: true });
  fs.copyFileSync(CLS_MODEL, path.join(repo, 'model', '1', 'model.onnx'));
  process.on('exit', () => fs.rmSync(repo, { recursive: true, force: true }));
  const result = {
    machine: `${os.cpus()[0].model}, ${os.cpus().length} cores, Node ${process.version}`,
    loadBefore: os.loadavg().map((v) => round(v, 2)),
    backend: BACKEND,
    durationPerRunS: DURATION,
    intraOpThreads: INTRA ? Number(INTRA) : 'default (onnxruntime: one per core)',
  };
  result.decode = decodeBench(b.json.body);
  console.log('decode', result.decode);
  result.bareFastifySameBody = await transportFloor(b.binary.body, b.binary.headers);
  console.log('bare Fastify route, same binary body, in-process client', result.bareFastifySameBody);

  result.runs = [];
  for (const batching of [true, false]) {
    const s = await startServer(repo, batching ? ['--max-batch-size', '64'] : ['--no-batching']);
    try {
      if (batching) {
        const bare = await startBareServer();
        let o;
        try {
          o = await overheadPairs(s.base, bare.base, b.binary, x, PAIRS);
        } finally {
          await stopServer(bare);
        }
        const st = (v) => ({ p50Us: round(median(v), 1), p99Us: round(percentile(v, 99), 1), minUs: round(Math.min(...v), 1) });
        result.inProcess = st(o.inprocUs);
        result.sequentialBinary = st(o.httpUs);
        result.overheadP50Us = round(median(o.diffUs), 1);
        result.overheadOfP50sUs = round(result.sequentialBinary.p50Us - result.inProcess.p50Us, 1);
        result.bareFastifyChildProcess = st(o.bareUs);
        result.bareFastifyChildProcess.inProcessP50Us = round(median(o.bareInprocUs), 1);
        result.serveOwnP50Us = round(result.overheadP50Us - result.bareFastifyChildProcess.p50Us, 1);
        console.log('in-process onnxruntime', result.inProcess, 'HTTP binary c=1', result.sequentialBinary, 'overhead (median of paired differences) µs', result.overheadP50Us);
        console.log('bare Fastify in its own process, same body and interleaving', result.bareFastifyChildProcess, "serve's own part (overhead - bare latency, p50s) µs", result.serveOwnP50Us);
      }
      if (OVERHEAD_ONLY) return;
      for (const c of [1, 8, 64]) {
        const r = { batching, tensors: 'binary', ...(await load(s.base, b.binary, c)) };
        result.runs.push(r);
        console.log(r);
      }
      if (batching) {
        for (const c of [1, 64]) {
          const r = { batching, tensors: 'json', ...(await load(s.base, b.json, c)) };
          result.runs.push(r);
          console.log(r);
        }
      }
    } finally {
      await stopServer(s);
    }
  }
  const at = (batching, c) => result.runs.find((r) => r.batching === batching && r.connections === c && r.tensors === 'binary');
  result.batchingSpeedupAt64 = round(at(true, 64).reqPerSec / at(false, 64).reqPerSec, 2);
  result.loadAfter = os.loadavg().map((v) => round(v, 2));
  result.targets = {
    batchingSpeedupAt64: { value: result.batchingSpeedupAt64, target: '>= 1.8', pass: result.batchingSpeedupAt64 >= 1.8 },
    overheadP50Us: { value: result.overheadP50Us, target: '<= 150', pass: result.overheadP50Us <= 150, transportFloorUs: result.bareFastifyChildProcess.p50Us, serveOwnUs: result.serveOwnP50Us },
    jsonDecodeRatio: { value: result.decode.ratio, target: '<= 1 (JSON.parse + one copy)', pass: result.decode.ratio <= 1 },
  };
  console.log(JSON.stringify(result.targets));
  if (JSON_OUT) fs.writeFileSync(JSON_OUT, JSON.stringify(result, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
