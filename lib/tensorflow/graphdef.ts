/**
 * Readers for binary TensorFlow graphs: frozen GraphDefs (`.pb`, weights in Const nodes; or, as TF.js 0.x
 * shipped them, weights in a `weights_manifest.json` + shards next to the .pb) and SavedModel directories
 * (`saved_model.pb` → MetaGraphDef by tags → GraphDef + SignatureDef; variables from `variables/` tensor bundle,
 * TF1 style: VariableV2/VarHandleOp nodes named by their checkpoint keys, ReadVariableOp as identity).
 */
import * as fs from 'fs';
import * as path from 'path';
import type * as protobuf from 'protobufjs';
import { TensorRTError } from '../errors';
import { attrShape, elementCount, tfDType, tfDTypeEnum, typedFromBytes, type TfGraph, type TfNode, type TfSignatureValue, type TfTensor } from './graph';
import { JSON_FORM, tfType } from './proto';
import { decodeWeights, type TfjsWeightSpec } from './tfjs';
import { readBundle } from './bundle';
import { capturedVariables, inlineCalls, type SavedObjectGraphJson, type TfFunction, type TrackableObjectGraphJson } from './function';

function readBytes(p: string): Buffer {
  try {
    return fs.readFileSync(p);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new TensorRTError('IO_ERROR', `cannot read ${p}: ${err.code ?? err.message}`, { cause: e });
  }
}

interface TensorMsg { dtype?: number; tensorShape?: protobuf.Message; tensorContent?: Uint8Array }

/**
 * NodeDefs of a decoded GraphDef message in JSON form; Const tensors with tensor_content are taken straight from
 * the message bytes (no base64 round trip for the weights) into `weights`.
 */
function nodesOf(graphMsg: protobuf.Message, weights: Map<string, TfTensor>, what: string, prefix = ''): TfNode[] {
  const msgs = (graphMsg as unknown as { node?: protobuf.Message[] }).node ?? [];
  return nodeDefs(msgs, weights, what, prefix);
}

function nodeDefs(msgs: protobuf.Message[], weights: Map<string, TfTensor>, what: string, prefix: string): TfNode[] {
  const NodeDef = tfType('NodeDef');
  const TensorProto = tfType('TensorProto');
  const nodes: TfNode[] = [];
  for (const m of msgs) {
    const mm = m as unknown as { op?: string; name?: string; attr?: Record<string, { tensor?: TensorMsg }> };
    const t = mm.op === 'Const' ? mm.attr?.value?.tensor : undefined;
    if (t && t.tensorContent && t.tensorContent.length > 0) {
      const meta = TensorProto.toObject(TensorProto.create({ dtype: t.dtype, tensorShape: t.tensorShape }), JSON_FORM) as { dtype?: string; tensorShape?: unknown };
      const dtype = tfDType(meta.dtype);
      const shape = attrShape({ shape: (meta.tensorShape ?? {}) as never }) ?? [];
      if (dtype && dtype !== 'string') {
        weights.set(prefix + (mm.name ?? ''), { dtype: dtype === 'float16' ? 'float32' : dtype, shape, data: typedFromBytes(dtype, t.tensorContent, elementCount(shape), `${what}: ${mm.name}`) });
        t.tensorContent = new Uint8Array(0);
      }
    }
    const o = NodeDef.toObject(m, JSON_FORM) as TfNode;
    nodes.push({ name: o.name ?? '', op: o.op ?? '', input: o.input ?? [], attr: o.attr ?? {} });
  }
  return nodes;
}

/**
 * The GraphDef's function library. Const weights of a body are keyed `<fn>@@<node>` in `weights` until a
 * call is inlined (then re-keyed by the inlined node's name, see readSavedModel).
 */
function libraryOf(graphMsg: protobuf.Message, weights: Map<string, TfTensor>, what: string): Map<string, TfFunction> {
  const lib = new Map<string, TfFunction>();
  const fns = (graphMsg as unknown as { library?: { function?: protobuf.Message[] } }).library?.function ?? [];
  const OpDef = tfType('OpDef');
  for (const f of fns) {
    const fm = f as unknown as { signature?: protobuf.Message; nodeDef?: protobuf.Message[]; ret?: Record<string, string> };
    const sig = fm.signature ? (OpDef.toObject(fm.signature, JSON_FORM) as { name?: string; inputArg?: { name?: string }[]; outputArg?: { name?: string }[] }) : {};
    const name = sig.name ?? '';
    lib.set(name, {
      name,
      inputs: (sig.inputArg ?? []).map((a) => a.name ?? ''),
      outputs: (sig.outputArg ?? []).map((a) => a.name ?? ''),
      nodes: nodeDefs(fm.nodeDef ?? [], weights, `${what}: function ${name}`, `${name}@@`),
      ret: fm.ret ?? {},
    });
  }
  return lib;
}

function decodeMessage<T>(type: string, bytes: Uint8Array, what: string): T {
  const T = tfType(type);
  try {
    return T.toObject(T.decode(bytes), JSON_FORM) as T;
  } catch (e) {
    throw new TensorRTError('PARSE_ERROR', `${what}: bad ${type}: ${(e as Error).message}`, { cause: e });
  }
}

export function readFrozenGraph(p: string): TfGraph {
  const bytes = readBytes(p);
  const GraphDef = tfType('GraphDef');
  let msg: protobuf.Message;
  try {
    msg = GraphDef.decode(bytes);
  } catch (e) {
    throw new TensorRTError('PARSE_ERROR', `${p}: not a binary GraphDef: ${(e as Error).message}`, { cause: e });
  }
  const weights = new Map<string, TfTensor>();
  let nodes = nodesOf(msg, weights, p);
  if (nodes.length === 0) throw new TensorRTError('PARSE_ERROR', `${p}: not a binary GraphDef (no nodes)`);
  // A function library (frozen without lowering control flow: If/While, calls): inlined as for SavedModels.
  const lib = libraryOf(msg, weights, p);
  if (lib.size > 0) {
    nodes = inlineCalls(nodes, lib, new Map(), weights);
    for (const k of [...weights.keys()]) if (k.includes('@@')) weights.delete(k);
  }
  // TF.js 0.x layout: tensorflowjs_model.pb + weights_manifest.json + shards.
  const manifest = path.join(path.dirname(p), 'weights_manifest.json');
  if (fs.existsSync(manifest)) {
    const groups = JSON.parse(readBytes(manifest).toString('utf8')) as { paths: string[]; weights: TfjsWeightSpec[] }[];
    const parts: Buffer[] = [];
    const specs: TfjsWeightSpec[] = [];
    for (const g of groups) {
      for (const s of g.paths) parts.push(readBytes(path.join(path.dirname(p), s)));
      specs.push(...g.weights);
    }
    for (const [k, v] of decodeWeights(specs, Buffer.concat(parts), manifest)) weights.set(k, v);
  }
  return { nodes, weights, format: 'frozen-graphdef' };
}

function sigValues(m: Record<string, { name?: string; dtype?: string; tensorShape?: unknown }> | undefined): TfSignatureValue[] {
  return Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, v]) => {
    const s: TfSignatureValue = { key, name: v.name ?? key };
    const dt = tfDType(v.dtype);
    if (dt) s.dtype = dt;
    const sh = attrShape({ shape: v.tensorShape as never });
    if (sh) s.shape = sh;
    return s;
  });
}

export function readSavedModel(dir: string, signature = 'serving_default', tags?: string[]): TfGraph {
  const file = path.join(dir, 'saved_model.pb');
  const SavedModel = tfType('SavedModel');
  let sm: protobuf.Message;
  try {
    sm = SavedModel.decode(readBytes(file));
  } catch (e) {
    if (e instanceof TensorRTError) throw e;
    throw new TensorRTError('PARSE_ERROR', `${file}: not a SavedModel: ${(e as Error).message}`, { cause: e });
  }
  const metas = (sm as unknown as { metaGraphs?: protobuf.Message[] }).metaGraphs ?? [];
  const MetaInfoDef = tfType('MetaInfoDef');
  const tagsOf = (m: protobuf.Message) => {
    const info = (m as unknown as { metaInfoDef?: protobuf.Message }).metaInfoDef;
    return info ? ((MetaInfoDef.toObject(info) as { tags?: string[] }).tags ?? []) : [];
  };
  const want = tags && tags.length ? tags : ['serve'];
  const meta = metas.find((m) => want.every((t) => tagsOf(m).includes(t))) ?? (tags && tags.length ? undefined : metas[0]);
  if (!meta) {
    throw new TensorRTError('INVALID_ARGUMENT', `${file}: no MetaGraph tagged ${want.join(',')} (have: ${metas.map((m) => `[${tagsOf(m).join(',')}]`).join(' ') || 'none'})`);
  }
  const SignatureDef = tfType('SignatureDef');
  const sigs = (meta as unknown as { signatureDef?: Record<string, protobuf.Message> }).signatureDef ?? {};
  const sigMsg = sigs[signature];
  if (!sigMsg) throw new TensorRTError('INVALID_ARGUMENT', `${file}: no signature "${signature}" (have: ${Object.keys(sigs).join(', ') || 'none'})`);
  const sig = SignatureDef.toObject(sigMsg, JSON_FORM) as { inputs?: Record<string, never>; outputs?: Record<string, never> };
  const weights = new Map<string, TfTensor>();
  const graphMsg = (meta as unknown as { graphDef?: protobuf.Message }).graphDef;
  if (!graphMsg) throw new TensorRTError('PARSE_ERROR', `${file}: MetaGraph without a GraphDef`);
  let nodes = nodesOf(graphMsg, weights, file);
  const varPrefix = path.join(dir, 'variables', 'variables');
  const strings = new Map<string, Buffer>();
  const vars = fs.existsSync(`${varPrefix}.index`) ? readBundle(varPrefix, strings) : new Map<string, TfTensor>();
  const inputs = sigValues(sig.inputs);
  const outputs = sigValues(sig.outputs);
  const objectGraph = (meta as unknown as { objectGraphDef?: protobuf.Message }).objectGraphDef;
  if (objectGraph) {
    // TF2: variables captured by the signature's function call, values through the object graphs.
    const saved = tfType('SavedObjectGraph').toObject(objectGraph, JSON_FORM) as SavedObjectGraphJson;
    const ckptBytes = strings.get('_CHECKPOINTABLE_OBJECT_GRAPH');
    const ckpt = ckptBytes ? decodeMessage<TrackableObjectGraphJson>('TrackableObjectGraph', ckptBytes, `${varPrefix}.index`) : undefined;
    const captured = capturedVariables(nodes, saved, ckpt, vars, dir);
    for (const n of nodes) {
      const v = captured.get(n.name);
      if (!v) continue;
      weights.set(n.name, v);
      n.op = 'Const';
      n.input = [];
      n.attr = { dtype: { type: tfDTypeEnum(v.dtype) } };
    }
    const lib = libraryOf(graphMsg, weights, file);
    const aliases = new Map<string, string>();
    nodes = inlineCalls(nodes, lib, aliases, weights);
    for (const k of [...weights.keys()]) if (k.includes('@@')) weights.delete(k);
    for (const o of outputs) {
      const c = o.name.endsWith(':0') ? o.name.slice(0, -2) : o.name;
      const a = aliases.get(c);
      if (a) o.name = a;
    }
  }
  for (const n of nodes) {
    if (n.op === 'VariableV2' || n.op === 'Variable' || n.op === 'VarHandleOp') {
      const sharedName = n.attr.shared_name?.s ? Buffer.from(n.attr.shared_name.s, 'base64').toString('latin1') : '';
      const key = [n.name, sharedName].find((k) => k && vars.has(k));
      if (!key) {
        // TF2: the saver graph's handles not captured by the signature's call are not on its path.
        if (objectGraph) continue;
        throw new TensorRTError('PARSE_ERROR', `${dir}: variable ${n.name} not found in variables/`);
      }
      weights.set(n.name, vars.get(key)!);
      n.op = 'Const';
      n.input = [];
    } else if (n.op === 'ReadVariableOp') {
      n.op = 'Identity';
    }
  }
  return { nodes, weights, inputs, outputs, format: 'saved-model' };
}
