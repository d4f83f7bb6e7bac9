/**
 * The one rule for the model and engine files the commands read, applied by every command before TensorRT or a
 * GPU is looked for, so that the same bad file gives the same `[CODE]` from `inspect`, `build`, `run`, `bench`
 * and `quantize`:
 *
 * - a path that cannot be read (missing, a directory, no permission): IO_ERROR;
 * - what a file is comes from its content: TensorRT's plan tag "ftrt" makes an engine, bytes that decode as an ONNX
 *   ModelProto with a graph make an ONNX model;
 * - content that is neither is judged by the name: a *.engine / *.plan / *.trt file is an engine whose bytes only
 *   TensorRT can judge (DESERIALIZE_ERROR; TENSORRT_UNAVAILABLE where TensorRT is missing); any other name is
 *   PARSE_ERROR ("neither an ONNX model nor a TensorRT engine");
 * - an empty file: DESERIALIZE_ERROR when named as an engine, else PARSE_ERROR;
 * - a readable file of the other kind (an ONNX model given to `run`, an engine to `build`): INVALID_ARGUMENT.
 *
 * TensorFlow models (SavedModel directories, frozen GraphDefs, TF.js model.json; see lib/cli/convert.ts) are
 * ONNX models here: converted in memory first, their conversion errors are the converter's.
 */
import * as path from 'path';
import { TensorRTError } from '../errors';
import { loadModel, modelInfo, type ModelInfo } from '../onnx';
import type { onnx } from '../onnx';
import { readInputFile } from './common';
import { onnxBytesFor } from './convert';

export type FileKind = 'onnx' | 'engine';

/** SavedModel tags and signature of a SavedModel given to a command (default serve, serving_default). */
export interface TfReadOptions { tags?: string[]; signature?: string }

/** TensorRT's plan files start with the magic tag "ftrt". */
export function looksLikeEngine(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x66 && bytes[1] === 0x74 && bytes[2] === 0x72 && bytes[3] === 0x74;
}

export const ENGINE_EXTENSIONS = new Set(['.engine', '.plan', '.trt']);

/** Whether the file's name says TensorRT engine. */
export function namedAsEngine(file: string): boolean {
  return ENGINE_EXTENSIONS.has(path.extname(file).toLowerCase());
}

type Detected = { kind: 'onnx'; model: onnx.ModelProto; info: ModelInfo; convertedFrom?: string } | { kind: 'engine' };

/**
 * Tells an engine from an ONNX model by content: the engine magic tag, else an ONNX ModelProto that decodes with a
 * graph. Bytes that are neither are a PARSE_ERROR, except for files named *.engine / *.plan / *.trt, which are left
 * to TensorRT to judge (its deserializer reports what is wrong with them).
 */
export function detectKind(bytes: Uint8Array, file: string): Detected {
  if (looksLikeEngine(bytes)) return { kind: 'engine' };
  try {
    const model = loadModel(bytes);
    return { kind: 'onnx', model, info: modelInfo(model) };
  } catch (e) {
    if (namedAsEngine(file)) return { kind: 'engine' };
    const why = e instanceof Error ? e.message.replace(/^not a valid ONNX model:?\s*/, '') : String(e);
    throw new TensorRTError('PARSE_ERROR', `${file} is neither an ONNX model nor a TensorRT engine (ONNX decoding failed: ${why})`);
  }
}

/** Reads `file` and tells what it is, by the rule above; `want` is what the command can use. */
export function readModelOrEngine(file: string, want: 'onnx', tfOptions?: TfReadOptions): { bytes: Buffer } & Extract<Detected, { kind: 'onnx' }>;
export function readModelOrEngine(file: string, want: 'engine'): { bytes: Buffer; kind: 'engine' };
export function readModelOrEngine(file: string, want: 'any'): { bytes: Buffer } & Detected;
export function readModelOrEngine(file: string, want: FileKind | 'any', tfOptions: TfReadOptions = {}): { bytes: Buffer } & Detected {
  const tf = onnxBytesFor(file, tfOptions);
  if (tf) {
    if (want === 'engine') {
      throw new TensorRTError('INVALID_ARGUMENT', `${file} is a TensorFlow model (${tf.format}), not a TensorRT engine: build one first with \`tensorrt-node build ${file} -o model.engine\``);
    }
    const bytes = Buffer.from(tf.bytes.buffer, tf.bytes.byteOffset, tf.bytes.byteLength);
    const model = loadModel(bytes);
    return { bytes, kind: 'onnx', model, info: modelInfo(model), convertedFrom: tf.format };
  }
  const bytes = readInputFile(file, want === 'engine' ? 'engine' : 'model');
  if (bytes.length === 0) {
    if (namedAsEngine(file)) throw new TensorRTError('DESERIALIZE_ERROR', `${file} is empty, not a TensorRT engine`);
    throw new TensorRTError('PARSE_ERROR', `${file} is empty`);
  }
  const d = detectKind(bytes, file);
  if (want === 'engine' && d.kind === 'onnx') {
    throw new TensorRTError('INVALID_ARGUMENT', `${file} is an ONNX model, not a TensorRT engine: build one first with \`tensorrt-node build ${file} -o model.engine\``);
  }
  if (want === 'onnx' && d.kind === 'engine') {
    const why = looksLikeEngine(bytes) ? 'a TensorRT engine' : 'named as a TensorRT engine and is not an ONNX model';
    throw new TensorRTError('INVALID_ARGUMENT', `${file} is ${why}; this command needs an ONNX model`);
  }
  return { bytes, ...d };
}
