/**
 * @jest-environment ./test/unit/quantize.environment.js
 */
/**
 * `tensorrt-node serve` (the CLI, as a child process, HTTP and --grpc-port) checked by the clients people use:
 *   - NVIDIA's tritonclient.http (JSON, binary tensor extension, async) and tritonclient.grpc (raw tensors, async,
 *     model config, statistics), plus the protocol's compiled stubs shipped with tritonclient for typed contents
 *     (test/python/serve_clients.py);
 *   - KServe's SDK: InferenceRESTClient (v2 REST) and InferenceGRPCClient (test/python/serve_kserve_client.py);
 *   - TF Serving's REST API document (https://www.tensorflow.org/tfx/serving/api_rest): its request forms replayed
 *     over plain HTTP, the responses compared field for field with the documented shapes.
 * Every output tensor is compared with onnxruntime-node run in-process on the same inputs. Models: two small
 * ONNX graphs with FP32, FP16, INT64 and BOOL inputs and outputs (helpers/dtype-models.ts), and one with BYTES
 * (string) inputs and outputs beside FP32 ones, served apart (test/python/serve_clients_bytes.py).
 * The Python clients come from requirements-test.txt in .cache/venv (scripts/python-env.js).
 */
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import { halfToFloat } from '../../lib/dtypes';
import { inferenceService } from '../../lib/serve/grpc/server';
import { affineModel, mixedModel, stringsModel } from './helpers/dtype-models';
import { request, tryOrt } from './serve-helpers';

 
const { ensurePython } = require('../../scripts/python-env.js') as { ensurePython(o?: { quiet?: boolean }): { python: string | null; reason: string | null } };

const ort = tryOrt();
const ROOT = path.join(__dirname, '..', '..');
const bin = path.join(ROOT, 'dist', 'cli', 'index.js');
const py = !ort || !fs.existsSync(bin) ? { python: null, reason: null } : ensurePython({ quiet: true });
const why = !ort ? 'onnxruntime-node (optional dependency) is not installed' : !fs.existsSync(bin) ? 'dist/ is not built (npm run build:ts)' : py.python ? null : `no Python test environment (${py.reason})`;
if (why) console.log(`serve client conformance tests skipped: ${why}`);
const d = why ? describe.skip : describe;

interface Enc { dtype: string; shape: number[]; b64: string }
interface Case<T = any> { ok: boolean; value: T; error: { type: string; status: string; message: string } } // eslint-disable-line @typescript-eslint/no-explicit-any -- each case's value is whatever the Python client returned as JSON

const ARR: Record<string, (b: ArrayBuffer) => ArrayLike<number | bigint>> = {
  float32: (b) => new Float32Array(b), float16: (b) => new Uint16Array(b), int64: (b) => new BigInt64Array(b), bool: (b) => new Uint8Array(b),
};
const ORT_TYPE: Record<string, string> = { float32: 'float32', float16: 'float16', int64: 'int64', bool: 'bool' };

function decode(t: Enc): { dtype: string; shape: number[]; data: ArrayLike<number | bigint> } {
  const raw = Buffer.from(t.b64, 'base64');
  const ab = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
  return { dtype: t.dtype, shape: t.shape, data: ARR[t.dtype]!(ab) };
}

/** `got` equals onnxruntime's output: same dtype and shape, FP32 within 1e-6, all else bit for bit. */
function expectSame(got: Enc, want: { type: string; dims: readonly number[]; data: ArrayLike<number | bigint> }): void {
  const g = decode(got);
  expect([g.dtype, g.shape]).toEqual([want.type, [...want.dims]]);
  const a = Array.from(g.data as ArrayLike<number>);
  const b = Array.from(want.data as ArrayLike<number>);
  if (g.dtype === 'float32') {
    expect(a.length).toBe(b.length);
    a.forEach((v, i) => expect(Math.abs(v - b[i]!)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(b[i]!))));
  } else {
    expect(a.map(String)).toEqual(b.map(String));
  }
}

function startServe(repo: string): Promise<{ child: ChildProcess; http: string; grpc: string; log: () => string }> {
  const child = spawn(process.execPath, [bin, 'serve', repo, '--port', '0', '--grpc-port', '0', '--backend', 'onnxruntime'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 60000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const h = /"address":"http:\/\/([^"]+)"/.exec(out);
      const g = /"grpcAddress":"([^"]+)"/.exec(out);
      if (h && g) {
        clearTimeout(t);
        resolve({ child, http: h[1]!, grpc: g[1]!, log: () => out });
      }
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
}

function runPython(script: string, args: string[]): Record<string, Case> {
  const r = spawnSync(py.python!, [path.join(ROOT, 'test', 'python', script), ...args], { encoding: 'utf8', timeout: 240000, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${script} exited with ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

d('serve with real clients (tritonclient, KServe SDK, TF Serving REST document)', () => {
  let server: Awaited<ReturnType<typeof startServe>> | null = null;
  let repo = '';
  let R: Record<string, Case> = {};
  let K: Record<string, Case> = {};
  let inputs: Record<string, Enc> = {};
  // onnxruntime's outputs on the clients' inputs
  let mixedWant: Record<string, { type: string; dims: readonly number[]; data: ArrayLike<number | bigint> }> = {};
  let affineWant: { type: string; dims: readonly number[]; data: ArrayLike<number | bigint> };
  let affineSession: import('onnxruntime-node').InferenceSession;

  beforeAll(async () => {
    repo = fs.mkdtempSync(path.join(os.tmpdir(), 'tensorrt-node-clients-'));
    for (const [name, bytes] of [['affine', affineModel()], ['mixed', mixedModel()]] as const) {
      fs.mkdirSync(path.join(repo, name, '1'), { recursive: true });
      fs.writeFileSync(path.join(repo, name, '1', 'model.onnx'), bytes);
    }
    server = await startServe(repo);
    R = runPython('serve_clients.py', [server.http, server.grpc]);
    inputs = (R.inputs as unknown as Record<string, Enc>);
    const inFile = path.join(repo, 'inputs.json');
    fs.writeFileSync(inFile, JSON.stringify(inputs));
    K = runPython('serve_kserve_client.py', [server.http, server.grpc, inFile]);

    const mixed = await ort!.InferenceSession.create(path.join(repo, 'mixed', '1', 'model.onnx'));
    const feeds: Record<string, import('onnxruntime-node').Tensor> = {};
    for (const n of ['x', 'h', 'k', 'b']) {
      const t = decode(inputs[n]!);
      feeds[n] = new ort!.Tensor(ORT_TYPE[t.dtype] as 'float32', t.data as Float32Array, t.shape);
    }
    const out = await mixed.run(feeds);
    mixedWant = Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { type: v.type, dims: v.dims, data: v.data as ArrayLike<number> }]));
    affineSession = await ort!.InferenceSession.create(path.join(repo, 'affine', '1', 'model.onnx'));
    const a = decode(inputs.affine_x!);
    const y = (await affineSession.run({ x: new ort!.Tensor('float32', a.data as Float32Array, a.shape) })).y!;
    affineWant = { type: y.type, dims: y.dims, data: y.data as Float32Array };
  }, 25 * 60 * 1000);

  afterAll(() => {
    if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
    if (repo) fs.rmSync(repo, { recursive: true, force: true });
  });

  const ok = (name: string, from: () => Record<string, Case> = () => R) => {
    const c = from()[name];
    if (!c) throw new Error(`no result for ${name}`);
    if (!c.ok) throw new Error(`${name} failed: ${JSON.stringify(c.error)}\n${(c as unknown as { trace?: string }).trace ?? ''}`);
    return c.value;
  };
  const raised = (name: string) => {
    const c = R[name]!;
    expect(c.ok).toBe(false);
    return c.error;
  };

  describe.each(['http', 'grpc'])('tritonclient.%s', (p) => {
    test('liveness, readiness, model readiness', () => {
      expect([ok(`${p}.live`), ok(`${p}.ready`), ok(`${p}.model_ready`)]).toEqual([true, true, true]);
    });
    test('server and model metadata', () => {
      expect(ok(`${p}.server_metadata`)).toMatchObject({ name: 'tensorrt-node', version: expect.any(String) });
      const m = ok(`${p}.model_metadata`);
      const shape = (s: (string | number)[]) => s.map(Number); // the gRPC client's JSON writes int64 as strings
      expect({ ...m, inputs: m.inputs.map((t: { shape: number[] }) => ({ ...t, shape: shape(t.shape) })), outputs: m.outputs.map((t: { shape: number[] }) => ({ ...t, shape: shape(t.shape) })) }).toEqual({
        name: 'mixed', versions: ['1'], platform: 'onnxruntime_onnx',
        inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }, { name: 'h', datatype: 'FP16', shape: [-1, 4] }, { name: 'k', datatype: 'INT64', shape: [-1, 3] }, { name: 'b', datatype: 'BOOL', shape: [-1, 2] }],
        outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 3] }, { name: 'hy', datatype: 'FP16', shape: [-1, 4] }, { name: 'ky', datatype: 'INT64', shape: [-1, 3] }, { name: 'nb', datatype: 'BOOL', shape: [-1, 2] }],
      });
    });
    // infer_gzip / infer_deflate: request_compression_algorithm (the body sent with Content-Encoding)
    const infers = p === 'http' ? ['infer_json', 'infer_binary', 'infer_async', 'infer_gzip', 'infer_deflate'] : ['infer', 'infer_version', 'infer_async'];
    test.each(infers)('%s: FP32, FP16, INT64, BOOL outputs equal onnxruntime on the same inputs', (c) => {
      const v = ok(`${p}.${c}`);
      for (const o of ['y', 'hy', 'ky', 'nb']) expectSame(v.outputs[o], mixedWant[o]!);
      expect(v.response).toMatchObject({ model_name: 'mixed', model_version: '1' });
      expect(v.response.id).toBe(p === 'http' ? (c === 'infer_async' ? 'a1' : 'r1') : c === 'infer_async' ? 'ga' : 'g1');
    });
    const codes = p === 'http'
      ? { model: '404', name: '400', shape: '400', dtype: '400', bytes: '400', output: '400' }
      : { model: 'StatusCode.NOT_FOUND', name: 'StatusCode.INVALID_ARGUMENT', shape: 'StatusCode.INVALID_ARGUMENT', dtype: 'StatusCode.INVALID_ARGUMENT', bytes: 'StatusCode.INVALID_ARGUMENT', output: 'StatusCode.INVALID_ARGUMENT' };
    test('client mistakes raise InferenceServerException with the protocol status and a message saying what was expected', () => {
      const msgs = { model: /model 'nope' \(models: affine, mixed\)/, name: /unknown input 'z'.*inputs are x/, shape: /shape \[3, 5\] does not match the model's \[-1, 4\]/, dtype: /expected datatype FP32; got FP64/, bytes: /BYTES/, output: /unknown output .nope./ };
      for (const [k, status] of Object.entries(codes)) {
        const e = raised(`${p}.err_${k}`);
        expect([k, e.type, e.status]).toEqual([k, 'InferenceServerException', status]);
        expect(e.message).toMatch(msgs[k as keyof typeof msgs]);
      }
    });
  });

  test('tritonclient.http: a one-input model (affine) equals onnxruntime', () => {
    expectSame(ok('http.infer_affine').outputs.y, affineWant);
  });

  test('tritonclient.grpc: an unknown version is NOT_FOUND', () => {
    expect(raised('grpc.err_version')).toMatchObject({ status: 'StatusCode.NOT_FOUND', message: expect.stringMatching(/version 7 \(available: 1\)/) });
  });

  test('tritonclient.grpc: model config (Triton form: dims without the batch dimension) and statistics', () => {
    const c = ok('grpc.model_config').config;
    expect(c).toMatchObject({ name: 'mixed', platform: 'onnxruntime_onnx', backend: 'onnxruntime', max_batch_size: 8 });
    expect(c.input.map((i: { name: string; data_type: string; dims: string[] }) => [i.name, i.data_type, i.dims.map(Number)])).toEqual([
      ['x', 'TYPE_FP32', [4]], ['h', 'TYPE_FP16', [4]], ['k', 'TYPE_INT64', [3]], ['b', 'TYPE_BOOL', [2]],
    ]);
    expect(c.output.map((i: { name: string }) => i.name)).toEqual(['y', 'hy', 'ky', 'nb']);
    const s = ok('grpc.statistics').model_stats;
    expect(s).toHaveLength(1);
    // 5 HTTP (json, binary, async, gzip, deflate) + 3 gRPC requests of 2 rows reached `mixed` before the statistics
    // call (both protocols share the batcher)
    expect(s[0]).toMatchObject({ name: 'mixed', version: '1', inference_count: '16' });
    expect(Number(s[0].execution_count)).toBeGreaterThanOrEqual(1);
    expect(Number(s[0].inference_stats.success.count)).toBe(8);
    expect(Number(s[0].inference_stats.compute_infer.ns)).toBeGreaterThan(0);
  });

  test('protocol stubs: typed contents are decoded; FP16 typed, wrong value counts and raw/input mismatches are INVALID_ARGUMENT; unknown model NOT_FOUND', () => {
    const v = ok('stub.typed_affine');
    expectSame(v.outputs.y, affineWant);
    expect([v.model_name, v.model_version, v.id]).toEqual(['affine', '1', 't1']);
    expect(ok('stub.err_fp16_typed')).toEqual({ code: 'INVALID_ARGUMENT', details: expect.stringMatching(/FP16 values travel only in raw_input_contents/) });
    expect(ok('stub.err_value_count')).toEqual({ code: 'INVALID_ARGUMENT', details: expect.stringMatching(/needs 12 values; contents.fp32_contents has 2/) });
    expect(ok('stub.err_raw_count')).toEqual({ code: 'INVALID_ARGUMENT', details: expect.stringMatching(/1 buffers for 4 inputs/) });
    expect(ok('stub.err_model_ready_unknown')).toEqual({ code: 'NOT_FOUND', details: expect.stringMatching(/model 'nope'/) });
    expect(ok('stub.err_bad_version')).toEqual({ code: 'INVALID_ARGUMENT', details: expect.stringMatching(/positive integer/) });
  });

  test.each(['rest', 'grpc'])("KServe SDK's %s client: live, ready, model ready, infer equal onnxruntime", (p) => {
    const v = ok(`kserve.${p}`, () => K);
    expect([v.live, v.ready, v.model_ready]).toEqual([true, true, true]);
    for (const o of ['y', 'hy', 'ky', 'nb']) expectSame(v.outputs[o], mixedWant[o]!);
    if (p === 'rest') expect(v.err_model).toMatchObject({ type: 'HTTPStatusError', message: expect.stringMatching(/404/) });
  });

  test('/metrics counts the gRPC requests under protocol="kserve-grpc" with their status', async () => {
    const m = (await request(`http://${server!.http}`, 'GET', '/metrics')).body.toString();
    expect(m).toMatch(/tensorrt_node_requests_total\{model="mixed",protocol="kserve-grpc",code="OK"\} [1-9]/);
    expect(m).toMatch(/tensorrt_node_requests_total\{model="affine",protocol="kserve-grpc",code="INVALID_ARGUMENT"\} [1-9]/);
    expect(m).toMatch(/tensorrt_node_requests_total\{model="nope",protocol="kserve-grpc",code="NOT_FOUND"\} [1-9]/);
    expect(m).not.toMatch(/protocol="kserve-grpc",code="INTERNAL"/);
  });

  // ------------------------------------------------------------------------------ TF Serving's REST API document
  describe("TF Serving REST API document's forms", () => {
    const base = () => `http://${server!.http}`;
    const post = (p: string, body: object) => request(base(), 'POST', p, body);
    const A = () => decode(inputs.affine_x!);
    const rows = (flat: ArrayLike<number>, shape: number[]) => Array.from({ length: shape[0]! }, (_, i) => Array.from(flat as ArrayLike<number>).slice(i * shape[1]!, (i + 1) * shape[1]!));
    const want = () => rows(affineWant.data as Float32Array, [...affineWant.dims]);
    const close = (got: number[][]) => {
      expect(got.map((r) => r.length)).toEqual(want().map((r) => r.length));
      got.forEach((r, i) => r.forEach((v, j) => expect(Math.abs(v - want()[i]![j]!)).toBeLessThan(1e-6)));
    };

    test('GET /v1/models/<m>: model_version_status as documented', async () => {
      const r = await request(base(), 'GET', '/v1/models/affine');
      expect([r.status, r.json()]).toEqual([200, { model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] }]);
    });

    test('GET /v1/models/<m>/metadata: model_spec and signature_def as documented', async () => {
      const r = await request(base(), 'GET', '/v1/models/affine/metadata');
      const dims = (s: number[]) => ({ dim: s.map((d) => ({ size: String(d), name: '' })), unknown_rank: false });
      expect([r.status, r.json()]).toEqual([200, {
        model_spec: { name: 'affine', signature_name: '', version: '1' },
        metadata: {
          signature_def: {
            signature_def: {
              serving_default: {
                inputs: { x: { dtype: 'DT_FLOAT', tensor_shape: dims([-1, 4]), name: 'x' } },
                outputs: { y: { dtype: 'DT_FLOAT', tensor_shape: dims([-1, 3]), name: 'y' } },
                method_name: 'tensorflow/serving/predict',
              },
            },
          },
          platform: 'onnxruntime_onnx',
        },
      }]);
    });

    test('row format {"instances": [...]} -> {"predictions": [...]}, with and without signature_name', async () => {
      const a = A();
      for (const body of [{ instances: rows(a.data as Float32Array, a.shape) }, { signature_name: 'serving_default', instances: rows(a.data as Float32Array, a.shape) }]) {
        const r = await post('/v1/models/affine:predict', body);
        expect([r.status, Object.keys(r.json())]).toEqual([200, ['predictions']]);
        close(r.json().predictions);
      }
    });

    test('columnar format {"inputs": ...} -> {"outputs": ...}', async () => {
      const a = A();
      const r = await post('/v1/models/affine:predict', { inputs: rows(a.data as Float32Array, a.shape) });
      expect([r.status, Object.keys(r.json())]).toEqual([200, ['outputs']]);
      close(r.json().outputs);
      const named = await post('/v1/models/affine:predict', { inputs: { x: rows(a.data as Float32Array, a.shape) } });
      close(named.json().outputs);
    });

    test('{"b64": ...} values (raw bytes of one instance each / of the whole input)', async () => {
      const a = A();
      const f = a.data as Float32Array;
      const inst = Array.from({ length: 3 }, (_, i) => ({ b64: Buffer.from(f.buffer, f.byteOffset + i * 16, 16).toString('base64') }));
      const r = await post('/v1/models/affine:predict', { instances: inst });
      expect(r.status).toBe(200);
      close(r.json().predictions);
      const col = await post('/v1/models/affine:predict', { inputs: { x: { b64: Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64') } } });
      expect(col.status).toBe(200);
      close(col.json().outputs);
    });

    test('several named inputs and outputs: row predictions are objects per instance, columnar outputs an object per name', async () => {
      const x = rows(decode(inputs.x!).data as Float32Array, [2, 4]);
      const k = rows(Array.from(decode(inputs.k!).data as BigInt64Array, Number), [2, 3]);
      const b = rows(Array.from(decode(inputs.b!).data as Uint8Array), [2, 2]).map((r) => r.map((v) => v === 1));
      const hRaw = decode(inputs.h!).data as Uint16Array;
      // FP16 as JSON numbers: the half values widened exactly to float32 (JSON carries them as decimals)
      const hf = Array.from(hRaw, halfToFloat);
      const h = rows(hf, [2, 4]);
      const r = await post('/v1/models/mixed:predict', { instances: [0, 1].map((i) => ({ x: x[i], h: h[i], k: k[i], b: b[i] })) });
      expect(r.status).toBe(200);
      const preds = r.json().predictions;
      expect(preds.map((p: object) => Object.keys(p).sort())).toEqual([['hy', 'ky', 'nb', 'y'], ['hy', 'ky', 'nb', 'y']]);
      const ky = rows(Array.from(mixedWant.ky!.data as BigInt64Array, Number), [2, 3]);
      const nb = rows(Array.from(mixedWant.nb!.data as Uint8Array), [2, 2]).map((rw) => rw.map((v) => v === 1));
      expect(preds.map((p: { ky: number[] }) => p.ky)).toEqual(ky);
      expect(preds.map((p: { nb: boolean[] }) => p.nb)).toEqual(nb);
      const y = rows(mixedWant.y!.data as Float32Array, [2, 3]);
      preds.forEach((p: { y: number[] }, i: number) => p.y.forEach((v, j) => expect(Math.abs(v - y[i]![j]!)).toBeLessThan(1e-6)));
      const hy = rows(Array.from(mixedWant.hy!.data as Uint16Array, halfToFloat), [2, 4]);
      expect(preds.map((p: { hy: number[] }) => p.hy)).toEqual(hy);
      const col = await post('/v1/models/mixed:predict', { inputs: { x, h, k, b } });
      expect([col.status, Object.keys(col.json().outputs).sort()]).toEqual([200, ['hy', 'ky', 'nb', 'y']]);
      expect(col.json().outputs.ky).toEqual(ky);
    });

    test(':classify and :regress answer 400 {"error"} naming the predict-only signature; an unknown signature_name is 400', async () => {
      const a = A();
      for (const m of ['classify', 'regress']) {
        const r = await post(`/v1/models/affine:${m}`, { examples: [{ x: Array.from(a.data as Float32Array).slice(0, 4) }] });
        expect([r.status, r.json()]).toEqual([400, { error: expect.stringMatching(new RegExp(`:${m} is not supported .*predict`)) }]);
      }
      const r = await post('/v1/models/affine:predict', { signature_name: 'classify_x', instances: [[1, 2, 3, 4]] });
      expect([r.status, r.json()]).toEqual([400, { error: expect.stringMatching(/signature_name "classify_x" not found/) }]);
      const nf = await request(base(), 'GET', '/v1/models/nope');
      expect([nf.status, Object.keys(nf.json())]).toEqual([404, ['error']]);
    });
  });

  test('gRPC while draining: SIGTERM, then new calls get UNAVAILABLE (never INTERNAL) and serve exits 0', async () => {
    // The protocol's own service definition (service-proto.ts) through @grpc/grpc-js as the client here: the
    // Python clients above already checked it against tritonclient's compiled protos.
    const Client = grpc.makeGenericClientConstructor(inferenceService(), 'GRPCInferenceService');
    const client = new Client(server!.grpc, grpc.credentials.createInsecure()) as unknown as Record<string, (req: object, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void>;
    const call = (m: string, req: object) => new Promise<{ code: number; value: unknown }>((resolve) => client[m]!.call(client, req, (e, r) => resolve({ code: e ? e.code : 0, value: r })));
    expect(await call('ServerReady', {})).toEqual({ code: 0, value: { ready: true } });
    const a = decode(inputs.affine_x!);
    const raw = Buffer.from((a.data as Float32Array).buffer);
    const infer = () => call('ModelInfer', { model_name: 'affine', inputs: [{ name: 'x', datatype: 'FP32', shape: a.shape }], raw_input_contents: [raw] });
    expect((await infer()).code).toBe(0);
    const exited = new Promise<number | null>((resolve) => server!.child.once('exit', (code) => resolve(code)));
    server!.child.kill('SIGTERM');
    const codes: number[] = [];
    for (let i = 0; i < 50 && server!.child.exitCode === null; i++) {
      codes.push((await infer()).code);
      if (codes[codes.length - 1] !== 0) break;
    }
    expect(codes[codes.length - 1]).toBe(grpc.status.UNAVAILABLE);
    expect(codes).not.toContain(grpc.status.INTERNAL);
    expect(await exited).toBe(0);
    (client as unknown as { close(): void }).close();
  }, 60000);
});

d('serve with real clients: BYTES (string) tensors over tritonclient.http (JSON, binary) and tritonclient.grpc', () => {
  let server: Awaited<ReturnType<typeof startServe>> | null = null;
  let repo = '';
  let R: Record<string, Case> = {};
  let want: Record<string, { shape: number[]; data: unknown[] }> = {};

  beforeAll(async () => {
    repo = fs.mkdtempSync(path.join(os.tmpdir(), 'tensorrt-node-clients-bytes-'));
    fs.mkdirSync(path.join(repo, 'strings', '1'), { recursive: true });
    fs.writeFileSync(path.join(repo, 'strings', '1', 'model.onnx'), stringsModel());
    server = await startServe(repo);
    R = runPython('serve_clients_bytes.py', [server.http, server.grpc]);
    const inputs = R.inputs as unknown as { s: string[]; x: number[] };
    const sess = await ort!.InferenceSession.create(path.join(repo, 'strings', '1', 'model.onnx'));
    const out = await sess.run({ s: new ort!.Tensor('string', inputs.s, [3, 2]), x: new ort!.Tensor('float32', Float32Array.from(inputs.x), [3, 3]) });
    want = Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { shape: [...v.dims], data: Array.from(v.data as ArrayLike<unknown>) }]));
  }, 5 * 60 * 1000);

  afterAll(() => {
    if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
    if (repo) fs.rmSync(repo, { recursive: true, force: true });
  });

  test.each(['http.json', 'http.binary', 'grpc.infer'])('%s: BYTES and FP32 outputs equal onnxruntime on the same inputs', (c) => {
    const r = R[c]!;
    if (!r.ok) throw new Error(`${c} failed: ${JSON.stringify(r.error)}`);
    for (const n of ['s_id', 's2', 's_bytes']) expect([n, r.value[n]]).toEqual([n, want[n]]);
    expect(r.value.y.shape).toEqual(want.y!.shape);
    (r.value.y.data as number[]).forEach((v, i) => expect(Math.abs(v - (want.y!.data[i] as number))).toBeLessThan(1e-6));
  });

  test('model metadata says BYTES over both clients; BYTES for an FP32 input is INVALID_ARGUMENT', () => {
    for (const c of ['http.metadata', 'grpc.metadata']) expect([c, R[c]!.value]).toEqual([c, ['BYTES', 'FP32', 'BYTES', 'BYTES', 'BYTES', 'FP32']]);
    expect(R['grpc.err_bytes_for_float']!.error).toMatchObject({ status: 'StatusCode.INVALID_ARGUMENT', message: expect.stringMatching(/expected datatype FP32; got BYTES/) });
  });
});
