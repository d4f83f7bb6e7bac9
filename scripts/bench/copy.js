'use strict';
/**
 * Host<->device copy throughput through DeviceBuffer.copyFrom / copyTo, pinned (HostBuffer) and pageable
 * (Uint8Array) host memory, 4 KiB .. 1 GiB. Method (the same as copy_baseline.cc `copy`): `reps` copies issued
 * back to back on one stream, throughput = bytes / wall time until every Promise has resolved; median of 5
 * trials after one warm-up copy.
 *
 *   node scripts/bench/copy.js [--sizes 4096,1048576] [--kinds pinned,pageable] [--dirs h2d,d2h] [--json]
 */
const { loadLib, cudaSkipReason, repsFor, median, round, cli, MiB } = require('./common');

const DEFAULT_SIZES = [4096, 16384, 65536, 262144, MiB, 4 * MiB, 16 * MiB, 64 * MiB, 256 * MiB, 1024 * MiB];

async function run({ sizes = DEFAULT_SIZES, kinds = ['pinned', 'pageable'], dirs = ['h2d', 'd2h'] } = {}) {
  const lib = loadLib();
  const skip = cudaSkipReason(lib);
  if (skip) return { skipped: skip };
  const { DeviceBuffer, HostBuffer, Stream } = lib;
  const stream = new Stream({ nonBlocking: true });
  const results = [];
  try {
    for (const kind of kinds) {
      for (const n of sizes) {
        const hb = kind === 'pinned' ? new HostBuffer(n) : null;
        const host = hb ?? new Uint8Array(n);
        (hb ? hb.view(Uint8Array) : host).fill(0x5a);
        const buf = new DeviceBuffer(n);
        try {
          for (const dir of dirs) {
            const reps = repsFor(n);
            const once = () => (dir === 'h2d' ? buf.copyFrom(host, { stream }) : buf.copyTo(host, { stream }));
            await once();
            const trials = [];
            for (let t = 0; t < 5; t++) {
              const ps = new Array(reps);
              const t0 = performance.now();
              for (let r = 0; r < reps; r++) ps[r] = once();
              await Promise.all(ps);
              const s = (performance.now() - t0) / 1e3;
              trials.push((n * reps) / s / 1e9);
            }
            results.push({ kind, dir, bytes: n, reps, gbps: round(median(trials), 4), best: round(Math.max(...trials), 4), trials: trials.map((x) => round(x, 4)) });
          }
        } finally {
          buf.dispose();
          hb?.dispose();
        }
      }
    }
  } finally {
    stream.dispose();
  }
  return { method: 'reps back-to-back copies on one stream, wall clock until all Promises resolved, median of 5 trials', results };
}

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--sizes') o.sizes = argv[++i].split(',').map(Number);
    else if (argv[i] === '--kinds') o.kinds = argv[++i].split(',');
    else if (argv[i] === '--dirs') o.dirs = argv[++i].split(',');
  }
  return o;
}

module.exports = { run, DEFAULT_SIZES };
cli(module, (argv) => run(parseArgs(argv)));
