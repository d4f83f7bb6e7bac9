#!/usr/bin/env node
'use strict';
/**
 * Why does entropy calibration lose accuracy on PP-OCR rec / cls? Compares tensorrt-node's entropy thresholds with
 * thresholds computed outside it (scripts/bench/ort_entropy.py: onnxruntime's own entropy calibrator, an independent
 * numpy version of TensorRT's documented algorithm, and NVIDIA pytorch-quantization's variant), and measures what
 * each set of thresholds gives: every set is applied with tensorrt-node's Q/DQ placement (through a calibration
 * cache), the float and the Q/DQ model run with onnxruntime-node on held-out inputs (mean / min per-sample output
 * cosine, as scripts/bench/agreement.js). onnxruntime's own quantize_static (its placement, its Entropy and MinMax)
 * is measured on the same held-out inputs by the Python script.
 *   node scripts/bench/entropy-check.js [--model rec|cls] [--n-cal 16] [--n-held 32] [--batch 1] [--python python3]
 *        [--tensors a,b,...] [--json out.json] [--oracle oracle.json: reuse ort_entropy.py's output]
 * Calibration seeds 1000.., held-out 900000.. (scripts/bench/ocr-data.js), as agreement.js. --batch N groups the
 * calibration lines into batches of N (TensorRT's advice: large batches, so that the first batch sets a good
 * histogram range).
 */
const path = require('path');
const fs = require('fs');
const os = require('os');
const { execFileSync } = require('child_process');
const dist = process.env.TENSORRT_NODE_DIST || path.join(__dirname, '..', '..', 'dist');
const { quantize, createCalibrator } = require(path.join(dist, 'calibration'));
const { formatCalibrationCache } = require(path.join(dist, 'calibration', 'cache'));
const { saveModel } = require(path.join(dist, 'onnx'));
const { writeNpyFile } = require(path.join(dist, 'npy'));
const ort = require('onnxruntime-node');
const data = require('./ocr-data');

const { arg } = require('./common');

// .npy files through the library's own writer (lib/npy.ts, checked against numpy's format in its tests)
function writeNpy(file, shape, f32) {
  writeNpyFile(file, { dtype: 'float32', shape, data: f32 });
}

/** A calibrator whose cache holds the given thresholds (quantize() then reads no batch). */
function cacheCalibrator(amax) {
  const scales = new Map([...amax].map(([t, a]) => [t, Math.max(a, 1e-8) / 127]));
  const bytes = formatCalibrationCache(scales, 'entropy2');
  return { algorithm: 'entropy2', batchSize: 1, getBatch: () => null, readCache: () => bytes, writeCache: () => undefined };
}

async function measure(sf, model, held) {
  const sq = await ort.InferenceSession.create(saveModel(model), { graphOptimizationLevel: 'basic' });
  let sum = 0, min = 1;
  for (const g of held) {
    const feeds = { x: new ort.Tensor('float32', g.data, g.shape) };
    const a = Object.values(await sf.run(feeds))[0].data;
    const b = Object.values(await sq.run(feeds))[0].data;
    const c = data.agreement(a, b).cosine;
    sum += c;
    min = Math.min(min, c);
  }
  return { meanSampleCosine: sum / held.length, minSampleCosine: min };
}

(async () => {
  const which = arg('--model', 'rec');
  const rec = which === 'rec';
  const nCal = +arg('--n-cal', 16), nHeld = +arg('--n-held', 32), batch = +arg('--batch', 1);
  const W = rec ? 320 : 192;
  const file = rec ? path.join(path.dirname(data.CLS_MODEL), 'ch_PP-OCRv4_rec_infer.onnx') : data.CLS_MODEL;
  const one = 3 * 48 * W;
  const lines = Array.from({ length: nCal }, (_, i) => data.textLine(1000 + i, 48, W));
  const calibration = [];
  for (let i = 0; i < nCal; i += batch) {
    const n = Math.min(batch, nCal - i);
    const d = new Float32Array(n * one);
    for (let k = 0; k < n; k++) d.set(lines[i + k], k * one);
    calibration.push({ x: { data: d, shape: [n, 3, 48, W] } });
  }
  const held = Array.from({ length: nHeld }, (_, i) => ({ data: data.textLine(900000 + i, 48, W), shape: [1, 3, 48, W] }));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trtn-entropy-'));
  try {
    const calDir = path.join(tmp, 'cal'), heldDir = path.join(tmp, 'held');
    fs.mkdirSync(calDir);
    fs.mkdirSync(heldDir);
    calibration.forEach((b, i) => writeNpy(path.join(calDir, `${String(i).padStart(5, '0')}.npy`), b.x.shape, b.x.data));
    held.forEach((h, i) => writeNpy(path.join(heldDir, `${String(i).padStart(5, '0')}.npy`), h.shape, h.data));
    const sf = await ort.InferenceSession.create(file);
    const rows = [];
    const sets = new Map();
    for (const method of ['entropy', 'minmax', 'percentile']) {
      const q = await quantize(file, createCalibrator(method, { batches: calibration, percentile: 99.99 }));
      sets.set(`tensorrt-node ${method}`, q.summary.amax);
      rows.push({ thresholds: `tensorrt-node ${method}`, ...(await measure(sf, q.model, held)) });
      console.error(JSON.stringify(rows[rows.length - 1]));
    }
    const tensors = [...sets.get('tensorrt-node entropy').keys()];
    fs.writeFileSync(path.join(tmp, 'tensors.json'), JSON.stringify(tensors));
    const outJson = arg('--oracle') ?? path.join(tmp, 'oracle.json');
    if (!arg('--oracle')) execFileSync(arg('--python', 'python3'), [path.join(__dirname, 'ort_entropy.py'), file, calDir, heldDir, path.join(tmp, 'tensors.json'), outJson], { stdio: ['ignore', 'ignore', 'inherit'] });
    const oracle = JSON.parse(fs.readFileSync(outJson, 'utf8'));
    for (const [name, th] of Object.entries(oracle.thresholds)) {
      if (name === 'max') continue;
      const amax = new Map(tensors.map((t) => [t, th[t] ?? sets.get('tensorrt-node minmax').get(t)]));
      const missing = tensors.filter((t) => th[t] === undefined);
      sets.set(name, amax);
      const q = await quantize(file, cacheCalibrator(amax), { cacheTensors: 'quantized' });
      rows.push({ thresholds: name, ...(await measure(sf, q.model, held)), ...(missing.length ? { missingUseMax: missing.length } : {}) });
      console.error(JSON.stringify(rows[rows.length - 1]));
    }
    for (const [m, r] of Object.entries(oracle.ortQuantizeStatic)) rows.push({ thresholds: `onnxruntime quantize_static ${m} (its own placement)`, ...r });
    const f = (x) => (x === undefined ? '-' : x.toFixed(4));
    console.log(`\n${which}: ${nCal} calibration lines in batches of ${batch}, ${nHeld} held-out lines\n`);
    console.log('| thresholds | mean / min per-sample cosine (held-out) |');
    console.log('|---|---|');
    for (const r of rows) console.log(`| ${r.thresholds}${r.missingUseMax ? ` (${r.missingUseMax} tensors not calibrated there: max)` : ''} | ${f(r.meanSampleCosine)} / ${f(r.minSampleCosine)} |`);
    const show = arg('--tensors') ? arg('--tensors').split(',') : tensors;
    const cols = ['tensorrt-node entropy', 'trt-doc', 'ptq', 'ort-4096', 'ort-default', 'tensorrt-node percentile'];
    console.log(`\n| tensor | max |x| | ${cols.join(' | ')} |`);
    console.log(`|---|---|${cols.map(() => '---').join('|')}|`);
    for (const t of show) console.log(`| ${t} | ${f(oracle.thresholds.max[t])} | ${cols.map((c) => f(sets.get(c)?.get(t))).join(' | ')} |`);
    console.log(`\n${new Date().toISOString()} ${os.cpus()[0].model} x${os.cpus().length}, node ${process.version}, onnxruntime-node ${require('onnxruntime-node/package.json').version}, Python onnxruntime ${oracle.onnxruntime}, numpy ${oracle.numpy}`);
    const out = arg('--json');
    if (out) fs.writeFileSync(out, JSON.stringify({ which, nCal, nHeld, batch, rows, thresholds: Object.fromEntries([...sets].map(([k, v]) => [k, Object.fromEntries(v)])), max: oracle.thresholds.max }, null, 2));
  } finally {
    if (!process.env.KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
    else console.error(`kept ${tmp}`);
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
