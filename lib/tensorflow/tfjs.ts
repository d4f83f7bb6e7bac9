/**
 * Reader for TF.js graph models: `model.json` (or a JS-wrapped `model*.js`) plus its weight shards (binary,
 * or JS-wrapped base64 as nsfwjs ships them). Weights may be float32/int32/bool, float16-quantized or
 * uint8/uint16-affine-quantized (value = q × scale + min); all are decoded here into the TF graph form.
 */
import * as fs from 'fs';
import * as path from 'path';
import { TensorRTError } from '../errors';
import { wrappedExport } from './literal';
import {
  attrShape, elementCount, halfArrayToFloat, tfDType, typedFromBytes,
  type TfDType, type TfGraph, type TfNode, type TfSignatureValue, type TfTensor,
} from './graph';

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: 'uint8' | 'uint16' | 'float16'; scale?: number; min?: number };
}

/** What a TF.js graph model consists of, as tf.io.ModelArtifacts spells it. */
export interface TfjsArtifacts {
  format?: string;
  modelTopology: { node?: TfNode[]; library?: unknown; versions?: unknown };
  weightSpecs: TfjsWeightSpec[];
  /** All shards of all groups, concatenated in manifest order. */
  weightData: Uint8Array;
  signature?: unknown;
  userDefinedMetadata?: Record<string, unknown>;
}

function readFile(p: string): Buffer {
  try {
    return fs.readFileSync(p);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new TensorRTError('IO_ERROR', `cannot read ${p}: ${err.code ?? err.message}`, { cause: e });
  }
}

/** True when the bytes look like a JS-wrapped module rather than binary weights. */
function isWrappedJs(b: Buffer): boolean {
  const head = b.subarray(0, Math.min(b.length, 4096)).toString('latin1');
  return /^\s*(!function|\(function|module\.exports|var |"use strict"|exports)/.test(head) && /exports\s*=/.test(b.toString('latin1', 0, Math.min(b.length, 1 << 16)));
}

/** Bytes of one weight shard: binary as is, JS-wrapped base64 decoded. `p` may omit a `.js`/`.min.js` suffix. */
function readShard(dir: string, rel: string): Uint8Array {
  const candidates = [rel, `${rel}.min.js`, `${rel}.js`, `${rel}.bin`].map((r) => path.join(dir, r));
  const p = candidates.find((c) => fs.existsSync(c));
  if (!p) throw new TensorRTError('IO_ERROR', `weight shard ${rel} not found next to the model (${dir})`);
  const b = readFile(p);
  if (!isWrappedJs(b)) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  const v = wrappedExport(b.toString('latin1'), p);
  if (typeof v !== 'string') throw new TensorRTError('PARSE_ERROR', `${p}: a JS-wrapped weight shard must export a base64 string`);
  return new Uint8Array(Buffer.from(v, 'base64'));
}

/** Reads model.json (or a JS-wrapped model) and its shards. */
export function loadTfjsArtifacts(modelPath: string): TfjsArtifacts {
  const src = readFile(modelPath).toString('utf8');
  const j = wrappedExport(src, modelPath) as Record<string, unknown>;
  if (!j || typeof j !== 'object' || !j.modelTopology) {
    throw new TensorRTError('PARSE_ERROR', `${modelPath}: not a TF.js model (no modelTopology)`);
  }
  const fmt = typeof j.format === 'string' ? j.format : undefined;
  const topo = j.modelTopology as TfjsArtifacts['modelTopology'];
  if (fmt === 'layers-model' || !Array.isArray(topo.node)) {
    throw new TensorRTError('UNSUPPORTED', `${modelPath}: a TF.js layers model; only graph models (format "graph-model") convert`);
  }
  const manifest = (j.weightsManifest ?? []) as { paths: string[]; weights: TfjsWeightSpec[] }[];
  checkManifest(manifest, modelPath);
  const dir = path.dirname(modelPath);
  const parts: Uint8Array[] = [];
  const specs: TfjsWeightSpec[] = [];
  for (const group of manifest) {
    for (const p of group.paths) parts.push(readShard(dir, p));
    specs.push(...group.weights);
  }
  const total = parts.reduce((a, p) => a + p.length, 0);
  const weightData = new Uint8Array(total);
  let o = 0;
  for (const p of parts) { weightData.set(p, o); o += p.length; }
  const out: TfjsArtifacts = { modelTopology: topo, weightSpecs: specs, weightData };
  if (fmt !== undefined) out.format = fmt;
  if (j.signature !== undefined) out.signature = j.signature;
  if (j.userDefinedMetadata !== undefined) out.userDefinedMetadata = j.userDefinedMetadata as Record<string, unknown>;
  return out;
}

/** weightsManifest's shape: a list of groups, each with `paths` (a list of shard file names) and `weights` (a list). */
function checkManifest(m: unknown, what: string): void {
  const bad = (msg: string) => new TensorRTError('PARSE_ERROR', `${what}: weightsManifest ${msg}`);
  if (!Array.isArray(m)) throw bad(`must be a list of groups {paths, weights}; got ${JSON.stringify(m)?.slice(0, 80)}`);
  m.forEach((g: unknown, i: number) => {
    if (!g || typeof g !== 'object' || Array.isArray(g)) throw bad(`[${i}] must be an object {paths, weights}; got ${JSON.stringify(g)?.slice(0, 80)}`);
    const { paths, weights } = g as { paths?: unknown; weights?: unknown };
    if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string')) {
      throw bad(`[${i}].paths must be a list of shard file names (e.g. ["group1-shard1of1.bin"]); got ${JSON.stringify(paths)?.slice(0, 80)}`);
    }
    if (!Array.isArray(weights)) throw bad(`[${i}].weights must be a list of weight entries; got ${JSON.stringify(weights)?.slice(0, 80)}`);
  });
}

/** Decodes weights laid out as a TF.js weights manifest describes them. */
/**
 * A manifest entry that cannot describe real weights is PARSE_ERROR naming the weight: a name that is not a string,
 * a shape that is not a list of integers ≥ 0, an unknown quantization dtype, or a uint8/uint16 scale or min that is
 * not a finite number (TF.js computes q × scale + min: a missing or non-numeric one would make NaN weights).
 */
function checkSpec(s: TfjsWeightSpec, i: number, what: string): void {
  if (!s || typeof s !== 'object') throw new TensorRTError('PARSE_ERROR', `${what}: weights manifest entry ${i} is ${JSON.stringify(s)}, not a weight`);
  if (typeof s.name !== 'string') throw new TensorRTError('PARSE_ERROR', `${what}: weights manifest entry ${i} has no name`);
  const w = `${what}: weight ${s.name}`;
  if (!Array.isArray(s.shape) || !s.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new TensorRTError('PARSE_ERROR', `${w}: shape ${JSON.stringify(s.shape)} is not a list of integers ≥ 0`);
  }
  const q = s.quantization as Record<string, unknown> | undefined;
  if (q === undefined) return;
  if (!q || typeof q !== 'object' || !['uint8', 'uint16', 'float16'].includes(q.dtype as string)) {
    throw new TensorRTError('PARSE_ERROR', `${w}: quantization ${JSON.stringify(q)} is not uint8, uint16 or float16`);
  }
  if (q.dtype === 'float16') return;
  for (const k of ['scale', 'min']) {
    if (typeof q[k] !== 'number' || !Number.isFinite(q[k])) {
      throw new TensorRTError('PARSE_ERROR', `${w}: quantization ${k} ${q[k] === undefined ? 'is missing' : `${typeof q[k] === 'number' ? String(q[k]) : JSON.stringify(q[k])} is not a finite number`}`);
    }
  }
}

export function decodeWeights(specs: TfjsWeightSpec[], data: Uint8Array, what: string): Map<string, TfTensor> {
  const out = new Map<string, TfTensor>();
  let off = 0;
  if (!Array.isArray(specs)) throw new TensorRTError('PARSE_ERROR', `${what}: the weights manifest's weights are not a list`);
  specs.forEach((s, i) => checkSpec(s, i, what));
  for (const s of specs) {
    const n = elementCount(s.shape);
    const q = s.quantization;
    const dtype = s.dtype as TfDType;
    let t: TfTensor;
    if (s.dtype === 'string') {
      const strs: string[] = [];
      for (let i = 0; i < n; i++) {
        const len = new DataView(data.buffer, data.byteOffset + off, 4).getUint32(0, true);
        off += 4;
        strs.push(Buffer.from(data.subarray(off, off + len)).toString('latin1'));
        off += len;
      }
      out.set(s.name, { dtype: 'string', shape: s.shape, data: strs });
      continue;
    }
    if (q) {
      const qs = q.dtype === 'uint8' ? 1 : 2;
      const bytes = data.subarray(off, off + n * qs);
      if (bytes.length < n * qs) throw new TensorRTError('PARSE_ERROR', `${what}: weights end before ${s.name}`);
      off += n * qs;
      if (q.dtype === 'float16') {
        const copy = new Uint8Array(bytes);
        t = { dtype: 'float32', shape: s.shape, data: halfArrayToFloat(new Uint16Array(copy.buffer, 0, n)) };
      } else {
        const copy = new Uint8Array(bytes);
        const raw = q.dtype === 'uint8' ? copy : new Uint16Array(copy.buffer, 0, n);
        const scale = q.scale!; // checked by checkSpec
        const min = q.min!;
        if (dtype === 'int32') t = { dtype, shape: s.shape, data: Int32Array.from(raw, (v) => Math.round(v * scale + min)) };
        else {
          const f = new Float32Array(n);
          for (let i = 0; i < n; i++) f[i] = raw[i]! * scale + min;
          t = { dtype: 'float32', shape: s.shape, data: f };
        }
      }
    } else {
      const es = dtype === 'bool' || dtype === 'uint8' || dtype === 'int8' ? 1 : dtype === 'float16' || dtype === 'int16' || dtype === 'uint16' ? 2 : dtype === 'int64' || dtype === 'float64' ? 8 : 4;
      const d = typedFromBytes(dtype, data.subarray(off, off + n * es), n, `${what}: weight ${s.name}`);
      off += n * es;
      t = { dtype: dtype === 'float16' ? 'float32' : dtype, shape: s.shape, data: d };
    }
    out.set(s.name, t);
  }
  return out;
}

function sigValues(sig: unknown): TfSignatureValue[] | undefined {
  if (!sig || typeof sig !== 'object') return undefined;
  const vals: TfSignatureValue[] = [];
  for (const [key, v] of Object.entries(sig as Record<string, { name?: string; dtype?: string; tensorShape?: unknown }>)) {
    const sv: TfSignatureValue = { key, name: v.name ?? key };
    const dt = tfDType(v.dtype);
    if (dt) sv.dtype = dt;
    const sh = attrShape({ shape: v.tensorShape as never });
    if (sh) sv.shape = sh;
    vals.push(sv);
  }
  return vals;
}

/** The TF graph form of TF.js artifacts. */
export function tfjsToGraph(a: TfjsArtifacts, what = 'TF.js model'): TfGraph {
  if (a.modelTopology.library && Object.keys(a.modelTopology.library as object).length > 0) {
    const fns = (a.modelTopology.library as { function?: unknown[] }).function ?? [];
    if (fns.length > 0) {
      throw new TensorRTError('UNSUPPORTED', `${what}: graph uses ${fns.length} function(s) (control flow v2 bodies); not supported yet`);
    }
  }
  const nodes = (a.modelTopology.node ?? []).map((n, i) => {
    const bad = (why: string) => new TensorRTError('PARSE_ERROR', `${what}: node ${i} ${why}`);
    if (!n || typeof n !== 'object' || Array.isArray(n)) throw bad(`is ${JSON.stringify(n) ?? String(n)}, not a NodeDef`);
    if (typeof n.name !== 'string' || n.name === '') throw bad('has no name');
    if (typeof n.op !== 'string' || n.op === '') throw bad(`(${n.name}) has no op`);
    if (n.input !== undefined && !(Array.isArray(n.input) && n.input.every((s) => typeof s === 'string'))) throw bad(`(${n.name}): input is not a list of names`);
    if (n.attr !== undefined && (!n.attr || typeof n.attr !== 'object')) throw bad(`(${n.name}): attr is not an object`);
    return { name: n.name, op: n.op, input: n.input ?? [], attr: n.attr ?? {} };
  });
  const weights = decodeWeights(a.weightSpecs, a.weightData, what);
  // In a TF.js graph model every Const's value is in the weights manifest (model.json keeps only its dtype and
  // shape): one that is missing must not become the zeros of an empty TensorProto.
  for (const n of nodes) {
    if (n.op !== 'Const' || weights.has(n.name)) continue;
    const t = n.attr.value?.tensor as Record<string, unknown> | undefined;
    const hasValues = t && Object.keys(t).some((k) => k === 'tensorContent' || (k.endsWith('Val') && Array.isArray(t[k]) && (t[k] as unknown[]).length > 0));
    if (!hasValues) throw new TensorRTError('PARSE_ERROR', `${what}: Const ${n.name}: its weight is missing from the weights manifest`);
  }
  const graph: TfGraph = { nodes, weights, format: 'tfjs-graph-model' };
  const sig = (a.signature ?? (a.userDefinedMetadata?.signature as unknown)) as { inputs?: unknown; outputs?: unknown } | undefined;
  const ins = sigValues(sig?.inputs);
  const outs = sigValues(sig?.outputs);
  if (ins) graph.inputs = ins;
  if (outs) graph.outputs = outs;
  return graph;
}

export function readTfjsGraphModel(modelPath: string): TfGraph {
  return tfjsToGraph(loadTfjsArtifacts(modelPath), modelPath);
}
