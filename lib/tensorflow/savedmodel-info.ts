/**
 * What `saved_model_cli show --dir <d> --all` shows of a SavedModel, read from saved_model.pb alone (no graph is
 * converted): every MetaGraph's tag set, and each of its SignatureDefs (serving_default first, then by key) with
 * the inputs' and outputs' TensorFlow dtype names (DT_FLOAT, ...), shapes (-1 for an unknown dimension, null for
 * an unknown rank), graph tensor names and the method name.
 */
import * as fs from 'fs';
import * as path from 'path';
import type * as protobuf from 'protobufjs';
import { TensorRTError } from '../errors';
import { JSON_FORM, tfType } from './proto';

export interface SavedModelTensorInfo { key: string; dtype: string; shape: number[] | null; name: string }
export interface SavedModelSignature { key: string; methodName: string; inputs: SavedModelTensorInfo[]; outputs: SavedModelTensorInfo[] }
export interface SavedModelMetaGraph { tags: string[]; signatures: SavedModelSignature[] }
export interface SavedModelInfo { dir: string; schemaVersion: number; metaGraphs: SavedModelMetaGraph[] }

interface TensorInfoJson { name?: string; dtype?: string; tensorShape?: { dim?: { size?: string }[]; unknownRank?: boolean } }
interface SignatureJson { inputs?: Record<string, TensorInfoJson>; outputs?: Record<string, TensorInfoJson>; methodName?: string }

function tensorInfos(m: Record<string, TensorInfoJson> | undefined): SavedModelTensorInfo[] {
  return Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, v]) => ({
    key,
    dtype: v.dtype ?? 'DT_INVALID',
    shape: !v.tensorShape || v.tensorShape.unknownRank ? null : (v.tensorShape.dim ?? []).map((d) => Number(d.size ?? 0)),
    name: v.name ?? '',
  }));
}

/** Signature keys in the order shown: serving_default first, then the others by key. */
export function orderSignatureKeys(keys: string[]): string[] {
  return [...keys].sort((a, b) => (a === 'serving_default' ? -1 : b === 'serving_default' ? 1 : a < b ? -1 : a > b ? 1 : 0));
}

/** Reads `<dir>/saved_model.pb`: IO_ERROR when unreadable, PARSE_ERROR when it is not a SavedModel. */
export function savedModelInfo(dir: string): SavedModelInfo {
  const file = path.join(dir, 'saved_model.pb');
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new TensorRTError('IO_ERROR', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  const SavedModel = tfType('SavedModel');
  let sm: protobuf.Message;
  try {
    sm = SavedModel.decode(bytes);
  } catch (e) {
    throw new TensorRTError('PARSE_ERROR', `${file}: not a SavedModel: ${(e as Error).message}`, { cause: e });
  }
  const o = sm as unknown as { savedModelSchemaVersion?: unknown; metaGraphs?: protobuf.Message[] };
  const metas = o.metaGraphs ?? [];
  if (metas.length === 0) throw new TensorRTError('PARSE_ERROR', `${file}: not a SavedModel (no MetaGraph)`);
  const MetaInfoDef = tfType('MetaInfoDef');
  const SignatureDef = tfType('SignatureDef');
  return {
    dir,
    schemaVersion: Number(o.savedModelSchemaVersion ?? 0),
    metaGraphs: metas.map((m) => {
      const mm = m as unknown as { metaInfoDef?: protobuf.Message; signatureDef?: Record<string, protobuf.Message> };
      const tags = mm.metaInfoDef ? ((MetaInfoDef.toObject(mm.metaInfoDef, JSON_FORM) as { tags?: string[] }).tags ?? []) : [];
      const sigs = mm.signatureDef ?? {};
      return {
        tags,
        signatures: orderSignatureKeys(Object.keys(sigs)).map((key) => {
          const s = SignatureDef.toObject(sigs[key]!, JSON_FORM) as SignatureJson;
          return { key, methodName: s.methodName ?? '', inputs: tensorInfos(s.inputs), outputs: tensorInfos(s.outputs) };
        }),
      };
    }),
  };
}

/** The text of `inspect` for a SavedModel, laid out as saved_model_cli's `show --all`. */
export function formatSavedModelInfo(info: SavedModelInfo): string {
  const L: string[] = [`${info.dir}: SavedModel (schema version ${info.schemaVersion}), ${info.metaGraphs.length} MetaGraph${info.metaGraphs.length === 1 ? '' : 's'}`];
  const shape = (s: number[] | null) => (s === null ? 'unknown_rank' : `(${s.join(', ')})`);
  for (const m of info.metaGraphs) {
    L.push('');
    L.push(`MetaGraphDef with tag-set: '${m.tags.join(', ')}' contains the following SignatureDefs:`);
    for (const s of m.signatures) {
      L.push('');
      L.push(`signature_def['${s.key}']:`);
      L.push('  The given SavedModel SignatureDef contains the following input(s):');
      for (const t of s.inputs) L.push(`    inputs['${t.key}'] tensor_info:`, `        dtype: ${t.dtype}`, `        shape: ${shape(t.shape)}`, `        name: ${t.name}`);
      L.push('  The given SavedModel SignatureDef contains the following output(s):');
      for (const t of s.outputs) L.push(`    outputs['${t.key}'] tensor_info:`, `        dtype: ${t.dtype}`, `        shape: ${shape(t.shape)}`, `        name: ${t.name}`);
      L.push(`  Method name is: ${s.methodName}`);
    }
  }
  return `${L.join('\n')}\n`;
}
