/**
 * The typed module of the raw tensorrt_node addon: `TensorRTNative.Addon` and the native classes' shapes.
 * Internal (the public API is lib/); the augmentations below complete the namespace.
 */
import './native-builder';
import './native-runtime';

export type { TensorRTNative } from './native';
