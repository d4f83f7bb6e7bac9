'use strict';
/**
 * The libuv pool stays free while GPU work is in flight: `fs.promises.readFile` of a small (4 KiB) file, read
 * over and over, one at a time, while 64 GPU operations stay in flight (each lane issues a new one when its last
 * settles): pinned copies of 4 MiB in both directions on 4 streams, and every 8th operation a
 * `Stream.synchronize()` and every 16th a `cuda.synchronize()` (the calls that used to wait on a libuv pool
 * thread). Reports the read latency (median / p99 / max, ms) under that load and idle; the target is p99 <= 5 ms.
 * Measured from outside the addon (no instrumentation in it).
 *
 *   node scripts/bench/fsprobe.js [--load-ms 2000] [--in-flight 64] [--json]
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { loadLib, cudaSkipReason, round, cli, MiB, percentile } = require('./common');

async function reads(ms, file) {
  const lat = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t0 = performance.now();
    await fs.promises.readFile(file);
    lat.push(performance.now() - t0);
  }
  return {
    reads: lat.length,
    medianMs: round(percentile(lat, 50), 3),
    p99Ms: round(percentile(lat, 99), 3),
    maxMs: round(Math.max(...lat), 3),
  };
}

async function run({ loadMs = 2000, inFlight = 64, bytes = 4 * MiB } = {}) {
  const lib = loadLib();
  const skip = cudaSkipReason(lib);
  if (skip) return { skipped: skip };
  const { DeviceBuffer, HostBuffer, Stream, cuda } = lib;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tn-fsprobe-'));
  const file = path.join(dir, 'small.bin');
  fs.writeFileSync(file, Buffer.alloc(4096, 7));
  const lanes = Array.from({ length: 4 }, () => {
    const stream = new Stream({ nonBlocking: true });
    return { stream, opts: { stream }, host: new HostBuffer(bytes), dev: new DeviceBuffer(bytes) };
  });
  const out = { inFlight, loadBytes: bytes, threadpool: Number(process.env.UV_THREADPOOL_SIZE) || 4 };
  try {
    out.idle = await reads(Math.min(500, loadMs), file);
    let running = true;
    let ops = 0;
    const counts = { copies: 0, streamSync: 0, deviceSync: 0 };
    const lane = async (k) => {
      let i = k;
      while (running) {
        const l = lanes[i % lanes.length];
        if (i % 16 === 15) {
          counts.deviceSync++;
          await cuda.synchronize();
        } else if (i % 8 === 7) {
          counts.streamSync++;
          await l.stream.synchronize();
        } else {
          counts.copies++;
          await ((i & 1) ? l.dev.copyFrom(l.host, l.opts) : l.dev.copyTo(l.host, l.opts));
        }
        ops++;
        i += inFlight;
      }
    };
    const t0 = performance.now();
    const workers = Array.from({ length: inFlight }, (_, k) => lane(k));
    out.underLoad = await reads(loadMs, file);
    running = false;
    await Promise.all(workers);
    const s = (performance.now() - t0) / 1e3;
    out.gpuOpsPerSecond = round(ops / s, 0);
    out.ops = counts;
    out.target = 'fs.promises.readFile p99 <= 5 ms with 64 GPU operations in flight';
    out.pass = out.underLoad.p99Ms <= 5;
  } finally {
    for (const l of lanes) {
      l.dev.dispose();
      l.host.dispose();
      l.stream.dispose();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--load-ms') o.loadMs = Number(argv[++i]);
    else if (argv[i] === '--in-flight') o.inFlight = Number(argv[++i]);
  }
  return o;
}

module.exports = { run };
cli(module, (argv) => run(parseArgs(argv)));
