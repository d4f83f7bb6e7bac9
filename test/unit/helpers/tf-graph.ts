/**
 * Test helper: small TF.js graph models built in memory (NodeDefs in model.json's JSON form, constants as
 * weights), so that the same artifacts run in @tensorflow/tfjs (the oracle) and through the converter.
 */
import type { TfjsArtifacts, TfjsWeightSpec } from '../../../lib/tensorflow/tfjs';

type Json = Record<string, unknown>;
const b64 = (s: string) => Buffer.from(s).toString('base64');

export class GraphBuilder {
  nodes: Json[] = [];
  specs: TfjsWeightSpec[] = [];
  chunks: Uint8Array[] = [];

  input(name: string, shape: number[], dtype = 'DT_FLOAT'): string {
    this.nodes.push({ name, op: 'Placeholder', attr: { dtype: { type: dtype }, shape: { shape: { dim: shape.map((s) => ({ size: String(s) })) } } } });
    return name;
  }

  /** A constant stored as a weight; `quant` stores float32 data as float16 or uint8 (affine). */
  const(name: string, data: Float32Array | Int32Array, shape: number[], quant?: 'float16' | 'uint8'): string {
    const dtype = data instanceof Int32Array ? 'int32' : 'float32';
    this.nodes.push({ name, op: 'Const', attr: { dtype: { type: dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT' }, value: { tensor: { dtype: dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT', tensorShape: { dim: shape.map((s) => ({ size: String(s) })) } } } } });
    const spec: TfjsWeightSpec = { name, shape, dtype };
    if (quant === 'uint8' && data instanceof Float32Array) {
      let lo = Infinity, hi = -Infinity;
      for (const v of data) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      const scale = (hi - lo) / 255 || 1;
      spec.quantization = { dtype: 'uint8', scale, min: lo };
      this.chunks.push(Uint8Array.from(data, (v) => Math.round((v - lo) / scale)));
    } else if (quant === 'float16' && data instanceof Float32Array) {
      spec.quantization = { dtype: 'float16' };
      this.chunks.push(new Uint8Array(toHalf(data).buffer));
    } else {
      this.chunks.push(new Uint8Array(data.buffer.slice(0)));
    }
    this.specs.push(spec);
    return name;
  }

  ints(name: string, vals: number[]): string {
    return this.const(name, Int32Array.from(vals), [vals.length]);
  }

  op(name: string, op: string, inputs: string[], attr: Json = {}): string {
    this.nodes.push({ name, op, input: inputs, attr });
    return name;
  }

  artifacts(): TfjsArtifacts {
    const total = this.chunks.reduce((a, c) => a + c.length, 0);
    const weightData = new Uint8Array(total);
    let o = 0;
    for (const c of this.chunks) { weightData.set(c, o); o += c.length; }
    return { format: 'graph-model', modelTopology: { node: this.nodes as never, versions: { producer: 1 } }, weightSpecs: this.specs, weightData };
  }
}

export const A = {
  s: (v: string) => ({ s: b64(v) }),
  i: (v: number) => ({ i: String(v) }),
  f: (v: number) => ({ f: v }),
  b: (v: boolean) => ({ b: v }),
  ints: (v: number[]) => ({ list: { i: v.map(String) } }),
  strs: (v: string[]) => ({ list: { s: v.map(b64) } }),
  type: (t: string) => ({ type: t }),
};

function toHalf(f: Float32Array): Uint16Array {
  const out = new Uint16Array(f.length);
  const fb = new Float32Array(1);
  const ib = new Uint32Array(fb.buffer);
  for (let i = 0; i < f.length; i++) {
    fb[0] = f[i]!;
    const x = ib[0]!;
    const sign = (x >>> 16) & 0x8000;
    let e = ((x >>> 23) & 0xff) - 127 + 15;
    let m = x & 0x7fffff;
    if (e <= 0) { out[i] = sign; continue; }
    if (e >= 31) { out[i] = sign | 0x7c00; continue; }
    m = m + 0x1000; // round to nearest
    if (m & 0x800000) { m = 0; e++; }
    out[i] = sign | (e << 10) | (m >>> 13);
  }
  return out;
}
