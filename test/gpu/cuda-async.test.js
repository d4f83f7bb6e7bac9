'use strict';
/**
 * GPU tests of the asynchronous machinery behind DeviceBuffer copies (node:test, uses dist/): large pageable
 * copies cut into pieces through the pinned slots, stream order with pageable copies, many streams sharing the
 * slots, Promises keeping the process alive, the one completion mechanism leaving the libuv pool free, and
 * worker_threads. Every test skips with a printed reason when no usable CUDA GPU is present.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const lib = require('../../dist/index.js');
const { DeviceBuffer, HostBuffer, Stream, Event, runtimeInfo } = lib;

const info = runtimeInfo();
const skip = info.cuda.available ? false : `no usable CUDA GPU: ${info.cuda.reason ?? 'unknown reason'}`;
if (skip) console.log(`# test/gpu/cuda-async.test.js skipped: ${skip}`);

const KiB = 1024;
const MiB = 1024 * KiB;
const DIST = path.join(__dirname, '..', '..', 'dist', 'index.js');

const { random, assertBytesEqual } = require('./helpers');

function runChild(code, env = {}) {
  return spawnSync(process.execPath, ['-e', code], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, ...env, TN_DIST: DIST },
  });
}

test('pageable copies around the staging and piece boundaries round trip exactly', { skip }, async () => {
  const sizes = [256 * KiB - 1, 256 * KiB, 256 * KiB + 1, 4 * MiB - 1, 4 * MiB, 4 * MiB + 1, 8 * MiB + 3, 33 * MiB + 7, 100 * MiB + 3];
  const stream = new Stream();
  try {
    for (const n of sizes) {
      const src = random(n);
      const buf = new DeviceBuffer(n + 64);
      try {
        // through a view with an offset, into the device buffer at an offset
        const backing = new Uint8Array(n + 16);
        backing.set(src, 5);
        await buf.copyFrom(backing.subarray(5, 5 + n), { stream, offset: 32 });
        const out = new Uint8Array(n + 16).fill(0xee);
        await buf.copyTo(out.subarray(3, 3 + n), { stream, offset: 32 });
        assertBytesEqual(out.subarray(3, 3 + n), src, `pageable ${n} B`);
        assert.equal(out[2], 0xee, 'byte before the view untouched');
        assert.equal(out[3 + n], 0xee, 'byte after the view untouched');
      } finally {
        buf.dispose();
      }
    }
  } finally {
    stream.dispose();
  }
});

test('stream order holds for pageable copies issued without awaiting', { skip }, async () => {
  const n = 24 * MiB + 11;
  const a = random(n);
  const b = random(n);
  const stream = new Stream({ nonBlocking: true });
  const buf = new DeviceBuffer(n);
  const out1 = new Uint8Array(n);
  const out2 = new Uint8Array(n);
  const done = new Event({ timing: false });
  try {
    const ps = [buf.copyFrom(a, { stream }), buf.copyTo(out1, { stream }), buf.copyFrom(b, { stream }), buf.copyTo(out2, { stream })];
    // the stream itself (not only the Promises) includes the host side of the last device->host copy
    done.record(stream);
    await done.synchronize();
    assertBytesEqual(out1, a, 'first copy, seen through an event recorded after it');
    assertBytesEqual(out2, b, 'second copy, seen through an event recorded after it');
    await Promise.all(ps);
    // Promises of one stream settle in call order
    const order = [];
    const qs = [];
    for (let i = 0; i < 20; i++) qs.push((i % 2 ? buf.copyTo(out1, { stream }) : buf.copyFrom(a, { stream })).then(() => order.push(i)));
    await Promise.all(qs);
    assert.deepEqual(order, [...Array(20).keys()]);
  } finally {
    done.dispose();
    buf.dispose();
    stream.dispose();
  }
});

test('large pageable and pinned copies on 8 streams at once share the pinned slots correctly', { skip }, async () => {
  const streams = Array.from({ length: 8 }, (_, i) => new Stream({ nonBlocking: i % 2 === 0 }));
  const jobs = streams.map((stream, i) => {
    const n = 9 * MiB + 1000 * i + 1;
    return { stream, n, src: random(n), buf: new DeviceBuffer(n), pinned: i % 3 === 0 ? new HostBuffer(n) : null };
  });
  try {
    for (let round = 0; round < 2; round++) {
      const outs = jobs.map(({ n }) => new Uint8Array(n));
      await Promise.all(
        jobs.flatMap(({ stream, src, buf, pinned }, i) => {
          if (pinned) pinned.view(Uint8Array).set(src);
          return [buf.copyFrom(pinned ?? src, { stream }), buf.copyTo(outs[i], { stream })];
        }),
      );
      jobs.forEach(({ src }, i) => assertBytesEqual(outs[i], src, `stream ${i} round ${round}`));
    }
  } finally {
    for (const j of jobs) {
      j.buf.dispose();
      j.pinned?.dispose();
    }
    for (const s of streams) s.dispose();
  }
});

test('a pending copy keeps the process alive until its Promise settles', { skip }, () => {
  const code = `
    const { DeviceBuffer } = require(process.env.TN_DIST);
    const n = 64 * 1024 * 1024;
    const buf = new DeviceBuffer(n);
    const out = new Uint8Array(n);
    buf.fill(3).then(() => buf.copyTo(out)).then(() => { console.log('resolved', out[n - 1]); buf.dispose(); });
  `;
  const r = runChild(code);
  assert.equal(r.status, 0, `exit status: ${r.stderr}`);
  assert.match(r.stdout, /resolved 3/, `output: ${r.stdout} ${r.stderr}`);
});

test('no libuv pool thread waits on the GPU: with a pool of 1 thread, fs works while 64 GPU operations are in flight', { skip }, () => {
  // cuda.synchronize() and Stream.synchronize() used to wait on a pool thread; with UV_THREADPOOL_SIZE=1 a single
  // such wait would hold fs.promises.readFile until the GPU finished. Every GPU wait now goes through the
  // completion thread, and host work through the addon's own threads.
  const code = `
    const fs = require('node:fs');
    const { cuda, DeviceBuffer, Stream } = require(process.env.TN_DIST);
    (async () => {
      const n = 1024 * 1024 * 1024;
      const a = new DeviceBuffer(n), b = new DeviceBuffer(n);
      const streams = [new Stream({ nonBlocking: true }), new Stream({ nonBlocking: true })];
      await fs.promises.readFile('/proc/self/status', 'utf8');  // warm
      let gpuDone = 0;
      const t0 = performance.now();
      const ops = [];
      for (let i = 0; i < 64; i++) {
        const s = streams[i % 2];
        const p = i % 8 === 7 ? cuda.synchronize() : i % 8 === 6 ? s.synchronize() : (i % 2 ? a.fill(i, { stream: s }) : b.copyFromDevice(a, { stream: s }));
        ops.push(p.then(() => { gpuDone++; }));
      }
      const r0 = performance.now();
      const text = await fs.promises.readFile('/proc/self/status', 'utf8');
      const readMs = performance.now() - r0;
      const doneWhenRead = gpuDone;
      await Promise.all(ops);
      const gpuMs = performance.now() - t0;
      a.dispose(); b.dispose(); for (const s of streams) s.dispose();
      console.log(JSON.stringify({ readMs, gpuMs, doneWhenRead, ok: text.includes('Pid:') }));
    })().catch((e) => { console.error(e); process.exit(1); });
  `;
  const r = runChild(code, { UV_THREADPOOL_SIZE: '1' });
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout.trim().split('\n').pop());
  console.log(`# readFile ${res.readMs.toFixed(2)} ms while 64 GPU operations took ${res.gpuMs.toFixed(1)} ms (${res.doneWhenRead} done when the read finished)`);
  assert.ok(res.ok, 'readFile returned the file');
  assert.ok(res.doneWhenRead < 64, `the read finished before the GPU work (${res.doneWhenRead} of 64 done)`);
});

test('worker_threads: copies in a worker resolve; terminating a worker with copies in flight is safe', { skip }, () => {
  const code = `
    const { Worker } = require('node:worker_threads');
    const body = \`
      const { parentPort } = require('node:worker_threads');
      const { DeviceBuffer } = require(process.env.TN_DIST);
      (async () => {
        const n = 16 * 1024 * 1024;
        const b = new DeviceBuffer(n);
        const src = new Uint8Array(n).fill(9);
        await b.copyFrom(src);
        const out = new Uint8Array(n);
        await b.copyTo(out);
        parentPort.postMessage(out[n - 1]);
        for (let i = 0; i < 50; i++) b.copyTo(out);  // left in flight
        parentPort.postMessage('busy');
        setInterval(() => {}, 1000);
      })();
    \`;
    (async () => {
      for (let round = 0; round < 3; round++) {
        const w = new Worker(body, { eval: true });
        const got = [];
        await new Promise((resolve, reject) => {
          w.on('message', (m) => { got.push(m); if (m === 'busy') resolve(); });
          w.on('error', reject);
        });
        await w.terminate();
        if (got[0] !== 9) throw new Error('worker copy gave ' + got[0]);
      }
      const { DeviceBuffer } = require(process.env.TN_DIST);
      const b = new DeviceBuffer(1024); const o = new Uint8Array(1024); await b.fill(4); await b.copyTo(o); b.dispose();
      console.log('main ok', o[0]);
    })().catch((e) => { console.error(e); process.exit(1); });
  `;
  const r = runChild(code);
  assert.equal(r.status, 0, `status ${r.status} signal ${r.signal}: ${r.stderr}`);
  assert.match(r.stdout, /main ok 4/);
});

test('1,000 copies in flight resolve, and a 1 ms timer keeps firing meanwhile', { skip }, async () => {
  const n = MiB;
  const streams = [new Stream({ nonBlocking: true }), new Stream({ nonBlocking: true })];
  const host = new HostBuffer(n);
  const bufs = streams.map(() => new DeviceBuffer(n));
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    const ps = [];
    for (let i = 0; i < 1000; i++) {
      const k = i % 2;
      ps.push(i % 4 < 2 ? bufs[k].copyFrom(host, { stream: streams[k] }) : bufs[k].copyTo(host, { stream: streams[k] }));
      if (i % 100 === 99) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(ps);
    await new Promise((r) => setTimeout(r, 5));
  } finally {
    clearInterval(timer);
    for (const b of bufs) b.dispose();
    host.dispose();
    for (const s of streams) s.dispose();
  }
  assert.ok(ticks > 0, 'the timer fired while the copies were in flight');
});
