/**
 * Scatter, one-hot and broadcasting ops: ScatterNd (duplicates summed, as TF does), SparseToDense, OneHot,
 * BroadcastTo, GatherV2 with batch_dims, MirrorPad SYMMETRIC (reversed slices concatenated: ONNX Pad has no
 * symmetric mode).
 */
import { TensorRTError } from '../../errors';
import { attrInt, attrStr, elementCount, type TfNode } from '../graph';
import { broadcastShapes, numbers, onnxType, type Ctx, type Value } from '../context';
import { arrayOps } from './array';
import type { OpTable } from './types';

const BIG = 2 ** 62;

function out(dtype: Value['dtype'], nhwc: string, shape?: number[]): Value {
  const v: Value = { dtype, nhwc };
  if (shape) v.shape = shape;
  return v;
}

function rankOf(n: TfNode, v: Value, what = 'input'): number {
  const r = v.shape?.length;
  if (r === undefined) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} needs the rank of its ${what} (give the graph inputs' shapes: --inputs name:1x224x224x3)`);
  return r;
}

/** A scalar of `dtype` from a Value (its ONNX name), reshaped to rank 0. */
function scalarOf(c: Ctx, v: Value): string {
  if (v.shape && v.shape.length === 0) return c.ref(v);
  return c.node1('Reshape', [c.ref(v), c.i64([])]);
}

/** The rows of `indices` ([..., K], int64) as linear offsets into the leading K dimensions of `shape`. */
function linearIndex(c: Ctx, idx: string, shape: number[], k: number): string {
  const strides = new Array<number>(k).fill(1);
  for (let i = k - 2; i >= 0; i--) strides[i] = strides[i + 1]! * shape[i + 1]!;
  const w = c.node1('Mul', [idx, c.i64(strides)]);
  return c.reduce('ReduceSum', w, [-1], false);
}

function scatterNd(c: Ctx, n: TfNode, ins: Value[]): Value[] {
  const [idx, upd, shp] = [ins[0]!, ins[1]!, ins[2]!];
  const dtype = upd.dtype;
  const shape = shp.value ? numbers(shp.value) : undefined;
  const i64 = c.int64(idx);
  if (c.opset >= 16) {
    const bytes = dtype === 'int64' || dtype === 'float64' ? 8 : dtype === 'bool' || dtype.endsWith('int8') ? 1 : dtype === 'float16' || dtype.endsWith('int16') ? 2 : 4;
    const zero = c.node1('ConstantOfShape', [c.int64(shp)], { value: { t: { dataType: onnxType(dtype), dims: [1], rawData: new Uint8Array(bytes) } } });
    return [out(dtype, c.node1('ScatterND', [zero, i64, c.ref(upd)], { reduction: 'add' }), shape ?? shp.shape?.map(() => -1))];
  }
  // Before opset 16 ScatterND cannot add duplicates: a one-hot matrix of the linear indices [N, Q] times the
  // updates [Q, R] sums them.
  const k = idx.shape?.[idx.shape.length - 1];
  if (!shape || k === undefined || k < 0 || !upd.shape || dtype === 'bool') {
    throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ScatterNd below opset 16 needs a constant shape, known index depth and numeric updates (use --opset 16)`);
  }
  const N = elementCount(shape.slice(0, k));
  const R = elementCount(shape.slice(k));
  const lin = c.node1('Reshape', [linearIndex(c, i64, shape, k), c.i64([-1, 1])]);
  const range = c.node1('Range', [c.i64([0], true), c.i64([N], true), c.i64([1], true)]);
  const onehot = c.node1('Cast', [c.node1('Equal', [lin, range])], { to: onnxType(dtype === 'float16' ? 'float32' : dtype) });
  const u = c.node1('Reshape', [c.ref(upd), c.i64([-1, R])]);
  const y = c.node1('MatMul', [c.node1('Transpose', [onehot], { perm: [1, 0] }), u]);
  return [out(dtype, c.node1('Reshape', [y, c.i64(shape)]), shape)];
}

function sparseToDense(c: Ctx, n: TfNode, ins: Value[]): Value[] {
  const [idx, shp, vals, def] = [ins[0]!, ins[1]!, ins[2]!, ins[3]!];
  const r = rankOf(n, idx, 'sparse_indices');
  let i64 = c.int64(idx);
  if (r === 0) i64 = c.node1('Reshape', [i64, c.i64([1, 1])]);
  else if (r === 1) i64 = c.node1('Unsqueeze', [i64, c.i64([1])]);
  const count = c.node1('Slice', [c.node1('Shape', [i64]), c.i64([0]), c.i64([1])]);
  const updates = vals.shape && vals.shape.length === 1 ? c.ref(vals) : c.node1('Expand', [c.ref(vals), count]);
  const dense = c.node1('Expand', [scalarOf(c, def), c.int64(shp)]);
  const shape = shp.value ? numbers(shp.value) : shp.shape?.[0] !== undefined && shp.shape[0]! >= 0 ? new Array<number>(shp.shape[0]!).fill(-1) : undefined;
  return [out(vals.dtype, c.node1('ScatterND', [dense, i64, updates]), shape)];
}

function oneHot(c: Ctx, n: TfNode, ins: Value[]): Value[] {
  const [idx, depth, on, off] = [ins[0]!, ins[1]!, ins[2]!, ins[3]!];
  const r = rankOf(n, idx, 'indices');
  let axis = attrInt(n, 'axis', -1);
  if (axis < 0) axis += r + 1;
  // Equal(indices with a new axis, 0..depth-1 along that axis): out-of-range and negative indices match nothing,
  // as in TF (ONNX OneHot would wrap negative ones).
  const d = c.int64(depth);
  const range = c.node1('Range', [c.i64([0], true), depth.shape && depth.shape.length === 0 ? d : c.node1('Reshape', [d, c.i64([])]), c.i64([1], true)]);
  const rshape = new Array<number>(r + 1).fill(1);
  rshape[axis] = -1;
  const eq = c.node1('Equal', [c.node1('Unsqueeze', [c.int64(idx), c.i64([axis])]), c.node1('Reshape', [range, c.i64(rshape)])]);
  const shape = idx.shape ? idx.shape.slice() : undefined;
  shape?.splice(axis, 0, depth.value ? numbers(depth.value)[0]! : -1);
  return [out(on.dtype, c.node1('Where', [eq, scalarOf(c, on), scalarOf(c, off)]), shape)];
}

function gatherBatch(c: Ctx, n: TfNode, ins: Value[]): Value[] {
  const [x, idx] = [ins[0]!, ins[1]!];
  const r = rankOf(n, x);
  const q = rankOf(n, idx, 'indices');
  if (!ins[2]?.value) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: GatherV2 needs a constant axis`);
  let axis = numbers(ins[2].value)[0]!;
  if (axis < 0) axis += r;
  let b = attrInt(n, 'batch_dims', 0);
  if (b < 0) b += q;
  const shape = x.shape && idx.shape ? [...x.shape.slice(0, axis), ...idx.shape.slice(b), ...x.shape.slice(axis + 1)] : undefined;
  if (b === 0) return [out(x.dtype, c.node1('Gather', [c.ref(x), c.int64(idx)], { axis }), shape)];
  if (axis < b) throw new TensorRTError('INVALID_ARGUMENT', `${n.name}: GatherV2 axis ${axis} below batch_dims ${b}`);
  // GatherND with batch_dims gathers on the axis right after the batch ones: move `axis` there and back.
  const range = (a: number, e: number) => Array.from({ length: Math.max(0, e - a) }, (_v, i) => a + i);
  const perm = [...range(0, b), axis, ...range(b, axis), ...range(axis + 1, r)];
  const xt = axis === b ? c.ref(x) : c.node1('Transpose', [c.ref(x)], { perm });
  let y = c.node1('GatherND', [xt, c.node1('Unsqueeze', [c.int64(idx), c.i64([-1])])], { batch_dims: b });
  if (axis > b) {
    const qi = q - b;
    const m = axis - b;
    const rest = r - 1 - axis;
    y = c.node1('Transpose', [y], { perm: [...range(0, b), ...range(b + qi, b + qi + m), ...range(b, b + qi), ...range(b + qi + m, b + qi + m + rest)] });
  }
  return [out(x.dtype, y, shape)];
}

/** MirrorPad SYMMETRIC (edge included): per padded axis, Concat(reversed head, x, reversed tail). */
function mirrorSymmetric(c: Ctx, n: TfNode, x: Value, p: number[]): Value {
  const r = rankOf(n, x);
  let y = c.ref(x);
  for (let a = 0; a < r; a++) {
    const [pb, pe] = [p[2 * a]!, p[2 * a + 1]!];
    if (pb === 0 && pe === 0) continue;
    const parts: string[] = [];
    if (pb > 0) parts.push(c.node1('Slice', [y, c.i64([pb - 1]), c.i64([-BIG]), c.i64([a]), c.i64([-1])]));
    parts.push(y);
    if (pe > 0) parts.push(c.node1('Slice', [y, c.i64([-1]), c.i64([-pe - 1]), c.i64([a]), c.i64([-1])]));
    y = c.node1('Concat', parts, { axis: a });
  }
  return out(x.dtype, y, x.shape?.map((d, i) => (d < 0 ? -1 : d + p[2 * i]! + p[2 * i + 1]!)));
}

export const indexingOps: OpTable = {
  ScatterNd: scatterNd,
  SparseToDense: sparseToDense,
  OneHot: oneHot,
  GatherV2: gatherBatch,
  MirrorPad: (c, n, ins) => mirrorPad(c, n, ins) ?? arrayOps.MirrorPad!(c, n, ins),
  BroadcastTo: (c, _n, ins) => {
    const [x, s] = [ins[0]!, ins[1]!];
    const shape = s.value ? broadcastShapes(x.shape ?? numbers(s.value).map(() => 1), numbers(s.value)) : s.shape?.[0] !== undefined && s.shape[0]! >= 0 ? new Array<number>(s.shape[0]!).fill(-1) : undefined;
    return [out(x.dtype, c.node1('Expand', [c.ref(x), c.int64(s)]), shape)];
  },
};

/** MirrorPad: REFLECT as ONNX Pad reflect, SYMMETRIC as reversed slices (paddings must be constant). */
export function mirrorPad(c: Ctx, n: TfNode, ins: Value[]): Value[] | undefined {
  if (attrStr(n, 'mode', 'REFLECT') !== 'SYMMETRIC') return undefined;
  if (!ins[1]!.value) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: MirrorPad needs constant paddings`);
  return [mirrorSymmetric(c, n, ins[0]!, numbers(ins[1]!.value))];
}
