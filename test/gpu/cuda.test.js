'use strict';
/**
 * GPU tests of the CUDA surface (node:test): `node --test test/gpu/` after `npm run build` (uses dist/).
 * Every test skips with a printed reason when no usable CUDA GPU is present.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

function loadLib() {
  try {
    const m = require('../../dist/index.js');
    if (m.DeviceBuffer && m.runtimeInfo) return m;
  } catch (e) {
    if (e.code !== 'MODULE_NOT_FOUND') throw e;
  }
  return { ...require('../../dist/cuda'), ...require('../../dist/info.js'), ...require('../../dist/errors.js') };
}

const lib = loadLib();
const { DeviceBuffer, HostBuffer, Stream, Event, runtimeInfo, TensorRTError } = lib;
const cuda = lib.cuda;

const info = runtimeInfo();
const skip = info.cuda.available ? false : `no usable CUDA GPU: ${info.cuda.reason ?? 'unknown reason'}`;
if (skip) console.log(`# test/gpu/cuda.test.js skipped: ${skip}`);

const MiB = 1 << 20;
const SIZES = [1, 2, 3, 7, 64, 255, 4096, 4097, 65535, 65537, MiB - 1, MiB, MiB + 13, 3 * MiB - 1, 16 * MiB + 5, 64 * MiB];

const { random, assertBytesEqual } = require('./helpers');

function assertCode(fn, code) {
  assert.throws(fn, (e) => e instanceof TensorRTError && e.code === code);
}

async function assertRejects(p, code) {
  await assert.rejects(p, (e) => e instanceof TensorRTError && e.code === code);
}

test('device queries', { skip }, () => {
  const n = cuda.getDeviceCount();
  assert.ok(n >= 1);
  const d = cuda.getDevice();
  assert.ok(d >= 0 && d < n);
  cuda.setDevice(d);
  const p = cuda.getDeviceProperties(d);
  assert.equal(typeof p.name, 'string');
  assert.ok(p.name.length > 0);
  assert.match(p.computeCapability, /^\d+\.\d+$/);
  assert.ok(p.totalMemory > 0);
  assert.ok(p.multiProcessorCount > 0);
  const m = cuda.memGetInfo();
  assert.ok(m.total > 0 && m.free > 0 && m.free <= m.total);
  assert.equal(info.cuda.devices.length, n);
  assert.ok(info.cuda.driverVersion > 0);
  assertCode(() => cuda.getDeviceProperties(n + 100), 'CUDA_ERROR');
});

test('round trip through pageable memory, many sizes (exact)', { skip }, async () => {
  for (const n of SIZES) {
    const src = random(n);
    const buf = new DeviceBuffer(n);
    try {
      await buf.copyFrom(src);
      const out = new Uint8Array(n);
      await buf.copyTo(out);
      assertBytesEqual(out, src, `pageable ${n} B`);
      // ArrayBuffer and DataView destinations
      const ab = new ArrayBuffer(n);
      await buf.copyTo(ab);
      assertBytesEqual(new Uint8Array(ab), src, `ArrayBuffer ${n} B`);
    } finally {
      buf.dispose();
    }
  }
});

test('round trip through pinned HostBuffers, many sizes (exact)', { skip }, async () => {
  for (const n of SIZES) {
    const src = new HostBuffer(n);
    const dst = new HostBuffer(n);
    const buf = new DeviceBuffer(n);
    try {
      crypto.randomFillSync(src.view(Uint8Array));
      await buf.copyFrom(src);
      await buf.copyTo(dst);
      assertBytesEqual(dst.view(Uint8Array), src.view(Uint8Array), `pinned ${n} B`);
      // a TypedArray view of pinned memory takes the pinned path too
      dst.view(Uint8Array).fill(0);
      await buf.copyTo(dst.view(Uint8Array));
      assertBytesEqual(new Uint8Array(dst.buffer), src.view(Uint8Array), `pinned view ${n} B`);
    } finally {
      buf.dispose();
      src.dispose();
      dst.dispose();
    }
  }
});

test('views with byte offsets, partial copies and device offsets', { skip }, async () => {
  const backing = random(10_000);
  const view = new Float32Array(backing.buffer, 12, 1000); // bytes 12..4012
  const buf = new DeviceBuffer(8192);
  try {
    await buf.fill(0xab);
    await buf.copyFrom(view, { offset: 100 });
    const out = new Uint8Array(8192);
    await buf.copyTo(out);
    assertBytesEqual(out.subarray(100, 4100), backing.subarray(12, 4012), 'view copied at device offset 100');
    assert.ok(out.subarray(0, 100).every((b) => b === 0xab));
    assert.ok(out.subarray(4100).every((b) => b === 0xab));
    const part = new Uint8Array(50);
    await buf.copyTo(part, { offset: 110, byteLength: 50 });
    assertBytesEqual(part, backing.subarray(22, 72), 'partial copy from device offset 110');
    const dv = new DataView(backing.buffer, 5000, 16);
    await buf.copyFrom(dv, { offset: 0 });
    const back = new Uint8Array(16);
    await buf.copyTo(back);
    assertBytesEqual(back, backing.subarray(5000, 5016), 'DataView source');
  } finally {
    buf.dispose();
  }
});

test('device-to-device copy and fill', { skip }, async () => {
  const n = 5 * MiB + 3;
  const src = random(n);
  const a = new DeviceBuffer(n);
  const b = new DeviceBuffer(n);
  try {
    await a.copyFrom(src);
    await b.copyFromDevice(a);
    const out = new Uint8Array(n);
    await b.copyTo(out);
    assertBytesEqual(out, src, 'device to device');
    await b.fill(7, { offset: 1, byteLength: 10 });
    await b.copyTo(out);
    assert.equal(out[0], src[0]);
    assert.ok(out.subarray(1, 11).every((x) => x === 7));
    assert.equal(out[11], src[11]);
    const fromHost = await DeviceBuffer.from(src);
    const out2 = new Uint8Array(n);
    await fromHost.copyTo(out2);
    fromHost.dispose();
    assertBytesEqual(out2, src, 'DeviceBuffer.from');
  } finally {
    a.dispose();
    b.dispose();
  }
});

test('copies on one stream run in call order (without awaiting each)', { skip }, async () => {
  const stream = new Stream();
  const n = 8 * MiB + 1;
  const first = random(n);
  const second = random(n);
  const buf = new DeviceBuffer(n);
  try {
    const out1 = new Uint8Array(n);
    const out2 = new Uint8Array(n);
    const zeros = new Uint8Array(n);
    const pinnedOut = new HostBuffer(n);
    const ps = [
      buf.copyFrom(first, { stream }),
      buf.copyTo(out1, { stream }),
      buf.copyFrom(second, { stream }),
      buf.copyTo(out2, { stream }),
      buf.fill(0, { stream }),
      buf.copyTo(pinnedOut, { stream }),
    ];
    await Promise.all(ps);
    assertBytesEqual(out1, first, 'first');
    assertBytesEqual(out2, second, 'second');
    assertBytesEqual(pinnedOut.view(Uint8Array), zeros, 'after fill');
    pinnedOut.dispose();
    await stream.synchronize();
    assert.equal(stream.query(), true);
  } finally {
    buf.dispose();
    stream.dispose();
  }
});

test('concurrent copies on several streams', { skip }, async () => {
  const streams = [new Stream(), new Stream({ nonBlocking: true }), new Stream({ priority: -1 }), new Stream({ nonBlocking: true, priority: 0 }),
    new Stream(), new Stream({ nonBlocking: true }), new Stream(), new Stream()];
  const n = 4 * MiB + 17;
  const jobs = streams.map((stream, i) => ({ stream, src: random(n + i), buf: new DeviceBuffer(n + i), pinned: new HostBuffer(n + i) }));
  try {
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        jobs.map(async ({ stream, src, buf, pinned }, i) => {
          if ((i + round) % 2) await buf.copyFrom(src, { stream });
          else {
            pinned.view(Uint8Array).set(src);
            await buf.copyFrom(pinned, { stream });
          }
          const out = new Uint8Array(src.length);
          await buf.copyTo(out, { stream });
          assertBytesEqual(out, src, `stream ${i} round ${round}`);
        }),
      );
    }
    // all in flight at once, without intermediate awaits
    const outs = jobs.map(({ src }) => new Uint8Array(src.length));
    await Promise.all(jobs.flatMap(({ stream, src, buf }, i) => [buf.copyFrom(src, { stream }), buf.copyTo(outs[i], { stream })]));
    jobs.forEach(({ src }, i) => assertBytesEqual(outs[i], src, `burst ${i}`));
  } finally {
    for (const j of jobs) {
      j.buf.dispose();
      j.pinned.dispose();
    }
    for (const s of streams) s.dispose();
  }
});

test('events: record, synchronize, query, elapsed time > 0, waitEvent', { skip }, async () => {
  const stream = new Stream();
  const other = new Stream({ nonBlocking: true });
  const start = new Event();
  const end = new Event();
  const n = 64 * MiB;
  const src = new HostBuffer(n);
  const buf = new DeviceBuffer(n);
  try {
    start.record(stream);
    const p = buf.copyFrom(src, { stream });
    await buf.fill(1, { stream });
    end.record(stream);
    await end.synchronize();
    await p;
    assert.equal(end.query(), true);
    const ms = Event.elapsedTime(start, end);
    assert.ok(ms > 0, `elapsed ${ms} ms`);
    assert.ok(ms < 60_000);
    // cross-stream dependency
    other.waitEvent(end);
    const out = new Uint8Array(16);
    await buf.copyTo(out, { stream: other });
    assert.ok(out.every((x) => x === 1));
    const untimed = new Event({ timing: false });
    untimed.record();
    await untimed.synchronize();
    assertCode(() => Event.elapsedTime(start, untimed), 'INVALID_ARGUMENT');
    untimed.dispose();
    await cuda.synchronize();
  } finally {
    for (const o of [buf, src, start, end, stream, other]) o.dispose();
  }
});

test('no leak across 10,000 allocate/dispose cycles', { skip, timeout: 600_000 }, async () => {
  // warm up (context, staging pool) before taking the baseline
  const sizes = [1, 256, 4096, MiB, 3 * MiB + 5];
  for (const n of sizes) {
    const b = new DeviceBuffer(n);
    await b.copyFrom(new Uint8Array(n));
    await b.fill(1);
    b.dispose();
  }
  for (const o of [new Stream(), new Stream({ nonBlocking: true, priority: -1 }), new Event(), new Event({ timing: false })]) o.dispose();
  await cuda.synchronize();
  const before = cuda.memGetInfo().free;
  for (let i = 0; i < 10_000; i++) {
    const b = new DeviceBuffer(sizes[i % sizes.length]);
    if (i % 1000 === 0) await b.fill(i & 255);
    b.dispose();
    const s = new Stream();
    s.dispose();
    const e = new Event();
    e.dispose();
  }
  for (let i = 0; i < 2000; i++) {
    const h = new HostBuffer(64 * 1024);
    h.view(Uint8Array)[0] = 1;
    h.dispose();
  }
  // copies with pageable memory (staging pool) in the loop as well
  const b = new DeviceBuffer(MiB);
  const host = random(MiB);
  for (let i = 0; i < 200; i++) await b.copyFrom(host);
  b.dispose();
  await cuda.synchronize();
  const after = cuda.memGetInfo().free;
  assert.ok(Math.abs(before - after) <= 2 * MiB, `device free memory moved by ${(before - after) / MiB} MiB (before ${before}, after ${after})`);
});

test('use after dispose throws DISPOSED; dispose is idempotent', { skip }, async () => {
  const buf = new DeviceBuffer(1024);
  assert.equal(typeof buf.address, 'bigint');
  assert.ok(buf.address !== 0n);
  buf.dispose();
  buf.dispose();
  assert.equal(buf.disposed, true);
  assertCode(() => buf.address, 'DISPOSED');
  await assertRejects(buf.copyFrom(new Uint8Array(4)), 'DISPOSED');
  await assertRejects(buf.copyTo(new Uint8Array(4)), 'DISPOSED');
  await assertRejects(buf.fill(0), 'DISPOSED');

  const hb = new HostBuffer(4096);
  const ab = hb.buffer;
  assert.equal(ab.byteLength, 4096);
  new Uint8Array(ab)[0] = 42;
  hb.dispose();
  hb.dispose();
  assert.equal(ab.byteLength, 0, 'the ArrayBuffer is detached by dispose()');
  assertCode(() => hb.buffer, 'DISPOSED');
  assertCode(() => hb.view(Uint8Array), 'DISPOSED');
  const live = new DeviceBuffer(16);
  await assertRejects(live.copyFrom(hb), 'DISPOSED');
  live.dispose();

  const s = new Stream();
  s.dispose();
  assertCode(() => s.handle, 'DISPOSED');
  assertCode(() => s.query(), 'DISPOSED');
  await assertRejects(s.synchronize(), 'DISPOSED');

  const e = new Event();
  e.dispose();
  assertCode(() => e.record(), 'DISPOSED');
  assertCode(() => e.query(), 'DISPOSED');
  await assertRejects(e.synchronize(), 'DISPOSED');

  // the native layer refuses as well (second line of defence)
  const raw = new DeviceBuffer(8);
  raw._native.dispose();
  assert.throws(() => raw._native.address, (err) => err.code === 'DISPOSED');

  // `using` support
  assert.equal(typeof new Stream()[Symbol.dispose], 'function');
});

test('disposing a HostBuffer while its copy is in flight is safe', { skip }, async () => {
  const n = 32 * MiB;
  const hb = new HostBuffer(n);
  crypto.randomFillSync(hb.view(Uint8Array));
  const expected = Buffer.from(hb.view(Uint8Array));
  const buf = new DeviceBuffer(n);
  const p = buf.copyFrom(hb);
  hb.dispose(); // memory kept until the copy completes
  await p;
  const out = new Uint8Array(n);
  await buf.copyTo(out);
  assertBytesEqual(out, expected, 'copy survived dispose');
  buf.dispose();
});

test('the event loop keeps running while copies are in flight', { skip }, async () => {
  const n = 64 * MiB;
  const buf = new DeviceBuffer(n);
  const out = new Uint8Array(n);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  try {
    const ps = [];
    for (let i = 0; i < 8; i++) ps.push(buf.copyTo(out));
    await Promise.all(ps);
  } finally {
    clearInterval(timer);
    buf.dispose();
  }
  assert.ok(ticks > 0, 'timers ran while 512 MiB of copies were in flight');
});

test('finalizers free memory of dropped objects (GC); a kept HostBuffer.buffer stays valid', { skip }, async () => {
  require('node:v8').setFlagsFromString('--expose-gc');
  const gc = require('node:vm').runInNewContext('gc');
  const settle = async () => {
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
  };
  await settle();
  await cuda.synchronize();
  const before = cuda.memGetInfo().free;
  (() => {
    for (let i = 0; i < 64; i++) new DeviceBuffer(MiB);
    new Stream();
    new Event();
  })();
  let kept;
  (() => {
    const hb = new HostBuffer(MiB);
    hb.view(Uint8Array).fill(7);
    kept = hb.buffer;
  })();
  await settle();
  const after = cuda.memGetInfo().free;
  assert.ok(Math.abs(before - after) <= 2 * MiB, `device free memory moved by ${(before - after) / MiB} MiB after GC`);
  assert.equal(kept.byteLength, MiB);
  assert.ok(new Uint8Array(kept).every((x) => x === 7), 'the pinned memory outlives its HostBuffer while the ArrayBuffer is referenced');
  kept = undefined;
  await settle();
});
