/**
 * Opset 11 and 12 output of the TF -> ONNX converter: the converter builds opset-13 forms; this pass rewrites the few
 * whose form changed in opset 13 (Squeeze / Unsqueeze / ReduceSum axes and Split sizes: inputs -> attributes) and
 * keeps only ops whose opset-11 definition means the same for what the converter emits (the 13 versions of the others
 * add bfloat16 or other types only). Softmax / LogSoftmax keep their meaning below 13 only on the last axis (the old
 * definition coerces the input to 2-D at `axis`), which is what the converter emits (axis -1, written out since the
 * old default is 1). Anything else (control flow, ops new in 12/13, Resize, Min/Max/Pow/ArgMax, Clip on integers, ...)
 * is refused with UNSUPPORTED_OP naming the node and the op, never written in a form whose meaning would change.
 */
import { TensorRTError } from '../errors';
import { onnx } from '../onnx';

/** The values of an int64 (or int32) initializer. */
function intValues(t: onnx.ITensorProto): number[] | null {
  const DT = onnx.TensorProto.DataType;
  if (t.dataType === DT.INT64) {
    if (t.rawData && t.rawData.length > 0) {
      const b = new Uint8Array(t.rawData);
      return Array.from(new BigInt64Array(b.buffer, 0, b.length / 8), Number);
    }
    return (t.int64Data ?? []).map(Number);
  }
  if (t.dataType === DT.INT32) {
    if (t.rawData && t.rawData.length > 0) {
      const b = new Uint8Array(t.rawData);
      return Array.from(new Int32Array(b.buffer, 0, b.length / 4));
    }
    return (t.int32Data ?? []).map(Number);
  }
  return null;
}

/** Op types whose opset-11 (or 12) definition equals the opset-13 one for the types the converter emits. */
const SAME_MEANING = new Set([
  'Abs', 'Add', 'And', 'AveragePool', 'BatchNormalization', 'Cast', 'Ceil', 'Concat', 'ConstantOfShape', 'Conv',
  'ConvTranspose', 'Cos', 'Div', 'Elu', 'Equal', 'Erf', 'Exp', 'Expand', 'Flatten', 'Floor', 'Gather', 'Gemm',
  'GlobalAveragePool', 'GlobalMaxPool', 'Greater', 'HardSigmoid', 'Identity', 'LeakyRelu', 'Less', 'Log', 'MatMul',
  'MaxPool', 'Mul', 'Neg', 'Not', 'Or', 'Pad', 'Range', 'Reciprocal', 'ReduceL2', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean', 'ReduceMin',
  'ReduceProd', 'Relu', 'Reshape', 'Selu', 'Shape', 'Sigmoid', 'Sin', 'Slice', 'Softplus', 'Sqrt', 'Sub', 'Tanh',
  'Tile', 'Transpose', 'Where',
]);
const AXES_TO_ATTRIBUTE = new Set(['Squeeze', 'Unsqueeze', 'ReduceSum']);
const LAST_AXIS_ONLY = new Set(['Softmax', 'LogSoftmax']);

/** Rewrites `model` (built in opset-13 form) in place for `opset` (11 or 12). */
export function lowerBelow13(model: onnx.IModelProto, opset: number): void {
  const g = model.graph!;
  const init = new Map((g.initializer ?? []).map((t) => [t.name ?? '', t]));
  const refuse = (n: onnx.INodeProto, why: string): never => {
    throw new TensorRTError('UNSUPPORTED_OP', `opset ${opset}: ${n.opType} node "${n.name ?? ''}" ${why}; convert at opset 13 or above (tensorrt-node quantize upgrades such models itself)`);
  };
  const constInts = (n: onnx.INodeProto, name: string): number[] => {
    const t = init.get(name);
    const v = t ? intValues(t) : null;
    if (!v) return refuse(n, `takes "${name}" from a computed tensor, which the opset-${opset} attribute form cannot express`);
    return v;
  };
  for (const n of g.node ?? []) {
    const op = n.opType ?? '';
    if ((n.domain ?? '') !== '' && n.domain !== 'ai.onnx') refuse(n, `is in domain ${n.domain}`);
    if ((n.attribute ?? []).some((a) => a.g || (a.graphs?.length ?? 0) > 0)) refuse(n, 'has a subgraph (control flow), which this converter writes at opset 13 or above only');
    if (AXES_TO_ATTRIBUTE.has(op)) {
      if ((n.input?.length ?? 0) > 1 && n.input![1]) {
        const axes = constInts(n, n.input![1]);
        n.input = [n.input![0]];
        (n.attribute ??= []).push(onnx.AttributeProto.create({ name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: axes }));
      }
    } else if (op === 'Split') {
      if ((n.input?.length ?? 0) > 1 && n.input![1]) {
        const split = constInts(n, n.input![1]);
        n.input = [n.input![0]];
        (n.attribute ??= []).push(onnx.AttributeProto.create({ name: 'split', type: onnx.AttributeProto.AttributeType.INTS, ints: split }));
      }
    } else if (LAST_AXIS_ONLY.has(op)) {
      const a = (n.attribute ?? []).find((x) => x.name === 'axis');
      const axis = a ? Number(a.i ?? 0) : -1;
      if (axis !== -1) refuse(n, `works on axis ${axis}: below opset 13 it coerces its input to 2-D there, which means the same only on the last axis`);
      if (!a) (n.attribute ??= []).push(onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 }));
    } else if (op === 'Clip') {
      for (const b of (n.input ?? []).slice(1)) {
        if (b && init.get(b)?.dataType !== onnx.TensorProto.DataType.FLOAT) refuse(n, 'has bounds that are not float32 constants (Clip takes other types only from opset 12/13)');
      }
    } else if (!SAME_MEANING.has(op)) {
      refuse(n, `has no opset-${opset} form in this converter (only ops whose meaning is the same below 13 are written there)`);
    }
  }
  // axes / split constants nothing reads any more
  const used = new Set((g.node ?? []).flatMap((n) => n.input ?? []));
  for (const o of g.output ?? []) used.add(o.name ?? '');
  g.initializer = (g.initializer ?? []).filter((t) => used.has(t.name ?? ''));
}
