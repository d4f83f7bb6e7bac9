/**
 * Conversion context: the ONNX nodes and initializers being built, the ONNX value behind every TF tensor and
 * its layout. A 4-D TF tensor (NHWC) may exist in ONNX as an NHWC value, an NCHW value, or both; convolutions
 * ask for NCHW, layout-agnostic ops follow whichever layout their inputs already have, and a Transpose is only
 * emitted when a consumer needs the layout that does not exist yet, so transposes that would cancel never appear.
 */
import { onnx } from '../onnx';
import { TensorRTError } from '../errors';
import { elementCount, type TfData, type TfDType, type TfGraph, type TfNode, type TfTensor } from './graph';

const AT = onnx.AttributeProto.AttributeType;
const DT = onnx.TensorProto.DataType;

export const NHWC_TO_NCHW = [0, 3, 1, 2];
export const NCHW_TO_NHWC = [0, 2, 3, 1];

export interface Value {
  dtype: TfDType;
  /** TF (logical) shape; -1 for unknown dimensions; undefined when even the rank is unknown. */
  shape?: number[];
  /** ONNX value holding the tensor in TF layout. */
  nhwc?: string;
  /** ONNX value holding a 4-D tensor as NCHW. */
  nchw?: string;
  /** Known contents (Const nodes and what folds from them). */
  value?: TfTensor;
  /** An ONNX sequence of tensors of `dtype` (a TF TensorList). */
  seq?: boolean;
  /** A TF TensorList held as the stacked tensor itself (TensorListFromTensor, read-only in the graph). */
  tlist?: boolean;
  /** Inside TF1 cond branches (Switch outputs and what is computed from them): the predicates and sides, outermost first. */
  cond?: CondTag[];
}

/** One level of a TF1 cond: the ONNX name of its predicate and the side (Switch output 1 is `true`). */
export interface CondTag { pred: string; side: boolean }

const NODE_TAGS = new WeakMap<onnx.NodeProto, CondTag[]>();
/** The cond branch an emitted ONNX node belongs to (Merge moves such nodes into an ONNX If). */
export function nodeTag(p: onnx.NodeProto): CondTag[] | undefined {
  return NODE_TAGS.get(p);
}

export type AttrSpec = number | number[] | string | { f: number } | { floats: number[] } | { t: onnx.ITensorProto } | { g: onnx.IGraphProto };

export function onnxType(d: TfDType): number {
  switch (d) {
    case 'float32': return DT.FLOAT;
    case 'float16': return DT.FLOAT16;
    case 'float64': return DT.DOUBLE;
    case 'int32': return DT.INT32;
    case 'int64': return DT.INT64;
    case 'int8': return DT.INT8;
    case 'uint8': return DT.UINT8;
    case 'int16': return DT.INT16;
    case 'uint16': return DT.UINT16;
    case 'bool': return DT.BOOL;
    default: return DT.STRING;
  }
}

export function makeAttr(name: string, v: AttrSpec): onnx.AttributeProto {
  if (typeof v === 'number') return onnx.AttributeProto.create({ name, type: AT.INT, i: v });
  if (typeof v === 'string') return onnx.AttributeProto.create({ name, type: AT.STRING, s: Buffer.from(v) });
  if (Array.isArray(v)) return onnx.AttributeProto.create({ name, type: AT.INTS, ints: v });
  if ('f' in v) return onnx.AttributeProto.create({ name, type: AT.FLOAT, f: v.f });
  if ('floats' in v) return onnx.AttributeProto.create({ name, type: AT.FLOATS, floats: v.floats });
  if ('t' in v) return onnx.AttributeProto.create({ name, type: AT.TENSOR, t: v.t });
  return onnx.AttributeProto.create({ name, type: AT.GRAPH, g: v.g });
}

/** Raw little-endian bytes of typed data (bool as bytes, string unsupported). */
function rawBytes(data: TfData): Uint8Array {
  if (Array.isArray(data)) throw new TensorRTError('UNSUPPORTED', 'string tensors cannot become ONNX initializers here');
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

export function tensorProto(name: string, t: TfTensor): onnx.TensorProto {
  return onnx.TensorProto.create({ name, dataType: onnxType(t.dtype), dims: t.shape, rawData: rawBytes(t.data) });
}

/** Transposes typed data of `shape` by `perm`. */
export function transposeTensor(t: TfTensor, perm: number[]): TfTensor {
  const shape = t.shape;
  const r = shape.length;
  const outShape = perm.map((p) => shape[p]!);
  const n = elementCount(shape);
  const src = t.data as Exclude<TfData, string[]>;
  const Ctor = src.constructor as new (n: number) => typeof src;
  const dst = new Ctor(n);
  const inStrides = new Array<number>(r).fill(1);
  for (let i = r - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1]! * shape[i + 1]!;
  const strideOfOut = perm.map((p) => inStrides[p]!);
  const idx = new Array<number>(r).fill(0);
  let srcOff = 0;
  for (let o = 0; o < n; o++) {
    (dst as unknown as number[])[o] = (src as unknown as number[])[srcOff]!;
    for (let a = r - 1; a >= 0; a--) {
      idx[a]!++;
      srcOff += strideOfOut[a]!;
      if (idx[a]! < outShape[a]!) break;
      srcOff -= strideOfOut[a]! * outShape[a]!;
      idx[a] = 0;
    }
  }
  return { dtype: t.dtype, shape: outShape, data: dst };
}

/** Numbers of a small int/float tensor. */
export function numbers(t: TfTensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

export function broadcastShapes(a?: number[], b?: number[]): number[] | undefined {
  if (!a || !b) return undefined;
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    out.push(x === 1 ? y : y === 1 ? x : x === -1 ? y : x);
  }
  return out;
}

/** Converts TF nodes (in topological order) into `ctx`, reading and writing TF tensor values in `values` (convert.ts). */
export type ConvertNodes = (ctx: Ctx, nodes: TfNode[], values: Map<string, Value>, graph: TfGraph, report: { ops: Record<string, number> }) => void;

export class Ctx {
  readonly nodes: onnx.NodeProto[] = [];
  readonly initializers: onnx.TensorProto[];
  private readonly used: Set<string>;
  private readonly constCache: Map<string, string>;
  /** The TF node being converted (names of emitted ONNX nodes derive from it). */
  current?: TfNode;
  /** The cond branch of the nodes being emitted (see Value.cond). */
  tag?: CondTag[];
  /**
   * For ops that convert sub-graphs (loops): the graph being converted, the op counts of the report, and the
   * converter itself (set by convert.ts, so that those ops need not import it back).
   */
  env?: { graph: TfGraph; report: { ops: Record<string, number> }; convertNodes: ConvertNodes };

  constructor(readonly opset: number, reserved: Iterable<string>, parent?: Ctx) {
    // A child context (a Loop body) emits its own nodes but shares names and initializers with its parent: ONNX
    // subgraphs see the outer scope's values.
    this.used = parent ? parent.used : new Set<string>();
    this.initializers = parent ? parent.initializers : [];
    this.constCache = parent ? parent.constCache : new Map<string, string>();
    for (const r of reserved) this.used.add(r);
  }

  child(): Ctx {
    const c = new Ctx(this.opset, [], this);
    if (this.current) c.current = this.current;
    if (this.env) c.env = this.env;
    return c;
  }

  unique(base: string): string {
    let n = base;
    for (let i = 1; this.used.has(n); i++) n = `${base}__${i}`;
    this.used.add(n);
    return n;
  }

  /** Emits an ONNX node; returns its output names. */
  node(op: string, inputs: string[], attrs: Record<string, AttrSpec> = {}, outputs: number | string[] = 1): string[] {
    const base = this.current ? this.current.name : op;
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, (_, i) => this.unique(i === 0 ? `${base}/${op}` : `${base}/${op}:${i}`)) : outputs;
    const attribute = Object.entries(attrs).map(([k, v]) => makeAttr(k, v));
    const proto = onnx.NodeProto.create({ name: this.unique(`${base}/${op}#node`), opType: op, input: inputs, output: outs, attribute });
    this.nodes.push(proto);
    if (this.tag?.length) NODE_TAGS.set(proto, this.tag);
    return outs;
  }

  node1(op: string, inputs: string[], attrs: Record<string, AttrSpec> = {}): string {
    return this.node(op, inputs, attrs, 1)[0]!;
  }

  initializer(t: TfTensor, hint = 'const'): string {
    const name = this.unique(this.current ? `${this.current.name}/${hint}` : hint);
    this.initializers.push(tensorProto(name, t));
    return name;
  }

  /** A shared int64 constant (axes, shapes, pads). */
  i64(vals: number[], scalar = false): string {
    const key = `i64:${scalar ? 's' : ''}${vals.join(',')}`;
    let name = this.constCache.get(key);
    if (!name) {
      name = this.unique(`const_i64_${scalar ? 's' : ''}${vals.join('_').slice(0, 40)}`);
      this.initializers.push(tensorProto(name, { dtype: 'int64', shape: scalar ? [] : [vals.length], data: BigInt64Array.from(vals.map(BigInt)) }));
      this.constCache.set(key, name);
    }
    return name;
  }

  /** A shared scalar constant of a dtype. */
  scalar(v: number, dtype: TfDType): string {
    const key = `s:${dtype}:${v}`;
    let name = this.constCache.get(key);
    if (!name) {
      name = this.unique(`const_${dtype}_${v}`);
      this.initializers.push(tensorProto(name, { dtype, shape: [], data: typedOf(dtype, [v]) }));
      this.constCache.set(key, name);
    }
    return name;
  }

  /** The value in TF layout (materializing its initializer or the NCHW→NHWC transpose). */
  ref(v: Value): string {
    if (v.nhwc) return v.nhwc;
    if (v.value) {
      v.nhwc = this.initializer(v.value);
      return v.nhwc;
    }
    if (v.nchw) {
      v.nhwc = this.tagged(v, () => this.node1('Transpose', [v.nchw!], { perm: NCHW_TO_NHWC }));
      return v.nhwc;
    }
    throw new TensorRTError('INTERNAL', 'TF value without an ONNX value');
  }

  /** A 4-D value as NCHW. */
  nchw(v: Value): string {
    if (v.nchw) return v.nchw;
    if (v.value && v.value.shape.length === 4) {
      v.nchw = this.initializer(transposeTensor(v.value, NHWC_TO_NCHW), 'nchw');
      return v.nchw;
    }
    v.nchw = this.tagged(v, () => this.node1('Transpose', [this.ref(v)], { perm: NHWC_TO_NCHW }));
    return v.nchw;
  }

  /** Emits a value's other layout in the value's own cond branch, not the current node's. */
  private tagged<T>(v: Value, f: () => T): T {
    const saved = this.tag;
    this.tag = v.cond;
    try {
      return f();
    } finally {
      this.tag = saved;
    }
  }

  /** The value as int64 (shape, axes and index inputs of ONNX ops). */
  int64(v: Value): string {
    if (v.value && v.value.dtype !== 'string') {
      if (v.value.shape.length > 1) {
        // Index tensors (Gather, ScatterNd, ...) keep their shape.
        return this.initializer({ dtype: 'int64', shape: v.value.shape, data: BigInt64Array.from(numbers(v.value).map((x) => BigInt(x))) }, 'int64');
      }
      return this.i64(numbers(v.value), v.value.shape.length === 0);
    }
    if (v.dtype === 'int64') return this.ref(v);
    return this.node1('Cast', [this.ref(v)], { to: DT.INT64 });
  }

  /** Reduce-style op: axes as attribute before opset 18 (13 for ReduceSum), as input from then on. */
  reduce(op: string, x: string, axes: number[], keepdims: boolean): string {
    const inputFrom = op === 'ReduceSum' ? 13 : 18;
    if (this.opset >= inputFrom) return this.node1(op, [x, this.i64(axes)], { keepdims: keepdims ? 1 : 0 });
    return this.node1(op, [x], { axes, keepdims: keepdims ? 1 : 0 });
  }
}

export function typedOf(dtype: TfDType, vals: number[]): Exclude<TfData, string[]> {
  switch (dtype) {
    case 'float32': return Float32Array.from(vals);
    case 'float64': return Float64Array.from(vals);
    case 'int32': return Int32Array.from(vals);
    case 'int64': return BigInt64Array.from(vals.map((v) => BigInt(Math.trunc(v))));
    case 'int8': return Int8Array.from(vals);
    case 'int16': return Int16Array.from(vals);
    case 'uint16': return Uint16Array.from(vals);
    default: return Uint8Array.from(vals);
  }
}
