/**
 * The one TensorFlow graph form every reader produces (TF.js model.json, binary GraphDef, SavedModel) and the
 * ONNX converter consumes. Nodes keep GraphDef's JSON spelling (protobuf JSON mapping of NodeDef/AttrValue:
 * int64 as strings, bytes as base64, enums by name), which is what TF.js's model.json holds verbatim and what
 * protobufjs's toObject gives for a binary GraphDef; weights are decoded into typed arrays.
 */
import { elementCount, halfToFloat } from '../dtypes';
import { TensorRTError } from '../errors';

/** TensorFlow dtypes the converter handles, by TF.js name. */
export type TfDType = 'float32' | 'float16' | 'float64' | 'int32' | 'int64' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'bool' | 'string';

export type TfData = Float32Array | Float64Array | Int32Array | BigInt64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | string[];

export interface TfTensor {
  dtype: TfDType;
  shape: number[];
  data: TfData;
}

/** AttrValue in protobuf JSON form. */
export interface TfAttr {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  shape?: { dim?: { size?: string | number }[]; unknownRank?: boolean };
  tensor?: Record<string, unknown>;
  list?: { s?: string[]; i?: (string | number)[]; f?: number[]; b?: boolean[]; type?: string[]; shape?: unknown[] };
  func?: { name?: string; attr?: Record<string, TfAttr> };
}

export interface TfNode {
  name: string;
  op: string;
  /** Inputs as written in the NodeDef: `node`, `node:k`, `^node` (control). */
  input: string[];
  attr: Record<string, TfAttr>;
}

export interface TfSignatureValue {
  /** Tensor name in the graph, `node:k` (`:0` may be omitted). */
  name: string;
  /** Key in the signature (SavedModel), or the tensor name. */
  key: string;
  dtype?: TfDType;
  shape?: number[];
}

export interface TfGraph {
  nodes: TfNode[];
  /** Weights by Const node name. */
  weights: Map<string, TfTensor>;
  inputs?: TfSignatureValue[];
  outputs?: TfSignatureValue[];
  /** Where the graph came from, for the report: 'tfjs-graph-model', 'frozen-graphdef', 'saved-model'. */
  format: string;
}

const DT: Record<string, TfDType> = {
  DT_FLOAT: 'float32', DT_HALF: 'float16', DT_DOUBLE: 'float64', DT_INT32: 'int32', DT_INT64: 'int64',
  DT_INT8: 'int8', DT_UINT8: 'uint8', DT_INT16: 'int16', DT_UINT16: 'uint16', DT_BOOL: 'bool', DT_STRING: 'string',
  // Numeric enum values (DataType in types.proto), for decoders that give numbers.
  '1': 'float32', '19': 'float16', '2': 'float64', '3': 'int32', '9': 'int64', '6': 'int8', '4': 'uint8',
  '5': 'int16', '17': 'uint16', '10': 'bool', '7': 'string',
};

/** TF DataType enum (name or number) to TfDType; undefined for types the converter does not handle. */
export function tfDType(t: string | number | undefined): TfDType | undefined {
  if (t === undefined) return undefined;
  return DT[String(t)];
}

/** TfDType to the TF DataType enum's name (DT_FLOAT for a type without one): the inverse of tfDType. */
export function tfDTypeEnum(d: TfDType | string): string {
  return Object.keys(DT).find((k) => k.startsWith('DT_') && DT[k] === d) ?? 'DT_FLOAT';
}

export function attrType(n: TfNode, k: string): TfDType | undefined {
  return tfDType(n.attr[k]?.type);
}

export function attrInt(n: TfNode, k: string, def: number): number {
  const v = n.attr[k]?.i;
  return v === undefined ? def : Number(v);
}

export function attrFloat(n: TfNode, k: string, def: number): number {
  const v = n.attr[k]?.f;
  return v === undefined ? def : Number(v);
}

export function attrBool(n: TfNode, k: string, def: boolean): boolean {
  const v = n.attr[k]?.b;
  return v === undefined ? def : Boolean(v);
}

/** A bytes attribute (base64 in JSON form) as a latin1 string: padding, data_format, fused_ops entries. */
export function attrStr(n: TfNode, k: string, def: string): string {
  const v = n.attr[k]?.s;
  return v === undefined ? def : Buffer.from(v, 'base64').toString('latin1');
}

export function attrInts(n: TfNode, k: string): number[] | undefined {
  const l = n.attr[k]?.list;
  if (!l) return undefined;
  return (l.i ?? []).map(Number);
}

export function attrStrs(n: TfNode, k: string): string[] {
  return (n.attr[k]?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString('latin1'));
}

/** A tensor's own shape (TensorProto, bundle entries): fully defined, so a dimension without size is 0 (proto3 default). */
export function tensorShape(sh: unknown): number[] {
  return (((sh ?? {}) as { dim?: { size?: string | number }[] }).dim ?? []).map((d) => Number(d.size ?? 0));
}

export function attrShape(a: TfAttr | undefined): number[] | undefined {
  const sh = a?.shape;
  if (!sh || sh.unknownRank) return undefined;
  return (sh.dim ?? []).map((d) => Number(d.size ?? -1));
}

/** Splits `node:k` / `^node` into node name and output index (control inputs give index -1). */
export function parseInput(s: string): { node: string; index: number } {
  if (s.startsWith('^')) return { node: s.slice(1), index: -1 };
  const m = /^(.*):(\d+)$/.exec(s);
  return m ? { node: m[1]!, index: Number(m[2]) } : { node: s, index: 0 };
}

/** Canonical tensor name: `node` for output 0, `node:k` otherwise. */
export function tensorName(node: string, index: number): string {
  return index === 0 ? node : `${node}:${index}`;
}

export { elementCount };

let halfTable: Float32Array | undefined;

/** Converts IEEE half floats to float32 (through a 65,536-entry table). */
export function halfArrayToFloat(h: Uint16Array): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let x = 0; x < 65536; x++) halfTable[x] = halfToFloat(x);
  }
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) out[i] = halfTable[h[i]!]!;
  return out;
}

/** Typed array of `count` elements of `dtype` copied out of `bytes` (little-endian, as TF stores them). */
export function typedFromBytes(dtype: TfDType, bytes: Uint8Array, count: number, what: string): TfData {
  const size: Record<string, number> = { float32: 4, float16: 2, float64: 8, int32: 4, int64: 8, int8: 1, uint8: 1, int16: 2, uint16: 2, bool: 1 };
  const es = size[dtype];
  if (es === undefined) throw new TensorRTError('UNSUPPORTED', `${what}: dtype ${dtype} cannot be read from raw bytes`);
  if (bytes.length < count * es) {
    throw new TensorRTError('PARSE_ERROR', `${what}: ${bytes.length} bytes for ${count} ${dtype} values (${count * es} needed)`);
  }
  const copy = new Uint8Array(count * es);
  copy.set(bytes.subarray(0, count * es));
  const b = copy.buffer;
  switch (dtype) {
    case 'float32': return new Float32Array(b);
    case 'float16': return halfArrayToFloat(new Uint16Array(b)); // widened: the converted graph computes in float32
    case 'float64': return new Float64Array(b);
    case 'int32': return new Int32Array(b);
    case 'int64': return new BigInt64Array(b);
    case 'int8': return new Int8Array(b);
    case 'uint8': return new Uint8Array(b);
    case 'bool': return new Uint8Array(b);
    case 'int16': return new Int16Array(b);
    default: return new Uint16Array(b);
  }
}
