/** Explicit INT8 quantization of ONNX models; see lib/calibration/quantize.ts. */
export { quantize, type QuantizeOptions, type QuantizeResult, type QuantizeSummary, type AccuracyReport } from './calibration/quantize';
