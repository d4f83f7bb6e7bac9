import type { TensorRTNative } from './addon';
/**
 * Loads the tensorrt_node addon from the package root, found by node-gyp-build (selectAddon below):
 *   1. $TENSORRT_NODE_ADDON (an explicit file: debug builds, test doubles);
 *   2. a source build in build/Release (`npm rebuild tensorrt-node` with TENSORRT_NODE_BUILD_FROM_SOURCE=1, or a
 *      developer's `npm run build:native`);
 *   3. the prebuilt addon of prebuilds/trt<major>/ for the highest TensorRT major whose libnvinfer.so.<major> is
 *      found here (same places the native loader searches: $TENSORRT_LIB_DIR, $LD_LIBRARY_PATH, the ld.so cache,
 *      the system library folders, pip's tensorrt_libs);
 *   4. else the CUDA-only prebuild of prebuilds/linux-x64/ — never the addon of another TensorRT major.
 * Loading never throws at require time: when no addon can be loaded, `nativeLoadError` says why (with what the
 * install step left out, from build/install-result.txt), and every API that needs it throws a TensorRTError
 * carrying that reason. `nativeSelection` says which file was chosen, which variant and why.
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

/** A libnvinfer.so.<major> found on this machine. */
export interface FoundTensorRT {
  major: number;
  /** The file, or `ld.so cache` when only the linker cache names it. */
  where: string;
}

function dirsFromEnv(name: string): string[] {
  return (process.env[name] ?? '').split(':').filter((d) => d.length > 0);
}

function pythonTrtDirs(): string[] {
  const prefixes = ['/usr/lib', '/usr/local/lib'];
  for (const v of ['HOME', 'VIRTUAL_ENV', 'CONDA_PREFIX']) {
    const p = process.env[v];
    if (p) prefixes.push(v === 'HOME' ? path.join(p, '.local', 'lib') : path.join(p, 'lib'));
  }
  const out: string[] = [];
  for (const pre of prefixes) {
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(pre).filter((e) => /^python3/.test(e));
    } catch {
      continue;
    }
    for (const e of entries) {
      for (const sub of ['site-packages', 'dist-packages']) {
        // the full library, and the runtime-only ones (pip: tensorrt-lean-cu*-libs, tensorrt-dispatch-cu*-libs)
        for (const pkg of ['tensorrt_libs', 'tensorrt_lean_libs', 'tensorrt_dispatch_libs']) out.push(path.join(pre, e, sub, pkg));
      }
    }
  }
  return out;
}

/**
 * The TensorRT majors whose libnvinfer.so.<major> (or the lean / dispatch runtime's libnvinfer_lean.so.<major>,
 * libnvinfer_dispatch.so.<major>) exists here, highest first (a file check: nothing is loaded).
 * Used to choose the prebuilt addon; the native loader then opens the library itself.
 */
export function findTensorRTLibraries(): FoundTensorRT[] {
  const found = new Map<number, string>();
  const dirs = [
    ...dirsFromEnv('TENSORRT_LIB_DIR'),
    ...dirsFromEnv('LD_LIBRARY_PATH'),
    '/lib', '/usr/lib', '/lib64', '/usr/lib64', '/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/local/lib',
    '/usr/local/TensorRT/lib',
    ...pythonTrtDirs(),
  ];
  for (const d of dirs) {
    let names: string[];
    try {
      names = fs.readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) {
      const m = /^libnvinfer(?:_lean|_dispatch)?\.so\.(\d+)$/.exec(n);
      if (m && !found.has(Number(m[1]))) found.set(Number(m[1]), path.join(d, n));
    }
  }
  try {
    const cache = fs.readFileSync('/etc/ld.so.cache', 'latin1');
    for (const m of cache.matchAll(/libnvinfer(?:_lean|_dispatch)?\.so\.(\d+)\0/g)) if (!found.has(Number(m[1]))) found.set(Number(m[1]), 'ld.so cache');
  } catch {
    // no linker cache
  }
  return [...found].map(([major, where]) => ({ major, where })).sort((a, b) => b.major - a.major);
}

/** Which addon file was chosen, and why (null when none could be). */
export interface NativeSelection {
  file: string;
  kind: 'override' | 'source build' | 'prebuilt';
  /** The prebuilt variant: `cuda` (CUDA only) or `trt<major>`; null for a source build or an override. */
  variant: string | null;
  reason: string;
  /**
   * Set when a libnvinfer.so.<major> was found for which this package has no prebuilt addon (the CUDA-only one was
   * loaded instead, never one of another major): what is missing and how to build it.
   */
  missingVariant?: string;
}

// node-gyp-build: the lookup of prebuilds/<platform>-<arch>/ (tags: N-API, libc) and of build/Release.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- node-gyp-build ships no types and is CommonJS only
const nodeGypBuild = require('node-gyp-build') as { path(dir: string): string };

/** The TensorRT variants shipped: prebuilds/trt<major>/ (each a node-gyp-build root of its own), highest first. */
function prebuiltVariants(root: string): number[] {
  try {
    return fs.readdirSync(path.join(root, 'prebuilds'))
      .map((d) => /^trt(\d+)$/.exec(d))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => b - a);
  } catch {
    return [];
  }
}

/** node-gyp-build's choice inside `dir` (never a file outside it: its "next to the node executable" fallback is refused), or null. */
function lookUp(dir: string): string | null {
  try {
    const f = nodeGypBuild.path(dir);
    return path.resolve(f).startsWith(path.resolve(dir) + path.sep) ? f : null;
  } catch {
    return null;
  }
}

/** How to build the addon from source in the user's project. */
export const BUILD_FROM_SOURCE_ADVICE =
  'in your project: `TENSORRT_NODE_BUILD_FROM_SOURCE=1 TENSORRT_INCLUDE_DIR=/path/to/TensorRT/include ' +
  'npm rebuild tensorrt-node --foreground-scripts` (needs a C++17 compiler, make, python3 and the CUDA toolkit)';

/**
 * The addon file to load, or a reason why there is none. A thin layer over node-gyp-build's lookup:
 *   1. $TENSORRT_NODE_ADDON (an explicit file: debug builds, test doubles);
 *   2. a source build: build/Release or build/Debug of the package (node-gyp-build's own first choice);
 *   3. prebuilds/trt<M>/ for the highest major M whose libnvinfer.so.<M> is found here (the file check of
 *      findTensorRTLibraries) and for which that folder exists: node-gyp-build's lookup in that folder;
 *   4. node-gyp-build's lookup in the package root: prebuilds/linux-x64/, the CUDA-only addon. When a libnvinfer
 *      was found whose variant is not shipped, `missingVariant` says so (TensorRT calls then fail with it).
 */
export function selectAddon(root: string = packageRoot): NativeSelection | { error: string } {
  const override = process.env.TENSORRT_NODE_ADDON;
  if (override) return { file: path.resolve(override), kind: 'override', variant: null, reason: '$TENSORRT_NODE_ADDON' };
  const built = ['Release', 'Debug'].some((d) => {
    try {
      return fs.readdirSync(path.join(root, 'build', d)).some((f) => f.endsWith('.node'));
    } catch {
      return false;
    }
  });
  if (built) {
    const f = lookUp(root);
    if (f) return { file: f, kind: 'source build', variant: null, reason: `${path.relative(root, path.dirname(f))} (source build)` };
  }
  const variants = prebuiltVariants(root);
  const libs = findTensorRTLibraries();
  for (const lib of libs) {
    if (!variants.includes(lib.major)) continue;
    const f = lookUp(path.join(root, 'prebuilds', `trt${lib.major}`));
    if (f) return { file: f, kind: 'prebuilt', variant: `trt${lib.major}`, reason: `libnvinfer.so.${lib.major} found (${lib.where})` };
  }
  const cuda = lookUp(root);
  if (cuda) {
    const shipped = variants.map((m) => `trt${m}`).join(', ') || 'none';
    const sel: NativeSelection = {
      file: cuda,
      kind: 'prebuilt',
      variant: 'cuda',
      reason: `CUDA-only prebuild: ${libs.length ? `only ${libs.map((l) => `libnvinfer.so.${l.major}`).join(', ')} found` : 'no libnvinfer.so.<major> found'} (TensorRT prebuilds shipped: ${shipped})`,
    };
    if (libs.length) {
      const lib = libs[0];
      sel.missingVariant =
        `libnvinfer.so.${lib.major} was found (${lib.where}) but this tensorrt-node has no prebuilt addon for TensorRT ` +
        `${lib.major} (the variant trt${lib.major}, prebuilds/trt${lib.major}/; shipped: ${shipped}), so the CUDA-only ` +
        `addon was loaded. Build the TensorRT ${lib.major} addon ${BUILD_FROM_SOURCE_ADVICE.replace('/path/to/TensorRT/include', `/path/to/TensorRT-${lib.major}/include`)}`;
    }
    return sel;
  }
  let install = '';
  try {
    install = ` Install step: ${fs.readFileSync(path.join(root, 'build', 'install-result.txt'), 'utf8').trim()}`;
  } catch {
    // no record of the install step
  }
  return {
    error:
      `no tensorrt-node native addon in ${root} for ${process.platform}-${process.arch} (no source build in build/, ` +
      `no prebuild node-gyp-build accepts in prebuilds/).${install} Build it ${BUILD_FROM_SOURCE_ADVICE}.`,
  };
}

let addon: NativeAddon | null = null;
let loadError: string | null = null;
let selection: NativeSelection | null = null;

{
  const sel = selectAddon();
  if ('error' in sel) {
    loadError = sel.error;
  } else {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the addon file is chosen at run time (selectAddon)
      addon = require(sel.file) as NativeAddon;
      selection = sel;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      loadError =
        `the tensorrt-node native addon ${sel.file} (${sel.reason}) could not be loaded: ${msg.split('\n')[0]}. ` +
        `Build it ${BUILD_FROM_SOURCE_ADVICE}.`;
    }
  }
}

/** Which addon file was loaded and why (null when none was). */
export const nativeSelection: NativeSelection | null = selection;

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
    if (selection?.missingVariant) throw new TensorRTError('TENSORRT_UNAVAILABLE', selection.missingVariant);
    throw new TensorRTError(
      'TENSORRT_UNAVAILABLE',
      `tensorrt-node's addon was built without TensorRT headers (CUDA-only addon): build it with TensorRT ${BUILD_FROM_SOURCE_ADVICE}`,
    );
  }
  const info = a.runtimeInfo().tensorrt;
  if (!info.available) {
    throw new TensorRTError('TENSORRT_UNAVAILABLE', `TensorRT ${compiled} (compiled in) cannot be loaded: ${info.reason ?? 'unknown reason'}`);
  }
  trtChecked = a;
  return a;
}
