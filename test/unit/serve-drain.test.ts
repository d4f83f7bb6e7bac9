/**
 * @jest-environment ./test/unit/quantize.environment.js
 */
/**
 * `tensorrt-node serve` as a real child process (the bin, dist/cli/index.js): SIGTERM while requests are queued
 * and running loses none of them: every accepted request is answered with the right result, the process logs its
 * drain and exits 0. Oracle: PP-OCR det run in-process by onnxruntime-node.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { DET, makeRepo, ocr, tryOrt } from './serve-helpers';

const ort = tryOrt();
const bin = path.join(__dirname, '..', '..', 'dist', 'cli', 'index.js');
const why = !ort ? 'onnxruntime-node (optional dependency) is not installed' : !fs.existsSync(bin) ? 'dist/ is not built (npm run build:ts)' : null;
if (why) console.log(`serve drain test skipped: ${why}`);
const d = why ? describe.skip : describe;

function post(base: string, body: Buffer, headers: Record<string, string>, sent: () => void): Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL('/v2/models/model/infer', base), { method: 'POST', agent: false, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
    });
    req.on('error', reject);
    req.on('finish', sent);
    req.end(body);
  });
}

d('serve: SIGTERM drains (child process)', () => {
  let child: ChildProcess | null = null;
  let repo = '';
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    if (repo) fs.rmSync(repo, { recursive: true, force: true });
  });

  test('every request accepted before SIGTERM is answered correctly, then exit 0', async () => {
    repo = makeRepo();
    const model = path.join(repo, 'det', '1', 'model.onnx');
    child = spawn(process.execPath, [bin, 'serve', model, '--port', '0', '--no-batching', '--drain-timeout', '60'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const base = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 30000);
      child!.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /"address":"(http:\/\/[^"]+)"/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      });
      child!.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
    });
    expect(out).toMatch(/"defaultBackend":"(onnxruntime|tensorrt)"/);

    const p = ocr.page(5, 128, 128);
    const session = await ort!.InferenceSession.create(DET);
    const want = (await session.run({ x: new ort!.Tensor('float32', p, [1, 3, 128, 128]) }))['sigmoid_0.tmp_0']!.data as Float32Array;
    const head = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3, 128, 128], datatype: 'FP32', parameters: { binary_data_size: p.byteLength } }], parameters: { binary_data_output: true } }));
    const body = Buffer.concat([head, Buffer.from(p.buffer, p.byteOffset, p.byteLength)]);
    const hdr = { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.length) };

    const N = 16;
    let sent = 0;
    let answered = 0;
    let allSent: () => void = () => {};
    const sentAll = new Promise<void>((r) => (allSent = r));
    const rs = Array.from({ length: N }, () =>
      post(base, body, hdr, () => {
        if (++sent === N) allSent();
      }).then((r) => {
        answered++;
        return r;
      }));
    await sentAll;
    // accepted = read and handed to the batcher: wait until the server counts every request as in flight or answered
    const inFlight = async () => {
      const m = await new Promise<string>((resolve, reject) => {
        http.get(new URL('/metrics', base), { agent: false }, (res) => {
          let t = '';
          res.on('data', (c: Buffer) => (t += c.toString()));
          res.on('end', () => resolve(t));
        }).on('error', reject);
      });
      return Number(/tensorrt_node_requests_in_flight\{model="model"\} (\d+)/.exec(m)?.[1] ?? 0);
    };
    while ((await inFlight()) + answered < N) await new Promise((r) => setTimeout(r, 5));
    const answeredBeforeSigterm = answered;
    const exited = new Promise<number | null>((r) => child!.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    const results = await Promise.all(rs);
    const code = await exited;
    expect(answeredBeforeSigterm).toBeLessThan(N); // requests were still queued or running at SIGTERM
    for (const r of results) {
      expect(r.status).toBe(200);
      const n = Number(r.headers['inference-header-content-length']);
      const bin = r.body.subarray(n);
      expect(new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length))).toEqual(want);
    }
    expect(code).toBe(0);
    expect(out).toMatch(/SIGTERM: draining/);
    expect(out).toMatch(/"msg":"drained"/);
  });
});
