/**
 * The `tensorrt` backend: a TensorRT engine run through tensorrt-node's Engine / ExecutionContext API, one
 * execution context (with its own CUDA stream) per instance, one batch in flight on each.
 *
 * Every model file becomes an engine through `engineForModel`, which goes through the engine cache (`loadEngine`:
 * built once per model / options / GPU / TensorRT version, loaded ever after).
 *
 * No TensorRT binary exists where this was written: this file is type-checked, and its paths are not run by the
 * tests (they skip with the reason); the onnxruntime backend answers there.
 */
import * as os from 'os';
import * as path from 'path';
import { loadEngine } from '../../engine-cache';
import { Engine, type IOTensor } from '../../tensorrt/engine';
import type { ExecutionContext, InferInputs } from '../../tensorrt/context';
import { TensorRTError } from '../../errors';
import { runtimeInfo } from '../../info';
import { saveModel } from '../../onnx';
import { convertTensorFlow } from '../../tensorflow';
import type { Backend } from '../batcher';
import type { TypedArray } from '../../dtypes';
import { isServeDType, ServeArray, Tensor, TensorSpec } from '../tensor';
import * as is from '../../validate';

export interface TensorRTBackendOptions {
  instances?: number;
  /** Batch cap (default: the largest dimension 0 of profile 0 of the engine). */
  maxBatchSize?: number;
  /** For ONNX models: optimization profiles as in buildEngine ({ input: { min, opt, max } }). */
  profiles?: Record<string, { min: number[]; opt: number[]; max: number[] }>[];
  fp16?: boolean;
  /** Engine cache directory (see engineForModel). */
  cacheDir?: string;
  /** SavedModel tags and signature for a SavedModel directory (default serve, serving_default). */
  tensorflow?: { tags?: string[]; signature?: string; signatureKeys?: boolean };
}

/** Why the tensorrt backend cannot run here, or null when TensorRT and a CUDA GPU are both present. */
export function tensorrtUnavailableReason(): string | null {
  const info = runtimeInfo();
  if (!info.tensorrt.available) return `TensorRT is not available (${(info.tensorrt.reason ?? 'not found').split('\n')[0]})`;
  if (!info.cuda.available) return `no CUDA GPU (${(info.cuda.reason ?? 'none found').split('\n')[0]})`;
  return null;
}

/**
 * The engine for a model file, through the engine cache (lib/engine-cache, `loadEngine`): `.engine` / `.plan` loaded
 * and checked against this TensorRT and GPU; `.onnx` built once per model, options, GPU and TensorRT version, then
 * loaded from the cache ever after; TensorFlow models (model.json / model.pb) converted in memory first
 * (lib/tensorflow) and cached under their ONNX bytes. The cache directory: `options.cacheDir`, else
 * $TENSORRT_NODE_CACHE_DIR, else `<tmpdir>/tensorrt-node-engines`.
 */
export async function engineForModel(file: string, options: TensorRTBackendOptions = {}): Promise<Engine> {
  is.path(file, 'engineForModel: the model file');
  is.object(options, 'engineForModel options');
  const cacheDir = options.cacheDir || process.env.TENSORRT_NODE_CACHE_DIR || path.join(os.tmpdir(), 'tensorrt-node-engines');
  const model = /\.(engine|plan|onnx)$/i.test(file) ? file : saveModel(convertTensorFlow(file, options.tensorflow ?? {}).model);
  return loadEngine(model, { cacheDir, fp16: options.fp16, profiles: options.profiles });
}

function specOf(t: IOTensor): TensorSpec {
  if (!isServeDType(t.dtype)) throw new TensorRTError('UNSUPPORTED', `tensor '${t.name}' has dtype ${t.dtype}, which serve does not carry`);
  return { name: t.name, dtype: t.dtype, shape: [...t.shape] };
}

/** `profiles` repeated (the last one) up to `n` entries; undefined stays undefined. */
function profilesPerInstance(
  profiles: TensorRTBackendOptions['profiles'],
  n: number,
): TensorRTBackendOptions['profiles'] {
  if (!profiles || profiles.length === 0 || profiles.length >= n) return profiles;
  const out = [...profiles];
  while (out.length < n) out.push(profiles[profiles.length - 1]!);
  return out;
}

export async function createTensorRTBackend(file: string, options: TensorRTBackendOptions = {}): Promise<Backend> {
  is.path(file, 'createTensorRTBackend: the model file');
  is.object(options, 'createTensorRTBackend options');
  const why = tensorrtUnavailableReason();
  if (why) throw new TensorRTError('TENSORRT_UNAVAILABLE', `the tensorrt backend cannot run here: ${why}`);
  const n = Math.max(1, options.instances ?? 1);
  // One optimization profile per instance (each execution context in concurrent use needs its own: instance i runs
  // on profile i). Given profiles are repeated up to `instances`; an ONNX model built with its default profile is
  // rebuilt with that profile once per instance.
  let engine = await engineForModel(file, { ...options, profiles: profilesPerInstance(options.profiles, n) });
  if (n > 1 && engine.inputs.some((t) => t.shape.includes(-1)) && engine.numOptimizationProfiles < n && /\.onnx$/i.test(file)) {
    const one: Record<string, { min: number[]; opt: number[]; max: number[] }> = {};
    for (const t of engine.inputs) {
      const p = t.profiles?.[0];
      if (p) one[t.name] = { min: [...p.min], opt: [...p.opt], max: [...p.max] };
    }
    engine = await engineForModel(file, { ...options, profiles: profilesPerInstance([one], n) });
  }
  if (n > 1 && engine.inputs.some((t) => t.shape.includes(-1)) && engine.numOptimizationProfiles < n) {
    throw new TensorRTError(
      'INVALID_ARGUMENT',
      `the engine has ${engine.numOptimizationProfiles} optimization profile(s) for ${n} instances: each instance needs its own (build it with one profile per instance)`,
    );
  }
  const inputs = engine.inputs.map(specOf);
  const outputs = engine.outputs.map(specOf);
  const dynamicBatch = [...inputs, ...outputs].every((t) => t.shape.length > 0 && t.shape[0] === -1);
  let maxBatchSize = 0;
  if (dynamicBatch) {
    const profileMax = Math.min(...engine.inputs.map((t) => t.profiles?.[0]?.max[0] ?? 1));
    maxBatchSize = Math.min(profileMax, options.maxBatchSize ?? profileMax);
  }
  const contexts: ExecutionContext[] = [];
  for (let i = 0; i < n; i++) contexts.push(engine.createExecutionContext());
  return {
    platform: 'tensorrt_plan',
    kind: 'tensorrt',
    inputs,
    outputs,
    maxBatchSize,
    async run(ins: Tensor[], instance: number): Promise<Tensor[]> {
      const feed: InferInputs = {};
      for (const t of ins) feed[t.name] = { data: t.data as TypedArray, shape: t.shape }; // engines have no string tensors (specOf)
      const r = await contexts[instance]!.inferWithShapes(feed);
      return outputs.map((o) => ({ name: o.name, dtype: o.dtype, shape: r[o.name]!.shape, data: r[o.name]!.data as ServeArray }));
    },
    async dispose() {
      for (const c of contexts) c.dispose();
      engine.dispose();
    },
  };
}
