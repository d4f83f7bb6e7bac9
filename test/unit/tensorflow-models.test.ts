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
import { convertGraph, convertTensorFlow, loadTfjsArtifacts, tfjsToGraph } from '../../lib/tensorflow';
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

describe('handtrackjs@0.1.5 ssd320fpnlite (base, fp16, int8): raw detection heads', () => {
  const pkg = fetchNpmPackage('handtrackjs', '0.1.5');
  const run = ort && 'dir' in pkg ? it : it.skip;
  if (!('dir' in pkg)) console.log(`handtrackjs test skipped: ${pkg.skip}`);
  // The graph's preprocessing is a TF1 while loop (map over the batch) that the converter does not handle yet;
  // the network from the preprocessed image to the raw box encodings and class scores converts and is compared.
  const FEED = 'StatefulPartitionedCall/map/TensorArrayV2Stack/TensorListStack';
  for (const variant of ['base', 'fp16', 'int8']) {
    run(`${variant}: raw heads agree with TF.js`, async () => {
      const p = path.join((pkg as { dir: string }).dir, `models/webmodel/ssd320fpnlite/${variant}/model.json`);
      const a = loadTfjsArtifacts(p);
      const hw = 320;
      const res = convertGraph(tfjsToGraph(a), { inputs: [{ name: FEED, shape: [1, hw, hw, 3] }], outputs: ['Identity_6:0', 'Identity_7:0'] });
      const r = await agree(a, { [FEED]: { data: seeded(hw * hw * 3, 9, -1, 1), shape: [1, hw, hw, 3] } }, undefined, res);
      console.log(`handtrackjs ssd320fpnlite/${variant}: ${res.report.onnxNodes} ONNX nodes, worst relative error ${r.worst.toExponential(2)}, onnxruntime ${r.ortMs.toFixed(0)} ms vs TF.js cpu ${r.tfMs.toFixed(0)} ms`);
    });
  }
});
