/** Native failures surface as TensorRTError with stable codes. */
import { awaitNative, callNative, invalidArg, rejectWrapped, TensorRTError, wrapNativeError } from '../../lib/errors';
import { getNative } from '../../lib/native';

describe('TensorRTError', () => {
  test('invalidArg', () => {
    const e = invalidArg('bad');
    expect(e).toBeInstanceOf(TensorRTError);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('TensorRTError');
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toBe('bad');
  });

  test('wraps errors thrown by the addon, keeping code and message', () => {
    const a = getNative();
    let caught: unknown;
    try {
      callNative(() => new a.DeviceBuffer(-5));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(TensorRTError);
    expect((caught as TensorRTError).code).toBe('INVALID_ARGUMENT');
    expect((caught as TensorRTError).message).toMatch(/byteLength/);
  });

  test('keeps cudaError from native CUDA failures', () => {
    const e = wrapNativeError(Object.assign(new Error('x: no CUDA (cudaErrorNoDevice)'), { code: 'CUDA_UNAVAILABLE', cudaError: 'cudaErrorNoDevice' }));
    expect(e.code).toBe('CUDA_UNAVAILABLE');
    expect(e.cudaError).toBe('cudaErrorNoDevice');
    expect(wrapNativeError(Object.assign(new Error('?'), { code: 'WHATEVER' })).code).toBe('INTERNAL');
  });

  test('CALIBRATION_ERROR keeps the JS error the calibrator threw as its cause', async () => {
    const thrown = new Error('disk on fire');
    const native = Object.assign(new Error('calibrator getBatch failed: disk on fire'), { code: 'CALIBRATION_ERROR', cause: thrown });
    await expect(awaitNative(Promise.reject(native))).rejects.toMatchObject({
      name: 'TensorRTError',
      code: 'CALIBRATION_ERROR',
      message: 'calibrator getBatch failed: disk on fire',
      cause: thrown,
    });
    // a primitive thrown is kept as it is
    const e = wrapNativeError(Object.assign(new Error('calibrator writeCache failed: nope'), { code: 'CALIBRATION_ERROR', cause: 'nope' }));
    expect(e.cause).toBe('nope');
  });

  test('awaitNative converts rejections', async () => {
    await expect(awaitNative(Promise.reject(Object.assign(new Error('gone'), { code: 'DISPOSED' })))).rejects.toMatchObject({
      name: 'TensorRTError',
      code: 'DISPOSED',
    });
  });

  test('awaitNative passes values through and keeps code, cudaError and cause of native rejections', async () => {
    await expect(awaitNative(Promise.resolve(42))).resolves.toBe(42);
    const native = Object.assign(new Error('cudaMemcpyAsync failed: invalid argument'), {
      code: 'CUDA_ERROR',
      cudaError: 'cudaErrorInvalidValue',
    });
    await expect(awaitNative(Promise.reject(native))).rejects.toMatchObject({
      name: 'TensorRTError',
      code: 'CUDA_ERROR',
      cudaError: 'cudaErrorInvalidValue',
      message: 'cudaMemcpyAsync failed: invalid argument',
      cause: native,
    });
    const own = invalidArg('bad');
    await expect(awaitNative(Promise.reject(own))).rejects.toBe(own);
  });

  test('rejectWrapped turns a synchronous failure into a rejection', async () => {
    const own = invalidArg('bad');
    await expect(rejectWrapped(own)).rejects.toBe(own);
    await expect(rejectWrapped(Object.assign(new Error('x'), { code: 'OUT_OF_MEMORY' }))).rejects.toMatchObject({
      name: 'TensorRTError',
      code: 'OUT_OF_MEMORY',
    });
  });
});
