/**
 * Shape inference over an ONNX graph: static dims where they are knowable from the graph (input shapes,
 * initializers, attributes, constant shape tensors), symbolic dims (strings) otherwise, and the rank wherever the
 * op defines it. Used by the opset upgrade (whose Softmax/LogSoftmax/Hardmax conversion depends on the input rank)
 * and by the quantizer. Written here rather than taken from a library: the only complete implementation is
 * onnx's C++ `onnx.shape_inference` (Python), which has no JavaScript binding; this covers the ops of the models
 * quantized here and leaves the rest unknown (undefined), which callers treat as "not knowable".
 */
import { onnx, toNumber } from './index';
import { attrInt, attrInts, getAttr, isDefaultDomain, opsetOf } from './graph';

/** A dim: a number when static, a symbol (string) otherwise. */
export type Dim = number | string;
/** A shape (its length is the rank), or undefined when not even the rank is known. */
export type Shape = Dim[] | undefined;

const ELEMENTWISE_UNARY = new Set([
  'Abs', 'Acos', 'Acosh', 'Asin', 'Asinh', 'Atan', 'Atanh', 'BatchNormalization', 'Cast', 'Ceil', 'Celu', 'Clip', 'Cos', 'Cosh',
  'CumSum', 'DequantizeLinear', 'Dropout', 'Elu', 'Erf', 'Exp', 'Floor', 'Gelu', 'HardSigmoid', 'HardSwish', 'Hardmax', 'Identity',
  'InstanceNormalization', 'IsInf', 'IsNaN', 'LRN', 'LayerNormalization', 'LeakyRelu', 'Log', 'LogSoftmax', 'LpNormalization',
  'Mish', 'Neg', 'Not', 'QuantizeLinear', 'Reciprocal', 'Relu', 'Round', 'Selu', 'Shrink', 'Sigmoid', 'Sign', 'Sin', 'Sinh',
  'Softmax', 'Softplus', 'Softsign', 'Sqrt', 'Tan', 'Tanh', 'ThresholdedRelu', 'Pad', 'Upsample', 'Resize',
]);
const BROADCAST = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Where',
  'Max', 'Min', 'Sum', 'Mean', 'PRelu', 'Mod', 'BitShift',
]);
const REDUCE = new Set(['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare']);

/** Result of inferShapes: tensor name -> shape, plus int64 values of small constant shape tensors. */
export interface ShapeInfo {
  shapes: Map<string, Dim[]>;
  /** Values of 1-D int tensors known at inference time (constants, Shape of a static tensor, ...). */
  values: Map<string, Dim[]>;
}

/** Multidirectional (numpy) broadcasting of shapes; undefined when a rank is unknown. */
export function broadcast(shapes: Shape[], sym: () => string): Shape {
  if (shapes.some((s) => s === undefined)) return undefined;
  const ss = shapes as Dim[][];
  const rank = Math.max(0, ...ss.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const ds = ss.map((s) => s[s.length - rank + i]).filter((d) => d !== undefined && d !== 1);
    if (ds.length === 0) out.push(1);
    else if (ds.every((d) => d === ds[0])) out.push(ds[0]);
    else {
      const nums = ds.filter((d): d is number => typeof d === 'number');
      out.push(nums.length > 0 ? nums[0] : sym());
    }
  }
  return out;
}

const prod = (ds: Dim[]): Dim | undefined => (ds.every((d) => typeof d === 'number') ? (ds as number[]).reduce((a, b) => a * b, 1) : undefined);

/**
 * Infers the shapes of every tensor of the graph it can (graph inputs and value_info first, then node by node in
 * graph order, which ONNX requires to be topological). Declared value_info shapes are kept where inference has
 * nothing better.
 */
export function inferShapes(model: onnx.IModelProto): ShapeInfo {
  const g = model.graph ?? {};
  const opset = opsetOf(model);
  const shapes = new Map<string, Dim[]>();
  const values = new Map<string, Dim[]>();
  let symCounter = 0;
  const sym = (hint = 'unk') => `${hint}__${symCounter++}`;
  const declared = (v: onnx.IValueInfoProto) => {
    const s = v.type?.tensorType?.shape;
    if (!s) return undefined;
    return (s.dim ?? []).map((d): Dim => (d.dimValue !== undefined && d.dimValue !== null && toNumber(d.dimValue) > 0 ? toNumber(d.dimValue) : d.dimParam ? d.dimParam : sym()));
  };
  for (const t of g.initializer ?? []) {
    const dims = (t.dims ?? []).map((d) => toNumber(d));
    shapes.set(t.name ?? '', dims);
    const v = intValues(t);
    if (v && dims.length <= 1) values.set(t.name ?? '', v);
  }
  for (const v of g.input ?? []) {
    if (shapes.has(v.name ?? '')) continue;
    const s = declared(v);
    if (s) shapes.set(v.name ?? '', s);
  }
  const hints = new Map<string, Dim[]>();
  for (const v of [...(g.valueInfo ?? []), ...(g.output ?? [])]) {
    const s = declared(v);
    if (s) hints.set(v.name ?? '', s);
  }
  const S = (name: string | undefined | null): Shape => (name ? shapes.get(name) : undefined);
  const V = (name: string | undefined | null): Dim[] | undefined => (name ? values.get(name) : undefined);
  const ints = (n: onnx.INodeProto, attr: string, input: number): number[] | undefined => {
    const a = attrInts(n, attr);
    if (a) return a;
    const v = V(n.input?.[input]);
    return v && v.every((d) => typeof d === 'number') ? (v as number[]) : undefined;
  };
  const norm = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

  for (const n of g.node ?? []) {
    const outs = n.output ?? [];
    const x = S(n.input?.[0]);
    let out: Shape;
    const op = n.opType ?? '';
    if (!isDefaultDomain(n)) {
      out = undefined;
    } else if (op === 'Constant') {
      const t = getAttr(n, 'value')?.t;
      if (t) {
        out = (t.dims ?? []).map((d) => toNumber(d));
        const v = intValues(t);
        if (v && out.length <= 1) values.set(outs[0], v);
      } else if (getAttr(n, 'value_int')) out = [];
      else if (getAttr(n, 'value_ints')) {
        const v = attrInts(n, 'value_ints')!;
        out = [v.length];
        values.set(outs[0], v);
      } else if (getAttr(n, 'value_float')) out = [];
    } else if (ELEMENTWISE_UNARY.has(op)) {
      out = x ? [...x] : undefined;
      if ((op === 'Upsample' || op === 'Resize') && x) out = resizeShape(n, x, V, opset, sym);
    } else if (BROADCAST.has(op)) {
      out = broadcast((n.input ?? []).filter((i) => i).map((i) => S(i)), () => sym(outs[0]));
    } else if (op === 'Conv' || op === 'ConvTranspose' || op === 'MaxPool' || op === 'AveragePool' || op === 'LpPool') {
      out = x ? convShape(n, x, S(n.input?.[1]), sym) : undefined;
    } else if (op === 'GlobalAveragePool' || op === 'GlobalMaxPool' || op === 'GlobalLpPool') {
      out = x ? [x[0], x[1], ...x.slice(2).map(() => 1)] : undefined;
    } else if (op === 'MatMul' || op === 'MatMulInteger') {
      const b = S(n.input?.[1]);
      if (x && b && x.length >= 1 && b.length >= 1) {
        const a2 = x.length === 1 ? [1, x[0]] : x;
        const b2 = b.length === 1 ? [b[0], 1] : b;
        const batch = broadcast([a2.slice(0, -2), b2.slice(0, -2)], () => sym(outs[0])) ?? [];
        out = [...batch, ...(x.length === 1 ? [] : [a2[a2.length - 2]]), ...(b.length === 1 ? [] : [b2[b2.length - 1]])];
      }
    } else if (op === 'Gemm') {
      const b = S(n.input?.[1]);
      if (x && b && x.length === 2 && b.length === 2) out = [attrInt(n, 'transA', 0) ? x[1] : x[0], attrInt(n, 'transB', 0) ? b[0] : b[1]];
      else out = [sym(outs[0]), sym(outs[0])];
    } else if (op === 'Flatten') {
      if (x) {
        const axis = norm(attrInt(n, 'axis', 1), x.length);
        out = [prod(x.slice(0, axis)) ?? sym(outs[0]), prod(x.slice(axis)) ?? sym(outs[0])];
      } else out = [sym(outs[0]), sym(outs[0])];
    } else if (op === 'Reshape') {
      const target = V(n.input?.[1]) ?? (opset < 5 ? attrInts(n, 'shape') : undefined);
      const ts = S(n.input?.[1]);
      if (target) out = reshapeShape(x, target, attrInt(n, 'allowzero', 0) === 1, () => sym(outs[0]));
      else if (ts && ts.length === 1 && typeof ts[0] === 'number') out = Array.from({ length: ts[0] }, () => sym(outs[0]));
    } else if (op === 'Transpose') {
      if (x) {
        const perm = attrInts(n, 'perm') ?? x.map((_, i) => x.length - 1 - i);
        out = perm.map((p) => x[p]);
      }
    } else if (op === 'Concat') {
      const ins = (n.input ?? []).map((i) => S(i));
      if (ins.every((s) => s !== undefined) && ins.length > 0) {
        const r = ins[0]!.length;
        const axis = norm(attrInt(n, 'axis', opset < 4 ? 1 : 0), r);
        out = ins[0]!.map((d, i) => (i === axis ? prod(ins.map((s) => s![i])) !== undefined ? (ins.map((s) => s![i]) as number[]).reduce((a, b) => a + b, 0) : sym(outs[0]) : d));
        const vs = (n.input ?? []).map((i) => V(i));
        if (r === 1 && vs.every((v) => v !== undefined)) values.set(outs[0], vs.flatMap((v) => v!));
      }
    } else if (op === 'Squeeze') {
      const axes = ints(n, 'axes', 1);
      if (x) {
        if (axes) {
          const drop = new Set(axes.map((a) => norm(a, x.length)));
          out = x.filter((_, i) => !drop.has(i));
        } else if (x.every((d) => typeof d === 'number')) out = x.filter((d) => d !== 1);
      }
    } else if (op === 'Unsqueeze') {
      const axes = ints(n, 'axes', 1);
      if (x && axes) {
        const r = x.length + axes.length;
        const put = new Set(axes.map((a) => norm(a, r)));
        const rest = [...x];
        out = Array.from({ length: r }, (_, i) => (put.has(i) ? 1 : rest.shift()!));
        const v = V(n.input?.[0]);
        if (v && x.length === 0) values.set(outs[0], v);
      }
    } else if (op === 'Slice') {
      if (x) {
        out = sliceShape(n, x, opset, ints, () => sym(outs[0]));
        const v = V(n.input?.[0]);
        if (v && x.length === 1 && out && typeof out[0] === 'number') {
          const starts = ints(n, 'starts', 1);
          const ends = ints(n, 'ends', 2);
          if (starts && ends && starts.length === 1) {
            const L = v.length;
            const s0 = Math.min(Math.max(starts[0] < 0 ? starts[0] + L : starts[0], 0), L);
            const e0 = Math.min(Math.max(ends[0] < 0 ? ends[0] + L : ends[0], 0), L);
            const steps = opset >= 10 ? V(n.input?.[4]) : undefined;
            if (!steps || steps[0] === 1) values.set(outs[0], v.slice(s0, e0));
          }
        }
      }
    } else if (op === 'Split') {
      if (x) {
        const axis = norm(attrInt(n, 'axis', 0), x.length);
        const split = ints(n, 'split', 1);
        outs.forEach((o, k) => {
          const d = split ? split[k] : typeof x[axis] === 'number' ? (x[axis] as number) / outs.length : sym(o);
          shapes.set(o, x.map((v, i) => (i === axis ? d : v)));
        });
      }
      continue;
    } else if (op === 'Shape') {
      if (x) {
        let s = x;
        if (opset >= 15) {
          const start = norm(attrInt(n, 'start', 0), x.length);
          const endA = getAttr(n, 'end') ? norm(attrInt(n, 'end', x.length), x.length) : x.length;
          s = x.slice(start, endA);
        }
        out = [s.length];
        values.set(outs[0], [...s]);
      } else out = [sym(outs[0])];
    } else if (op === 'Size') {
      out = [];
    } else if (op === 'Gather') {
      const ind = S(n.input?.[1]);
      if (x && ind) {
        const axis = norm(attrInt(n, 'axis', 0), x.length);
        out = [...x.slice(0, axis), ...ind, ...x.slice(axis + 1)];
        const v = V(n.input?.[0]);
        const iv = V(n.input?.[1]);
        if (v && iv && x.length === 1 && iv.every((i) => typeof i === 'number')) values.set(outs[0], (iv as number[]).map((i) => v[i < 0 ? i + v.length : i]));
      }
    } else if (REDUCE.has(op)) {
      if (x) {
        const axes = op === 'ReduceSum' || opset >= 18 ? ints(n, 'axes', 1) : attrInts(n, 'axes');
        const keep = attrInt(n, 'keepdims', 1) === 1;
        const all = !axes || axes.length === 0;
        const set = new Set((axes ?? []).map((a) => norm(a, x.length)));
        out = keep ? x.map((d, i) => (all || set.has(i) ? 1 : d)) : x.filter((_, i) => !(all || set.has(i)));
      }
    } else if (op === 'ArgMax' || op === 'ArgMin') {
      if (x) {
        const axis = norm(attrInt(n, 'axis', 0), x.length);
        out = attrInt(n, 'keepdims', 1) ? x.map((d, i) => (i === axis ? 1 : d)) : x.filter((_, i) => i !== axis);
      }
    } else if (op === 'TopK') {
      if (x) {
        const axis = norm(attrInt(n, 'axis', -1), x.length);
        const k = opset < 10 ? attrInt(n, 'k', 0) : V(n.input?.[1])?.[0];
        const d = k ?? sym(outs[0]);
        out = x.map((v, i) => (i === axis ? d : v));
        if (outs[1]) shapes.set(outs[1], out);
      }
    } else if (op === 'Expand') {
      const t = V(n.input?.[1]);
      const ts = S(n.input?.[1]);
      if (t) out = broadcast([x, t], () => sym(outs[0]));
      else if (x && ts && typeof ts[0] === 'number') out = Array.from({ length: Math.max(x.length, ts[0]) }, () => sym(outs[0]));
    } else if (op === 'Tile') {
      out = x ? x.map(() => sym(outs[0])) : undefined;
    } else if (op === 'ConstantOfShape') {
      const v = V(n.input?.[0]);
      const s = S(n.input?.[0]);
      if (v) out = [...v];
      else if (s && typeof s[0] === 'number') out = Array.from({ length: s[0] }, () => sym(outs[0]));
    } else if (op === 'Range') {
      out = [sym(outs[0])];
    } else if (op === 'NonZero') {
      out = x ? [x.length, sym(outs[0])] : undefined;
    } else if (op === 'DepthToSpace' || op === 'SpaceToDepth') {
      out = x ? x.map(() => sym(outs[0])) : undefined;
    }
    if (out === undefined && outs[0] && hints.has(outs[0])) out = hints.get(outs[0]);
    if (out !== undefined && outs[0]) shapes.set(outs[0], out);
    if (op === 'Dropout' && x && outs[1]) shapes.set(outs[1], [...x]);
    if ((op === 'Cast' || op === 'Identity') && outs[0]) {
      const v = V(n.input?.[0]);
      if (v) values.set(outs[0], v);
    }
  }
  return { shapes, values };
}

function intValues(t: onnx.ITensorProto): Dim[] | undefined {
  const DT = onnx.TensorProto.DataType;
  if (t.dataType !== DT.INT64 && t.dataType !== DT.INT32) return undefined;
  const n = (t.dims ?? []).reduce((a: number, d) => a * toNumber(d), 1);
  if (n > 64) return undefined;
  if (t.int64Data && t.int64Data.length > 0) return t.int64Data.map((v) => toNumber(v as number));
  if (t.int32Data && t.int32Data.length > 0) return [...t.int32Data];
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    const out: number[] = [];
    if (t.dataType === DT.INT64) for (let i = 0; i + 8 <= buf.length; i += 8) out.push(Number(buf.readBigInt64LE(i)));
    else for (let i = 0; i + 4 <= buf.length; i += 4) out.push(buf.readInt32LE(i));
    return out;
  }
  return n === 0 ? [] : undefined;
}

function reshapeShape(x: Shape, target: Dim[], allowZero: boolean, sym: () => string): Dim[] {
  const out: Dim[] = target.map((d, i) => (d === 0 && !allowZero ? x?.[i] ?? sym() : d));
  const neg = out.findIndex((d) => d === -1);
  if (neg >= 0) {
    // numeric products on both sides after cancelling the symbols the output takes over from the input
    let known: number | undefined;
    if (x) {
      const left = [...x];
      let rest = 1;
      let ok = true;
      out.forEach((d, i) => {
        if (i === neg) return;
        if (typeof d === 'number') rest *= d;
        else {
          const k = left.indexOf(d);
          if (k >= 0) left.splice(k, 1);
          else ok = false;
        }
      });
      const total = prod(left);
      if (ok && typeof total === 'number' && rest > 0) known = total / rest;
    }
    out[neg] = known ?? sym();
  }
  return out;
}

function convShape(n: onnx.INodeProto, x: Dim[], w: Shape, sym: () => string): Dim[] {
  const op = n.opType;
  const sp = x.length - 2;
  const kernel = attrInts(n, 'kernel_shape') ?? (w ? (w.slice(2) as Dim[]) : undefined);
  const c = op === 'Conv' ? w?.[0] ?? sym() : op === 'ConvTranspose' ? (typeof w?.[1] === 'number' ? (w[1] as number) * attrInt(n, 'group', 1) : sym()) : x[1];
  const strides = attrInts(n, 'strides') ?? Array(sp).fill(1);
  const dil = attrInts(n, 'dilations') ?? Array(sp).fill(1);
  const pads = attrInts(n, 'pads') ?? Array(sp * 2).fill(0);
  const autoPad = getAttr(n, 'auto_pad')?.s ? Buffer.from(getAttr(n, 'auto_pad')!.s!).toString() : 'NOTSET';
  const ceil = attrInt(n, 'ceil_mode', 0) === 1;
  const spatial: Dim[] = [];
  for (let i = 0; i < sp; i++) {
    const d = x[2 + i];
    const k = kernel?.[i];
    if (typeof d !== 'number' || typeof k !== 'number') {
      spatial.push(sym());
      continue;
    }
    const ek = (k - 1) * dil[i] + 1;
    if (op === 'ConvTranspose') {
      const os = attrInts(n, 'output_shape');
      if (os) spatial.push(os[os.length - sp + i]);
      else {
        const opad = attrInts(n, 'output_padding')?.[i] ?? 0;
        spatial.push(autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER' ? d * strides[i] : strides[i] * (d - 1) + opad + ek - pads[i] - pads[i + sp]);
      }
    } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') spatial.push(Math.ceil(d / strides[i]));
    else if (autoPad === 'VALID') spatial.push(Math.floor((d - ek) / strides[i]) + 1);
    else {
      const v = (d + pads[i] + pads[i + sp] - ek) / strides[i];
      spatial.push((ceil ? Math.ceil(v) : Math.floor(v)) + 1);
    }
  }
  return [x[0], c, ...spatial];
}

function resizeShape(n: onnx.INodeProto, x: Dim[], V: (s: string | undefined | null) => Dim[] | undefined, opset: number, sym: () => string): Dim[] {
  const inp = n.input ?? [];
  let scales: number[] | undefined;
  let sizes: Dim[] | undefined;
  if (n.opType === 'Upsample') scales = opset < 9 ? (getAttr(n, 'scales')?.floats ?? undefined) : undefined;
  else if (opset < 11) scales = undefined;
  else sizes = V(inp[3]);
  if (sizes && sizes.length === x.length) return [...sizes];
  if (scales && scales.length === x.length) return x.map((d, i) => (typeof d === 'number' ? Math.floor(d * scales![i]) : sym()));
  return x.map((d, i) => (i < 2 ? d : sym()));
}

function sliceShape(n: onnx.INodeProto, x: Dim[], opset: number, ints: (n: onnx.INodeProto, a: string, i: number) => number[] | undefined, sym: () => string): Dim[] {
  const starts = opset < 10 ? attrInts(n, 'starts') : ints(n, '', 1);
  const ends = opset < 10 ? attrInts(n, 'ends') : ints(n, '', 2);
  const axes = opset < 10 ? attrInts(n, 'axes') : ints(n, '', 3);
  const steps = opset < 10 ? undefined : ints(n, '', 4);
  if (!starts || !ends) return x.map(() => sym());
  const out = [...x];
  const ax = axes ?? starts.map((_, i) => i);
  ax.forEach((a0, k) => {
    const a = a0 < 0 ? a0 + x.length : a0;
    const d = x[a];
    const step = steps?.[k] ?? 1;
    if (typeof d !== 'number') {
      out[a] = sym();
      return;
    }
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
    let s = starts[k] < 0 ? starts[k] + d : starts[k];
    let e = ends[k] < 0 ? ends[k] + d : ends[k];
    if (step > 0) {
      s = clamp(s, 0, d);
      e = clamp(e, 0, d);
      out[a] = Math.max(0, Math.ceil((e - s) / step));
    } else {
      s = clamp(s, 0, d - 1);
      e = clamp(e, -1, d - 1);
      out[a] = Math.max(0, Math.ceil((e - s) / step));
    }
  });
  return out;
}
