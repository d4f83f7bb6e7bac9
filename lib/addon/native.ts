/**
 * Typing of the raw tensorrt_node addon (CUDA + runtime info part), a module (no global names): the public API
 * lives in lib/; lib/native.ts imports `TensorRTNative` from lib/addon/index.ts. lib/addon/native-builder.ts and
 * native-runtime.ts extend `TensorRTNative.Addon` by module augmentation
 * (`declare module './native' { namespace TensorRTNative { interface Addon { Builder: ... } } }`).
 *
 * Native conventions: errors thrown (or promise rejections) are plain Errors with `code` (lib/errors.ts
 * ErrorCode) and, for CUDA failures, `cudaError` (e.g. 'cudaErrorNoDevice'); lib/ wraps them with
 * wrapNativeError / callNative / awaitNative.
 */
export declare namespace TensorRTNative {
  /** Host memory accepted by copies: a HostBuffer (pinned) or any ArrayBuffer / view (pageable, staged). */
  type HostMemory = HostBuffer | ArrayBuffer | ArrayBufferView;
  /** Stream argument: a Stream, a raw cudaStream_t as bigint, or undefined/null for the legacy default stream. */
  type StreamArg = Stream | bigint | null | undefined;

  interface DeviceProperties {
    index: number;
    name: string;
    uuid: string;
    /** "9.0" */
    computeCapability: string;
    major: number;
    minor: number;
    /** bytes */
    totalMemory: number;
    multiProcessorCount: number;
    maxThreadsPerBlock: number;
    maxThreadsPerMultiProcessor: number;
    warpSize: number;
    sharedMemPerBlock: number;
    sharedMemPerMultiprocessor: number;
    totalConstMem: number;
    l2CacheSize: number;
    memoryBusWidth: number;
    asyncEngineCount: number;
    pciBusId: number;
    pciDeviceId: number;
    pciDomainId: number;
    integrated: boolean;
    concurrentKernels: boolean;
    eccEnabled: boolean;
    unifiedAddressing: boolean;
    managedMemory: boolean;
    streamPrioritiesSupported: boolean;
  }

  interface CompiledWith {
    /** TensorRT header version compiled in ("10.16.0"), null for a CUDA-only build. */
    tensorrt: string | null;
    /** CUDA runtime version compiled in ("13.0"). */
    cuda: string;
    napiVersion: number;
  }

  /** One TensorRT library's probe (native/loader.h, Probe). */
  interface TensorRTProbe {
    available: boolean;
    /** Which library: 'full' (libnvinfer), 'lean' (libnvinfer_lean), 'dispatch' (libnvinfer_dispatch). */
    flavor?: 'full' | 'lean' | 'dispatch';
    selectedBecause?: string;
    version?: string;
    buildVersion?: string;
    libraryPath?: string;
    onnxParserPath?: string;
    pluginPath?: string;
    cannot?: string[];
    reason?: string;
  }

  interface RuntimeInfo {
    compiledWith: CompiledWith;
    tensorrt: TensorRTProbe;
    cuda: {
      available: boolean;
      /** CUDA runtime linked in ("13.0"). */
      runtimeVersion: string;
      /** cudaDriverGetVersion(), e.g. 13000; absent without a driver. */
      driverVersion?: number;
      /** driverVersion as "13.0". */
      driverCudaVersion?: string;
      devices: DeviceProperties[];
      /** CUDA error enum name when unavailable. */
      cudaError?: string;
      reason?: string;
    };
  }

  interface DeviceBuffer {
    readonly byteLength: number;
    /** Device pointer (throws DISPOSED after dispose()). */
    readonly address: bigint;
    readonly disposed: boolean;
    /** Device ordinal the memory was allocated on. */
    readonly device: number;
    copyFromHost(src: HostMemory, srcOffset?: number, byteLength?: number, dstOffset?: number, stream?: StreamArg): Promise<void>;
    copyToHost(dst: HostMemory, dstOffset?: number, byteLength?: number, srcOffset?: number, stream?: StreamArg): Promise<void>;
    copyFromDevice(src: DeviceBuffer, srcOffset?: number, byteLength?: number, dstOffset?: number, stream?: StreamArg): Promise<void>;
    fill(value: number, offset?: number, byteLength?: number, stream?: StreamArg): Promise<void>;
    dispose(): void;
  }

  interface HostBuffer {
    readonly byteLength: number;
    /** The pinned memory itself (no copy); detached by dispose(). */
    readonly buffer: ArrayBuffer;
    readonly address: bigint;
    readonly disposed: boolean;
    dispose(): void;
  }

  interface Stream {
    /** cudaStream_t as bigint. */
    readonly handle: bigint;
    readonly disposed: boolean;
    readonly priority: number;
    /** Device ordinal the stream was created on. */
    readonly device: number;
    synchronize(): Promise<void>;
    /** true when all work queued so far has completed. */
    query(): boolean;
    waitEvent(event: Event): void;
    dispose(): void;
  }

  interface Event {
    readonly disposed: boolean;
    readonly timing: boolean;
    /** Device ordinal the event was created on. */
    readonly device: number;
    record(stream?: StreamArg): void;
    synchronize(): Promise<void>;
    query(): boolean;
    dispose(): void;
  }

  interface Addon {
    DeviceBuffer: new (byteLength: number) => DeviceBuffer;
    HostBuffer: new (byteLength: number) => HostBuffer;
    Stream: new (nonBlocking?: boolean, priority?: number) => Stream;
    Event: new (timing?: boolean) => Event;
    getDeviceCount(): number;
    getDeviceProperties(device: number): DeviceProperties;
    memGetInfo(): { free: number; total: number };
    setDevice(device: number): void;
    getDevice(): number;
    deviceSynchronize(): Promise<void>;
    /** Milliseconds between two recorded timing events. */
    eventElapsedTime(start: Event, end: Event): number;
    /** Never throws. */
    runtimeInfo(): RuntimeInfo;
    compiledWith(): CompiledWith;
    /** One flavor's library, opened if not yet (INVALID_ARGUMENT for another name). Absent in older addons. */
    probeTensorRT?(flavor: string): TensorRTProbe;
    /** Logger (native/logger.cc, B), when present. */
    setLogSeverity?(severity: string): void;
    setLogCallback?(cb: ((severity: string, message: string) => void) | null): void;
  }
}
