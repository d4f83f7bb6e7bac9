#!/usr/bin/env node
'use strict';
/**
 * Calibration benchmark: throughput (samples/s) and peak memory (max RSS) of quantize() versus the number of
 * calibration batches, for the two PP-OCR models, statistics on the CPU with onnxruntime-node. Each
 * (model, method, batch count) runs in a fresh process so that max RSS is its own. Batches come from an async
 * generator cycling over 16 pre-rendered synthetic images, so the data itself does not grow with the count.
 *   node scripts/bench/calibration.js [--counts 8,32,128,512] [--det-counts 4,16,64] [--det-size 320] [--methods entropy]
 * Needs `npm run build:ts` (reads ../../dist, or $TENSORRT_NODE_DIST).
 */
const path = require('path');
const os = require('os');
const { execFileSync } = require('child_process');

const { arg } = require('./common');

async function child() {
  const [which, method, count, size] = process.argv.slice(3);
  const dist = process.env.TENSORRT_NODE_DIST || path.join(__dirname, '..', '..', 'dist');
  const { quantize, createCalibrator } = require(path.join(dist, 'calibration'));
  const data = require('./ocr-data');
  const S = Number(size);
  const pool = Array.from({ length: 16 }, (_, i) =>
    which === 'cls' ? { data: data.textLine(1000 + i), shape: [1, 3, 48, 192] } : { data: data.page(1000 + i, S, S), shape: [1, 3, S, S] });
  const n = Number(count);
  async function* batches() {
    for (let i = 0; i < n; i++) yield { x: pool[i % pool.length] };
  }
  const rssBefore = process.memoryUsage().rss;
  const t0 = process.hrtime.bigint();
  let tFirst = 0n;
  let tLast = 0n;
  const { summary } = await quantize(which === 'cls' ? data.CLS_MODEL : data.DET_MODEL, createCalibrator(method, { batches: batches() }), {
    onProgress: (e) => {
      tLast = process.hrtime.bigint();
      if (e.batch === 1) tFirst = tLast;
    },
  });
  const t1 = process.hrtime.bigint();
  const seconds = Number(t1 - t0) / 1e9;
  // batches after the first (onnxruntime session set up), and the time after the last batch (thresholds + rewrite)
  const steady = n > 1 ? (n - 1) / (Number(tLast - tFirst) / 1e9) : NaN;
  const postSeconds = Number(t1 - tLast) / 1e9;
  process.stdout.write(JSON.stringify({
    model: which, method, batches: n, samples: summary.samples, seconds, samplesPerSecond: summary.samples / seconds,
    steadySamplesPerSecond: steady, postSeconds, maxRssMB: process.resourceUsage().maxRSS / 1024, rssBeforeMB: rssBefore / 2 ** 20,
    tensors: summary.tensorsCalibrated,
  }));
}

function main() {
  const counts = arg('--counts', '8,32,128,512').split(',').map(Number);
  const detCounts = arg('--det-counts', '4,16,64').split(',').map(Number);
  const size = arg('--det-size', '320');
  const methods = arg('--methods', 'entropy').split(',');
  const rows = [];
  for (const method of methods)
    for (const [which, list] of [['cls', counts], ['det', detCounts]])
      for (const n of list) {
        const out = execFileSync(process.execPath, [__filename, '--child', which, method, String(n), size], { encoding: 'utf8', env: process.env, maxBuffer: 1 << 20 });
        const r = JSON.parse(out.trim().split('\n').pop());
        rows.push(r);
        console.error(JSON.stringify(r));
      }
  console.log('| model | method | batches (of 1) | total s | samples/s (total) | samples/s (batch loop) | thresholds + rewrite s | peak RSS MB |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const m = r.model === 'cls' ? 'cls 1x3x48x192' : `det 1x3x${size}x${size}`;
    console.log(`| ${m} | ${r.method} | ${r.batches} | ${r.seconds.toFixed(2)} | ${r.samplesPerSecond.toFixed(1)} | ${r.steadySamplesPerSecond.toFixed(1)} | ${r.postSeconds.toFixed(2)} | ${r.maxRssMB.toFixed(0)} |`);
  }
  console.log(`\n${new Date().toISOString()}, ${os.cpus()[0].model} x${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, onnxruntime-node ${require('onnxruntime-node/package.json').version}`);
}

if (process.argv[2] === '--child') child().catch((e) => {
  console.error(e);
  process.exit(1);
});
else main();
