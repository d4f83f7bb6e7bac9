/**
 * @jest-environment ./test/unit/quantize.environment.js
 */
/**
 * Fault suite, `tensorrt-node serve` as a child process (the built bin, dist/cli/index.js) on loopback: listen
 * failures exit 1 at once with one line and a code (issue 25.3); SIGTERM with a --drain-timeout that passes
 * never aborts the process (25.4); shutdown ends idle and half-sent connections and exits 0 at once when nothing
 * is in flight (26.2); requests sent around SIGTERM get an answer or a 503, never a reset (26.5). Every wait is
 * bounded.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { BIN, CLS, DET as DET_FILE, makeRepo, openPartial, spawnServe, tryOrt } from './serve-helpers';

const ort = tryOrt();
const why = !ort ? 'onnxruntime-node (optional dependency) is not installed' : !fs.existsSync(BIN) ? 'dist/ is not built (npm run build:ts)' : null;
if (why) console.log(`serve fault (CLI) tests skipped: ${why}`);
const d = why ? describe.skip : describe;

d('serve: listen failures (issue 25.3)', () => {
  let busy: net.Server | null = null;
  afterAll(() => busy?.close());

  test('busy port, --port 70000, --host 256.1.1.1: exit 1 within a second of the failure, one line with a code', async () => {
    busy = net.createServer();
    await new Promise<void>((r) => busy!.listen(0, '127.0.0.1', r));
    const port = (busy.address() as net.AddressInfo).port;
    const cases: [string[], RegExp][] = [
      [['--port', String(port)], /^tensorrt-node serve: cannot listen on 127\.0\.0\.1:\d+: the address is already in use.* \[IO_ERROR\]\n$/],
      [['--port', '70000'], /^tensorrt-node serve: --port: '70000' is larger than 65535 \[INVALID_ARGUMENT\]\n$/],
      [['--host', '256.1.1.1', '--port', '0'], /^tensorrt-node serve: cannot listen on 256\.1\.1\.1:0: '256\.1\.1\.1' is not an IP address or a resolvable host name \[INVALID_ARGUMENT\]\n$/],
    ];
    for (const [args, line] of cases) {
      const started = Date.now();
      const s = await spawnServe([CLS, '--log-level', 'silent', ...args]);
      const timer = setTimeout(() => s.child.kill('SIGKILL'), 15000);
      const { code, at } = await s.exited;
      clearTimeout(timer);
      expect(s.base).toBe('');
      expect([code, s.out()]).toEqual([1, expect.stringMatching(line)]);
      // the model loads first (~0.3 s here); the failure then ends the process at once, not after a timeout
      expect(at - started).toBeLessThan(5000);
    }
  });
});

d('serve: the JSON log (issue 25.10)', () => {
  test('every line is JSON: one start line, the default backend\'s reason once, no onnxruntime text lines for a run-time failure', async () => {
    const repo = makeRepo();
    try {
      const s = await spawnServe([repo, '--port', '0', '--log-level', 'info']);
      expect(s.base).not.toBe('');
      const guard = setTimeout(() => s.child.kill('SIGKILL'), 20000);
      // det at 1x3x8x8: onnxruntime fails inside the graph (an Add that cannot broadcast) and logs that itself unless told not to
      expect(await detRequestTo(s.base, 'det', 8, 8)).toBe('400');
      s.child.kill('SIGTERM');
      await s.exited;
      clearTimeout(guard);
      const lines = s.out().split('\n').filter((l) => l !== '');
      const bad = lines.filter((l) => { try { JSON.parse(l); return false; } catch { return true; } });
      expect(bad).toEqual([]);
      const logs = lines.map((l) => JSON.parse(l) as { msg: string; why?: string; address?: string });
      const starts = logs.filter((l) => /^serving \d+ model\(s\) at http:|^Server listening/.test(l.msg));
      expect(starts.map((l) => l.msg)).toEqual([`serving 2 model(s) at ${s.base} (TF Serving REST /v1, KServe v2 /v2, /metrics)`]);
      expect(starts[0]!.address).toBe(s.base);
      const def = logs.find((l) => l.msg.startsWith('default backend: '))!;
      expect(def.why).toMatch(/^default: /);
      const reason = def.why!.slice('default: '.length);
      expect(s.out().split(reason).length - 1).toBe(1);
    } finally {
      fs.rmSync(repo, { recursive: true, force: true });
    }
  });
});

d('serve: a 60 MiB JSON request does not stop the event loop (issue 25.6)', () => {
  test('it is answered like onnxruntime answers it, and health probes are answered while it is parsed', async () => {
    // det at 1x3x1056x1056 as a flat JSON list (~60 MiB), binary output; its latency figures: scripts/bench/serve-large-json.js
    const repo = makeRepo();
    const s = await spawnServe([repo, '--port', '0', '--log-level', 'info']);
    const guard = setTimeout(() => s.child.kill('SIGKILL'), 60000);
    try {
      const n = 3 * 1056 * 1056;
      const x = new Float32Array(n);
      for (let i = 0; i < n; i++) x[i] = Math.fround(Math.sin(i) * 0.5 + 0.123456);
      const data: number[] = Array.from(x);
      const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3, 1056, 1056], datatype: 'FP32', data }], parameters: { binary_data_output: true } }));
      expect(body.length).toBeGreaterThan(60 << 20);
      const http = require('http') as typeof import('http');
      const post = () => new Promise<{ status: number; body: Buffer; headers: import('http').IncomingHttpHeaders }>((resolve, reject) => {
        const req = http.request(new URL('/v2/models/det/infer', s.base), { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': String(body.length) } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks), headers: res.headers }));
        });
        req.on('error', reject);
        req.end(body);
      });
      let done = false;
      const big = post().finally(() => (done = true));
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      let answered = 0;
      let worst = 0;
      while (!done) {
        const t0 = Date.now();
        const st = await new Promise<number>((resolve) => {
          http.get(new URL('/v2/health/live', s.base), { agent }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode!)); }).on('error', () => resolve(0));
        });
        if (!done && st === 200) answered++;
        worst = Math.max(worst, Date.now() - t0);
      }
      agent.destroy();
      const r = await big;
      expect(r.status).toBe(200);
      const hl = Number(r.headers['inference-header-content-length']);
      const out = r.body.subarray(hl);
      const got = new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.length));
      const sess = await ort!.InferenceSession.create(DET_FILE);
      const want = (await sess.run({ x: new ort!.Tensor('float32', x, [1, 3, 1056, 1056]) }))[sess.outputNames[0]!]!.data as Float32Array;
      expect(got).toEqual(want);
      // the baseline, measured here in the same run: JSON.parse of this body on one thread. Parsed on the server's
      // event loop (TENSORRT_NODE_JSON_OFFLOAD_BYTES=Infinity) a probe waits about that long; parsed off it, none
      // waits half of it (the latency figures themselves: scripts/bench/serve-large-json.js, docs/serving.md)
      const t = Date.now();
      JSON.parse(body.toString('utf8'));
      const parseMs = Date.now() - t;
      expect(answered).toBeGreaterThan(20);
      expect([worst < parseMs / 2, `worst probe ${worst} ms, JSON.parse ${parseMs} ms`]).toEqual([true, `worst probe ${worst} ms, JSON.parse ${parseMs} ms`]);
    } finally {
      clearTimeout(guard);
      s.child.kill('SIGTERM');
      await s.exited;
      fs.rmSync(repo, { recursive: true, force: true });
    }
  }, 90000);
});

/** One KServe binary request for det (1x3xHxW), sent on its own connection; resolves with the status or the error code. */
function detRequest(base: string, h: number, w: number): Promise<string> {
  return detRequestTo(base, 'model', h, w);
}

function detRequestTo(base: string, model: string, h: number, w: number): Promise<string> {
   
  const http = require('http') as typeof import('http');
  const x = new Float32Array(3 * h * w).fill(0.5);
  const head = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3, h, w], datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }], parameters: { binary_data_output: true } }));
  const body = Buffer.concat([head, Buffer.from(x.buffer)]);
  return new Promise((resolve) => {
    const req = http.request(new URL(`/v2/models/${model}/infer`, base), { method: 'POST', agent: false, headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.length), 'content-length': String(body.length) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(String(res.statusCode)));
      res.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      res.on('close', () => resolve(res.complete ? String(res.statusCode) : 'aborted'));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    req.end(body);
  });
}

d('serve: SIGTERM faults (issues 25.4, 26.2, 26.5)', () => {
  // det as one model file named model.onnx: the model 'model'
  let repo = '';
  let DET = '';
  beforeAll(() => {
    repo = makeRepo();
    DET = path.join(repo, 'det', '1', 'model.onnx');
  });
  afterAll(() => fs.rmSync(repo, { recursive: true, force: true }));

  test('--drain-timeout 1 with 40 requests queued: exit 1 with its log line, never an abort (5 runs)', async () => {
    const codes: (number | string | null)[] = [];
    for (let run = 0; run < 5; run++) {
      const s = await spawnServe([DET, '--port', '0', '--no-batching', '--drain-timeout', '1', '--log-level', 'info']);
      expect(s.base).not.toBe('');
      const guard = setTimeout(() => s.child.kill('SIGKILL'), 20000);
      const rs = Array.from({ length: 40 }, () => detRequest(s.base, 640, 640));
      await new Promise((r) => setTimeout(r, 1500)); // all 40 read and queued (det at 640x640: ~0.3 s a run here)
      s.child.kill('SIGTERM');
      const { code, signal } = await s.exited;
      clearTimeout(guard);
      await Promise.all(rs);
      codes.push(code ?? signal);
      if (code !== 1) console.log(s.out().slice(-1500));
      expect(s.out()).not.toMatch(/terminate called|Napi::Error|Aborted/);
      expect(s.out()).toMatch(/drain timeout \(1 s\) passed/);
    }
    expect(codes).toEqual([1, 1, 1, 1, 1]);
  });

  test('nothing in flight, an idle and a half-sent connection open: SIGTERM exits 0 within a second', async () => {
    const s = await spawnServe([DET, '--port', '0', '--log-level', 'info']);
    const socks = openPartial(s.base, ['GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n', 'POST /v2/models/model/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"in']);
    await new Promise((r) => setTimeout(r, 300));
    const t = Date.now();
    s.child.kill('SIGTERM');
    const { code, at } = await s.exited;
    socks.forEach((c) => c.destroy());
    expect(code).toBe(0);
    expect(at - t).toBeLessThan(1000);
  });

  test('requests sent around SIGTERM get an answer or a 503, never a reset; keep-alive requests after it get 503 + Connection: close', async () => {
    const s = await spawnServe([DET, '--port', '0', '--log-level', 'info']); // info: the start line spawnServe waits for
    const guard = setTimeout(() => s.child.kill('SIGKILL'), 30000);
    // a keep-alive connection opened before SIGTERM
    const u = new URL(s.base);
    const ka = net.connect(Number(u.port), u.hostname);
    let kaText = '';
    ka.on('data', (c) => (kaText += c.toString('latin1')));
    ka.on('error', () => {});
    ka.write('GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 200));
    const rs = Array.from({ length: 30 }, () => detRequest(s.base, 64, 64));
    s.child.kill('SIGTERM');
    const late = Array.from({ length: 10 }, () => detRequest(s.base, 64, 64));
    // the keep-alive request once the server has taken the signal (a request it read before is rightly a 200)
    for (let i = 0; i < 200 && !/SIGTERM: draining/.test(s.out()); i++) await new Promise((r) => setTimeout(r, 10));
    expect(s.out()).toMatch(/SIGTERM: draining/);
    kaText = '';
    const x = Buffer.from(new Float32Array(3 * 32 * 32).buffer);
    const head = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3, 32, 32], datatype: 'FP32', parameters: { binary_data_size: x.length } }] });
    ka.write(`POST /v2/models/model/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nInference-Header-Content-Length: ${head.length}\r\nContent-Length: ${head.length + x.length}\r\n\r\n${head}`);
    ka.write(x);
    const all = await Promise.all([...rs, ...late]);
    const { code } = await s.exited;
    for (const r of all) expect(['200', '503']).toContain(r);
    expect(kaText).toMatch(/^HTTP\/1\.1 503 /);
    expect(kaText.toLowerCase()).toMatch(/connection: close/);
    clearTimeout(guard);
    expect(code).toBe(0);
    ka.destroy();
  });
});
