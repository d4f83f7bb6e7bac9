/**
 * RUN side (lib/tensorrt/runtime.ts, engine.ts, context.ts) on the CPU: what happens where TensorRT cannot be used, and the
 * pure-TS validation of infer() / setInputShape() arguments against an engine's tensors.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vm from 'vm';
import { TensorRTError } from '../../lib/errors';
import type { TensorRTNative } from '../../lib/addon';
import { getTrtNative, tryGetNative } from '../../lib/native';
import { Runtime, checkEngineSource, checkRuntimeOptions } from '../../lib/tensorrt/runtime';
import { Engine, IOTensor } from '../../lib/tensorrt/engine';
import {
  arrayMatchesDtype,
  checkInferOptions,
  checkInputShape,
  resolveInferInputs,
  typedArrayName,
  wrapOutputs,
} from '../../lib/tensorrt/context';
import * as index from '../../lib/index';

/** Why TensorRT cannot be used here (null when it can). */
function trtUnavailableReason(): string | null {
  try {
    getTrtNative();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
const unavailable = trtUnavailableReason();

function expectCode(fn: () => unknown, code: string, message?: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TensorRTError);
  expect((err as TensorRTError).code).toBe(code);
  if (message) expect((err as TensorRTError).message).toMatch(message);
}

async function expectReject(p: Promise<unknown>, code: string, message?: RegExp): Promise<TensorRTError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TensorRTError);
  expect((err as TensorRTError).code).toBe(code);
  if (message) expect((err as TensorRTError).message).toMatch(message);
  return err as TensorRTError;
}

describe('public exports', () => {
  test('Runtime, Engine and ExecutionContext are exported', () => {
    expect(typeof index.Runtime).toBe('function');
    expect(typeof index.Engine).toBe('function');
    expect(typeof index.Engine.load).toBe('function');
    expect(typeof index.ExecutionContext).toBe('function');
  });
});

describe('without TensorRT', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trtn-runtime-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const garbage = Buffer.from('this is not a TensorRT engine, just some bytes'.repeat(10));
  const cases: [string, () => unknown][] = [
    ['garbage bytes', () => garbage],
    ['a truncated plan-like header', () => new Uint8Array([0x66, 0x74, 0x72, 0x74, 0, 0, 0])],
    ['an empty buffer', () => new Uint8Array(0)],
    ['an ArrayBuffer', () => new ArrayBuffer(16)],
    ['a missing file', () => path.join(tmp, 'does-not-exist.engine')],
    ['an empty file', () => {
      const f = path.join(tmp, 'empty.engine');
      fs.writeFileSync(f, '');
      return f;
    }],
  ];

  if (unavailable !== null) {
    test('new Runtime() throws TENSORRT_UNAVAILABLE with the reason', () => {
      expectCode(() => new Runtime(), 'TENSORRT_UNAVAILABLE', /TensorRT|tensorrt-node/);
      let err: unknown;
      try {
        new Runtime();
      } catch (e) {
        err = e;
      }
      expect((err as Error).message).toBe(unavailable);
    });

    test.each(cases)('Engine.load(%s) rejects TENSORRT_UNAVAILABLE (no crash)', async (_what, make) => {
      const err = await expectReject(Engine.load(make() as Uint8Array), 'TENSORRT_UNAVAILABLE');
      expect(err.message).toBe(unavailable);
    });
  } else {
    // A machine with TensorRT: the same inputs give the errors of a real deserializer.
    test.each(cases)('Engine.load(%s) rejects with a TensorRTError (no crash)', async (what, make) => {
      const expected = /missing/.test(what) ? 'IO_ERROR' : 'DESERIALIZE_ERROR';
      let err: unknown;
      try {
        await Engine.load(make() as Uint8Array);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TensorRTError);
      // No GPU: CUDA_UNAVAILABLE comes first.
      expect([expected, 'CUDA_UNAVAILABLE']).toContain((err as TensorRTError).code);
    });
  }

  test('argument types are checked before TensorRT is needed', async () => {
    for (const bad of [123, null, undefined, {}, [1, 2, 3], '', 'a\0b', new SharedArrayBuffer(8)]) {
      await expectReject(Engine.load(bad as unknown as Uint8Array), 'INVALID_ARGUMENT');
    }
    expectCode(() => new Runtime({ bogus: true } as never), 'INVALID_ARGUMENT', /unknown option 'bogus'/);
    expectCode(() => new Runtime({ maxThreads: 0 }), 'INVALID_ARGUMENT', /maxThreads/);
    expectCode(() => new Runtime(null as never), 'INVALID_ARGUMENT');
  });
});

describe('native classes (addons built with TensorRT headers)', () => {
  const addon = tryGetNative();
  const has = !!addon?.Runtime;
  (has ? test : test.skip)('Engine / ExecutionContext cannot be constructed from JS; Runtime checks its options', () => {
    const a = addon as TensorRTNative.Addon;
    const E = a.Engine as unknown as new (...args: unknown[]) => unknown;
    const C = a.ExecutionContext as unknown as new (...args: unknown[]) => unknown;
    for (const args of [[], [{}], [1n], [null]]) {
      expect(() => new E(...args)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/Runtime.deserialize/) }));
      expect(() => new C(...args)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/createExecutionContext/) }));
    }
    const R = a.Runtime as new (o?: unknown) => unknown;
    expect(() => new R({ dlaCore: 'x' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new R(5)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    if (!a.runtimeInfo().tensorrt.available) {
      // The native path on its own (lib/ stops earlier): the loader's reason, never a crash.
      expect(() => new R()).toThrow(expect.objectContaining({ code: 'TENSORRT_UNAVAILABLE', message: expect.stringMatching(/libnvinfer/) }));
    }
  });
});

describe('checkEngineSource / checkRuntimeOptions', () => {
  test('accepts bytes and paths', () => {
    const b = Buffer.from([1, 2, 3]);
    expect(checkEngineSource(b)).toBe(b);
    const ab = new ArrayBuffer(4);
    expect(checkEngineSource(ab)).toBe(ab);
    const dv = new DataView(ab);
    expect(checkEngineSource(dv)).toBe(dv);
    expect(checkEngineSource('/x/model.engine')).toBe('/x/model.engine');
    // Emptiness is left to the deserializer (DESERIALIZE_ERROR there).
    expect(checkEngineSource(new Uint8Array(0))).toBeInstanceOf(Uint8Array);
  });

  test('refuses everything else', () => {
    expectCode(() => checkEngineSource(42), 'INVALID_ARGUMENT', /expected the engine bytes .* or a file path; got 42 \(number\)/);
    expectCode(() => checkEngineSource(''), 'INVALID_ARGUMENT', /the engine: the path must be a file path \(a non-empty string\)/);
    expectCode(() => checkEngineSource(new Uint8Array(new SharedArrayBuffer(4))), 'INVALID_ARGUMENT', /SharedArrayBuffer/);
  });

  test('runtime options', () => {
    expect(checkRuntimeOptions(undefined)).toEqual({});
    expect(checkRuntimeOptions({ dlaCore: 1, maxThreads: 4, engineHostCodeAllowed: true })).toEqual({
      dlaCore: 1,
      maxThreads: 4,
      engineHostCodeAllowed: true,
    });
    expectCode(() => checkRuntimeOptions({ dlaCore: -1 }), 'INVALID_ARGUMENT');
    expectCode(() => checkRuntimeOptions({ dlaCore: 1.5 }), 'INVALID_ARGUMENT');
    expectCode(() => checkRuntimeOptions({ engineHostCodeAllowed: 1 }), 'INVALID_ARGUMENT');
    expectCode(() => checkRuntimeOptions([]), 'INVALID_ARGUMENT');
  });

  test('runtime option flavor: full, lean or dispatch (the TensorRT library serving the Runtime)', () => {
    for (const flavor of ['full', 'lean', 'dispatch'] as const) expect(checkRuntimeOptions({ flavor })).toEqual({ flavor });
    expectCode(() => checkRuntimeOptions({ flavor: 'rtx' }), 'INVALID_ARGUMENT', /flavor must be one of full, lean, dispatch; got "rtx"/);
    expectCode(() => checkRuntimeOptions({ flavor: 1 }), 'INVALID_ARGUMENT', /flavor must be one of/);
  });
});

// ----------------------------------------------------------------------------------------------------------------
// An engine's tensors as the native layer reports them.

function tensor(p: Partial<IOTensor> & Pick<IOTensor, 'name' | 'mode' | 'dtype' | 'shape'>): IOTensor {
  return {
    format: 'Row major linear (kLINEAR)',
    tensorFormat: 'linear',
    vectorizedDim: -1,
    componentsPerElement: 1,
    bytesPerComponent: 4,
    location: 'device',
    isShapeInferenceIO: false,
    ...p,
  };
}

const TENSORS: IOTensor[] = [
  tensor({
    name: 'x',
    mode: 'input',
    dtype: 'float32',
    shape: [-1, 3, 4],
    profiles: [
      { min: [1, 3, 4], opt: [2, 3, 4], max: [8, 3, 4] },
      { min: [16, 3, 4], opt: [16, 3, 4], max: [32, 3, 4] },
    ],
  }),
  tensor({ name: 'ids', mode: 'input', dtype: 'int64', shape: [2], profiles: [{ min: [2], opt: [2], max: [2] }, { min: [2], opt: [2], max: [2] }] }),
  tensor({ name: 'y', mode: 'output', dtype: 'float32', shape: [-1, 5] }),
  tensor({ name: 'mask', mode: 'output', dtype: 'bool', shape: [-1] }),
];

const ids = () => new BigInt64Array([1n, 2n]);

describe('resolveInferInputs', () => {
  const ctx = { profile: 0 };

  test('explicit shapes, static shapes and the shape implied by one dynamic dimension', () => {
    const x = new Float32Array(2 * 3 * 4);
    const r = resolveInferInputs(TENSORS, { x: { data: x, shape: [2, 3, 4] }, ids: ids() }, ctx);
    expect(r.map((i) => [i.name, i.dtype, i.shape])).toEqual([
      ['x', 'float32', [2, 3, 4]],
      ['ids', 'int64', [2]],
    ]);
    expect(r[0].data).toBe(x);
    // no shape given: the single dynamic dimension follows from the length
    expect(resolveInferInputs(TENSORS, { x: new Float32Array(5 * 12), ids: ids() }, ctx)[0].shape).toEqual([5, 3, 4]);
    // one dynamic dimension: the length decides, whatever shape the context had (e.g. from the last infer)
    const cur = { profile: 0, currentShape: (n: string) => (n === 'x' ? [3, 3, 4] : [2]) };
    expect(resolveInferInputs(TENSORS, { x: new Float32Array(24), ids: ids() }, cur)[0].shape).toEqual([2, 3, 4]);
    expect(() => resolveInferInputs(TENSORS, { x: new Float32Array(13), ids: ids() }, cur)).toThrow(/needs 36 elements; got 13/);
  });

  test('unknown, output and missing tensor names are INVALID_ARGUMENT', () => {
    const x = { data: new Float32Array(12), shape: [1, 3, 4] };
    expectCode(() => resolveInferInputs(TENSORS, { x, ids: ids(), z: new Float32Array(1) }, ctx), 'INVALID_ARGUMENT', /no input named "z" \(inputs: x, ids\)/);
    expectCode(() => resolveInferInputs(TENSORS, { x, ids: ids(), y: new Float32Array(5) }, ctx), 'INVALID_ARGUMENT', /"y" is an output/);
    expectCode(() => resolveInferInputs(TENSORS, { x }, ctx), 'INVALID_ARGUMENT', /input 'ids' \(int64 \[2\]\) is missing/);
    expectCode(() => resolveInferInputs(TENSORS, { x, ids: undefined }, ctx), 'INVALID_ARGUMENT', /'ids'.*missing/);
  });

  test('the typed array must carry the dtype', () => {
    const shape = [1, 3, 4];
    for (const bad of [new Float64Array(12), new Int32Array(12), new Uint16Array(12), new Uint8Array(48), [0, 1, 2]]) {
      expectCode(() => resolveInferInputs(TENSORS, { x: { data: bad, shape }, ids: ids() }, ctx), 'INVALID_ARGUMENT', /'x' is float32: pass a Float32Array/);
    }
    expectCode(() => resolveInferInputs(TENSORS, { x: { data: new Float32Array(12), shape }, ids: new Int32Array(2) }, ctx), 'INVALID_ARGUMENT', /int64: pass a BigInt64Array; got a Int32Array/);
    expectCode(() => resolveInferInputs(TENSORS, { x: { data: new Float32Array(12), shape, dtype: 'float16' }, ids: ids() }, ctx), 'INVALID_ARGUMENT', /declared as float16/);
    expectCode(() => resolveInferInputs(TENSORS, { x: 'hello', ids: ids() }, ctx), 'INVALID_ARGUMENT', /typed array or \{ data, shape \}/);
    expectCode(() => resolveInferInputs(TENSORS, { x: { data: new Float32Array(12), shape, layout: 'nchw' }, ids: ids() }, ctx), 'INVALID_ARGUMENT', /unknown field 'layout'/);
  });

  test('shapes: rank, fixed dimensions, profile range, length', () => {
    const r = (shape: unknown, n = 12, profile = 0) =>
      resolveInferInputs(TENSORS, { x: { data: new Float32Array(n), shape: shape as number[] }, ids: ids() }, { profile });
    expectCode(() => r([12]), 'INVALID_ARGUMENT', /rank 1; the engine's shape \[-1, 3, 4\] has rank 3/);
    expectCode(() => r([1, 4, 3]), 'INVALID_ARGUMENT', /dimension 1 is fixed to 3/);
    expectCode(() => r([9, 3, 4], 108), 'INVALID_ARGUMENT', /outside optimization profile 0 .*\[1, 8\]/);
    expectCode(() => r([0, 3, 4], 0), 'INVALID_ARGUMENT', /outside optimization profile 0/);
    expectCode(() => r([2, 3, 4], 12), 'INVALID_ARGUMENT', /needs 24 elements; got 12/);
    expectCode(() => r([1.5, 3, 4]), 'INVALID_ARGUMENT', /non-negative integers/);
    expectCode(() => r([-1, 3, 4]), 'INVALID_ARGUMENT', /non-negative integers/);
    expectCode(() => r('1,3,4'), 'INVALID_ARGUMENT', /array of dimensions/);
    // the profile of the context decides the range
    expect(r([16, 3, 4], 192, 1)[0].shape).toEqual([16, 3, 4]);
    expectCode(() => r([8, 3, 4], 96, 1), 'INVALID_ARGUMENT', /profile 1/);
    // a length the single dynamic dimension cannot absorb
    expectCode(() => resolveInferInputs(TENSORS, { x: new Float32Array(13), ids: ids() }, ctx), 'INVALID_ARGUMENT', /13 elements do not fill it/);
  });

  test('two dynamic dimensions need a shape', () => {
    const t = [tensor({ name: 'img', mode: 'input', dtype: 'float16', shape: [1, 3, -1, -1] })];
    expectCode(() => resolveInferInputs(t, { img: new Uint16Array(12) }, ctx), 'INVALID_ARGUMENT', /dynamic shape \[1, 3, -1, -1\]: pass \{ data, shape \} or call setInputShape/);
    expect(resolveInferInputs(t, { img: { data: new Uint16Array(12), shape: [1, 3, 2, 2] } }, ctx)[0].shape).toEqual([1, 3, 2, 2]);
    // a context whose shape is only partly set does not count; a fully set one does
    expectCode(() => resolveInferInputs(t, { img: new Uint16Array(12) }, { profile: 0, currentShape: () => [1, 3, -1, -1] }), 'INVALID_ARGUMENT');
    expect(resolveInferInputs(t, { img: new Uint16Array(12) }, { profile: 0, currentShape: () => [1, 3, 1, 4] })[0].shape).toEqual([1, 3, 1, 4]);
    expectCode(() => resolveInferInputs(t, { img: new Uint16Array(10) }, { profile: 0, currentShape: () => [1, 3, 1, 4] }), 'INVALID_ARGUMENT', /needs 12 elements; got 10/);
  });

  test('shape-tensor values must be within the profile', () => {
    const t = [
      tensor({
        name: 'target',
        mode: 'input',
        dtype: 'int32',
        shape: [2],
        location: 'host',
        isShapeInferenceIO: true,
        profiles: [{ min: [2], opt: [2], max: [2] }],
        profileValues: [{ min: [1, 1], opt: [4, 4], max: [8, 16] }],
      }),
    ];
    expect(resolveInferInputs(t, { target: new Int32Array([8, 16]) }, ctx)[0].shape).toEqual([2]);
    expectCode(() => resolveInferInputs(t, { target: new Int32Array([8, 17]) }, ctx), 'INVALID_ARGUMENT', /value 1 = 17 is outside optimization profile 0 \(\[1, 16\]\)/);
  });

  test('sub-byte and unknown dtypes are UNSUPPORTED', () => {
    const t4 = [tensor({ name: 'w', mode: 'input', dtype: 'int4', shape: [4] })];
    expectCode(() => resolveInferInputs(t4, { w: new Uint8Array(2) }, ctx), 'UNSUPPORTED', /sub-byte/);
    const te = [tensor({ name: 'w', mode: 'input', dtype: 'e8m0' as never, shape: [4] })];
    expectCode(() => resolveInferInputs(te, { w: new Uint8Array(4) }, ctx), 'UNSUPPORTED', /e8m0/);
  });

  test('inputs must be an object', () => {
    for (const bad of [null, undefined, 3, [new Float32Array(1)], new Float32Array(3)]) {
      expectCode(() => resolveInferInputs(TENSORS, bad, ctx), 'INVALID_ARGUMENT', /inputs must be an object/);
    }
  });

  test('bool accepts Uint8Array and Int8Array; float16 / bfloat16 travel as Uint16Array', () => {
    expect(arrayMatchesDtype('bool', new Uint8Array(1))).toBe(true);
    expect(arrayMatchesDtype('bool', new Int8Array(1))).toBe(true);
    expect(arrayMatchesDtype('bool', new Uint8ClampedArray(1))).toBe(false);
    expect(arrayMatchesDtype('float16', new Uint16Array(1))).toBe(true);
    expect(arrayMatchesDtype('bfloat16', new Uint16Array(1))).toBe(true);
    expect(arrayMatchesDtype('float16', new Float32Array(1))).toBe(false);
    expect(arrayMatchesDtype('uint8', Buffer.alloc(1))).toBe(true);
    expect(arrayMatchesDtype('int64', new BigUint64Array(1))).toBe(false);
    expect(arrayMatchesDtype('int4', new Uint8Array(1))).toBe(false);
  });

  test('typed arrays from another realm are recognised', () => {
    const foreign = vm.runInNewContext('new Float32Array(12)') as Float32Array;
    expect(foreign instanceof Float32Array).toBe(false);
    expect(typedArrayName(foreign)).toBe('Float32Array');
    expect(resolveInferInputs(TENSORS, { x: foreign, ids: ids() }, ctx)[0].shape).toEqual([1, 3, 4]);
    expect(typedArrayName(new DataView(new ArrayBuffer(1)))).toBeNull();
    expect(typedArrayName({ [Symbol.toStringTag]: 'Float32Array' })).toBeNull();
  });
});

describe('checkInputShape (setInputShape)', () => {
  test('checks against the engine and the profile', () => {
    expect(checkInputShape(TENSORS[0], [8, 3, 4], 0)).toEqual([8, 3, 4]);
    expect(checkInputShape(TENSORS[0], new Int32Array([2, 3, 4]), 0)).toEqual([2, 3, 4]);
    expectCode(() => checkInputShape(TENSORS[0], [2, 3], 0), 'INVALID_ARGUMENT', /rank 2/);
    expectCode(() => checkInputShape(TENSORS[0], [2, 3, 4, 1], 0), 'INVALID_ARGUMENT', /rank 4/);
    expectCode(() => checkInputShape(TENSORS[0], [NaN, 3, 4], 0), 'INVALID_ARGUMENT');
    expectCode(() => checkInputShape(TENSORS[0], [2 ** 60, 3, 4], 0), 'INVALID_ARGUMENT');
    expectCode(() => checkInputShape(TENSORS[0], [33, 3, 4], 1), 'INVALID_ARGUMENT', /\[16, 32\]/);
    expectCode(() => checkInputShape(TENSORS[0], null, 0), 'INVALID_ARGUMENT', /array of dimensions; got null/);
    // no profiles (a static engine): only the fixed dimensions count
    const s = tensor({ name: 's', mode: 'input', dtype: 'float32', shape: [2, 2] });
    expect(checkInputShape(s, [2, 2], 0)).toEqual([2, 2]);
    expectCode(() => checkInputShape(s, [2, 3], 0), 'INVALID_ARGUMENT', /fixed to 2/);
  });
});

describe('checkInferOptions', () => {
  test('options', () => {
    expect(checkInferOptions(undefined)).toEqual({ cudaGraph: false });
    expect(checkInferOptions({ cudaGraph: true })).toEqual({ stream: undefined, cudaGraph: true });
    expectCode(() => checkInferOptions({ cudaGraph: 'yes' }), 'INVALID_ARGUMENT', /cudaGraph must be a boolean/);
    expectCode(() => checkInferOptions({ stream: 1n }), 'INVALID_ARGUMENT', /stream must be a Stream/);
    expectCode(() => checkInferOptions({ steam: 1 }), 'INVALID_ARGUMENT', /unknown option 'steam'/);
    expectCode(() => checkInferOptions(null), 'INVALID_ARGUMENT');
  });
});

describe('wrapOutputs', () => {
  test('typed arrays of each dtype over the native ArrayBuffers', () => {
    const tensors = [
      ...TENSORS,
      tensor({ name: 'h', mode: 'output', dtype: 'float16', shape: [2] }),
      tensor({ name: 'n', mode: 'output', dtype: 'int64', shape: [1] }),
    ];
    const y = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const out = wrapOutputs(tensors, [
      { name: 'y', shape: [2, 5], buffer: y.buffer },
      { name: 'mask', shape: [3], buffer: new Uint8Array([1, 0, 1]).buffer },
      { name: 'h', shape: [2], buffer: new Uint16Array([0x3c00, 0x4000]).buffer },
      { name: 'n', shape: [1], buffer: new BigInt64Array([-7n]).buffer },
    ]);
    expect(out.y.data).toBeInstanceOf(Float32Array);
    expect(Array.from(out.y.data as Float32Array)).toEqual(Array.from(y));
    expect(out.y.shape).toEqual([2, 5]);
    expect(out.y.dtype).toBe('float32');
    expect(out.mask.data).toBeInstanceOf(Uint8Array);
    expect(out.h.data).toBeInstanceOf(Uint16Array);
    expect((out.h.data as Uint16Array)[0]).toBe(0x3c00);
    expect(out.n.data).toBeInstanceOf(BigInt64Array);
    expect((out.n.data as BigInt64Array)[0]).toBe(-7n);
  });

  test('inconsistent native results are INTERNAL', () => {
    expectCode(() => wrapOutputs(TENSORS, [{ name: 'zz', shape: [1], buffer: new ArrayBuffer(4) }]), 'INTERNAL');
    expectCode(() => wrapOutputs(TENSORS, [{ name: 'y', shape: [1, 5], buffer: new ArrayBuffer(4) }]), 'INTERNAL');
  });
});
