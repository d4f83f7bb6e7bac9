/**
 * KServe v2 / Open Inference Protocol over HTTP (what Triton and KServe speak,
 * https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/):
 *   GET  /v2                                          server metadata
 *   GET  /v2/health/live, /v2/health/ready            liveness / readiness (503 while not ready or draining)
 *   GET  /v2/models/{m}[/versions/{v}]                model metadata (platform, inputs, outputs)
 *   GET  /v2/models/{m}[/versions/{v}]/ready          model readiness
 *   POST /v2/models/{m}[/versions/{v}]/infer          JSON tensors {name, shape, datatype, data}, requested outputs,
 *                                                     and Triton's binary tensor extension: a body of
 *                                                     `Inference-Header-Content-Length` bytes of JSON followed by
 *                                                     raw tensors (`parameters.binary_data_size`); outputs come back
 *                                                     binary when asked with `parameters.binary_data` (per output)
 *                                                     or `parameters.binary_data_output` (request).
 * Errors are `{"error": "..."}`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { invalidArg } from '../../errors';
import type { ModelVersion } from '../repository';
import type { ProtocolContext } from './context';
import { sendError } from './reply';
import {
  bytesOf, fmtShape, FROM_KSERVE, fromBytes, fromFlat, isPacked, KSERVE_DTYPES, parseJsonRequest, stringifyResponse, Tensor, toJsonValues, volume,
} from '../tensor';

function versionOf(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw invalidArg(`version must be a positive integer; got '${v}'`);
  return Number(v);
}

export function modelMetadata(mv: ModelVersion, versions: number[]) {
  const t = (x: { name: string; dtype: keyof typeof KSERVE_DTYPES; shape: number[] }) => ({ name: x.name, datatype: KSERVE_DTYPES[x.dtype], shape: x.shape });
  return {
    name: mv.model,
    versions: versions.map(String),
    platform: mv.backend.platform,
    inputs: mv.backend.inputs.map(t),
    outputs: mv.backend.outputs.map(t),
  };
}

interface InferRequest {
  id?: unknown;
  parameters?: Record<string, unknown>;
  inputs?: unknown;
  outputs?: unknown;
}

/** Splits a binary-extension body into its JSON header and the raw bytes behind it. */
export function splitBinaryBody(body: Buffer, headerLength: string | undefined): { json: Buffer; binary: Buffer | null } {
  if (headerLength === undefined) return { json: body, binary: null };
  const n = Number(headerLength);
  if (!/^\d+$/.test(headerLength) || n > body.length) {
    throw invalidArg(`Inference-Header-Content-Length ${JSON.stringify(headerLength)} must be an integer no larger than the body (${body.length} bytes)`);
  }
  return { json: body.subarray(0, n), binary: body.subarray(n) };
}

/** Decodes an infer request into named tensors and the outputs asked for (with binary flags). */
export function decodeInfer(req: InferRequest, binary: Buffer | null, mv: ModelVersion): {
  tensors: Record<string, Tensor>;
  outputs: { name: string; binary: boolean }[];
} {
  const specs = mv.backend.inputs;
  const names = specs.map((s) => s.name);
  if (!Array.isArray(req.inputs) || req.inputs.length === 0) throw invalidArg(`'inputs' must be a non-empty list of tensors {name, shape, datatype, data}; the model's inputs: ${names.join(', ')}`);
  const tensors: Record<string, Tensor> = {};
  let offset = 0;
  for (const [i, x] of (req.inputs as unknown[]).entries()) {
    if (!x || typeof x !== 'object' || Array.isArray(x)) throw invalidArg(`inputs[${i}] must be an object {name, shape, datatype, data}`);
    const t = x as { name?: unknown; shape?: unknown; datatype?: unknown; data?: unknown; parameters?: Record<string, unknown> };
    if (typeof t.name !== 'string') throw invalidArg(`inputs[${i}].name must be a string (one of ${names.join(', ')})`);
    const spec = specs.find((s) => s.name === t.name);
    if (!spec) throw invalidArg(`unknown input '${t.name}'; the model's inputs are ${names.join(', ')}`);
    if (tensors[t.name]) throw invalidArg(`input '${t.name}' is given twice`);
    const what = `input '${t.name}'`;
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw invalidArg(`${what}: shape must be a list of non-negative integers`);
    const dtype = typeof t.datatype === 'string' ? FROM_KSERVE[t.datatype] : undefined;
    if (!dtype) throw invalidArg(`${what}: datatype must be one of ${Object.values(KSERVE_DTYPES).join(', ')}; got ${JSON.stringify(t.datatype)}`);
    if (dtype !== spec.dtype) throw invalidArg(`${what}: expected datatype ${KSERVE_DTYPES[spec.dtype]}; got ${t.datatype}`);
    const shape = t.shape as number[];
    const count = volume(shape);
    const size = t.parameters?.binary_data_size;
    let data;
    if (size !== undefined) {
      if (!binary) throw invalidArg(`${what}: binary_data_size given, but the request has no Inference-Header-Content-Length header`);
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || offset + size > binary.length) {
        throw invalidArg(`${what}: binary_data_size ${String(size)} exceeds the ${binary.length - offset} binary bytes left in the body`);
      }
      data = fromBytes(binary.subarray(offset, offset + size), dtype, count, what);
      offset += size;
    } else {
      if (!Array.isArray(t.data) && !isPacked(t.data)) throw invalidArg(`${what}: data must be a list of values (or use binary_data_size)`);
      data = fromFlat(t.data, dtype, what);
      if (data.length !== count) throw invalidArg(`${what}: shape ${fmtShape(shape)} needs ${count} values; data has ${data.length}`);
    }
    tensors[t.name] = { name: t.name, dtype, shape, data };
  }
  if (binary && offset !== binary.length) throw invalidArg(`the body has ${binary.length - offset} binary bytes that no input claims (binary_data_size)`);
  const outNames = mv.backend.outputs.map((o) => o.name);
  const binAll = req.parameters?.binary_data_output === true;
  let outputs: { name: string; binary: boolean }[];
  if (req.outputs === undefined) {
    outputs = outNames.map((name) => ({ name, binary: binAll }));
  } else {
    if (!Array.isArray(req.outputs)) throw invalidArg(`'outputs' must be a list of {name}; the model's outputs: ${outNames.join(', ')}`);
    outputs = (req.outputs as unknown[]).map((o, i) => {
      const x = o as { name?: unknown; parameters?: Record<string, unknown> } | null;
      if (!x || typeof x.name !== 'string' || !outNames.includes(x.name)) {
        throw invalidArg(`outputs[${i}]: unknown output ${JSON.stringify(x?.name)}; the model's outputs are ${outNames.join(', ')}`);
      }
      const b = x.parameters?.binary_data;
      return { name: x.name, binary: b === undefined ? binAll : b === true };
    });
  }
  return { tensors, outputs };
}

/** The response: JSON, or JSON header + binary tensors (with its header length). */
export function encodeInfer(
  mv: ModelVersion, id: unknown, outs: Tensor[], wanted: { name: string; binary: boolean }[],
): { body: string | Buffer; headerLength?: number } {
  const bins: Buffer[] = [];
  const outputs = wanted.map((w) => {
    const t = outs.find((o) => o.name === w.name)!;
    const base = { name: t.name, datatype: KSERVE_DTYPES[t.dtype], shape: t.shape };
    if (w.binary) {
      const b = bytesOf(t.data);
      bins.push(b);
      return { ...base, parameters: { binary_data_size: b.length } };
    }
    return { ...base, data: toJsonValues(t) };
  });
  const res: Record<string, unknown> = { model_name: mv.model, model_version: String(mv.version) };
  if (typeof id === 'string') res.id = id;
  res.outputs = outputs;
  const json = stringifyResponse(res);
  if (!bins.length) return { body: json };
  const head = Buffer.from(json, 'utf8');
  return { body: Buffer.concat([head, ...bins]), headerLength: head.length };
}

export function registerKServeV2(app: FastifyInstance, ctx: ProtocolContext): void {
  type P = { model: string; version?: string };
  app.get('/v2', async (req) => {
    ctx.label(req, 'kserve');
    return { name: 'tensorrt-node', version: ctx.version, extensions: ['binary_tensor_data'] };
  });
  app.get('/v2/health/live', async (req) => {
    ctx.label(req, 'kserve');
    return { live: true };
  });
  app.get('/v2/health/ready', async (req, reply) => {
    ctx.label(req, 'kserve');
    const ready = ctx.ready();
    return reply.code(ready ? 200 : 503).send({ ready });
  });
  const meta = async (req: FastifyRequest, reply: FastifyReply) => {
    const p = req.params as P;
    ctx.label(req, 'kserve', p.model);
    try {
      const mv = ctx.repository.get(p.model, versionOf(p.version));
      const versions = ctx.repository.all().filter((v) => v.model === p.model && v.state === 'AVAILABLE').map((v) => v.version).sort((a, b) => a - b);
      return reply.send(modelMetadata(mv, versions));
    } catch (e) {
      return sendError(reply, e, 'infer');
    }
  };
  const ready = async (req: FastifyRequest, reply: FastifyReply) => {
    const p = req.params as P;
    ctx.label(req, 'kserve', p.model);
    try {
      const mv = ctx.repository.get(p.model, versionOf(p.version));
      const ok = mv.state === 'AVAILABLE' && ctx.ready(false); // a model's readiness is its own
      return reply.code(ok ? 200 : 503).send({ name: mv.model, ready: ok });
    } catch (e) {
      return sendError(reply, e, 'infer');
    }
  };
  const infer = async (req: FastifyRequest, reply: FastifyReply) => {
    const p = req.params as P;
    ctx.label(req, 'kserve', p.model, true);
    try {
      const mv = ctx.repository.get(p.model, versionOf(p.version));
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const hl = req.headers['inference-header-content-length'];
      const { json, binary } = splitBinaryBody(raw, Array.isArray(hl) ? hl[0] : hl);
      const body = (await parseJsonRequest(json, binary ? 'the JSON header of the request' : 'the request body')) as InferRequest;
      const { tensors, outputs } = decodeInfer(body, binary, mv);
      const r = await ctx.infer(req, mv, tensors);
      const enc = encodeInfer(mv, body.id, r.outputs, outputs);
      if (enc.headerLength !== undefined) {
        reply.header('Inference-Header-Content-Length', String(enc.headerLength)).type('application/octet-stream');
      } else {
        reply.type('application/json');
      }
      return reply.send(enc.body);
    } catch (e) {
      return sendError(reply, e, 'infer');
    }
  };
  for (const prefix of ['/v2/models/:model', '/v2/models/:model/versions/:version']) {
    app.get(prefix, meta);
    app.get(`${prefix}/ready`, ready);
    app.post(`${prefix}/infer`, infer);
  }
}
