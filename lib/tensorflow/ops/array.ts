/**
 * Shape and indexing ops: Identity, Reshape, Squeeze, ExpandDims, Transpose, ConcatV2, Pack/Unpack, Slice,
 * StridedSlice (begin/end/ellipsis/new-axis/shrink masks), Split/SplitV, Tile, Shape, Fill, Pad/PadV2/MirrorPad,
 * Gather/GatherV2/GatherNd, and the image resizes.
 */
import { onnx } from '../../onnx';
import { TensorRTError } from '../../errors';
import { attrBool, attrInt, attrStr, attrType, elementCount, type TfNode, type TfTensor } from '../graph';
import { numbers, onnxType, typedOf, type Ctx, type Value } from '../context';
import { nchwAxesKeepingOrder } from './math';
import type { OpTable } from './types';

const DT = onnx.TensorProto.DataType;
const BIG = 2 ** 62;

function constNums(n: TfNode, v: Value | undefined, what: string): number[] {
  if (!v?.value) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} needs a constant ${what}`);
  return numbers(v.value);
}

function rankOf(n: TfNode, v: Value): number {
  const r = v.shape?.length;
  if (r === undefined) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} on a tensor of unknown rank (give the graph inputs' shapes: --inputs name:1x224x224x3)`);
  return r;
}

function norm(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function out(dtype: Value['dtype'], nhwc: string, shape?: number[]): Value {
  const v: Value = { dtype, nhwc };
  if (shape) v.shape = shape;
  return v;
}

function squeeze(c: Ctx, x: string, axes: number[]): string {
  if (axes.length === 0) return x;
  return c.node1('Squeeze', [x, c.i64(axes)]);
}

function unsqueeze(c: Ctx, x: string, axes: number[]): string {
  if (axes.length === 0) return x;
  return c.node1('Unsqueeze', [x, c.i64(axes)]);
}

function sliceLen(d: number, b: number, e: number, s: number): number {
  if (d < 0) return -1;
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  if (s > 0) {
    const bb = clamp(b < 0 ? b + d : b, 0, d);
    const ee = clamp(e < 0 ? e + d : e, 0, d);
    return Math.max(0, Math.ceil((ee - bb) / s));
  }
  const bb = clamp(b < 0 ? b + d : b, -1, d - 1);
  const ee = clamp(e < 0 ? e + d : e, -1, d - 1);
  return Math.max(0, Math.ceil((ee - bb) / s));
}

function stridedSlice(c: Ctx, n: TfNode, ins: Value[]): Value[] {
  const x = ins[0]!;
  const begin = constNums(n, ins[1], 'begin');
  const end = constNums(n, ins[2], 'end');
  const strides = ins[3] ? constNums(n, ins[3], 'strides') : begin.map(() => 1);
  const bm = attrInt(n, 'begin_mask', 0), em = attrInt(n, 'end_mask', 0), elm = attrInt(n, 'ellipsis_mask', 0);
  const nam = attrInt(n, 'new_axis_mask', 0), sm = attrInt(n, 'shrink_axis_mask', 0);
  const r = rankOf(n, x);
  const bit = (m: number, i: number) => ((m >> i) & 1) === 1;
  let specDims = 0;
  for (let i = 0; i < begin.length; i++) if (!bit(elm, i) && !bit(nam, i)) specDims++;
  const starts: number[] = [], ends: number[] = [], axes: number[] = [], steps: number[] = [];
  const shrink: number[] = [];
  const newAxes: number[] = [];
  const sliceShape = x.shape!.slice();
  let dim = 0;
  let outPos = 0;
  let sawEllipsis = false;
  for (let i = 0; i < begin.length; i++) {
    if (bit(elm, i)) {
      if (sawEllipsis) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: more than one ellipsis`);
      sawEllipsis = true;
      const k = r - specDims;
      dim += k;
      outPos += k;
    } else if (bit(nam, i)) {
      newAxes.push(outPos++);
    } else {
      const s = strides[i]!;
      if (s === 0) throw new TensorRTError('INVALID_ARGUMENT', `${n.name}: StridedSlice stride 0`);
      let b = begin[i]!, e = end[i]!;
      if (bit(sm, i)) {
        e = b === -1 ? BIG : b + 1;
        shrink.push(dim);
        if (!(b === 0 && e === BIG)) { starts.push(b); ends.push(e); axes.push(dim); steps.push(1); }
        sliceShape[dim] = 1;
      } else {
        if (bit(bm, i)) b = s > 0 ? 0 : BIG;
        if (bit(em, i)) e = s > 0 ? BIG : -BIG;
        const full = s === 1 && b === 0 && e === BIG;
        if (!full) { starts.push(b); ends.push(e); axes.push(dim); steps.push(s); }
        sliceShape[dim] = sliceLen(x.shape![dim]!, b, e, s);
        outPos++;
      }
      dim++;
    }
  }
  let y = c.ref(x);
  if (axes.length) y = c.node1('Slice', [y, c.i64(starts), c.i64(ends), c.i64(axes), c.i64(steps)]);
  y = squeeze(c, y, shrink);
  y = unsqueeze(c, y, newAxes);
  const shape = sliceShape.filter((_d, i) => !shrink.includes(i));
  for (const a of newAxes) shape.splice(a, 0, 1);
  if (axes.length === 0 && shrink.length === 0 && newAxes.length === 0) y = c.node1('Identity', [y]);
  return [out(x.dtype, y, shape)];
}

function concat(c: Ctx, n: TfNode, ins: Value[]): Value[] {
  const vals = ins.slice(0, -1);
  const r = rankOf(n, vals[0]!);
  const axis = norm(constNums(n, ins[ins.length - 1], 'axis')[0]!, r);
  const shape = vals[0]!.shape!.slice();
  shape[axis] = vals.reduce((a, v) => (a < 0 || (v.shape?.[axis] ?? -1) < 0 ? -1 : a + v.shape![axis]!), 0);
  if (r === 4 && vals.every((v) => v.nchw !== undefined && v.nhwc === undefined)) {
    const y = c.node1('Concat', vals.map((v) => c.nchw(v)), { axis: [0, 2, 3, 1][axis]! });
    return [{ dtype: vals[0]!.dtype, shape, nchw: y }];
  }
  return [out(vals[0]!.dtype, c.node1('Concat', vals.map((v) => c.ref(v)), { axis }), shape)];
}

function split(c: Ctx, n: TfNode, x: Value, axisV: Value | undefined, sizes: number[] | undefined, num: number): Value[] {
  const r = rankOf(n, x);
  const axis = norm(constNums(n, axisV, 'axis')[0]!, r);
  const d = x.shape![axis]!;
  let parts = sizes;
  if (parts && parts.includes(-1)) {
    const known = parts.filter((p) => p >= 0).reduce((a, p) => a + p, 0);
    parts = d > 0 ? parts.map((p) => (p < 0 ? d - known : p)) : undefined;
    if (!parts) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: SplitV with -1 on a dimension of unknown size`);
  }
  if (!parts && d > 0) parts = new Array<number>(num).fill(d / num);
  const inputs = [c.ref(x)];
  const attrs: Record<string, number> = { axis };
  if (parts) inputs.push(c.i64(parts));
  else if (c.opset >= 18) attrs.num_outputs = num;
  const outs = c.node('Split', inputs, attrs, num);
  return outs.map((o, i) => out(x.dtype, o, x.shape!.map((s, j) => (j === axis ? (parts ? parts[i]! : -1) : s))));
}

function resize(mode: 'linear' | 'nearest') {
  return (c: Ctx, n: TfNode, ins: Value[]): Value[] => {
    const x = ins[0]!;
    const hw = constNums(n, ins[1], 'size');
    const align = attrBool(n, 'align_corners', false);
    const half = attrBool(n, 'half_pixel_centers', false);
    const attrs: Record<string, string | number> = { mode };
    if (mode === 'linear') attrs.coordinate_transformation_mode = align ? 'align_corners' : half ? 'half_pixel' : 'asymmetric';
    else {
      attrs.coordinate_transformation_mode = align ? 'align_corners' : half ? 'tf_half_pixel_for_nn' : 'asymmetric';
      attrs.nearest_mode = align ? 'round_prefer_ceil' : 'floor';
    }
    const xs = c.nchw(x);
    let sizes: string;
    if (x.shape && x.shape[0]! > 0 && x.shape[3]! > 0) sizes = c.i64([x.shape[0]!, x.shape[3]!, hw[0]!, hw[1]!]);
    else {
      const sh = c.node1('Shape', [xs]);
      const nc = c.node1('Slice', [sh, c.i64([0]), c.i64([2])]);
      sizes = c.node1('Concat', [nc, c.i64(hw)], { axis: 0 });
    }
    const y = c.node1('Resize', [xs, '', '', sizes], attrs);
    return [{ dtype: x.dtype, shape: [x.shape?.[0] ?? -1, hw[0]!, hw[1]!, x.shape?.[3] ?? -1], nchw: y }];
  };
}

/**
 * TensorFlow's ResizeBicubic weights along one axis, as a dense [outSize, inSize] matrix (resize_bicubic_op.cc):
 * the kernel sampled into a 1024-entry table (Keys a = -0.5 with half_pixel_centers, a = -0.75 otherwise), the
 * fraction of the source position looked up by lrintf(delta * 1024), indices clamped to the edge; with
 * half_pixel_centers taps outside the image get weight 0 and the rest are renormalized to sum 1, otherwise a
 * clamped tap adds its weight to the edge pixel. All in float32, as TF computes it.
 */
export function bicubicWeights(inSize: number, outSize: number, alignCorners: boolean, halfPixel: boolean): Float32Array {
  const f = Math.fround;
  const TABLE = 1024;
  const a = halfPixel ? -0.5 : -0.75;
  const table = new Float32Array((TABLE + 1) * 2);
  for (let i = 0; i <= TABLE; i++) {
    let x = f(i / TABLE);
    table[i * 2] = ((a + 2) * x - (a + 3)) * x * x + 1;
    x = f(x + 1);
    table[i * 2 + 1] = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  }
  const scale = alignCorners && outSize > 1 ? f(f(inSize - 1) / f(outSize - 1)) : f(f(inSize) / f(outSize));
  const bound = (v: number): number => Math.min(inSize - 1, Math.max(0, v));
  const lrint = (v: number): number => {
    const r = Math.round(v);
    return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r; // round half to even
  };
  const m = new Float32Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    const locF = halfPixel ? f(f(f(o + 0.5) * scale) - 0.5) : f(o * scale);
    const loc = Math.floor(locF);
    const off = lrint(f(f(locF - loc) * TABLE));
    const idx = [bound(loc - 1), bound(loc), bound(loc + 1), bound(loc + 2)];
    const w = [table[off * 2 + 1]!, table[off * 2]!, table[(TABLE - off) * 2]!, table[(TABLE - off) * 2 + 1]!];
    if (halfPixel) {
      for (let k = 0; k < 4; k++) if (idx[k] !== loc - 1 + k) w[k] = 0;
      const sum = f(f(f(w[0]! + w[1]!) + w[2]!) + w[3]!);
      if (Math.abs(sum) >= 1000 * 1.1754943508222875e-38) {
        const inv = f(1 / sum);
        for (let k = 0; k < 4; k++) w[k] = f(w[k]! * inv);
      }
    }
    for (let k = 0; k < 4; k++) m[o * inSize + idx[k]!] = f(m[o * inSize + idx[k]!]! + w[k]!);
  }
  return m;
}

/** ResizeBicubic as two constant interpolation matrices (rows, then columns) applied with MatMul in NCHW. */
function resizeBicubic(c: Ctx, n: TfNode, ins: Value[]): Value[] {
  const x = ins[0]!;
  const hw = constNums(n, ins[1], 'size');
  const [h, w] = [x.shape?.[1] ?? -1, x.shape?.[2] ?? -1];
  if (x.shape?.length !== 4 || !(h > 0) || !(w > 0)) {
    throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ResizeBicubic of an input whose height and width are not known (give the graph inputs' shapes: --inputs name:1x224x224x3)`);
  }
  const align = attrBool(n, 'align_corners', false);
  const half = attrBool(n, 'half_pixel_centers', false);
  const [oh, ow] = [hw[0]!, hw[1]!];
  const wy = bicubicWeights(h, oh, align, half);
  const wx = bicubicWeights(w, ow, align, half);
  const wxT = new Float32Array(w * ow);
  for (let o = 0; o < ow; o++) for (let i = 0; i < w; i++) wxT[i * ow + o] = wx[o * w + i]!;
  let xs = c.nchw(x);
  if (x.dtype !== 'float32') xs = c.node1('Cast', [xs], { to: DT.FLOAT });
  const rows = c.node1('MatMul', [c.initializer({ dtype: 'float32', shape: [oh, h], data: wy }, 'bicubic_rows'), xs]);
  const y = c.node1('MatMul', [rows, c.initializer({ dtype: 'float32', shape: [w, ow], data: wxT }, 'bicubic_cols')]);
  return [{ dtype: 'float32', shape: [x.shape[0]!, oh, ow, x.shape[3]!], nchw: y }];
}

export const arrayOps: OpTable = {
  Identity: (_c, _n, ins) => [ins[0]!],
  StopGradient: (_c, _n, ins) => [ins[0]!],
  Snapshot: (_c, _n, ins) => [ins[0]!],
  IdentityN: (_c, _n, ins) => ins,
  Reshape: (c, n, ins) => {
    const x = ins[0]!;
    const sv = ins[1]!;
    let shape: number[] | undefined;
    if (sv.value) {
      shape = numbers(sv.value);
      const total = x.shape && x.shape.every((d) => d >= 0) ? elementCount(x.shape) : -1;
      const known = shape.filter((d) => d >= 0).reduce((a, d) => a * d, 1);
      if (total >= 0 && shape.includes(-1) && known > 0) shape = shape.map((d) => (d < 0 ? total / known : d));
      if (shape.includes(0)) {
        if (c.opset < 14) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: Reshape to a zero-sized dimension needs opset 14`);
        return [out(x.dtype, c.node1('Reshape', [c.ref(x), c.int64(sv)], { allowzero: 1 }), shape)];
      }
    } else if (sv.shape?.length === 1 && sv.shape[0]! > 0) shape = new Array<number>(sv.shape[0]!).fill(-1);
    return [out(x.dtype, c.node1('Reshape', [c.ref(x), c.int64(sv)]), shape)];
  },
  Squeeze: (c, n, ins) => {
    const x = ins[0]!;
    let dims = (n.attr.squeeze_dims ?? n.attr.axis)?.list?.i?.map(Number) ?? [];
    const r = rankOf(n, x);
    if (dims.length === 0) {
      if (!x.shape!.every((d) => d >= 0)) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: Squeeze of all 1-dims on a tensor of unknown shape`);
      dims = x.shape!.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
    }
    dims = dims.map((a) => norm(a, r));
    const shape = x.shape!.filter((_d, i) => !dims.includes(i));
    const mapped = r === 4 && x.nchw !== undefined && x.nhwc === undefined ? nchwAxesKeepingOrder(dims) : undefined;
    if (mapped) return [out(x.dtype, squeeze(c, c.nchw(x), mapped), shape)];
    return [out(x.dtype, squeeze(c, c.ref(x), dims), shape)];
  },
  ExpandDims: (c, n, ins) => {
    const x = ins[0]!;
    const r = rankOf(n, x);
    let a = constNums(n, ins[1], 'axis')[0]!;
    if (a < 0) a += r + 1;
    const shape = x.shape!.slice();
    shape.splice(a, 0, 1);
    return [out(x.dtype, unsqueeze(c, c.ref(x), [a]), shape)];
  },
  Transpose: (c, n, ins) => {
    const x = ins[0]!;
    const perm = constNums(n, ins[1], 'perm');
    const shape = x.shape ? perm.map((p) => x.shape![p]!) : undefined;
    if (x.nchw && x.nhwc === undefined && perm.join() === '0,3,1,2') return [out(x.dtype, x.nchw, shape)];
    return [out(x.dtype, c.node1('Transpose', [c.ref(x)], { perm }), shape)];
  },
  ConcatV2: concat,
  Concat: (c, n, ins) => concat(c, n, [...ins.slice(1), ins[0]!]),
  Pack: (c, n, ins) => {
    const r = rankOf(n, ins[0]!);
    const axis = norm(attrInt(n, 'axis', 0), r + 1);
    const parts = ins.map((v) => unsqueeze(c, c.ref(v), [axis]));
    const shape = ins[0]!.shape!.slice();
    shape.splice(axis, 0, ins.length);
    return [out(ins[0]!.dtype, c.node1('Concat', parts, { axis }), shape)];
  },
  Unpack: (c, n, ins) => {
    const x = ins[0]!;
    const r = rankOf(n, x);
    const axis = norm(attrInt(n, 'axis', 0), r);
    const num = attrInt(n, 'num', x.shape![axis]!);
    const parts = split(c, n, x, { dtype: 'int32', value: { dtype: 'int32', shape: [], data: Int32Array.of(axis) } }, new Array<number>(num).fill(1), num);
    return parts.map((p) => out(x.dtype, squeeze(c, c.ref(p), [axis]), x.shape!.filter((_d, i) => i !== axis)));
  },
  Split: (c, n, ins) => split(c, n, ins[1]!, ins[0], undefined, attrInt(n, 'num_split', 1)),
  SplitV: (c, n, ins) => split(c, n, ins[0]!, ins[2], constNums(n, ins[1], 'size_splits'), attrInt(n, 'num_split', 1)),
  Slice: (c, n, ins) => {
    const x = ins[0]!;
    if (!ins[1]!.value || !ins[2]!.value) {
      // Computed begin/size: end = begin + size, or the end of the axis where size is −1.
      const r = ins[1]!.shape?.[0] ?? x.shape?.length;
      if (r === undefined || r < 0) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: Slice with computed begin/size of unknown length`);
      const b = c.int64(ins[1]!);
      const sz = c.int64(ins[2]!);
      const e = c.node1('Where', [c.node1('Less', [sz, c.i64([0], true)]), c.i64([BIG], true), c.node1('Add', [b, sz])]);
      const axes = Array.from({ length: r }, (_v, i) => i);
      const shape = ins[2]!.value ? numbers(ins[2]!.value) : new Array<number>(r).fill(-1);
      return [out(x.dtype, c.node1('Slice', [c.ref(x), b, e, c.i64(axes)]), shape.map((d) => (d < 0 ? -1 : d)))];
    }
    const begin = constNums(n, ins[1], 'begin');
    const size = constNums(n, ins[2], 'size');
    const ends = begin.map((b, i) => (size[i]! < 0 ? BIG : b + size[i]!));
    const shape = x.shape?.map((d, i) => (size[i]! >= 0 ? size[i]! : d >= 0 ? d - begin[i]! : -1));
    const axes = begin.map((_b, i) => i);
    return [out(x.dtype, c.node1('Slice', [c.ref(x), c.i64(begin), c.i64(ends), c.i64(axes)]), shape)];
  },
  StridedSlice: stridedSlice,
  Tile: (c, _n, ins) => {
    const x = ins[0]!;
    const m = ins[1]!.value ? numbers(ins[1]!.value) : undefined;
    const shape = x.shape && m ? x.shape.map((d, i) => (d < 0 ? -1 : d * m[i]!)) : x.shape?.map(() => -1);
    return [out(x.dtype, c.node1('Tile', [c.ref(x), c.int64(ins[1]!)]), shape)];
  },
  Shape: (c, n, ins) => {
    const x = ins[0]!;
    const t = attrType(n, 'out_type') ?? 'int32';
    if (x.shape && x.shape.every((d) => d >= 0)) {
      return [{ dtype: t, shape: [x.shape.length], value: { dtype: t, shape: [x.shape.length], data: typedOf(t, x.shape) } }];
    }
    const s = c.node1('Shape', [c.ref(x)]);
    const shape = x.shape ? [x.shape.length] : [-1];
    return [out(t, t === 'int64' ? s : c.node1('Cast', [s], { to: onnxType(t) }), shape)];
  },
  Fill: (c, _n, ins) => {
    const dims = ins[0]!;
    const v = ins[1]!;
    const shape = dims.value ? numbers(dims.value) : dims.shape?.length === 1 && dims.shape[0]! >= 0 ? new Array<number>(dims.shape[0]!).fill(-1) : undefined;
    return [out(v.dtype, c.node1('Expand', [c.ref(v), c.int64(dims)]), shape)];
  },
  ZerosLike: (c, _n, ins) => [out(ins[0]!.dtype, c.node1('Mul', [c.ref(ins[0]!), c.scalar(0, ins[0]!.dtype)]), ins[0]!.shape)],
  OnesLike: (c, _n, ins) => [out(ins[0]!.dtype, c.node1('Add', [c.node1('Mul', [c.ref(ins[0]!), c.scalar(0, ins[0]!.dtype)]), c.scalar(1, ins[0]!.dtype)]), ins[0]!.shape)],
  GatherV2: (c, n, ins) => {
    const [x, idx] = [ins[0]!, ins[1]!];
    if (attrInt(n, 'batch_dims', 0) !== 0) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: GatherV2 with batch_dims`);
    const r = rankOf(n, x);
    const axis = norm(constNums(n, ins[2], 'axis')[0]!, r);
    const shape = x.shape && idx.shape ? [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)] : undefined;
    return [out(x.dtype, c.node1('Gather', [c.ref(x), c.int64(idx)], { axis }), shape)];
  },
  Gather: (c, _n, ins) => {
    const [x, idx] = [ins[0]!, ins[1]!];
    const shape = x.shape && idx.shape ? [...idx.shape, ...x.shape.slice(1)] : undefined;
    return [out(x.dtype, c.node1('Gather', [c.ref(x), c.int64(idx)], { axis: 0 }), shape)];
  },
  GatherNd: (c, _n, ins) => {
    const [x, idx] = [ins[0]!, ins[1]!];
    const k = idx.shape?.[idx.shape.length - 1];
    const shape = x.shape && idx.shape && k !== undefined && k >= 0 ? [...idx.shape.slice(0, -1), ...x.shape.slice(k)] : undefined;
    return [out(x.dtype, c.node1('GatherND', [c.ref(x), c.int64(idx)]), shape)];
  },
  ResizeBilinear: resize('linear'),
  ResizeNearestNeighbor: resize('nearest'),
  ResizeBicubic: resizeBicubic,
};

function pad(mode: string) {
  return (c: Ctx, n: TfNode, ins: Value[]): Value[] => {
    const x = ins[0]!;
    if (!ins[1]!.value && mode !== 'mirror') {
      // Computed paddings [rank, 2] → ONNX pads [begins..., ends...].
      const pads = c.node1('Reshape', [c.node1('Transpose', [c.int64(ins[1]!)], { perm: [1, 0] }), c.i64([-1])]);
      const inputs = [c.ref(x), pads];
      if (ins[2]) inputs.push(c.ref(ins[2]));
      return [out(x.dtype, c.node1('Pad', inputs, { mode: 'constant' }), x.shape?.map(() => -1))];
    }
    const p = constNums(n, ins[1], 'paddings');
    const r = p.length / 2;
    let m = mode;
    if (mode === 'mirror') {
      const mm = attrStr(n, 'mode', 'REFLECT');
      if (mm !== 'REFLECT') throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: MirrorPad mode ${mm} (only REFLECT)`);
      m = 'reflect';
    }
    const pads = [...Array.from({ length: r }, (_v, i) => p[2 * i]!), ...Array.from({ length: r }, (_v, i) => p[2 * i + 1]!)];
    const inputs = [c.ref(x), c.i64(pads)];
    if (ins[2]) inputs.push(c.ref(ins[2]));
    const shape = x.shape?.map((d, i) => (d < 0 ? -1 : d + p[2 * i]! + p[2 * i + 1]!));
    return [out(x.dtype, c.node1('Pad', inputs, { mode: m }), shape)];
  };
}
arrayOps.Pad = pad('constant');
arrayOps.PadV2 = pad('constant');
arrayOps.MirrorPad = pad('mirror');
void DT;
void (null as unknown as TfTensor);
