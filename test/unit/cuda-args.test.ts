/**
 * Every CUDA entry point rejects bad arguments with TensorRTError('INVALID_ARGUMENT') before touching CUDA, and on
 * a machine without a usable GPU every valid call throws TensorRTError('CUDA_UNAVAILABLE') naming the CUDA error,
 * while the process stays alive.
 */
import {
  cuda, DeviceBuffer, Event, HostBuffer, Stream, getDeviceCount, getDeviceProperties, memGetInfo, setDevice,
  getDevice, synchronize,
} from '../../lib/cuda';
import { TensorRTError } from '../../lib/errors';
import { runtimeInfo } from '../../lib/info';

const hasGpu = runtimeInfo().cuda.available;
const noGpuTest = hasGpu ? test.skip : test;
if (hasGpu) console.log('cuda-args: a GPU is present: the CUDA_UNAVAILABLE tests are skipped');

function expectCode(fn: () => unknown, code: string, cudaError?: RegExp): TensorRTError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(TensorRTError);
  const err = caught as TensorRTError;
  expect(err.code).toBe(code);
  if (cudaError) expect(err.cudaError).toMatch(cudaError);
  return err;
}

async function expectReject(p: () => Promise<unknown>, code: string): Promise<TensorRTError> {
  let caught: unknown;
  try {
    await p();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(TensorRTError);
  expect((caught as TensorRTError).code).toBe(code);
  return caught as TensorRTError;
}

const BAD_SIZES: unknown[] = [-1, 1.5, NaN, Infinity, -Infinity, 2 ** 60, '16', 16n, null, {}, [16], true];
const BAD_DEVICES: unknown[] = [-1, 0.5, NaN, '0', null, 0n, {}, 2 ** 40];

/**
 * Instances of the wrapper classes whose native side refuses every call: lets the TS argument checks of the
 * instance methods be exercised on a machine where the constructors cannot succeed.
 */
function fake<T extends object>(cls: { prototype: T }, fields: Record<string, unknown>): T {
  const trap = new Proxy(
    { disposed: false, timing: true, priority: 0, device: 0 },
    {
      get(target, prop) {
        if (prop in target) return (target as Record<string | symbol, unknown>)[prop];
        return () => {
          throw new Error(`native ${String(prop)} must not be reached with invalid arguments`);
        };
      },
    },
  );
  return Object.assign(Object.create(cls.prototype), { _native: trap, ...fields }) as T;
}

describe('argument validation (no CUDA needed)', () => {
  test('constructors', () => {
    for (const bad of BAD_SIZES) {
      expectCode(() => new DeviceBuffer(bad as number), 'INVALID_ARGUMENT');
      expectCode(() => new HostBuffer(bad as number), 'INVALID_ARGUMENT');
    }
    for (const bad of [null, 'x', 5, [], { nonBlocking: 'yes' }, { priority: 1.5 }, { priority: '1' }, { bogus: 1 }]) {
      expectCode(() => new Stream(bad as never), 'INVALID_ARGUMENT');
    }
    for (const bad of [null, 'x', 5, [], { timing: 1 }, { timing: 'no' }, { blocking: true }]) {
      expectCode(() => new Event(bad as never), 'INVALID_ARGUMENT');
    }
  });

  test('device functions', () => {
    for (const bad of BAD_DEVICES) {
      expectCode(() => getDeviceProperties(bad as number), 'INVALID_ARGUMENT');
      expectCode(() => setDevice(bad as number), 'INVALID_ARGUMENT');
    }
    expectCode(() => setDevice(undefined as unknown as number), 'INVALID_ARGUMENT');
    expect(cuda.getDeviceCount).toBe(getDeviceCount);
  });

  test('Event.elapsedTime', () => {
    expectCode(() => Event.elapsedTime(1 as never, 2 as never), 'INVALID_ARGUMENT');
    expectCode(() => Event.elapsedTime({} as never, {} as never), 'INVALID_ARGUMENT');
    const a = fake(Event, {});
    const untimed = fake(Event, {});
    Object.defineProperty(untimed, 'timing', { get: () => false });
    expectCode(() => Event.elapsedTime(a, untimed), 'INVALID_ARGUMENT');
  });

  test('DeviceBuffer.copyFrom / copyTo', async () => {
    const buf = fake(DeviceBuffer, { byteLength: 64 });
    const notHost: unknown[] = [undefined, null, 3, 'abc', [1, 2], {}, buf, new SharedArrayBuffer(8)];
    for (const bad of notHost) {
      await expectReject(() => buf.copyFrom(bad as never), 'INVALID_ARGUMENT');
      await expectReject(() => buf.copyTo(bad as never), 'INVALID_ARGUMENT');
    }
    const host = new Float32Array(8); // 32 bytes
    for (const opts of [null, 5, 'x', { stream: 1 }, { stream: {} }, { offset: -1 }, { offset: 1.5 }, { offset: '0' },
      { byteLength: -2 }, { byteLength: 33 }, { offset: 40 }, { offset: 33, byteLength: 32 }, { extra: true }]) {
      await expectReject(() => buf.copyFrom(host, opts as never), 'INVALID_ARGUMENT');
      await expectReject(() => buf.copyTo(host, opts as never), 'INVALID_ARGUMENT');
    }
    // host memory larger than the device buffer
    await expectReject(() => buf.copyFrom(new Uint8Array(65)), 'INVALID_ARGUMENT');
    await expectReject(() => buf.copyTo(new Uint8Array(65)), 'INVALID_ARGUMENT');
    await expectReject(() => buf.copyTo(new Uint8Array(64), { offset: 1 }), 'INVALID_ARGUMENT');
  });

  test('DeviceBuffer.copyFromDevice / fill', async () => {
    const buf = fake(DeviceBuffer, { byteLength: 64 });
    const small = fake(DeviceBuffer, { byteLength: 16 });
    for (const bad of [undefined, null, new Uint8Array(4), {}, 7]) {
      await expectReject(() => buf.copyFromDevice(bad as never), 'INVALID_ARGUMENT');
    }
    await expectReject(() => small.copyFromDevice(buf), 'INVALID_ARGUMENT'); // 64 bytes do not fit in 16
    await expectReject(() => buf.copyFromDevice(small, { srcOffset: 17 }), 'INVALID_ARGUMENT');
    await expectReject(() => buf.copyFromDevice(small, { offset: 60 }), 'INVALID_ARGUMENT');
    await expectReject(() => buf.copyFromDevice(small, { stream: 'default' as never }), 'INVALID_ARGUMENT');
    for (const v of [-1, 256, 1.5, '0', null, undefined, 0n]) {
      await expectReject(() => buf.fill(v as never), 'INVALID_ARGUMENT');
    }
    for (const opts of [{ offset: 65 }, { offset: 10, byteLength: 60 }, { byteLength: -1 }, { stream: 0 }, { value: 1 }]) {
      await expectReject(() => buf.fill(0, opts as never), 'INVALID_ARGUMENT');
    }
  });

  test('HostBuffer.view', () => {
    const trap = { disposed: false, buffer: new ArrayBuffer(10) };
    const hb = Object.assign(Object.create(HostBuffer.prototype), { _native: trap, byteLength: 10 }) as HostBuffer;
    expect(hb.view(Uint8Array).length).toBe(10);
    expect(hb.view(Uint16Array).length).toBe(5);
    expect(hb.view(Uint8Array, 2, 3).byteOffset).toBe(2);
    expectCode(() => hb.view(Float32Array), 'INVALID_ARGUMENT'); // 10 bytes is not whole float32s
    expectCode(() => hb.view(Uint16Array, 1), 'INVALID_ARGUMENT'); // misaligned
    expectCode(() => hb.view(Uint8Array, 11), 'INVALID_ARGUMENT');
    expectCode(() => hb.view(Uint8Array, 2, 9), 'INVALID_ARGUMENT');
    expectCode(() => hb.view(Array as never), 'INVALID_ARGUMENT');
    expectCode(() => hb.view('Uint8Array' as never), 'INVALID_ARGUMENT');
  });

  test('Stream.waitEvent / Event.record', () => {
    const s = fake(Stream, {});
    const e = fake(Event, {});
    for (const bad of [undefined, null, 1, {}, s]) expectCode(() => s.waitEvent(bad as never), 'INVALID_ARGUMENT');
    for (const bad of [1, 'default', {}, e, 0n]) expectCode(() => e.record(bad as never), 'INVALID_ARGUMENT');
  });

  test('use after dispose throws DISPOSED', async () => {
    const gone = { disposed: true, timing: true };
    const buf = Object.assign(Object.create(DeviceBuffer.prototype), { _native: gone, byteLength: 8 }) as DeviceBuffer;
    expectCode(() => buf.address, 'DISPOSED');
    await expectReject(() => buf.copyFrom(new Uint8Array(8)), 'DISPOSED');
    await expectReject(() => buf.copyTo(new Uint8Array(8)), 'DISPOSED');
    await expectReject(() => buf.fill(0), 'DISPOSED');
    const hb = Object.assign(Object.create(HostBuffer.prototype), { _native: gone, byteLength: 8 }) as HostBuffer;
    expectCode(() => hb.buffer, 'DISPOSED');
    expectCode(() => hb.view(Uint8Array), 'DISPOSED');
    const s = Object.assign(Object.create(Stream.prototype), { _native: gone }) as Stream;
    expectCode(() => s.handle, 'DISPOSED');
    expectCode(() => s.query(), 'DISPOSED');
    await expectReject(() => s.synchronize(), 'DISPOSED');
    const e = Object.assign(Object.create(Event.prototype), { _native: gone }) as Event;
    expectCode(() => e.record(), 'DISPOSED');
    await expectReject(() => e.synchronize(), 'DISPOSED');
    const live = fake(Event, {});
    expectCode(() => Event.elapsedTime(e, live), 'DISPOSED');
    await expectReject(() => fake(DeviceBuffer, { byteLength: 8 }).copyFrom(hb), 'DISPOSED');
  });
});

describe('without a usable GPU', () => {
  const cudaErr = /^cudaError[A-Za-z]+$/;

  noGpuTest('every CUDA call throws CUDA_UNAVAILABLE with the CUDA error name', async () => {
    const errs = [
      expectCode(() => getDeviceCount(), 'CUDA_UNAVAILABLE', cudaErr),
      expectCode(() => getDeviceProperties(0), 'CUDA_UNAVAILABLE', cudaErr),
      expectCode(() => memGetInfo(), 'CUDA_UNAVAILABLE', cudaErr),
      expectCode(() => setDevice(0), 'CUDA_UNAVAILABLE', cudaErr),
      expectCode(() => getDevice(), 'CUDA_UNAVAILABLE', cudaErr),
      expectCode(() => new DeviceBuffer(1024), 'CUDA_UNAVAILABLE', cudaErr),
      expectCode(() => new DeviceBuffer(0), 'CUDA_UNAVAILABLE', cudaErr),
      expectCode(() => new HostBuffer(1024), 'CUDA_UNAVAILABLE', cudaErr),
      expectCode(() => new Stream(), 'CUDA_UNAVAILABLE', cudaErr),
      expectCode(() => new Stream({ nonBlocking: true, priority: -1 }), 'CUDA_UNAVAILABLE', cudaErr),
      expectCode(() => new Event(), 'CUDA_UNAVAILABLE', cudaErr),
      expectCode(() => new Event({ timing: false }), 'CUDA_UNAVAILABLE', cudaErr),
      await expectReject(() => synchronize(), 'CUDA_UNAVAILABLE'),
      await expectReject(() => DeviceBuffer.from(new Float32Array(4)), 'CUDA_UNAVAILABLE'),
    ];
    const name = runtimeInfo().cuda.cudaError;
    for (const e of errs) {
      expect(e.cudaError).toBe(name);
      expect(e.message).toContain(name!);
    }
  });

  noGpuTest('the process stays alive after many failing calls', async () => {
    for (let i = 0; i < 1000; i++) {
      expect(() => new DeviceBuffer(1 << 20)).toThrow(TensorRTError);
    }
    await new Promise((r) => setImmediate(r));
    expect(runtimeInfo().cuda.available).toBe(false);
  });
});
