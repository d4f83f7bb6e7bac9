import type { TensorRTNative } from '../addon';
/**
 * `Builder`: TensorRT's IBuilder. Creates networks and configs and builds serialized engines.
 *
 * ```ts
 * const builder = new Builder();
 * const network = builder.createNetwork();
 * await new OnnxParser(network).parse('model.onnx');
 * const config = builder.createConfig();
 * config.setMemoryPoolLimit('workspace', 1 << 30);
 * const plan = await builder.buildSerializedNetwork(network, config, {
 *   onProgress: (e) => console.log(e.phase, e.step, '/', e.steps),
 *   signal: AbortSignal.timeout(600_000),
 * });
 * ```
 * The build runs on a worker thread; the JS thread stays free (progress events, calibrator batches and log
 * messages are delivered on it). A failed build rejects `BUILD_FAILED` with what TensorRT reported; aborting the
 * signal stops the build at its next step (TensorRT 10+: IProgressMonitor) and rejects `BUILD_FAILED`
 * ("cancelled", `cause` = the signal's reason). Without TensorRT the constructor throws TENSORRT_UNAVAILABLE.
 */
import { awaitNative, callNative, invalidArg, TensorRTError } from '../errors';
import * as is from '../validate';
import { getTrtNative } from '../native';
import { NetworkDefinition, NETWORK_TOKEN } from './network';
import { BuilderConfig, CONFIG_TOKEN } from './config';

export interface BuildProgressEvent {
  /** TensorRT's phase name (e.g. "Building engine", "Tactic selection"). */
  phase: string;
  /** Steps completed in the phase (0 at 'start', steps at 'end'). */
  step: number;
  /** Steps the phase announced. */
  steps: number;
  /** Nesting depth (0 = top-level phase). */
  depth: number;
  event: 'start' | 'step' | 'end';
}

export interface BuildSerializedOptions {
  /** Called on the JS thread for every phase start / step / end. Exceptions are reported as warnings. */
  onProgress?: (e: BuildProgressEvent) => void;
  /** Aborting stops the build (at its next progress step on TensorRT 10+) and rejects BUILD_FAILED. */
  signal?: AbortSignal;
}

export interface CreateNetworkOptions {
  /**
   * Strongly typed network (TensorRT 10+): tensor types follow the model (Q/DQ, casts), precision flags do not
   * apply. TensorRT 11 networks are always strongly typed.
   */
  stronglyTyped?: boolean;
}

/** Checks the options of buildSerializedNetwork / buildEngine's onProgress + signal. */
export function checkBuildSerializedOptions(options: unknown): BuildSerializedOptions {
  const o = is.options(options, 'buildSerializedNetwork', ['onProgress', 'signal']);
  const out: BuildSerializedOptions = {};
  const onProgress = is.optional(o, 'onProgress', is.func<(e: BuildProgressEvent) => void>);
  const signal = is.optional(o, 'signal', is.abortSignal);
  if (onProgress) out.onProgress = onProgress;
  if (signal) out.signal = signal;
  return out;
}

function cancelledError(signal: AbortSignal): TensorRTError {
  return new TensorRTError('BUILD_FAILED', 'the build was cancelled (AbortSignal aborted)', { cause: signal.reason });
}

export class Builder {
  #native: TensorRTNative.Builder | null;

  constructor() {
    const a = getTrtNative();
    const ctor = a.Builder;
    if (!ctor) throw new TensorRTError('TENSORRT_UNAVAILABLE', 'this build of tensorrt-node has no TensorRT builder');
    this.#native = callNative(() => new ctor());
  }

  /** @internal */
  get native(): TensorRTNative.Builder {
    if (!this.#native) throw new TensorRTError('DISPOSED', 'Builder has been disposed');
    return this.#native;
  }

  get disposed(): boolean {
    return this.#native === null;
  }

  /** Fast native FP16 (TensorRT <= 10; undefined on 11, which dropped the query). */
  get platformHasFastFp16(): boolean | undefined {
    return callNative(() => this.native.platformHasFastFp16);
  }

  /** Fast native INT8 (TensorRT <= 10; undefined on 11). */
  get platformHasFastInt8(): boolean | undefined {
    return callNative(() => this.native.platformHasFastInt8);
  }

  /** TF32 Tensor Cores (TensorRT <= 10; undefined on 11). */
  get platformHasTf32(): boolean | undefined {
    return callNative(() => this.native.platformHasTf32);
  }

  get numDlaCores(): number {
    return callNative(() => this.native.numDlaCores);
  }

  /** Threads TensorRT may use while building. */
  get maxThreads(): number {
    return callNative(() => this.native.maxThreads);
  }

  set maxThreads(n: number) {
    is.integer(n, 'maxThreads', 1);
    callNative(() => {
      this.native.maxThreads = n;
    });
  }

  createNetwork(options: CreateNetworkOptions = {}): NetworkDefinition {
    const o = is.options(options, 'createNetwork', ['stronglyTyped']);
    const st = is.optional(o, 'stronglyTyped', is.boolean) ?? false;
    const n = this.native;
    return new NetworkDefinition(NETWORK_TOKEN, callNative(() => n.createNetwork(st)));
  }

  createConfig(): BuilderConfig {
    const n = this.native;
    return new BuilderConfig(CONFIG_TOKEN, callNative(() => n.createConfig()));
  }

  /** Whether TensorRT can build `network` with `config` (IBuilder::isNetworkSupported). */
  isNetworkSupported(network: NetworkDefinition, config: BuilderConfig): boolean {
    if (!(network instanceof NetworkDefinition)) throw invalidArg('isNetworkSupported: network must be a NetworkDefinition');
    if (!(config instanceof BuilderConfig)) throw invalidArg('isNetworkSupported: config must be a BuilderConfig');
    return callNative(() => this.native.isNetworkSupported(network.native, config.native));
  }

  /** Builds a serialized engine (the `.engine` / plan bytes) on a worker thread. */
  async buildSerializedNetwork(
    network: NetworkDefinition,
    config: BuilderConfig,
    options: BuildSerializedOptions = {},
  ): Promise<Buffer> {
    if (!(network instanceof NetworkDefinition)) throw invalidArg('buildSerializedNetwork: network must be a NetworkDefinition');
    if (!(config instanceof BuilderConfig)) throw invalidArg('buildSerializedNetwork: config must be a BuilderConfig');
    const { onProgress, signal } = checkBuildSerializedOptions(options);
    const b = this.native;
    if (signal?.aborted) throw cancelledError(signal);
    const listener = onProgress
      ? (e: TensorRTNative.RawProgressEvent) => {
          try {
            onProgress({ phase: e.phase, step: e.step, steps: e.steps, depth: e.depth, event: e.event });
          } catch (err) {
            process.emitWarning(`tensorrt-node: onProgress threw: ${err instanceof Error ? err.message : String(err)}`);
          }
        }
      : null;
    const p = callNative(() => b.buildSerializedNetwork(network.native, config.native, listener));
    const onAbort = () => p.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const plan = await awaitNative(p);
      if (signal?.aborted) throw cancelledError(signal);
      return plan;
    } catch (e) {
      if (signal?.aborted) throw cancelledError(signal);
      throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Frees the builder now (networks, configs and builds in progress keep what they need). Idempotent. */
  dispose(): void {
    const n = this.#native;
    this.#native = null;
    if (n) n.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
