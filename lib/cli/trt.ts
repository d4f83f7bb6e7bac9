/**
 * The CLI's door to the TensorRT part of the library (lib/build.ts, lib/engine.ts). Those modules are loaded
 * lazily, only by the commands that need them, so that `info`, `inspect` of ONNX files and `--help` start fast
 * and work whatever state the TensorRT part is in.
 */
import type { TypedArray } from '../dtypes';
import type { Stream, DeviceBuffer } from '../cuda';
import type { ShapeRange } from './parse';
import type { Engine } from '../engine';
import type { ExecutionContext } from '../context';
import type { BuildOptions } from '../build';

export interface IOTensorLike {
  name: string;
  mode: 'input' | 'output';
  dtype: string;
  shape: number[];
  format?: string;
  profiles?: ShapeRange[];
  /** 'host' for shape tensors. */
  location?: 'device' | 'host';
  isShapeInferenceIO?: boolean;
  /** Shape-tensor inputs: min / opt / max values per profile. */
  profileValues?: ShapeRange[];
}

/** What the CLI uses of an Engine (lib/engine.ts). */
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

/** lib/build.ts's options. */
export type CliBuildOptions = BuildOptions;

// Compile-time checks that the library's classes fit the shapes the CLI relies on.
type Fits<A extends B, B> = A;
export type EngineFits = Fits<Engine, EngineLike>;
export type ContextFits = Fits<ExecutionContext, ContextLike>;


/** Engine.load(bytes). */
export async function loadEngine(bytes: Uint8Array): Promise<EngineLike> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require('../engine') as typeof import('../engine');
  return mod.Engine.load(bytes);
}

/** buildEngine(model, options). */
export async function buildEngine(model: string | Uint8Array, options: BuildOptions): Promise<Buffer> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require('../build') as typeof import('../build');
  return mod.buildEngine(model, options);
}

/** checkBuildOptions(options): the library's own validation, which needs no TensorRT. */
export function checkBuildOptions(options: BuildOptions): BuildOptions {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require('../build') as typeof import('../build');
  return mod.checkBuildOptions(options);
}
