/**
 * @jest-environment ./test/unit/quantize.environment.js
 *
 * TensorFlow → ONNX converter, checked against @tensorflow/tfjs (cpu backend) as the oracle: each model runs
 * in TF.js and, converted, in onnxruntime-node on the same seeded inputs; every output must agree within
 * max|a−b| ≤ 1e-4 × max|ref|. Real model: nsfwjs@4.3.0 mobilenet_v2_mid (fetched with npm pack, cached).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TensorRTError } from '../../lib/errors';
import { convertGraph, convertTensorFlow, tfjsToGraph } from '../../lib/tensorflow';
import type { TfjsArtifacts } from '../../lib/tensorflow/tfjs';
import { parseLiteral, wrappedExport } from '../../lib/tensorflow/literal';
import { A, GraphBuilder } from './helpers/tf-graph';
import { seeded } from './helpers/tf-models';
import { agree, ort } from './helpers/tf-agree';
import { writeFrozenGraph, writeSavedModel } from './helpers/tf-write';
import { readBundle, writeBundle } from '../../lib/tensorflow/bundle';
import { bicubicWeights } from '../../lib/tensorflow/ops/array';

const itOrt = ort ? it : it.skip;
if (!ort) console.log('TensorFlow agreement tests skipped: onnxruntime-node (optional dependency) is not installed');

/** A small CNN with the image-classification op set; weights optionally float16/uint8-quantized. */
function cnn(quant?: 'float16' | 'uint8'): TfjsArtifacts {
  const g = new GraphBuilder();
  const x = g.input('x', [1, 17, 19, 3]);
  const nhwc = { data_format: A.s('NHWC'), T: A.type('DT_FLOAT') };
  const w1 = g.const('w1', seeded(3 * 3 * 3 * 8, 11, -0.5, 0.5), [3, 3, 3, 8], quant);
  const b1 = g.const('b1', seeded(8, 12, -0.1, 0.1), [8], quant);
  const c1 = g.op('conv1', '_FusedConv2D', [x, w1, b1], { ...nhwc, strides: A.ints([1, 2, 2, 1]), padding: A.s('SAME'), dilations: A.ints([1, 1, 1, 1]), fused_ops: A.strs(['BiasAdd', 'Relu6']), num_args: A.i(1) });
  const dw = g.const('dw', seeded(3 * 3 * 8 * 2, 13, -0.5, 0.5), [3, 3, 8, 2], quant);
  const db = g.const('db', seeded(16, 14, -0.1, 0.1), [16], quant);
  const d1 = g.op('dw1', 'FusedDepthwiseConv2dNative', [c1, dw, db], { ...nhwc, strides: A.ints([1, 1, 1, 1]), padding: A.s('VALID'), dilations: A.ints([1, 1, 1, 1]), fused_ops: A.strs(['BiasAdd', 'Relu']), num_args: A.i(1) });
  const w2 = g.const('w2', seeded(16 * 16, 15, -0.3, 0.3), [1, 1, 16, 16], quant);
  const c2 = g.op('conv2', 'Conv2D', [d1, w2], { ...nhwc, strides: A.ints([1, 1, 1, 1]), padding: A.s('SAME'), dilations: A.ints([1, 1, 1, 1]) });
  const res = g.op('res', 'AddV2', [c2, d1], { T: A.type('DT_FLOAT') });
  const sc = g.const('bn_scale', seeded(16, 16, 0.5, 1.5), [16]);
  const of = g.const('bn_offset', seeded(16, 17, -0.2, 0.2), [16]);
  const mu = g.const('bn_mean', seeded(16, 18, -0.2, 0.2), [16]);
  const va = g.const('bn_var', seeded(16, 19, 0.5, 1.5), [16]);
  const bn = g.op('bn', 'FusedBatchNormV3', [res, sc, of, mu, va], { ...nhwc, epsilon: A.f(0.001), is_training: A.b(false) });
  const el = g.op('elu', 'Elu', [bn], { T: A.type('DT_FLOAT') });
  const mp = g.op('pool', 'MaxPool', [el], { ...nhwc, ksize: A.ints([1, 2, 2, 1]), strides: A.ints([1, 2, 2, 1]), padding: A.s('SAME') });
  const ap = g.op('avg', 'AvgPool', [mp], { ...nhwc, ksize: A.ints([1, 3, 3, 1]), strides: A.ints([1, 1, 1, 1]), padding: A.s('SAME') });
  const mean = g.op('gap', 'Mean', [ap, g.ints('axes', [1, 2])], { keep_dims: A.b(false), Tidx: A.type('DT_INT32') });
  const fw = g.const('fc_w', seeded(16 * 5, 20, -0.5, 0.5), [16, 5], quant);
  const fb = g.const('fc_b', seeded(5, 21, -0.1, 0.1), [5], quant);
  const fc = g.op('fc', '_FusedMatMul', [mean, fw, fb], { transpose_a: A.b(false), transpose_b: A.b(false), fused_ops: A.strs(['BiasAdd']), num_args: A.i(1), T: A.type('DT_FLOAT') });
  g.op('probs', 'Softmax', [fc], { T: A.type('DT_FLOAT') });
  g.op('sig', 'Sigmoid', [el], { T: A.type('DT_FLOAT') });
  return g.artifacts();
}

describe('TF.js graph models → ONNX agree with TF.js', () => {
  itOrt('image-classification op set (float32, float16 and uint8 weights)', async () => {
    for (const q of [undefined, 'float16', 'uint8'] as const) {
      const r = await agree(cnn(q), { x: { data: seeded(17 * 19 * 3, 1, -1, 1), shape: [1, 17, 19, 3] } }, ['probs', 'sig', 'fc']);
      expect(r.worst).toBeLessThanOrEqual(1e-4);
    }
  });

  itOrt('shape and indexing ops: StridedSlice masks, Pad, Concat, Split, Pack/Unpack, Tile, Gather, Resize, ArgMax', async () => {
    const g = new GraphBuilder();
    const x = g.input('x', [2, 6, 8, 4]);
    const T = { T: A.type('DT_FLOAT') };
    const ss = (name: string, b: number[], e: number[], s: number[], masks: Record<string, number>) =>
      g.op(name, 'StridedSlice', [x, g.ints(`${name}_b`, b), g.ints(`${name}_e`, e), g.ints(`${name}_s`, s)], {
        ...T, Index: A.type('DT_INT32'), begin_mask: A.i(masks.begin ?? 0), end_mask: A.i(masks.end ?? 0), ellipsis_mask: A.i(masks.ellipsis ?? 0), new_axis_mask: A.i(masks.newAxis ?? 0), shrink_axis_mask: A.i(masks.shrink ?? 0),
      });
    const outs = [
      ss('ss_basic', [0, 1, 2, 0], [2, 5, 8, 3], [1, 2, 3, 1], {}),
      ss('ss_masks', [1, -1, 0, 0], [0, 0, 0, 0], [1, -1, 1, 2], { begin: 0b1100, end: 0b1111 }),
      ss('ss_ellipsis_shrink', [0, 1], [0, 2], [1, 1], { ellipsis: 0b01, shrink: 0b10 }),
      ss('ss_newaxis', [0, 0, 3], [0, 0, 5], [1, 1, 1], { newAxis: 0b001, ellipsis: 0b010 }),
      ss('ss_shrink_neg', [-1, 0], [0, 0], [1, 1], { shrink: 0b01, end: 0b10, begin: 0b10 }),
      g.op('pad', 'Pad', [x, g.const('pads', Int32Array.from([0, 0, 1, 2, 3, 0, 0, 1]), [4, 2])], T),
      g.op('mpad', 'MirrorPad', [x, g.const('mpads', Int32Array.from([0, 0, 2, 1, 1, 2, 0, 0]), [4, 2])], { ...T, mode: A.s('REFLECT') }),
      g.op('concat', 'ConcatV2', [x, x, g.ints('cax', [-1])], { ...T, N: A.i(2) }),
      g.op('reshape', 'Reshape', [x, g.ints('rs', [2, -1, 4])], T),
      g.op('transpose', 'Transpose', [x, g.ints('perm', [0, 3, 1, 2])], T),
      g.op('expand', 'ExpandDims', [x, g.ints('ea', [-2])], T),
      g.op('split', 'Split', [g.ints('sa', [2]), x], { ...T, num_split: A.i(2) }),
      g.op('splitv', 'SplitV', [x, g.ints('sv', [1, -1, 2]), g.ints('sva', [1])], { ...T, num_split: A.i(3) }),
      g.op('pack', 'Pack', [x, x], { ...T, axis: A.i(1), N: A.i(2) }),
      g.op('unpack', 'Unpack', [x], { ...T, axis: A.i(0), num: A.i(2) }),
      g.op('tile', 'Tile', [x, g.ints('mult', [1, 2, 1, 3])], T),
      g.op('gather', 'GatherV2', [x, g.ints('gi', [3, 0, 5]), g.ints('gax', [1])], { ...T, batch_dims: A.i(0) }),
      g.op('bilinear', 'ResizeBilinear', [x, g.ints('rsz', [9, 13])], { ...T, align_corners: A.b(false), half_pixel_centers: A.b(true) }),
      g.op('bilinear_ac', 'ResizeBilinear', [x, g.ints('rsz2', [11, 5])], { ...T, align_corners: A.b(true), half_pixel_centers: A.b(false) }),
      g.op('nearest', 'ResizeNearestNeighbor', [x, g.ints('rsz3', [12, 16])], { ...T, align_corners: A.b(false), half_pixel_centers: A.b(false) }),
      g.op('argmax', 'ArgMax', [x, g.ints('amx', [3])], { ...T, output_type: A.type('DT_INT32') }),
      g.op('sum', 'Sum', [x, g.ints('sax', [-1, 1])], { ...T, keep_dims: A.b(true) }),
      g.op('sqd', 'SquaredDifference', [x, g.const('sqc', seeded(4, 5), [4])], T),
      g.op('lrelu', 'LeakyRelu', [x], { ...T, alpha: A.f(0.1) }),
      g.op('rsqrt', 'Rsqrt', [g.op('absx', 'Abs', [x], T)], T),
    ];
    const r = await agree(g.artifacts(), { x: { data: seeded(2 * 6 * 8 * 4, 3, -1, 1), shape: [2, 6, 8, 4] } }, [...outs.filter((o) => !['split', 'splitv', 'unpack'].includes(o)), 'split', 'split:1', 'splitv:1', 'splitv:2', 'unpack:1']);
    expect(r.worst).toBeLessThanOrEqual(1e-4);
  });
});

describe('detection ops agree with TF.js', () => {
  itOrt('NonMaxSuppressionV3/V4/V5, TopKV2, Where, Range, Conv2DBackpropInput, DepthToSpace, SpaceToBatchND/BatchToSpaceND', async () => {
    const g = new GraphBuilder();
    const N = 40;
    const boxes = g.input('boxes', [N, 4]);
    const scores = g.input('scores', [N]);
    const x = g.input('x', [1, 4, 4, 8]);
    const T = { T: A.type('DT_FLOAT') };
    const maxOut = g.const('max_out', Int32Array.of(7), []);
    const iou = g.const('iou', Float32Array.of(0.3), []);
    const thr = g.const('thr', Float32Array.of(0.2), []);
    const sigma = g.const('sigma', Float32Array.of(0), []);
    g.op('nms3', 'NonMaxSuppressionV3', [boxes, scores, maxOut, iou, thr], T);
    g.op('nms4', 'NonMaxSuppressionV4', [boxes, scores, maxOut, iou, thr], { ...T, pad_to_max_output_size: A.b(true) });
    g.op('nms5', 'NonMaxSuppressionV5', [boxes, scores, maxOut, iou, thr, sigma], { ...T, pad_to_max_output_size: A.b(false) });
    g.op('topk', 'TopKV2', [g.op('sq', 'Reshape', [scores, g.ints('r', [4, 10])], T), g.const('k', Int32Array.of(3), [])], { ...T, sorted: A.b(true) });
    g.op('where', 'Where', [g.op('gt', 'Greater', [scores, g.const('half', Float32Array.of(0.5), [])], T)], { T: A.type('DT_BOOL') });
    g.op('range', 'Range', [g.const('r0', Int32Array.of(2), []), g.const('r1', Int32Array.of(17), []), g.const('r2', Int32Array.of(4), [])], { Tidx: A.type('DT_INT32') });
    const f = g.const('deconv_w', seeded(3 * 3 * 5 * 8, 31, -0.5, 0.5), [3, 3, 5, 8]);
    g.op('deconv', 'Conv2DBackpropInput', [g.ints('in_sizes', [1, 8, 8, 5]), f, x], { ...T, strides: A.ints([1, 2, 2, 1]), padding: A.s('SAME'), data_format: A.s('NHWC'), dilations: A.ints([1, 1, 1, 1]) });
    g.op('d2s', 'DepthToSpace', [x], { ...T, block_size: A.i(2), data_format: A.s('NHWC') });
    // SpaceToDepth: TF.js has no kernel for it, so no oracle here.
    // Dilated convolution as TF1 graphs spell it: SpaceToBatchND → Conv2D (VALID) → BatchToSpaceND.
    const s2b = g.op('s2b', 'SpaceToBatchND', [x, g.ints('blk', [2, 2]), g.const('s2b_pad', Int32Array.from([2, 2, 2, 2]), [2, 2])], T);
    const dconv = g.op('dconv', 'Conv2D', [s2b, g.const('dil_w', seeded(3 * 3 * 8 * 4, 47, -0.5, 0.5), [3, 3, 8, 4])], { ...T, strides: A.ints([1, 1, 1, 1]), padding: A.s('VALID'), data_format: A.s('NHWC'), dilations: A.ints([1, 1, 1, 1]) });
    g.op('b2s', 'BatchToSpaceND', [dconv, g.ints('blk2', [2, 2]), g.const('b2s_crop', Int32Array.from([0, 0, 0, 0]), [2, 2])], T);
    const y1 = seeded(N, 41, 0, 0.8), x1 = seeded(N, 42, 0, 0.8), hh = seeded(N, 43, 0.05, 0.3), ww = seeded(N, 44, 0.05, 0.3);
    const bx = new Float32Array(N * 4);
    for (let i = 0; i < N; i++) bx.set([y1[i]!, x1[i]!, y1[i]! + hh[i]!, x1[i]! + ww[i]!], 4 * i);
    const r = await agree(g.artifacts(), {
      boxes: { data: bx, shape: [N, 4] }, scores: { data: seeded(N, 45), shape: [N] }, x: { data: seeded(128, 46, -1, 1), shape: [1, 4, 4, 8] },
    // nms5:2 (valid_outputs) has no oracle: TF.js's NonMaxSuppressionV5 returns only indices and scores.
    }, ['nms3', 'nms4', 'nms4:1', 'nms5', 'nms5:1', 'topk', 'topk:1', 'where', 'range', 'deconv', 'd2s', 's2b', 'b2s']);
    expect(r.worst).toBeLessThanOrEqual(1e-4);
  });
});

describe('frozen GraphDef and SavedModel (written from the same weights) agree with TF.js', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-pb-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const feeds = { x: { data: seeded(17 * 19 * 3, 2, -1, 1), shape: [1, 17, 19, 3] } };

  itOrt('frozen .pb (weights in Const nodes)', async () => {
    const a = cnn('uint8');
    writeFrozenGraph(a, path.join(dir, 'frozen.pb'));
    const res = convertTensorFlow(path.join(dir, 'frozen.pb'), { outputs: ['probs', 'sig'] });
    expect(res.report.format).toBe('frozen-graphdef');
    const r = await agree(a, feeds, undefined, res);
    expect(r.worst).toBeLessThanOrEqual(1e-4);
  });

  itOrt('SavedModel (serving_default signature, variables/ bundle)', async () => {
    const a = cnn();
    writeSavedModel(a, dir, { images: 'x:0' }, { probabilities: 'probs:0', gates: 'sig:0' });
    const res = convertTensorFlow(dir);
    expect(res.report.format).toBe('saved-model');
    expect(res.report.ops.VariableV2 ?? 0).toBe(0);
    expect(res.report.inputs.map((i) => i.name)).toEqual(['x']);
    expect(res.report.outputs.map((o) => o.name)).toEqual(['sig', 'probs']);
    const r = await agree(a, feeds, undefined, res);
    expect(r.worst).toBeLessThanOrEqual(1e-4);
    expect(() => convertTensorFlow(dir, { signature: 'nope' })).toThrow(/no signature "nope" \(have: serving_default\)/);
  });

  it('tensor bundle round trip', () => {
    const t = new Map([['a/kernel', { dtype: 'float32' as const, shape: [2, 3], data: seeded(6, 1) }], ['b', { dtype: 'int32' as const, shape: [2], data: Int32Array.of(7, -8) }]]);
    writeBundle(path.join(dir, 'v'), t);
    const back = readBundle(path.join(dir, 'v'));
    expect([...back.keys()].sort()).toEqual(['a/kernel', 'b']);
    expect(Array.from(back.get('a/kernel')!.data as Float32Array)).toEqual(Array.from(t.get('a/kernel')!.data));
    expect(Array.from(back.get('b')!.data as Int32Array)).toEqual([7, -8]);
  });
});

describe('unsupported ops and bad input', () => {
  it('lists every unsupported op with its count and one node name, before building anything', () => {
    const g = new GraphBuilder();
    const x = g.input('x', [1, 4]);
    const a = g.op('f1', 'FancyOp', [x]);
    const b = g.op('f2', 'FancyOp', [a]);
    g.op('o', 'Weird', [b]);
    let err: unknown;
    try {
      convertGraph(tfjsToGraph(g.artifacts()));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TensorRTError);
    expect((err as TensorRTError).code).toBe('UNSUPPORTED_OP');
    expect((err as Error).message).toMatch(/FancyOp ×2 \(e\.g\. f1\)/);
    expect((err as Error).message).toMatch(/Weird ×1 \(e\.g\. o\)/);
  });

  it('ResizeBicubic of an input of unknown height/width is refused with UNSUPPORTED_OP naming node and op', () => {
    const g = new GraphBuilder();
    const x = g.input('x', [1, -1, -1, 3]);
    g.op('bic', 'ResizeBicubic', [x, g.ints('sz', [7, 9])], { T: A.type('DT_FLOAT'), align_corners: A.b(false), half_pixel_centers: A.b(true) });
    expect(() => convertGraph(tfjsToGraph(g.artifacts()))).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_OP', message: expect.stringMatching(/^bic: ResizeBicubic .*height and width are not known/) }));
    const g2 = new GraphBuilder();
    const x2 = g2.input('x', [1, 6, 5, 3]);
    const sz = g2.input('sz', [2], 'DT_INT32');
    g2.op('bic2', 'ResizeBicubic', [x2, sz], { T: A.type('DT_FLOAT'), align_corners: A.b(false), half_pixel_centers: A.b(true) });
    expect(() => convertGraph(tfjsToGraph(g2.artifacts()))).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_OP', message: expect.stringMatching(/^bic2: ResizeBicubic needs a constant size/) }));
  });

  it('ResizeBicubic with static sizes becomes two constant interpolation matrices (MatMul), rows summing to 1', () => {
    const g = new GraphBuilder();
    const x = g.input('x', [1, 6, 5, 3]);
    g.op('bic', 'ResizeBicubic', [x, g.ints('sz', [7, 9])], { T: A.type('DT_FLOAT'), align_corners: A.b(true), half_pixel_centers: A.b(false) });
    const { model } = convertGraph(tfjsToGraph(g.artifacts()));
    expect(model.graph!.node!.filter((n) => n.opType === 'MatMul')).toHaveLength(2);
    expect(model.graph!.node!.some((n) => n.opType === 'Resize')).toBe(false);
    for (const [inS, outS, ac, hp] of [[6, 7, true, false], [5, 9, false, false], [9, 3, false, true], [4, 11, false, true]] as const) {
      const m = bicubicWeights(inS, outS, ac, hp);
      for (let o = 0; o < outS; o++) expect(Math.abs(m.slice(o * inS, (o + 1) * inS).reduce((a, v) => a + v, 0) - 1)).toBeLessThan(1e-6);
    }
    // align_corners: the first and last output rows are the first and last input rows exactly
    const ac = bicubicWeights(6, 7, true, false);
    expect(Array.from(ac.slice(0, 6))).toEqual([1, 0, 0, 0, 0, 0]);
    expect(Array.from(ac.slice(36, 42))).toEqual([0, 0, 0, 0, 0, 1]);
  });

  it('BitwiseAnd/Or/Xor/Invert need opset 18: refused below it naming the opset, ONNX Bitwise* at 18', () => {
    const g = new GraphBuilder();
    const a = g.input('a', [4], 'DT_INT32');
    const b = g.input('b', [4], 'DT_INT32');
    g.op('band', 'BitwiseAnd', [a, b], { T: A.type('DT_INT32') });
    g.op('inv', 'Invert', ['band'], { T: A.type('DT_INT32') });
    expect(() => convertGraph(tfjsToGraph(g.artifacts()))).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_OP', message: expect.stringMatching(/^band: BitwiseAnd needs ONNX BitwiseAnd, which exists from opset 18 \(this conversion targets opset 13/) }));
    const { model } = convertGraph(tfjsToGraph(g.artifacts()), { opset: 18 });
    expect(model.graph!.node!.map((n) => n.opType)).toEqual(expect.arrayContaining(['BitwiseAnd', 'BitwiseNot']));
  });

  it('a missing or non-TF file is a TensorRTError', () => {
    expect(() => convertTensorFlow('/nonexistent/model.json')).toThrow(expect.objectContaining({ code: 'IO_ERROR' }));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-'));
    fs.writeFileSync(path.join(dir, 'model.json'), '{"format":"graph-model"}');
    expect(() => convertTensorFlow(path.join(dir, 'model.json'))).toThrow(expect.objectContaining({ code: 'PARSE_ERROR' }));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('corrupt or incomplete files: PARSE_ERROR / IO_ERROR, never a crash', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-bad-'));
    try {
      fs.writeFileSync(path.join(dir, 'frozen.pb'), Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]));
      expect(() => convertTensorFlow(path.join(dir, 'frozen.pb'))).toThrow(expect.objectContaining({ code: 'PARSE_ERROR' }));
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [{ paths: ['missing.bin'], weights: [] }] }));
      expect(() => convertTensorFlow(path.join(dir, 'model.json'))).toThrow(expect.objectContaining({ code: 'IO_ERROR' }));
      fs.writeFileSync(path.join(dir, 'm2.json'), '{"format": "graph-model", "modelTopology": {');
      expect(() => convertTensorFlow(path.join(dir, 'm2.json'))).toThrow(expect.objectContaining({ code: 'PARSE_ERROR' }));
      fs.mkdirSync(path.join(dir, 'sm'));
      fs.writeFileSync(path.join(dir, 'sm', 'saved_model.pb'), Buffer.from('not a protobuf at all'));
      expect(() => convertTensorFlow(path.join(dir, 'sm'))).toThrow(expect.objectContaining({ name: 'TensorRTError' }));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads JS-wrapped literals without executing them', () => {
    expect(parseLiteral('{a:!0,b:!1,"c":[.5,-1e-3,"x\\"y"],d:null}', 't')).toEqual({ a: true, b: false, c: [0.5, -0.001, 'x"y'], d: null });
    const src = '!function(t){module.exports=t()}(function(){return {1:[function(t,e,a){e.exports="QUJD"},{}]}});';
    expect(wrappedExport(src, 'shard')).toBe('QUJD');
    expect(() => wrappedExport('alert(1)', 'x')).toThrow(expect.objectContaining({ code: 'PARSE_ERROR' }));
  });
});

