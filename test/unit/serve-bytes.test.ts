/**
 * @jest-environment ./test/unit/quantize.environment.js
 */
/**
 * serve's BYTES (string) tensors (issue 21, item 2): the length-prefixed raw form (decodeStrings / encodeStrings),
 * JSON strings and TF Serving's b64 values, batching string tensors, the onnxruntime backend on an ONNX model with
 * string inputs and outputs, and the served protocols (KServe v2 REST JSON and binary, KServe v2 gRPC with
 * bytes_contents and raw contents, TF Serving REST) on the built CLI, every output compared with onnxruntime-node
 * run in-process. Client mistakes (BYTES for a float input, malformed length prefixes) are 400 / INVALID_ARGUMENT.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import { TensorRTError } from '../../lib/errors';
import { createOnnxRuntimeBackend } from '../../lib/serve/backends/onnxruntime';
import { mergeInputs, splitOutputs } from '../../lib/serve/batcher';
import { inferenceService } from '../../lib/serve/grpc/server';
import { bytesOf, decodeStrings, encodeStrings, fromBytes, fromFlat, fromNested, toJsonValues, type Tensor } from '../../lib/serve/tensor';
import { stringsModel, upperModel } from './helpers/dtype-models';
import { BIN, request, spawnServe, tryOrt, type Served } from './serve-helpers';

const ort = tryOrt();
const why = !ort ? 'onnxruntime-node (optional dependency) is not installed' : !fs.existsSync(BIN) ? 'dist/ is not built (npm run build:ts)' : null;
if (why) console.log(`serve BYTES end-to-end tests skipped: ${why}`);
const d = why ? describe.skip : describe;

const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return [(e as TensorRTError).code, (e as Error).message];
  }
  return ['no error', ''];
};

describe('BYTES raw form and JSON values', () => {
  test('encodeStrings writes a 4-byte little-endian length, then the UTF-8 bytes; decodeStrings reads it back', () => {
    const b = encodeStrings(['ab', '', 'é']);
    expect([...b]).toEqual([2, 0, 0, 0, 0x61, 0x62, 0, 0, 0, 0, 2, 0, 0, 0, 0xc3, 0xa9]);
    expect(decodeStrings(b, 3, 'x')).toEqual(['ab', '', 'é']);
    expect(fromBytes(b.subarray(0), 'string', 3, 'x')).toEqual(['ab', '', 'é']);
    expect(bytesOf(['ab', '', 'é'])).toEqual(b);
    // an unaligned view works as well (the elements are read bytewise)
    const off = Buffer.concat([Buffer.from([9]), b]).subarray(1);
    expect(decodeStrings(off, 3, 'x')).toEqual(['ab', '', 'é']);
  });

  test('malformed raw forms are INVALID_ARGUMENT saying what is wrong', () => {
    const b = encodeStrings(['ab', 'cd']);
    expect(code(() => decodeStrings(b.subarray(0, 7), 2, "input 's'"))).toEqual(['INVALID_ARGUMENT', expect.stringMatching(/input 's': BYTES element 1 of 2: 1 bytes left where its 4-byte length belongs/)]);
    expect(code(() => decodeStrings(b.subarray(0, 11), 2, "input 's'"))).toEqual(['INVALID_ARGUMENT', expect.stringMatching(/element 1 of 2: its length prefix says 2 bytes; 1 are left/)]);
    expect(code(() => decodeStrings(b, 1, "input 's'"))).toEqual(['INVALID_ARGUMENT', expect.stringMatching(/6 bytes are left after the 1 BYTES elements/)]);
    const huge = Buffer.from([0xff, 0xff, 0xff, 0xff, 1]);
    expect(code(() => decodeStrings(huge, 1, 'x'))[0]).toBe('INVALID_ARGUMENT');
    expect(code(() => decodeStrings(Buffer.alloc(0), 1, 'x'))[0]).toBe('INVALID_ARGUMENT');
  });

  test('JSON values: strings, TF Serving b64 objects and bytes; anything else is INVALID_ARGUMENT', () => {
    expect(fromFlat(['a', 'b'], 'string', 'x')).toEqual(['a', 'b']);
    expect(fromFlat([Buffer.from('héllo')], 'string', 'x')).toEqual(['héllo']);
    expect(fromNested([['a', { b64: Buffer.from('b!').toString('base64') }]], 'string', 'x', -1)).toEqual({ shape: [1, 2], data: ['a', 'b!'] });
    expect(code(() => fromFlat(['a', 1], 'string', "input 's'"))).toEqual(['INVALID_ARGUMENT', expect.stringMatching(/input 's': expected strings \(BYTES\); got/)]);
    expect(code(() => fromFlat([{ b64: '***' }], 'string', 'x'))).toEqual(['INVALID_ARGUMENT', expect.stringMatching(/not base64/)]);
    expect(code(() => fromFlat(['1.5'], 'float32', 'x'))[0]).toBe('INVALID_ARGUMENT');
    expect(toJsonValues({ dtype: 'string', data: ['a', 'é'] })).toEqual(['a', 'é']);
  });

  test('the batcher concatenates string tensors along dimension 0 and splits them back', () => {
    const a: Tensor = { name: 's', dtype: 'string', shape: [1, 2], data: ['a', 'b'] };
    const b: Tensor = { name: 's', dtype: 'string', shape: [2, 2], data: ['c', 'd', 'e', 'f'] };
    const [m] = mergeInputs([[a], [b]]);
    expect(m).toEqual({ name: 's', dtype: 'string', shape: [3, 2], data: ['a', 'b', 'c', 'd', 'e', 'f'] });
    const parts = splitOutputs([m!], [1, 2]);
    expect(parts.map((p) => p[0]!.data)).toEqual([['a', 'b'], ['c', 'd', 'e', 'f']]);
    expect(parts.map((p) => p[0]!.shape)).toEqual([[1, 2], [2, 2]]);
  });
});

const S = ['hello', 'wörld ✓', '', 'tab\tand "quotes"', 'x', 'y'];
const X = Float32Array.of(1, 2, 3, 4, 5, -6, 0.5, 0.25, 7);

d('BYTES end to end (onnxruntime backend, the built CLI)', () => {
  let repo = '';
  let served: Served;
  let grpcAddr = '';
  let want: Record<string, { dims: number[]; data: unknown[] }> = {};
  let wantUpper: string[] = [];

  beforeAll(async () => {
    repo = fs.mkdtempSync(path.join(os.tmpdir(), 'tensorrt-node-bytes-'));
    for (const [name, bytes] of [['strings', stringsModel()], ['upper', upperModel()]] as const) {
      fs.mkdirSync(path.join(repo, name, '1'), { recursive: true });
      fs.writeFileSync(path.join(repo, name, '1', 'model.onnx'), bytes);
    }
    const sess = await ort!.InferenceSession.create(path.join(repo, 'strings', '1', 'model.onnx'));
    const r = await sess.run({ s: new ort!.Tensor('string', S, [3, 2]), x: new ort!.Tensor('float32', X, [3, 3]) });
    want = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, { dims: [...v.dims], data: Array.from(v.data as ArrayLike<unknown>) }]));
    const u = await ort!.InferenceSession.create(path.join(repo, 'upper', '1', 'model.onnx'));
    wantUpper = (await u.run({ text: new ort!.Tensor('string', S, [6]) })).upper!.data as string[];
    served = await spawnServe([repo, '--port', '0', '--grpc-port', '0', '--backend', 'onnxruntime']);
    grpcAddr = /"grpcAddress":"([^"]+)"/.exec(served.out())![1]!;
  }, 120000);

  afterAll(() => {
    if (served && served.child.exitCode === null) served.child.kill('SIGKILL');
    if (repo) fs.rmSync(repo, { recursive: true, force: true });
  });

  test('the backend reads the string dtype and runs string inputs and outputs as onnxruntime does', async () => {
    const b = await createOnnxRuntimeBackend(path.join(repo, 'strings', '1', 'model.onnx'));
    try {
      expect(b.inputs).toEqual([{ name: 's', dtype: 'string', shape: [-1, 2] }, { name: 'x', dtype: 'float32', shape: [-1, 3] }]);
      expect(b.maxBatchSize).toBe(8);
      const outs = await b.run([{ name: 's', dtype: 'string', shape: [3, 2], data: [...S] }, { name: 'x', dtype: 'float32', shape: [3, 3], data: X.slice() }], 0);
      for (const o of outs) expect([o.name, o.shape, Array.from(o.data as ArrayLike<unknown>)]).toEqual([o.name, want[o.name]!.dims, want[o.name]!.data]);
    } finally {
      await b.dispose();
    }
  });

  test('KServe v2 metadata says BYTES; TF Serving metadata DT_STRING', async () => {
    const m = (await request(served.base, 'GET', '/v2/models/strings')).json();
    expect(m.inputs).toEqual([{ name: 's', datatype: 'BYTES', shape: [-1, 2] }, { name: 'x', datatype: 'FP32', shape: [-1, 3] }]);
    expect(m.outputs.map((o: { datatype: string }) => o.datatype)).toEqual(['BYTES', 'BYTES', 'BYTES', 'FP32']);
    const tf = (await request(served.base, 'GET', '/v1/models/strings/metadata')).json();
    const sig = tf.metadata.signature_def.signature_def.serving_default;
    expect([sig.inputs.s.dtype, sig.outputs.s2.dtype, sig.outputs.y.dtype]).toEqual(['DT_STRING', 'DT_STRING', 'DT_FLOAT']);
  });

  const inputsJson = () => [
    { name: 's', shape: [3, 2], datatype: 'BYTES', data: S },
    { name: 'x', shape: [3, 3], datatype: 'FP32', data: Array.from(X) },
  ];

  test('KServe v2 REST JSON: BYTES data as strings, outputs as strings equal to onnxruntime', async () => {
    const r = await request(served.base, 'POST', '/v2/models/strings/infer', { inputs: inputsJson() });
    expect(r.status).toBe(200);
    for (const o of r.json().outputs) expect([o.name, o.shape, o.data]).toEqual([o.name, want[o.name]!.dims, want[o.name]!.data]);
    expect(r.json().outputs[0].datatype).toBe('BYTES');
  });

  test('KServe v2 REST binary extension: length-prefixed BYTES in and out', async () => {
    const sb = encodeStrings(S);
    const xb = Buffer.from(X.buffer.slice(0));
    const head = Buffer.from(JSON.stringify({
      inputs: [{ name: 's', shape: [3, 2], datatype: 'BYTES', parameters: { binary_data_size: sb.length } }, { name: 'x', shape: [3, 3], datatype: 'FP32', parameters: { binary_data_size: xb.length } }],
      outputs: [{ name: 's2', parameters: { binary_data: true } }, { name: 'y', parameters: { binary_data: false } }],
    }));
    const r = await request(served.base, 'POST', '/v2/models/strings/infer', Buffer.concat([head, sb, xb]), { 'Inference-Header-Content-Length': String(head.length), 'Content-Type': 'application/octet-stream' });
    expect(r.status).toBe(200);
    const hl = Number(r.headers['inference-header-content-length']);
    const h = JSON.parse(r.body.subarray(0, hl).toString());
    expect(h.outputs[0]).toMatchObject({ name: 's2', datatype: 'BYTES', shape: want.s2!.dims });
    expect(decodeStrings(r.body.subarray(hl, hl + h.outputs[0].parameters.binary_data_size), 12, 's2')).toEqual(want.s2!.data);
    expect(h.outputs[1].data).toEqual(want.y!.data);
  });

  test('KServe v2 REST: BYTES for a float input and malformed length prefixes are 400, never 500', async () => {
    const bad = inputsJson();
    bad[1] = { name: 'x', shape: [3, 3], datatype: 'BYTES', data: S.concat(S).slice(0, 9) };
    const r = await request(served.base, 'POST', '/v2/models/strings/infer', { inputs: bad });
    expect([r.status, r.json().error]).toEqual([400, expect.stringMatching(/input 'x': expected datatype FP32; got BYTES/)]);
    const num = await request(served.base, 'POST', '/v2/models/strings/infer', { inputs: [{ ...inputsJson()[0], data: [1, 2, 3, 4, 5, 6] }, inputsJson()[1]] });
    expect([num.status, num.json().error]).toEqual([400, expect.stringMatching(/expected strings \(BYTES\)/)]);
    const sb = encodeStrings(S);
    sb.writeUInt32LE(1000, 0); // the first length runs past the end
    const head = Buffer.from(JSON.stringify({ inputs: [{ name: 's', shape: [3, 2], datatype: 'BYTES', parameters: { binary_data_size: sb.length } }, inputsJson()[1]] }));
    const b = await request(served.base, 'POST', '/v2/models/strings/infer', Buffer.concat([head, sb]), { 'Inference-Header-Content-Length': String(head.length), 'Content-Type': 'application/octet-stream' });
    expect([b.status, b.json().error]).toEqual([400, expect.stringMatching(/input 's': BYTES element 0 of 6: its length prefix says 1000 bytes/)]);
  });

  test('StringNormalizer model (1-D strings) over KServe JSON equals onnxruntime', async () => {
    const r = await request(served.base, 'POST', '/v2/models/upper/infer', { inputs: [{ name: 'text', shape: [6], datatype: 'BYTES', data: S }] });
    expect([r.status, r.json().outputs[0].data]).toEqual([200, wantUpper]);
  });

  describe('KServe v2 gRPC', () => {
    let client: Record<string, (req: object, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void>;
    beforeAll(() => {
      const Client = grpc.makeGenericClientConstructor(inferenceService(), 'GRPCInferenceService');
      client = new Client(grpcAddr, grpc.credentials.createInsecure()) as unknown as typeof client;
    });
    afterAll(() => (client as unknown as { close(): void }).close());
    const call = (req: object) => new Promise<{ code: number; details?: string; value: any }>((resolve) => client.ModelInfer!.call(client, req, (e, r) => resolve({ code: e ? e.code : 0, details: e?.details, value: r }))); // eslint-disable-line @typescript-eslint/no-explicit-any -- the decoded response message
    const rawOut = (v: { outputs: { name: string }[]; raw_output_contents: Buffer[] }, name: string, n: number) => {
      const i = v.outputs.findIndex((o) => o.name === name);
      return decodeStrings(v.raw_output_contents[i]!, n, name);
    };

    test('bytes_contents and raw_input_contents in; raw_output_contents in the length-prefixed layout', async () => {
      const typed = await call({
        model_name: 'strings',
        inputs: [{ name: 's', datatype: 'BYTES', shape: [3, 2], contents: { bytes_contents: S.map((s) => Buffer.from(s)) } }, { name: 'x', datatype: 'FP32', shape: [3, 3], contents: { fp32_contents: Array.from(X) } }],
      });
      expect(typed.code).toBe(0);
      expect(typed.value.outputs.map((o: { datatype: string }) => o.datatype)).toEqual(['BYTES', 'BYTES', 'BYTES', 'FP32']);
      expect(rawOut(typed.value, 's_id', 6)).toEqual(want.s_id!.data);
      expect(rawOut(typed.value, 's2', 12)).toEqual(want.s2!.data);
      const raw = await call({
        model_name: 'strings',
        inputs: [{ name: 's', datatype: 'BYTES', shape: [3, 2] }, { name: 'x', datatype: 'FP32', shape: [3, 3] }],
        raw_input_contents: [encodeStrings(S), Buffer.from(X.buffer.slice(0))],
      });
      expect(raw.code).toBe(0);
      expect(rawOut(raw.value, 's_bytes', 6)).toEqual(want.s_bytes!.data);
    });

    test('malformed length prefixes and BYTES for a float input are INVALID_ARGUMENT', async () => {
      const sb = encodeStrings(S).subarray(0, 10);
      const r = await call({ model_name: 'strings', inputs: [{ name: 's', datatype: 'BYTES', shape: [3, 2] }, { name: 'x', datatype: 'FP32', shape: [3, 3] }], raw_input_contents: [sb, Buffer.from(X.buffer.slice(0))] });
      expect([r.code, r.details]).toEqual([grpc.status.INVALID_ARGUMENT, expect.stringMatching(/BYTES element 1 of 6/)]);
      const f = await call({ model_name: 'strings', inputs: [{ name: 's', datatype: 'BYTES', shape: [3, 2], contents: { bytes_contents: S.map((s) => Buffer.from(s)) } }, { name: 'x', datatype: 'BYTES', shape: [3, 3], contents: { bytes_contents: [Buffer.from('a')] } }] });
      expect([f.code, f.details]).toEqual([grpc.status.INVALID_ARGUMENT, expect.stringMatching(/expected datatype FP32; got BYTES/)]);
    });
  });

  describe('TF Serving REST', () => {
    const post = (m: string, body: object) => request(served.base, 'POST', `/v1/models/${m}:predict`, body);
    const rowsOf = <T>(flat: T[], w: number) => Array.from({ length: flat.length / w }, (_, i) => flat.slice(i * w, (i + 1) * w));
    const b64 = (s: string) => ({ b64: Buffer.from(s, 'utf8').toString('base64') });

    test('row format: strings and {"b64"} values in; `_bytes` outputs as {"b64"}, others as strings', async () => {
      const s = rowsOf(S, 2);
      const x = rowsOf(Array.from(X), 3);
      for (const sv of [s, s.map((r) => r.map(b64))]) {
        const r = await post('strings', { instances: [0, 1, 2].map((i) => ({ s: sv[i], x: x[i] })) });
        expect(r.status).toBe(200);
        const p = r.json().predictions;
        expect(p.map((q: { s_id: string[] }) => q.s_id)).toEqual(rowsOf(want.s_id!.data as string[], 2));
        expect(p.map((q: { s2: string[] }) => q.s2)).toEqual(rowsOf(want.s2!.data as string[], 4));
        expect(p.map((q: { s_bytes: string[] }) => q.s_bytes)).toEqual(rowsOf((want.s_bytes!.data as string[]).map(b64), 2));
        expect(p.map((q: { y: number[] }) => q.y)).toEqual(rowsOf(want.y!.data as number[], 3));
      }
    });

    test('columnar format and a one-input string model; a number for a string input is 400', async () => {
      const r = await post('upper', { inputs: S.map(b64) });
      expect([r.status, r.json()]).toEqual([200, { outputs: wantUpper }]);
      const i = await post('upper', { instances: S });
      expect([i.status, i.json()]).toEqual([200, { predictions: wantUpper }]);
      const bad = await post('upper', { instances: [1, 2] });
      expect([bad.status, bad.json().error]).toEqual([400, expect.stringMatching(/input 'text': expected strings \(BYTES\)/)]);
      const badB64 = await post('upper', { instances: [{ b64: '%%%' }] });
      expect([badB64.status, badB64.json().error]).toEqual([400, expect.stringMatching(/not base64/)]);
    });
  });
});
