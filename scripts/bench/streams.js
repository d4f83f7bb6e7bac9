'use strict';
/**
 * Many streams in parallel: 1, 2, 4, 8 streams, each with its own pinned HostBuffer and DeviceBuffer, each
 * alternating host->device and device->host copies (so that both copy directions can overlap once there are
 * two streams or more). Aggregate bytes over the wall time until every Promise resolved; median of 3.
 * Same method as copy_baseline.cc `streams`.
 *
 *   node scripts/bench/streams.js [--counts 1,2,4,8] [--bytes 67108864] [--copies 8] [--json]
 */
const { loadLib, cudaSkipReason, median, round, cli, MiB } = require('./common');

async function run({ counts = [1, 2, 4, 8], bytes = 64 * MiB, copies = 8 } = {}) {
  const lib = loadLib();
  const skip = cudaSkipReason(lib);
  if (skip) return { skipped: skip };
  const { DeviceBuffer, HostBuffer, Stream } = lib;
  const max = Math.max(...counts);
  const lanes = [];
  try {
    for (let i = 0; i < max; i++) {
      lanes.push({ stream: new Stream({ nonBlocking: true }), host: new HostBuffer(bytes), dev: new DeviceBuffer(bytes) });
    }
    const results = [];
    for (const k of counts) {
      const issue = async () => {
        const ps = [];
        for (let c = 0; c < copies; c++) {
          for (let i = 0; i < k; i++) {
            const { stream, host, dev } = lanes[i];
            ps.push((c + i) % 2 === 0 ? dev.copyFrom(host, { stream }) : dev.copyTo(host, { stream }));
          }
        }
        await Promise.all(ps);
      };
      await issue();
      const g = [];
      for (let t = 0; t < 3; t++) {
        const t0 = performance.now();
        await issue();
        g.push((bytes * copies * k) / ((performance.now() - t0) / 1e3) / 1e9);
      }
      results.push({ streams: k, gbps: round(median(g), 4) });
    }
    return { bytes, copiesPerStream: copies, method: 'each stream alternates H2D and D2H copies (pinned); aggregate bytes over wall clock, median of 3', results };
  } finally {
    for (const l of lanes) {
      l.dev.dispose();
      l.host.dispose();
      l.stream.dispose();
    }
  }
}

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--counts') o.counts = argv[++i].split(',').map(Number);
    else if (argv[i] === '--bytes') o.bytes = Number(argv[++i]);
    else if (argv[i] === '--copies') o.copies = Number(argv[++i]);
  }
  return o;
}

module.exports = { run };
cli(module, (argv) => run(parseArgs(argv)));
