'use strict';
/**
 * Multi-GPU tests (node:test, uses dist/): every CUDA object is bound to the device it was created on, whatever
 * device the calling thread has current later: buffers, streams, events and copies on device 1 while device 0 is
 * current, peer copies between the devices, disposal with another device current and from another thread
 * (worker_threads, the garbage collector, the completion thread). They need two CUDA devices and skip with a
 * printed reason otherwise.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const lib = require('../../dist/index.js');
const { DeviceBuffer, HostBuffer, Stream, Event, cuda, runtimeInfo } = lib;
const { random, assertBytesEqual } = require('./helpers');

const info = runtimeInfo();
const devices = info.cuda.available ? info.cuda.devices.length : 0;
const skip = !info.cuda.available
  ? `no usable CUDA GPU: ${info.cuda.reason ?? 'unknown reason'}`
  : devices < 2
    ? `needs two CUDA devices; this machine has ${devices}`
    : false;
if (skip) console.log(`# test/gpu/multi-gpu.test.js skipped: ${skip}`);

const MiB = 1024 * 1024;
const DIST = path.join(__dirname, '..', '..', 'dist', 'index.js');

/** Runs `fn` with device `d` current, then makes device `back` current again. */
function on(d, fn, back = 0) {
  cuda.setDevice(d);
  try {
    return fn();
  } finally {
    cuda.setDevice(back);
  }
}

test('buffers, streams, events and copies on device 1 while device 0 is current', { skip }, async () => {
  cuda.setDevice(0);
  const n = 5 * MiB + 3;
  const [buf, stream, ev, pinned] = on(1, () => [new DeviceBuffer(n), new Stream({ nonBlocking: true }), new Event(), new HostBuffer(n)]);
  try {
    assert.equal(cuda.getDevice(), 0);
    assert.equal(buf.device, 1);
    assert.equal(stream.device, 1);
    assert.equal(ev.device, 1);
    const src = random(n);
    // pageable (staged and piecewise) and pinned, on the device-1 stream and on the default stream
    await buf.copyFrom(src, { stream });
    const out = new Uint8Array(n);
    await buf.copyTo(out, { stream });
    assertBytesEqual(out, src, 'pageable round trip on device 1 (its stream)');
    const out2 = new Uint8Array(n);
    await buf.copyTo(out2);
    assertBytesEqual(out2, src, 'pageable copy on device 1 (default stream, device 0 current)');
    const small = random(4096);
    await buf.copyFrom(small, { offset: 100 });
    const backSmall = new Uint8Array(4096);
    await buf.copyTo(backSmall, { offset: 100, stream });
    assertBytesEqual(backSmall, small, 'small pageable copy');
    await buf.fill(7, { stream });
    await buf.copyTo(pinned, { stream });
    assert.ok(pinned.view(Uint8Array).every((x) => x === 7), 'fill on device 1 seen through pinned memory');
    ev.record(stream);
    await ev.synchronize();
    assert.equal(ev.query(), true);
    await stream.synchronize();
    assert.equal(stream.query(), true);
    await cuda.synchronize();
    assert.equal(cuda.getDevice(), 0, 'no call changed the current device');
  } finally {
    buf.dispose();
    stream.dispose();
    ev.dispose();
    pinned.dispose();
  }
  assert.equal(cuda.getDevice(), 0, 'disposal did not change the current device');
});

test('an event is recorded only on a stream of its device; a fill only with a stream of its buffer\'s device', { skip }, async () => {
  cuda.setDevice(0);
  const s0 = new Stream();
  const [ev1, buf1] = on(1, () => [new Event(), new DeviceBuffer(1024)]);
  try {
    assert.throws(() => ev1.record(s0), (e) => e.code === 'INVALID_ARGUMENT' && /device 0.*device 1/.test(e.message));
    await assert.rejects(() => buf1.fill(1, { stream: s0 }), (e) => e.code === 'INVALID_ARGUMENT');
    ev1.record(); // the default stream of the event's device
    await ev1.synchronize();
    // a device-1 stream may wait for a device-0 event (CUDA allows it)
    const ev0 = new Event();
    const s1 = on(1, () => new Stream());
    ev0.record(s0);
    s1.waitEvent(ev0);
    await s1.synchronize();
    ev0.dispose();
    s1.dispose();
  } finally {
    s0.dispose();
    ev1.dispose();
    buf1.dispose();
  }
});

test('peer copies between devices 0 and 1 (both directions, offsets, streams of either device)', { skip }, async () => {
  cuda.setDevice(0);
  const n = 33 * MiB + 5;
  const src = random(n);
  const b0 = new DeviceBuffer(n);
  const s0 = new Stream();
  const [b1, s1] = on(1, () => [new DeviceBuffer(n + 64), new Stream({ nonBlocking: true })]);
  try {
    await b0.copyFrom(src, { stream: s0 });
    await b1.copyFromDevice(b0, { offset: 64, stream: s1 });
    const back = new DeviceBuffer(n);
    await back.copyFromDevice(b1, { srcOffset: 64, byteLength: n, stream: s0 });
    const out = new Uint8Array(n);
    await back.copyTo(out);
    assertBytesEqual(out, src, 'device 0 -> device 1 -> device 0');
    const viaDefault = new Uint8Array(n);
    await b1.copyTo(viaDefault, { offset: 64 });
    assertBytesEqual(viaDefault, src, 'device 1 contents');
    back.dispose();
  } finally {
    b0.dispose();
    b1.dispose();
    s0.dispose();
    s1.dispose();
  }
});

test('disposal with another device current, by the garbage collector, and from another thread leaks nothing', { skip }, () => {
  const code = `
    const { Worker } = require('node:worker_threads');
    const { DeviceBuffer, Stream, Event, cuda } = require(process.env.TN_DIST);
    const free1 = () => { cuda.setDevice(1); const f = cuda.memGetInfo().free; cuda.setDevice(0); return f; };
    const n = 256 * 1024 * 1024;
    const body = \`
      const { parentPort } = require('node:worker_threads');
      const { DeviceBuffer, Stream, cuda } = require(process.env.TN_DIST);
      (async () => {
        cuda.setDevice(1);
        const b = new DeviceBuffer(\${n}); const s = new Stream();
        cuda.setDevice(0);
        await b.fill(1, { stream: s });
        const p = b.fill(2, { stream: s });   // in flight while disposed below
        b.dispose(); s.dispose();
        await p.catch(() => {});
        cuda.setDevice(1);
        const kept = new DeviceBuffer(\${n});  // left to the worker's teardown
        cuda.setDevice(0);
        kept.fill(3);
        parentPort.postMessage('done');
      })();
    \`;
    (async () => {
      cuda.setDevice(0);
      const before = free1();
      // 1. disposal with device 0 current of objects of device 1, one with work in flight
      for (let i = 0; i < 8; i++) {
        cuda.setDevice(1);
        const b = new DeviceBuffer(n); const s = new Stream(); const e = new Event();
        cuda.setDevice(0);
        b.fill(i, { stream: s }); e.record(s); const p = e.synchronize();
        b.dispose(); s.dispose(); e.dispose();
        await p;
      }
      // 2. by the garbage collector (finalizers on the JS thread, device 0 current)
      for (let i = 0; i < 8; i++) { cuda.setDevice(1); new DeviceBuffer(n); new Stream(); new Event(); cuda.setDevice(0); }
      for (let i = 0; i < 10; i++) { global.gc(); await new Promise((r) => setTimeout(r, 10)); }
      // 3. in worker threads, one of them terminated with its buffers alive
      for (let i = 0; i < 3; i++) {
        const w = new Worker(body, { eval: true });
        await new Promise((res, rej) => { w.on('message', res); w.on('error', rej); });
        await w.terminate();
      }
      await cuda.synchronize();
      const after = free1();
      console.log(JSON.stringify({ before, after, device: cuda.getDevice() }));
    })().catch((e) => { console.error(e); process.exit(1); });
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', code], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, TN_DIST: DIST },
  });
  assert.equal(r.status, 0, `status ${r.status} signal ${r.signal}: ${r.stderr}`);
  const res = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.equal(res.device, 0);
  // allocations of 256 MiB each: a leak of one shows; allow 64 MiB of driver bookkeeping
  assert.ok(res.before - res.after < 64 * MiB, `device 1 free memory went from ${res.before} to ${res.after}`);
});

test('review 2 #1: default-stream copies on two devices, interleaved and awaited out of order, settle only with their bytes', { skip }, async () => {
  // The legacy default stream is the null handle on every device: keyed by the handle alone, a quick device-0 copy
  // queued behind a slow device-1 copy in one FIFO settled the device-1 copy before its bytes had arrived.
  cuda.setDevice(0);
  const big = 256 * MiB;
  const src1 = random(big);
  const [d1, h1] = on(1, () => [new DeviceBuffer(big), new HostBuffer(big)]);
  const d0 = new DeviceBuffer(1 * MiB);
  const src0 = random(1 * MiB);
  try {
    await d1.copyFrom(src1);
    await d0.copyFrom(src0);
    for (let round = 0; round < 4; round++) {
      new Uint8Array(h1.buffer).fill(0);
      const slow = d1.copyTo(h1).then(() => assertBytesEqual(new Uint8Array(h1.buffer), src1, `round ${round}: device-1 copy`));
      const quick = [];
      for (let i = 0; i < 4; i++) {
        const out = new Uint8Array(1 * MiB);
        quick.push(d0.copyTo(out).then(() => assertBytesEqual(out, src0, `round ${round}: device-0 copy ${i}`)));
      }
      for (let i = quick.length - 1; i >= 0; i--) await quick[i];
      await slow;
    }
  } finally {
    d1.dispose();
    h1.dispose();
    d0.dispose();
  }
});
