/** INT8 calibration (TensorRT 10 implicit calibrators) and explicit Q/DQ quantization of ONNX models. */
export * from './types';
export * from './histogram';
export * from './cache';
export * from './calibrator';
export * from './collect';
export * from './quantize';
export * from './trt-runner';
export * from './calibrate';
