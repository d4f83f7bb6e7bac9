'use strict';
/** One timed quantize() run for scripts/bench/vs-ort.js (fresh process): node vs-ort-one.js <model> <npy dir> <method> */
const path = require('path');
const dist = process.env.TENSORRT_NODE_DIST || path.join(__dirname, '..', '..', 'dist');
const { quantize, npyDirectoryCalibrator } = require(path.join(dist, 'calibration'));
const [file, dir, method] = process.argv.slice(2);
(async () => {
  const t0 = performance.now();
  let tStats = 0;
  const workers = process.env.STATISTICS_WORKERS;
  const r = await quantize(file, npyDirectoryCalibrator(dir, { method, percentile: 99.99 }), {
    ...(workers !== undefined ? { statisticsWorkers: Number(workers) } : {}),
    onProgress: (e) => {
      if (e.phase === 'statistics') tStats = performance.now();
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ seconds, statisticsSeconds: (tStats - t0) / 1000, nodesQuantized: r.summary.nodesQuantized, batches: r.summary.batches }) + '\n');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
