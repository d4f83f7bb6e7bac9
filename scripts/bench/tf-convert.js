#!/usr/bin/env node
'use strict';
/**
 * Conversion-time benchmark of the TensorFlow → ONNX converter (dist/ build), on the pinned npm models cached by
 * the tests in .cache/tf-models (run `npx jest test/unit/tensorflow-models.test.ts` once to fetch them).
 * Usage: node scripts/bench/tf-convert.js [runs=3]. Prints one line per model: input bytes, best/median time.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { convertTensorFlow } = require('../../dist/tensorflow');
const { saveModel } = require('../../dist/onnx');

const root = path.join(__dirname, '..', '..', '.cache', 'tf-models');
const runs = Number(process.argv[2] || 3);
const models = [
  ['nsfwjs mobilenet_v2_mid (JS-wrapped, uint8)', 'nsfwjs-4.3.0/package/dist/models/mobilenet_v2_mid/model.min.js', { inputs: [{ name: 'input', shape: [1, 224, 224, 3] }] }],
  ['nsfwjs inception_v3 (JS-wrapped)', 'nsfwjs-4.3.0/package/dist/models/inception_v3/model.min.js', { inputs: [{ name: 'input_1', shape: [1, 299, 299, 3] }] }],
  ...['base', 'fp16', 'int8'].map((v) => [`handtrackjs ssd320fpnlite/${v} (to raw heads)`, `handtrackjs-0.1.5/package/models/webmodel/ssd320fpnlite/${v}/model.json`,
    { inputs: [{ name: 'StatefulPartitionedCall/map/TensorArrayV2Stack/TensorListStack', shape: [1, 320, 320, 3] }], outputs: ['Identity_6:0', 'Identity_7:0'] }]),
  ...['base', 'fp16', 'int8'].map((v) => [`handtrackjs ssd320fpnlite/${v} (whole detector: while loop, NMS)`, `handtrackjs-0.1.5/package/models/webmodel/ssd320fpnlite/${v}/model.json`,
    { inputs: [{ name: 'input_tensor', shape: [1, 240, 320, 3] }] }]),
  ['handtrackjs ssdlitemobilenetv2 (GraphDef .pb + weights manifest, TF1 loop)', 'handtrackjs-0.1.5/package/models/web/ssdlitemobilenetv2/tensorflowjs_model.pb',
    { inputs: [{ name: 'image_tensor', shape: [1, 240, 320, 3] }] }],
];
function bytesOf(p) {
  const d = path.dirname(p);
  return fs.readdirSync(d).reduce((a, f) => a + fs.statSync(path.join(d, f)).size, 0);
}
console.log(`${os.cpus()[0].model}, ${os.cpus().length} cores, node ${process.version}`);
for (const [name, rel, opts] of models) {
  const p = path.join(root, rel);
  if (!fs.existsSync(p)) { console.log(`${name}: not cached, skipped`); continue; }
  const times = [];
  let r;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    try {
      r = convertTensorFlow(p, opts);
    } catch (e) {
      console.log(`${name}: ${e.code} ${e.message.slice(0, 200)}`);
      break;
    }
    saveModel(r.model);
    times.push(performance.now() - t);
  }
  if (!times.length) continue;
  times.sort((a, b) => a - b);
  console.log(`${name}: ${(bytesOf(p) / 1e6).toFixed(1)} MB in, ${r.report.onnxNodes} ONNX nodes, convert+serialize best ${times[0].toFixed(0)} ms, median ${times[Math.floor(times.length / 2)].toFixed(0)} ms`);
}
