/**
 * Raw addon typings of the BUILD side (native/builder.cc, network.cc, config.cc, parser.cc, calibrator.cc,
 * trt.cc). Internal: the public API is lib/tensorrt/builder.ts, network.ts, config.ts, parser.ts and build.ts, which
 * validate every argument before calling these. The classes exist only in builds compiled with TensorRT headers
 * (hence the optional members of Addon); `features` and `trtEnums` exist in every build.
 */
export {};
declare module './native' { namespace TensorRTNative {
  /** What the compiled TensorRT version supports (all false in a CUDA-only build). */
  type TrtFeatures = Record<string, boolean>;

  interface TrtEnums {
    /** camelCase BuilderFlag names of the compiled version. */
    builderFlags: string[];
    /** camelCase MemoryPoolType names of the compiled version. */
    memoryPools: string[];
    /** camelCase HardwareCompatibilityLevel names of the compiled version. */
    hardwareCompatibilityLevels: string[];
  }

  interface RawTensorDesc {
    name: string;
    /** lib/dtypes.ts DataType name ('unknown' for types without one). */
    dtype: string;
    /** -1 for dynamic dimensions. */
    shape: number[];
  }

  interface RawLayerDesc {
    index: number;
    name: string;
    /** camelCase LayerType ('convolution', 'matrixMultiply', ...). */
    type: string;
    precision: string;
    precisionIsSet: boolean;
    /** Tensor names; null for an absent optional input. */
    inputs: (string | null)[];
    outputs: (string | null)[];
  }

  interface RawProgressEvent {
    phase: string;
    step: number;
    steps: number;
    depth: number;
    event: 'start' | 'step' | 'end';
  }

  /** The object a build's promise is: a Promise with cancel() (makes IProgressMonitor::stepComplete return false). */
  type BuildPromise = Promise<Buffer> & { cancel(): void };

  interface Builder {
    /** undefined where the TensorRT version has no such query (11+). */
    readonly platformHasFastFp16: boolean | undefined;
    readonly platformHasFastInt8: boolean | undefined;
    readonly platformHasTf32: boolean | undefined;
    readonly numDlaCores: number;
    maxThreads: number;
    readonly disposed: boolean;
    createNetwork(stronglyTyped: boolean): NetworkDefinition;
    createConfig(): BuilderConfig;
    buildSerializedNetwork(
      network: NetworkDefinition,
      config: BuilderConfig,
      onProgress?: ((e: RawProgressEvent) => void) | null,
    ): BuildPromise;
    isNetworkSupported(network: NetworkDefinition, config: BuilderConfig): boolean;
    dispose(): void;
  }

  interface NetworkDefinition {
    readonly inputs: RawTensorDesc[];
    readonly outputs: RawTensorDesc[];
    readonly layers: RawLayerDesc[];
    readonly numLayers: number;
    readonly stronglyTyped: boolean;
    name: string;
    readonly disposed: boolean;
    markOutput(name: string): void;
    unmarkOutput(name: string): void;
    dispose(): void;
  }

  /** What the native calibrator bridge calls (lib/tensorrt/config.ts wraps a CalibratorLike into this). */
  interface CalibratorAdapter {
    algorithm: string;
    batchSize: number;
    quantile?: number;
    regressionCutoff?: number;
    /** `shapes`: per input, the shape TensorRT reads (runtime dimensions from the calibration profile's opt shape). */
    getBatch(inputNames: string[], shapes?: Record<string, number[]>): Promise<Record<string, ArrayBufferView> | null>;
    readCache(): Promise<Uint8Array | null>;
    writeCache(cache: Buffer): Promise<void>;
  }

  interface BuilderConfig {
    setMemoryPoolLimit(pool: string, bytes: number | bigint): void;
    getMemoryPoolLimit(pool: string): number;
    setFlag(flag: string): void;
    clearFlag(flag: string): void;
    getFlag(flag: string): boolean;
    addOptimizationProfile(profile: Record<string, { min: number[]; opt: number[]; max: number[] }>): number;
    readonly numOptimizationProfiles: number;
    builderOptimizationLevel: number;
    hardwareCompatibilityLevel: string;
    profilingVerbosity: string;
    maxAuxStreams: number;
    setTimingCache(data: Uint8Array | null, ignoreMismatch: boolean): void;
    getTimingCache(): Buffer | null;
    setCalibrator(adapter: CalibratorAdapter | null): void;
    setCalibrationProfile(index: number): void;
    getCalibrationProfile(): number;
    readonly disposed: boolean;
    dispose(): void;
  }

  interface OnnxParser {
    parse(model: Uint8Array | string): Promise<void>;
    readonly disposed: boolean;
    dispose(): void;
  }

  /** TensorRT <= 8.6 builds only. */
  interface UffParser {
    registerInput(name: string, dims: number[], order: 'nchw' | 'nhwc' | 'nc'): void;
    registerOutput(name: string): void;
    parse(path: string, weightsType?: string): Promise<void>;
    readonly disposed: boolean;
    dispose(): void;
  }

  interface RuntimeInfo {
    features?: TrtFeatures;
  }

  interface Addon {
    features?: TrtFeatures;
    trtEnums?: TrtEnums;
    Builder?: new () => Builder;
    NetworkDefinition?: new (...args: never[]) => NetworkDefinition;
    BuilderConfig?: new (...args: never[]) => BuilderConfig;
    OnnxParser?: new (network: NetworkDefinition) => OnnxParser;
    UffParser?: new (network: NetworkDefinition) => UffParser;
  }
}}
