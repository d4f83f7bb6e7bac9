/**
 * tensorrt-node: public exports only. Every module below is documented where it is defined.
 */
export { TensorRTError, type ErrorCode, type ParserError } from './errors';
export { DATA_TYPES, type DataType, type TypedArray } from './dtypes';
export {
  runtimeInfo,
  probeTensorRT,
  setLogSeverity,
  getLogSeverity,
  onLog,
  LOG_SEVERITIES,
  type RuntimeInfo,
  type TensorRTLibraryInfo,
  type DeviceProperties,
  type LogSeverity,
  type LogCallback,
} from './info';
export {
  cuda,
  DeviceBuffer,
  HostBuffer,
  Stream,
  Event,
  getDeviceCount,
  getDeviceProperties,
  memGetInfo,
  setDevice,
  getDevice,
  synchronize,
  type HostMemory,
  type CopyOptions,
  type DeviceCopyOptions,
  type FillOptions,
  type StreamOptions,
  type EventOptions,
} from './cuda';
export type { CalibrationAlgorithm, CalibrationBatch, CalibratorLike } from './calibration/types';
export {
  Calibrator,
  EntropyCalibrator,
  MinMaxCalibrator,
  PercentileCalibrator,
  createCalibrator,
  npyDirectoryCalibrator,
  NpyDirectorySource,
  parseCalibrationCache,
  formatCalibrationCache,
  createOrtRunner,
  calibrate,
  type CalibrateOptions,
  type CalibrateResult,
  type CalibratorOptions,
  type PercentileCalibratorOptions,
  type NpyCalibratorOptions,
  type CalibrationMethod,
  type CalibrationCache,
  type ShapedBatch,
  type ShapedTensor,
  type BatchInput,
  type StatisticsRunner,
} from './calibration';
export { quantize, type QuantizeOptions, type QuantizeResult, type QuantizeSummary, type AccuracyReport } from './calibration/quantize';
export { loadModel, saveModel, modelInfo, type ModelInfo, type ValueDesc } from './onnx';
export { Runtime, RUNTIME_FLAVORS, type RuntimeOptions, type RuntimeFlavor, type EngineSource } from './tensorrt/runtime';
export { Engine, type IOTensor, type InspectOptions } from './tensorrt/engine';
export {
  ExecutionContext,
  type InferInput,
  type InferInputs,
  type InferOptions,
  type InferTensor,
  type CaptureGraphOptions,
} from './tensorrt/context';
export { readNpy, readNpyFile, writeNpy, writeNpyFile, NPY_DTYPES, type NpyArray, type NpyDType } from './npy';
export { Builder, type BuildProgressEvent, type BuildSerializedOptions, type CreateNetworkOptions } from './tensorrt/builder';
export { NetworkDefinition, type TensorDesc, type LayerDesc } from './tensorrt/network';
export {
  BuilderConfig,
  builderFlags,
  memoryPools,
  BUILDER_FLAGS,
  MEMORY_POOLS,
  HARDWARE_COMPATIBILITY_LEVELS,
  PROFILING_VERBOSITIES,
  type BuilderFlag,
  type MemoryPool,
  type HardwareCompatibilityLevel,
  type ProfilingVerbosity,
  type ShapeRange,
} from './tensorrt/config';
export { OnnxParser, UffParser, type UffInputOrder } from './tensorrt/parser';
export { buildEngine, type BuildOptions } from './tensorrt/build';
export {
  createServer,
  Repository,
  Batcher,
  chooseBackend,
  defaultBackend,
  createOnnxRuntimeBackend,
  createTensorRTBackend,
  engineForModel,
  type ServeOptions,
  type TensorRTServer,
  type ModelConfig,
  type Backend,
  type BatcherOptions,
} from './serve';
export { exportTriton, type ExportTritonOptions } from './cli/export-triton';
export {
  convertTensorFlow, convertTensorFlowToFile, convertGraph as convertTensorFlowGraph, detectTensorFlowFormat, readTensorFlowGraph,
  supportedOps as tensorFlowSupportedOps,
} from './tensorflow';
export type { ConvertTensorFlowOptions, ConvertReport as TensorFlowConvertReport, TensorFlowFormat } from './tensorflow';
export {
  loadEngine,
  EngineCache,
  CacheStore,
  currentTarget,
  compareTargets,
  type LoadEngineOptions,
  type EngineCacheOptions,
  type CacheLoadOptions,
  type CacheLoadResult,
  type CacheEvent,
  type CacheBuildFunction,
  type CacheTarget,
  type KeyComponents,
  type EntryInfo,
  type PruneOptions,
  type PruneResult,
} from './engine-cache';
