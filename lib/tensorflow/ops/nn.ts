/**
 * Losses and fake quantization: SoftmaxCrossEntropyWithLogits, SparseSoftmaxCrossEntropyWithLogits (loss and
 * backprop), FakeQuantWithMinMaxArgs / FakeQuantWithMinMaxVars (constant range; TF's nudged range and rounding:
 * floor((clamp(x) − min) · (1/scale) + 0.5) · scale + min, the constants computed in float32 as TF does).
 */
import { TensorRTError } from '../../errors';
import { attrBool, attrFloat, attrInt, type TfNode } from '../graph';
import { numbers, onnxType, type Ctx, type Value } from '../context';
import type { OpTable } from './types';

function crossEntropy(c: Ctx, logits: Value, labels: string): Value[] {
  const x = c.ref(logits);
  const loss = c.node1('Neg', [c.reduce('ReduceSum', c.node1('Mul', [labels, c.node1('LogSoftmax', [x], { axis: -1 })]), [-1], false)]);
  const back = c.node1('Sub', [c.node1('Softmax', [x], { axis: -1 }), labels]);
  const r: Value[] = [{ dtype: logits.dtype, nhwc: loss }, { dtype: logits.dtype, nhwc: back }];
  if (logits.shape) {
    r[0]!.shape = logits.shape.slice(0, -1);
    r[1]!.shape = logits.shape;
  }
  return r;
}

function fakeQuant(c: Ctx, n: TfNode, x: Value, min: number, max: number): Value {
  const f = Math.fround;
  const bits = attrInt(n, 'num_bits', 8);
  const qmin = attrBool(n, 'narrow_range', false) ? 1 : 0;
  const qmax = 2 ** bits - 1;
  if (!(min <= 0 && max >= 0 && min < max)) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} with range [${min}, ${max}] not containing 0`);
  const scale = f(f(max - min) / f(qmax - qmin));
  const zpFromMin = f(qmin - f(min / scale));
  const zp = zpFromMin < qmin ? qmin : zpFromMin > qmax ? qmax : Math.sign(zpFromMin) * Math.round(Math.abs(zpFromMin));
  const nmin = f(f(qmin - zp) * scale);
  const nmax = f(f(qmax - zp) * scale);
  const inv = f(1 / scale);
  const t = x.dtype;
  const cl = c.node1('Min', [c.node1('Max', [c.ref(x), c.scalar(nmin, t)]), c.scalar(nmax, t)]);
  const q = c.node1('Floor', [c.node1('Add', [c.node1('Mul', [c.node1('Sub', [cl, c.scalar(nmin, t)]), c.scalar(inv, t)]), c.scalar(0.5, t)])]);
  const v: Value = { dtype: t, nhwc: c.node1('Add', [c.node1('Mul', [q, c.scalar(scale, t)]), c.scalar(nmin, t)]) };
  if (x.shape) v.shape = x.shape;
  return v;
}

export const nnOps: OpTable = {
  SoftmaxCrossEntropyWithLogits: (c, _n, ins) => crossEntropy(c, ins[0]!, c.ref(ins[1]!)),
  SparseSoftmaxCrossEntropyWithLogits: (c, n, ins) => {
    const classes = ins[0]!.shape?.[ins[0]!.shape.length - 1];
    if (classes === undefined || classes < 0) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} with an unknown number of classes`);
    const range = c.node1('Range', [c.i64([0], true), c.i64([classes], true), c.i64([1], true)]);
    const onehot = c.node1('Cast', [c.node1('Equal', [c.node1('Unsqueeze', [c.int64(ins[1]!), c.i64([-1])]), range])], { to: onnxType(ins[0]!.dtype) });
    return crossEntropy(c, ins[0]!, onehot);
  },
  FakeQuantWithMinMaxArgs: (c, n, ins) => [fakeQuant(c, n, ins[0]!, attrFloat(n, 'min', -6), attrFloat(n, 'max', 6))],
  FakeQuantWithMinMaxVars: (c, n, ins) => {
    if (!ins[1]!.value || !ins[2]!.value) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: FakeQuantWithMinMaxVars with a computed range`);
    return [fakeQuant(c, n, ins[0]!, numbers(ins[1]!.value)[0]!, numbers(ins[2]!.value)[0]!)];
  },
};
