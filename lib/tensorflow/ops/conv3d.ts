/**
 * 3-D convolution and pooling (Conv3D, MaxPool3D, AvgPool3D; NDHWC): the input transposed to NCDHW, the filter
 * DHWIO rearranged to OIDHW at conversion time, the output transposed back. Padding SAME (from the known spatial
 * sizes, else SAME_UPPER) or VALID, strides and dilations per spatial axis.
 */
import { TensorRTError } from '../../errors';
import { attrInts, attrStr, type TfNode } from '../graph';
import { transposeTensor, type Ctx, type Value } from '../context';
import type { OpTable } from './types';

const TO_NCDHW = [0, 4, 1, 2, 3];
const TO_NDHWC = [0, 2, 3, 4, 1];

interface Geo { attrs: Record<string, number[] | string>; outSpatial: number[] }

function geometry(n: TfNode, x: Value, kernel: number[], dilations: number[]): Geo {
  const fmt = attrStr(n, 'data_format', 'NDHWC');
  if (fmt !== 'NDHWC') throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} with data_format ${fmt} (only NDHWC)`);
  const s = attrInts(n, 'strides') ?? [1, 1, 1, 1, 1];
  const strides = [s[1]!, s[2]!, s[3]!];
  const inS = [1, 2, 3].map((a) => x.shape?.[a] ?? -1);
  const padding = attrStr(n, 'padding', 'VALID');
  const attrs: Record<string, number[] | string> = { strides };
  let outSpatial: number[];
  if (padding === 'SAME') {
    outSpatial = inS.map((v, i) => (v > 0 ? Math.ceil(v / strides[i]!) : -1));
    if (inS.every((v) => v > 0)) {
      const before: number[] = [];
      const after: number[] = [];
      inS.forEach((v, i) => {
        const eff = (kernel[i]! - 1) * dilations[i]! + 1;
        const total = Math.max((outSpatial[i]! - 1) * strides[i]! + eff - v, 0);
        before.push(Math.floor(total / 2));
        after.push(total - Math.floor(total / 2));
      });
      attrs.pads = [...before, ...after];
    } else attrs.auto_pad = 'SAME_UPPER';
  } else if (padding === 'VALID') {
    attrs.pads = [0, 0, 0, 0, 0, 0];
    outSpatial = inS.map((v, i) => (v > 0 ? Math.floor((v - ((kernel[i]! - 1) * dilations[i]! + 1)) / strides[i]!) + 1 : -1));
  } else throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: ${n.op} with padding ${padding}`);
  return { attrs, outSpatial };
}

function ncdhw(c: Ctx, x: Value): string {
  return c.node1('Transpose', [c.ref(x)], { perm: TO_NCDHW });
}

function back(c: Ctx, y: string, dtype: Value['dtype'], shape: number[]): Value {
  return { dtype, shape, nhwc: c.node1('Transpose', [y], { perm: TO_NDHWC }) };
}

function pool3d(op: 'MaxPool' | 'AveragePool') {
  return (c: Ctx, n: TfNode, ins: Value[]): Value[] => {
    const x = ins[0]!;
    const k = attrInts(n, 'ksize') ?? [1, 1, 1, 1, 1];
    if (k[0] !== 1 || k[4] !== 1) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: pooling over batch or channels`);
    const kernel = [k[1]!, k[2]!, k[3]!];
    const g = geometry(n, x, kernel, [1, 1, 1]);
    const y = c.node1(op, [ncdhw(c, x)], { ...g.attrs, kernel_shape: kernel });
    return [back(c, y, x.dtype, [x.shape?.[0] ?? -1, ...g.outSpatial, x.shape?.[4] ?? -1])];
  };
}

export const conv3dOps: OpTable = {
  Conv3D: (c, n, ins) => {
    const x = ins[0]!;
    const f = ins[1]!.value;
    if (!f) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: Conv3D needs a constant filter`);
    const [kd, kh, kw, cin, cout] = f.shape as [number, number, number, number, number];
    const d = attrInts(n, 'dilations') ?? [1, 1, 1, 1, 1];
    const dil = [d[1]!, d[2]!, d[3]!];
    const g = geometry(n, x, [kd, kh, kw], dil);
    const w = transposeTensor(f, [4, 3, 0, 1, 2]);
    const xc = x.shape?.[4] ?? -1;
    const attrs: Record<string, number | number[] | string> = { ...g.attrs, dilations: dil, kernel_shape: [kd, kh, kw] };
    if (xc > 0 && xc !== cin) attrs.group = xc / cin;
    const y = c.node1('Conv', [ncdhw(c, x), c.initializer(w, 'weights')], attrs);
    return [back(c, y, x.dtype, [x.shape?.[0] ?? -1, ...g.outSpatial, cout])];
  },
  MaxPool3D: pool3d('MaxPool'),
  AvgPool3D: pool3d('AveragePool'),
};
