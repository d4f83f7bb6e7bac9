/**
 * TensorFlow Serving's REST API (https://www.tensorflow.org/tfx/serving/api_rest):
 *   GET  /v1/models/{model}[/versions/{v}]            model status
 *   GET  /v1/models/{model}[/versions/{v}]/metadata   signature (names, dtypes, shapes)
 *   POST /v1/models/{model}[/versions/{v}]:predict    row format {"instances": [...]} -> {"predictions": [...]}
 *                                                     columnar   {"inputs": ...}      -> {"outputs": ...}
 * Errors are `{"error": "..."}` with TF Serving's HTTP codes. One signature, `serving_default`.
 *
 * `{"b64": "..."}` values: TF Serving uses them for DT_STRING tensors, and so does serve: for a string input (ONNX
 * `string`, DT_STRING) each b64 value is one element, its bytes read as UTF-8, among plain JSON strings. For a
 * numeric input a b64 value stands for the raw little-endian bytes of that value (one instance in the row format,
 * the whole input in the columnar one), whose shape is the model's with at most one dynamic dimension left to
 * infer. String outputs are JSON strings, except those whose name ends in `_bytes`: `{"b64": "..."}` values, as
 * TF Serving's REST API documents.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { invalidArg, TensorRTError } from '../../errors';
import type { ModelVersion } from '../repository';
import type { Packed } from '../json-offload';
import type { ProtocolContext } from './context';
import { sendError } from './reply';
import {
  fmtShape, fromBytes, fromNested, isPacked, parseJsonRequest, Tensor, TensorSpec, TF_DTYPES, toJsonValues, toNested, volume, stringifyResponse,
} from '../tensor';

const PATH = /^([^/:]+)(?:\/versions\/([^/:]+))?(?:(\/metadata)|:(predict|classify|regress))?$/;

function parsePath(rest: string): { model: string; version?: number; metadata: boolean; method?: string } {
  const m = PATH.exec(rest);
  if (!m) throw new TensorRTError('NOT_FOUND', `unknown path /v1/models/${rest}; expected /v1/models/<model>[/versions/<n>][/metadata | :predict]`);
  let version: number | undefined;
  if (m[2] !== undefined) {
    if (!/^\d+$/.test(m[2])) throw invalidArg(`version must be a positive integer; got '${m[2]}'`);
    version = Number(m[2]);
  }
  // the router has decoded the path's percent-escapes once already (a bad escape is its 400)
  return { model: m[1]!, version, metadata: Boolean(m[3]), method: m[4] };
}

function status(mv: ModelVersion[]) {
  return {
    model_version_status: mv.map((v) => ({
      version: String(v.version),
      state: v.state,
      status: { error_code: 'OK', error_message: '' },
    })),
  };
}

function tfShape(spec: TensorSpec) {
  return { dim: spec.shape.map((d) => ({ size: String(d), name: '' })), unknown_rank: false };
}

function metadata(mv: ModelVersion) {
  const sig = (ts: readonly TensorSpec[]) =>
    Object.fromEntries(ts.map((t) => [t.name, { dtype: TF_DTYPES[t.dtype], tensor_shape: tfShape(t), name: t.name }]));
  return {
    model_spec: { name: mv.model, signature_name: '', version: String(mv.version) },
    metadata: {
      signature_def: {
        signature_def: {
          [mv.signature ?? 'serving_default']: { inputs: sig(mv.backend.inputs), outputs: sig(mv.backend.outputs), method_name: 'tensorflow/serving/predict' },
        },
      },
      platform: mv.backend.platform,
    },
  };
}

function isB64(v: unknown): v is { b64: string } {
  return !!v && typeof v === 'object' && !Array.isArray(v) && typeof (v as { b64?: unknown }).b64 === 'string';
}

/** The shape of `bytes` raw bytes of `spec` (its dimensions from `from` on; at most one dynamic one). */
function b64Shape(spec: TensorSpec, from: number, count: number, what: string): number[] {
  const dims = spec.shape.slice(from);
  const dyn = dims.filter((d) => d < 0).length;
  const known = volume(dims.map((d) => (d < 0 ? 1 : d)));
  if (dyn > 1) throw invalidArg(`${what}: a b64 value needs the shape: the model's ${fmtShape(dims)} has ${dyn} dynamic dimensions (send nested lists, or fix the shape in config)`);
  const n = dyn ? count / known : known;
  if (!Number.isInteger(n)) throw invalidArg(`${what}: ${count} values do not fill the shape ${fmtShape(dims)}`);
  return dims.map((d) => (d < 0 ? n : d));
}

function decodeB64(s: string, what: string): Uint8Array {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(s)) throw invalidArg(`${what}: the b64 value is not base64`);
  return Buffer.from(s, 'base64');
}

function bytesPer(spec: TensorSpec): number {
  if (spec.dtype === 'string') return 1; // not reached: string inputs take b64 values per element (fromNested)
  return ({ float32: 4, float64: 8, float16: 2, int8: 1, uint8: 1, bool: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8 } as const)[spec.dtype];
}

/** One input from row-format values (one per instance): nested lists, or b64 raw bytes. */
function fromInstances(values: unknown[] | Packed, spec: TensorSpec, what: string): Tensor {
  if (spec.dtype !== 'string' && !isPacked(values) && values.some(isB64)) {
    if (!values.every(isB64)) throw invalidArg(`${what}: mixes b64 and list values across instances`);
    const parts = values.map((v) => decodeB64((v as { b64: string }).b64, what));
    const bytes = Buffer.concat(parts);
    const inst = b64Shape(spec, 1, parts[0]!.byteLength / bytesPer(spec), what);
    if (parts.some((p) => p.byteLength !== parts[0]!.byteLength)) throw invalidArg(`${what}: b64 instances differ in length`);
    const shape = [values.length, ...inst];
    return { name: spec.name, dtype: spec.dtype, shape, data: fromBytes(bytes, spec.dtype, volume(shape), what) };
  }
  const { shape, data } = fromNested(values, spec.dtype, what, -1);
  return { name: spec.name, dtype: spec.dtype, shape, data };
}

/** One input from a columnar value: nested lists (the whole tensor), or b64 raw bytes. */
function fromColumn(value: unknown, spec: TensorSpec, what: string): Tensor {
  if (spec.dtype !== 'string' && isB64(value)) {
    const bytes = decodeB64(value.b64, what);
    const shape = b64Shape(spec, 0, bytes.byteLength / bytesPer(spec), what);
    return { name: spec.name, dtype: spec.dtype, shape, data: fromBytes(bytes, spec.dtype, volume(shape), what) };
  }
  const { shape, data } = fromNested(value, spec.dtype, what, -1);
  return { name: spec.name, dtype: spec.dtype, shape, data };
}

/** Decodes a predict body into named tensors, and says which response form it asked for. */
export function decodePredict(body: Record<string, unknown>, mv: ModelVersion): { tensors: Record<string, Tensor>; row: boolean } {
  const specs = mv.backend.inputs;
  const names = specs.map((s) => s.name);
  const sig = body.signature_name;
  const served = mv.signature ?? 'serving_default';
  if (sig !== undefined && sig !== served && sig !== '') {
    throw invalidArg(`signature_name ${JSON.stringify(sig)} not found; the model has '${served}'`);
  }
  for (const k of Object.keys(body)) {
    if (k !== 'signature_name' && k !== 'instances' && k !== 'inputs') throw invalidArg(`unknown key '${k}' in the request; expected 'instances' or 'inputs' (and 'signature_name')`);
  }
  const hasInst = body.instances !== undefined;
  const hasInputs = body.inputs !== undefined;
  if (hasInst === hasInputs) throw invalidArg("the request must have exactly one of 'instances' (row format) or 'inputs' (columnar format)");
  const tensors: Record<string, Tensor> = {};
  if (hasInst && isPacked(body.instances)) {
    // a rectangular list of numbers as a whole (packed off the event loop, json-offload.ts): one unnamed input
    if (specs.length !== 1) throw invalidArg(`the model has ${specs.length} inputs (${names.join(', ')}): each instance must be an object naming them`);
    tensors[specs[0]!.name] = fromInstances(body.instances, specs[0]!, `input '${specs[0]!.name}'`);
  } else if (hasInst) {
    const inst = body.instances;
    if (!Array.isArray(inst) || inst.length === 0) throw invalidArg("'instances' must be a non-empty list");
    const named = inst[0] !== null && typeof inst[0] === 'object' && !Array.isArray(inst[0]) && !isB64(inst[0]) && !isPacked(inst[0]);
    if (!named) {
      if (specs.length !== 1) throw invalidArg(`the model has ${specs.length} inputs (${names.join(', ')}): each instance must be an object naming them`);
      tensors[specs[0]!.name] = fromInstances(inst, specs[0]!, `input '${specs[0]!.name}'`);
    } else {
      for (const [i, x] of inst.entries()) {
        if (!x || typeof x !== 'object' || Array.isArray(x) || isB64(x) || isPacked(x)) throw invalidArg(`instance ${i} must be an object naming the inputs (${names.join(', ')})`);
        for (const k of Object.keys(x)) if (!names.includes(k)) throw invalidArg(`instance ${i}: unknown input '${k}'; the model's inputs are ${names.join(', ')}`);
      }
      for (const s of specs) {
        const vals = inst.map((x, i) => {
          const v = (x as Record<string, unknown>)[s.name];
          if (v === undefined) throw invalidArg(`instance ${i} lacks input '${s.name}' (inputs: ${names.join(', ')})`);
          return v;
        });
        tensors[s.name] = fromInstances(vals, s, `input '${s.name}'`);
      }
    }
  } else {
    const v = body.inputs;
    const named = v !== null && typeof v === 'object' && !Array.isArray(v) && !isB64(v) && !isPacked(v);
    if (!named) {
      if (specs.length !== 1) throw invalidArg(`the model has ${specs.length} inputs (${names.join(', ')}): 'inputs' must be an object naming them`);
      tensors[specs[0]!.name] = fromColumn(v, specs[0]!, `input '${specs[0]!.name}'`);
    } else {
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) if (!names.includes(k)) throw invalidArg(`unknown input '${k}'; the model's inputs are ${names.join(', ')}`);
      for (const s of specs) {
        if (o[s.name] === undefined) throw invalidArg(`'inputs' lacks '${s.name}' (inputs: ${names.join(', ')})`);
        tensors[s.name] = fromColumn(o[s.name], s, `input '${s.name}'`);
      }
    }
  }
  return { tensors, row: hasInst };
}

/** A tensor's JSON values; string outputs named `..._bytes` as `{"b64": ...}` (TF Serving's rule). */
function predictValues(t: Tensor): unknown[] {
  if (t.dtype === 'string' && t.name.endsWith('_bytes')) return (t.data as string[]).map((s) => ({ b64: Buffer.from(s, 'utf8').toString('base64') }));
  return toJsonValues(t);
}

/** Encodes the outputs as TF Serving does: predictions per instance (row) or outputs (columnar). */
export function encodePredict(outputs: Tensor[], row: boolean): Record<string, unknown> {
  const nested = outputs.map((t) => toNested(predictValues(t), t.shape));
  if (!row) {
    if (outputs.length === 1) return { outputs: nested[0] };
    return { outputs: Object.fromEntries(outputs.map((t, i) => [t.name, nested[i]])) };
  }
  if (outputs.length === 1) return { predictions: nested[0] };
  const n = outputs[0]!.shape[0] ?? 1;
  const preds = [];
  for (let i = 0; i < n; i++) preds.push(Object.fromEntries(outputs.map((t, j) => [t.name, (nested[j] as unknown[])[i]])));
  return { predictions: preds };
}

export function registerTfServing(app: FastifyInstance, ctx: ProtocolContext): void {
  const handleGet = async (req: FastifyRequest, reply: FastifyReply) => {
    ctx.label(req, 'tfserving');
    try {
      const p = parsePath((req.params as { '*': string })['*']);
      ctx.label(req, 'tfserving', p.model);
      if (p.method) throw new TensorRTError('NOT_FOUND', `:${p.method} needs POST`);
      if (p.metadata) return reply.send(metadata(ctx.repository.get(p.model, p.version)));
      if (p.version !== undefined) return reply.send(status([ctx.repository.get(p.model, p.version)]));
      ctx.repository.get(p.model); // NOT_FOUND when unknown
      const all = ctx.repository.all().filter((v) => v.model === p.model).sort((a, b) => b.version - a.version);
      return reply.send(status(all));
    } catch (e) {
      return sendError(reply, e, 'predict');
    }
  };
  const handlePost = async (req: FastifyRequest, reply: FastifyReply) => {
    ctx.label(req, 'tfserving');
    try {
      const p = parsePath((req.params as { '*': string })['*']);
      ctx.label(req, 'tfserving', p.model, true);
      if (p.method !== 'predict') {
        throw new TensorRTError(p.method ? 'INVALID_ARGUMENT' : 'NOT_FOUND', p.method ? `:${p.method} is not supported (models here have the predict signature only)` : `POST needs :predict (POST /v1/models/${p.model}:predict)`);
      }
      const mv = ctx.repository.get(p.model, p.version);
      const { tensors, row } = decodePredict(await parseJsonRequest(req.body), mv);
      const r = await ctx.infer(req, mv, tensors);
      return reply.type('application/json').send(stringifyResponse(encodePredict(r.outputs, row)));
    } catch (e) {
      return sendError(reply, e, 'predict');
    }
  };
  app.get('/v1/models/*', handleGet);
  app.post('/v1/models/*', handlePost);
}
