/**
 * The one error type of tensorrt-node. Every failure that reaches user code is a `TensorRTError` with a
 * stable `code`; TensorRT's and CUDA's own words are kept in `message` (and `cudaError` names the CUDA
 * error enum, e.g. `cudaErrorNoDevice`).
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT' // bad input detected before any native call (type, range, dtype, shape, length, name)
  | 'DISPOSED' // use of an object after dispose()
  | 'TENSORRT_UNAVAILABLE' // libnvinfer (or the parser) could not be found / loaded / version mismatch
  | 'CUDA_UNAVAILABLE' // no driver / no device
  | 'CUDA_ERROR' // any other CUDA runtime error
  | 'OUT_OF_MEMORY' // cudaErrorMemoryAllocation, pinned or device
  | 'TENSORRT_ERROR' // TensorRT reported an error (message holds what its error recorder / logger said)
  | 'PARSE_ERROR' // ONNX/UFF parser errors (see `parserErrors`)
  | 'DESERIALIZE_ERROR' // corrupt, truncated or incompatible .engine data
  | 'BUILD_FAILED' // buildSerializedNetwork returned nothing
  | 'CALIBRATION_ERROR' // the INT8 calibrator failed during a build (getBatch / readCache / writeCache threw or rejected, a batch of the wrong size); `cause` = what it threw
  | 'UNSUPPORTED' // the feature does not exist in the TensorRT version found / compiled against
  | 'IO_ERROR' // file system errors
  | 'INTERNAL' // a bug in tensorrt-node
  | 'UNSUPPORTED_OP' // a model (TensorFlow → ONNX conversion) uses operations the converter does not handle
  | 'NOT_FOUND' // serve: no such model / version / tensor (HTTP 404)
  | 'UNAVAILABLE' // serve: queue full, model unloading, server draining (HTTP 503, Retry-After)
  | 'DEADLINE_EXCEEDED'; // serve: the request's timeout passed before its result (HTTP 504)

export interface ParserError {
  /** Index of the failing ONNX node, or -1 when unknown. */
  node: number;
  nodeName?: string;
  opType?: string;
  /** TensorRT's ErrorCode name, e.g. `kUNSUPPORTED_NODE`. */
  code: string;
  description: string;
  file?: string;
  line?: number;
  function?: string;
}

export class TensorRTError extends Error {
  override readonly name = 'TensorRTError';
  readonly code: ErrorCode;
  /** CUDA error enum name where a CUDA call failed (`cudaErrorNoDevice`, ...). */
  readonly cudaError?: string;
  /** Every error the ONNX parser reported, for code PARSE_ERROR. */
  readonly parserErrors?: ParserError[];

  constructor(
    code: ErrorCode,
    message: string,
    extra: { cudaError?: string; parserErrors?: ParserError[]; cause?: unknown } = {},
  ) {
    super(message, extra.cause !== undefined ? { cause: extra.cause } : undefined);
    this.code = code;
    if (extra.cudaError !== undefined) this.cudaError = extra.cudaError;
    if (extra.parserErrors !== undefined) this.parserErrors = extra.parserErrors;
  }
}

/** Errors thrown by the native layer carry `code` (and maybe `cudaError`) properties: turn them into TensorRTError. */
export function wrapNativeError(e: unknown): TensorRTError {
  if (e instanceof TensorRTError) return e;
  if (e && typeof e === 'object') {
    const o = e as { code?: unknown; message?: unknown; cudaError?: unknown; parserErrors?: unknown };
    const code = typeof o.code === 'string' && KNOWN_CODES.has(o.code as ErrorCode) ? (o.code as ErrorCode) : 'INTERNAL';
    // A native error that names its own cause (CALIBRATION_ERROR: what the JS calibrator threw) keeps it.
    const extra: { cudaError?: string; parserErrors?: ParserError[]; cause?: unknown } = {
      cause: Object.prototype.hasOwnProperty.call(o, 'cause') ? (o as { cause?: unknown }).cause : e,
    };
    if (typeof o.cudaError === 'string') extra.cudaError = o.cudaError;
    if (Array.isArray(o.parserErrors)) extra.parserErrors = o.parserErrors as ParserError[];
    return new TensorRTError(code, typeof o.message === 'string' ? o.message : String(e), extra);
  }
  return new TensorRTError('INTERNAL', String(e));
}

/** Run `fn`, converting native exceptions into TensorRTError. */
export function callNative<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw wrapNativeError(e);
  }
}

const rethrowWrapped = (e: unknown): never => {
  throw wrapNativeError(e);
};

/**
 * A native Promise whose rejection becomes a TensorRTError: one promise reaction and no async frame, since
 * copies call it on their hot path, where every layer of `async`/`await` is extra garbage per call.
 */
export function awaitNative<T>(p: Promise<T>): Promise<T> {
  return Promise.resolve(p).then(undefined, rethrowWrapped);
}

/** A rejected Promise carrying `e` as a TensorRTError (for the synchronous failures of a non-async method). */
export function rejectWrapped(e: unknown): Promise<never> {
  return Promise.reject(wrapNativeError(e));
}

export function invalidArg(message: string): TensorRTError {
  return new TensorRTError('INVALID_ARGUMENT', message);
}

const KNOWN_CODES = new Set<ErrorCode>([
  'INVALID_ARGUMENT', 'DISPOSED', 'TENSORRT_UNAVAILABLE', 'CUDA_UNAVAILABLE', 'CUDA_ERROR', 'OUT_OF_MEMORY',
  'TENSORRT_ERROR', 'PARSE_ERROR', 'DESERIALIZE_ERROR', 'BUILD_FAILED', 'UNSUPPORTED', 'IO_ERROR', 'INTERNAL',
  'UNSUPPORTED_OP',
  'NOT_FOUND', 'UNAVAILABLE', 'DEADLINE_EXCEEDED',
  'CALIBRATION_ERROR',
]);

/**
 * What to do when onnxruntime-node (the optional CPU backend of serve and quantize's statistics) cannot be loaded.
 * npm drops an optional dependency whose install script fails, and onnxruntime-node's postinstall fails wherever its
 * download of CUDA provider binaries (api.nuget.org) is unreachable: installed with ONNXRUNTIME_NODE_INSTALL=skip, it
 * downloads nothing and keeps the CPU build that ships in its npm package.
 */
export const ONNXRUNTIME_NODE_ADVICE =
  'install it in your project with `ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node` (npm drops this ' +
  'optional dependency of tensorrt-node when its postinstall cannot download CUDA providers from api.nuget.org; the ' +
  'variable skips that download, and its CPU build ships in the npm package)';
