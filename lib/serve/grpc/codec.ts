/**
 * KServe v2 gRPC messages <-> serve's tensors: a `ModelInferRequest` (as @grpc/proto-loader decodes it: keepCase,
 * 64-bit integers as strings, `bytes` as Buffer views of the received message) into named tensors checked against
 * the model, and the batch's outputs into a `ModelInferResponse` with `raw_output_contents` (as Triton answers).
 *
 * Inputs come either all as `raw_input_contents` (one little-endian buffer per input, in the order of `inputs`) or
 * each in its typed `contents` field (`fp32_contents` for FP32, `int_contents` for INT8/16/32, ...); FP16 only raw,
 * as the protocol says. BYTES (string) tensors: `bytes_contents` (one bytes value per element, read as UTF-8) or
 * raw, each element a 4-byte little-endian length and its bytes (Triton's layout, tensor.ts decodeStrings); their
 * outputs come back raw in that layout.
 */
import { invalidArg } from '../../errors';
import type { ModelVersion } from '../repository';
import { bytesOf, fmtShape, FROM_KSERVE, fromBytes, fromFlat, KSERVE_DTYPES, ServeDType, Tensor, TensorSpec, volume } from '../tensor';

export interface InferTensorContents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: string[];
  uint_contents?: number[];
  uint64_contents?: string[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Buffer[];
}

export interface InferInputTensor {
  name?: string;
  datatype?: string;
  shape?: (string | number)[];
  contents?: InferTensorContents | null;
}

export interface ModelInferRequest {
  model_name?: string;
  model_version?: string;
  id?: string;
  inputs?: InferInputTensor[];
  outputs?: { name?: string }[];
  raw_input_contents?: Buffer[];
}

export interface ModelInferResponse {
  model_name: string;
  model_version: string;
  id: string;
  outputs: { name: string; datatype: string; shape: number[] }[];
  raw_output_contents: Buffer[];
}

/** Which `InferTensorContents` field holds values of a dtype (FP16 has none: raw only). */
const CONTENTS_FIELD: Partial<Record<ServeDType, keyof InferTensorContents>> = {
  bool: 'bool_contents', int8: 'int_contents', int16: 'int_contents', int32: 'int_contents', int64: 'int64_contents',
  uint8: 'uint_contents', uint16: 'uint_contents', uint32: 'uint_contents', uint64: 'uint64_contents',
  float32: 'fp32_contents', float64: 'fp64_contents', string: 'bytes_contents',
};

/** A version field: '' = the served (newest ready) version; else a positive integer. */
export function parseVersion(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw invalidArg(`model_version must be a positive integer or empty; got '${v}'`);
  return Number(v);
}

function parseShape(shape: (string | number)[] | undefined, what: string): number[] {
  const out = (shape ?? []).map((d) => Number(d));
  if (!out.every((d) => Number.isSafeInteger(d) && d >= 0)) throw invalidArg(`${what}: shape must be a list of non-negative integers; got [${(shape ?? []).join(', ')}]`);
  return out;
}

function nonEmptyFields(c: InferTensorContents | null | undefined): (keyof InferTensorContents)[] {
  if (!c) return [];
  return (Object.keys(c) as (keyof InferTensorContents)[]).filter((k) => Array.isArray(c[k]) && (c[k] as unknown[]).length > 0);
}

/** The request's input tensors, checked against the model's inputs (names, dtypes, value counts). */
export function decodeInferRequest(req: ModelInferRequest, mv: ModelVersion): { tensors: Record<string, Tensor>; outputs: string[] } {
  const specs: readonly TensorSpec[] = mv.backend.inputs;
  const names = specs.map((s) => s.name).join(', ');
  const inputs = req.inputs ?? [];
  if (inputs.length === 0) throw invalidArg(`'inputs' must be a non-empty list of tensors; the model's inputs: ${names}`);
  const raw = req.raw_input_contents ?? [];
  if (raw.length > 0 && raw.length !== inputs.length) {
    throw invalidArg(`raw_input_contents has ${raw.length} buffers for ${inputs.length} inputs: give one per input (in the order of 'inputs') or none`);
  }
  const tensors: Record<string, Tensor> = {};
  inputs.forEach((t, i) => {
    const name = t.name ?? '';
    const spec = specs.find((s) => s.name === name);
    if (!spec) throw invalidArg(`unknown input '${name}'; the model's inputs are ${names}`);
    if (tensors[name]) throw invalidArg(`input '${name}' is given twice`);
    const what = `input '${name}'`;
    const dtype = FROM_KSERVE[t.datatype ?? ''];
    if (!dtype) {
      throw invalidArg(`${what}: datatype ${JSON.stringify(t.datatype ?? '')} is not one serve takes (${Object.values(KSERVE_DTYPES).join(', ')}); the model expects ${KSERVE_DTYPES[spec.dtype]}`);
    }
    if (dtype !== spec.dtype) throw invalidArg(`${what}: expected datatype ${KSERVE_DTYPES[spec.dtype]}; got ${t.datatype}`);
    const shape = parseShape(t.shape, what);
    const count = volume(shape);
    const given = nonEmptyFields(t.contents);
    let data;
    if (raw.length > 0) {
      if (given.length > 0) throw invalidArg(`${what}: contents and raw_input_contents are both given; use one`);
      data = fromBytes(raw[i]!, dtype, count, what);
    } else {
      const field = CONTENTS_FIELD[dtype];
      if (!field) throw invalidArg(`${what}: ${KSERVE_DTYPES[dtype]} values travel only in raw_input_contents (the protocol has no typed field for them)`);
      const wrong = given.filter((g) => g !== field);
      if (wrong.length > 0) throw invalidArg(`${what}: ${KSERVE_DTYPES[dtype]} values go in contents.${field}; got ${wrong.join(', ')}`);
      const values = (t.contents?.[field] ?? []) as unknown[];
      data = fromFlat(values, dtype, what);
      if (data.length !== count) throw invalidArg(`${what}: shape ${fmtShape(shape)} needs ${count} values; contents.${field} has ${data.length}`);
    }
    tensors[name] = { name, dtype, shape, data };
  });
  const outNames = mv.backend.outputs.map((o) => o.name);
  const wanted = req.outputs ?? [];
  const outputs = wanted.length === 0 ? outNames : wanted.map((o, i) => {
    const n = o.name ?? '';
    if (!outNames.includes(n)) throw invalidArg(`outputs[${i}]: unknown output '${n}'; the model's outputs are ${outNames.join(', ')}`);
    return n;
  });
  return { tensors, outputs };
}

/** The response: outputs in the order asked for, values in `raw_output_contents`. */
export function encodeInferResponse(mv: ModelVersion, id: string | undefined, outs: Tensor[], wanted: string[]): ModelInferResponse {
  const chosen = wanted.map((n) => outs.find((o) => o.name === n)!);
  return {
    model_name: mv.model,
    model_version: String(mv.version),
    id: id ?? '',
    outputs: chosen.map((t) => ({ name: t.name, datatype: KSERVE_DTYPES[t.dtype], shape: t.shape })),
    raw_output_contents: chosen.map((t) => bytesOf(t.data)),
  };
}
