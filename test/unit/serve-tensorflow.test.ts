/**
 * @jest-environment ./test/unit/quantize.environment.js
 */
/**
 * `serve` with a TensorFlow model as it comes (a frozen GraphDef `model.pb`, written from the real nsfwjs@4.3.0
 * MobileNetV2 weights), converted in memory and run by the onnxruntime backend. Clients send NHWC images under TF's
 * tensor names, as they would to TF Serving. Oracle: onnxruntime-node run in-process on the converter's model
 * (the converter itself is checked against TF.js in tensorflow-models.test.ts). Skips with one printed reason when
 * the pinned npm package cannot be fetched or onnxruntime-node is absent.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { saveModel } from '../../lib/onnx';
import { createServer, type TensorRTServer } from '../../lib/serve/server';
import { convertTensorFlow, loadTfjsArtifacts } from '../../lib/tensorflow';
import { fetchNpmPackage, seeded } from './helpers/tf-models';
import { writeFrozenGraph } from './helpers/tf-write';
import { flatten, nest, request, tryOrt } from './serve-helpers';

const ort = tryOrt();
const pkg = fetchNpmPackage('nsfwjs', '4.3.0');
const why = !ort ? 'onnxruntime-node (optional dependency) is not installed' : 'skip' in pkg ? pkg.skip : null;
if (why) console.log(`serve TensorFlow test skipped: ${why}`);
const d = why ? describe.skip : describe;

d('serve: a TensorFlow frozen graph (nsfwjs MobileNetV2) over both protocols', () => {
  let server: TensorRTServer;
  let base: string;
  let dir: string;
  let pb: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serve-tf-'));
    pb = path.join(dir, 'nsfw.pb');
    writeFrozenGraph(loadTfjsArtifacts(path.join((pkg as { dir: string }).dir, 'dist/models/mobilenet_v2_mid/model.min.js')), pb);
    server = await createServer({ model: pb, processMetrics: false, bodyLimit: 8 * 1024 * 1024 });
    base = await server.listen({ port: 0 });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers what onnxruntime gives in-process for the converted model, in TF names and NHWC', async () => {
    const img = seeded(224 * 224 * 3, 11, 0, 1);
    const session = await ort!.InferenceSession.create(saveModel(convertTensorFlow(pb).model));
    const want = (await session.run({ [session.inputNames[0]!]: new ort!.Tensor('float32', img, [1, 224, 224, 3]) }))[session.outputNames[0]!]!;

    const meta = await request(base, 'GET', '/v2/models/nsfw');
    expect(meta.status).toBe(200);
    const m = meta.json() as { platform: string; inputs: { name: string; shape: number[] }[]; outputs: { name: string }[] };
    expect(m.platform).toBe('onnxruntime_onnx');
    expect(m.inputs[0]!.name).toBe('input');
    expect(m.inputs[0]!.shape.slice(1)).toEqual([224, 224, 3]);

    const kv2 = await request(base, 'POST', '/v2/models/nsfw/infer', {
      inputs: [{ name: 'input', shape: [1, 224, 224, 3], datatype: 'FP32', data: Array.from(img) }],
    });
    expect(kv2.status).toBe(200);
    const out = (kv2.json() as { outputs: { name: string; shape: number[]; data: number[] }[] }).outputs[0]!;
    expect(out.shape).toEqual([...want.dims]);
    expect(Float32Array.from(out.data)).toEqual(want.data);

    const tfs = await request(base, 'POST', '/v1/models/nsfw:predict', { instances: [nest(img, [224, 224, 3])] });
    expect(tfs.status).toBe(200);
    expect(Float32Array.from(flatten((tfs.json() as { predictions: unknown }).predictions))).toEqual(want.data);
  }, 120_000);
});
