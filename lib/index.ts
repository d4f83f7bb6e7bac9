/**
 * tensorrt-node: public exports only. Every module below is documented where it is defined.
 */
export { TensorRTError, type ErrorCode, type ParserError } from './errors';
export { DATA_TYPES, type DataType, type TypedArray } from './dtypes';
export {
  runtimeInfo,
  setLogSeverity,
  getLogSeverity,
  onLog,
  LOG_SEVERITIES,
  type RuntimeInfo,
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
