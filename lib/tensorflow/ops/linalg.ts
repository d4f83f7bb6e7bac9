/**
 * Reversal, rolling and matrix-structure ops: ReverseV2, ReverseSequence, Roll, InvertPermutation,
 * MatrixBandPart, MatrixDiag(V2/V3, main diagonal), MatrixDiagPart(V2/V3, main diagonal), MatrixSetDiag(V2/V3,
 * main diagonal), MatrixDeterminant, LRN, AdjustContrastv2, and the checks that are identities in inference
 * (CheckNumerics, EnsureShape).
 */
import { TensorRTError } from '../../errors';
import { attrBool, attrFloat, attrInt, attrType, type TfDType, type TfNode } from '../graph';
import { numbers, onnxType, typedOf, type Ctx, type Value } from '../context';
import type { OpTable } from './types';

const BIG = 2 ** 62;

function out(dtype: TfDType, nhwc: string, shape?: number[]): Value {
  const v: Value = { dtype, nhwc };
  if (shape) v.shape = shape;
  return v;
}

function rankOf(n: TfNode, v: Value): number {
  const r = v.shape?.length;
  if (r === undefined) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} on a tensor of unknown rank (give the graph inputs' shapes)`);
  return r;
}

function constNums(n: TfNode, v: Value | undefined, what: string): number[] {
  if (!v?.value) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} needs a constant ${what}`);
  return numbers(v.value);
}

function range(a: number, b: number): number[] {
  return Array.from({ length: Math.max(0, b - a) }, (_v, i) => a + i);
}

/** i == j over the last two axes of a [rows, cols] matrix, as a bool [rows, cols] tensor (rows, cols known). */
function eye(c: Ctx, rows: number, cols: number): string {
  const r = c.node1('Range', [c.i64([0], true), c.i64([rows], true), c.i64([1], true)]);
  const k = c.node1('Range', [c.i64([0], true), c.i64([cols], true), c.i64([1], true)]);
  return c.node1('Equal', [c.node1('Unsqueeze', [r, c.i64([1])]), k]);
}

/** The main-diagonal form of the V2/V3 matrix ops (k = 0, default sizes); otherwise UNSUPPORTED_OP. */
function mainDiagonalOnly(n: TfNode, k: Value | undefined, extra: (Value | undefined)[] = []): void {
  if (k && constNums(n, k, 'k').some((v) => v !== 0)) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} off the main diagonal (k ≠ 0)`);
  for (const e of extra) if (e && constNums(n, e, 'size').some((v) => v !== -1)) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} with num_rows/num_cols`);
}

function matrixDiag(c: Ctx, n: TfNode, ins: Value[]): Value[] {
  const d = ins[0]!;
  if (n.op !== 'MatrixDiag') mainDiagonalOnly(n, ins[1], [ins[2], ins[3]]);
  const r = rankOf(n, d);
  const N = d.shape![r - 1]!;
  if (N < 0) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} of a diagonal of unknown length`);
  const pad = ins[4] ? c.ref(ins[4]) : c.scalar(0, d.dtype);
  const y = c.node1('Where', [eye(c, N, N), c.node1('Unsqueeze', [c.ref(d), c.i64([-1])]), pad]);
  return [out(d.dtype, y, [...d.shape!, N])];
}

function matrixDiagPart(c: Ctx, n: TfNode, ins: Value[]): Value[] {
  const x = ins[0]!;
  if (n.op !== 'MatrixDiagPart') mainDiagonalOnly(n, ins[1]);
  const r = rankOf(n, x);
  const [M, N] = [x.shape![r - 2]!, x.shape![r - 1]!];
  if (M < 0 || N < 0) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} of a matrix of unknown size`);
  const K = Math.min(M, N);
  const sq = c.node1('Slice', [c.ref(x), c.i64([0, 0]), c.i64([K, K]), c.i64([r - 2, r - 1])]);
  const y = c.reduce('ReduceSum', c.node1('Where', [eye(c, K, K), sq, c.scalar(0, x.dtype)]), [r - 1], false);
  return [out(x.dtype, y, [...x.shape!.slice(0, -2), K])];
}

function matrixSetDiag(c: Ctx, n: TfNode, ins: Value[]): Value[] {
  const [x, d] = [ins[0]!, ins[1]!];
  if (n.op !== 'MatrixSetDiag') mainDiagonalOnly(n, ins[2]);
  const r = rankOf(n, x);
  const [M, N] = [x.shape![r - 2]!, x.shape![r - 1]!];
  if (M < 0 || N < 0) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} of a matrix of unknown size`);
  const K = Math.min(M, N);
  // The diagonal [..., K] padded to [..., M] and broadcast along the columns where i == j.
  let dm = c.ref(d);
  if (M > K) dm = c.node1('Pad', [dm, c.i64([...new Array<number>(r - 1).fill(0), ...new Array<number>(r - 2).fill(0), M - K])]);
  const y = c.node1('Where', [eye(c, M, N), c.node1('Unsqueeze', [dm, c.i64([-1])]), c.ref(x)]);
  return [out(x.dtype, y, x.shape)];
}

export const linalgOps: OpTable = {
  ReverseV2: (c, n, ins) => {
    const x = ins[0]!;
    const r = rankOf(n, x);
    const axes = [...new Set(constNums(n, ins[1], 'axis').map((a) => (a < 0 ? a + r : a)))];
    if (axes.length === 0) return [x];
    const y = c.node1('Slice', [c.ref(x), c.i64(axes.map(() => -1)), c.i64(axes.map(() => -BIG)), c.i64(axes), c.i64(axes.map(() => -1))]);
    return [out(x.dtype, y, x.shape)];
  },
  ReverseSequence: (c, n, ins) => {
    const x = ins[0]!;
    const r = rankOf(n, x);
    let seq = attrInt(n, 'seq_dim', 1);
    let batch = attrInt(n, 'batch_dim', 0);
    if (seq < 0) seq += r;
    if (batch < 0) batch += r;
    // ONNX ReverseSequence takes batch and time on axes 0 and 1: move them there and back.
    const perm = [batch, seq, ...range(0, r).filter((a) => a !== batch && a !== seq)];
    const moved = perm.some((p, i) => p !== i);
    const xt = moved ? c.node1('Transpose', [c.ref(x)], { perm }) : c.ref(x);
    let y = c.node1('ReverseSequence', [xt, c.int64(ins[1]!)], { batch_axis: 0, time_axis: 1 });
    if (moved) y = c.node1('Transpose', [y], { perm: range(0, r).map((a) => perm.indexOf(a)) });
    return [out(x.dtype, y, x.shape)];
  },
  Roll: (c, n, ins) => {
    const x = ins[0]!;
    const r = rankOf(n, x);
    const shifts = constNums(n, ins[1], 'shift');
    const axesIn = constNums(n, ins[2], 'axis');
    const total = new Map<number, number>();
    axesIn.forEach((a, i) => {
      const ax = a < 0 ? a + r : a;
      total.set(ax, (total.get(ax) ?? 0) + (shifts.length === 1 ? shifts[0]! : shifts[i]!));
    });
    let y = c.ref(x);
    for (const [a, s] of total) {
      const d = x.shape![a]!;
      if (d < 0) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: Roll along an axis of unknown size`);
      const k = ((s % d) + d) % d;
      if (k === 0) continue;
      const tail = c.node1('Slice', [y, c.i64([d - k]), c.i64([d]), c.i64([a])]);
      const head = c.node1('Slice', [y, c.i64([0]), c.i64([d - k]), c.i64([a])]);
      y = c.node1('Concat', [tail, head], { axis: a });
    }
    return [out(x.dtype, y === c.ref(x) ? c.node1('Identity', [y]) : y, x.shape)];
  },
  InvertPermutation: (c, _n, ins) => {
    const x = ins[0]!;
    const len = c.node1('Reshape', [c.node1('Shape', [c.ref(x)]), c.i64([])]);
    const idx = c.node1('Cast', [c.node1('Range', [c.i64([0], true), len, c.i64([1], true)])], { to: x.dtype === 'int64' ? 7 : 6 });
    const zeros = c.node1('Mul', [c.ref(x), c.scalar(0, x.dtype)]);
    return [out(x.dtype, c.node1('ScatterElements', [zeros, c.ref(x), idx], { axis: 0 }), x.shape)];
  },
  MatrixBandPart: (c, n, ins) => {
    const x = ins[0]!;
    const r = rankOf(n, x);
    const sh = c.node1('Shape', [c.ref(x)]);
    const dim = (a: number) => c.node1('Reshape', [c.node1('Slice', [sh, c.i64([a]), c.i64([a + 1])]), c.i64([])]);
    const rows = c.node1('Range', [c.i64([0], true), dim(r - 2), c.i64([1], true)]);
    const cols = c.node1('Range', [c.i64([0], true), dim(r - 1), c.i64([1], true)]);
    const diff = c.node1('Sub', [c.node1('Unsqueeze', [rows, c.i64([1])]), cols]); // i − j
    const lo = c.int64(ins[1]!);
    const hi = c.int64(ins[2]!);
    const zero = c.i64([0], true);
    const inLo = c.node1('Or', [c.node1('Less', [lo, zero]), c.node1('LessOrEqual', [diff, lo])]);
    const inHi = c.node1('Or', [c.node1('Less', [hi, zero]), c.node1('LessOrEqual', [c.node1('Neg', [diff]), hi])]);
    return [out(x.dtype, c.node1('Where', [c.node1('And', [inLo, inHi]), c.ref(x), c.scalar(0, x.dtype)]), x.shape)];
  },
  MatrixDiag: matrixDiag, MatrixDiagV2: matrixDiag, MatrixDiagV3: matrixDiag,
  MatrixDiagPart: matrixDiagPart, MatrixDiagPartV2: matrixDiagPart, MatrixDiagPartV3: matrixDiagPart,
  MatrixSetDiag: matrixSetDiag, MatrixSetDiagV2: matrixSetDiag, MatrixSetDiagV3: matrixSetDiag,
  MatrixDeterminant: (c, _n, ins) => {
    const x = ins[0]!;
    return [out(x.dtype, c.node1('Det', [c.ref(x)]), x.shape?.slice(0, -2))];
  },
  LRN: (c, n, ins) => {
    // TF: x / (bias + alpha·Σ x²)^beta over depth_radius channels each side; ONNX LRN's alpha is divided by size.
    const x = ins[0]!;
    const radius = attrInt(n, 'depth_radius', 5);
    const size = 2 * radius + 1;
    const y = c.node1('LRN', [c.nchw(x)], { size, alpha: { f: attrFloat(n, 'alpha', 1) * size }, beta: { f: attrFloat(n, 'beta', 0.5) }, bias: { f: attrFloat(n, 'bias', 1) } });
    const v: Value = { dtype: x.dtype, nchw: y };
    if (x.shape) v.shape = x.shape;
    return [v];
  },
  AdjustContrastv2: (c, n, ins) => {
    const x = ins[0]!;
    const r = rankOf(n, x);
    const m = c.reduce('ReduceMean', c.ref(x), [r - 3, r - 2], true);
    const y = c.node1('Add', [c.node1('Mul', [c.node1('Sub', [c.ref(x), m]), c.ref(ins[1]!)]), m]);
    return [out(x.dtype, y, x.shape)];
  },
  CheckNumerics: (_c, _n, ins) => [ins[0]!],
  EnsureShape: (_c, _n, ins) => [ins[0]!],
};

linalgOps.Size = (c, n, ins) => {
  const x = ins[0]!;
  const t = (n.attr.out_type?.type ? attrType(n, 'out_type') : undefined) ?? 'int32';
  if (x.shape && x.shape.every((d) => d >= 0)) {
    return [{ dtype: t, shape: [], value: { dtype: t, shape: [], data: typedOf(t, [x.shape.reduce((a, d) => a * d, 1)]) } }];
  }
  const s = c.node1('Size', [c.ref(x)]);
  return [out(t, t === 'int64' ? s : c.node1('Cast', [s], { to: onnxType(t) }), [])];
};
linalgOps.Rank = (c, n, ins) => {
  const x = ins[0]!;
  if (x.shape) return [{ dtype: 'int32', shape: [], value: { dtype: 'int32', shape: [], data: Int32Array.of(x.shape.length) } }];
  return [out('int32', c.node1('Cast', [c.node1('Size', [c.node1('Shape', [c.ref(x)])])], { to: onnxType('int32') }), [])];
};
/** Cumprod along an axis of known size (at most 1024), unrolled: running products of the slices, concatenated. */
linalgOps.Cumprod = (c, n, ins) => {
  const x = ins[0]!;
  const r = rankOf(n, x);
  let a = constNums(n, ins[1], 'axis')[0]!;
  if (a < 0) a += r;
  const d = x.shape![a]!;
  if (d < 0 || d > 1024) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: Cumprod along an axis of ${d < 0 ? 'unknown size' : `size ${d} (> 1024)`}`);
  const reverse = attrBool(n, 'reverse', false);
  const exclusive = attrBool(n, 'exclusive', false);
  const flip = (v: string) => c.node1('Slice', [v, c.i64([-1]), c.i64([-BIG]), c.i64([a]), c.i64([-1])]);
  const xs = reverse ? flip(c.ref(x)) : c.ref(x);
  const slices = Array.from({ length: d }, (_v, k) => c.node1('Slice', [xs, c.i64([k]), c.i64([k + 1]), c.i64([a])]));
  const parts: string[] = [];
  let acc = exclusive ? c.node1('Expand', [c.scalar(1, x.dtype), c.node1('Shape', [slices[0]!])]) : slices[0]!;
  parts.push(acc);
  for (let k = 1; k < d; k++) {
    acc = c.node1('Mul', [acc, slices[exclusive ? k - 1 : k]!]);
    parts.push(acc);
  }
  const y = parts.length === 1 ? c.node1('Identity', [parts[0]!]) : c.node1('Concat', parts, { axis: a });
  return [out(x.dtype, reverse ? flip(y) : y, x.shape)];
};
