/**
 * Segment reductions (Segment*, UnsortedSegment*, SparseSegment*), Unique/UniqueWithCounts, Bincount,
 * DenseBincount, DynamicPartition and TensorScatter*. A segment reduction is a mask [K, S] (segment id k == s):
 * sums are a MatMul of the mask with the data [K, R]; max/min/prod reduce the data broadcast against the mask,
 * with the identity of the reduction where the mask is false. Empty segments give what TF gives: 0 for the
 * sorted ops (1 for SegmentProd), the identity (lowest / highest / 1) for the unsorted ones.
 */
import { TensorRTError } from '../../errors';
import { attrBool, attrInt, attrType, type TfDType, type TfNode } from '../graph';
import { numbers, onnxType, type Ctx, type Value } from '../context';
import type { OpTable } from './types';

const BIG = 2 ** 62;

function out(dtype: TfDType, nhwc: string, shape?: number[]): Value {
  const v: Value = { dtype, nhwc };
  if (shape) v.shape = shape;
  return v;
}

function rankOf(n: TfNode, v: Value, what: string): number {
  const r = v.shape?.length;
  if (r === undefined) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} needs the rank of its ${what}`);
  return r;
}

type Kind = 'sum' | 'mean' | 'sqrtn' | 'max' | 'min' | 'prod';

function limits(dtype: TfDType): [number, number] {
  switch (dtype) {
    case 'float32': return [-3.4028234663852886e38, 3.4028234663852886e38];
    case 'float64': return [-Number.MAX_VALUE, Number.MAX_VALUE];
    case 'int32': return [-2147483648, 2147483647];
    case 'int64': return [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
    case 'uint8': return [0, 255];
    case 'int8': return [-128, 127];
    default: return [-65504, 65504];
  }
}

/**
 * Reduces `data` over segments: `ids` (int64, the shape of data's first k dims), `num` (int64 scalar). `sorted`:
 * the Segment* ops (empty segments 0), else Unsorted* (empty segments the reduction's identity).
 */
function segmentReduce(c: Ctx, n: TfNode, data: Value, ids: string, k: number, num: string, kind: Kind, sorted: boolean, numConst?: number): Value {
  const t = data.dtype;
  if ((kind === 'mean' || kind === 'sqrtn') && !t.startsWith('float')) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} of ${t}`);
  const flatIds = c.node1('Reshape', [ids, c.i64([-1, 1])]);
  const range = c.node1('Range', [c.i64([0], true), num, c.i64([1], true)]);
  const mask = c.node1('Equal', [flatIds, range]); // [K, S]
  const x2 = c.node1('Flatten', [c.ref(data)], { axis: k }); // [K, R]
  const restShape = c.node1('Slice', [c.node1('Shape', [c.ref(data)]), c.i64([k]), c.i64([BIG])]);
  const outShape = c.node1('Concat', [c.node1('Reshape', [num, c.i64([1])]), restShape], { axis: 0 });
  const maskT = c.node1('Cast', [mask], { to: onnxType(t) });
  const count = () => c.node1('Unsqueeze', [c.reduce('ReduceSum', maskT, [0], false), c.i64([1])]); // [S, 1]
  let y: string;
  if (kind === 'sum' || kind === 'mean' || kind === 'sqrtn') {
    y = c.node1('MatMul', [c.node1('Transpose', [maskT], { perm: [1, 0] }), x2]);
    if (kind !== 'sum') {
      let d = c.node1('Max', [count(), c.scalar(1, t)]);
      if (kind === 'sqrtn') d = c.node1('Sqrt', [d]);
      y = c.node1('Div', [y, d]);
    }
  } else {
    const [lo, hi] = limits(t);
    const ident = kind === 'max' ? lo : kind === 'min' ? hi : 1;
    const e = c.node1('Where', [c.node1('Unsqueeze', [mask, c.i64([2])]), c.node1('Unsqueeze', [x2, c.i64([1])]), c.scalar(ident, t)]); // [K, S, R]
    y = c.reduce(kind === 'max' ? 'ReduceMax' : kind === 'min' ? 'ReduceMin' : 'ReduceProd', e, [0], false);
    if (sorted && kind !== 'prod') y = c.node1('Where', [c.node1('Greater', [count(), c.scalar(0, t)]), y, c.scalar(0, t)]);
  }
  const shape = data.shape ? [numConst ?? -1, ...data.shape.slice(k)] : undefined;
  return out(t, c.node1('Reshape', [y, outShape]), shape);
}

function scalar64(c: Ctx, v: Value): string {
  const s = c.int64(v);
  return v.shape && v.shape.length === 0 ? s : c.node1('Reshape', [s, c.i64([])]);
}

function maxPlusOne(c: Ctx, ids: string): string {
  return c.node1('Add', [c.reduce('ReduceMax', c.node1('Reshape', [ids, c.i64([-1])]), [0], false), c.i64([1], true)]);
}

function segment(kind: Kind) {
  return (c: Ctx, n: TfNode, ins: Value[]): Value[] => {
    const ids = c.int64(ins[1]!);
    return [segmentReduce(c, n, ins[0]!, ids, 1, maxPlusOne(c, ids), kind, true)];
  };
}

function unsorted(kind: Kind) {
  return (c: Ctx, n: TfNode, ins: Value[]): Value[] => {
    const k = rankOf(n, ins[1]!, 'segment_ids');
    const nc = ins[2]!.value ? numbers(ins[2]!.value)[0] : undefined;
    return [segmentReduce(c, n, ins[0]!, c.int64(ins[1]!), k, scalar64(c, ins[2]!), kind, false, nc)];
  };
}

function sparseSegment(kind: Kind) {
  return (c: Ctx, n: TfNode, ins: Value[]): Value[] => {
    const [data, indices, ids] = [ins[0]!, ins[1]!, ins[2]!];
    const g: Value = out(data.dtype, c.node1('Gather', [c.ref(data), c.int64(indices)], { axis: 0 }), data.shape && indices.shape ? [...indices.shape, ...data.shape.slice(1)] : undefined);
    const id64 = c.int64(ids);
    const num = ins[3] ? scalar64(c, ins[3]) : maxPlusOne(c, id64);
    const nc = ins[3]?.value ? numbers(ins[3].value)[0] : undefined;
    return [segmentReduce(c, n, g, id64, 1, num, kind, true, nc)];
  };
}

function unique(withCounts: boolean) {
  return (c: Ctx, n: TfNode, ins: Value[]): Value[] => {
    const x = ins[0]!;
    const idxT = attrType(n, 'out_idx') ?? 'int32';
    // onnxruntime's Unique takes float, int64, int8 and strings: other integers go through int64.
    const wide = x.dtype === 'float32' || x.dtype === 'int64' || x.dtype === 'int8' ? c.ref(x) : c.node1('Cast', [c.ref(x)], { to: onnxType('int64') });
    const [y, , inv, cnt] = c.node('Unique', [wide], { sorted: 0 }, 4);
    const back = (s: string) => (idxT === 'int64' ? s : c.node1('Cast', [s], { to: onnxType(idxT) }));
    const yv = wide === c.ref(x) ? y! : c.node1('Cast', [y!], { to: onnxType(x.dtype) });
    const res = [out(x.dtype, yv, [-1]), out(idxT, back(inv!), x.shape)];
    if (withCounts) res.push(out(idxT, back(cnt!), [-1]));
    return res;
  };
}

/** Counts (or sums of weights) of each value in [0, size) along the last axis; binary_output: 0/1. */
function bincount(c: Ctx, n: TfNode, arr: Value, size: Value, weights: Value | undefined, binary: boolean): Value[] {
  const r = rankOf(n, arr, 'input');
  if (r > 2) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} of rank ${r}`);
  const hasW = weights !== undefined && !(weights.shape && weights.shape.length === 1 && weights.shape[0] === 0);
  const t: TfDType = hasW ? weights!.dtype : attrType(n, 'T') ?? 'int32';
  const range = c.node1('Range', [c.i64([0], true), scalar64(c, size), c.i64([1], true)]);
  const mask = c.node1('Equal', [c.node1('Unsqueeze', [c.int64(arr), c.i64([-1])]), range]); // [..., K, S]
  let m = c.node1('Cast', [mask], { to: onnxType(t) });
  if (hasW && !binary) m = c.node1('Mul', [m, c.node1('Unsqueeze', [c.ref(weights!), c.i64([-1])])]);
  let y = c.reduce('ReduceSum', m, [r - 1], false);
  if (binary) y = c.node1('Cast', [c.node1('Greater', [y, c.scalar(0, t)])], { to: onnxType(t) });
  const s = size.value ? numbers(size.value)[0]! : -1;
  return [out(t, y, r === 2 ? [arr.shape![0]!, s] : [s])];
}

function tensorScatter(mode: 'update' | 'add' | 'sub' | 'max' | 'min') {
  return (c: Ctx, n: TfNode, ins: Value[]): Value[] => {
    const [x, idx, upd] = [ins[0]!, ins[1]!, ins[2]!];
    const i64 = c.int64(idx);
    if (mode === 'update') return [out(x.dtype, c.node1('ScatterND', [c.ref(x), i64, c.ref(upd)]), x.shape)];
    if (mode === 'max' || mode === 'min') {
      if (c.opset < 18) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} needs opset 18 (ScatterND reduction ${mode})`);
      return [out(x.dtype, c.node1('ScatterND', [c.ref(x), i64, c.ref(upd)], { reduction: mode }), x.shape)];
    }
    const u = mode === 'sub' ? c.node1('Neg', [c.ref(upd)]) : c.ref(upd);
    if (c.opset >= 16) return [out(x.dtype, c.node1('ScatterND', [c.ref(x), i64, u], { reduction: 'add' }), x.shape)];
    // Below 16: x + the sum of the updates scattered by a one-hot MatMul (duplicates add up, as in TF).
    const k = idx.shape?.[idx.shape.length - 1];
    if (!x.shape || !x.shape.every((d) => d >= 0) || k === undefined || k < 0 || x.dtype === 'bool') {
      throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} below opset 16 needs the tensor's shape and the index depth (use --opset 16)`);
    }
    const shape = x.shape;
    const N = shape.slice(0, k).reduce((a, d) => a * d, 1);
    const R = shape.slice(k).reduce((a, d) => a * d, 1);
    const strides = new Array<number>(k).fill(1);
    for (let i = k - 2; i >= 0; i--) strides[i] = strides[i + 1]! * shape[i + 1]!;
    const lin = c.node1('Reshape', [c.reduce('ReduceSum', c.node1('Mul', [i64, c.i64(strides)]), [-1], false), c.i64([-1, 1])]);
    const onehot = c.node1('Cast', [c.node1('Equal', [lin, c.node1('Range', [c.i64([0], true), c.i64([N], true), c.i64([1], true)])])], { to: onnxType(x.dtype) });
    const sum = c.node1('MatMul', [c.node1('Transpose', [onehot], { perm: [1, 0] }), c.node1('Reshape', [u, c.i64([-1, R])])]);
    return [out(x.dtype, c.node1('Add', [c.ref(x), c.node1('Reshape', [sum, c.i64(shape)])]), shape)];
  };
}

export const segmentOps: OpTable = {
  SegmentSum: segment('sum'), SegmentMean: segment('mean'), SegmentMax: segment('max'), SegmentMin: segment('min'), SegmentProd: segment('prod'),
  UnsortedSegmentSum: unsorted('sum'), UnsortedSegmentMax: unsorted('max'), UnsortedSegmentMin: unsorted('min'), UnsortedSegmentProd: unsorted('prod'),
  SparseSegmentSum: sparseSegment('sum'), SparseSegmentMean: sparseSegment('mean'), SparseSegmentSqrtN: sparseSegment('sqrtn'),
  SparseSegmentSumWithNumSegments: sparseSegment('sum'), SparseSegmentMeanWithNumSegments: sparseSegment('mean'), SparseSegmentSqrtNWithNumSegments: sparseSegment('sqrtn'),
  Unique: unique(false),
  UniqueWithCounts: unique(true),
  Bincount: (c, n, ins) => bincount(c, n, ins[0]!, ins[1]!, ins[2], false),
  DenseBincount: (c, n, ins) => bincount(c, n, ins[0]!, ins[1]!, ins[2], attrBool(n, 'binary_output', false)),
  DynamicPartition: (c, n, ins) => {
    const [x, p] = [ins[0]!, ins[1]!];
    const k = rankOf(n, p, 'partitions');
    const num = attrInt(n, 'num_partitions', 1);
    const rest = c.node1('Slice', [c.node1('Shape', [c.ref(x)]), c.i64([k]), c.i64([BIG])]);
    const flat = c.node1('Reshape', [c.ref(x), c.node1('Concat', [c.i64([-1]), rest], { axis: 0 })]);
    const pf = c.node1('Reshape', [c.ref(p), c.i64([-1])]);
    return Array.from({ length: num }, (_v, i) => out(x.dtype, c.node1('Compress', [flat, c.node1('Equal', [pf, c.scalar(i, p.dtype)])], { axis: 0 }), x.shape ? [-1, ...x.shape.slice(k)] : undefined));
  },
  TensorScatterUpdate: tensorScatter('update'), TensorScatterAdd: tensorScatter('add'), TensorScatterSub: tensorScatter('sub'),
  TensorScatterMax: tensorScatter('max'), TensorScatterMin: tensorScatter('min'),
};
