/**
 * Calibrators: the objects that feed calibration batches. The same object serves TensorRT 10's implicit INT8
 * (`BuilderConfig.calibrator`, through the CalibratorLike contract) and tensorrt-node's own explicit
 * quantization (`quantize()`, which works without TensorRT).
 */
import * as fs from 'fs';
import * as path from 'path';
import { TensorRTError, invalidArg } from '../errors';
import * as is from '../validate';
import { isTypedArray, type TypedArray } from '../dtypes';
import { readNpyFile } from '../npy';
import type { CalibrationAlgorithm, CalibrationBatch, CalibratorLike } from './types';

/** A batch tensor with its shape (batch dimension first). */
export interface ShapedTensor {
  data: TypedArray;
  shape: number[];
}
export type ShapedBatch = Record<string, ShapedTensor>;

/** What an iterable calibration source may yield: per input, a typed array or { data, shape } (e.g. an NpyArray). */
export type BatchInput = Record<string, TypedArray | ShapedTensor>;

export interface CalibratorOptions {
  /** Samples per batch (TensorRT's getBatchSize). Default: the first dimension of the first batch seen, or 1. */
  batchSize?: number;
  /** Calibration cache file: readCache() returns its bytes when it exists, writeCache() writes it. */
  cacheFile?: string;
  /** Full input shapes (batch dimension included), for batches given as flat typed arrays. */
  inputShapes?: Record<string, number[]>;
  /** A data source instead of overriding getBatch(): an (async) iterable of batches. */
  batches?: Iterable<BatchInput> | AsyncIterable<BatchInput>;
}

/**
 * The base class of calibrators. Subclass one of EntropyCalibrator / MinMaxCalibrator / PercentileCalibrator
 * and override `getBatch(inputNames)`, or pass `batches` (an iterable or async iterable) to the constructor.
 */
export abstract class Calibrator implements CalibratorLike {
  abstract readonly algorithm: CalibrationAlgorithm;
  readonly cacheFile?: string;
  inputShapes?: Record<string, number[]>;
  /** Shapes of the batch last returned by getBatch(), when the source gave them. */
  lastBatchShapes: Record<string, number[]> | null = null;
  private _batchSize?: number;
  private batchSource?: Iterable<BatchInput> | AsyncIterable<BatchInput>;
  private iterator?: Iterator<BatchInput> | AsyncIterator<BatchInput>;

  constructor(options: CalibratorOptions = {}) {
    is.object(options, 'calibrator options');
    if (options.batchSize !== undefined && !(Number.isInteger(options.batchSize) && options.batchSize > 0)) {
      throw invalidArg(`batchSize must be a positive integer, got ${String(options.batchSize)}`);
    }
    if (options.cacheFile !== undefined && typeof options.cacheFile !== 'string') throw invalidArg('cacheFile must be a string');
    if (options.batches !== undefined) {
      const b = options.batches as { [Symbol.iterator]?: unknown; [Symbol.asyncIterator]?: unknown } | null;
      if (!b || (typeof b[Symbol.asyncIterator] !== 'function' && typeof b[Symbol.iterator] !== 'function')) {
        throw invalidArg('batches must be an iterable or async iterable');
      }
      this.batchSource = options.batches;
    }
    this._batchSize = options.batchSize;
    if (options.cacheFile !== undefined) this.cacheFile = options.cacheFile;
    if (options.inputShapes !== undefined) this.inputShapes = options.inputShapes;
  }

  get batchSize(): number {
    return this._batchSize ?? 1;
  }

  /** Sets the batch size once (sources that learn it from their first batch). */
  protected setBatchSize(n: number): void {
    is.integer(n, 'batch size', 1);
    if (this._batchSize === undefined) this._batchSize = n;
  }

  /** Next batch (input name -> float32 data), or null when exhausted. Default: the next item of `batches`. */
  async getBatch(inputNames: string[]): Promise<CalibrationBatch | null> {
    const b = await this.getShapedBatch(inputNames);
    if (!b) return null;
    const out: CalibrationBatch = {};
    for (const [k, v] of Object.entries(b)) out[k] = v.data;
    return out;
  }

  /** Next batch with shapes. The default reads `batches`; subclasses that override getBatch() get shapes from inputShapes. */
  async getShapedBatch(inputNames: string[]): Promise<ShapedBatch | null> {
    is.arrayOf(inputNames, 'getBatch: inputNames', is.string, 'an array of input names');
    if (this.batchSource === undefined) {
      if (this.getBatch === Calibrator.prototype.getBatch) {
        throw new TensorRTError('INVALID_ARGUMENT', `${this.constructor.name}: override getBatch() or pass options.batches`);
      }
      const flat = await this.getBatch(inputNames);
      if (!flat) return null;
      return this.attachShapes(flat);
    }
    if (!this.iterator) {
      const s = this.batchSource as { [Symbol.iterator]?: () => Iterator<BatchInput>; [Symbol.asyncIterator]?: () => AsyncIterator<BatchInput> };
      this.iterator = s[Symbol.asyncIterator] ? s[Symbol.asyncIterator]!() : s[Symbol.iterator]!();
    }
    const r = await this.iterator.next();
    if (r.done) return null;
    const batch = r.value;
    if (batch === null || typeof batch !== 'object') throw invalidArg('a calibration batch must be an object: input name -> data');
    const out: ShapedBatch = {};
    const flat: CalibrationBatch = {};
    for (const [k, v] of Object.entries(batch)) {
      if (isTypedArray(v)) flat[k] = v;
      else if (v && typeof v === 'object' && isTypedArray((v as ShapedTensor).data) && Array.isArray((v as ShapedTensor).shape)) {
        out[k] = { data: (v as ShapedTensor).data, shape: [...(v as ShapedTensor).shape] };
      } else throw invalidArg(`calibration batch input "${k}": expected a typed array or { data, shape }`);
    }
    const known = Object.values(out); // shapes given by the source (not guessed)
    Object.assign(out, this.attachShapes(flat));
    if (known.length > 0 && known[0].shape.length > 0) this.setBatchSize(known[0].shape[0]);
    this.lastBatchShapes = Object.fromEntries(Object.entries(out).filter(([, v]) => !(v as { unknownShape?: boolean }).unknownShape).map(([k, v]) => [k, v.shape]));
    return out;
  }

  private attachShapes(flat: CalibrationBatch): ShapedBatch {
    const out: ShapedBatch = {};
    for (const [k, data] of Object.entries(flat)) {
      const shape = this.inputShapes?.[k] ?? this.lastBatchShapes?.[k];
      out[k] = { data, shape: shape ? [...shape] : [data.length] };
      if (!shape) (out[k] as ShapedTensor & { unknownShape?: boolean }).unknownShape = true;
    }
    return out;
  }

  /** Restarts the data source (only iterables that can be iterated again, e.g. arrays; npy directories). */
  reset(): void {
    this.iterator = undefined;
    this.lastBatchShapes = null;
  }

  readCache(): Uint8Array | null {
    if (!this.cacheFile) return null;
    try {
      return fs.readFileSync(this.cacheFile);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new TensorRTError('IO_ERROR', `cannot read calibration cache ${this.cacheFile}: ${(e as Error).message}`, { cause: e });
    }
  }

  writeCache(cache: Uint8Array): void {
    is.bytes(cache, 'writeCache: the cache');
    if (!this.cacheFile) return;
    try {
      fs.writeFileSync(this.cacheFile, cache);
    } catch (e) {
      throw new TensorRTError('IO_ERROR', `cannot write calibration cache ${this.cacheFile}: ${(e as Error).message}`, { cause: e });
    }
  }
}

/** KL-divergence calibration, the method of TensorRT's IInt8EntropyCalibrator2 (TensorRT's recommended one for CNNs). */
export class EntropyCalibrator extends Calibrator {
  readonly algorithm: CalibrationAlgorithm = 'entropy2';
}

/** amax = max |x| over all batches (TensorRT's IInt8MinMaxCalibrator). */
export class MinMaxCalibrator extends Calibrator {
  readonly algorithm: CalibrationAlgorithm = 'minmax';
}

export interface PercentileCalibratorOptions extends CalibratorOptions {
  /** Percentile of |x| used as amax, in (0, 100]. Default 99.99. */
  percentile?: number;
}

/**
 * amax = the given percentile of |x| (default 99.99). TensorRT has no such calibrator: with TensorRT 10 its
 * scales reach the builder through the calibration cache (compute them with calibrate() first).
 */
export class PercentileCalibrator extends Calibrator {
  readonly algorithm: CalibrationAlgorithm = 'percentile';
  readonly percentile: number;
  constructor(options: PercentileCalibratorOptions = {}) {
    super(options);
    const p = options.percentile ?? 99.99;
    if (typeof p !== 'number' || !(p > 0 && p <= 100)) throw invalidArg(`percentile must be in (0, 100], got ${String(p)}`);
    this.percentile = p;
  }
}

export type CalibrationMethod = 'entropy' | 'minmax' | 'percentile';

/** Lists the batches of a calibration directory: .npy files (one input) or one sub-folder per input name. */
export function listNpyBatches(dir: string): { inputs: string[] | null; files: Record<string, string[]> } {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TensorRTError('IO_ERROR', `cannot read calibration directory ${dir}: ${code === 'EACCES' ? 'permission denied' : 'no such file or directory'}`, { cause: e });
  }
  if (!st.isDirectory()) throw new TensorRTError('IO_ERROR', `cannot read calibration directory ${dir}: not a directory`);
  const entries = fs.readdirSync(dir, { withFileTypes: true });
  const npy = entries.filter((e) => e.isFile() && e.name.endsWith('.npy')).map((e) => e.name).sort(natural);
  const subdirs = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  if (npy.length > 0) return { inputs: null, files: { '': npy.map((f) => path.join(dir, f)) } };
  if (subdirs.length === 0) throw new TensorRTError('INVALID_ARGUMENT', `calibration directory ${dir} holds no .npy files and no sub-folders`);
  const files: Record<string, string[]> = {};
  for (const s of subdirs) {
    const d = path.join(dir, s);
    const f = fs.readdirSync(d).filter((n) => n.endsWith('.npy')).sort(natural).map((n) => path.join(d, n));
    if (f.length === 0) throw new TensorRTError('INVALID_ARGUMENT', `calibration sub-folder ${d} holds no .npy files`);
    files[s] = f;
  }
  const counts = new Set(Object.values(files).map((f) => f.length));
  if (counts.size > 1) {
    throw new TensorRTError('INVALID_ARGUMENT', `calibration sub-folders hold different numbers of batches: ${Object.entries(files).map(([k, v]) => `${k}: ${v.length}`).join(', ')}`);
  }
  return { inputs: subdirs, files };
}

function natural(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/**
 * Batches from a directory of .npy files, read one at a time (memory does not grow with the number of files).
 * A directory of .npy files feeds a single-input model; otherwise one sub-folder per input name, whose files are
 * paired in (natural) name order. Files must be float32; their first dimension is the batch size.
 */
export class NpyDirectorySource implements AsyncIterable<Record<string, ShapedTensor>> {
  readonly dir: string;
  readonly inputs: string[] | null;
  readonly files: Record<string, string[]>;
  readonly count: number;

  constructor(dir: string, options: { limit?: number } = {}) {
    const o = is.options(options, 'NpyDirectorySource', ['limit']);
    const limit = is.optional(o, 'limit', (v, w) => is.integer(v, w, 0), 'NpyDirectorySource option limit');
    this.dir = is.path(dir, 'NpyDirectorySource: the directory');
    const l = listNpyBatches(dir);
    this.inputs = l.inputs;
    this.files = l.files;
    const n = Object.values(l.files)[0].length;
    this.count = limit !== undefined ? Math.min(n, limit) : n;
  }

  /** The batch `i`, keyed by input name; `singleInput` names the key for a flat directory. */
  read(i: number, singleInput = 'input'): Record<string, ShapedTensor> {
    is.integer(i, 'NpyDirectorySource.read: the batch index', 0, this.count - 1);
    is.string(singleInput, 'NpyDirectorySource.read: singleInput');
    const out: Record<string, ShapedTensor> = {};
    for (const [k, list] of Object.entries(this.files)) {
      const file = list[i];
      const a = readNpyFile(file);
      if (a.dtype !== 'float32') throw new TensorRTError('INVALID_ARGUMENT', `${file}: calibration data must be float32, this file is ${a.dtype}`);
      if (a.shape.length === 0) throw new TensorRTError('INVALID_ARGUMENT', `${file}: a 0-d array is not a batch`);
      out[k === '' ? singleInput : k] = { data: a.data, shape: a.shape };
    }
    return out;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Record<string, ShapedTensor>> {
    for (let i = 0; i < this.count; i++) yield this.read(i);
  }
}

export interface NpyCalibratorOptions extends PercentileCalibratorOptions {
  method?: CalibrationMethod;
  /** Use at most this many batches. */
  limit?: number;
}

/** A calibrator (of the given method) that reads a directory of .npy batches; see NpyDirectorySource. */
export function npyDirectoryCalibrator(dir: string, options: NpyCalibratorOptions = {}): Calibrator & { source: NpyDirectorySource } {
  if (options !== undefined) is.object(options, 'npyDirectoryCalibrator options');
  const src = new NpyDirectorySource(dir, options.limit === undefined ? {} : { limit: options.limit });
  const make = createCalibrator(options.method ?? 'entropy', options);
  let index = 0;
  const cal = make as Calibrator & { source: NpyDirectorySource };
  cal.source = src;
  cal.getShapedBatch = async (inputNames: string[]): Promise<ShapedBatch | null> => {
    if (index >= src.count) return null;
    if (src.inputs === null && inputNames.length !== 1) {
      throw new TensorRTError('INVALID_ARGUMENT', `${dir} holds .npy files directly, which feeds a single-input model, but the model has ${inputNames.length} inputs (${inputNames.join(', ')}): use one sub-folder per input name`);
    }
    if (src.inputs !== null) {
      const missing = inputNames.filter((n) => !src.inputs!.includes(n));
      if (missing.length > 0) throw new TensorRTError('INVALID_ARGUMENT', `${dir} has no sub-folder for input(s) ${missing.join(', ')} (found: ${src.inputs.join(', ')})`);
    }
    const b = src.read(index++, inputNames[0]);
    const first = Object.values(b)[0];
    if (first) (cal as unknown as { setBatchSize(n: number): void }).setBatchSize(first.shape[0]);
    cal.lastBatchShapes = Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v.shape]));
    return b;
  };
  const baseReset = cal.reset.bind(cal);
  cal.reset = () => {
    baseReset();
    index = 0;
  };
  return cal;
}

/** A calibrator of the given method ('entropy' | 'minmax' | 'percentile'). */
export function createCalibrator(method: CalibrationMethod, options: PercentileCalibratorOptions = {}): Calibrator {
  switch (method) {
    case 'entropy':
      return new EntropyCalibrator(options);
    case 'minmax':
      return new MinMaxCalibrator(options);
    case 'percentile':
      return new PercentileCalibrator(options);
    default:
      throw invalidArg(`unknown calibration method "${String(method)}" (entropy, minmax or percentile)`);
  }
}
