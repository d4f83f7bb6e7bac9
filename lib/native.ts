import type { TensorRTNative } from './addon';
/**
 * Loads the tensorrt_node addon from the package root. Which file:
 *   1. $TENSORRT_NODE_ADDON (an explicit file: debug builds, test doubles);
 *   2. build/Release/tensorrt_node.node, a source build (`npm run build:native`, or the install step's build);
 *   3. a prebuilt addon of prebuilds/<platform>-<arch>/ (`npm run prebuildify`): tensorrt-node.trt<major>.node
 *      for the highest TensorRT major whose libnvinfer.so.<major> is found here (same places the native loader
 *      searches: $TENSORRT_LIB_DIR, $LD_LIBRARY_PATH, the ld.so cache, the system library folders, pip's
 *      tensorrt_libs), else tensorrt-node.cuda.node (CUDA only).
 * Loading never throws at require time: when no addon can be loaded, `nativeLoadError` says why (with what the
 * install step left out, from build/install-result.txt), and every API that needs it throws a TensorRTError
 * carrying that reason. `nativeSelection` says which file was chosen and why.
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
  reason: string;
}

function prebuildDir(): string {
  return path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`);
}

/** The addon file to load, or a reason why there is none. */
export function selectAddon(): NativeSelection | { error: string } {
  const override = process.env.TENSORRT_NODE_ADDON;
  if (override) return { file: path.resolve(override), kind: 'override', reason: '$TENSORRT_NODE_ADDON' };
  const source = path.join(packageRoot, 'build', 'Release', 'tensorrt_node.node');
  if (fs.existsSync(source)) return { file: source, kind: 'source build', reason: 'build/Release (source build)' };
  const dir = prebuildDir();
  let prebuilt: string[] = [];
  try {
    prebuilt = fs.readdirSync(dir).filter((f) => /^tensorrt-node\.(trt\d+|cuda)\.node$/.test(f));
  } catch {
    // no prebuilds for this platform
  }
  if (prebuilt.length) {
    const libs = findTensorRTLibraries();
    for (const lib of libs) {
      const f = `tensorrt-node.trt${lib.major}.node`;
      if (prebuilt.includes(f)) {
        return { file: path.join(dir, f), kind: 'prebuilt', reason: `libnvinfer.so.${lib.major} found (${lib.where})` };
      }
    }
    if (prebuilt.includes('tensorrt-node.cuda.node')) {
      const have = prebuilt.filter((f) => f !== 'tensorrt-node.cuda.node').map((f) => `libnvinfer.so.${/trt(\d+)/.exec(f)![1]}`);
      const seen = libs.length ? `only ${libs.map((l) => `libnvinfer.so.${l.major}`).join(', ')} found` : 'no libnvinfer.so.<major> found';
      return {
        file: path.join(dir, 'tensorrt-node.cuda.node'),
        kind: 'prebuilt',
        reason: `CUDA-only prebuild: ${seen}${have.length ? ` (prebuilt for ${have.join(', ')})` : ''}`,
      };
    }
  }
  let install = '';
  try {
    install = ` Install step: ${fs.readFileSync(path.join(packageRoot, 'build', 'install-result.txt'), 'utf8').trim()}`;
  } catch {
    // no record of the install step
  }
  return {
    error:
      `no tensorrt-node native addon in ${packageRoot} (no build/Release/tensorrt_node.node, no usable prebuild in ` +
      `${path.relative(packageRoot, dir)}).${install} Build it with \`npm run build:native\` (needs a C++ compiler ` +
      'and the CUDA toolkit; TensorRT headers optional).',
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
        'Build it with `npm run build:native` (needs the CUDA toolkit; TensorRT headers optional).';
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
