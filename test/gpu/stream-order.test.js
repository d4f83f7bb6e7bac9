'use strict';
/**
 * GPU tests of the second native review's #9 (issue 23; node:test, uses dist/): the GPU work of infer() and
 * enqueueAsync() is queued before the call returns, so work that JS queues on the same stream right after the call
 * (without awaiting it) runs after it. They need TensorRT and a CUDA GPU and skip with a printed reason otherwise;
 * they have been written and compiled into the suite, NOT yet run (no TensorRT library on the development machines).
 * The CUDA-only part of #9 (copies, fills and events queued back to back keep their order) is in ownership.test.js.
 */
const test = require('node:test');
const assert = require('node:assert/strict');

const lib = require('../../dist/index.js');
const { Engine, Stream, DeviceBuffer, Event } = lib;

const { skipReason, tinyModel } = require('../trt/helpers');

const skip = skipReason(__filename, { builderApi: true });

const plans = new Map();
async function engineOf(n) {
  if (!plans.has(n)) {
    const builder = new lib.Builder();
    const network = builder.createNetwork();
    const parser = new lib.OnnxParser(network);
    await parser.parse(tinyModel(n));
    const config = builder.createConfig();
    plans.set(n, await builder.buildSerializedNetwork(network, config));
    config.dispose();
    parser.dispose();
    network.dispose();
    builder.dispose();
  }
  return Engine.load(plans.get(n));
}

const expected = (x) => Float32Array.from(x, (v) => Math.max(0, v) + v);
const input = (n, seed) => Float32Array.from({ length: n }, (_, i) => (((i + seed) * 7919) % 2001) / 1000 - 1);

function assertClose(actual, want, what) {
  assert.equal(actual.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(actual[i] - want[i]) <= 1e-5)) assert.fail(`${what}: element ${i}: ${actual[i]} vs ${want[i]}`);
  }
}

test('#9: enqueueAsync() then a device-to-host copy on the same stream, not awaited in between: the copy sees the output', { skip }, async () => {
  const n = 1 << 20; // 4 MiB per tensor
  const engine = await engineOf(n);
  const ctx = engine.createExecutionContext();
  const stream = new Stream({ nonBlocking: true });
  const dx = new DeviceBuffer(n * 4);
  const dy = new DeviceBuffer(n * 4);
  try {
    ctx.setTensorAddress('x', dx);
    ctx.setTensorAddress('y', dy);
    for (let round = 0; round < 20; round++) {
      const x = input(n, round);
      await dx.copyFrom(x, { stream });
      await dy.fill(0xff, { stream }); // NaN everywhere: an output copied before the enqueue ran shows it
      const y = new Float32Array(n);
      const enqueued = ctx.enqueueAsync(stream); // not awaited before the copy is queued
      const copied = dy.copyTo(y, { stream });
      await Promise.all([enqueued, copied]);
      assertClose(y, expected(x), `round ${round}`);
    }
  } finally {
    ctx.dispose();
    dx.dispose();
    dy.dispose();
    stream.dispose();
    engine.dispose();
  }
});

test('#9: enqueueAsync() then a device-to-device copy and an event on the same stream keep that order', { skip }, async () => {
  const n = 1 << 20;
  const engine = await engineOf(n);
  const ctx = engine.createExecutionContext();
  const stream = new Stream({ nonBlocking: true });
  const dx = new DeviceBuffer(n * 4);
  const dy = new DeviceBuffer(n * 4);
  const dz = new DeviceBuffer(n * 4);
  const done = new Event({ timing: false });
  try {
    ctx.setTensorAddress('x', dx);
    ctx.setTensorAddress('y', dy);
    const x = input(n, 3);
    await dx.copyFrom(x, { stream });
    await dy.fill(0xff, { stream });
    const enqueued = ctx.enqueueAsync(stream);
    const copied = dz.copyFromDevice(dy, { stream });
    done.record(stream);
    await done.synchronize();
    await Promise.all([enqueued, copied]);
    const z = new Float32Array(n);
    await dz.copyTo(z, { stream });
    assertClose(z, expected(x), 'device-to-device copy after enqueueAsync');
  } finally {
    ctx.dispose();
    done.dispose();
    dx.dispose();
    dy.dispose();
    dz.dispose();
    stream.dispose();
    engine.dispose();
  }
});

test('#9: infer() on a stream: an event recorded right after the call completes only after infer()\'s GPU work', { skip }, async () => {
  // infer() uses its own device buffers, so what JS can observe is time: with the GPU work queued before infer()
  // returns, the event recorded after the call follows the 64 MiB host-to-device copy, the kernels and the 64 MiB
  // device-to-host copy (well over 1 ms on PCIe or NVLink-C2C); queued later by a work thread, it would follow only
  // the event recorded before the call (a few microseconds).
  const n = 16 << 20; // 64 MiB per tensor
  const engine = await engineOf(n);
  const ctx = engine.createExecutionContext();
  const stream = new Stream({ nonBlocking: true });
  const before = new Event({ timing: true });
  const after = new Event({ timing: true });
  try {
    const x = input(n, 5);
    await ctx.infer({ x }, { stream }); // warm-up: buffers and staging allocated, first-run work done
    for (let round = 0; round < 3; round++) {
      before.record(stream);
      const result = ctx.infer({ x }, { stream });
      after.record(stream);
      await after.synchronize();
      const { y } = await result;
      const ms = Event.elapsedTime(before, after);
      assert.ok(ms > 1, `round ${round}: the event recorded after infer() completed ${ms.toFixed(3)} ms after the one before it`);
      assertClose(y, expected(x), `round ${round}`);
    }
  } finally {
    ctx.dispose();
    before.dispose();
    after.dispose();
    stream.dispose();
    engine.dispose();
  }
});
