/** Comparison of converted-model outputs with TensorFlow's (the oracle corpus): float, exact, or as sets. */
import type { NpyArray } from '../../../lib/npy';

type Num = ArrayLike<number | bigint | boolean>;

function nums(d: Num): number[] {
  return Array.from(d as ArrayLike<number | bigint | boolean>, (v) => Number(v));
}

/** null when they agree, else why not. float32: within 1e-4 of the reference's largest magnitude. */
export function compareOutput(got: { data: Num; dims: readonly number[] }, ref: NpyArray, how: 'close' | 'exact' | 'set'): string | null {
  const g = nums(got.data);
  const r = nums(ref.data as Num);
  if (how === 'set') {
    const a = [...new Set(g)].sort((x, y) => x - y);
    const b = [...new Set(r)].sort((x, y) => x - y);
    return a.length === b.length && a.every((v, i) => v === b[i]) ? null : `sets differ: got {${a.join(',')}}, TensorFlow {${b.join(',')}}`;
  }
  const shape = ref.shape.join('x');
  if (got.dims.join('x') !== shape) return `shape ${got.dims.join('x') || 'scalar'} != TensorFlow's ${shape || 'scalar'}`;
  if (how === 'exact') {
    const i = g.findIndex((v, k) => v !== r[k]);
    return i < 0 ? null : `element ${i}: ${g[i]} != TensorFlow's ${r[i]}`;
  }
  let maxRef = 0;
  for (const v of r) maxRef = Math.max(maxRef, Math.abs(v));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < r.length; i++) {
    const d = Math.abs(g[i]! - r[i]!);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  return at < 0 || worst <= 1e-4 * maxRef ? null : `max |diff| ${worst} at ${at} > 1e-4 x ${maxRef}`;
}
