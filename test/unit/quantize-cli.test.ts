/**
 * @jest-environment ./test/unit/quantize.environment.js
 */
/** `tensorrt-node quantize`, run in-process: success summary, cache, and one-line errors with no output file. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli } from '../../lib/cli/program';
import { runtimeInfo } from '../../lib/info';
import { writeNpyFile } from '../../lib/npy';
import { loadModel, modelInfo } from '../../lib/onnx';

const data = require('../../scripts/bench/ocr-data.js') as { textLine(seed: number): Float32Array; CLS_MODEL: string; DET_MODEL: string };
let hasOrt = true;
try {
  require.resolve('onnxruntime-node');
} catch {
  hasOrt = false;
  console.log('quantize CLI tests skipped: onnxruntime-node (optional dependency) is not installed');
}
const maybe = hasOrt ? describe : describe.skip;

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false });
  return { code, out, err };
}

maybe('tensorrt-node quantize', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtn-qcli-'));
    fs.mkdirSync(path.join(dir, 'calib'));
    for (let i = 0; i < 6; i++) writeNpyFile(path.join(dir, 'calib', `batch${i}.npy`), { dtype: 'float32', shape: [1, 3, 48, 192], data: data.textLine(1000 + i) });
    fs.mkdirSync(path.join(dir, 'f64'));
    writeNpyFile(path.join(dir, 'f64', '0.npy'), { dtype: 'float64', shape: [1, 3, 48, 192], data: Float64Array.from(data.textLine(1)) });
    fs.mkdirSync(path.join(dir, 'chw4'));
    writeNpyFile(path.join(dir, 'chw4', '0.npy'), { dtype: 'float32', shape: [1, 4, 48, 192], data: new Float32Array(4 * 48 * 192) });
    fs.mkdirSync(path.join(dir, 'byname', 'x'), { recursive: true });
    writeNpyFile(path.join(dir, 'byname', 'x', '0.npy'), { dtype: 'float32', shape: [2, 3, 48, 192], data: Float32Array.from([...data.textLine(5), ...data.textLine(6)]) });
    fs.writeFileSync(path.join(dir, 'corrupt.onnx'), Buffer.from('definitely not onnx'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('quantizes, prints the summary table, writes the cache; a second run uses the cache', async () => {
    const out = path.join(dir, 'cls-int8.onnx');
    const cache = path.join(dir, 'cls.cache');
    const r = await cli('quantize', data.CLS_MODEL, '--calib', path.join(dir, 'calib'), '-o', out, '--method', 'percentile', '--percentile', '99.9', '--batches', '4', '--cache', cache);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/method\s+percentile/);
    expect(r.out).toMatch(/calibration\s+4 batches, 4 samples/);
    expect(r.out).toMatch(/tensors calibrated\s+61/);
    expect(r.out).toMatch(/nodes quantized\s+61 \(7 residual Add\)/);
    expect(r.out).toMatch(/opset\s+9 -> 13/);
    expect(r.out).toMatch(/time\s+[0-9.]+ s/);
    const info = modelInfo(loadModel(out));
    expect(info.opTypeHistogram.QuantizeLinear).toBe(61);
    expect(fs.readFileSync(cache, 'utf8').split('\n')[0]).toBe('TRT-100000-PercentileCalibration');
    const again = await cli('quantize', data.CLS_MODEL, '--calib', path.join(dir, 'calib'), '-o', path.join(dir, 'again.onnx'), '--method', 'percentile', '--cache', cache, '--json');
    expect(again.code).toBe(0);
    const j = JSON.parse(again.out);
    expect(j.fromCache).toBe(true);
    expect(j.batches).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'again.onnx')).equals(fs.readFileSync(out))).toBe(true);
  });

  test('one sub-folder per input name, batch of 2', async () => {
    const r = await cli('quantize', data.CLS_MODEL, '--calib', path.join(dir, 'byname'), '-o', path.join(dir, 'byname.onnx'), '--method', 'minmax', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ method: 'minmax', batches: 1, samples: 2 });
  });

  test('--accuracy-target: measured on the calibration batches, kept-in-float tensors listed in the summary', async () => {
    // entropy clips the early layers of the classifier (docs/quantization.md); 0.999 needs some tensors in float
    const r = await cli('quantize', data.CLS_MODEL, '--calib', path.join(dir, 'calib'), '-o', path.join(dir, 'fb.onnx'), '--method', 'entropy', '--accuracy-target', '0.999', '--accuracy-batches', '6');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/accuracy\s+output cosine 0\.\d{4}( -> 0\.\d{4})? \(target 0\.999, met; 6 calibration samples\)/);
    expect(r.out).toMatch(/kept in float\s+\S/);
    const j = await cli('quantize', data.CLS_MODEL, '--calib', path.join(dir, 'calib'), '-o', path.join(dir, 'fb2.onnx'), '--method', 'entropy', '--accuracy-target', '0.999', '--json');
    const s = JSON.parse(j.out);
    expect(s.accuracy.met).toBe(true);
    expect(s.accuracy.cosine).toBeGreaterThanOrEqual(0.999);
    expect(s.accuracy.cosineStrict).toBeLessThan(0.999);
    expect(s.accuracy.samples).toBe(6);
    expect(s.accuracy.keptInFloat.length).toBeGreaterThan(0);
    // every tensor kept in float lost its Q/DQ
    const q = loadModel(path.join(dir, 'fb2.onnx')).graph!.node!.filter((n) => n.opType === 'QuantizeLinear').map((n) => n.input![0]);
    for (const k of s.accuracy.keptInFloat) expect(q).not.toContain(k.tensor);
    expect(q.length).toBe(61 - s.accuracy.keptInFloat.length);
  });

  const bad: [string, () => string[], RegExp][] = [
    ['bad accuracy target', () => ['--calib', path.join(dir, 'calib'), '--accuracy-target', '1.5'], /--accuracy-target must be a cosine similarity in \(0, 1\]/],
    ['--accuracy-batches without a target', () => ['--calib', path.join(dir, 'calib'), '--accuracy-batches', '4'], /--accuracy-batches needs --accuracy-target/],
    ['missing calibration directory', () => ['--calib', path.join(dir, 'nope')], /cannot read calibration directory .*nope: no such file or directory/],
    ['float64 .npy', () => ['--calib', path.join(dir, 'f64')], /must be float32, this file is float64/],
    ['shape that does not match the model', () => ['--calib', path.join(dir, 'chw4')], /batch shape \[1, 4, 48, 192\] does not match the model's/],
    ['bad method', () => ['--calib', path.join(dir, 'calib'), '--method', 'kl'], /--method must be one of entropy, minmax, percentile/],
    ['bad percentile', () => ['--calib', path.join(dir, 'calib'), '--method', 'percentile', '--percentile', 'abc'], /--percentile must be a number/],
    ['bad batch count', () => ['--calib', path.join(dir, 'calib'), '--batches', '0'], /--batches must be a positive integer/],
    ['bad backend', () => ['--calib', path.join(dir, 'calib'), '--backend', 'cuda'], /--backend must be onnxruntime or tensorrt/],
    ['single-folder data for the det model at a size it cannot run', () => ['--calib', path.join(dir, 'calib'), '--model', data.DET_MODEL], /cannot run on this calibration batch \(x: 1x3x48x192\)/],
  ];
  test.each(bad)('%s: one line, exit 1, no output file', async (_name, args, message) => {
    const out = path.join(dir, 'bad.onnx');
    let a = args();
    let model = data.CLS_MODEL;
    const mi = a.indexOf('--model');
    if (mi >= 0) {
      model = a[mi + 1];
      a = [...a.slice(0, mi), ...a.slice(mi + 2)];
    }
    const r = await cli('quantize', model, ...a, '-o', out);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(message);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^tensorrt-node quantize: /);
    expect(r.err).not.toMatch(/\bat .*\.(ts|js):\d+/);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('bad.onnx'))).toEqual([]);
  });

  test('corrupt model: PARSE_ERROR in one line, exit 1', async () => {
    const r = await cli('quantize', path.join(dir, 'corrupt.onnx'), '--calib', path.join(dir, 'calib'), '-o', path.join(dir, 'bad.onnx'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^tensorrt-node quantize: .*corrupt\.onnx is neither an ONNX model nor a TensorRT engine \(ONNX decoding failed: .*\) \[PARSE_ERROR\]\n$/);
    expect(fs.existsSync(path.join(dir, 'bad.onnx'))).toBe(false);
  });

  const trtHere = (() => {
    try {
      return runtimeInfo().tensorrt.available;
    } catch {
      return false;
    }
  })();
  if (trtHere) console.log('quantize-cli: the --backend tensorrt refusal test is skipped: TensorRT is available here');
  (trtHere ? test.skip : test)('--backend tensorrt without TensorRT: TENSORRT_UNAVAILABLE in one line (this machine has none)', async () => {
    const r = await cli('quantize', data.CLS_MODEL, '--calib', path.join(dir, 'calib'), '-o', path.join(dir, 'bad.onnx'), '--backend', 'tensorrt');
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^tensorrt-node quantize: .*TensorRT.* \[TENSORRT_UNAVAILABLE\]\n$/);
    expect(fs.existsSync(path.join(dir, 'bad.onnx'))).toBe(false);
  });

  test('missing model and missing required options', async () => {
    const r = await cli('quantize', path.join(dir, 'none.onnx'), '--calib', path.join(dir, 'calib'), '-o', path.join(dir, 'bad.onnx'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot read model .*none\.onnx: no such file or directory \[IO_ERROR\]/);
    const r2 = await cli('quantize', data.CLS_MODEL, '-o', path.join(dir, 'bad.onnx'));
    expect(r2.code).toBe(1);
    expect(r2.err).toMatch(/--calib/);
  });
});
