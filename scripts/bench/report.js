'use strict';
/** Markdown tables for the document written by run-all.js (used by run-all.js and scripts/gpu/summarize.js). */
const { sizeLabel } = require('./common');

// causes of timer ticks later than 5 ms (roundtrip.js attributes each)
const CAUSE = { longCall: 'binding call > 1 ms', gc: 'V8 GC pause', hostStall: 'host stall (idle sibling also late)', unexplained: 'unexplained' };

const f = (x, d = 2) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : x === null || x === undefined ? '–' : String(x));
const pass = (p) => (p === true ? 'PASS' : p === false ? 'FAIL' : 'n/a');

function benchMarkdown(doc) {
  const L = [];
  if (doc.skipped) return `Benchmarks skipped: ${doc.skipped}\n`;
  L.push(`Device: ${doc.device?.name} (cc ${doc.device?.computeCapability}), driver CUDA ${doc.driver?.cudaVersion}, addon CUDA runtime ${doc.runtimeCuda}, Node ${doc.node}, ${doc.date}${doc.quick ? ' (quick)' : ''}`);
  L.push('');
  const t = doc.targets || {};
  L.push('| target | figure | result |', '| --- | --- | --- |');
  for (const cr of [t.copyRatio, t.copyRatioPageable]) {
    if (!cr) continue;
    const w = cr.worst;
    const fig = w
      ? `worst ${f(w.ratio * 100, 1)}% (${w.kind} ${w.dir} ${sizeLabel(w.bytes)}; its ${w.pairs} pairs: p25-p75 ${f(w.ratioP25 * 100, 1)}-${f(w.ratioP75 * 100, 1)}%)`
      : cr.error ?? '–';
    const label = cr.kind ? `${cr.kind} copies >= ${f(cr.min * 100, 0)}% of C++ at >= 1 MiB (median of per-pair ratios)` : 'copies >= 95% of C++ at >= 1 MiB';
    L.push(`| ${label}${cr === t.copyRatioPageable ? ' (reported)' : ''} | ${fig} | ${pass(cr.pass)} |`);
  }
  if (t.roundTrip) {
    const r = t.roundTrip;
    L.push(`| round trip <= 10 us over C++ (median) | +${f(r.overheadMedianUs)} us (binding ${f(r.jsMedianUs)} / C++ ${f(r.cppMedianUs)}; p99 ${f(r.jsP99Us)} / ${f(r.cppP99Us)}) | ${pass(r.pass)} |`);
  }
  for (const tt of [t.timers, t.timersSaturated]) {
    if (!tt) continue;
    const lb = tt.loadBytes ? ` of ${sizeLabel(tt.loadBytes)}` : '';
    const sat = tt === t.timersSaturated ? ' (JS thread saturated)' : '';
    const gcNote = tt.pass === false && tt.passOutsideGc ? ' (every tick over 5 ms overlapped a V8 GC pause)' : '';
    const fig = tt.maxMs === undefined
      ? tt.error ?? '–'
      : `max ${f(tt.maxMs)} ms, p99 ${f(tt.p99Ms)} ms, ${tt.over5Ms ?? '?'} of ${tt.ticks ?? '?'} ticks > 5 ms; max outside GC pauses ${f(tt.maxMsOutsideGc)} ms (longest GC pause ${f(tt.gcMaxMs)} ms${tt.gcMaxKind ? `, ${tt.gcMaxKind}` : ''}; idle max ${f(tt.idleMaxMs)} ms)`;
    const by = tt.over5MsBy && tt.over5Ms
      ? `; ticks > 5 ms by cause: ${Object.entries(tt.over5MsBy).filter(([, n]) => n).map(([k, n]) => `${CAUSE[k] ?? k} ${n}`).join(', ')}`
      : '';
    const probe = tt.hostProbe && tt.hostProbe.maxMs !== undefined ? `; idle sibling process max ${f(tt.hostProbe.maxMs)} ms` : '';
    const call = tt.maxCallMs !== undefined ? `; longest binding call ${f(tt.maxCallMs)} ms` : '';
    L.push(`| timers <= 5 ms late, 1,000 calls${lb} in flight${sat} | ${fig}${by}${probe}${call} | ${pass(tt.pass)}${gcNote} |`);
  }
  if (t.readFile) {
    const r = t.readFile;
    const fig = r.p99Ms === undefined ? r.error ?? '–'
      : `p99 ${f(r.p99Ms)} ms, median ${f(r.medianMs)} ms, max ${f(r.maxMs)} ms over ${r.reads} reads (idle p99 ${f(r.idleP99Ms)} ms); ${r.gpuOpsPerSecond} GPU operations/s (${r.ops ? `${r.ops.copies} copies, ${r.ops.streamSync} Stream.synchronize, ${r.ops.deviceSync} cuda.synchronize` : ''})`;
    L.push(`| fs.promises.readFile p99 <= 5 ms, 64 GPU operations in flight | ${fig} | ${pass(r.pass)} |`);
  }
  L.push('');
  if (doc.peak && !doc.peak.error) {
    L.push(`Copy-engine peak (C++, pinned 256 MiB, events): H2D ${f(doc.peak.h2dGbps)} GB/s, D2H ${f(doc.peak.d2hGbps)} GB/s, both directions at once ${f(doc.peak.bidirGbps)} GB/s`, '');
  } else if (doc.peak?.error) L.push(`Copy-engine peak: ${doc.peak.error}`, '');
  if (doc.copyCompare?.length) {
    const pct = (x) => (x === null || x === undefined ? '–' : f(x * 100, 1) + '%');
    L.push('Copies: C++ and binding trials in interleaved pairs (order alternating), ratio = median of the per-pair ratios; GB/s = median trial:', '',
      '| memory | dir | size | pairs | binding GB/s | C++ GB/s | binding / C++ | pair ratios p25-p75 | lowest pair | of peak | C++ + event per copy GB/s | binding / that |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of doc.copyCompare) {
      L.push(`| ${r.kind} | ${r.dir} | ${sizeLabel(r.bytes)} | ${r.pairs} | ${f(r.jsGbps)} | ${f(r.cppGbps)} | ${pct(r.ratio)} | ${pct(r.ratioP25)}-${pct(r.ratioP75)} | ${pct(r.ratioMin)} | ${pct(r.ofPeak)} | ${f(r.cppEventsGbps)} | ${pct(r.ratioEvents)} |`);
    }
    L.push('');
  } else if (doc.copies?.skipped || doc.copies?.error) {
    L.push(`Copies: ${doc.copies.skipped || doc.copies.error}`, '');
  }
  const rc = doc.roundtripCpp;
  const rj = doc.roundtripJs;
  if (rc && !rc.error) {
    L.push(`Round trip, ${rc.bytes} B host->device copy + event, one at a time, ${rc.iterations} calls (us):`, '');
    L.push('| what | median | p99 | mean | min |', '| --- | ---: | ---: | ---: | ---: |');
    const row = (name, s) => s && L.push(`| ${name} | ${f(s.medianUs)} | ${f(s.p99Us)} | ${f(s.meanUs)} | ${f(s.minUs)} |`);
    row('C++ pinned, spin-wait event (cudaEventSynchronize)', rc.pinnedSpin);
    row('C++ pinned, blocking-sync event', rc.pinnedBlockingSync);
    row('C++ pageable, spin-wait event', rc.pageableSpin);
    if (rj && !rj.error) {
      row('binding pinned HostBuffer, await copyFrom', rj.pinned);
      row('binding pageable Uint8Array, await copyFrom', rj.pageable);
    } else if (rj?.error) L.push(`| binding | ${rj.error.replace(/\|/g, '/').slice(0, 200)} | | | |`);
    L.push('');
  }
  L.push('Event loop: lateness of a 1 ms timer chain while 1,000 calls stay in flight (ms):', '',
    '| copies | calls/s | GB/s | median | p99 | max | max outside GC | ticks > 5 ms | > 5 ms: call / GC / host / unexplained | GC pauses (max / total ms) | idle max | idle sibling max | longest call |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of [doc.loadJs, doc.loadSaturated]) {
    const u = r?.timerUnderLoad;
    if (u) {
      L.push(`| ${u.loadBytes ? sizeLabel(u.loadBytes) : '–'} | ${u.callsPerSecond} | ${f(u.loadGbps)} | ${f(u.medianMs)} | ${f(u.p99Ms)} | ${f(u.maxMs)} | ${f(u.maxMsOutsideGc)} | ${u.over5Ms ?? '–'} of ${u.ticks} | ${u.over5MsBy ? [u.over5MsBy.longCall, u.over5MsBy.gc, u.over5MsBy.hostStall, u.over5MsBy.unexplained].join(' / ') : '–'} | ${f(u.gcMaxMs)} / ${f(u.gcTotalMs, 1)} | ${f(r.timerIdle?.maxMs)} | ${f(u.hostProbe?.maxMs)} | ${f(u.maxCallMs)} |`);
    } else if (r?.error) L.push(`| ${r.error.replace(/\|/g, '/').slice(0, 160)} | | | | | | | | | | | | |`);
  }
  L.push('');
  const sc = doc.streamsCpp;
  const sj = doc.streamsJs;
  if (sc?.results && sj?.results) {
    L.push(`Concurrent streams (each alternating H2D/D2H ${sizeLabel(sc.bytes)} pinned copies, ${sc.copiesPerStream} per stream), aggregate GB/s:`, '');
    L.push('| streams | binding | C++ | binding / C++ |', '| ---: | ---: | ---: | ---: |');
    for (const r of sj.results) {
      const c = sc.results.find((x) => x.streams === r.streams);
      L.push(`| ${r.streams} | ${f(r.gbps)} | ${f(c?.gbps)} | ${c ? f((r.gbps / c.gbps) * 100, 1) + '%' : '–'} |`);
    }
    L.push('');
  } else if (sj?.error || sc?.error) L.push(`Streams: ${sj?.error || sc?.error}`, '');
  if (doc.trt) {
    if (doc.trt.skipped || doc.trt.error) L.push(`TensorRT (ResNet-50): skipped: ${doc.trt.skipped || doc.trt.error}`);
    else {
      L.push(`TensorRT: ${doc.trt.model}`, '', '| precision | infer median/p99 ms | enqueue median/p99 ms | enqueue qps | trtexec median ms | trtexec qps |', '| --- | ---: | ---: | ---: | ---: | ---: |');
      for (const r of doc.trt.results) {
        L.push(`| ${r.precision} | ${f(r.infer.medianUs / 1e3, 3)} / ${f(r.infer.p99Us / 1e3, 3)} | ${f(r.enqueue.medianUs / 1e3, 3)} / ${f(r.enqueue.p99Us / 1e3, 3)} | ${f(r.enqueueThroughputQps, 0)} | ${f(r.trtexec?.latencyMedianMs, 3)} | ${f(r.trtexec?.throughputQps, 0)} |`);
      }
    }
  }
  return L.join('\n') + '\n';
}

module.exports = { benchMarkdown };
