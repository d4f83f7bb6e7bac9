/**
 * @jest-environment ./test/unit/quantize.environment.js
 */
/**
 * The promise "every failure is a TensorRTError", checked over the whole public API: every function, class
 * constructor, static method, `cuda.*` function and (where an instance can be made without a GPU or TensorRT)
 * instance method exported by lib/index.ts is called with bad values in each argument position. Each call must
 * either succeed (e.g. `undefined` for an optional argument) or throw / reject a `TensorRTError` with a known
 * code: never a TypeError, RangeError or a crash. The exports are enumerated here, so a new export is covered
 * without touching this file; only what is listed in EXEMPT is left out, each with its reason.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as api from '../../lib/index';
import { TensorRTError, wrapNativeError } from '../../lib/errors';
import { onnx } from '../../lib/onnx';
import { CONFIG_TOKEN } from '../../lib/tensorrt/config';
import { NETWORK_TOKEN } from '../../lib/tensorrt/network';

/**
 * A test double of our own native BuilderConfig / NetworkDefinition contracts (types/native-builder.d.ts): every method does nothing
 * and returns undefined. It lets BuilderConfig's methods be probed here; a bad value that got past their checks
 * would reach it silently, which the NEVER_VALID rule below reports.
 */
const nativeDouble = (fields: Record<string, unknown> = {}) =>
  new Proxy(fields, {
    get: (t, k) => (k in t ? t[k as string] : k === 'disposed' ? false : k === 'then' ? undefined : () => undefined),
  }) as never;

/** Engine / ExecutionContext doubles: one float32 input x [-1, 2] (profile 1..4 x 2) and one output y. */
const ioTensor = (name: string, mode: 'input' | 'output') => ({
  name, mode, dtype: 'float32', shape: [-1, 2], format: 'linear', tensorFormat: 'linear', vectorizedDim: -1,
  componentsPerElement: 1, bytesPerComponent: 4, location: 'device', isShapeInferenceIO: false,
  ...(mode === 'input' ? { profiles: [{ min: [1, 2], opt: [2, 2], max: [4, 2] }] } : {}),
});
const contextDouble = () =>
  nativeDouble({ optimizationProfile: 0, getTensorShape: () => [1, 2], hasGraph: () => false, infer: () => Promise.resolve([]) });
const engineDouble = () =>
  api.Engine._wrap(nativeDouble({ ioTensors: [ioTensor('x', 'input'), ioTensor('y', 'output')], numOptimizationProfiles: 1, createExecutionContext: contextDouble }), null as never);

/** A code lib/errors.ts knows (its own list, read through wrapNativeError, which maps unknown codes to INTERNAL). */
const isKnownCode = (c: string) => wrapNativeError({ code: c, message: '' }).code === c;

/** The bad values: one of each kind. Paths point at nothing (and the tests run in an empty scratch directory). */
const BAD: [string, unknown][] = [
  ['null', null],
  ['undefined', undefined],
  ['0', 0],
  ['-1', -1],
  ['1.5', 1.5],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['huge', 2 ** 64],
  ['bigint', 12345678901234567890n],
  ['true', true],
  ["''", ''],
  ["'garbage'", 'garbage-not-a-file'],
  ["'\\0'", 'a\0b'],
  ['[]', []],
  ['[1, 2]', [1, 2]],
  ["['x']", ['x']],
  ['{}', {}],
  ['{ unknown: 1 }', { unknown: 1 }],
  ['Float64Array', new Float64Array(3)],
  ['Int16Array', new Int16Array(2)],
  ['empty Uint8Array', new Uint8Array(0)],
  ['garbage bytes', Uint8Array.from([1, 2, 3, 4, 5, 6, 7])],
  ['function', () => 42],
  ['Symbol', Symbol('bad')],
];

/**
 * Exports left out, with the reason. Keys: `name` (a function, or a class's constructor), `Class.static`,
 * `Class#method`, `cuda.fn`.
 */
const EXEMPT: Record<string, string> = {
  TensorRTError: 'the error type itself: its constructor takes whatever it is given',
  'TensorRTError.captureStackTrace': "inherited from Error (V8's own)",
  'TensorRTError.stackTraceLimit': "inherited from Error (V8's own)",
  'TensorRTError.prepareStackTrace': "inherited from Error (V8's own)",
  '#attachShapes': "TypeScript-private (Calibrator's, not part of the API)",
  '#check': 'TypeScript-private (the DISPOSED check of Engine / ExecutionContext), not part of the API',
  '#serialized': "TypeScript-private (ExecutionContext's queue of manual operations), not part of the API",
  '#tensorOf': "TypeScript-private (ExecutionContext's name lookup, given checked names), not part of the API",
};

/**
 * Valid arguments for functions whose later positions can only be reached past a valid first one. A factory
 * (fresh calibrators each call). Positions beyond these are filled with undefined.
 */
let scratch = '';
let npyDir = '';
function tinyModel(): onnx.ModelProto {
  const D = onnx.TensorProto.DataType;
  const vi = (name: string) =>
    onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: D.FLOAT, shape: { dim: [{ dimValue: 1 }, { dimValue: 2 }] } } } });
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: onnx.GraphProto.create({
      node: [onnx.NodeProto.create({ name: 'relu', opType: 'Relu', input: ['x'], output: ['y'] })],
      input: [vi('x')],
      output: [vi('y')],
    }),
  });
}
const npyArray = (): api.NpyArray => ({ dtype: 'float32', shape: [2], data: Float32Array.of(1, 2) });
const calibrator = () => new api.MinMaxCalibrator({ batches: [{ x: Float32Array.of(1, -2) }], inputShapes: { x: [1, 2] } });
const GOOD: Record<string, () => unknown[]> = {
  setLogSeverity: () => ['warning'],
  onLog: () => [() => undefined],
  createCalibrator: () => ['minmax', {}],
  npyDirectoryCalibrator: () => [npyDir, {}],
  NpyDirectorySource: () => [npyDir],
  parseCalibrationCache: () => ['TRT-100000-EntropyCalibration2\nx: 3c000000\n'],
  formatCalibrationCache: () => [{ x: 1 }, 'entropy2', 100000],
  createOrtRunner: () => [api.saveModel(tinyModel()), {}],
  calibrate: () => [tinyModel(), calibrator(), {}],
  quantize: () => [tinyModel(), calibrator(), {}],
  saveModel: () => [tinyModel()],
  modelInfo: () => [tinyModel()],
  readNpy: () => [api.writeNpy(npyArray())],
  writeNpy: () => [npyArray()],
  writeNpyFile: () => [path.join(scratch, 'out.npy'), npyArray()],
  buildEngine: () => [api.saveModel(tinyModel()), {}],
  Runtime: () => [{}],
  'Engine.load': () => [Uint8Array.of(1, 2, 3), {}],
  EntropyCalibrator: () => [{}],
  MinMaxCalibrator: () => [{}],
  PercentileCalibrator: () => [{}],
};

/** Instances for `Class#method` probes (those that need neither a GPU nor TensorRT). */
const INSTANCES: Record<string, () => object> = {
  EntropyCalibrator: () => new api.EntropyCalibrator({ batches: [{ x: Float32Array.of(1) }] }),
  MinMaxCalibrator: () => new api.MinMaxCalibrator({ batches: [{ x: Float32Array.of(1) }] }),
  PercentileCalibrator: () => new api.PercentileCalibrator({ batches: [{ x: Float32Array.of(1) }] }),
  NpyDirectorySource: () => new api.NpyDirectorySource(npyDir),
  BuilderConfig: () => new api.BuilderConfig(CONFIG_TOKEN, nativeDouble()),
  NetworkDefinition: () => new api.NetworkDefinition(NETWORK_TOKEN, nativeDouble()),
  Engine: engineDouble,
  ExecutionContext: () => engineDouble().createExecutionContext(),
};

/**
 * Classes whose methods are not probed here, with the reason (their constructors and static methods are). The
 * CUDA classes and Runtime / Builder / parsers need a device or TensorRT for an instance (neither exists where the
 * unit tests run); their methods' argument checks are exported functions tested on their own (cuda-args.test.ts,
 * runtime.test.ts, builder.test.ts).
 */
const NO_INSTANCE: Record<string, string> = {
  DeviceBuffer: 'needs a CUDA device',
  HostBuffer: 'needs a CUDA device (pinned memory)',
  Stream: 'needs a CUDA device',
  Event: 'needs a CUDA device',
  Runtime: 'needs TensorRT',
  Builder: 'needs TensorRT',
  OnnxParser: 'needs TensorRT (and a NetworkDefinition from a Builder)',
  UffParser: 'needs TensorRT 8.6',
  Repository: 'its methods load model files and poll the directory (timers): serve.test.ts drives them',
  Batcher: 'its methods take requests from the server, already checked there: serve-batcher.test.ts drives them',
  Calibrator: 'abstract: its methods are probed through EntropyCalibrator, MinMaxCalibrator and PercentileCalibrator',
};

function isClass(f: unknown): f is new (...a: unknown[]) => object {
  return typeof f === 'function' && /^class\b/.test(Function.prototype.toString.call(f));
}

interface Probe {
  key: string;
  arity: number;
  call: (args: unknown[]) => unknown;
}

/** Classes found without an INSTANCES or NO_INSTANCE entry: their methods are not probed (said, and tested below). */
const unprobedClasses: string[] = [];

function probes(): Probe[] {
  const out: Probe[] = [];
  const add = (key: string, arity: number, call: (args: unknown[]) => unknown) => {
    if (!(key in EXEMPT) && !(key.replace(/^[^#]*/, '') in EXEMPT)) out.push({ key, arity, call });
  };
  for (const [name, value] of Object.entries(api)) {
    if (name === 'cuda') {
      for (const [fn, f] of Object.entries(value as Record<string, unknown>)) {
        if (typeof f === 'function' && !isClass(f)) add(`cuda.${fn}`, f.length, (a) => (f as (...x: unknown[]) => unknown)(...a));
      }
      continue;
    }
    if (typeof value !== 'function') continue; // constants (DATA_TYPES, BUILDER_FLAGS, ...) take no arguments
    if (isClass(value)) {
      const C = value;
      add(name, C.length, (a) => Reflect.construct(C, a));
      for (const s of Object.getOwnPropertyNames(C)) {
        if (['length', 'name', 'prototype'].includes(s)) continue;
        const f = (C as unknown as Record<string, unknown>)[s];
        if (typeof f === 'function' && !s.startsWith('_')) add(`${name}.${s}`, f.length, (a) => (f as (...x: unknown[]) => unknown).apply(C, a));
      }
      const make = INSTANCES[name];
      if (make) {
        const protoNames = new Set<string>();
        for (let p = C.prototype as object | null; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
          for (const m of Object.getOwnPropertyNames(p)) protoNames.add(m);
        }
        for (const m of protoNames) {
          if (m === 'constructor' || m.startsWith('_')) continue;
          const d = Object.getOwnPropertyDescriptor(C.prototype, m) ?? findDescriptor(C.prototype as object, m);
          if (!d || typeof d.value !== 'function') continue; // getters / setters are probed by their own tests
          add(`${name}#${m}`, (d.value as (...x: unknown[]) => unknown).length, (a) => {
            const inst = make() as Record<string, (...x: unknown[]) => unknown>;
            return inst[m]!(...a);
          });
        }
      } else if (!(name in NO_INSTANCE) && !(name in EXEMPT)) {
        unprobedClasses.push(name);
      }
      continue;
    }
    const f = value as (...x: unknown[]) => unknown;
    add(name, f.length, (a) => f(...a));
  }
  return out;
}

function findDescriptor(o: object, m: string): PropertyDescriptor | undefined {
  for (let p: object | null = o; p; p = Object.getPrototypeOf(p) as object | null) {
    const d = Object.getOwnPropertyDescriptor(p, m);
    if (d) return d;
  }
  return undefined;
}

const describeValue = (v: unknown) => BAD.find(([, b]) => Object.is(b, v))?.[0] ?? typeof v;

/**
 * Values no argument of the API takes: accepted at a declared position (< the function's length), they are a
 * silent failure.
 */
const NEVER_VALID = (v: unknown) => typeof v === 'symbol' || (typeof v === 'number' && Number.isNaN(v));

/** Runs one call; returns null when it kept the promise, or a line saying what broke it. */
async function check(p: Probe, args: unknown[], label: string, mustThrow = false): Promise<string | null> {
  let result: unknown;
  try {
    result = p.call(args);
    if (result && typeof (result as Promise<unknown>).then === 'function') {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('still pending after 5 s')), 5000);
      });
      try {
        await Promise.race([result, timeout]);
      } finally {
        clearTimeout(timer);
      }
    }
    return mustThrow ? `${label} -> accepted` : null;
  } catch (e) {
    if (e instanceof TensorRTError && isKnownCode(e.code)) return null;
    const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return `${label} -> ${what.split('\n')[0]!.slice(0, 160)}`;
  }
}

const CWD = process.cwd();
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'trtn-badargs-'));
  npyDir = path.join(scratch, 'npy');
  fs.mkdirSync(npyDir);
  api.writeNpyFile(path.join(npyDir, 'x_0.npy'), { dtype: 'float32', shape: [1, 2], data: Float32Array.of(1, 2) });
  process.chdir(scratch); // relative garbage paths land (and fail) here
});
afterAll(() => {
  process.chdir(CWD);
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe('every public entry point answers bad arguments with a TensorRTError', () => {
  test('the probe list covers every export (and the tables name only existing exports)', () => {
    const keys = new Set(probes().map((p) => p.key));
    for (const name of Object.keys(api)) {
      const v = (api as Record<string, unknown>)[name];
      if (typeof v === 'function') expect(keys.has(name) || name in EXEMPT).toBe(true);
    }
    for (const k of [...Object.keys(GOOD), ...Object.keys(INSTANCES)]) {
      const base = k.split(/[.#]/)[0]!;
      expect(Object.keys(api)).toContain(base);
    }
    expect(keys.size).toBeGreaterThan(60);
    // A new class gets its constructor and static methods probed at once; its methods need an INSTANCES factory
    // (or a NO_INSTANCE reason): name them here so that the gap is visible.
    if (unprobedClasses.length) {
      // eslint-disable-next-line no-console
      console.log(`bad-arguments: methods not probed (add INSTANCES or NO_INSTANCE entries): ${[...new Set(unprobedClasses)].join(', ')}`);
    }
  });

  test('every probe x every bad value x every argument position', async () => {
    const failures: string[] = [];
    let calls = 0;
    for (const p of probes()) {
      const good = GOOD[p.key]?.() ?? [];
      const positions = Math.max(p.arity + 1, good.length, 1);
      for (let pos = 0; pos < positions; pos++) {
        for (const [, bad] of BAD) {
          const args = (GOOD[p.key]?.() ?? []).slice(0, Math.max(pos, 0));
          while (args.length < pos) args.push(undefined);
          args.push(bad);
          const label = `${p.key}(${args.map((a, i) => (i === pos ? describeValue(a) : i < good.length ? 'valid' : 'undefined')).join(', ')})`;
          calls++;
          const f = await check(p, args, label, pos < p.arity && NEVER_VALID(bad));
          if (f) failures.push(f);
        }
      }
    }
    // eslint-disable-next-line no-console
    console.log(`bad-arguments: ${calls} calls, ${failures.length} broke the promise`);
    expect(failures).toEqual([]);
  });
});
