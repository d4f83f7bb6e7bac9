#!/usr/bin/env node
'use strict';
/**
 * Where the time of one concurrency-1 binary request goes inside `serve` (issue 14's overhead target): a
 * diagnostic, not a benchmark with targets. The server (createServer from dist/, PP-OCR cls, the bin's defaults)
 * runs in a child process, instrumented from outside: Fastify hooks (onRequest, preValidation = body received,
 * preHandler, onSend, onResponse), wrappers around parseJsonBody and Batcher.submit, the MessagePort that carries
 * the batch to the onnxruntime worker thread and receiveMessageOnPort that takes the result, and session.run
 * timed inside the worker (this file stands in for onnxruntime-node there). Times are absolute (timeOrigin + now),
 * so the two cross-process phases (client send -> onRequest, onResponse -> client end) carry the clocks' skew.
 * The client (this process) interleaves each request with an in-process run of the same input, as serve.js does.
 * Prints the median (and minimum) of each phase in µs.
 * Usage: node scripts/bench/serve-phases.js [--pairs 600]
 * Needs dist/ (npm run build:ts) and onnxruntime-node.
 */
const wt = require('worker_threads');
const { performance } = require('perf_hooks');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const abs = () => performance.timeOrigin + performance.now();

if (!wt.isMainThread) {
  // In the server's onnxruntime worker thread, as its onnxruntime-node: session.run timed, told on a BroadcastChannel.
  const ort = require(require.resolve('onnxruntime-node', { paths: [ROOT] }));
  const bc = new wt.BroadcastChannel('serve-phases');
  const create = ort.InferenceSession.create;
  ort.InferenceSession.create = async (...a) => {
    const s = await create.apply(ort.InferenceSession, a);
    const run = s.run.bind(s);
    s.run = async (...r) => {
      const run0 = abs();
      const o = await run(...r);
      bc.postMessage({ run0, run1: abs() });
      return o;
    };
    return s;
  };
  module.exports = ort;
  return;
}

if (process.argv[2] === '--server') {
  // The child: serve, instrumented. `cur` is the request in progress (concurrency 1).
  process.on('disconnect', () => process.exit(0)); // never outlives the client
  let cur = null;
  const recs = [];
  const runs = [];
  const Orig = wt.Worker;
  wt.Worker = class extends Orig {
    constructor(src, o) {
      if (o && o.workerData && o.workerData.ortPath) o.workerData.ortPath = __filename;
      super(src, o);
    }
  };
  const post = wt.MessagePort.prototype.postMessage;
  wt.MessagePort.prototype.postMessage = function (m, ...r) {
    const run = m && m.type === 'run' && cur;
    if (run) cur.post0 = abs();
    const x = post.call(this, m, ...r);
    if (run) cur.post1 = abs();
    return x;
  };
  const receive = wt.receiveMessageOnPort;
  wt.receiveMessageOnPort = (p) => {
    const g = receive(p);
    if (g && g.message && g.message.type === 'result' && cur) cur.recv = abs();
    return g;
  };
  new wt.BroadcastChannel('serve-phases').onmessage = (e) => runs.push(e.data);
  const tensor = require(path.join(ROOT, 'dist/serve/tensor.js'));
  const parse = tensor.parseJsonBody;
  tensor.parseJsonBody = (...a) => {
    if (cur) cur.parse0 = abs();
    return parse(...a);
  };
  const { Batcher } = require(path.join(ROOT, 'dist/serve/batcher.js'));
  const submit = Batcher.prototype.submit;
  Batcher.prototype.submit = function (...a) {
    if (cur) cur.submit = abs();
    return submit.apply(this, a).then((r) => {
      if (cur) cur.resolved = abs();
      return r;
    });
  };
  const { createServer } = require(path.join(ROOT, 'dist/serve/server.js'));
  (async () => {
    const s = await createServer({ model: process.argv[3], logger: { level: 'info', stream: { write() {} } }, defaults: { maxBatchSize: 64 } });
    const app = s.app;
    app.addHook('onRequest', async (req) => {
      if (!req.url.startsWith('/phases')) cur = { onRequest: abs() };
    });
    // (hooks return nothing: an onSend hook's value would replace the payload)
    app.addHook('preValidation', async () => {
      if (cur) cur.bodyDone = abs();
    });
    app.addHook('preHandler', async () => {
      if (cur) cur.handler = abs();
    });
    app.addHook('onSend', async () => {
      if (cur) cur.onSend = abs();
    });
    app.addHook('onResponse', async (req) => {
      if (cur && !req.url.startsWith('/phases')) {
        cur.onResponse = abs();
        recs.push(cur);
        cur = null;
      }
    });
    app.get('/phases', async () => {
      const r = recs.splice(0);
      const q = runs.splice(0);
      r.forEach((x, i) => Object.assign(x, q[q.length - r.length + i]));
      return r;
    });
    process.send({ addr: await s.listen({ port: 0 }) });
  })();
  return;
}

// The client.
const fs = require('fs');
const os = require('os');
const http = require('http');
const { fork } = require('child_process');
const { textLine, CLS_MODEL } = require('./ocr-data');
const { median } = require('./common');
const args = process.argv.slice(2);
const N = Number(args.includes('--pairs') ? args[args.indexOf('--pairs') + 1] : 600);

(async () => {
  const x = textLine(1);
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'tensorrt-node-serve-phases-'));
  fs.mkdirSync(path.join(repo, 'model', '1'), { recursive: true });
  fs.copyFileSync(CLS_MODEL, path.join(repo, 'model', '1', 'model.onnx'));
  const child = fork(__filename, ['--server', repo]);
  const { addr } = await new Promise((r) => child.once('message', r));
  const head = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3, 48, 192], datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }], outputs: [{ name: 'softmax_0.tmp_0', parameters: { binary_data: true } }] }));
  const body = Buffer.concat([head, Buffer.from(x.buffer, x.byteOffset, x.byteLength)]);
  const headers = { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.length), 'content-length': String(body.length) };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL('/v2/models/model/infer', addr);
  const one = () => new Promise((resolve, reject) => {
    const send = abs();
    const q = http.request(url, { method: 'POST', agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ send, end: abs() }));
    });
    q.on('error', reject);
    q.end(body);
  });
  const get = (p) => new Promise((resolve) => http.get(new URL(p, addr), { agent }, (res) => {
    let d = '';
    res.on('data', (c) => (d += c));
    res.on('end', () => { try { resolve(JSON.parse(d)); } catch (e) { throw new Error(`GET ${p}: HTTP ${res.statusCode} ${d}`); } });
  }));
  const ort = require('onnxruntime-node');
  const { onnxRuntimeSessionOptions } = require(path.join(ROOT, 'dist/serve/backends/onnxruntime.js'));
  const s = await ort.InferenceSession.create(CLS_MODEL, onnxRuntimeSessionOptions({}));
  const run = async () => {
    const t0 = abs();
    await s.run({ x: new ort.Tensor('float32', x, [1, 3, 48, 192]) });
    return (abs() - t0) * 1000;
  };
  for (let i = 0; i < 50; i++) {
    await one();
    await run();
  }
  await get('/phases');
  const cl = [], inproc = [];
  for (let i = 0; i < N; i++) {
    cl.push(await one());
    inproc.push(await run());
  }
  const srv = await get('/phases');
  const ph = {};
  const add = (k, v) => (ph[k] = ph[k] || []).push(v * 1000);
  srv.forEach((r, i) => {
    const c = cl[i];
    add('client: whole request', c.end - c.send);
    add('client send -> onRequest (two processes)', r.onRequest - c.send);
    add('onRequest -> body received', r.bodyDone - r.onRequest);
    add('body received -> handler', r.handler - r.bodyDone);
    add('handler -> parseJsonBody', r.parse0 - r.handler);
    add('parseJsonBody -> Batcher.submit (decode, checks)', r.submit - r.parse0);
    add('submit -> postMessage (batcher, copy)', r.post0 - r.submit);
    add('postMessage call', r.post1 - r.post0);
    add('postMessage -> session.run starts (hop)', r.run0 - r.post0);
    add('session.run in the worker', r.run1 - r.run0);
    add('session.run ends -> result taken (hop back)', r.recv - r.run1);
    add('result taken -> submit resolved', r.resolved - r.recv);
    add('submit resolved -> onSend (encode)', r.onSend - r.resolved);
    add('onSend -> onResponse (write)', r.onResponse - r.onSend);
    add('onResponse -> client end (two processes)', c.end - r.onResponse);
    add('server: onRequest -> onResponse minus session.run', r.onResponse - r.onRequest - (r.run1 - r.run0));
  });
  console.log(`serve phases at concurrency 1, ${srv.length} requests, load ${os.loadavg().map((v) => v.toFixed(2)).join('/')}: median (min) µs`);
  for (const [k, v] of Object.entries(ph)) console.log(`  ${k.padEnd(52)} ${median(v).toFixed(1).padStart(8)} (${Math.min(...v).toFixed(1)})`);
  console.log(`  ${'in-process session.run (client)'.padEnd(52)} ${median(inproc).toFixed(1).padStart(8)} (${Math.min(...inproc).toFixed(1)})`);
  console.log(`  ${'overhead: median of paired (request - in-process)'.padEnd(52)} ${median(cl.map((c, i) => (c.end - c.send) * 1000 - inproc[i])).toFixed(1).padStart(8)}`);
  agent.destroy();
  child.kill('SIGTERM');
  await s.release();
  fs.rmSync(repo, { recursive: true, force: true });
})();
