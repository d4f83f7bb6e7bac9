/**
 * @jest-environment ./test/unit/quantize.environment.js
 */
/** lib/onnx: load/save/modelInfo on the real PP-OCR models, errors, opset upgrade and BatchNorm folding. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadModel, saveModel, modelInfo, onnx, tensorToFloat32, makeTensor } from '../../lib/onnx';
import { cloneModel, foldBatchNormalization, declaredRanks, opsetOf } from '../../lib/onnx/graph';
import { upgradeToOpset13 } from '../../lib/onnx/upgrade';
import { TensorRTError } from '../../lib/errors';

const ASSETS = path.join(__dirname, '..', '..', 'node_modules', '@gutenye', 'ocr-models', 'assets');
const CLS = path.join(ASSETS, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const DET = path.join(ASSETS, 'ch_PP-OCRv4_det_infer.onnx');

const ort = require('onnxruntime-node') as {
  Tensor: new (t: string, d: Float32Array, dims: number[]) => unknown;
  InferenceSession: { create(b: Uint8Array): Promise<{ run(f: Record<string, unknown>): Promise<Record<string, { data: Float32Array; dims: number[] }>> }> };
};

describe('loadModel / modelInfo', () => {
  test('PP-OCR cls: inputs, outputs, opset, op histogram, parameters', () => {
    const m = loadModel(CLS);
    const info = modelInfo(m);
    expect(info.inputs).toEqual([{ name: 'x', dtype: 'float32', shape: ['p2o.DynamicDimension.0', 3, 'p2o.DynamicDimension.1', 'p2o.DynamicDimension.2'] }]);
    expect(info.outputs).toEqual([{ name: 'softmax_0.tmp_0', dtype: 'float32', shape: ['p2o.DynamicDimension.3', 2] }]);
    expect(info.opset).toBe(9);
    expect(info.opsetImports).toEqual([{ domain: '', version: 9 }]);
    expect(info.opTypeHistogram.Conv).toBe(53);
    expect(info.opTypeHistogram.BatchNormalization).toBe(35);
    expect(info.nodeCount).toBe(471);
    expect(info.irVersion).toBe(8);
    // weights live in Constant nodes in this paddle2onnx export (no initializers): 133,665 elements, as the `onnx`
    // Python package counts them (sum of numpy.prod(dims) over the Constant nodes' `value` tensors)
    expect(info.parameterCount).toBe(133665);
    expect(info.parameterCount * 4).toBeLessThan(fs.statSync(CLS).size);
  });

  test('PP-OCR det: opset 11, 62 Conv, 2 ConvTranspose', () => {
    const info = modelInfo(loadModel(fs.readFileSync(DET)));
    expect(info.opset).toBe(11);
    expect(info.opTypeHistogram.Conv).toBe(62);
    expect(info.opTypeHistogram.ConvTranspose).toBe(2);
    expect(info.outputs[0].name).toBe('sigmoid_0.tmp_0');
  });

  test('If branches: their initializers, Constant nodes and nodes are counted (issue 25.10)', async () => {
    const F = onnx.TensorProto.DataType.FLOAT;
    const vi = (name: string, dims: number[], elemType = F) => onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
    // then: y = x + W (W: 2x3 initializer of the branch); else: y = x * C (C: a Constant node of 2x3 in the branch)
    const thenG = onnx.GraphProto.create({
      name: 'then', initializer: [makeTensor('W', F, [2, 3], new Float32Array([1, 2, 3, 4, 5, 6]))],
      node: [{ opType: 'Add', input: ['x', 'W'], output: ['y_then'] }], output: [vi('y_then', [2, 3])],
    });
    const elseG = onnx.GraphProto.create({
      name: 'else',
      node: [
        { opType: 'Constant', output: ['C'], attribute: [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: makeTensor('C', F, [2, 3], new Float32Array(6).fill(2)) }] },
        { opType: 'Mul', input: ['x', 'C'], output: ['y_else'] },
      ],
      output: [vi('y_else', [2, 3])],
    });
    const G = onnx.AttributeProto.AttributeType.GRAPH;
    const model = onnx.ModelProto.create({
      irVersion: 8, opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'if', input: [vi('x', [2, 3]), vi('c', [], onnx.TensorProto.DataType.BOOL)], output: [vi('y', [2, 3])],
        initializer: [makeTensor('unused_top', F, [4], new Float32Array(4))],
        node: [{ opType: 'If', input: ['c'], output: ['y'], attribute: [{ name: 'then_branch', type: G, g: thenG }, { name: 'else_branch', type: G, g: elseG }] }],
      },
    });
    const bytes = saveModel(model);
    // onnxruntime (the oracle that this is a valid model) runs both branches
    const create = ort.InferenceSession.create as unknown as (b: Uint8Array, o: object) => ReturnType<typeof ort.InferenceSession.create>;
    const s = await create(bytes, { logSeverityLevel: 3 }); // its warning about the unused top-level initializer: quiet
    const x = new Float32Array([0, 1, 2, 3, 4, 5]);
    const run = async (c: boolean) => (await s.run({ x: new ort.Tensor('float32', x, [2, 3]), c: new (ort.Tensor as unknown as new (t: string, d: Uint8Array, dims: number[]) => unknown)('bool', Uint8Array.of(c ? 1 : 0), []) })).y!.data;
    expect(Array.from(await run(true))).toEqual([1, 3, 5, 7, 9, 11]);
    expect(Array.from(await run(false))).toEqual([0, 2, 4, 6, 8, 10]);
    const info = modelInfo(loadModel(bytes));
    expect(info.parameterCount).toBe(4 + 6 + 6); // top-level initializer, then's W, else's Constant C
    expect(info.nodeCount).toBe(4); // If, Add, Constant, Mul
    expect(info.opTypeHistogram).toEqual({ If: 1, Add: 1, Constant: 1, Mul: 1 });
  });

  test('save/load round trip keeps the model', () => {
    const m = loadModel(CLS);
    const bytes = saveModel(m);
    expect(modelInfo(loadModel(bytes))).toEqual(modelInfo(m));
  });

  test('errors: missing file IO_ERROR, corrupt or empty bytes PARSE_ERROR, bad argument INVALID_ARGUMENT', () => {
    expect(() => loadModel('/nonexistent/model.onnx')).toThrow(expect.objectContaining({ code: 'IO_ERROR' }));
    expect(() => loadModel(Buffer.from('this is not a protobuf at all'))).toThrow(expect.objectContaining({ code: 'PARSE_ERROR' }));
    expect(() => loadModel(new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'PARSE_ERROR' }));
    const truncated = fs.readFileSync(CLS).subarray(0, 1000);
    expect(() => loadModel(truncated)).toThrow(TensorRTError);
    expect(() => loadModel(42 as unknown as string)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtn-onnx-'));
    const f = path.join(dir, 'garbage.onnx');
    fs.writeFileSync(f, Buffer.alloc(300, 0xff));
    expect(() => loadModel(f)).toThrow(expect.objectContaining({ code: 'PARSE_ERROR', message: expect.stringContaining(f) }));
    fs.rmSync(dir, { recursive: true });
  });
});

function runModel(m: onnx.IModelProto, x: Float32Array, dims: number[]) {
  return ort.InferenceSession.create(saveModel(m)).then((s) => s.run({ x: new ort.Tensor('float32', x, dims) }));
}

describe('graph rewrites', () => {
  test('opset 9 -> 13 upgrade (Clip, Slice, Softmax) and BN folding keep the outputs of the cls model', async () => {
    const m = loadModel(CLS);
    const up = cloneModel(m);
    expect(foldBatchNormalization(up)).toBe(35);
    const r = upgradeToOpset13(up, declaredRanks(up.graph!));
    expect(r.ok).toBe(true);
    expect(r.converted).toBeGreaterThan(18); // 18 Clip + Slice + Softmax
    expect(opsetOf(up)).toBe(13);
    expect(modelInfo(up).opTypeHistogram.BatchNormalization).toBeUndefined();
    const x = Float32Array.from({ length: 3 * 48 * 192 }, (_, i) => Math.sin(i * 0.37) * 0.8);
    const a = (await runModel(m, x, [1, 3, 48, 192]))['softmax_0.tmp_0'].data;
    const b = (await runModel(up, x, [1, 3, 48, 192]))['softmax_0.tmp_0'].data;
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 4);
  });

  test('BN folding numerics on a hand-built Conv + BatchNormalization', async () => {
    const D = onnx.TensorProto.DataType;
    const w = Float32Array.from({ length: 2 * 1 * 3 * 3 }, (_, i) => (i % 7) - 3);
    const g = onnx.GraphProto.create({
      node: [
        onnx.NodeProto.create({ opType: 'Conv', input: ['x', 'w', 'b'], output: ['c'], name: 'conv' }),
        onnx.NodeProto.create({ opType: 'BatchNormalization', input: ['c', 's', 'beta', 'mean', 'var'], output: ['y'], name: 'bn', attribute: [onnx.AttributeProto.create({ name: 'epsilon', type: 1, f: 1e-3 })] }),
      ],
      initializer: [
        makeTensor('w', D.FLOAT, [2, 1, 3, 3], w), makeTensor('b', D.FLOAT, [2], Float32Array.of(0.5, -1)),
        makeTensor('s', D.FLOAT, [2], Float32Array.of(2, 0.5)), makeTensor('beta', D.FLOAT, [2], Float32Array.of(1, 0)),
        makeTensor('mean', D.FLOAT, [2], Float32Array.of(0.1, -0.2)), makeTensor('var', D.FLOAT, [2], Float32Array.of(4, 0.25)),
      ],
      input: [vi('x', [1, 1, 5, 5])],
      output: [vi('y', [1, 2, 3, 3])],
    });
    const m = onnx.ModelProto.create({ irVersion: 7, opsetImport: [{ domain: '', version: 13 }], graph: g });
    const f = cloneModel(m);
    expect(foldBatchNormalization(f)).toBe(1);
    const fg = f.graph as onnx.GraphProto;
    expect(fg.node.map((n) => n.opType)).toEqual(['Conv']);
    const newW = tensorToFloat32(fg.initializer.find((t) => t.name === (fg.node[0].input ?? [])[1])!);
    expect(newW[0]).toBeCloseTo(w[0] * (2 / Math.sqrt(4.001)), 5);
    const x = Float32Array.from({ length: 25 }, (_, i) => i / 10 - 1);
    const a = (await runModel(m, x, [1, 1, 5, 5])).y.data;
    const b = (await runModel(f, x, [1, 1, 5, 5])).y.data;
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 4);
  });

  test('upgrade refuses ops whose meaning it cannot keep', () => {
    const g = onnx.GraphProto.create({
      node: [onnx.NodeProto.create({ opType: 'Upsample', input: ['x', 's'], output: ['y'] })],
      input: [vi('x', [1, 1, 2, 2])],
      output: [vi('y', [1, 1, 4, 4])],
    });
    const m = onnx.ModelProto.create({ irVersion: 6, opsetImport: [{ domain: '', version: 9 }], graph: g });
    const r = upgradeToOpset13(m);
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/Upsample/);
    expect(opsetOf(m)).toBe(9);
  });
});

export function vi(name: string, dims: number[]): onnx.ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
}
