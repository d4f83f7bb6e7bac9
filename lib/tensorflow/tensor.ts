/**
 * TensorProto (JSON form: protobufjs toObject with longs/enums as strings, bytes as base64) → TfTensor, for
 * Const nodes whose value sits in the GraphDef itself (frozen graphs, small constants).
 */
import { TensorRTError } from '../errors';
import { tensorShape, elementCount, tfDType, typedFromBytes, type TfTensor } from './graph';
import { typedOf } from './context';

export function tensorFromAttr(t: Record<string, unknown> | undefined, what: string): TfTensor | undefined {
  if (!t) return undefined;
  const dtype = tfDType(t.dtype as string);
  if (!dtype) throw new TensorRTError('UNSUPPORTED_OP', `${what}: constant of dtype ${String(t.dtype)}`);
  const shape = tensorShape(t.tensorShape);
  const n = elementCount(shape);
  const outType = dtype === 'float16' ? 'float32' : dtype;
  if (typeof t.tensorContent === 'string' && t.tensorContent.length > 0) {
    const bytes = new Uint8Array(Buffer.from(t.tensorContent, 'base64'));
    return { dtype: outType, shape, data: typedFromBytes(dtype, bytes, n, what) };
  }
  if (dtype === 'string') {
    const s = ((t.stringVal as string[]) ?? []).map((v) => Buffer.from(v, 'base64').toString('latin1'));
    return { dtype, shape, data: Array.from({ length: n }, (_v, i) => s[Math.min(i, s.length - 1)] ?? '') };
  }
  const key = dtype === 'float32' ? 'floatVal' : dtype === 'float64' ? 'doubleVal' : dtype === 'int64' ? 'int64Val' : dtype === 'bool' ? 'boolVal' : dtype === 'float16' ? 'halfVal' : 'intVal';
  let vals = ((t[key] as unknown[]) ?? []).map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : Number(v)));
  if (dtype === 'float16') {
    const h = Uint16Array.from(vals);
    vals = Array.from(typedFromBytes('float16', new Uint8Array(h.buffer), h.length, what) as Float32Array);
  }
  // Repeated fields may hold fewer values than elements: the last one repeats (TensorProto's rule).
  const full = Array.from({ length: n }, (_v, i) => (vals.length ? vals[Math.min(i, vals.length - 1)]! : 0));
  return { dtype: outType, shape, data: typedOf(outType, full) };
}
