/**
 * The `onnxruntime` backend: onnxruntime-node (an optional dependency) running `.onnx` models on the CPU. It is
 * serve's default wherever TensorRT or a GPU is absent. One InferenceSession per model version; `instances` is the
 * number of batches run on it at once (onnxruntime sessions take concurrent `run` calls, each on its own thread).
 */
import { TensorRTError } from '../../errors';
import type { Backend } from '../batcher';
import { isServeDType, ServeArray, Tensor, TensorSpec } from '../tensor';

export interface OnnxRuntimeBackendOptions {
  /** Batch size cap when the model's dimension 0 is dynamic (default 8); 0: no batch dimension. */
  maxBatchSize?: number;
  /** onnxruntime intra-op threads per run (default: onnxruntime's, one per core). */
  intraOpNumThreads?: number;
  /**
   * Let onnxruntime's idle pool threads spin (its default). Off by default here: spinning threads take the cores
   * the server's event loop needs to read and answer requests.
   */
  allowSpinning?: boolean;
}

type Ort = typeof import('onnxruntime-node');
let ortModule: Ort | null = null;

/** onnxruntime-node, or UNSUPPORTED saying how to get it. */
export function loadOnnxRuntime(): Ort {
  if (ortModule) return ortModule;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ortModule = require('onnxruntime-node') as Ort;
    return ortModule;
  } catch (e) {
    throw new TensorRTError('UNSUPPORTED', `the onnxruntime backend needs onnxruntime-node (an optional dependency of tensorrt-node): npm install onnxruntime-node (${(e as Error).message.split('\n')[0]})`, { cause: e });
  }
}

/** Whether onnxruntime-node can be loaded here. */
export function onnxRuntimeAvailable(): boolean {
  try {
    loadOnnxRuntime();
    return true;
  } catch {
    return false;
  }
}

interface OrtValueMeta {
  name: string;
  isTensor?: boolean;
  type?: string;
  shape?: (number | string)[];
}

function specOf(m: OrtValueMeta, file: string): TensorSpec {
  if (m.isTensor === false || !m.type || !isServeDType(m.type) || !m.shape) {
    throw new TensorRTError('UNSUPPORTED', `${file}: '${m.name}' has type ${m.type ?? 'unknown'}; serve handles numeric and bool tensors`);
  }
  return { name: m.name, dtype: m.type, shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
}

/**
 * The ONNX model (a path or its bytes) for a model file: `.onnx` as it is. TensorFlow models (`model.json` TF.js
 * graph models, `model.pb`) need the converter of issue 13 (`tensorrt-node convert`); this is the one function to
 * point at it.
 */
export async function onnxForModel(file: string): Promise<string | Uint8Array> {
  if (/\.onnx$/i.test(file)) return file;
  throw new TensorRTError('UNSUPPORTED', `${file}: the onnxruntime backend runs ONNX; convert TensorFlow models first (tensorrt-node convert ${file} -o model.onnx) and put model.onnx in the version directory`);
}

export async function createOnnxRuntimeBackend(file: string, options: OnnxRuntimeBackendOptions = {}): Promise<Backend> {
  const ort = loadOnnxRuntime();
  const model = await onnxForModel(file);
  const sessionOptions: import('onnxruntime-node').InferenceSession.SessionOptions = { executionProviders: ['cpu'] };
  if (options.intraOpNumThreads) sessionOptions.intraOpNumThreads = options.intraOpNumThreads;
  const spin = options.allowSpinning ? '1' : '0';
  sessionOptions.extra = { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } };
  let session: import('onnxruntime-node').InferenceSession;
  try {
    session = typeof model === 'string' ? await ort.InferenceSession.create(model, sessionOptions) : await ort.InferenceSession.create(model, sessionOptions);
  } catch (e) {
    throw new TensorRTError('PARSE_ERROR', `onnxruntime cannot load ${file}: ${(e as Error).message}`, { cause: e });
  }
  const s = session as unknown as { inputMetadata?: OrtValueMeta[]; outputMetadata?: OrtValueMeta[] };
  if (!Array.isArray(s.inputMetadata) || !Array.isArray(s.outputMetadata)) {
    throw new TensorRTError('UNSUPPORTED', 'onnxruntime-node >= 1.22 is needed (session input/output metadata)');
  }
  const inputs = s.inputMetadata.map((m) => specOf(m, file));
  const outputs = s.outputMetadata.map((m) => specOf(m, file));
  const dynamicBatch = [...inputs, ...outputs].every((t) => t.shape.length > 0 && t.shape[0] === -1);
  const maxBatchSize = dynamicBatch ? (options.maxBatchSize ?? 8) : 0;
  const outNames = outputs.map((o) => o.name);
  return {
    platform: 'onnxruntime_onnx',
    kind: 'onnxruntime',
    inputs,
    outputs,
    maxBatchSize,
    async run(ins: Tensor[]): Promise<Tensor[]> {
      const feeds: Record<string, import('onnxruntime-node').Tensor> = {};
      for (const t of ins) feeds[t.name] = new ort.Tensor(t.dtype, t.data as Float32Array, t.shape);
      let r: Record<string, import('onnxruntime-node').Tensor>;
      try {
        r = await session.run(feeds, outNames);
      } catch (e) {
        // Shapes and dtypes were checked against the model before: what is left is the model's own failure.
        throw new TensorRTError('INTERNAL', `onnxruntime run failed: ${(e as Error).message}`, { cause: e });
      }
      return outputs.map((o) => {
        const x = r[o.name]!;
        return { name: o.name, dtype: o.dtype, shape: x.dims.map(Number), data: x.data as ServeArray };
      });
    },
    async dispose() {
      await session.release();
    },
  };
}
