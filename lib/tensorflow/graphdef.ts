import { TensorRTError } from '../errors';
import type { TfGraph } from './graph';
export function readFrozenGraph(p: string): TfGraph {
  throw new TensorRTError('UNSUPPORTED', `${p}: frozen GraphDef reading is not implemented yet`);
}
export function readSavedModel(p: string, _sig: string, _tags?: string[]): TfGraph {
  throw new TensorRTError('UNSUPPORTED', `${p}: SavedModel reading is not implemented yet`);
}
