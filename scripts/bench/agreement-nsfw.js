#!/usr/bin/env node
'use strict';
/**
 * Float vs INT8 (Q/DQ) agreement of nsfwjs@4.3.0 (MobileNetV2, TF.js graph model) converted by tensorrt-node's TF ->
 * ONNX converter at opset 11 (a second opset-< 13 model for issue 11): quantize() upgrades it to 13 (verified on the
 * first calibration batch), then the float and the quantized model run with onnxruntime-node on held-out synthetic
 * images (scripts/bench/photo-data.js; calibration seeds 1000.., held-out 900000..).
 *   node scripts/bench/agreement-nsfw.js [--cal 16] [--held 64] [--opset 11] [--methods entropy,minmax,percentile]
 * Needs `npm run build:ts` and the package in .cache/tf-models/nsfwjs-4.3.0 (the unit tests fetch it with npm pack).
 */
const path = require('path');
const fs = require('fs');
const os = require('os');
const dist = process.env.TENSORRT_NODE_DIST || path.join(__dirname, '..', '..', 'dist');
const { quantize, createCalibrator } = require(path.join(dist, 'calibration'));
const { convertTensorFlow } = require(path.join(dist, 'tensorflow'));
const { saveModel } = require(path.join(dist, 'onnx'));
const ort = require('onnxruntime-node');
const { agreement } = require('./ocr-data');
const { blobs } = require('./photo-data');

const { arg } = require('./common');

(async () => {
  const nCal = +arg('--cal', 16), nHeld = +arg('--held', 64), opset = +arg('--opset', 11);
  const src = path.join(__dirname, '..', '..', '.cache', 'tf-models', 'nsfwjs-4.3.0', 'package', 'dist', 'models', 'mobilenet_v2_mid', 'model.min.js');
  if (!fs.existsSync(src)) throw new Error(`${src} is missing: run the unit tests once (they fetch nsfwjs@4.3.0)`);
  const { model, report } = convertTensorFlow(src, { inputs: [{ name: 'input', shape: [1, 224, 224, 3] }], opset });
  const bytes = saveModel(model);
  const img = (seed) => ({ data: blobs(seed), shape: [1, 224, 224, 3] });
  const cal = Array.from({ length: nCal }, (_, i) => ({ input: img(1000 + i) }));
  const held = Array.from({ length: nHeld }, (_, i) => img(900000 + i));
  const sf = await ort.InferenceSession.create(bytes);
  const rows = [];
  for (const method of arg('--methods', 'entropy,minmax,percentile').split(',')) {
    const t0 = Date.now();
    const q = await quantize(bytes, createCalibrator(method, { batches: cal, percentile: 99.99 }));
    const seconds = (Date.now() - t0) / 1000;
    const sq = await ort.InferenceSession.create(saveModel(q.model), { graphOptimizationLevel: 'basic' });
    let sum = 0, min = 1, maxAbs = 0, top1 = 0;
    for (const h of held) {
      const f = { input: new ort.Tensor('float32', h.data, h.shape) };
      const a = Array.from(Object.values(await sf.run(f))[0].data), b = Array.from(Object.values(await sq.run(f))[0].data);
      const g = agreement(a, b);
      sum += g.cosine;
      min = Math.min(min, g.cosine);
      maxAbs = Math.max(maxAbs, g.maxAbs);
      if (a.indexOf(Math.max(...a)) === b.indexOf(Math.max(...b))) top1++;
    }
    const s = q.summary;
    const row = { method, opsetBefore: s.opsetBefore, opset: s.opset, upgrade: s.upgrade, nodesQuantized: s.nodesQuantized, tensorsCalibrated: s.tensorsCalibrated, weightsQuantized: s.weightsQuantized, meanSampleCosine: sum / nHeld, minSampleCosine: min, maxAbsError: maxAbs, top1Agreement: top1 / nHeld, seconds };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
  const f = (x) => x.toFixed(4);
  console.log(`\nnsfwjs@4.3.0 converted at opset ${report.opset} (${report.onnxNodes} ONNX nodes); ${nCal} calibration / ${nHeld} held-out images\n`);
  console.log('| method | opset | mean / min per-sample cosine | max abs error | top-1 agreement | nodes quantized | quantize s |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.method}${r.method === 'percentile' ? ' 99.99' : ''} | ${r.opsetBefore} -> ${r.opset} (${r.upgrade ? `${r.upgrade.converted} converted, max diff ${r.upgrade.maxAbsDiff}` : '-'}) | ${f(r.meanSampleCosine)} / ${f(r.minSampleCosine)} | ${f(r.maxAbsError)} | ${(100 * r.top1Agreement).toFixed(1)} % | ${r.nodesQuantized} | ${r.seconds.toFixed(1)} |`);
  console.log(`\n${new Date().toISOString()} ${os.cpus()[0].model} x${os.cpus().length}, node ${process.version}, onnxruntime-node ${require('onnxruntime-node/package.json').version}`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
