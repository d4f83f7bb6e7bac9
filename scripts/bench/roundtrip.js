'use strict';
/**
 * Round trip of one asynchronous binding call and event-loop freedom.
 *
 * 1. Latency: `await buf.copyFrom(host, { stream })` of a small buffer (4 KiB; the call records an event after
 *    the copy and its Promise resolves once the event has completed), one at a time, 10,000 times after 1,000
 *    warm-up calls; median / p99 in microseconds, from a pinned HostBuffer and from a pageable Uint8Array.
 *    The C++ equivalent (copy_baseline roundtrip): cudaMemcpyAsync + cudaEventRecord + cudaEventSynchronize.
 * 2. Event loop under load: 1,000 calls kept in flight (pinned copies of `loadBytes`, default 4 MiB, both
 *    directions, 4 streams; a new call is issued whenever one resolves) for `loadMs`; meanwhile a 1 ms
 *    setTimeout chain measures how late each timer fires (lateness = actual delay - 1 ms), and garbage
 *    collection pauses in the same window are recorded. The same chain on an idle loop is the reference
 *    (libuv timers have 1 ms resolution). With 1 MiB copies the GPU completes ~70,000 calls/s and the JS
 *    thread itself is saturated (run-all.js reports that case separately).
 *    Every tick later than 5 ms is attributed, first match wins: to a synchronous binding call longer than
 *    1 ms on the JS thread (each call's own duration is measured), to a V8 GC pause it overlaps, to a host
 *    stall (an idle sibling process, stall-probe.js, was late by more than 2 ms at the same moment: the
 *    machine held both processes), or else to nothing known ("unexplained": the addon settling finished calls
 *    and the continuations they run, among others). Everything is measured from outside the addon, which has one
 *    completion mechanism and no instrumentation.
 *
 *   node [--expose-gc] scripts/bench/roundtrip.js [--iterations 10000] [--bytes 4096] [--load-ms 2000 (0: none)]
 *        [--load-bytes N] [--json]
 */
const { PerformanceObserver } = require('node:perf_hooks');
const { fork } = require('node:child_process');
const path = require('node:path');
const { loadLib, cudaSkipReason, stats, round, cli, nowUs, MiB, percentile } = require('./common');

const GC_KINDS = { 1: 'minor', 4: 'major', 8: 'incremental', 16: 'weakcb' };

function startProbe() {
  return new Promise((resolve) => {
    let child;
    try {
      child = fork(path.join(__dirname, 'stall-probe.js'), ['1.5'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    } catch {
      return resolve(null);
    }
    const fail = () => resolve(null);
    child.once('error', fail);
    child.once('message', (m) => {
      child.off('error', fail);
      if (!m?.ready) return resolve(null);
      resolve({
        stop: () =>
          new Promise((res) => {
            const t = setTimeout(() => { child.kill(); res(null); }, 5000);
            child.once('message', (r) => { clearTimeout(t); res(r); });
            child.send('stop');
          }),
      });
    });
  });
}

async function timerLateness(ms, during, { probe = false } = {}) {
  const late = [];
  const spans = [];
  const longCalls = []; // [start, end] of synchronous binding calls > 1 ms (filled by `during`)
  const prober = probe ? await startProbe() : null;
  let stop = false;
  // garbage-collection pauses in the same window (to tell them from the binding's own work)
  const gcs = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push([e.startTime, e.startTime + e.duration, GC_KINDS[e.detail?.kind] ?? String(e.detail?.kind)]);
  });
  obs.observe({ entryTypes: ['gc'] });
  const chain = new Promise((resolve) => {
    const tick = () => {
      if (stop) return resolve();
      const t0 = performance.now();
      setTimeout(() => {
        const t1 = performance.now();
        late.push(t1 - t0 - 1);
        spans.push([t0, t1]);
        tick();
      }, 1);
    };
    tick();
  });
  const work = during ? during(longCalls) : Promise.resolve();
  await new Promise((r) => setTimeout(r, ms));
  stop = true;
  const extra = await work;
  await chain;
  await new Promise((r) => setImmediate(r));
  obs.disconnect();
  const probeResult = prober ? await prober.stop() : null;
  // host stalls seen by the idle sibling, on this process's clock
  const stalls = (probeResult?.lateTicks ?? []).filter((x) => x[2] > 2).map(([a, b, l]) => [a - performance.timeOrigin, b - performance.timeOrigin, l]);
  const overlaps = (list, a, b) => list.some(([s, e]) => s < b && e > a);
  const over = (x) => late.filter((v) => v > x).length;
  // ticks whose wait overlapped a garbage-collection pause (V8's, not the binding's)
  const hitByGc = spans.map(([a, b]) => gcs.some(([s, e]) => s < b && e > a));
  const outside = late.filter((_, i) => !hitByGc[i]);
  const durations = gcs.map(([s, e]) => e - s);
  // attribution of each tick later than 5 ms (first match wins: a long binding call, so that the binding is
  // blamed first; a GC pause; a host stall)
  const cause = { longCall: 0, gc: 0, hostStall: 0, unexplained: 0 };
  let maxUnexplained = null;
  late.forEach((v, i) => {
    if (v <= 5) return;
    const [a, b] = spans[i];
    if (overlaps(longCalls, a, b)) cause.longCall++;
    else if (hitByGc[i]) cause.gc++;
    else if (probeResult && overlaps(stalls, a, b)) cause.hostStall++;
    else {
      cause.unexplained++;
      maxUnexplained = Math.max(maxUnexplained ?? 0, v);
    }
  });
  return {
    ticks: late.length,
    over2Ms: over(2),
    over5Ms: over(5),
    gcCount: gcs.length,
    gcMaxMs: durations.length ? round(Math.max(...durations), 3) : 0,
    gcMaxKind: durations.length ? gcs[durations.indexOf(Math.max(...durations))][2] : null,
    gcTotalMs: round(durations.reduce((a, x) => a + x, 0), 1),
    ticksDuringGc: hitByGc.filter(Boolean).length,
    maxMsOutsideGc: outside.length ? round(Math.max(...outside), 3) : null,
    medianMs: round(percentile(late, 50), 3),
    p99Ms: round(percentile(late, 99), 3),
    maxMs: round(Math.max(...late), 3),
    over5MsBy: probe ? cause : undefined,
    maxMsUnexplained: probe && maxUnexplained !== null ? round(maxUnexplained, 3) : null,
    hostProbe: probeResult
      ? { ticks: probeResult.ticks, maxMs: probeResult.maxMs, stallsOver2Ms: stalls.length, stallMaxMs: stalls.length ? round(Math.max(...stalls.map((x) => x[2])), 3) : 0 }
      : probe ? { error: 'the stall probe did not start' } : undefined,
    longCalls: during ? longCalls.length : undefined,
    ...(extra ?? {}),
  };
}

async function run({ iterations = 10000, bytes = 4096, loadMs = 2000, inFlight = 1000, loadBytes = 4 * MiB } = {}) {
  const lib = loadLib();
  const skip = cudaSkipReason(lib);
  if (skip) return { skipped: skip };
  const { DeviceBuffer, HostBuffer, Stream } = lib;
  const stream = new Stream({ nonBlocking: true });
  const dev = new DeviceBuffer(bytes);
  const pinned = new HostBuffer(bytes);
  const pageable = new Uint8Array(bytes);
  const out = { iterations, bytes };
  try {
    for (const [name, host] of iterations > 0 ? [['pinned', pinned], ['pageable', pageable]] : []) {
      for (let i = 0; i < 1000; i++) await dev.copyFrom(host, { stream });
      const us = new Array(iterations);
      for (let i = 0; i < iterations; i++) {
        const t0 = nowUs();
        await dev.copyFrom(host, { stream });
        us[i] = nowUs() - t0;
      }
      out[name] = stats(us);
    }

    if (loadMs <= 0) return out;
    // event loop: idle reference, then under load (from a collected heap when --expose-gc is given)
    if (typeof global.gc === 'function') global.gc();
    out.timerIdle = await timerLateness(Math.min(500, loadMs));
    if (typeof global.gc === 'function') global.gc();
    const lanes = [];
    const size = loadBytes;
    for (let i = 0; i < 4; i++) {
      const stream = new Stream({ nonBlocking: true });
      lanes.push({ stream, opts: { stream }, host: new HostBuffer(size), dev: new DeviceBuffer(size) });
    }
    try {
      out.timerUnderLoad = await timerLateness(loadMs, async (longCalls) => {
        let running = true;
        let completed = 0;
        let issued = 0;
        let maxInFlight = 0;
        let current = 0;
        let maxCallMs = 0;
        const t0 = performance.now();
        setTimeout(() => (running = false), loadMs);
        const one = async (k) => {
          while (running) {
            const l = lanes[k % lanes.length];
            current++;
            issued++;
            if (current > maxInFlight) maxInFlight = current;
            // the call's own time on the JS thread (issuing the copy), apart from the wait for its completion
            const c0 = performance.now();
            const p = (issued & 1) ? l.dev.copyFrom(l.host, l.opts) : l.dev.copyTo(l.host, l.opts);
            const c1 = performance.now();
            if (c1 - c0 > maxCallMs) maxCallMs = c1 - c0;
            if (c1 - c0 > 1) longCalls.push([c0, c1]);
            await p;
            current--;
            completed++;
            k++;
          }
        };
        // start the 1,000 in batches of 100 so that issuing them does not itself hold the loop for long
        const workers = [];
        for (let b = 0; b < inFlight; b += 100) {
          for (let k = b; k < Math.min(inFlight, b + 100); k++) workers.push(one(k));
          await new Promise((r) => setImmediate(r));
        }
        await Promise.all(workers);
        const s = (performance.now() - t0) / 1e3;
        return { inFlight, loadBytes: size, maxInFlight, callsCompleted: completed, callsPerSecond: round(completed / s, 0), loadGbps: round((completed * size) / s / 1e9, 3), maxCallMs: round(maxCallMs, 3) };
      }, { probe: true });
    } finally {
      for (const l of lanes) {
        l.dev.dispose();
        l.host.dispose();
        l.stream.dispose();
      }
    }
  } finally {
    dev.dispose();
    pinned.dispose();
    stream.dispose();
  }
  return out;
}

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--iterations') o.iterations = Number(argv[++i]);
    else if (argv[i] === '--bytes') o.bytes = Number(argv[++i]);
    else if (argv[i] === '--load-ms') o.loadMs = Number(argv[++i]);
    else if (argv[i] === '--in-flight') o.inFlight = Number(argv[++i]);
    else if (argv[i] === '--load-bytes') o.loadBytes = Number(argv[++i]);
  }
  return o;
}

module.exports = { run, timerLateness };
cli(module, (argv) => run(parseArgs(argv)));
