/**
 * Small ONNX models for the serving client tests, written with the library's ONNX writer (lib/onnx):
 *   affine: x FP32 [N,4] -> y = x·W + b, FP32 [N,3]                      (one input, one output)
 *   mixed:  x FP32 [N,4] -> y = x·W + b FP32 [N,3]; h FP16 [N,4] -> hy = h·h FP16 [N,4];
 *           k INT64 [N,3] -> ky = 3·k INT64 [N,3]; b BOOL [N,2] -> nb = not b BOOL [N,2]
 *   strings: s STRING [N,2], x FP32 [N,3] -> s_id = s STRING [N,2] (Identity), s2 = [s, s] STRING [N,4] (Concat),
 *           s_bytes = s STRING [N,2] (TF Serving answers `_bytes` outputs as b64), y = x·x FP32 [N,3]
 *   upper:  text STRING [C] -> upper = StringNormalizer(text, UPPER) STRING [C]
 * Their outputs are checked against onnxruntime on the same inputs, not against these formulas.
 */
import { makeTensor, onnx } from '../../../lib/onnx';

const D = onnx.TensorProto.DataType;

function vi(name: string, elemType: number, dims: (number | string)[]): onnx.ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
}

const W = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i + 1) * 0.5);
const B = Float32Array.of(0.25, -0.5, 1);

function model(name: string, nodes: onnx.NodeProto[], init: onnx.TensorProto[], inputs: onnx.ValueInfoProto[], outputs: onnx.ValueInfoProto[]): Buffer {
  const graph = onnx.GraphProto.create({ name, node: nodes, initializer: init, input: inputs, output: outputs });
  const m = onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], producerName: 'tensorrt-node-tests', graph });
  return Buffer.from(onnx.ModelProto.encode(m).finish());
}

const node = (opType: string, input: string[], output: string[]) => onnx.NodeProto.create({ name: output[0], opType, input, output });

export function affineModel(): Buffer {
  return model(
    'affine',
    [node('MatMul', ['x', 'W'], ['xw']), node('Add', ['xw', 'B'], ['y'])],
    [makeTensor('W', D.FLOAT, [4, 3], W), makeTensor('B', D.FLOAT, [3], B)],
    [vi('x', D.FLOAT, ['N', 4])],
    [vi('y', D.FLOAT, ['N', 3])],
  );
}

export function mixedModel(): Buffer {
  return model(
    'mixed',
    [
      node('MatMul', ['x', 'W'], ['xw']), node('Add', ['xw', 'B'], ['y']),
      node('Mul', ['h', 'h'], ['hy']),
      node('Mul', ['k', 'K3'], ['ky']),
      node('Not', ['b'], ['nb']),
    ],
    [makeTensor('W', D.FLOAT, [4, 3], W), makeTensor('B', D.FLOAT, [3], B), makeTensor('K3', D.INT64, [1], BigInt64Array.of(3n))],
    [vi('x', D.FLOAT, ['N', 4]), vi('h', D.FLOAT16, ['N', 4]), vi('k', D.INT64, ['N', 3]), vi('b', D.BOOL, ['N', 2])],
    [vi('y', D.FLOAT, ['N', 3]), vi('hy', D.FLOAT16, ['N', 4]), vi('ky', D.INT64, ['N', 3]), vi('nb', D.BOOL, ['N', 2])],
  );
}

export function stringsModel(): Buffer {
  return model(
    'strings',
    [node('Identity', ['s'], ['s_id']), Object.assign(node('Concat', ['s', 's'], ['s2']), { attribute: [onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 })] }), node('Identity', ['s'], ['s_bytes']), node('Mul', ['x', 'x'], ['y'])],
    [],
    [vi('s', D.STRING, ['N', 2]), vi('x', D.FLOAT, ['N', 3])],
    [vi('s_id', D.STRING, ['N', 2]), vi('s2', D.STRING, ['N', 4]), vi('s_bytes', D.STRING, ['N', 2]), vi('y', D.FLOAT, ['N', 3])],
  );
}

export function upperModel(): Buffer {
  const n = onnx.NodeProto.create({
    name: 'upper', opType: 'StringNormalizer', input: ['text'], output: ['upper'],
    attribute: [
      onnx.AttributeProto.create({ name: 'case_change_action', type: onnx.AttributeProto.AttributeType.STRING, s: Buffer.from('UPPER') }),
      // a locale every glibc has (onnxruntime's default, en_US.UTF-8, needs a language pack)
      onnx.AttributeProto.create({ name: 'locale', type: onnx.AttributeProto.AttributeType.STRING, s: Buffer.from('C.UTF-8') }),
    ],
  });
  return model('upper', [n], [], [vi('text', D.STRING, ['C'])], [vi('upper', D.STRING, ['C'])]);
}
