/** The native addon loads (CUDA part always; TensorRT part when compiled in) and has the expected surface. */
import * as fs from 'fs';
import * as path from 'path';
import { getNative, nativeAvailable, nativeLoadError, packageRoot } from '../../lib/native';

describe('native addon', () => {
  test('loads from the package root', () => {
    expect(nativeLoadError).toBeNull();
    expect(nativeAvailable()).toBe(true);
    expect(fs.existsSync(path.join(packageRoot, 'package.json'))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).name).toBe('tensorrt-node');
  });

  test('exports the CUDA and info entry points', () => {
    const a = getNative();
    for (const fn of [
      'getDeviceCount', 'getDeviceProperties', 'memGetInfo', 'setDevice', 'getDevice', 'deviceSynchronize',
      'eventElapsedTime', 'runtimeInfo', 'compiledWith',
    ] as const) {
      expect(typeof a[fn]).toBe('function');
    }
    for (const cls of ['DeviceBuffer', 'HostBuffer', 'Stream', 'Event'] as const) {
      expect(typeof a[cls]).toBe('function');
      expect(a[cls].name).toBe(cls);
    }
  });

  test('compiledWith names the CUDA runtime and the TensorRT headers (or null)', () => {
    const c = getNative().compiledWith();
    expect(c.cuda).toMatch(/^\d+\.\d+$/);
    expect(c.napiVersion).toBe(8);
    if (c.tensorrt !== null) expect(c.tensorrt).toMatch(/^\d+\.\d+\.\d+/);
  });

  test('native errors carry a code (argument checks in C++ are a second line of defence)', () => {
    const a = getNative();
    let err: unknown;
    try {
      new a.DeviceBuffer('12' as unknown as number);
    } catch (e) {
      err = e;
    }
    // (a native Error comes from the main realm, not jest's: compare fields, not instanceof)
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/byteLength/) });
    for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 60, undefined, null, {}, [1]]) {
      expect(() => new a.HostBuffer(bad as unknown as number)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    expect(() => new a.Stream('yes' as unknown as boolean)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new a.Event(1 as unknown as boolean)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => a.getDeviceProperties(-1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => a.setDevice(0.5)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => a.eventElapsedTime({} as never, {} as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  const builtAddon = ['build/Release/tensorrt_node.node', 'build/Debug/tensorrt_node.node'].map((p) => path.join(packageRoot, p)).find((f) => fs.existsSync(f));
  if (!builtAddon) console.log('native: the static-libcudart test is skipped: no source build of the addon in build/ (loaded from prebuilds/)');
  (builtAddon ? test : test.skip)('libcudart is linked statically (no libcudart.so dependency)', () => {
    const bytes = fs.readFileSync(builtAddon!);
    // NEEDED entries are NUL-delimited names in .dynstr.
    expect(bytes.includes(Buffer.from('\0libcudart.so'))).toBe(false);
  });
});
