/**
 * @jest-environment ./test/unit/quantize.environment.js
 */
/**
 * Issue 11: opset upgrade (every op whose meaning changes between the model's opset and 13 is converted; the
 * float model before and after runs in onnxruntime-node on the same inputs and must agree: the oracle is
 * onnxruntime's own implementation of each opset's op), shape inference, and the real PP-OCR rec model (opset 9,
 * refused before).
 */
import { onnx, makeTensor, saveModel, loadModel } from '../../lib/onnx';
import { cloneModel, opsetOf } from '../../lib/onnx/graph';
import { upgradeOpset } from '../../lib/onnx/upgrade';
import { inferShapes } from '../../lib/onnx/shapes';
import * as path from 'path';

const REC_MODEL = path.join(path.dirname((require('../../scripts/bench/ocr-data.js') as { CLS_MODEL: string }).CLS_MODEL), 'ch_PP-OCRv4_rec_infer.onnx');

type Ort = {
  Tensor: new (t: string, d: Float32Array, dims: number[]) => unknown;
  InferenceSession: { create(b: Uint8Array | string, o?: Record<string, unknown>): Promise<{ outputNames: string[]; run(f: Record<string, unknown>): Promise<Record<string, { data: ArrayLike<number | bigint>; dims: number[] }>> }> };
};
let ort: Ort | null = null;
try {
  ort = require('onnxruntime-node') as Ort;
} catch {
  console.log('opset upgrade equivalence tests skipped: onnxruntime-node (optional dependency) is not installed');
}
const maybe = ort ? describe : describe.skip;

const D = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;
const ints = (name: string, v: number[]) => onnx.AttributeProto.create({ name, type: AT.INTS, ints: v });
const int = (name: string, v: number) => onnx.AttributeProto.create({ name, type: AT.INT, i: v });
const flt = (name: string, v: number) => onnx.AttributeProto.create({ name, type: AT.FLOAT, f: v });
const floats = (name: string, v: number[]) => onnx.AttributeProto.create({ name, type: AT.FLOATS, floats: v });
const str = (name: string, v: string) => onnx.AttributeProto.create({ name, type: AT.STRING, s: Buffer.from(v) });
const node = (opType: string, input: string[], output: string[], attribute: onnx.AttributeProto[] = []) => onnx.NodeProto.create({ name: `${opType}_${output[0]}`, opType, input, output, attribute });

function vi(name: string, dims: (number | string)[] | null, elem: number = D.FLOAT): onnx.ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: elem, ...(dims ? { shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } : {}) } },
  });
}

function model(opset: number, nodes: onnx.NodeProto[], outputs: onnx.ValueInfoProto[], inits: onnx.TensorProto[] = [], xDims: (number | string)[] = [2, 3, 4, 5]) {
  const g = onnx.GraphProto.create({ name: 'g', node: nodes, initializer: inits, input: [vi('x', xDims)], output: outputs });
  return onnx.ModelProto.create({ irVersion: opset >= 11 ? 6 : 5, opsetImport: [{ domain: '', version: opset }], graph: g });
}

const X = Float32Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => Math.sin(i * 1.7) * 3 + (i % 7) * 0.25 - 1);

async function run(m: onnx.IModelProto, x: Float32Array, dims: number[]) {
  const s = await ort!.InferenceSession.create(saveModel(m), { graphOptimizationLevel: 'disabled' });
  const out = await s.run({ x: new ort!.Tensor('float32', x, dims) });
  return s.outputNames.map((n) => Array.from(out[n].data, (v) => Number(v)));
}

/** Upgrades a copy to `target`, runs both in onnxruntime and expects bit-identical outputs. */
async function expectEquivalent(m: onnx.ModelProto, target = 13, x = X, dims = [2, 3, 4, 5]) {
  const up = cloneModel(m);
  const r = upgradeOpset(up, target);
  expect(r).toMatchObject({ ok: true, to: target });
  expect(opsetOf(up)).toBe(target);
  const a = await run(m, x, dims);
  const b = await run(up, x, dims);
  expect(b).toEqual(a);
  return { up, r };
}

maybe('opset upgrade keeps what the model computes (onnxruntime before vs after, bit-identical)', () => {
  const y = [vi('y', null)];
  const cases: [string, () => onnx.ModelProto, number?][] = [
    ['Clip 9 (min/max attributes -> inputs)', () => model(9, [node('Clip', ['x'], ['y'], [flt('min', -0.5), flt('max', 1.5)])], y)],
    ['Clip 9 with max only', () => model(9, [node('Clip', ['x'], ['y'], [flt('max', 0.7)])], y)],
    ['Slice 9 (starts/ends/axes -> inputs, negative ends)', () => model(9, [node('Slice', ['x'], ['y'], [ints('starts', [1, 0]), ints('ends', [3, -1]), ints('axes', [2, 3])])], y)],
    ['Pad 9 (pads/value -> inputs)', () => model(9, [node('Pad', ['x'], ['y'], [ints('pads', [0, 0, 1, 2, 0, 0, 2, 1]), flt('value', 0.25)])], y)],
    ['Softmax 9, axis 1 of a rank-4 input (old 2-D coercion: Flatten/Reshape)', () => model(9, [node('Softmax', ['x'], ['y'], [int('axis', 1)])], y)],
    ['Softmax 9, default axis (1) of a rank-4 input', () => model(9, [node('Softmax', ['x'], ['y'])], y)],
    ['Softmax 9, axis 3 = last axis of a rank-4 input (kept)', () => model(9, [node('Softmax', ['x'], ['y'], [int('axis', 3)])], y)],
    ['LogSoftmax 9, axis 2', () => model(9, [node('LogSoftmax', ['x'], ['y'], [int('axis', 2)])], y)],
    ['Hardmax 9, axis 1', () => model(9, [node('Hardmax', ['x'], ['y'], [int('axis', 1)])], y)],
    ['Softmax 11 after a Reshape whose rank comes from shape inference', () => model(11, [node('Reshape', ['x', 'shape'], ['r']), node('Softmax', ['r'], ['y'], [int('axis', 1)])], y, [makeTensor('shape', D.INT64, [3], BigInt64Array.of(2n, 12n, 5n))])],
    ['Squeeze/Unsqueeze 11 (axes -> inputs)', () => model(11, [node('Unsqueeze', ['x'], ['u'], [ints('axes', [0, 3])]), node('Squeeze', ['u'], ['y'], [ints('axes', [0])])], y)],
    ['ReduceSum 11 (axes -> input, keepdims 0)', () => model(11, [node('ReduceSum', ['x'], ['y'], [ints('axes', [1, -1]), int('keepdims', 0)])], y)],
    ['Split 11 (split -> input)', () => model(11, [node('Split', ['x'], ['y', 'z'], [int('axis', 3), ints('split', [2, 3])])], [vi('y', null), vi('z', null)])],
    ['TopK 9 (k -> input)', () => model(9, [node('TopK', ['x'], ['y', 'i'], [int('k', 3), int('axis', 2)])], [vi('y', null), vi('i', null, D.INT64)])],
    ['Upsample 9 nearest -> Resize', () => model(9, [node('Upsample', ['x', 's'], ['y'], [str('mode', 'nearest')])], y, [makeTensor('s', D.FLOAT, [4], Float32Array.of(1, 1, 2, 3))])],
    ['Upsample 9 linear -> Resize', () => model(9, [node('Upsample', ['x', 's'], ['y'], [str('mode', 'linear')])], y, [makeTensor('s', D.FLOAT, [4], Float32Array.of(1, 1, 2, 2))])],
    ['Upsample 7 (scales attribute) -> Resize', () => model(7, [node('Upsample', ['x'], ['y'], [str('mode', 'nearest'), floats('scales', [1, 1, 3, 2])])], y)],
    ['Resize 10 nearest -> Resize 11 (asymmetric, floor)', () => model(10, [node('Resize', ['x', 's'], ['y'], [str('mode', 'nearest')])], y, [makeTensor('s', D.FLOAT, [4], Float32Array.of(1, 1, 2, 1.5))])],
    ['Dropout 9 -> Identity', () => model(9, [node('Dropout', ['x'], ['y'], [flt('ratio', 0.3)])], y)],
    ['BatchNormalization 7 (spatial dropped)', () => model(7, [node('BatchNormalization', ['x', 's', 'b', 'm', 'v'], ['y'], [int('spatial', 1), flt('epsilon', 1e-3)])], y, ['s', 'b', 'm', 'v'].map((n, k) => makeTensor(n, D.FLOAT, [3], Float32Array.of(0.5 + k, 1 - k * 0.3, k * 0.1 + 1))))],
  ];
  test.each(cases)('%s', async (_name, make) => {
    await expectEquivalent(make());
  });

  test('per-tensor target: 9 -> 10 converts only what changed by 10 (Slice), Softmax stays', async () => {
    const { up, r } = await expectEquivalent(model(9, [node('Slice', ['x'], ['s'], [ints('starts', [1]), ints('ends', [3]), ints('axes', [1])]), node('Softmax', ['s'], ['y'], [int('axis', 1)])], [vi('y', null)]), 10);
    expect(r.converted).toBe(1);
    expect((up.graph!.node ?? []).map((n) => n.opType)).toEqual(['Slice', 'Softmax']);
  });

  test('impossible conversions name the node, the op and why; the model is left untouched', () => {
    const bn = model(7, [node('BatchNormalization', ['x', 's', 'b', 'm', 'v'], ['y'], [int('spatial', 0)])], [vi('y', null)]);
    const before = saveModel(bn);
    const r = upgradeOpset(bn, 13);
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/BatchNormalization node "BatchNormalization_y": spatial=0/);
    expect(saveModel(bn)).toEqual(before);
    const scan = model(8, [node('Scan', ['x'], ['y'])], [vi('y', null)]);
    expect(upgradeOpset(scan, 13).reason).toMatch(/Scan node "Scan_y": Scan changed between opset 8 and 13 in a way this converter does not rewrite/);
    const up = model(9, [node('Upsample', ['x', 'scales'], ['y'])], [vi('y', null)]);
    up.graph!.input!.push(vi('scales', [4]));
    expect(upgradeOpset(up, 13).reason).toMatch(/Upsample node "Upsample_y": nearest mode with scales that are not constant/);
  });
});

describe('shape inference', () => {
  test('static dims through Conv/Reshape/Transpose/MatMul, symbolic ones carried, the rank always', () => {
    const m = model(
      9,
      [
        node('Conv', ['x', 'w'], ['c'], [ints('pads', [1, 1, 1, 1]), ints('strides', [2, 2])]),
        node('Shape', ['c'], ['cs']),
        node('Slice', ['cs'], ['cs01'], [ints('starts', [0]), ints('ends', [2])]),
        node('Concat', ['cs01', 'minus1'], ['tshape'], [int('axis', 0)]),
        node('Reshape', ['c', 'tshape'], ['r']),
        node('Transpose', ['r'], ['t'], [ints('perm', [0, 2, 1])]),
        node('MatMul', ['t', 'k'], ['mm']),
        node('Softmax', ['mm'], ['y'], [int('axis', 2)]),
      ],
      [vi('y', null)],
      [makeTensor('w', D.FLOAT, [8, 3, 3, 3], new Float32Array(216)), makeTensor('minus1', D.INT64, [1], BigInt64Array.of(-1n)), makeTensor('k', D.FLOAT, [8, 6], new Float32Array(48))],
      ['N', 3, 48, 320],
    );
    const s = inferShapes(m).shapes;
    expect(s.get('c')).toEqual(['N', 8, 24, 160]);
    expect(s.get('r')).toEqual(['N', 8, 3840]);
    expect(s.get('t')).toEqual(['N', 3840, 8]);
    expect(s.get('mm')).toEqual(['N', 3840, 6]);
    expect(s.get('y')).toEqual(['N', 3840, 6]);
  });

  test('PP-OCR rec (opset 9): the Softmax inputs whose rank the issue found unknown', () => {
    const rec = loadModel(REC_MODEL);
    const s = inferShapes(rec).shapes;
    const softmax = (rec.graph!.node ?? []).filter((n) => n.opType === 'Softmax');
    expect(softmax.map((n) => s.get(n.input![0])?.length)).toEqual([4, 4, 3]);
    expect(s.get('softmax_11.tmp_0')).toEqual(['p2o.DynamicDimension.0', expect.any(String), 6625]);
  });
});
