'use strict';
/**
 * GPU tests of the second native review's CUDA-side defects (issue 23; node:test, uses dist/):
 *   #3  a DeviceBuffer or Stream disposed right after work was queued on it: the work completes with the right
 *       bytes (the jobs hold the native allocation and stream; cudaFree / cudaStreamDestroy run after them);
 *   #1  completion FIFOs keyed by (device, stream): a disposed stream's handle is not reused while its copy is in
 *       flight, so a copy on a new stream never settles an earlier, slower copy; default-stream copies awaited out of
 *       order each settle only once their bytes are there;
 *   #9  (CUDA-side part) stream order of work queued back to back without awaiting: a copy queued after a fill,
 *       and after an event another stream waits for, sees the fill.
 * Each check is made in the Promise's own continuation: a Promise settled before its copy completed would show
 * stale bytes there. Every test skips with a printed reason when no usable CUDA GPU is present. The two-GPU
 * version of #1 is in multi-gpu.test.js.
 */
const test = require('node:test');
const assert = require('node:assert/strict');

const lib = require('../../dist/index.js');
const { DeviceBuffer, HostBuffer, Stream, Event, runtimeInfo } = lib;
const { random, assertBytesEqual } = require('./helpers');

const info = runtimeInfo();
const skip = info.cuda.available ? false : `no usable CUDA GPU: ${info.cuda.reason ?? 'unknown reason'}`;
if (skip) console.log(`# test/gpu/ownership.test.js skipped: ${skip}`);

const MiB = 1024 * 1024;

/** `p` resolves; `check` runs in its continuation (before anything else can touch the memory). */
function settlesWith(p, check) {
  return p.then(() => check());
}

test('#3: DeviceBuffer.dispose() right after queueing copies: they complete with the right bytes', { skip }, async () => {
  const n = 64 * MiB;
  const src = random(n);
  for (let round = 0; round < 3; round++) {
    const a = new DeviceBuffer(n);
    await a.copyFrom(src);
    // device -> host out of a disposed buffer (pinned and pageable destinations), device -> device from one
    const pinned = new HostBuffer(n);
    const pageable = new Uint8Array(n);
    const b = new DeviceBuffer(n);
    const toPinned = a.copyTo(pinned);
    const toPageable = a.copyTo(pageable);
    const toB = b.copyFromDevice(a);
    a.dispose();
    assert.equal(a.disposed, true);
    await settlesWith(toPinned, () => assertBytesEqual(new Uint8Array(pinned.buffer), src, `round ${round}: pinned copy from a disposed buffer`));
    await settlesWith(toPageable, () => assertBytesEqual(pageable, src, `round ${round}: pageable copy from a disposed buffer`));
    await toB;
    // host -> device into a buffer disposed right away, then a fill of one: no crash, the promises resolve
    const c = new DeviceBuffer(n);
    const intoC = c.copyFrom(src);
    const fillC = c.fill(7);
    c.dispose();
    await Promise.all([intoC, fillC]);
    const back = new Uint8Array(n);
    await b.copyTo(back);
    assertBytesEqual(back, src, `round ${round}: device-to-device copy out of a disposed buffer`);
    b.dispose();
    pinned.dispose();
  }
  // a disposed buffer refuses new work with a clear error
  const d = new DeviceBuffer(16);
  d.dispose();
  await assert.rejects(async () => d.copyTo(new Uint8Array(16)), (e) => e.code === 'DISPOSED');
});

test('#3: Stream.dispose() right after queueing copies on it: they complete; synchronize() of it too', { skip }, async () => {
  const n = 48 * MiB;
  const src = random(n);
  const buf = new DeviceBuffer(n);
  try {
    for (let round = 0; round < 4; round++) {
      const s = new Stream({ nonBlocking: round % 2 === 0 });
      const up = buf.copyFrom(src, { stream: s });
      const out = new Uint8Array(n);
      const down = buf.copyTo(out, { stream: s });
      const sync = s.synchronize();
      s.dispose();
      assert.equal(s.disposed, true);
      await up;
      await settlesWith(down, () => assertBytesEqual(out, src, `round ${round}: copy on a disposed stream`));
      await sync;
      await assert.rejects(async () => buf.copyTo(out, { stream: s }), (e) => e.code === 'DISPOSED');
    }
  } finally {
    buf.dispose();
  }
});

test('#1: a copy on a new stream never settles a slower copy of a disposed stream (handles are not reused early)', { skip }, async () => {
  const big = 256 * MiB;
  const small = 4096;
  const src = random(big);
  const dev = new DeviceBuffer(big);
  const pinned = new HostBuffer(big);
  try {
    await dev.copyFrom(src);
    for (let round = 0; round < 6; round++) {
      new Uint8Array(pinned.buffer).fill(0);
      const s1 = new Stream({ nonBlocking: true });
      const slow = dev.copyTo(pinned, { stream: s1 }); // tens of milliseconds
      s1.dispose(); // the old code destroyed it here: the next stream could get its handle
      const s2 = new Stream({ nonBlocking: true });
      // several quick jobs behind it: a FIFO of three or more is searched by bisection on the JS thread
      const quick = [];
      for (let i = 0; i < 4; i++) quick.push(dev.copyTo(new Uint8Array(small), { stream: s2, offset: i * small }));
      await Promise.all(quick);
      await settlesWith(slow, () =>
        assertBytesEqual(new Uint8Array(pinned.buffer), src, `round ${round}: the slow copy settled before its bytes arrived`),
      );
      s2.dispose();
    }
  } finally {
    dev.dispose();
    pinned.dispose();
  }
});

test('#1: default-stream copies on one device, awaited out of order: each settles with its bytes', { skip }, async () => {
  const sizes = [128 * MiB, 4096, 1 * MiB, 64, 32 * MiB, 8192];
  const bufs = sizes.map((n) => new DeviceBuffer(n));
  const srcs = sizes.map((n) => random(n));
  try {
    await Promise.all(bufs.map((b, i) => b.copyFrom(srcs[i])));
    for (let round = 0; round < 3; round++) {
      const outs = sizes.map((n, i) => (i % 2 === 0 ? new HostBuffer(n) : new Uint8Array(n)));
      const view = (o) => (o instanceof HostBuffer ? new Uint8Array(o.buffer) : o);
      const ps = bufs.map((b, i) => settlesWith(b.copyTo(outs[i]), () => assertBytesEqual(view(outs[i]), srcs[i], `round ${round}: copy ${i}`)));
      // await the last first, then the rest from the end
      for (let i = ps.length - 1; i >= 0; i--) await ps[i];
      for (const o of outs) if (o instanceof HostBuffer) o.dispose();
    }
  } finally {
    for (const b of bufs) b.dispose();
  }
});

test('#9 (CUDA part): work queued back to back without awaiting runs in stream order, across streams through events', { skip }, async () => {
  const n = 32 * MiB;
  const buf = new DeviceBuffer(n);
  const s = new Stream({ nonBlocking: true });
  const t = new Stream({ nonBlocking: true });
  const ev = new Event({ timing: false });
  try {
    for (const value of [0x11, 0xa5, 0x3c]) {
      // same stream: the copy is queued right after the fill, never awaited in between
      const out = new Uint8Array(n);
      const f = buf.fill(value, { stream: s });
      const c = buf.copyTo(out, { stream: s });
      await settlesWith(c, () => assertBytesEqual(out, new Uint8Array(n).fill(value), `copy after fill 0x${value.toString(16)} on one stream`));
      await f;
      // another stream, ordered by an event recorded after the fill
      const out2 = new Uint8Array(n);
      const f2 = buf.fill(value ^ 0xff, { stream: s });
      ev.record(s);
      t.waitEvent(ev);
      const c2 = buf.copyTo(out2, { stream: t });
      await settlesWith(c2, () => assertBytesEqual(out2, new Uint8Array(n).fill(value ^ 0xff), 'copy on another stream after an event'));
      await f2;
    }
  } finally {
    buf.dispose();
    s.dispose();
    t.dispose();
    ev.dispose();
  }
});
