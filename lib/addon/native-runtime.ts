/**
 * Raw addon typings of the RUN side (native/runtime.cc, engine.cc, context.cc). Internal: the public API is
 * lib/tensorrt/runtime.ts, engine.ts and context.ts, which validate every argument before calling these.
 * Present only in builds compiled with TensorRT headers (hence the optional members of Addon).
 */
export {};
declare module './native' { namespace TensorRTNative {
  interface RawShapeRange {
    min: number[];
    opt: number[];
    max: number[];
  }

  interface RawIOTensor {
    name: string;
    mode: 'input' | 'output';
    /** lib/dtypes.ts DataType name. */
    dtype: string;
    /** -1 for dynamic dimensions. */
    shape: number[];
    /** getTensorFormatDesc(), e.g. "Row major linear FP32 format (kLINEAR)". */
    format: string;
    /** TensorFormat as camelCase: 'linear', 'chw4', 'hwc8', ... */
    tensorFormat: string;
    vectorizedDim: number;
    componentsPerElement: number;
    bytesPerComponent: number;
    location: 'device' | 'host';
    isShapeInferenceIO: boolean;
    /** Inputs: min/opt/max shapes per optimization profile. */
    profiles?: RawShapeRange[];
    /** Shape-tensor inputs: min/opt/max values per profile (when the TensorRT version reports them). */
    profileValues?: RawShapeRange[];
  }

  interface RuntimeOptions {
    dlaCore?: number;
    maxThreads?: number;
    engineHostCodeAllowed?: boolean;
    flavor?: 'full' | 'lean' | 'dispatch';
  }

  interface Runtime {
    /** Rejects DESERIALIZE_ERROR / IO_ERROR / CUDA_UNAVAILABLE. The data is copied before the call returns. */
    deserialize(data: ArrayBufferView | ArrayBuffer | string): Promise<Engine>;
    readonly disposed: boolean;
    readonly numDlaCores: number;
    /** The library serving this runtime (absent in addons older than the flavor option). */
    readonly flavor?: 'full' | 'lean' | 'dispatch';
    dispose(): void;
  }

  interface Engine {
    ioTensors(): RawIOTensor[];
    readonly numOptimizationProfiles: number;
    readonly numLayers: number;
    readonly numIOTensors: number;
    readonly deviceMemorySize: number;
    deviceMemorySizeForProfile(profile: number): number;
    readonly name: string;
    readonly numAuxStreams: number;
    readonly profilingVerbosity: string;
    readonly hardwareCompatibilityLevel: string;
    readonly refittable: boolean;
    readonly streamableWeightsSize: number;
    /** undefined where the compiled TensorRT has no V2 weight-streaming API (before 10.1) */
    readonly weightStreamingBudget: number | undefined;
    readonly weightStreamingAutomaticBudget: number | undefined;
    readonly weightStreamingScratchMemorySize: number | undefined;
    setWeightStreamingBudget(bytes: number): void;
    readonly device: number;
    readonly serializedSize: number;
    readonly disposed: boolean;
    serialize(): Buffer;
    inspect(format?: 'json' | 'text', context?: ExecutionContext): string;
    inspectLayer(index: number, format?: 'json' | 'text', context?: ExecutionContext): string;
    createExecutionContext(): ExecutionContext;
    dispose(): void;
  }

  interface RawInferInput {
    name: string;
    shape: number[];
    data: ArrayBufferView;
  }

  interface RawInferOutput {
    name: string;
    shape: number[];
    buffer: ArrayBuffer;
  }

  interface ExecutionContext {
    setInputShape(name: string, shape: number[]): void;
    getTensorShape(name: string): number[];
    readonly optimizationProfile: number;
    setOptimizationProfile(index: number, stream?: StreamArg): void;
    setTensorAddress(name: string, address: DeviceBuffer | bigint): void;
    getTensorAddress(name: string): bigint;
    readonly allInputDimensionsSpecified: boolean;
    enqueue(stream?: StreamArg): void;
    /** enqueueV3 on a work thread of the addon; resolves once the work is queued. */
    enqueueAsync(stream?: StreamArg): Promise<void>;
    infer(inputs: RawInferInput[], stream?: StreamArg, cudaGraph?: boolean): Promise<RawInferOutput[]>;
    captureGraph(stream?: StreamArg, warmup?: boolean): void;
    replay(stream?: StreamArg): void;
    releaseGraph(): void;
    readonly hasGraph: boolean;
    readonly busy: boolean;
    /** Device + pinned bytes this context holds (reported to V8 as external memory). */
    readonly allocatedBytes: number;
    readonly disposed: boolean;
    dispose(): void;
  }

  interface Addon {
    Runtime?: new (options?: RuntimeOptions) => Runtime;
    /** Not constructible from JS (Runtime.deserialize creates engines). */
    Engine?: abstract new () => Engine;
    /** Not constructible from JS (Engine.createExecutionContext creates contexts). */
    ExecutionContext?: abstract new () => ExecutionContext;
  }
}}
