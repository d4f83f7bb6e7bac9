/**
 * The small convolutional model of the quantization tests:
 *   x[N,2,4,4] -> conv1 (3x3, pad 1, bias) -> relu1 r1 -> conv2 (1x1) -> c2; Add(c2, r1) -> a -> <last> -> y
 * `last` is the final op ('Relu', or 'Softmax', whose axis meaning changes at opset 13); `opset` and `irVersion`
 * what the model declares (an opset-9 model exercises quantize()'s upgrade).
 */
import { onnx, makeTensor } from '../../../lib/onnx';

const D = onnx.TensorProto.DataType;

export const seq = (n: number, f: (i: number) => number): Float32Array => Float32Array.from({ length: n }, (_, i) => f(i));

export function vi(name: string, dims: (number | string)[]): onnx.ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: D.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
}

export function convModel(options: { last?: 'Relu' | 'Softmax'; opset?: number; irVersion?: number } = {}): onnx.ModelProto {
  const { last = 'Relu', opset = 13, irVersion = 8 } = options;
  const ints = (name: string, v: number[]) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
  const g = onnx.GraphProto.create({
    name: 'tiny',
    node: [
      onnx.NodeProto.create({ name: 'conv1', opType: 'Conv', input: ['x', 'w1', 'b1'], output: ['c1'], attribute: [ints('pads', [1, 1, 1, 1])] }),
      onnx.NodeProto.create({ name: 'relu1', opType: 'Relu', input: ['c1'], output: ['r1'] }),
      onnx.NodeProto.create({ name: 'conv2', opType: 'Conv', input: ['r1', 'w2'], output: ['c2'] }),
      onnx.NodeProto.create({ name: 'add', opType: 'Add', input: ['c2', 'r1'], output: ['a'] }),
      onnx.NodeProto.create({ name: last === 'Relu' ? 'relu2' : 'softmax', opType: last, input: ['a'], output: ['y'] }),
    ],
    initializer: [
      makeTensor('w1', D.FLOAT, [4, 2, 3, 3], seq(72, (i) => Math.sin(i) * (1 + Math.floor(i / 18)))),
      makeTensor('b1', D.FLOAT, [4], Float32Array.of(0.1, -0.2, 0.3, 0)),
      makeTensor('w2', D.FLOAT, [4, 4, 1, 1], seq(16, (i) => (i % 5) - 2)),
    ],
    input: [vi('x', ['N', 2, 4, 4])],
    output: [vi('y', ['N', 4, 4, 4])],
  });
  return onnx.ModelProto.create({ irVersion, opsetImport: [{ domain: '', version: opset }], producerName: 'test', graph: g });
}
