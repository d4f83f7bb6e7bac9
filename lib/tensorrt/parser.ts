import type { TensorRTNative } from '../addon';
/**
 * `OnnxParser`: fills a `NetworkDefinition` from an ONNX model, given as bytes or as a file path (a path lets
 * TensorRT find external weight files next to the model). Parsing runs on a worker thread.
 *
 * ```ts
 * const parser = new OnnxParser(network);
 * await parser.parse('model.onnx');
 * ```
 * A model TensorRT cannot parse rejects with `TensorRTError('PARSE_ERROR')` whose `parserErrors` lists every
 * error the parser reported (node index / name / op type, TensorRT's error code, description). A missing file
 * rejects IO_ERROR. `UffParser` exists only in builds against TensorRT <= 8.6 (UFF was removed in 9).
 */
import * as fs from 'fs';
import { awaitNative, callNative, invalidArg, TensorRTError } from '../errors';
import * as is from '../validate';
import { getTrtNative } from '../native';
import { NetworkDefinition } from './network';

/** Checks the model argument of parse / buildEngine: a non-empty path or non-empty bytes. */
export function checkModelSource(model: unknown, what = 'parse'): Uint8Array | string {
  return is.pathOrBytes(model, `${what}: the model`, 'ONNX model bytes (Uint8Array / Buffer) or a file path', { nonEmpty: true }) as Uint8Array | string;
}

/** Throws IO_ERROR when `path` is not a readable file. */
export async function checkReadableFile(path: string, what: string): Promise<void> {
  try {
    const st = await fs.promises.stat(path);
    if (!st.isFile()) throw new TensorRTError('IO_ERROR', `${what}: ${path} is not a file`);
    await fs.promises.access(path, fs.constants.R_OK);
  } catch (e) {
    if (e instanceof TensorRTError) throw e;
    throw new TensorRTError('IO_ERROR', `${what}: cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  }
}

export class OnnxParser {
  #native: TensorRTNative.OnnxParser | null;
  readonly network: NetworkDefinition;

  constructor(network: NetworkDefinition) {
    if (!(network instanceof NetworkDefinition)) throw invalidArg('OnnxParser expects a NetworkDefinition (Builder.createNetwork())');
    const a = getTrtNative();
    const ctor = a.OnnxParser;
    if (!ctor) throw new TensorRTError('TENSORRT_UNAVAILABLE', 'this build of tensorrt-node has no ONNX parser');
    const n = network.native;
    this.#native = callNative(() => new ctor(n));
    this.network = network;
  }

  get disposed(): boolean {
    return this.#native === null;
  }

  /** Parses an ONNX model (bytes or file path) into the network. PARSE_ERROR (with parserErrors) on failure. */
  async parse(model: Uint8Array | string): Promise<void> {
    const m = checkModelSource(model);
    const n = this.#native;
    if (!n) throw new TensorRTError('DISPOSED', 'OnnxParser has been disposed');
    if (typeof m === 'string') await checkReadableFile(m, 'parse');
    await awaitNative(callNative(() => n.parse(m)));
  }

  dispose(): void {
    const n = this.#native;
    this.#native = null;
    if (n) n.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

export type UffInputOrder = 'nchw' | 'nhwc' | 'nc';

/**
 * UFF models (TensorFlow 1 frozen graphs converted with `convert-to-uff`). TensorRT removed UFF in 9.0, so the
 * constructor throws UNSUPPORTED unless tensorrt-node was built against TensorRT <= 8.6 (libnvparsers). Register
 * the inputs (with their CHW/HWC order) and outputs, then parse the file.
 */
export class UffParser {
  #native: TensorRTNative.UffParser | null;
  readonly network: NetworkDefinition;

  constructor(network: NetworkDefinition) {
    if (!(network instanceof NetworkDefinition)) throw invalidArg('UffParser expects a NetworkDefinition');
    const a = getTrtNative();
    const ctor = a.UffParser;
    if (!ctor) {
      throw new TensorRTError(
        'UNSUPPORTED',
        `UFF parsing does not exist in TensorRT ${a.compiledWith().tensorrt ?? '(none)'}: UFF was removed in TensorRT 9; ` +
          'convert the model to ONNX (e.g. tf2onnx) and use OnnxParser',
      );
    }
    const n = network.native;
    this.#native = callNative(() => new ctor(n));
    this.network = network;
  }

  get #n(): TensorRTNative.UffParser {
    if (!this.#native) throw new TensorRTError('DISPOSED', 'UffParser has been disposed');
    return this.#native;
  }

  get disposed(): boolean {
    return this.#native === null;
  }

  /** Declares an input: its name, dimensions without the batch dimension, and the framework's layout. */
  registerInput(name: string, dims: number[], order: UffInputOrder = 'nchw'): void {
    if (typeof name !== 'string' || !name) throw invalidArg('registerInput: name must be a non-empty string');
    if (!Array.isArray(dims) || dims.length > 8 || !dims.every((d) => Number.isInteger(d) && d >= 0)) {
      throw invalidArg('registerInput: dims must be an array of at most 8 non-negative integers');
    }
    if (order !== 'nchw' && order !== 'nhwc' && order !== 'nc') throw invalidArg("registerInput: order must be 'nchw', 'nhwc' or 'nc'");
    callNative(() => this.#n.registerInput(name, dims, order));
  }

  registerOutput(name: string): void {
    if (typeof name !== 'string' || !name) throw invalidArg('registerOutput: name must be a non-empty string');
    callNative(() => this.#n.registerOutput(name));
  }

  /** Parses a .uff file into the network. PARSE_ERROR with TensorRT's messages on failure. */
  async parse(path: string, options: { weightsType?: 'float32' | 'float16' } = {}): Promise<void> {
    if (typeof path !== 'string' || !path) throw invalidArg('UffParser.parse expects a file path');
    const w = options.weightsType ?? 'float32';
    if (w !== 'float32' && w !== 'float16') throw invalidArg("weightsType must be 'float32' or 'float16'");
    const n = this.#n;
    await checkReadableFile(path, 'UffParser.parse');
    await awaitNative(callNative(() => n.parse(path, w)));
  }

  dispose(): void {
    const n = this.#native;
    this.#native = null;
    if (n) n.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
