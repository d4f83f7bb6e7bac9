/** runtimeInfo() never throws and explains what is missing. */
import { runtimeInfo, setLogSeverity, getLogSeverity, onLog, LOG_SEVERITIES } from '../../lib/info';
import { TensorRTError } from '../../lib/errors';

describe('runtimeInfo', () => {
  const info = runtimeInfo();

  test('has the documented shape', () => {
    expect(info.addon.loaded).toBe(true);
    expect(info.compiledWith.cuda).toMatch(/^\d+\.\d+$/);
    expect(info.compiledWith.tensorrt === null || /^\d+\.\d+\.\d+/.test(info.compiledWith.tensorrt)).toBe(true);
    expect(typeof info.tensorrt.available).toBe('boolean');
    expect(typeof info.cuda.available).toBe('boolean');
    expect(Array.isArray(info.cuda.devices)).toBe(true);
    expect(info.node.version).toBe(process.versions.node);
  });

  test('is stable across calls and never throws', () => {
    expect(() => runtimeInfo()).not.toThrow();
    const again = runtimeInfo();
    expect(again.cuda.available).toBe(info.cuda.available);
    expect(again.tensorrt.available).toBe(info.tensorrt.available);
    expect(again.compiledWith).toEqual(info.compiledWith);
  });

  test('reports missing TensorRT with a reason', () => {
    if (info.tensorrt.available) {
      expect(info.tensorrt.version).toMatch(/^\d+\.\d+/);
      expect(typeof info.tensorrt.libraryPath).toBe('string');
      return;
    }
    expect(typeof info.tensorrt.reason).toBe('string');
    expect(info.tensorrt.reason!.length).toBeGreaterThan(10);
    if (info.compiledWith.tensorrt === null) expect(info.tensorrt.reason).toMatch(/TensorRT/);
  });

  test('reports a missing GPU / driver with a reason naming the CUDA error', () => {
    if (info.cuda.available) {
      expect(info.cuda.devices.length).toBeGreaterThan(0);
      const d = info.cuda.devices[0]!;
      expect(d.name.length).toBeGreaterThan(0);
      expect(d.computeCapability).toMatch(/^\d+\.\d+$/);
      expect(d.totalMemory).toBeGreaterThan(0);
      expect(d.multiProcessorCount).toBeGreaterThan(0);
      expect(info.cuda.driverVersion).toBeGreaterThan(0);
      return;
    }
    expect(info.cuda.devices).toEqual([]);
    expect(info.cuda.cudaError).toMatch(/^cudaError[A-Za-z]+$/);
    expect(info.cuda.reason).toContain(info.cuda.cudaError!);
  });
});

describe('logger controls', () => {
  test('setLogSeverity validates its argument', () => {
    for (const s of LOG_SEVERITIES) {
      setLogSeverity(s);
      expect(getLogSeverity()).toBe(s);
    }
    setLogSeverity('warning');
    for (const bad of ['loud', '', 3, null, undefined, {}]) {
      expect(() => setLogSeverity(bad as never)).toThrow(TensorRTError);
      try {
        setLogSeverity(bad as never);
      } catch (e) {
        expect((e as TensorRTError).code).toBe('INVALID_ARGUMENT');
      }
    }
    expect(getLogSeverity()).toBe('warning');
  });

  test('onLog validates and returns an idempotent unsubscribe', () => {
    expect(() => onLog('x' as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    const off = onLog(() => undefined);
    expect(typeof off).toBe('function');
    off();
    off();
  });
});
