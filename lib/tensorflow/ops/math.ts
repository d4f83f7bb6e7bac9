/**
 * Element-wise ops, activations, reductions, MatMul family, Softmax, ArgMax/ArgMin. Element-wise ops follow
 * their inputs' layout: a 4-D input that exists only as NCHW (a convolution's output) stays NCHW.
 */
import { onnx } from '../../onnx';
import { TensorRTError } from '../../errors';
import { attrBool, attrFloat, attrInt, attrStr, attrStrs, attrType, type TfNode, type TfTensor } from '../graph';
import { broadcastShapes, numbers, NHWC_TO_NCHW, transposeTensor, type AttrSpec, type Ctx, type Value } from '../context';
import type { OpTable } from './types';

const DT = onnx.TensorProto.DataType;

/** True when the value should be processed as NCHW: 4-D and available only in NCHW. */
function preferNchw(v: Value): boolean {
  return v.shape?.length === 4 && v.nchw !== undefined && v.nhwc === undefined;
}

/** A constant broadcast against a 4-D NHWC operand, rewritten for NCHW. */
function constForNchw(c: Ctx, t: TfTensor): string {
  if (t.shape.length > 4) throw new TensorRTError('INTERNAL', 'constant of rank > 4 in NCHW broadcast');
  const shape = [...new Array<number>(4 - t.shape.length).fill(1), ...t.shape];
  return c.initializer(transposeTensor({ ...t, shape }, NHWC_TO_NCHW), 'nchw');
}

export function unary(c: Ctx, op: string, x: Value, attrs: Record<string, AttrSpec> = {}, extra: string[] = []): Value {
  const out: Value = { dtype: x.dtype };
  if (x.shape) out.shape = x.shape;
  if (preferNchw(x)) out.nchw = c.node1(op, [c.nchw(x), ...extra], attrs);
  else out.nhwc = c.node1(op, [c.ref(x), ...extra], attrs);
  return out;
}

export function binary(c: Ctx, op: string, a: Value, b: Value, outDtype = a.dtype): Value {
  if (a.value && !a.shape) a.shape = a.value.shape;
  if (b.value && !b.shape) b.shape = b.value.shape;
  const shape = broadcastShapes(a.shape, b.shape);
  const out: Value = { dtype: outDtype };
  if (shape) out.shape = shape;
  const nchwOk = (v: Value) => (v.shape?.length === 4 && v.nchw !== undefined) || (v.value !== undefined && v.value.shape.length <= 4);
  if (shape?.length === 4 && (preferNchw(a) || preferNchw(b)) && nchwOk(a) && nchwOk(b)) {
    const side = (v: Value) => (v.shape?.length === 4 && v.nchw !== undefined ? v.nchw : v.value!.shape.length === 4 ? c.nchw(v) : elementsOne(v) ? c.ref(v) : constForNchw(c, v.value!));
    out.nchw = c.node1(op, [side(a), side(b)]);
  } else {
    out.nhwc = c.node1(op, [c.ref(a), c.ref(b)]);
  }
  return out;
}

function elementsOne(v: Value): boolean {
  return v.value !== undefined && v.value.data.length === 1;
}

/** Applies a TF activation by name (fused_ops entries and plain ops). `args` hold Prelu's alpha. */
export function activation(c: Ctx, name: string, x: Value, n: TfNode, args: Value[] = []): Value {
  switch (name) {
    case 'Relu': return unary(c, 'Relu', x);
    case 'Relu6': return unary(c, 'Clip', x, {}, [c.scalar(0, 'float32'), c.scalar(6, 'float32')]);
    case 'Elu': return unary(c, 'Elu', x, { alpha: { f: 1 } });
    case 'Selu': return unary(c, 'Selu', x, { alpha: { f: 1.6732632423543772 }, gamma: { f: 1.0507009873554805 } });
    case 'LeakyRelu': return unary(c, 'LeakyRelu', x, { alpha: { f: attrFloat(n, n.op === 'LeakyRelu' ? 'alpha' : 'leakyrelu_alpha', 0.2) } });
    case 'Sigmoid': return unary(c, 'Sigmoid', x);
    case 'Tanh': return unary(c, 'Tanh', x);
    case 'Softplus': return unary(c, 'Softplus', x);
    case 'Softsign': return unary(c, 'Softsign', x);
    case 'Prelu': {
      // TF.js Prelu: max(0,x) + alpha*min(0,x) with alpha broadcast on the last axis.
      const alpha = args[0];
      if (!alpha) throw new TensorRTError('PARSE_ERROR', `${n.name}: Prelu without alpha`);
      return binary(c, 'PRelu', x, alpha);
    }
    default:
      throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: fused activation ${name} is not supported`);
  }
}

const BINARY: Record<string, string> = {
  Add: 'Add', AddV2: 'Add', BiasAdd: 'Add', BiasAddV1: 'Add', Sub: 'Sub', Mul: 'Mul', RealDiv: 'Div', Div: 'Div', Maximum: 'Max', Minimum: 'Min', Pow: 'Pow',
};
const COMPARE: Record<string, string> = { Greater: 'Greater', Less: 'Less', Equal: 'Equal', GreaterEqual: 'GreaterOrEqual', LessEqual: 'LessOrEqual', LogicalAnd: 'And', LogicalOr: 'Or' };
const UNARY: Record<string, string> = {
  Abs: 'Abs', Neg: 'Neg', Exp: 'Exp', Log: 'Log', Sqrt: 'Sqrt', Floor: 'Floor', Ceil: 'Ceil', Round: 'Round', Sin: 'Sin', Cos: 'Cos',
  Reciprocal: 'Reciprocal', Sign: 'Sign', Erf: 'Erf', LogicalNot: 'Not', Atan: 'Atan', Tan: 'Tan', Asin: 'Asin', Acos: 'Acos',
  Sinh: 'Sinh', Cosh: 'Cosh', Asinh: 'Asinh', Acosh: 'Acosh', Atanh: 'Atanh', Rint: 'Round', IsNan: 'IsNaN', IsInf: 'IsInf',
};
const BOOL_UNARY = new Set(['IsNaN', 'IsInf']);

export const mathOps: OpTable = {};

for (const [tf, ox] of Object.entries(BINARY)) mathOps[tf] = (c, _n, ins) => [binary(c, ox, ins[0]!, ins[1]!)];
for (const [tf, ox] of Object.entries(COMPARE)) mathOps[tf] = (c, _n, ins) => [binary(c, ox, ins[0]!, ins[1]!, 'bool')];
mathOps.NotEqual = (c, _n, ins) => [unary(c, 'Not', binary(c, 'Equal', ins[0]!, ins[1]!, 'bool'))];
for (const [tf, ox] of Object.entries(UNARY)) mathOps[tf] = (c, _n, ins) => [BOOL_UNARY.has(ox) ? { ...unary(c, ox, ins[0]!), dtype: 'bool' } : unary(c, ox, ins[0]!)];
mathOps.IsFinite = (c, _n, ins) => [{ ...unary(c, 'Not', { ...binary(c, 'Or', unary(c, 'IsNaN', ins[0]!), unary(c, 'IsInf', ins[0]!)), dtype: 'bool' }), dtype: 'bool' }];
mathOps.DivNoNan = (c, _n, ins) => {
  // x / y, and 0 where y is 0.
  const q = binary(c, 'Div', ins[0]!, ins[1]!);
  const z = c.scalar(0, ins[1]!.dtype);
  const out: Value = { dtype: q.dtype, nhwc: c.node1('Where', [c.node1('Equal', [c.ref(ins[1]!), z]), z, c.ref(q)]) };
  if (q.shape) out.shape = q.shape;
  return [out];
};
mathOps.TruncateDiv = (c, _n, ins) => {
  // ONNX Div truncates integers; floats: sign(q)·floor(|q|).
  const q = binary(c, 'Div', ins[0]!, ins[1]!);
  if (!q.dtype.startsWith('float')) return [q];
  return [binary(c, 'Mul', unary(c, 'Sign', q), unary(c, 'Floor', unary(c, 'Abs', q)))];
};
mathOps.TruncateMod = (c, _n, ins) => {
  // C's fmod: the remainder takes the dividend's sign (ONNX Mod fmod=1, integers included).
  const out: Value = { dtype: ins[0]!.dtype, nhwc: c.node1('Mod', [c.ref(ins[0]!), c.ref(ins[1]!)], { fmod: 1 }) };
  const shape = broadcastShapes(ins[0]!.shape, ins[1]!.shape);
  if (shape) out.shape = shape;
  return [out];
};
mathOps.Mod = mathOps.TruncateMod;
for (const a of ['Relu', 'Relu6', 'Elu', 'Selu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Softplus', 'Softsign', 'Prelu']) {
  mathOps[a] = (c, n, ins) => [activation(c, a, ins[0]!, n, ins.slice(1))];
}
mathOps.Rsqrt = (c, _n, ins) => [unary(c, 'Reciprocal', unary(c, 'Sqrt', ins[0]!))];
mathOps.Square = (c, _n, ins) => [binary(c, 'Mul', ins[0]!, ins[0]!)];
mathOps.SquaredDifference = (c, _n, ins) => {
  const d = binary(c, 'Sub', ins[0]!, ins[1]!);
  return [binary(c, 'Mul', d, d)];
};
mathOps.FloorDiv = (c, n, ins) => {
  const t = ins[0]!.dtype;
  if (t.startsWith('float')) return [unary(c, 'Floor', binary(c, 'Div', ins[0]!, ins[1]!))];
  // Integer division rounding toward −∞ (ONNX Div truncates): compute in float, floor, cast back.
  const f = (v: Value): Value => ({ dtype: 'float32', shape: v.shape, nhwc: c.node1('Cast', [c.ref(v)], { to: DT.FLOAT }) } as Value);
  const q = unary(c, 'Floor', binary(c, 'Div', f(ins[0]!), f(ins[1]!)));
  void n;
  return [{ dtype: t, shape: q.shape, nhwc: c.node1('Cast', [c.ref(q)], { to: onnxDt(t) }) } as Value];
};
mathOps.FloorMod = (c, _n, ins) => {
  // TF's FloorMod takes the divisor's sign: ONNX Mod(fmod=0) for integers, a − floor(a/b)·b for floats.
  if (!ins[0]!.dtype.startsWith('float')) return [binary(c, 'Mod', ins[0]!, ins[1]!)];
  const q = unary(c, 'Floor', binary(c, 'Div', ins[0]!, ins[1]!));
  return [binary(c, 'Sub', ins[0]!, binary(c, 'Mul', q, ins[1]!))];
};
mathOps.ClipByValue = (c, _n, ins) => [binary(c, 'Max', binary(c, 'Min', ins[0]!, ins[2]!), ins[1]!)];
mathOps.Select = mathOps.SelectV2 = (c, _n, ins) => {
  const shape = broadcastShapes(ins[0]!.shape, broadcastShapes(ins[1]!.shape, ins[2]!.shape));
  const out: Value = { dtype: ins[1]!.dtype, nhwc: c.node1('Where', [c.ref(ins[0]!), c.ref(ins[1]!), c.ref(ins[2]!)]) };
  if (shape) out.shape = shape;
  return [out];
};
mathOps.AddN = (c, _n, ins) => {
  let acc = ins[0]!;
  for (const v of ins.slice(1)) acc = binary(c, 'Add', acc, v);
  return [acc];
};

function onnxDt(t: string): number {
  const m: Record<string, number> = { float32: DT.FLOAT, int32: DT.INT32, int64: DT.INT64, float16: DT.FLOAT16, bool: DT.BOOL, uint8: DT.UINT8, int8: DT.INT8, float64: DT.DOUBLE };
  return m[t] ?? DT.FLOAT;
}

/** Maps NHWC reduction axes to NCHW when the kept axes stay in the same order (then both results agree). */
export function nchwAxesKeepingOrder(axes: number[]): number[] | undefined {
  const map = [0, 2, 3, 1];
  const kept = [0, 1, 2, 3].filter((a) => !axes.includes(a));
  const keptN = kept.map((a) => map[a]!);
  for (let i = 1; i < keptN.length; i++) if (keptN[i]! < keptN[i - 1]!) return undefined;
  return axes.map((a) => map[a]!).sort((x, y) => x - y);
}

function reduction(onnxOp: string) {
  return (c: Ctx, n: TfNode, ins: Value[]): Value[] => {
    const x = ins[0]!;
    if (!ins[1]!.value) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} with non-constant axes`);
    const rank = x.shape?.length;
    let axes = numbers(ins[1]!.value);
    if (axes.some((a) => a < 0)) {
      if (rank === undefined) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: negative axes on a tensor of unknown rank`);
      axes = axes.map((a) => (a < 0 ? a + rank : a));
    }
    const keep = attrBool(n, 'keep_dims', false) || attrBool(n, 'keepdims', false);
    let shape: number[] | undefined;
    if (x.shape) shape = keep ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_d, i) => !axes.includes(i));
    const out: Value = { dtype: x.dtype };
    if (shape) out.shape = shape;
    const mapped = rank === 4 && preferNchw(x) && !keep ? nchwAxesKeepingOrder(axes) : undefined;
    if (rank === 4 && preferNchw(x) && keep) out.nchw = c.reduce(onnxOp, c.nchw(x), axes.map((a) => [0, 2, 3, 1][a]!), true);
    else if (mapped) out.nhwc = c.reduce(onnxOp, c.nchw(x), mapped, false);
    else if (onnxOp === 'ReduceAll' || onnxOp === 'ReduceAny') {
      const f = c.node1('Cast', [c.ref(x)], { to: DT.FLOAT });
      const r = c.reduce(onnxOp === 'ReduceAll' ? 'ReduceMin' : 'ReduceMax', f, axes, keep);
      out.nhwc = c.node1('Cast', [r], { to: DT.BOOL });
    } else out.nhwc = c.reduce(onnxOp, c.ref(x), axes, keep);
    return [out];
  };
}
mathOps.Mean = reduction('ReduceMean');
mathOps.Sum = reduction('ReduceSum');
mathOps.Max = reduction('ReduceMax');
mathOps.Min = reduction('ReduceMin');
mathOps.Prod = reduction('ReduceProd');
mathOps.All = reduction('ReduceAll');
mathOps.Any = reduction('ReduceAny');

function matmul(c: Ctx, n: TfNode, a: Value, b: Value, ta: boolean, tb: boolean): Value {
  const tr = (v: Value, t: boolean): string => {
    const r = c.ref(v);
    if (!t) return r;
    const rank = v.shape?.length ?? 2;
    const perm = [...Array(rank).keys()];
    [perm[rank - 1], perm[rank - 2]] = [perm[rank - 2]!, perm[rank - 1]!];
    if (v.value) return c.initializer(transposeTensor(v.value, perm), 'transposed');
    return c.node1('Transpose', [r], { perm });
  };
  const shapeOf = (v: Value, t: boolean) => (v.shape && t ? [...v.shape.slice(0, -2), v.shape[v.shape.length - 1]!, v.shape[v.shape.length - 2]!] : v.shape);
  const sa = shapeOf(a, ta);
  const sb = shapeOf(b, tb);
  const out: Value = { dtype: a.dtype, nhwc: c.node1('MatMul', [tr(a, ta), tr(b, tb)]) };
  if (sa && sb) {
    const batch = broadcastShapes(sa.slice(0, -2), sb.slice(0, -2)) ?? [];
    out.shape = [...batch, sa[sa.length - 2]!, sb[sb.length - 1]!];
  }
  void n;
  return out;
}
mathOps.MatMul = (c, n, ins) => [matmul(c, n, ins[0]!, ins[1]!, attrBool(n, 'transpose_a', false), attrBool(n, 'transpose_b', false))];
mathOps.BatchMatMul = mathOps.BatchMatMulV2 = mathOps.BatchMatMulV3 = (c, n, ins) => [matmul(c, n, ins[0]!, ins[1]!, attrBool(n, 'adj_x', false), attrBool(n, 'adj_y', false))];
mathOps._FusedMatMul = (c, n, ins) => {
  let y = matmul(c, n, ins[0]!, ins[1]!, attrBool(n, 'transpose_a', false), attrBool(n, 'transpose_b', false));
  const fused = attrStrs(n, 'fused_ops');
  const args = ins.slice(2);
  let k = 0;
  for (const f of fused) {
    if (f === 'BiasAdd') y = binary(c, 'Add', y, args[k++]!);
    else y = activation(c, f, y, n, f === 'Prelu' ? [args[k++]!] : []);
  }
  return [y];
};
// Softmax on the last TF axis: always computed in TF layout.
mathOps.Softmax = (c, _n, ins) => [{ dtype: ins[0]!.dtype, shape: ins[0]!.shape, nhwc: c.node1('Softmax', [c.ref(ins[0]!)], { axis: -1 }) } as Value];
mathOps.LogSoftmax = (c, _n, ins) => [{ dtype: ins[0]!.dtype, shape: ins[0]!.shape, nhwc: c.node1('LogSoftmax', [c.ref(ins[0]!)], { axis: -1 }) } as Value];

function argExt(op: string) {
  return (c: Ctx, n: TfNode, ins: Value[]): Value[] => {
    if (!ins[1]!.value) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} with a non-constant axis`);
    let axis = numbers(ins[1]!.value)[0]!;
    const rank = ins[0]!.shape?.length;
    if (axis < 0 && rank !== undefined) axis += rank;
    const idx = c.node1(op, [c.ref(ins[0]!)], { axis, keepdims: 0 });
    const outT = attrType(n, 'output_type') ?? 'int64';
    const out: Value = { dtype: outT, nhwc: outT === 'int64' ? idx : c.node1('Cast', [idx], { to: onnxDt(outT) }) };
    if (ins[0]!.shape) out.shape = ins[0]!.shape.filter((_d, i) => i !== axis);
    return [out];
  };
}
mathOps.ArgMax = argExt('ArgMax');
mathOps.ArgMin = argExt('ArgMin');
mathOps.Cast = (c, n, ins) => {
  const to = attrType(n, 'DstT') ?? 'float32';
  const x = ins[0]!;
  if (to === x.dtype) return [x];
  if (to === 'float16') {
    // The converted graph computes in float32 (float16 weights are widened): round to half precision as TF
    // does, then continue in float32, so float16 consumers meet float32 constants of the same type.
    const r = (v: string) => c.node1('Cast', [c.node1('Cast', [v], { to: onnxDt('float16') })], { to: onnxDt('float32') });
    const out: Value = { dtype: 'float32' };
    if (x.shape) out.shape = x.shape;
    if (preferNchw(x)) out.nchw = r(c.nchw(x));
    else out.nhwc = r(c.ref(x));
    return [out];
  }
  const out: Value = { dtype: to };
  if (x.shape) out.shape = x.shape;
  if (preferNchw(x)) out.nchw = c.node1('Cast', [c.nchw(x)], { to: onnxDt(to) });
  else out.nhwc = c.node1('Cast', [c.ref(x)], { to: onnxDt(to) });
  return [out];
};
void attrInt;

mathOps.Atan2 = (c, _n, ins) => {
  // atan(y/x), ±π added where x < 0 (by the sign of y); signed zeros as in C's atan2 (1/±0 = ±∞ gives the sign),
  // and where both are zero, y itself (±0) before that adjustment.
  const [y, x] = [ins[0]!, ins[1]!];
  const t = y.dtype;
  const [ys, xs] = [c.ref(y), c.ref(x)];
  const zero = c.scalar(0, t);
  const neg = (v: string) => c.node1('Or', [c.node1('Less', [v, zero]), c.node1('Less', [c.node1('Reciprocal', [v]), zero])]);
  const both = c.node1('And', [c.node1('Equal', [xs, zero]), c.node1('Equal', [ys, zero])]);
  const a = c.node1('Where', [both, ys, c.node1('Atan', [c.node1('Div', [ys, xs])])]);
  const adj = c.node1('Where', [neg(ys), c.scalar(-Math.PI, t), c.scalar(Math.PI, t)]);
  const out: Value = { dtype: t, nhwc: c.node1('Where', [neg(xs), c.node1('Add', [a, adj]), a]) };
  const shape = broadcastShapes(y.shape, x.shape);
  if (shape) out.shape = shape;
  return [out];
};
mathOps.Cumsum = (c, n, ins) => {
  const x = ins[0]!;
  const out: Value = { dtype: x.dtype, nhwc: c.node1('CumSum', [c.ref(x), c.int64(ins[1]!)], { exclusive: attrBool(n, 'exclusive', false) ? 1 : 0, reverse: attrBool(n, 'reverse', false) ? 1 : 0 }) };
  if (x.shape) out.shape = x.shape;
  return [out];
};
mathOps.Einsum = (c, n, ins) => {
  const eq = attrStr(n, 'equation', '').replace(/\s/g, '');
  const [lhs, rhs] = eq.split('->');
  const terms = (lhs ?? '').split(',');
  if (!eq || terms.length !== ins.length) throw new TensorRTError('INVALID_ARGUMENT', `${n.name}: Einsum equation "${eq}" for ${ins.length} inputs`);
  const out: Value = { dtype: ins[0]!.dtype, nhwc: c.node1('Einsum', ins.map((v) => c.ref(v)), { equation: eq }) };
  if (rhs !== undefined && !eq.includes('.')) {
    const size = new Map<string, number>();
    terms.forEach((t, k) => [...t].forEach((l, i) => {
      const d = ins[k]!.shape?.[i] ?? -1;
      if (d !== 1 || !size.has(l)) size.set(l, Math.max(d, size.get(l) ?? -1));
    }));
    out.shape = [...rhs].map((l) => size.get(l) ?? -1);
  }
  return [out];
};

// Bitwise ops. BitwiseAnd/Or/Xor and Invert map to ONNX BitwiseAnd/Or/Xor/Not, which exist from opset 18 only.
const BITWISE: Record<string, string> = { BitwiseAnd: 'BitwiseAnd', BitwiseOr: 'BitwiseOr', BitwiseXor: 'BitwiseXor', Invert: 'BitwiseNot' };
function needsOpset18(c: Ctx, n: TfNode, ox: string): void {
  if (c.opset < 18) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} needs ONNX ${ox}, which exists from opset 18 (this conversion targets opset ${c.opset}; convert with --opset 18 or above)`);
}
for (const [tf, ox] of Object.entries(BITWISE)) {
  mathOps[tf] = (c, n, ins) => {
    needsOpset18(c, n, ox);
    return [tf === 'Invert' ? unary(c, ox, ins[0]!) : binary(c, ox, ins[0]!, ins[1]!)];
  };
}

const BITS: Record<string, number> = { int8: 8, uint8: 8, int16: 16, uint16: 16, int32: 32, int64: 64 };
/**
 * LeftShift / RightShift through ONNX BitShift (opset 11; unsigned types only): TF clamps the shift to
 * [0, bits − 1]; the value goes through uint64 (sign-extended, so a left shift truncated back is right) and back.
 * A signed right shift is arithmetic: negative x as ~((~x) >> y), with ~v = −1 − v in int64.
 */
function shift(dir: 'LEFT' | 'RIGHT') {
  return (c: Ctx, n: TfNode, ins: Value[]): Value[] => {
    const [x, y] = [ins[0]!, ins[1]!];
    const bits = BITS[x.dtype];
    if (!bits) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} on ${x.dtype}`);
    const I64 = DT.INT64, U64 = DT.UINT64;
    const y64 = y.dtype === 'int64' ? c.ref(y) : c.node1('Cast', [c.ref(y)], { to: I64 });
    const zero = c.scalar(0, 'int64');
    const top = c.scalar(bits - 1, 'int64');
    const yc = c.node1('Where', [c.node1('Less', [y64, zero]), zero, c.node1('Where', [c.node1('Greater', [y64, top]), top, y64])]);
    const yu = c.node1('Cast', [yc], { to: U64 });
    const signed = x.dtype.startsWith('int');
    let r: string;
    if (dir === 'LEFT' || !signed) {
      r = c.node1('BitShift', [c.node1('Cast', [c.ref(x)], { to: U64 }), yu], { direction: dir });
    } else {
      const x64 = x.dtype === 'int64' ? c.ref(x) : c.node1('Cast', [c.ref(x)], { to: I64 });
      const m1 = c.scalar(-1, 'int64');
      const neg = c.node1('Less', [x64, zero]);
      const t = c.node1('Where', [neg, c.node1('Sub', [m1, x64]), x64]);
      const s = c.node1('Cast', [c.node1('BitShift', [c.node1('Cast', [t], { to: U64 }), yu], { direction: dir })], { to: I64 });
      r = c.node1('Where', [neg, c.node1('Sub', [m1, s]), s]);
    }
    const outType = onnxTypeOf(x.dtype);
    const out: Value = { dtype: x.dtype, nhwc: c.node1('Cast', [r], { to: outType }) };
    const shape = broadcastShapes(x.shape, y.shape);
    if (shape) out.shape = shape;
    return [out];
  };
}
function onnxTypeOf(d: string): number {
  return ({ int8: DT.INT8, uint8: DT.UINT8, int16: DT.INT16, uint16: DT.UINT16, int32: DT.INT32, int64: DT.INT64 } as Record<string, number>)[d]!;
}
mathOps.LeftShift = shift('LEFT');
mathOps.RightShift = shift('RIGHT');
