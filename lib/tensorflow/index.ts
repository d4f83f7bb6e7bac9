/**
 * TensorFlow models → ONNX, in TypeScript: TF.js graph models (model.json or JS-wrapped, with float16 and
 * uint8/uint16-quantized shards), binary GraphDef frozen graphs and SavedModel directories. See docs/tensorflow.md.
 */
import * as fs from 'fs';
import * as path from 'path';
import { TensorRTError } from '../errors';
import * as is from '../validate';
import { saveModel, type onnx } from '../onnx';
import { convertGraph, supportedOps, type ConvertOptions, type ConvertReport } from './convert';
import { readTfjsGraphModel } from './tfjs';
import { inputsAsNchw, useSignatureKeys } from './boundary';
import type { TfGraph } from './graph';
import { isSavedModelDir } from './format';

export { convertGraph, supportedOps };
export type { ConvertOptions, ConvertReport };
export type { TfGraph, TfNode, TfTensor } from './graph';
export { loadTfjsArtifacts, tfjsToGraph, readTfjsGraphModel } from './tfjs';
export { savedModelInfo, formatSavedModelInfo, type SavedModelInfo, type SavedModelSignature, type SavedModelTensorInfo } from './savedmodel-info';

export type TensorFlowFormat = 'tfjs-graph-model' | 'frozen-graphdef' | 'saved-model';

/** Which TensorFlow format a path holds, or undefined when it is none of them (e.g. an .onnx file). */
export function detectTensorFlowFormat(p: string): TensorFlowFormat | undefined {
  is.string(p, 'detectTensorFlowFormat: the path');
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return undefined;
  }
  if (st.isDirectory()) return isSavedModelDir(p) ? 'saved-model' : undefined;
  const base = path.basename(p).toLowerCase();
  if (base.endsWith('.json') || base.endsWith('.js')) return 'tfjs-graph-model';
  if (base.endsWith('.pb') || base.endsWith('.graphdef')) return 'frozen-graphdef';
  return undefined;
}

/** Reads any supported TensorFlow format into the TF graph form. */
export function readTensorFlowGraph(p: string, options: { signature?: string; tags?: string[] } = {}): TfGraph {
  is.path(p, 'readTensorFlowGraph: the model path');
  is.object(options, 'readTensorFlowGraph options');
  const fmt = detectTensorFlowFormat(p);
  switch (fmt) {
    case 'tfjs-graph-model': return readTfjsGraphModel(p);
    case 'frozen-graphdef':
    case 'saved-model': {
      // Loaded lazily: the protobuf schemas are only built when a binary format is read.
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the GraphDef decoder loads only for .pb models
      const pb = require('./graphdef') as typeof import('./graphdef');
      return fmt === 'saved-model' ? pb.readSavedModel(p, options.signature ?? 'serving_default', options.tags) : pb.readFrozenGraph(p);
    }
    default:
      if (!fs.existsSync(p)) throw new TensorRTError('IO_ERROR', `cannot read model ${p}: no such file or directory`);
      throw new TensorRTError('INVALID_ARGUMENT', `${p}: not a TF.js model.json, a frozen GraphDef .pb or a SavedModel directory`);
  }
}

export interface ConvertTensorFlowOptions extends ConvertOptions {
  /** SavedModel signature (default serving_default). */
  signature?: string;
  /** SavedModel MetaGraph tags (default: the one tagged "serve", else the first). */
  tags?: string[];
  /** SavedModel: name the ONNX inputs and outputs by their signature keys (as TF Serving clients name them). */
  signatureKeys?: boolean;
  /** tf2onnx's --inputs-as-nchw: these inputs take NCHW, a Transpose to NHWC inserted after each. */
  inputsAsNchw?: string[];
}

/** Converts a TensorFlow model at `p` to an ONNX ModelProto plus a report. Nothing is written. */
export function convertTensorFlow(p: string, options: ConvertTensorFlowOptions = {}): { model: onnx.ModelProto; report: ConvertReport } {
  const t0 = performance.now();
  const graph = readTensorFlowGraph(p, options);
  const res = convertGraph(graph, options);
  if (options.signatureKeys && graph.format === 'saved-model' && !options.outputs?.length) useSignatureKeys(res.model, res.report, graph);
  if (options.inputsAsNchw?.length) inputsAsNchw(res.model, res.report, options.inputsAsNchw);
  res.report.convertMs = performance.now() - t0;
  return res;
}

/** Converts and writes the ONNX file atomically (temp file + rename); returns the report. */
export function convertTensorFlowToFile(p: string, outPath: string, options: ConvertTensorFlowOptions = {}): ConvertReport & { bytes: number } {
  is.path(outPath, 'convertTensorFlowToFile: the output path');
  const { model, report } = convertTensorFlow(p, options);
  const bytes = saveModel(model);
  const tmp = `${outPath}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, outPath);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file or directory' : err.code === 'EACCES' || err.code === 'EPERM' ? 'permission denied' : err.code === 'ENOSPC' ? 'no space left on device' : err.code === 'EROFS' ? 'read-only file system' : err.message;
    throw new TensorRTError('IO_ERROR', `cannot write model ${outPath}: ${why}`, { cause: e });
  }
  return { ...report, bytes: bytes.length };
}
