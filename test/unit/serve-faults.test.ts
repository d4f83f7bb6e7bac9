/**
 * @jest-environment ./test/unit/quantize.environment.js
 */
/**
 * Fault suite, in process on loopback (issues 25 and 26): client mistakes get a 4xx with a message, never a 500
 * (deep JSON, shapes the model rejects at run time, malformed URLs, unknown versions, malformed chunked bodies);
 * non-finite outputs are never a silent null; encoded bodies are decoded or refused; repository mistakes are
 * loud. Oracle where one applies: the same PP-OCR model run in-process by onnxruntime-node. Every wait is bounded.
 */
import * as fs from 'fs';
import * as net from 'net';
import { createServer, type TensorRTServer } from '../../lib/serve/server';
import { CLS, makeRepo, ocr, openPartial, request, tryOrt } from './serve-helpers';

const ort = tryOrt();
if (!ort) console.log('serve fault tests skipped: onnxruntime-node (optional dependency) is not installed');
const d = ort ? describe : describe.skip;

/** A server on the PP-OCR repository for one describe block: started before its tests, closed and removed after. */
function serveRepo(): { base: string } {
  const st = { base: '' };
  let server: TensorRTServer | undefined;
  let repo = '';
  beforeAll(async () => {
    repo = makeRepo();
    server = await createServer({ model: repo, processMetrics: false });
    st.base = await server.listen({ port: 0 });
  });
  afterAll(async () => {
    await server?.close();
    fs.rmSync(repo, { recursive: true, force: true });
  });
  return st;
}

/** Writes raw bytes on a fresh loopback connection; resolves with what came back once the server closes it or `ms` pass. */
export function raw(base: string, bytes: string | Buffer, ms = 5000): Promise<{ text: string; closed: boolean; elapsed: number }> {
  const u = new URL(base);
  return new Promise((resolve) => {
    const started = Date.now();
    const s = net.connect(Number(u.port), u.hostname);
    let text = '';
    const t = setTimeout(() => {
      s.destroy();
      resolve({ text, closed: false, elapsed: Date.now() - started });
    }, ms);
    s.on('data', (c) => (text += c.toString('latin1')));
    s.on('close', () => {
      clearTimeout(t);
      resolve({ text, closed: true, elapsed: Date.now() - started });
    });
    s.on('error', () => {});
    s.write(bytes);
  });
}

d('serve faults: client mistakes are 4xx, backend faults 5xx (issues 25.5, 25.12, 26.1)', () => {
  const served = serveRepo();
  let base: string;
  beforeAll(() => {
    base = served.base;
  });

  test('JSON nested 10,000 deep: 400 saying so (no stack overflow), on both protocols', async () => {
    const deep = '['.repeat(10000) + '1' + ']'.repeat(10000);
    let r = await request(base, 'POST', '/v1/models/cls:predict', `{"instances": ${deep}}`);
    expect([r.status, r.json().error]).toEqual([400, expect.stringMatching(/nested deeper than \d+ levels/)]);
    r = await request(base, 'POST', '/v2/models/cls/infer', `{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": ${deep}}]}`);
    expect([r.status, r.json().error]).toEqual([400, expect.stringMatching(/nested deeper than \d+ levels/)]);
  });

  test('shapes the model rejects at run time: 400 with onnxruntime\'s message (det 1x3x8x8, a 0 in a non-batch dimension)', async () => {
    const cases: [string, number[]][] = [['det', [1, 3, 8, 8]], ['det', [1, 3, 0, 192]], ['cls', [1, 3, 0, 192]]];
    for (const [model, shape] of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      const r = await request(base, 'POST', `/v2/models/${model}/infer`, { inputs: [{ name: 'x', shape, datatype: 'FP32', data: Array.from({ length: n }, () => 0.5) }] });
      expect([model, shape, r.status]).toEqual([model, shape, 400]);
      expect(r.json().error).toMatch(/^the model cannot run on this input: onnxruntime: Non-zero status code returned while running \w+ node/);
    }
    // the same model then still answers a good request (the failure was the input's, not the backend's)
    const x = ocr.textLine(1);
    const r = await request(base, 'POST', '/v2/models/cls/infer', { inputs: [{ name: 'x', shape: [1, 3, 48, 192], datatype: 'FP32', data: Array.from(x) }] });
    expect(r.status).toBe(200);
  });

  test('malformed percent-escapes in the URL: 400 on both protocols; an escaped name is decoded once', async () => {
    for (const p of ['/v1/models/%zz', '/v1/models/%25zz', '/v1/models/%25zz/metadata', '/v2/models/%zz', '/v2/models/%zz/ready']) {
      const r = await request(base, 'GET', p);
      expect([p, r.status]).toEqual([p, p.includes('%25') ? 404 : 400]);
      expect(r.json().error).toEqual(expect.any(String));
    }
    let r = await request(base, 'POST', '/v1/models/%zz:predict', { instances: [1] });
    expect(r.status).toBe(400);
    r = await request(base, 'GET', '/v1/models/%25zz');
    expect(r.json().error).toMatch(/model '%zz'/); // %25 is '%': decoded once, not twice
    r = await request(base, 'GET', '/v1/models/%63ls'); // 'cls' escaped
    expect(r.status).toBe(200);
  });

  test('an unknown model version is 404 and never runs another version', async () => {
    const body = { inputs: [{ name: 'x', shape: [1, 3, 48, 8], datatype: 'FP32', data: Array.from({ length: 3 * 48 * 8 }, () => 0) }] };
    for (const v of ['2', '0', '99999999999999999999', '9007199254740993']) {
      let r = await request(base, 'POST', `/v2/models/cls/versions/${v}/infer`, body);
      expect([v, r.status, r.json().error]).toEqual([v, 404, expect.stringMatching(/version .*not found|not found.*version/i)]);
      r = await request(base, 'POST', `/v1/models/cls/versions/${v}:predict`, { instances: [[[[0]]]] });
      expect([v, r.status]).toEqual([v, 404]);
    }
    for (const v of ['-1', '1.0', '1e3', 'x', '+1']) {
      const r = await request(base, 'POST', `/v2/models/cls/versions/${v}/infer`, body);
      expect([v, r.status]).toEqual([v, 400]);
    }
  });

  test('malformed chunked bodies are answered 400 at once, not held until a timeout', async () => {
    const head = 'POST /v2/models/cls/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
    for (const bad of ['zz\r\n{}\r\n0\r\n\r\n', '2\r\n{}XX0\r\n\r\n', '-1\r\n{}\r\n0\r\n\r\n', '2;\x01\r\n{}\r\n0\r\n\r\n']) {
      const r = await raw(base, head + bad, 5000);
      expect([JSON.stringify(bad), r.closed]).toEqual([JSON.stringify(bad), true]);
      expect(r.text).toMatch(/^HTTP\/1\.1 400 /);
      expect(r.elapsed).toBeLessThan(2000);
    }
  });
});

d('serve faults: overload is refused before the body is read (issue 26.4)', () => {
  test('a full queue answers 503 + Retry-After to a request whose body has not even been sent', async () => {
    // det, one request running and at most one waiting or arriving (maxQueueSize 1, no batching)
    const repo = makeRepo({ 'det/config.json': JSON.stringify({ dynamicBatching: { enabled: false, maxQueueSize: 1 } }) });
    const srv = await createServer({ model: repo, processMetrics: false });
    try {
      const base = await srv.listen({ port: 0 });
      const x = new Float32Array(3 * 960 * 960).fill(0.5); // det at 960x960: about a second a run here
      const head = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3, 960, 960], datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }], parameters: { binary_data_output: true } }));
      const body = Buffer.concat([head, Buffer.from(x.buffer)]);
      const hdrs = { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.length) };
      // one running, then one queued (each waited for, bounded): the queue is full
      const mv = srv.repository.get('det');
      const until = async (ok: () => boolean) => {
        for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
      };
      const busy = [request(base, 'POST', '/v2/models/det/infer', body, hdrs)];
      await until(() => mv.batcher.inFlight === 1);
      busy.push(request(base, 'POST', '/v2/models/det/infer', body, hdrs));
      await until(() => mv.batcher.queueDepth === 1);
      expect([mv.batcher.inFlight, mv.batcher.queueDepth]).toEqual([1, 1]);
      // headers only, Content-Length announced, no body sent: answered at once
      const r = await raw(base, `POST /v2/models/det/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nInference-Header-Content-Length: ${head.length}\r\nContent-Length: ${body.length}\r\n\r\n`, 3000);
      expect(r.text).toMatch(/^HTTP\/1\.1 503 /);
      expect(r.text).toMatch(/\r\nretry-after: 1\r\n/i);
      expect(r.text).toContain(`the model's queue is full (1 requests waiting or arriving); retry later`);
      expect(r.elapsed).toBeLessThan(2000);
      // TF Serving's route too, and the two busy requests are answered normally
      const t = await raw(base, `POST /v1/models/det:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`, 3000);
      expect(t.text).toMatch(/^HTTP\/1\.1 503 /);
      expect((await Promise.all(busy)).map((b) => b.status)).toEqual([200, 200]);
      // once the queue has room again, the same request is served
      expect((await request(base, 'POST', '/v2/models/det/infer', body, hdrs)).status).toBe(200);
    } finally {
      await srv.close();
      fs.rmSync(repo, { recursive: true, force: true });
    }
  });
});

d('serve faults: Content-Encoding (issue 26.9)', () => {
  const served = serveRepo();
  const zlib = require('zlib') as typeof import('zlib');
  const x = ocr.textLine(4);
  const body = () => Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3, 48, 192], datatype: 'FP32', data: Array.from(x) }] }));

  test('gzip and deflate bodies are decoded (outputs equal onnxruntime\'s); br is 415, a broken gzip stream 400', async () => {
    const sess = await ort!.InferenceSession.create(CLS);
    const want = Array.from((await sess.run({ x: new ort!.Tensor('float32', x, [1, 3, 48, 192]) }))[sess.outputNames[0]!]!.data as Float32Array);
    for (const [enc, data] of [['gzip', zlib.gzipSync(body())], ['deflate', zlib.deflateSync(body())], ['identity', body()]] as const) {
      const r = await request(served.base, 'POST', '/v2/models/cls/infer', data, { 'content-encoding': enc });
      expect([enc, r.status]).toEqual([enc, 200]);
      expect(Float32Array.from(r.json().outputs[0].data)).toEqual(Float32Array.from(want));
    }
    let r = await request(served.base, 'POST', '/v2/models/cls/infer', zlib.brotliCompressSync(body()), { 'content-encoding': 'br' });
    expect([r.status, r.json().error]).toEqual([415, "Content-Encoding 'br' is not supported (gzip, deflate or identity)"]);
    r = await request(served.base, 'POST', '/v1/models/cls:predict', zlib.gzipSync(body()).subarray(0, 40), { 'content-encoding': 'gzip' });
    expect([r.status, r.json().error]).toEqual([400, expect.stringMatching(/^the request body is not valid gzip data: /)]);
  });

  test('a gzip body that decodes to more than the body limit is 413, never inflated past it', async () => {
    const srv = await createServer({ model: CLS, processMetrics: false, bodyLimit: 1 << 20 });
    try {
      const base = await srv.listen({ port: 0 });
      const bomb = zlib.gzipSync(Buffer.alloc(64 << 20, 0x20)); // 64 MiB of spaces: ~64 KiB compressed
      const r = await request(base, 'POST', '/v2/models/ch_ppocr_mobile_v2.0_cls_infer/infer', bomb, { 'content-encoding': 'gzip' });
      expect([r.status, r.json().error]).toEqual([413, 'the request body, decoded (gzip), is larger than the limit of 1048576 bytes (--max-body-size)']);
    } finally {
      await srv.close();
    }
  });
});

d('serve faults: non-finite outputs are never a silent null (issue 26.6)', () => {
  const served = serveRepo();
  let base: string;
  beforeAll(() => {
    base = served.base;
  });

  test('NaN outputs: JSON carries the bare NaN token (as TF Serving writes it), binary the IEEE bits; oracle onnxruntime', async () => {
    const x = ocr.textLine(3);
    x[5] = NaN;
    const sess = await ort!.InferenceSession.create(CLS);
    const want = (await sess.run({ x: new ort!.Tensor('float32', x, [1, 3, 48, 192]) }))[sess.outputNames[0]!]!.data as Float32Array;
    expect(Array.from(want).some((v) => !Number.isFinite(v))).toBe(true); // the oracle's output is non-finite too
    const head = (bin: boolean) => Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3, 48, 192], datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }], parameters: { binary_data_output: bin } }));
    for (const bin of [false, true]) {
      const h = head(bin);
      const r = await request(base, 'POST', '/v2/models/cls/infer', Buffer.concat([h, Buffer.from(x.buffer)]), { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(h.length) });
      expect(r.status).toBe(200);
      if (!bin) {
        const text = r.body.toString();
        expect(text).not.toMatch(/null/);
        // Python's json.loads reads these tokens; here: the same rule by hand
        const got = JSON.parse(text.replace(/-?Infinity|NaN/g, (t) => `"${t}"`)).outputs[0].data.map((v: number | string) => (typeof v === 'string' ? Number(v) : v));
        expect(Float32Array.from(got)).toEqual(want);
      } else {
        const n = Number(r.headers['inference-header-content-length']);
        const b = r.body.subarray(n);
        expect(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length))).toEqual(want);
      }
    }
  });

  test('stringifyResponse writes NaN, Infinity, -Infinity for float outputs and leaves strings alone', () => {
     
    const { toJsonValues, stringifyResponse } = require('../../lib/serve/tensor') as typeof import('../../lib/serve/tensor');
    const vals = toJsonValues({ dtype: 'float32', data: Float32Array.from([1.5, NaN, Infinity, -Infinity]) });
    expect(stringifyResponse({ id: 'NaN', outputs: [{ data: vals }] })).toBe('{"id":"NaN","outputs":[{"data":[1.5,NaN,Infinity,-Infinity]}]}');
  });
});

d('serve faults: repository mistakes are loud; readiness is strict by default (issue 25.9)', () => {
  test('config.json allowSpinning: true loads onnxruntime with spinning pool threads; a non-boolean is refused, naming the key', async () => {
    const repo = makeRepo({ 'spin/1/model.onnx': fs.readFileSync(CLS), 'spin/config.json': JSON.stringify({ allowSpinning: true }), 'badspin/1/model.onnx': fs.readFileSync(CLS), 'badspin/config.json': JSON.stringify({ allowSpinning: 'yes' }) });
    const server = await createServer({ model: repo, processMetrics: false, strictReadiness: false });
    try {
      const base = await server.listen({ port: 0 });
      expect((await request(base, 'GET', '/v2/models/spin/ready')).status).toBe(200);
      const bad = await request(base, 'GET', '/v2/models/badspin');
      expect([bad.status, bad.json().error]).toEqual([404, expect.stringMatching(/config\.json: allowSpinning must be true or false/)]);
    } finally {
      await server.close();
      fs.rmSync(repo, { recursive: true, force: true });
    }
  });

  test('misspelt model file, no version folder, latest/, a model that fails to load: a log line each, 404 with why, not ready', async () => {
    const repo = makeRepo({ 'typo/1/modle.onnx': fs.readFileSync(CLS), 'noversion/model.onnx': fs.readFileSync(CLS), 'latestonly/latest/model.onnx': fs.readFileSync(CLS), 'broken/1/model.onnx': 'not an onnx model' });
    const logs: string[] = [];
    const logger = { level: 'info', stream: { write: (l: string) => logs.push(l) } };
    for (const strict of [true, false]) {
      const server = await createServer({ model: repo, processMetrics: false, logger, strictReadiness: strict });
      try {
        const base = await server.listen({ port: 0 });
        const all = logs.join('');
        expect(all).toMatch(/model typo not loaded: no version of typo can be loaded: 1\/ has no model file \(found modle\.onnx; expected one of model\.engine/);
        expect(all).toMatch(/model noversion not loaded: noversion has no version folder \(expected noversion\/<n>\/model\.onnx .*found model\.onnx\)/);
        expect(all).toMatch(/model latestonly not loaded: .*'latest\/' is not a version/);
        expect(all).toMatch(/"model":"broken".*model version failed to load/);
        for (const [m, why] of [['typo', /modle\.onnx/], ['noversion', /no version folder/], ['latestonly', /latest/], ['broken', /onnxruntime cannot load/]] as const) {
          for (const p of [`/v2/models/${m}`, `/v1/models/${m}`]) {
            const r = await request(base, 'GET', p);
            expect([p, r.status, r.json().error]).toEqual([p, 404, expect.stringMatching(why)]);
          }
        }
        const ready = await request(base, 'GET', '/v2/health/ready');
        expect([strict, ready.status]).toEqual([strict, strict ? 503 : 200]);
        expect((await request(base, 'GET', '/v2/models/cls/ready')).status).toBe(200); // a loaded model is ready itself
        expect((await request(base, 'GET', '/v2/health/live')).status).toBe(200);
      } finally {
        await server.close();
      }
      logs.length = 0;
    }
    fs.rmSync(repo, { recursive: true, force: true });
  });
});

d('serve faults: header and body timeouts; shutdown ends connections without a request in flight (issues 26.2, 26.3, 25.12)', () => {
  test('half-sent headers, half-sent body, truncated chunked body: 408 and closed once the timeouts pass', async () => {
    const repo = makeRepo();
    const server = await createServer({ model: repo, processMetrics: false, headersTimeoutMs: 400, bodyTimeoutMs: 800 });
    try {
      const base = await server.listen({ port: 0 });
      const head = (extra: string) => `POST /v2/models/cls/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${extra}`;
      const cases: [string, string][] = [
        ['partial headers', 'POST /v2/models/cls/infer HTTP/1.1\r\nHost: x\r\n'],
        ['partial body', head('Content-Length: 1000\r\n\r\n{"inputs": [')],
        ['truncated chunked body', head('Transfer-Encoding: chunked\r\n\r\n10\r\n{"inputs": [')],
      ];
      const rs = await Promise.all(cases.map(([, b]) => raw(base, b, 6000)));
      rs.forEach((r, i) => {
        expect([cases[i]![0], r.closed]).toEqual([cases[i]![0], true]);
        expect(r.text).toMatch(/^(HTTP\/1\.1 408 |$)/);
        expect(r.elapsed).toBeGreaterThanOrEqual(350);
        expect(r.elapsed).toBeLessThan(3000);
      });
    } finally {
      await server.close();
      fs.rmSync(repo, { recursive: true, force: true });
    }
  });

  test('close() with an idle keep-alive socket, half-sent headers and a half-sent body: done within a second', async () => {
    const repo = makeRepo();
    const server = await createServer({ model: repo, processMetrics: false });
    const base = await server.listen({ port: 0 });
    const socks = openPartial(base, ['GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n', 'POST /v2/models/cls/infer HTTP/1.1\r\nHost: x\r\n', 'POST /v2/models/cls/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"in']);
    await new Promise((r) => setTimeout(r, 200));
    const t = Date.now();
    await server.close();
    expect(Date.now() - t).toBeLessThan(1000);
    for (const s of socks) s.destroy();
    fs.rmSync(repo, { recursive: true, force: true });
  });
});
