/**
 * CropAndResize (bilinear or nearest, extrapolation_value outside the image), as TF computes it: per box and
 * output pixel, in_y = y1·(H−1) + i·(y2−y1)·(H−1)/(crop_h−1) (the box centre when crop_h is 1), the same for x;
 * the four neighbours (or the nearest, rounding half up) are gathered from the image flattened to [B·H·W, C].
 */
import { onnx } from '../../onnx';
import { TensorRTError } from '../../errors';
import { attrFloat, attrStr } from '../graph';
import { numbers, type Value } from '../context';
import type { OpTable } from './types';

const DT = onnx.TensorProto.DataType;

export const cropOps: OpTable = {
  CropAndResize: (c, n, ins) => {
    const [img, boxes, ind] = [ins[0]!, ins[1]!, ins[2]!];
    if (!ins[3]?.value) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: CropAndResize needs a constant crop_size`);
    const [ch, cw] = numbers(ins[3].value) as [number, number];
    const [H, W] = [img.shape?.[1] ?? -1, img.shape?.[2] ?? -1];
    if (H < 0 || W < 0) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: CropAndResize of an image of unknown height/width (give the input's shape)`);
    const method = attrStr(n, 'method', 'bilinear');
    if (method !== 'bilinear' && method !== 'nearest') throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: CropAndResize method ${method}`);
    const f = (x: number) => c.scalar(x, 'float32');
    const b = c.ref(boxes);
    const col = (k: number) => c.node1('Slice', [b, c.i64([k]), c.i64([k + 1]), c.i64([1])]); // [N, 1]
    const [y1, x1, y2, x2] = [0, 1, 2, 3].map(col) as [string, string, string, string];
    // Source coordinates [N, size] along one axis.
    const coords = (lo: string, hi: string, size: number, dim: number): string => {
      if (size === 1) return c.node1('Mul', [c.node1('Add', [lo, hi]), f(0.5 * (dim - 1))]);
      const step = c.node1('Div', [c.node1('Mul', [c.node1('Sub', [hi, lo]), f(dim - 1)]), f(size - 1)]);
      const i = c.node1('Cast', [c.node1('Range', [c.i64([0], true), c.i64([size], true), c.i64([1], true)])], { to: DT.FLOAT });
      return c.node1('Add', [c.node1('Mul', [lo, f(dim - 1)]), c.node1('Mul', [i, step])]);
    };
    const iy = coords(y1, y2, ch, H);
    const ix = coords(x1, x2, cw, W);
    const inside = (v: string, dim: number) => c.node1('And', [c.node1('GreaterOrEqual', [v, f(0)]), c.node1('LessOrEqual', [v, f(dim - 1)])]);
    const mask = c.node1('And', [c.node1('Unsqueeze', [inside(iy, H), c.i64([2, 3])]), c.node1('Unsqueeze', [inside(ix, W), c.i64([1, 3])])]); // [N, ch, cw, 1]
    const flat = c.node1('Flatten', [c.ref(img)], { axis: 3 }); // [B·H·W, C]
    const bi = c.node1('Unsqueeze', [c.int64(ind), c.i64([1, 2])]); // [N, 1, 1]
    const idx = (v: string, dim: number) => c.node1('Cast', [c.node1('Min', [c.node1('Max', [v, f(0)]), f(dim - 1)])], { to: DT.INT64 });
    const gather = (ys: string, xs: string): string => {
      // ((b·H + y)·W + x) for y [N, ch] and x [N, cw].
      const row = c.node1('Add', [c.node1('Mul', [bi, c.i64([H], true)]), c.node1('Unsqueeze', [ys, c.i64([2])])]);
      const lin = c.node1('Add', [c.node1('Mul', [row, c.i64([W], true)]), c.node1('Unsqueeze', [xs, c.i64([1])])]);
      return c.node1('Gather', [flat, lin], { axis: 0 }); // [N, ch, cw, C]
    };
    let y: string;
    if (method === 'nearest') {
      const r = (v: string) => c.node1('Floor', [c.node1('Add', [v, f(0.5)])]);
      y = gather(idx(r(iy), H), idx(r(ix), W));
    } else {
      const [ty, by] = [c.node1('Floor', [iy]), c.node1('Ceil', [iy])];
      const [lx, rx] = [c.node1('Floor', [ix]), c.node1('Ceil', [ix])];
      const yl = c.node1('Unsqueeze', [c.node1('Sub', [iy, ty]), c.i64([2, 3])]);
      const xl = c.node1('Unsqueeze', [c.node1('Sub', [ix, lx]), c.i64([1, 3])]);
      const [tl, tr, bl, br] = [gather(idx(ty, H), idx(lx, W)), gather(idx(ty, H), idx(rx, W)), gather(idx(by, H), idx(lx, W)), gather(idx(by, H), idx(rx, W))];
      const cast = (s: string) => (img.dtype === 'float32' ? s : c.node1('Cast', [s], { to: DT.FLOAT }));
      const lerp = (a: string, z: string, t: string) => c.node1('Add', [a, c.node1('Mul', [c.node1('Sub', [z, a]), t])]);
      const top = lerp(cast(tl), cast(tr), xl);
      const bottom = lerp(cast(bl), cast(br), xl);
      y = lerp(top, bottom, yl);
    }
    if (method === 'nearest' && img.dtype !== 'float32') y = c.node1('Cast', [y], { to: DT.FLOAT });
    const outV: Value = { dtype: 'float32', nhwc: c.node1('Where', [mask, y, f(attrFloat(n, 'extrapolation_value', 0))]) };
    outV.shape = [boxes.shape?.[0] ?? -1, ch, cw, img.shape?.[3] ?? -1];
    return [outV];
  },
};
