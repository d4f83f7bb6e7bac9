#!/usr/bin/env node
'use strict';
/**
 * Calibration speed: tensorrt-node's quantize() against onnxruntime's own static quantizer (Python
 * onnxruntime.quantization.quantize_static, scripts/bench/ort_quantize.py) on the same model and the same samples
 * (.npy files written here from scripts/bench/ocr-data.js), each method, each in a fresh process.
 *   node scripts/bench/vs-ort.js [--python python3] [--models cls,rec] [--methods minmax,entropy,percentile] [--n-cls 64] [--n-rec 16]
 * Needs `npm run build:ts` and a Python with onnxruntime, onnx and numpy (pip install onnxruntime onnx numpy).
 */
const path = require('path');
const fs = require('fs');
const os = require('os');
const { execFileSync } = require('child_process');
const data = require('./ocr-data');
const { writeNpyFile } = require(path.join(process.env.TENSORRT_NODE_DIST || path.join(__dirname, '..', '..', 'dist'), 'npy'));

const { arg } = require('./common');

// .npy files through the library's own writer (lib/npy.ts, checked against numpy's format in its tests)
function writeNpy(file, shape, f32) {
  writeNpyFile(file, { dtype: 'float32', shape, data: f32 });
}

const python = arg('--python', 'python3');
const models = arg('--models', 'cls,rec').split(',');
const methods = arg('--methods', 'minmax,entropy,percentile').split(',');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trtn-vsort-'));
const rows = [];
for (const which of models) {
  const rec = which === 'rec';
  const n = +arg(rec ? '--n-rec' : '--n-cls', rec ? 16 : 64);
  const shape = rec ? [1, 3, 48, 320] : [1, 3, 48, 192];
  const file = rec ? path.join(path.dirname(data.CLS_MODEL), 'ch_PP-OCRv4_rec_infer.onnx') : data.CLS_MODEL;
  const dir = path.join(tmp, which);
  fs.mkdirSync(dir);
  for (let i = 0; i < n; i++) writeNpy(path.join(dir, `${String(i).padStart(5, '0')}.npy`), shape, data.textLine(1000 + i, 48, shape[3]));
  for (const method of methods) {
    const one = (env) => JSON.parse(execFileSync(process.execPath, [path.join(__dirname, 'vs-ort-one.js'), file, dir, method], { encoding: 'utf8', env: { ...process.env, ...env } }));
    const ours = one({ STATISTICS_WORKERS: '0' }); // the default: histograms on the JS thread, pipelined
    const inThread = one({ STATISTICS_WORKERS: '1' }); // histograms on a worker thread
    ours.inThreadSeconds = inThread.seconds;
    ours.inThreadStatisticsSeconds = inThread.statisticsSeconds;
    let theirs;
    try {
      theirs = JSON.parse(execFileSync(python, [path.join(__dirname, 'ort_quantize.py'), file, dir, path.join(tmp, `${which}-${method}-ort.onnx`), method], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop());
    } catch (e) {
      theirs = { error: String(e.stderr || e.message).trim().split('\n').slice(-1)[0] };
    }
    const row = { model: which, method, batches: n, tensorrtNode: ours, onnxruntimePython: theirs };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
}
console.log('\n| model | method | samples | tensorrt-node quantize() s | statistics pass s | histograms on 1 worker thread: total / statistics s | onnxruntime quantize_static s | ratio |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const t = r.onnxruntimePython.seconds;
  console.log(`| ${r.model} | ${r.method} | ${r.batches} | ${r.tensorrtNode.seconds.toFixed(2)} | ${r.tensorrtNode.statisticsSeconds.toFixed(2)} | ${r.tensorrtNode.inThreadSeconds.toFixed(2)} / ${r.tensorrtNode.inThreadStatisticsSeconds.toFixed(2)} | ${t === undefined ? r.onnxruntimePython.error : t.toFixed(2)} | ${t === undefined ? '-' : (t / r.tensorrtNode.seconds).toFixed(2) + 'x'} |`);
}
console.log(`\n${new Date().toISOString()} ${os.cpus()[0].model} x${os.cpus().length}, node ${process.version}, onnxruntime-node ${require('onnxruntime-node/package.json').version}, Python: ${rows[0] ? JSON.stringify({ onnxruntime: rows[0].onnxruntimePython.onnxruntime, numpy: rows[0].onnxruntimePython.numpy }) : ''}`);
fs.rmSync(tmp, { recursive: true, force: true });
