/**
 * Detection-graph ops: NonMaxSuppressionV3/V4/V5 (→ ONNX NonMaxSuppression on one batch and one class), TopKV2,
 * Where (one input: coordinates of true elements), Range; and the spatial rearrangements DepthToSpace,
 * SpaceToDepth, Conv2DBackpropInput (→ ConvTranspose).
 */
import { onnx } from '../../onnx';
import { TensorRTError } from '../../errors';
import { attrBool, attrInt, attrInts, attrStr, attrType, type TfNode } from '../graph';
import { numbers, onnxType, transposeTensor, type Ctx, type Value } from '../context';
import type { OpTable } from './types';

const DT = onnx.TensorProto.DataType;

function v(dtype: Value['dtype'], nhwc: string, shape?: number[]): Value {
  const r: Value = { dtype, nhwc };
  if (shape) r.shape = shape;
  return r;
}

function nms(version: 3 | 4 | 5) {
  return (c: Ctx, n: TfNode, ins: Value[]): Value[] => {
    const [boxes, scores, maxOut, iou, scoreThr] = ins as [Value, Value, Value, Value, Value | undefined];
    if (version === 5) {
      const sigma = ins[5]?.value ? numbers(ins[5].value)[0] : undefined;
      if (sigma !== 0) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: NonMaxSuppressionV5 with soft_nms_sigma ≠ 0 (Soft-NMS) is not supported`);
    }
    const b = c.node1('Unsqueeze', [c.ref(boxes), c.i64([0])]);
    const s = c.node1('Unsqueeze', [c.ref(scores), c.i64([0, 1])]);
    const f1 = (x: Value) => c.node1('Reshape', [x.dtype === 'float32' ? c.ref(x) : c.node1('Cast', [c.ref(x)], { to: DT.FLOAT }), c.i64([1])]);
    const maxI = c.node1('Reshape', [c.int64(maxOut), c.i64([1])]);
    const inputs = [b, s, maxI, f1(iou)];
    if (scoreThr) inputs.push(f1(scoreThr));
    const sel = c.node1('NonMaxSuppression', inputs, { center_point_box: 0 });
    const idx64 = c.node1('Squeeze', [c.node1('Gather', [sel, c.i64([2])], { axis: 1 }), c.i64([1])]);
    const count = c.node1('Shape', [idx64]); // [m]
    const pad = version >= 4 && attrBool(n, 'pad_to_max_output_size', false);
    const max = maxOut.value ? numbers(maxOut.value)[0]! : -1;
    let idx = idx64;
    if (pad) {
      const padLen = c.node1('Sub', [maxI, count]);
      idx = c.node1('Pad', [idx64, c.node1('Concat', [c.i64([0]), padLen], { axis: 0 })], { mode: 'constant' });
    }
    const idx32 = c.node1('Cast', [idx], { to: DT.INT32 });
    const outs: Value[] = [v('int32', idx32, [pad ? max : -1])];
    if (version === 5) {
      const sc = c.node1('Gather', [c.ref(scores), idx64], { axis: 0 });
      const scPadded = pad ? c.node1('Pad', [sc, c.node1('Concat', [c.i64([0]), c.node1('Sub', [maxI, count])], { axis: 0 })], { mode: 'constant' }) : sc;
      outs.push(v(scores.dtype, scPadded, [pad ? max : -1]));
    }
    if (version >= 4) outs.push(v('int32', c.node1('Cast', [c.node1('Squeeze', [count, c.i64([0])])], { to: DT.INT32 }), []));
    return outs;
  };
}

function spaceDepth(op: 'DepthToSpace' | 'SpaceToDepth') {
  return (c: Ctx, n: TfNode, ins: Value[]): Value[] => {
    const x = ins[0]!;
    if (attrStr(n, 'data_format', 'NHWC') !== 'NHWC') throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${op} with data_format other than NHWC`);
    const bs = attrInt(n, 'block_size', 2);
    const attrs: Record<string, number | string> = { blocksize: bs };
    if (op === 'DepthToSpace') attrs.mode = 'DCR';
    const s = x.shape;
    const r: Value = { dtype: x.dtype, nchw: c.node1(op, [c.nchw(x)], attrs) };
    if (s) {
      const f = (d: number, m: number) => (d < 0 ? -1 : m > 0 ? d * m : d / -m);
      r.shape = op === 'DepthToSpace' ? [s[0]!, f(s[1]!, bs), f(s[2]!, bs), f(s[3]!, -(bs * bs))] : [s[0]!, f(s[1]!, -bs), f(s[2]!, -bs), f(s[3]!, bs * bs)];
    }
    return [r];
  };
}

function conv2dBackpropInput(c: Ctx, n: TfNode, ins: Value[]): Value[] {
  const [sizes, filter, dy] = ins as [Value, Value, Value];
  if (!sizes.value || !filter.value) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: Conv2DBackpropInput needs constant input_sizes and filter`);
  if (attrStr(n, 'data_format', 'NHWC') !== 'NHWC') throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: data_format other than NHWC`);
  const out = numbers(sizes.value); // N, H, W, C
  const [kh, kw, oc] = filter.value.shape as [number, number, number, number];
  const st = attrInts(n, 'strides') ?? [1, 1, 1, 1];
  const dl = attrInts(n, 'dilations') ?? [1, 1, 1, 1];
  const strides = [st[1]!, st[2]!];
  const dil = [dl[1]!, dl[2]!];
  const inHW = [dy.shape?.[1] ?? -1, dy.shape?.[2] ?? -1];
  if (inHW.some((d) => d < 0)) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: Conv2DBackpropInput needs a known spatial size of out_backprop`);
  const padding = attrStr(n, 'padding', 'VALID');
  const k = [kh, kw];
  const before: number[] = [], after: number[] = [], outPad: number[] = [];
  for (let i = 0; i < 2; i++) {
    const eff = (k[i]! - 1) * dil[i]! + 1;
    let total: number;
    if (padding === 'SAME') total = Math.max((Math.ceil(out[i + 1]! / strides[i]!) - 1) * strides[i]! + eff - out[i + 1]!, 0);
    else if (padding === 'VALID') total = 0;
    else throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: padding ${padding}`);
    const full = (inHW[i]! - 1) * strides[i]! + eff - total;
    before.push(Math.floor(total / 2));
    after.push(total - Math.floor(total / 2));
    outPad.push(out[i + 1]! - full);
  }
  if (outPad.some((p) => p < 0)) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: input_sizes smaller than the transposed convolution gives`);
  // TF filter [kh, kw, out_channels(of the result), in_channels(of dy)] → ONNX ConvTranspose W [C_in(dy), C_out, kh, kw].
  const w = transposeTensor(filter.value, [3, 2, 0, 1]);
  const y = c.node1('ConvTranspose', [c.nchw(dy), c.initializer(w, 'weights')], {
    kernel_shape: k, strides, dilations: dil, pads: [...before, ...after], output_padding: outPad,
  });
  return [{ dtype: dy.dtype, shape: [out[0]!, out[1]!, out[2]!, oc], nchw: y }];
}

export const detectionOps: OpTable = {
  NonMaxSuppressionV2: nms(3),
  NonMaxSuppressionV3: nms(3),
  NonMaxSuppressionV4: nms(4),
  NonMaxSuppressionV5: nms(5),
  TopKV2: (c, n, ins) => {
    const x = ins[0]!;
    const k = c.node1('Reshape', [c.int64(ins[1]!), c.i64([1])]);
    if (!attrBool(n, 'sorted', true)) { /* ONNX TopK sorted=1 is a valid order for sorted=false */ }
    const [vals, idx] = c.node('TopK', [c.ref(x), k], { axis: -1, largest: 1, sorted: 1 }, 2);
    const kv = ins[1]!.value ? numbers(ins[1]!.value)[0]! : -1;
    const shape = x.shape ? [...x.shape.slice(0, -1), kv] : undefined;
    return [v(x.dtype, vals!, shape), v('int32', c.node1('Cast', [idx!], { to: DT.INT32 }), shape)];
  },
  Where: (c, n, ins) => {
    if (ins.length !== 1) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: Where with 3 inputs (use SelectV2)`);
    const x = ins[0]!;
    const nz = c.node1('NonZero', [c.ref(x)]);
    return [v('int64', c.node1('Transpose', [nz], { perm: [1, 0] }), [-1, x.shape?.length ?? -1])];
  },
  Range: (c, n, ins) => {
    const t = attrType(n, 'Tidx') ?? ins[0]!.dtype;
    const sc = (x: Value) => {
      const r = c.ref(x);
      const cast = x.dtype === t ? r : c.node1('Cast', [r], { to: onnxType(t) });
      return x.shape && x.shape.length === 0 ? cast : c.node1('Reshape', [cast, c.i64([])]);
    };
    const vals = ins.map((x) => (x.value ? numbers(x.value)[0] : undefined));
    const len = vals.every((q) => q !== undefined) ? Math.max(Math.ceil((vals[1]! - vals[0]!) / vals[2]!), 0) : -1;
    return [v(t, c.node1('Range', [sc(ins[0]!), sc(ins[1]!), sc(ins[2]!)]), [len])];
  },
  DepthToSpace: spaceDepth('DepthToSpace'),
  SpaceToDepth: spaceDepth('SpaceToDepth'),
  Conv2DBackpropInput: conv2dBackpropInput,
};

/** SpaceToBatchND for 4-D NHWC input and 2 block dimensions (dilated convolutions of TF1 graphs). */
function spaceToBatch(c: Ctx, n: TfNode, ins: Value[]): Value[] {
  const [x, bv, pv] = ins as [Value, Value, Value];
  if (!bv.value || !pv.value) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: SpaceToBatchND needs constant block_shape and paddings`);
  const b = numbers(bv.value);
  const p = numbers(pv.value);
  const s = x.shape;
  if (b.length !== 2 || !s || s.length !== 4 || s[1]! < 0 || s[2]! < 0 || s[3]! < 0) {
    throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: SpaceToBatchND needs a 4-D input of known H, W, C and a 2-D block`);
  }
  const H = s[1]! + p[0]! + p[1]!, W = s[2]! + p[2]! + p[3]!, C = s[3]!;
  const padded = c.node1('Pad', [c.ref(x), c.i64([0, p[0]!, p[2]!, 0, 0, p[1]!, p[3]!, 0])], { mode: 'constant' });
  const r1 = c.node1('Reshape', [padded, c.i64([-1, H / b[0]!, b[0]!, W / b[1]!, b[1]!, C])]);
  const t = c.node1('Transpose', [r1], { perm: [2, 4, 0, 1, 3, 5] });
  const y = c.node1('Reshape', [t, c.i64([-1, H / b[0]!, W / b[1]!, C])]);
  return [v(x.dtype, y, [s[0]! < 0 ? -1 : s[0]! * b[0]! * b[1]!, H / b[0]!, W / b[1]!, C])];
}

/** BatchToSpaceND, the inverse, for 4-D NHWC input and 2 block dimensions. */
function batchToSpace(c: Ctx, n: TfNode, ins: Value[]): Value[] {
  const [x, bv, cv] = ins as [Value, Value, Value];
  if (!bv.value || !cv.value) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: BatchToSpaceND needs constant block_shape and crops`);
  const b = numbers(bv.value);
  const cr = numbers(cv.value);
  const s = x.shape;
  if (b.length !== 2 || !s || s.length !== 4 || s[1]! < 0 || s[2]! < 0 || s[3]! < 0) {
    throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: BatchToSpaceND needs a 4-D input of known H, W, C and a 2-D block`);
  }
  const h = s[1]!, w = s[2]!, C = s[3]!;
  const r1 = c.node1('Reshape', [c.ref(x), c.i64([b[0]!, b[1]!, -1, h, w, C])]);
  const t = c.node1('Transpose', [r1], { perm: [2, 3, 0, 4, 1, 5] });
  const r2 = c.node1('Reshape', [t, c.i64([-1, h * b[0]!, w * b[1]!, C])]);
  const H = h * b[0]! - cr[0]! - cr[1]!, W = w * b[1]! - cr[2]! - cr[3]!;
  const y = c.node1('Slice', [r2, c.i64([cr[0]!, cr[2]!]), c.i64([cr[0]! + H, cr[2]! + W]), c.i64([1, 2])]);
  return [v(x.dtype, y, [s[0]! < 0 ? -1 : s[0]! / (b[0]! * b[1]!), H, W, C])];
}
detectionOps.SpaceToBatchND = spaceToBatch;
detectionOps.BatchToSpaceND = batchToSpace;
