/**
 * @jest-environment ./test/unit/quantize.environment.js
 */
/**
 * `serve` with SavedModels that TensorFlow wrote (test/tensorflow/gen/savedmodels.py), laid out as TF Serving lays
 * them out (`<repo>/<model>/<version>/saved_model.pb` + `variables/`) and given directly, converted in memory and
 * run by the onnxruntime backend; tensors named by their signature keys, as TF Serving names them. Oracle:
 * TensorFlow's own outputs on the same inputs, computed by Python when the models were written. Real HTTP
 * requests over KServe v2 and the TF Serving REST API. Skips with one printed line where Python/TensorFlow or
 * onnxruntime-node is absent.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readNpyFile } from '../../lib/npy';
import { scanRepository } from '../../lib/serve/repository';
import { createServer, type TensorRTServer } from '../../lib/serve/server';
import { cliProcess } from './helpers/cli-process';
import { loadSavedModels, type SavedModels } from './helpers/tf-savedmodels';
import { flatten, nest, request, tryOrt } from './serve-helpers';

const ort = tryOrt();
const sm = ort ? loadSavedModels() : { reason: 'onnxruntime-node (optional dependency) is not installed' };
const models = (sm as { models?: SavedModels }).models;
if (!models) console.log(`serve SavedModel test skipped: ${sm.reason}`);
const d = models ? describe : describe.skip;

const npy = (f: string) => readNpyFile(path.join(models!.dir, f));

/** max|got − want| ≤ 1e-4 × max|want| */
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>): void {
  expect(got.length).toBe(want.length);
  const scale = Math.max(1e-6, ...Array.from(want, Math.abs));
  const worst = Math.max(0, ...Array.from(got, (v, i) => Math.abs(v - want[i]!)));
  expect(worst).toBeLessThanOrEqual(1e-4 * scale);
}

d('serve: TensorFlow-written SavedModels in a TF Serving layout', () => {
  let server: TensorRTServer;
  let base: string;
  let repo: string;

  beforeAll(async () => {
    repo = fs.mkdtempSync(path.join(os.tmpdir(), 'serve-savedmodel-'));
    fs.cpSync(models!.module, path.join(repo, 'two', '1'), { recursive: true });
    fs.cpSync(models!.keras, path.join(repo, 'cnn', '3'), { recursive: true });
    server = await createServer({ model: repo, processMetrics: false, defaults: { backend: 'onnxruntime' } });
    base = await server.listen({ port: 0 });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    fs.rmSync(repo, { recursive: true, force: true });
  });

  it('metadata: the serving_default signature\'s keys, dtypes and shapes', async () => {
    const two = (await request(base, 'GET', '/v2/models/two')).json() as { versions: string[]; inputs: unknown[]; outputs: unknown[] };
    expect(two.versions).toEqual(['1']);
    expect(two.inputs).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, 3] }]);
    expect(two.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: [-1, 4] }, { name: 'z', datatype: 'FP32', shape: [-1] }]);
    const cnn = (await request(base, 'GET', '/v2/models/cnn')).json() as { versions: string[]; inputs: unknown[]; outputs: unknown[] };
    expect(cnn.versions).toEqual(['3']);
    expect(cnn.inputs).toEqual([{ name: models!.kerasInput, datatype: 'FP32', shape: [-1, 8, 8, 3] }]);
    expect(cnn.outputs).toEqual([{ name: models!.kerasOutput, datatype: 'FP32', shape: [-1, 5] }]);
  });

  it('the tf.Module: KServe v2 and TF Serving answers are TensorFlow\'s', async () => {
    const x = npy('module_in.npy');
    const y = npy('module_y.npy');
    const z = npy('module_z.npy');
    const kv2 = await request(base, 'POST', '/v2/models/two/infer', { inputs: [{ name: 'x', shape: x.shape, datatype: 'FP32', data: Array.from(x.data as Float32Array) }] });
    expect(kv2.status).toBe(200);
    const outs = (kv2.json() as { outputs: { name: string; shape: number[]; data: number[] }[] }).outputs;
    const byName = new Map(outs.map((o) => [o.name, o]));
    expect(byName.get('y')!.shape).toEqual(y.shape);
    expectClose(byName.get('y')!.data, y.data as Float32Array);
    expect(byName.get('z')!.shape).toEqual(z.shape);
    expectClose(byName.get('z')!.data, z.data as Float32Array);

    const tfs = await request(base, 'POST', '/v1/models/two:predict', { signature_name: 'serving_default', instances: nest(x.data as Float32Array, x.shape) });
    expect(tfs.status).toBe(200);
    const preds = (tfs.json() as { predictions: { y: number[]; z: number }[] }).predictions;
    expectClose(preds.flatMap((p) => p.y), y.data as Float32Array);
    expectClose(preds.map((p) => p.z), z.data as Float32Array);
  });

  it('the Keras export (version 3): TensorFlow\'s output over both protocols', async () => {
    const x = npy('keras_in.npy');
    const want = npy('keras_out.npy');
    const kv2 = await request(base, 'POST', '/v2/models/cnn/versions/3/infer', { inputs: [{ name: models!.kerasInput, shape: x.shape, datatype: 'FP32', data: Array.from(x.data as Float32Array) }] });
    expect(kv2.status).toBe(200);
    const out = (kv2.json() as { outputs: { name: string; shape: number[]; data: number[] }[] }).outputs[0]!;
    expect(out.name).toBe(models!.kerasOutput);
    expect(out.shape).toEqual(want.shape);
    expectClose(out.data, want.data as Float32Array);
    const tfs = await request(base, 'POST', '/v1/models/cnn:predict', { inputs: { [models!.kerasInput]: nest(x.data as Float32Array, x.shape) } });
    expect(tfs.status).toBe(200);
    expectClose(flatten((tfs.json() as { outputs: unknown }).outputs), want.data as Float32Array);
  });
});

d('serve: a SavedModel directory as the argument', () => {
  it('is one model named after its directory, TensorFlow\'s answer', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serve-savedmodel-'));
    const m = path.join(dir, 'classifier');
    fs.cpSync(models!.keras, m, { recursive: true });
    const server = await createServer({ model: m, processMetrics: false, defaults: { backend: 'onnxruntime', tagSet: ['serve'], signatureDef: 'serving_default' } });
    try {
      const base = await server.listen({ port: 0 });
      const x = npy('keras_in.npy');
      const want = npy('keras_out.npy');
      const r = await request(base, 'POST', '/v1/models/classifier:predict', { instances: nest(x.data as Float32Array, x.shape) });
      expect(r.status).toBe(200);
      expectClose(flatten((r.json() as { predictions: unknown }).predictions), want.data as Float32Array);
    } finally {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('TF Serving\'s --model_base_path (<m>/<version>/saved_model.pb) and a version folder itself are one model named <m>', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serve-savedmodel-'));
    try {
      const base = path.join(dir, 'resnet');
      fs.cpSync(models!.module, path.join(base, '1'), { recursive: true });
      fs.cpSync(models!.module, path.join(base, '2'), { recursive: true });
      const whole = scanRepository(base);
      expect([...whole.keys()]).toEqual(['resnet']);
      expect([...whole.get('resnet')!.versions.entries()].sort()).toEqual([[1, path.join(base, '1')], [2, path.join(base, '2')]]);
      const one = scanRepository(path.join(base, '2'));
      expect([...one.keys()]).toEqual(['resnet']);
      expect([...one.get('resnet')!.versions.values()]).toEqual([path.join(base, '2')]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--signature-def scale serves that signature (TF Serving\'s signature_name, metadata), TensorFlow\'s answer', async () => {
    const server = await createServer({ model: models!.module, processMetrics: false, defaults: { backend: 'onnxruntime', signatureDef: 'scale' } });
    try {
      const base = await server.listen({ port: 0 });
      const a = npy('scale_a.npy');
      const want = npy('scale_out.npy');
      const meta = (await request(base, 'GET', '/v1/models/module/metadata')).json() as { metadata: { signature_def: { signature_def: Record<string, { inputs: Record<string, unknown> }> } } };
      expect(Object.keys(meta.metadata.signature_def.signature_def)).toEqual(['scale']);
      expect(Object.keys(meta.metadata.signature_def.signature_def.scale!.inputs).sort()).toEqual(['a', 'k']);
      const r = await request(base, 'POST', '/v1/models/module:predict', { signature_name: 'scale', inputs: { a: nest(a.data as Float32Array, a.shape), k: 3 } });
      expect(r.status).toBe(200);
      expectClose(flatten((r.json() as { outputs: unknown }).outputs), want.data as Float32Array);
      const kv2 = await request(base, 'POST', '/v2/models/module/infer', {
        inputs: [{ name: 'a', shape: a.shape, datatype: 'FP32', data: Array.from(a.data as Float32Array) }, { name: 'k', shape: [], datatype: 'INT32', data: [3] }],
      });
      expect(kv2.status).toBe(200);
      const out = (kv2.json() as { outputs: { name: string; shape: number[]; data: number[] }[] }).outputs[0]!;
      expect(out.name).toBe('out');
      expect(out.shape).toEqual(want.shape);
      expectClose(out.data, want.data as Float32Array);
      const wrong = await request(base, 'POST', '/v1/models/module:predict', { signature_name: 'serving_default', inputs: { a: nest(a.data as Float32Array, a.shape), k: 3 } });
      expect(wrong.status).toBe(400);
    } finally {
      await server.close();
    }
  }, 60_000);

  it('an unknown --signature-def or --tag-set: exit 1, one line naming what the SavedModel has', async () => {
    for (const [flag, value, msg] of [['--signature-def', 'nope', /no signature "nope" \(have: .*serving_default\)/], ['--tag-set', 'gpu', /no MetaGraph tagged gpu \(have: \[serve\]\)/]] as const) {
      const r = await cliProcess(['serve', models!.module, '--port', '0', '--backend', 'onnxruntime', '--log-level', 'silent', flag, value]);
      expect(r.status).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).toMatch(/\[INVALID_ARGUMENT\]\n$/);
    }
  }, 60_000);
});
