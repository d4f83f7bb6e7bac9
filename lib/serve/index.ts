/** `tensorrt-node serve` as a library: createServer and the pieces an application may reuse. */
export { createServer, type ServeOptions, type TensorRTServer, type ProtocolContext } from './server';
export { Repository, scanRepository, chooseBackend, defaultBackend, DEFAULTS as SERVE_DEFAULTS, type ModelConfig, type ModelVersion, type RepositoryDefaults, type BackendName } from './repository';
export { Batcher, mergeInputs, splitOutputs, type Backend, type BatcherOptions, type BatchResult } from './batcher';
export { createOnnxRuntimeBackend } from './backends/onnxruntime';
export { createTensorRTBackend, engineForModel } from './backends/tensorrt';
export type { Tensor, TensorSpec, ServeDType } from './tensor';
export { createGrpcServer, inferenceService, grpcStatusFor, type GrpcServer, type GrpcServeContext } from './grpc/server';
