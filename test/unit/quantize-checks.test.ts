/**
 * @jest-environment ./test/unit/quantize.environment.js
 */
/**
 * Issue 11's defects: unusable calibration data reported success (all-NaN, 3e38, NaN/Inf mixed in), an unmet
 * --accuracy-target exited 0, the accuracy phase showed no progress; plus the calibration cache's coverage and the
 * PP-OCR rec model (opset 9), refused before.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { onnx, saveModel, loadModel } from '../../lib/onnx';
import { quantize, calibrate, createCalibrator, parseCalibrationCache, collectStatistics, createOrtRunner, exposeTensors, type QuantizeProgress, type CalibratorLike } from '../../lib/calibration';
import { runCli } from '../../lib/cli/program';
import { createHistogramPool } from '../../lib/calibration/histogram-pool';
import { writeNpyFile } from '../../lib/npy';
import { convModel as sharedConvModel } from './helpers/conv-model';

type Ort = {
  Tensor: new (t: string, d: Float32Array, dims: number[]) => unknown;
  InferenceSession: { create(b: Uint8Array | string, o?: Record<string, unknown>): Promise<{ run(f: Record<string, unknown>): Promise<Record<string, { data: Float32Array; dims: number[] }>> }> };
};
let ort: Ort | null = null;
try {
  ort = require('onnxruntime-node') as Ort;
} catch {
  console.log('quantize checks skipped: onnxruntime-node (optional dependency) is not installed');
}
const maybe = ort ? describe : describe.skip;

const data = require('../../scripts/bench/ocr-data.js') as { textLine(seed: number, h?: number, w?: number): Float32Array; CLS_MODEL: string };
const REC_MODEL = path.join(path.dirname(data.CLS_MODEL), 'ch_PP-OCRv4_rec_infer.onnx');

const D = onnx.TensorProto.DataType;
const seq = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));

/** x[N,2,4,4] -> conv1 -> relu r1 -> conv2 -> c2; Add(c2, r1) -> Softmax(axis 1, opset 9: needs the upgrade) -> y */
/** The tests' conv model (helpers/conv-model.ts) at opset 9 with a final Softmax: quantize() upgrades it to 13. */
const convModel = (opset = 9): onnx.ModelProto => sharedConvModel({ last: 'Softmax', opset, irVersion: 5 });

const batches = (n: number, f: (b: number, i: number) => number) => Array.from({ length: n }, (_, b) => ({ x: { data: seq(32, (i) => f(b, i)), shape: [1, 2, 4, 4] } }));

maybe('calibration data checks (quantize())', () => {
  test('all-NaN batches are refused: no tensor has a finite value, the NaN are counted', async () => {
    const e = quantize(convModel(), createCalibrator('entropy', { batches: batches(3, () => NaN) }));
    await expect(e).rejects.toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/^calibration data unusable: 3 of 3 tensors have no finite value in 3 batches \(x, r1, c2\); NaN\/infinite values: 96 in input "x" \(3 batches\) of the calibration data, 384 in 2 tensor\(s\) computed from it$/),
      }),
    );
  });

  test('values of 3e38 (finite in the data, infinite after the first layers of PP-OCR cls) are refused', async () => {
    // the case: this used to calibrate 2 of 61 tensors and exit 0
    const x = { data: new Float32Array(3 * 48 * 192).map((_, i) => (i % 2 ? 3e38 : -3e38)), shape: [1, 3, 48, 192] };
    await expect(quantize(data.CLS_MODEL, createCalibrator('minmax', { batches: [{ x }] }))).rejects.toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/^calibration data unusable: \d+ of 61 tensors have no finite value in 1 batch \(relu_0\.tmp_0, .*\); NaN\/infinite values: none in the calibration data, \d+ in \d+ tensor\(s\) computed from it$/),
      }),
    );
  });

  test('calibrate() (the implicit-INT8 cache of every tensor) refuses all-NaN data too', async () => {
    await expect(calibrate(convModel(), createCalibrator('minmax', { batches: batches(2, () => NaN) }))).rejects.toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^calibration data unusable: 6 tensor\(s\) saw only NaN\/infinite values \(x, c1, r1, c2, \.\.\.\); NaN\/infinite values: 64 in input "x" \(2 batches\)$/) }),
    );
  });

  test('a model whose opset cannot be raised to one with Q/DQ: UNSUPPORTED naming the node, the op and why', async () => {
    const m = convModel();
    m.graph!.node!.push(onnx.NodeProto.create({ name: 'up', opType: 'Upsample', input: ['y', 'scales'], output: ['z'] }));
    m.graph!.input!.push(onnx.ValueInfoProto.create({ name: 'scales', type: { tensorType: { elemType: D.FLOAT, shape: { dim: [{ dimValue: 4 }] } } } }));
    m.graph!.output = [onnx.ValueInfoProto.create({ name: 'z', type: { tensorType: { elemType: D.FLOAT } } })];
    await expect(quantize(m, createCalibrator('minmax', { batches: batches(1, (b, i) => i) }))).rejects.toThrow(
      expect.objectContaining({
        code: 'UNSUPPORTED',
        message: 'cannot quantize: the model (opset 9) cannot be upgraded to opset 13, which Q/DQ needs: Upsample node "up": nearest mode with scales that are not constant: the rounding (floor for upsampling, ceil for downsampling) cannot be chosen',
      }),
    );
  });

  test('NaN / Inf mixed into usable data: counted and reported, the rest calibrates', async () => {
    const r = await quantize(convModel(), createCalibrator('minmax', { batches: batches(3, (b, i) => (b === 1 && i < 3 ? [NaN, Infinity, -Infinity][i] : Math.sin(i + b))) }));
    expect(r.summary.nonFinite.inputs).toEqual({ x: { values: 3, batches: 1 } });
    expect(r.summary.nonFinite.tensors).toBeGreaterThan(0);
    expect(r.summary.tensorsCalibrated).toBe(3); // x, r1 and c2 (the residual Add's other input)
    // the scales are those of the finite values only: max |x| over the finite inputs
    let m = 0;
    for (let b = 0; b < 3; b++) for (let i = 0; i < 32; i++) if (!(b === 1 && i < 3)) m = Math.max(m, Math.abs(Math.sin(i + b)));
    expect(r.summary.amax.get('x')).toBeCloseTo(m, 6);
  });
});

maybe('progress of every phase, cache coverage', () => {
  test('statistics, thresholds (tensor i of n), upgrade check, accuracy search (tensor i of n, cosine), rewrite', async () => {
    const events: QuantizeProgress[] = [];
    const r = await quantize(convModel(), createCalibrator('minmax', { batches: batches(3, (b, i) => Math.sin(i * 0.7 + b)) }), {
      accuracyTarget: 0.9999999,
      onProgress: (e) => events.push({ ...e }),
    });
    const phases = events.map((e) => e.phase).filter((p, i, a) => p !== a[i - 1]);
    expect(phases).toEqual(['statistics', 'thresholds', 'verify-upgrade', 'accuracy', 'rewrite']);
    expect(events.filter((e) => e.phase === 'statistics').map((e) => e.batch)).toEqual([1, 2, 3]);
    const th = events.filter((e) => e.phase === 'thresholds');
    expect(th.map((e) => e.tensor)).toEqual(th.map((_, i) => i + 1));
    expect(th.every((e) => e.tensors === th.length)).toBe(true);
    const acc = events.filter((e) => e.phase === 'accuracy');
    expect(acc[0]).toMatchObject({ step: 'strict', cosine: r.summary.accuracy!.cosineStrict });
    const rank = acc.filter((e) => e.step === 'rank');
    expect(rank.map((e) => `${e.tensor}/${e.tensors}`)).toEqual(['1/3', '2/3', '3/3']);
    expect(rank.every((e) => typeof e.cosine === 'number' && typeof e.name === 'string')).toBe(true);
    expect(acc[acc.length - 1].cosine).toBe(r.summary.accuracy!.cosine);
    expect(r.summary.upgrade).toEqual({ from: 9, to: 13, converted: 1, verified: true, maxAbsDiff: 0 });
  });

  test('the cache written holds a scale for every float tensor of the network as given (what calibrate() covers)', async () => {
    let cache: Uint8Array | null = null;
    const mk = (): CalibratorLike => Object.assign(createCalibrator('minmax', { batches: [0, 1].map((s) => ({ x: { data: data.textLine(1000 + s), shape: [1, 3, 48, 192] } })) }), {
      readCache: () => null,
      writeCache: (c: Uint8Array) => void (cache = c),
    });
    const q = await quantize(data.CLS_MODEL, mk());
    const fromQuantize = parseCalibrationCache(cache!);
    const all = await calibrate(data.CLS_MODEL, mk());
    expect(q.summary.cacheTensors).toBe(all.scales.size);
    expect([...fromQuantize.scales.keys()].sort()).toEqual([...all.scales.keys()].sort());
    // including the Conv outputs that feed a BatchNormalization (folded away in the quantized model) and the input
    const cls = loadModel(data.CLS_MODEL);
    const convIntoBn = (cls.graph!.node ?? []).filter((n) => n.opType === 'BatchNormalization').map((n) => n.input![0]);
    expect(convIntoBn.length).toBe(35);
    for (const t of [...convIntoBn, 'x']) expect(fromQuantize.scales.has(t)).toBe(true);
    for (const [t, s] of fromQuantize.scales) expect(s).toBeCloseTo(all.scales.get(t)!, 5);
  });

  test('the documented options cacheTensors and statisticsWorkers are accepted (they were refused as unknown)', async () => {
    const cal = () => Object.assign(createCalibrator('entropy', { batches: batches(3, (b, i) => Math.sin(i * 0.7 + b)) }), { readCache: () => null, writeCache: () => undefined });
    const all = await quantize(convModel(), cal(), { cacheTensors: 'all' });
    const quantized = await quantize(convModel(), cal(), { cacheTensors: 'quantized', statisticsWorkers: 1 });
    expect(quantized.summary.cacheTensors).toBe(quantized.summary.tensorsCalibrated);
    expect(all.summary.cacheTensors).toBeGreaterThan(quantized.summary.cacheTensors);
    expect([...quantized.summary.amax]).toEqual([...all.summary.amax]);
  });
});

maybe('statistics pass on worker threads', () => {
  test('histograms built by 2 workers equal those built in-thread, bit for bit (cls, 3 batches, every tensor)', async () => {
    // the workers load the compiled module (npm test builds dist/ first): make sure they really ran
    const probe = createHistogramPool(['t'], 2048, 1);
    expect(probe).not.toBeNull();
    await probe!.terminate();
    const cls = loadModel(data.CLS_MODEL);
    const tensors = ['x', ...(cls.graph!.node ?? []).flatMap((n) => n.output ?? [])];
    const runner = await createOrtRunner(exposeTensors(cls, tensors));
    const run = (workers: number) =>
      collectStatistics(runner, createCalibrator('entropy', { batches: [0, 1, 2].map((s) => ({ x: { data: data.textLine(1000 + s), shape: [1, 3, 48, 192] } })) }), [{ name: 'x', shape: ['N', 3, 48, 192] }], tensors, { method: 'entropy', workers });
    const a = await run(0);
    const b = await run(2);
    await runner.dispose?.();
    expect(b.histograms.size).toBe(a.histograms.size);
    for (const [t, h] of a.histograms) {
      const g = b.histograms.get(t)!;
      expect([g.range, g.amax, g.total, g.nonFinite]).toEqual([h.range, h.amax, h.total, h.nonFinite]);
      expect(Buffer.from(g.counts.buffer).equals(Buffer.from(h.counts.buffer))).toBe(true);
    }
  });
});

maybe('PP-OCR rec (opset 9, 1x3x48x320): upgraded (verified bit-identical), quantized, agrees with the float model', () => {
  // entropy is not asserted: it misses 0.97 strictly on rec (0.878); docs/quantization.md compares its thresholds with
  // independent implementations of TensorRT's documented algorithm (scripts/bench/entropy-check.js; TensorRT not run)
  // measured: minmax 0.9813, percentile 0.9811 (per-sample mean over these 8 lines)
  test.each(['minmax', 'percentile'] as const)('%s strict, 16 calibration / 8 held-out lines: mean per-sample output cosine >= 0.97', async (method) => {
    const line = (seed: number) => ({ data: data.textLine(seed, 48, 320), shape: [1, 3, 48, 320] });
    const cal = createCalibrator(method, { percentile: 99.99, batches: Array.from({ length: 16 }, (_, i) => ({ x: line(1000 + i) })) });
    const { model, summary } = await quantize(REC_MODEL, cal);
    expect(summary).toMatchObject({ opsetBefore: 9, opset: 13, perChannel: true, upgrade: { from: 9, to: 13, verified: true, maxAbsDiff: 0 } });
    expect(summary.nodesQuantized).toBeGreaterThan(40);
    const sf = await ort!.InferenceSession.create(REC_MODEL);
    const sq = await ort!.InferenceSession.create(saveModel(model), { graphOptimizationLevel: 'basic' });
    let sum = 0;
    for (let i = 0; i < 8; i++) {
      const x = line(900000 + i);
      const f = { x: new ort!.Tensor('float32', x.data, x.shape) };
      const a = Object.values(await sf.run(f))[0].data;
      const b = Object.values(await sq.run(f))[0].data;
      let d = 0, na = 0, nb = 0;
      for (let j = 0; j < a.length; j++) {
        d += a[j] * b[j];
        na += a[j] * a[j];
        nb += b[j] * b[j];
      }
      sum += d / Math.sqrt(na * nb);
    }
    console.log(`rec ${method} strict: mean per-sample cosine ${(sum / 8).toFixed(4)}`);
    expect(sum / 8).toBeGreaterThanOrEqual(0.97);
  });
});

maybe('tensorrt-node quantize: exit codes', () => {
  let dir: string;
  async function cli(...argv: string[]) {
    let out = '';
    let err = '';
    const code = await runCli(argv, { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false });
    return { code, out, err };
  }
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtn-qchk-'));
    fs.mkdirSync(path.join(dir, 'nan'));
    fs.mkdirSync(path.join(dir, 'ok'));
    for (let i = 0; i < 2; i++) {
      writeNpyFile(path.join(dir, 'nan', `${i}.npy`), { dtype: 'float32', shape: [1, 3, 48, 192], data: new Float32Array(3 * 48 * 192).fill(NaN) });
      writeNpyFile(path.join(dir, 'ok', `${i}.npy`), { dtype: 'float32', shape: [1, 3, 48, 192], data: data.textLine(1000 + i) });
    }
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('all-NaN data: exit 1, one line with the reason, no output file', async () => {
    const out = path.join(dir, 'nan.onnx');
    const r = await cli('quantize', data.CLS_MODEL, '--calib', path.join(dir, 'nan'), '-o', out);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^tensorrt-node quantize: calibration data unusable: 61 of 61 tensors have no finite value in 2 batches .*NaN\/infinite values: 55296 in input "x" \(2 batches\)/);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(fs.existsSync(out)).toBe(false);
  });

  test('on a terminal, the progress bar follows the phases: statistics, accuracy search (tensor i of n, cosine), writing', async () => {
    const { PassThrough } = await import('stream');
    const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 160 });
    let drawn = '';
    tty.on('data', (d: Buffer) => (drawn += d.toString()));
    const out = path.join(dir, 'bar.onnx');
    const code = await runCli(['quantize', data.CLS_MODEL, '--calib', path.join(dir, 'ok'), '-o', out, '--method', 'minmax', '--accuracy-target', '1', '--accuracy-batches', '1', '--max-fallback-tensors', '1'], {
      out: () => undefined,
      err: () => undefined,
      isTTY: true,
      progressStream: tty,
    });
    expect(code).toBe(1); // the target is out of reach with one tensor in float
    expect(drawn).toMatch(/statistics \[[^\]]*\] 0\/2 batches/);
    expect(drawn).toMatch(/accuracy \[[^\]]*\] \d+\/\d+ tensors \| sensitivity of \S+: cosine [01]\.\d{4}/);
    expect(drawn).toMatch(/writing \[[^\]]*\] 0\/1/);
  });

  test('nothing to quantize: exit 1 with the reason', async () => {
    const r = await cli('quantize', data.CLS_MODEL, '--calib', path.join(dir, 'ok'), '-o', path.join(dir, 'none.onnx'), '--exclude-op-types', 'Conv,Gemm,MatMul');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nothing to quantize: no Conv\/ConvTranspose\/Gemm\/MatMul node/);
  });

  test('unmet --accuracy-target: exit 1, the model is still written, the message says so', async () => {
    const out = path.join(dir, 'acc.onnx');
    const r = await cli('quantize', data.CLS_MODEL, '--calib', path.join(dir, 'ok'), '-o', out, '--method', 'percentile', '--accuracy-target', '1', '--max-fallback-tensors', '0');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/accuracy\s+output cosine 0\.\d{4} \(target 1, NOT met; 2 calibration samples\)/);
    expect(r.err).toMatch(/^tensorrt-node quantize: accuracy target 1 NOT met: output cosine 0\.\d{4} with 0 tensor\(s\) kept in float; the model was still written to .*acc\.onnx\n$/);
    expect(fs.existsSync(out)).toBe(true);
    const ok = await cli('quantize', data.CLS_MODEL, '--calib', path.join(dir, 'ok'), '-o', out, '--method', 'percentile', '--accuracy-target', '0.5');
    expect(ok.code).toBe(0);
  });
});
