/** What an engine's I/O tensors are (engine.ts makes them, context.ts checks inputs against them). */
import type { DataType } from '../dtypes';
import type { ShapeRange } from './config';

/** An input or output tensor of an engine. */
export interface IOTensor {
  name: string;
  mode: 'input' | 'output';
  dtype: DataType;
  /** The engine's shape: -1 marks a dynamic dimension (set it per inference, within the profile's range). */
  shape: number[];
  /** TensorRT's description of the memory format (getTensorFormatDesc). */
  format: string;
  /** The TensorFormat enum, camelCase: 'linear' for plain row-major tensors, 'chw4', 'hwc8', ... */
  tensorFormat: string;
  /** Dimension index that is vectorized (-1 for 'linear'), components per element and bytes per component. */
  vectorizedDim: number;
  componentsPerElement: number;
  bytesPerComponent: number;
  /** Where TensorRT expects the tensor's memory: 'host' for shape tensors, else 'device'. */
  location: 'device' | 'host';
  /** True for shape tensors and other tensors TensorRT reads during shape inference. */
  isShapeInferenceIO: boolean;
  /** Inputs: the min / opt / max shape of every optimization profile (index = profile). */
  profiles?: ShapeRange[];
  /** Shape-tensor inputs: the min / opt / max values of every profile. */
  profileValues?: ShapeRange[];
}
