import type { TensorRTNative } from '../addon';
/**
 * `NetworkDefinition`: TensorRT's INetworkDefinition, created by `Builder.createNetwork()` and filled by an
 * `OnnxParser`. Inspect it (inputs, outputs, layers) and choose its outputs before building.
 *
 * ```ts
 * const network = builder.createNetwork();
 * await new OnnxParser(network).parse('model.onnx');
 * console.log(network.inputs, network.outputs, network.layers.length);
 * ```
 * While a parse or a build uses the network on a worker thread, reading or changing it throws
 * INVALID_ARGUMENT (TensorRT objects are not thread-safe).
 */
import { callNative, invalidArg, TensorRTError } from '../errors';
import type { DataType } from '../dtypes';

export interface TensorDesc {
  name: string;
  /** 'unknown' for TensorRT types without a tensorrt-node name (e.g. kE8M0). */
  dtype: DataType | 'unknown';
  /** -1 = dynamic dimension. */
  shape: number[];
}

export interface LayerDesc {
  index: number;
  name: string;
  /** TensorRT's LayerType in camelCase: 'convolution', 'matrixMultiply', 'elementwise', ... */
  type: string;
  /** The layer's compute precision (TensorRT 11: the type of its first output). */
  precision: DataType | 'unknown';
  /** Whether the precision was set explicitly (always false on TensorRT 11). */
  precisionIsSet: boolean;
  /** Names of the input tensors (null for an absent optional input). */
  inputs: (string | null)[];
  outputs: (string | null)[];
}

/** @internal Token that keeps the constructor for Builder.createNetwork. */
export const NETWORK_TOKEN: unique symbol = Symbol('tensorrt-node:NetworkDefinition');

export class NetworkDefinition {
  #native: TensorRTNative.NetworkDefinition | null;

  /** @internal Use `Builder.createNetwork()`. */
  constructor(token: typeof NETWORK_TOKEN, native: TensorRTNative.NetworkDefinition) {
    if (token !== NETWORK_TOKEN) throw invalidArg('use Builder.createNetwork() to create a NetworkDefinition');
    this.#native = native;
  }

  /** @internal The raw addon object (throws DISPOSED). */
  get native(): TensorRTNative.NetworkDefinition {
    if (!this.#native) throw new TensorRTError('DISPOSED', 'NetworkDefinition has been disposed');
    return this.#native;
  }

  get disposed(): boolean {
    return this.#native === null;
  }

  /** Network inputs. */
  get inputs(): TensorDesc[] {
    return callNative(() => this.native.inputs) as TensorDesc[];
  }

  /** Network outputs (marked outputs). */
  get outputs(): TensorDesc[] {
    return callNative(() => this.native.outputs) as TensorDesc[];
  }

  /** Every layer, in network order. */
  get layers(): LayerDesc[] {
    return callNative(() => this.native.layers) as LayerDesc[];
  }

  get numLayers(): number {
    return callNative(() => this.native.numLayers);
  }

  /** Whether the network was created strongly typed (always true on TensorRT 11). */
  get stronglyTyped(): boolean {
    return callNative(() => this.native.stronglyTyped);
  }

  get name(): string {
    return callNative(() => this.native.name);
  }

  set name(v: string) {
    if (typeof v !== 'string') throw invalidArg('name must be a string');
    callNative(() => {
      this.native.name = v;
    });
  }

  /** Makes the tensor `name` (a layer output or an input) a network output. */
  markOutput(name: string): void {
    if (typeof name !== 'string' || name.length === 0) throw invalidArg('markOutput: name must be a non-empty string');
    callNative(() => this.native.markOutput(name));
  }

  /** Removes `name` from the network outputs. */
  unmarkOutput(name: string): void {
    if (typeof name !== 'string' || name.length === 0) throw invalidArg('unmarkOutput: name must be a non-empty string');
    callNative(() => this.native.unmarkOutput(name));
  }

  /** Frees the network now (a parse or build in progress keeps it until it ends). Idempotent. */
  dispose(): void {
    const n = this.#native;
    this.#native = null;
    if (n) n.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
