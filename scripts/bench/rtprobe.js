'use strict';
/**
 * Where the time of one asynchronous call goes (diagnosis for the round-trip target; measured from outside the
 * addon): per-call cost on the JS thread of issuing calls without awaiting them (library and raw addon), of a
 * synchronous addon call (Stream.query), and round trips (one at a time) of a 4 KiB pinned copy through the
 * library and the raw addon, of Stream.synchronize() on an idle stream (the completion path alone: event record,
 * completion thread, delivery), and of plain JavaScript promises for reference. Microseconds, medians.
 *
 *   node scripts/bench/rtprobe.js [--iterations 20000] [--json]
 */
const { loadLib, cudaSkipReason, round, cli, median, percentile, nowUs } = require('./common');

async function run({ iterations = 20000 } = {}) {
  const lib = loadLib();
  const skip = cudaSkipReason(lib);
  if (skip) return { skipped: skip };
  const { DeviceBuffer, HostBuffer, Stream } = lib;
  const n = 4096;
  const stream = new Stream({ nonBlocking: true });
  const buf = new DeviceBuffer(n);
  const host = new HostBuffer(n);
  const opts = { stream };
  const nb = buf._native;
  const nh = host._native;
  const ns = stream._native;
  const out = { iterations, bytes: n };
  const issue = async (name, fn) => {
    // issue `iterations` calls back to back; time until the last one is issued, then until all settled
    for (let i = 0; i < 1000; i++) await fn();
    const ps = new Array(iterations);
    const t0 = nowUs();
    for (let i = 0; i < iterations; i++) ps[i] = fn();
    const t1 = nowUs();
    await Promise.all(ps);
    const t2 = nowUs();
    out[name] = { issueUs: round((t1 - t0) / iterations, 3), allSettledUs: round((t2 - t0) / iterations, 3) };
  };
  const rt = async (name, fn) => {
    for (let i = 0; i < 1000; i++) await fn();
    const us = new Array(iterations);
    for (let i = 0; i < iterations; i++) {
      const t0 = nowUs();
      await fn();
      us[i] = nowUs() - t0;
    }
    out[name] = { medianUs: round(median(us), 3), p99Us: round(percentile(us, 99), 3) };
  };
  try {
    await issue('issueLibCopy', () => buf.copyFrom(host, opts));
    await issue('issueNativeCopy', () => nb.copyFromHost(nh, 0, n, 0, ns));
    await issue('issueNativeSync', () => ns.synchronize());
    {
      const t0 = nowUs();
      for (let i = 0; i < iterations; i++) ns.query();
      out.syncCallQueryUs = round((nowUs() - t0) / iterations, 3);
    }
    await rt('rtLibCopy', () => buf.copyFrom(host, opts));
    await rt('rtNativeCopy', () => nb.copyFromHost(nh, 0, n, 0, ns));
    await rt('rtNativeSyncIdle', () => ns.synchronize());
    await rt('rtPromiseResolve', () => Promise.resolve());
    await rt('rtSetImmediate', () => new Promise((r) => setImmediate(r)));
  } finally {
    buf.dispose();
    host.dispose();
    stream.dispose();
  }
  return out;
}

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) if (argv[i] === '--iterations') o.iterations = Number(argv[++i]);
  return o;
}

module.exports = { run };
cli(module, (argv) => run(parseArgs(argv)));
