/**
 * The CLI's door to the TensorRT part of the library (lib/tensorrt/build.ts, lib/tensorrt/engine.ts). Those modules are loaded
 * lazily, only by the commands that need them, so that `info`, `inspect` of ONNX files and `--help` start fast
 * and work whatever state the TensorRT part is in.
 */
import type { TypedArray } from '../dtypes';
import type { Stream, DeviceBuffer } from '../cuda';
import type { Engine, IOTensor } from '../tensorrt/engine';
import type { ExecutionContext } from '../tensorrt/context';
import type { BuildOptions } from '../tensorrt/build';

/**
 * What the CLI reads of an engine's I/O tensor: a view of lib/tensorrt/io-tensor.ts's `IOTensor` (its one declaration),
 * with the fields test doubles may leave out optional and the dtype widened to any name (newer TensorRT versions).
 */
export type IOTensorLike = Pick<IOTensor, 'name' | 'mode' | 'shape'> &
  Partial<Pick<IOTensor, 'format' | 'profiles' | 'location' | 'isShapeInferenceIO' | 'profileValues'>> & { dtype: string };

/** What the CLI uses of an Engine (lib/tensorrt/engine.ts). */
export interface EngineLike {
  ioTensors: readonly IOTensorLike[];
  numOptimizationProfiles: number;
  deviceMemorySize: number | bigint;
  numLayers: number;
  inspect(opts?: { format?: 'json' | 'text' }): string;
  createExecutionContext(): ContextLike;
  dispose(): void;
}

/** What the CLI uses of an ExecutionContext. */
export interface ContextLike {
  setInputShape(name: string, shape: number[]): void;
  getTensorShape(name: string): number[];
  setTensorAddress(name: string, address: DeviceBuffer | bigint): void;
  enqueue(stream: Stream): void;
  inferWithShapes(
    inputs: Record<string, { data: TypedArray; shape: readonly number[] }>,
  ): Promise<Record<string, { data: TypedArray; shape: number[]; dtype: string }>>;
  dispose(): void;
}

// Compile-time checks that the library's classes fit the shapes the CLI relies on.
type Fits<A extends B, B> = A;
export type EngineFits = Fits<Engine, EngineLike>;
export type ContextFits = Fits<ExecutionContext, ContextLike>;


/** Engine.load(bytes). */
export async function loadEngine(bytes: Uint8Array): Promise<EngineLike> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- TensorRT modules load only in commands that need TensorRT (the file header)
  const mod = require('../tensorrt/engine') as typeof import('../tensorrt/engine');
  return mod.Engine.load(bytes);
}

/** buildEngine(model, options). */
export async function buildEngine(model: string | Uint8Array, options: BuildOptions): Promise<Buffer> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- TensorRT modules load only in commands that need TensorRT (the file header)
  const mod = require('../tensorrt/build') as typeof import('../tensorrt/build');
  return mod.buildEngine(model, options);
}

/** checkBuildOptions(options): the library's own validation, which needs no TensorRT. */
export function checkBuildOptions(options: BuildOptions): BuildOptions {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- TensorRT modules load only in commands that need TensorRT (the file header)
  const mod = require('../tensorrt/build') as typeof import('../tensorrt/build');
  return mod.checkBuildOptions(options);
}
