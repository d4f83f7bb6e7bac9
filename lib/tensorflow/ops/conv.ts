/**
 * Convolution family, pooling and batch normalization. TF computes these NHWC; ONNX's Conv/Pool are NCHW, so
 * inputs are taken as NCHW (the context transposes only when no NCHW twin exists) and outputs stay NCHW.
 * Weights are rearranged at conversion time (HWIO → OIHW; depthwise HWCM → (C·M)1HW); converter-fused ops
 * (`_FusedConv2D`, `FusedDepthwiseConv2dNative`) are unfolded into Conv + bias/BatchNorm + activation, with
 * BatchNorm folded into the weights when its parameters are constant.
 */
import { TensorRTError } from '../../errors';
import { attrFloat, attrInts, attrStr, attrStrs, elementCount, type TfNode, type TfTensor } from '../graph';
import { numbers, transposeTensor, type Ctx, type Value } from '../context';
import { activation, binary } from './math';
import type { OpTable } from './types';

interface Geometry {
  strides: number[];
  dilations: number[];
  pads?: number[];
  autoPad?: string;
  /** NHWC output spatial sizes where known. */
  outHW: number[];
}

/** Strides/dilations/padding of a TF NHWC conv or pool as ONNX attributes. */
function geometry(n: TfNode, x: Value, kernel: number[], stridesKey = 'strides'): Geometry {
  const fmt = attrStr(n, 'data_format', 'NHWC');
  if (fmt !== 'NHWC') throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} with data_format ${fmt} (only NHWC)`);
  const s = attrInts(n, stridesKey) ?? [1, 1, 1, 1];
  const d = attrInts(n, 'dilations') ?? [1, 1, 1, 1];
  const strides = [s[1] ?? 1, s[2] ?? 1];
  const dilations = [d[1] ?? 1, d[2] ?? 1];
  const padding = attrStr(n, 'padding', 'VALID');
  const inHW = [x.shape?.[1] ?? -1, x.shape?.[2] ?? -1];
  const g: Geometry = { strides, dilations, outHW: [-1, -1] };
  if (padding === 'SAME') {
    if (inHW.every((v) => v > 0)) {
      const before: number[] = [];
      const after: number[] = [];
      for (let i = 0; i < 2; i++) {
        const out = Math.ceil(inHW[i]! / strides[i]!);
        const eff = (kernel[i]! - 1) * dilations[i]! + 1;
        const total = Math.max((out - 1) * strides[i]! + eff - inHW[i]!, 0);
        before.push(Math.floor(total / 2));
        after.push(total - Math.floor(total / 2));
        g.outHW[i] = out;
      }
      g.pads = [...before, ...after];
    } else {
      g.autoPad = 'SAME_UPPER';
      g.outHW = inHW.map((v, i) => (v > 0 ? Math.ceil(v / strides[i]!) : -1));
    }
  } else {
    let p = [0, 0, 0, 0];
    if (padding === 'EXPLICIT') {
      const e = attrInts(n, 'explicit_paddings') ?? [];
      p = [e[2] ?? 0, e[4] ?? 0, e[3] ?? 0, e[5] ?? 0];
    } else if (padding !== 'VALID') throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: padding ${padding}`);
    g.pads = p;
    g.outHW = inHW.map((v, i) => (v > 0 ? Math.floor((v + p[i]! + p[i + 2]! - ((kernel[i]! - 1) * dilations[i]! + 1)) / strides[i]!) + 1 : -1));
  }
  return g;
}

function geomAttrs(g: Geometry): Record<string, number[] | string> {
  const a: Record<string, number[] | string> = { strides: g.strides, dilations: g.dilations };
  if (g.pads) a.pads = g.pads;
  if (g.autoPad) a.auto_pad = g.autoPad;
  return a;
}

function constOf(n: TfNode, v: Value | undefined, what: string): TfTensor {
  if (!v?.value) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} needs a constant ${what}`);
  return v.value;
}

/** Conv (regular or depthwise) with optional bias; returns NCHW output. `scale` multiplies output channels. */
function conv(c: Ctx, n: TfNode, x: Value, filter: TfTensor, depthwise: boolean, bias?: Float32Array, scale?: Float32Array): Value {
  const [kh, kw, cin, m] = filter.shape as [number, number, number, number];
  let w: TfTensor;
  let group = 1;
  let cout: number;
  if (depthwise) {
    const t = transposeTensor(filter, [2, 3, 0, 1]); // C, M, H, W
    cout = cin * m;
    w = { dtype: 'float32', shape: [cout, 1, kh, kw], data: t.data };
    group = cin;
  } else {
    w = transposeTensor(filter, [3, 2, 0, 1]); // O, I, H, W
    cout = m;
    const xc = x.shape?.[3] ?? -1;
    if (xc > 0 && xc !== cin) group = xc / cin;
  }
  if (scale) {
    const d = Float32Array.from(w.data as Float32Array);
    const per = elementCount(w.shape) / cout;
    for (let o = 0; o < cout; o++) for (let i = 0; i < per; i++) d[o * per + i]! *= scale[o]!;
    w = { ...w, data: d };
  }
  const g = geometry(n, x, [kh, kw]);
  const inputs = [c.nchw(x), c.initializer(w, 'weights')];
  if (bias) inputs.push(c.initializer({ dtype: 'float32', shape: [cout], data: bias }, 'bias'));
  const attrs: Record<string, number | number[] | string> = { ...geomAttrs(g), kernel_shape: [kh, kw] };
  if (group !== 1) attrs.group = group;
  const out: Value = { dtype: 'float32', nchw: c.node1('Conv', inputs, attrs) };
  out.shape = [x.shape?.[0] ?? -1, g.outHW[0]!, g.outHW[1]!, cout];
  return out;
}

function f32(t: TfTensor): Float32Array {
  return t.data instanceof Float32Array ? t.data : Float32Array.from(numbers(t));
}

/** BatchNorm parameters as per-channel scale and shift. */
function bnFold(n: TfNode, scale: TfTensor, offset: TfTensor, mean: TfTensor, variance: TfTensor): { a: Float32Array; b: Float32Array } {
  const eps = attrFloat(n, 'epsilon', 1e-3);
  const s = f32(scale), o = f32(offset), mu = f32(mean), v = f32(variance);
  const a = new Float32Array(s.length);
  const b = new Float32Array(s.length);
  for (let i = 0; i < s.length; i++) {
    a[i] = s[i]! / Math.sqrt(v[i]! + eps);
    b[i] = o[i]! - mu[i]! * a[i]!;
  }
  return { a, b };
}

function convOp(depthwise: boolean, fused: boolean) {
  return (c: Ctx, n: TfNode, ins: Value[]): Value[] => {
    const filter = constOf(n, ins[1], 'filter');
    const ops = fused ? attrStrs(n, 'fused_ops') : [];
    const args = ins.slice(2);
    let bias: Float32Array | undefined;
    let scale: Float32Array | undefined;
    let k = 0;
    let i = 0;
    if (ops[0] === 'BiasAdd' && args[0]?.value) {
      bias = f32(args[0].value);
      k = 1;
      i = 1;
    } else if ((ops[0] === 'FusedBatchNorm' || ops[0] === 'FusedBatchNormV3') && args.slice(0, 4).every((a) => a?.value)) {
      const f = bnFold(n, args[0]!.value!, args[1]!.value!, args[2]!.value!, args[3]!.value!);
      scale = f.a;
      bias = f.b;
      k = 4;
      i = 1;
    }
    let y = conv(c, n, ins[0]!, filter, depthwise, bias, scale);
    for (; i < ops.length; i++) {
      const op = ops[i]!;
      if (op === 'BiasAdd') y = binary(c, 'Add', y, args[k++]!);
      else if (op === 'Add') y = binary(c, 'Add', y, args[k++]!);
      else y = activation(c, op, y, n, op === 'Prelu' ? [args[k++]!] : []);
    }
    return [y];
  };
}

function pool(op: 'MaxPool' | 'AveragePool') {
  return (c: Ctx, n: TfNode, ins: Value[]): Value[] => {
    const x = ins[0]!;
    const k = attrInts(n, 'ksize') ?? [1, 1, 1, 1];
    if (k[0] !== 1 || k[3] !== 1) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: pooling over batch or channels`);
    const g = geometry(n, x, [k[1]!, k[2]!]);
    const attrs: Record<string, number[] | string> = { ...geomAttrs(g), kernel_shape: [k[1]!, k[2]!] };
    delete attrs.dilations; // AveragePool has none before opset 19
    const out: Value = { dtype: x.dtype, nchw: c.node1(op, [c.nchw(x)], attrs) };
    out.shape = [x.shape?.[0] ?? -1, g.outHW[0]!, g.outHW[1]!, x.shape?.[3] ?? -1];
    return [out];
  };
}

export const convOps: OpTable = {
  Conv2D: convOp(false, false),
  _FusedConv2D: convOp(false, true),
  DepthwiseConv2dNative: convOp(true, false),
  FusedDepthwiseConv2dNative: convOp(true, true),
  MaxPool: pool('MaxPool'),
  AvgPool: pool('AveragePool'),
};

function batchNorm(c: Ctx, n: TfNode, ins: Value[]): Value[] {
  const [x, s, o, m, v] = ins;
  const f = bnFold(n, constOf(n, s, 'scale'), constOf(n, o, 'offset'), constOf(n, m, 'mean'), constOf(n, v, 'variance'));
  const C = f.a.length;
  const y = binary(c, 'Add', binary(c, 'Mul', x!, { dtype: 'float32', value: { dtype: 'float32', shape: [C], data: f.a } }), { dtype: 'float32', value: { dtype: 'float32', shape: [C], data: f.b } });
  return [y];
}
convOps.FusedBatchNorm = convOps.FusedBatchNormV2 = convOps.FusedBatchNormV3 = batchNorm;
