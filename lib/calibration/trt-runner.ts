/**
 * A StatisticsRunner on a TensorRT engine: the float model, with the tensors to calibrate marked as outputs, is
 * built into an FP32 engine (TF32 off) on the first batch (one optimization profile fixed to that batch's shapes;
 * rebuilt when a later batch has other shapes) and run with ExecutionContext.infer(). Needs TensorRT and a GPU;
 * without them the first run() throws TENSORRT_UNAVAILABLE / CUDA_UNAVAILABLE.
 */
import { TensorRTError } from '../errors';
import type { TypedArray } from '../dtypes';
import { onnx, saveModel } from '../onnx';
import type { StatisticsRunner } from './collect';
import type { ShapedBatch } from './calibrator';
import type { Engine as EngineT } from '../tensorrt/engine';

export interface TensorRTRunnerOptions {
  /** Workspace pool limit in bytes for the statistics engine. */
  workspace?: number;
}

export async function createTensorRTRunner(model: onnx.IModelProto | Uint8Array, options: TensorRTRunnerOptions = {}): Promise<StatisticsRunner> {
  const bytes = model instanceof Uint8Array ? model : saveModel(model);
  const { buildEngine } = await import('../tensorrt/build');
  const { Engine } = await import('../tensorrt/engine');
  let engine: EngineT | null = null;
  let context: ReturnType<EngineT['createExecutionContext']> | null = null;
  let key = '';
  const release = () => {
    context?.dispose();
    engine?.dispose();
    context = null;
    engine = null;
  };
  return {
    async run(feeds: ShapedBatch, outputNames: string[]) {
      const k = Object.entries(feeds).map(([n, t]) => `${n}:${t.shape.join('x')}`).sort().join(',');
      if (!context || k !== key) {
        release();
        const profile = Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, { min: t.shape, opt: t.shape, max: t.shape }]));
        const plan = await buildEngine(bytes, {
          tf32: false,
          profiles: [profile],
          ...(options.workspace ? { memoryPoolLimits: { workspace: options.workspace } } : {}),
        });
        engine = await Engine.load(plan);
        context = engine.createExecutionContext();
        key = k;
      }
      const outputs = await context.infer(Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, { data: t.data, shape: t.shape }])));
      const r: Record<string, { data: TypedArray; shape: number[] }> = {};
      for (const name of outputNames) {
        const data = outputs[name];
        if (!data) throw new TensorRTError('INTERNAL', `the statistics engine did not return tensor ${name}`);
        r[name] = { data, shape: context.getTensorShape(name) };
      }
      return r;
    },
    dispose() {
      release();
    },
  };
}
