'use strict';
// CONTRACT TESTS of the build's progress monitor (native/builder.cc, TensorRT's IProgressMonitor) — a test double:
// contract.progress(listener, steps, stepMs) reports one phase of `steps` steps to the same Progress object a
// build uses, from a PromiseWorker thread as TensorRT's builder does, and stops when stepComplete returns false.
// No engine is built.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Worker } = require('node:worker_threads');
const h = require('./helpers');

function reason() {
  const r = h.skipReason();
  if (r) return r;
  if (!h.addon().features.progressMonitor) return 'the contract addon was built against headers without IProgressMonitor (TensorRT 8.6)';
  return null;
}
const skip = reason();
const opts = { skip: skip || false, timeout: 60_000 };

test('events reach the listener in order; cancel() stops the build at its next step', opts, async () => {
  const events = [];
  let p;
  p = h.addon().contract.progress((e) => { events.push(e); if (e.event === 'step' && e.step === 3) p.cancel(); }, 1_000_000, 2);
  const err = await p.then(() => assert.fail('resolved'), (e) => e);
  assert.equal(err.code, 'BUILD_FAILED');
  assert.deepEqual(events[0], { phase: 'contract phase', step: 0, steps: 1_000_000, depth: 0, event: 'start' });
  assert.equal(events.at(-1).event, 'end');
  const steps = events.filter((e) => e.event === 'step').map((e) => e.step);
  assert.deepEqual(steps.slice(0, 3), [1, 2, 3]);
  assert.ok(steps.length < 50, `${steps.length} steps after cancel()`);
});

// #3: a worker terminated while its build reports progress. Without the fix the teardown waits for the whole build
// (here 1,000,000 steps of 5 ms: about 80 minutes; the test then times out).
function terminateDuringProgress(withListener) {
  const src = `
    const { parentPort } = require('node:worker_threads');
    const a = require(${JSON.stringify(h.addonPath)});
    a.contract.progress(${withListener ? '() => {}' : 'undefined'}, 1000000, 5).catch(() => {});
    setTimeout(() => parentPort.postMessage('running'), 200);
  `;
  return new Promise((resolve, reject) => {
    const w = new Worker(src, { eval: true });
    w.on('error', reject);
    w.on('message', async () => {
      const t0 = process.hrtime.bigint();
      await w.terminate();
      resolve(Number(process.hrtime.bigint() - t0) / 1e6);
    });
  });
}

test('#3: worker.terminate() cancels a build that reports progress to a listener', opts, async () => {
  const ms = await terminateDuringProgress(true);
  assert.ok(ms < 30_000, `terminate took ${ms} ms`);
});

test('#3: worker.terminate() cancels a build without a progress listener (its deliveries are liveness probes)', opts, async () => {
  const ms = await terminateDuringProgress(false);
  assert.ok(ms < 30_000, `terminate took ${ms} ms`);
});
