/**
 * @jest-environment ./test/unit/quantize.environment.js
 */
/**
 * The promise "every bad argument is a TensorRTError('INVALID_ARGUMENT')", checked over the whole public API:
 * every function, class constructor, static method, `cuda.*` function and (where an instance can be made without
 * a GPU or TensorRT) instance method exported by lib/index.ts is called with bad values in each argument position.
 * Each call must succeed (e.g. `undefined` for an optional argument) or throw / reject INVALID_ARGUMENT; another
 * code only where OTHER_CODES names it for that probe, with the reason (a path to nothing is IO_ERROR; a function
 * that needs TensorRT may answer TENSORRT_UNAVAILABLE). INTERNAL is never accepted: it is what a call that broke
 * before its argument check (a test double that does not match the native contract, say) gives. And every declared
 * argument position of every probe must see at least one INVALID_ARGUMENT: a probe whose calls all fail some other
 * way has not reached the check it targets, and fails. The exports are enumerated here, so a new export is covered
 * without touching this file; only what is listed in EXEMPT is left out, each with its reason. The number of calls
 * is printed by the test (its last console line); docs quote no figure.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ts from 'typescript';
import * as api from '../../lib/index';
import { TensorRTError, wrapNativeError } from '../../lib/errors';
import { onnx } from '../../lib/onnx';
import { CONFIG_TOKEN } from '../../lib/tensorrt/config';
import { NETWORK_TOKEN } from '../../lib/tensorrt/network';

/**
 * A test double of our own native contracts (lib/addon/native-builder.ts, native-runtime.ts): every method does
 * nothing and returns undefined, except the fields given, which must have the contract's shapes (a method where the
 * contract has a method: `ioTensors()`). A bad value that got past the TypeScript checks would reach it silently,
 * which the NEVER_VALID rule below reports; a double that does not match the contract makes calls fail with
 * INTERNAL, which fails the test.
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
  api.Engine._wrap(nativeDouble({ ioTensors: () => [ioTensor('x', 'input'), ioTensor('y', 'output')], numOptimizationProfiles: 1, createExecutionContext: contextDouble }), null as never);

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
  '#runBuild': "TypeScript-private (EngineCache's build step, given checked arguments), not part of the API",
  '#loadEngineFile': "TypeScript-private (EngineCache's engine-file path, given checked arguments), not part of the API",
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
/** The engine cache's test doubles of our own contracts: a build giving fixed bytes, no TensorRT, no GPU. */
const KEY = 'a'.repeat(64);
const TARGET: api.CacheTarget = {
  tensorrt: '0.0.0-test-double',
  cudaRuntime: null,
  gpu: { name: 'test double (not a GPU)', computeCapability: '0.0', totalMemory: 1, multiProcessorCount: 1 },
  platform: `${process.platform}-${process.arch}`,
};
const cacheOptions = (): api.EngineCacheOptions<string> => ({
  dir: path.join(scratch, 'cache'),
  target: () => TARGET,
  build: async () => Uint8Array.of(1, 2, 3),
  deserialize: async (plan) => plan.toString('hex'),
});
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
  EngineCache: () => [cacheOptions()],
  CacheStore: () => [path.join(scratch, 'store')],
  'EngineCache#keyFor': () => [api.saveModel(tinyModel()), {}],
  'EngineCache#load': () => [api.saveModel(tinyModel()), {}],
  'CacheStore#write': () => [{ key: KEY }, Uint8Array.of(1)],
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
  EngineCache: () => new api.EngineCache(cacheOptions()),
  CacheStore: () => new api.CacheStore(path.join(scratch, 'store')),
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

/**
 * Codes other than INVALID_ARGUMENT that a probe may answer, each with the reason. Keys: a probe key, or a class
 * name for all its methods. INTERNAL is never allowed.
 */
const NO_CUDA = { CUDA_UNAVAILABLE: 'a valid (or no) argument asks the CUDA driver, absent where the unit tests run' };
const NO_TRT = { TENSORRT_UNAVAILABLE: 'a valid (or no) argument reaches TensorRT, absent where the unit tests run' };
const NO_FILE = { IO_ERROR: "a well-formed path to a file that does not exist ('garbage-not-a-file')" };
const BAD_CONTENT = { PARSE_ERROR: "well-typed bytes or text that are not a model / cache ('garbage', [1..7])" };
const OTHER_CODES: Record<string, Record<string, string>> = {
  getDeviceCount: NO_CUDA, getDevice: NO_CUDA, setDevice: NO_CUDA, synchronize: NO_CUDA, memGetInfo: NO_CUDA,
  getDeviceProperties: NO_CUDA,
  'cuda.getDeviceCount': NO_CUDA, 'cuda.getDevice': NO_CUDA, 'cuda.setDevice': NO_CUDA, 'cuda.synchronize': NO_CUDA,
  'cuda.memGetInfo': NO_CUDA, 'cuda.getDeviceProperties': NO_CUDA,
  DeviceBuffer: NO_CUDA, 'DeviceBuffer.from': NO_CUDA, HostBuffer: NO_CUDA, Stream: NO_CUDA, Event: NO_CUDA,
  currentTarget: NO_TRT, Builder: NO_TRT, Runtime: NO_TRT, createTensorRTBackend: NO_TRT,
  'Engine.load': { ...NO_TRT, TENSORRT_UNAVAILABLE: 'valid bytes (any ArrayBufferView) or a path reach TensorRT, absent here' },
  buildEngine: { ...NO_TRT, ...BAD_CONTENT },
  modelInfo: BAD_CONTENT, createOrtRunner: BAD_CONTENT, parseCalibrationCache: BAD_CONTENT,
  loadModel: { ...NO_FILE, ...BAD_CONTENT },
  readNpyFile: NO_FILE, readTensorFlowGraph: NO_FILE, npyDirectoryCalibrator: NO_FILE, NpyDirectorySource: NO_FILE,
  loadEngine: NO_FILE, engineForModel: NO_FILE, createOnnxRuntimeBackend: NO_FILE, convertTensorFlow: NO_FILE,
  quantize: { UNSUPPORTED: 'with valid options the one-Relu model of GOOD has nothing to quantize (the answer past every check)' },
  'EngineCache#keyFor': NO_FILE,
  'EngineCache#load': NO_FILE,
};

/**
 * How many parameters `f` declares, defaults included (`length` stops at the first default): read from its source
 * with TypeScript's parser (a class: its constructor's). 0 for native functions.
 */
function paramCount(f: (...a: never[]) => unknown): number {
  const src = Function.prototype.toString.call(f);
  if (/\{\s*\[native code\]\s*\}$/.test(src)) return 0;
  for (const text of [`(${src})`, `({ ${src} })`]) {
    const sf = ts.createSourceFile('f.js', text, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
    if ((sf as unknown as { parseDiagnostics: unknown[] }).parseDiagnostics.length) continue;
    let n: number | null = null;
    const walk = (node: ts.Node): void => {
      if (n !== null) return;
      if (ts.isClassLike(node)) {
        const c = node.members.find(ts.isConstructorDeclaration);
        n = c ? c.parameters.length : 0;
        return;
      }
      if (ts.isFunctionLike(node)) {
        n = node.parameters.length;
        return;
      }
      ts.forEachChild(node, walk);
    };
    walk(sf);
    if (n !== null) return n;
  }
  throw new Error(`cannot read the parameters of ${f.name}: ${src.slice(0, 80)}`);
}

function isClass(f: unknown): f is new (...a: unknown[]) => object {
  return typeof f === 'function' && /^class\b/.test(Function.prototype.toString.call(f));
}

interface Probe {
  key: string;
  arity: number;
  /** Parameters declared (defaults included). */
  params: number;
  call: (args: unknown[]) => unknown;
}

/** Classes found without an INSTANCES or NO_INSTANCE entry: their methods are not probed (said, and tested below). */
const unprobedClasses: string[] = [];

function probes(): Probe[] {
  const out: Probe[] = [];
  const add = (key: string, fn: (...a: never[]) => unknown, call: (args: unknown[]) => unknown) => {
    if (!(key in EXEMPT) && !(key.replace(/^[^#]*/, '') in EXEMPT)) out.push({ key, arity: fn.length, params: paramCount(fn), call });
  };
  for (const [name, value] of Object.entries(api)) {
    if (name === 'cuda') {
      for (const [fn, f] of Object.entries(value as Record<string, unknown>)) {
        if (typeof f === 'function' && !isClass(f)) add(`cuda.${fn}`, f as never, (a) => (f as (...x: unknown[]) => unknown)(...a));
      }
      continue;
    }
    if (typeof value !== 'function') continue; // constants (DATA_TYPES, BUILDER_FLAGS, ...) take no arguments
    if (isClass(value)) {
      const C = value;
      add(name, C as never, (a) => Reflect.construct(C, a));
      for (const s of Object.getOwnPropertyNames(C)) {
        if (['length', 'name', 'prototype'].includes(s)) continue;
        const f = (C as unknown as Record<string, unknown>)[s];
        if (typeof f === 'function' && !s.startsWith('_')) add(`${name}.${s}`, f as never, (a) => (f as (...x: unknown[]) => unknown).apply(C, a));
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
          add(`${name}#${m}`, d.value as never, (a) => {
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
    add(name, f as never, (a) => f(...a));
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

type Outcome = { kind: 'accepted' } | { kind: 'code'; code: string; message: string } | { kind: 'broken'; what: string };

/** Runs one call: accepted, refused with a TensorRTError of a known code, or broken (anything else). */
async function run(p: Probe, args: unknown[]): Promise<Outcome> {
  try {
    const result = p.call(args);
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
    return { kind: 'accepted' };
  } catch (e) {
    if (e instanceof TensorRTError && isKnownCode(e.code)) return { kind: 'code', code: e.code, message: e.message };
    const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return { kind: 'broken', what: what.split('\n')[0]!.slice(0, 160) };
  }
}

/** What is wrong with one call's outcome (null: nothing). */
function judge(p: Probe, o: Outcome, label: string, mustThrow: boolean): string | null {
  if (o.kind === 'broken') return `${label} -> ${o.what}`;
  if (o.kind === 'accepted') return mustThrow ? `${label} -> accepted` : null;
  if (o.code === 'INVALID_ARGUMENT') return null;
  const allowed = OTHER_CODES[p.key] ?? OTHER_CODES[p.key.replace(/[.#].*$/, '')];
  if (o.code !== 'INTERNAL' && allowed && o.code in allowed) return null;
  return `${label} -> ${o.code} instead of INVALID_ARGUMENT: ${o.message.split('\n')[0]!.slice(0, 160)}`;
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
    // (or a NO_INSTANCE reason), else this fails naming it.
    expect([...new Set(unprobedClasses)]).toEqual([]);
    for (const k of Object.keys(OTHER_CODES)) expect(keys.has(k) || Object.keys(api).includes(k)).toBe(true);
  });

  test('every probe x every bad value x every argument position', async () => {
    const failures: string[] = [];
    let calls = 0;
    const all = probes();
    for (const p of all) {
      const good = GOOD[p.key]?.() ?? [];
      const positions = Math.max(p.arity + 1, good.length, 1);
      // argument positions that are the function's own (declared, or given a valid value in GOOD): each must
      // refuse some bad value with INVALID_ARGUMENT, else the probe never reached that argument's check
      const own = Math.max(p.params, good.length);
      for (let pos = 0; pos < positions; pos++) {
        const seen = new Map<string, number>();
        for (const [, bad] of BAD) {
          const args = (GOOD[p.key]?.() ?? []).slice(0, Math.max(pos, 0));
          while (args.length < pos) args.push(undefined);
          args.push(bad);
          const label = `${p.key}(${args.map((a, i) => (i === pos ? describeValue(a) : i < good.length ? 'valid' : 'undefined')).join(', ')})`;
          calls++;
          const o = await run(p, args);
          const key = o.kind === 'code' ? o.code : o.kind;
          seen.set(key, (seen.get(key) ?? 0) + 1);
          const f = judge(p, o, label, pos < p.arity && NEVER_VALID(bad));
          if (f) failures.push(f);
        }
        if (pos < own && !seen.has('INVALID_ARGUMENT')) {
          failures.push(`${p.key}: argument ${pos + 1} never reached an argument check (${[...seen].map(([k, n]) => `${k} x${n}`).join(', ')})`);
        }
      }
    }
    console.log(`bad-arguments: ${all.length} probes, ${calls} calls, ${failures.length} broke the promise`);
    expect(failures).toEqual([]);
  });
});
