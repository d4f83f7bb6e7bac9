/**
 * Telling TensorFlow's on-disk forms apart with fs alone (no TensorFlow reader loaded): used by `inspect`, by the
 * serve repository's scan and by detectTensorFlowFormat.
 */
import * as fs from 'fs';
import * as path from 'path';

/** A SavedModel directory: a directory holding the file saved_model.pb (and, as TF writes it, variables/). */
export function isSavedModelDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory() && fs.statSync(path.join(p, 'saved_model.pb')).isFile();
  } catch {
    return false;
  }
}
