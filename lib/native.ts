import type { TensorRTNative } from './addon';
/**
 * Loads the tensorrt_node addon (prebuilds/ or build/, via node-gyp-build) from the package root, or the file
 * named by $TENSORRT_NODE_ADDON. Loading
 * never throws at require time: when the addon cannot be loaded, `nativeLoadError` says why, and every API
 * that needs it throws a TensorRTError carrying that reason.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ErrorCode, TensorRTError } from './errors';

export type NativeAddon = TensorRTNative.Addon;

/** The package root: the nearest directory above this file whose package.json is tensorrt-node's. */
function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    const pj = path.join(dir, 'package.json');
    try {
      if (fs.existsSync(pj) && JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'tensorrt-node') return dir;
    } catch {
      // unreadable package.json: keep looking
    }
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(start, '..');
    dir = up;
  }
}

export const packageRoot: string = findPackageRoot(__dirname);

let addon: NativeAddon | null = null;
let loadError: string | null = null;

try {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const override = process.env.TENSORRT_NODE_ADDON;
  if (override) {
    // An explicit addon file (debug builds, test doubles): TENSORRT_NODE_ADDON=/path/to/tensorrt_node.node
    addon = require(path.resolve(override)) as NativeAddon;
  } else {
    const load = require('node-gyp-build') as (dir: string) => unknown;
    addon = load(packageRoot) as NativeAddon;
  }
} catch (e) {
  const msg = e instanceof Error ? e.message : String(e);
  loadError =
    `the tensorrt-node native addon could not be loaded from ${packageRoot}: ${msg.split('\n')[0]}. ` +
    'Build it with `npm run build:native` (needs the CUDA toolkit; TensorRT headers optional).';
}

/** Why the addon could not be loaded, or null when it is loaded. */
export const nativeLoadError: string | null = loadError;

/** Whether the addon is loaded. */
export function nativeAvailable(): boolean {
  return addon !== null;
}

/** The addon, or a TensorRTError(code) explaining why it is missing. */
export function getNative(code: ErrorCode = 'CUDA_UNAVAILABLE'): NativeAddon {
  if (addon) return addon;
  throw new TensorRTError(code, loadError ?? 'the tensorrt-node native addon is not loaded');
}

/** The addon or null (no throw). */
export function tryGetNative(): NativeAddon | null {
  return addon;
}

/**
 * The addon, checked for the TensorRT part: throws TensorRTError('TENSORRT_UNAVAILABLE') saying exactly why
 * (addon not loaded; built without TensorRT headers; libnvinfer not found, with every path searched) when
 * TensorRT cannot be used. Every TensorRT class of lib/ calls this before touching the native layer.
 */
let trtChecked: NativeAddon | null = null; // once TensorRT is usable it stays so: check it once

export function getTrtNative(): NativeAddon {
  if (trtChecked) return trtChecked;
  const a = getNative('TENSORRT_UNAVAILABLE');
  const compiled = a.compiledWith().tensorrt;
  if (!compiled) {
    throw new TensorRTError(
      'TENSORRT_UNAVAILABLE',
      'tensorrt-node was built without TensorRT headers (CUDA-only addon): rebuild it with ' +
        'TENSORRT_INCLUDE_DIR=/path/to/TensorRT/include npm run build:native',
    );
  }
  const info = a.runtimeInfo().tensorrt;
  if (!info.available) {
    throw new TensorRTError('TENSORRT_UNAVAILABLE', `TensorRT ${compiled} (compiled in) cannot be loaded: ${info.reason ?? 'unknown reason'}`);
  }
  trtChecked = a;
  return a;
}
