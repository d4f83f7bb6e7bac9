'use strict';
/**
 * Host-stall probe: an idle Node process that runs the same 1 ms setTimeout chain as roundtrip.js's timer
 * measurement and reports every tick later than `minLateMs`, with absolute times (performance.timeOrigin
 * based, so they line up with the parent's). When the loaded process and this idle sibling are late at the
 * same moment, the machine (a VM stall, CPU steal), not the binding, held both.
 *
 * Used by roundtrip.js through child_process.fork: it sends {ready:true}, runs until the parent sends
 * 'stop', then sends {ticks, lateTicks: [[startMs, endMs, lateMs], ...], maxMs} and exits.
 */
const minLateMs = Number(process.argv[2] || 1.5);
const late = [];
let ticks = 0;
let maxMs = 0;
let stop = false;
const origin = performance.timeOrigin;

const tick = () => {
  if (stop) return;
  const t0 = performance.now();
  setTimeout(() => {
    const t1 = performance.now();
    const l = t1 - t0 - 1;
    ticks++;
    if (l > maxMs) maxMs = l;
    if (l > minLateMs) late.push([origin + t0, origin + t1, Math.round(l * 1000) / 1000]);
    tick();
  }, 1);
};

process.on('message', (m) => {
  if (m !== 'stop') return;
  stop = true;
  process.send({ ticks, lateTicks: late, maxMs: Math.round(maxMs * 1000) / 1000 }, () => process.exit(0));
});
tick();
process.send({ ready: true });
