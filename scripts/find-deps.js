#!/usr/bin/env node
'use strict';
/**
 * Locates the native build dependencies of tensorrt-node and prints them for binding.gyp / CMakeLists.txt.
 *
 *   TensorRT headers (optional): $TENSORRT_INCLUDE_DIR, else $TENSORRT_ROOT/include, else the first of
 *     /usr/include/x86_64-linux-gnu, /usr/include, /usr/local/include, /usr/local/TensorRT/include that holds
 *     NvInfer.h. Found -> `-isystem <dir>` and TN_HAVE_TENSORRT=1; not found -> TN_HAVE_TENSORRT=0.
 *     (TensorRT libraries are never linked: they are dlopen()ed at run time.)
 *   CUDA (required): $CUDA_PATH, else $CUDA_HOME, else /usr/local/cuda: include/ + lib64/libcudart_static.a.
 *
 * Usage: node scripts/find-deps.js <what>
 *   cflags      compiler flags (one per line / space separated for gyp `<!@(...)`)
 *   defines     preprocessor defines (NAME=VALUE)
 *   libs        linker inputs
 *   sources     native/*.cc (relative to the package root)
 *   trt-include TensorRT include dir to add (empty when none, or when it is a compiler default directory)
 *   have-trt    1 or 0
 *   cuda-include / cuda-lib / addon-include / cuda-root
 *   summary     one human-readable line
 *   json        everything as JSON
 */
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const IMPLICIT_INCLUDE_DIRS = ['/usr/include', '/usr/include/x86_64-linux-gnu', '/usr/local/include'];
const SYSTEM_TRT_DIRS = ['/usr/include/x86_64-linux-gnu', '/usr/include', '/usr/local/include', '/usr/local/TensorRT/include'];

function hasNvInfer(dir) {
  try {
    return fs.statSync(path.join(dir, 'NvInfer.h')).isFile();
  } catch {
    return false;
  }
}

function readTrtVersion(dir) {
  try {
    const text = fs.readFileSync(path.join(dir, 'NvInferVersion.h'), 'utf8');
    const get = (n) => {
      const m = new RegExp(`#define\\s+(?:NV_TENSORRT_|TRT_)${n}(?:_ENTERPRISE)?\\s+(\\d+)`).exec(text);
      return m ? m[1] : undefined;
    };
    const major = get('MAJOR');
    if (major === undefined) return null;
    return [major, get('MINOR') ?? '0', get('PATCH') ?? '0'].join('.');
  } catch {
    return null;
  }
}

function findTensorRT(env = process.env) {
  const searched = [];
  const pick = (dir, source) => {
    searched.push(dir);
    return hasNvInfer(dir) ? { dir: path.resolve(dir), source } : null;
  };
  if (env.TENSORRT_INCLUDE_DIR) {
    const r = pick(env.TENSORRT_INCLUDE_DIR, 'TENSORRT_INCLUDE_DIR');
    if (r) return { ...r, searched };
  }
  if (env.TENSORRT_ROOT) {
    const r = pick(path.join(env.TENSORRT_ROOT, 'include'), 'TENSORRT_ROOT');
    if (r) return { ...r, searched };
  }
  for (const d of SYSTEM_TRT_DIRS) {
    const r = pick(d, 'system');
    if (r) return { ...r, searched };
  }
  return { dir: null, source: null, searched };
}

function findCuda(env = process.env) {
  const candidates = [env.CUDA_PATH, env.CUDA_HOME, '/usr/local/cuda'].filter(Boolean);
  for (const root of candidates) {
    const inc = path.join(root, 'include');
    if (fs.existsSync(path.join(inc, 'cuda_runtime_api.h'))) {
      const lib = ['lib64', 'lib', 'targets/x86_64-linux/lib']
        .map((d) => path.join(root, d, 'libcudart_static.a'))
        .find((f) => fs.existsSync(f));
      return { root: path.resolve(root), include: path.resolve(inc), cudartStatic: lib ? path.resolve(lib) : null, searched: candidates };
    }
  }
  return { root: null, include: null, cudartStatic: null, searched: candidates };
}

function addonApiInclude() {
  try {
    return path.dirname(require.resolve('node-addon-api/package.json', { paths: [ROOT] }));
  } catch {
    return path.join(ROOT, 'node_modules', 'node-addon-api');
  }
}

function nativeSources() {
  const dir = path.join(ROOT, 'native');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.cc'))
    .sort()
    .map((f) => `native/${f}`);
}

function werror(env = process.env) {
  return env.TENSORRT_NODE_WERROR === '1';
}

function collect(env = process.env) {
  const trt = findTensorRT(env);
  const cuda = findCuda(env);
  const defines = [
    `TN_HAVE_TENSORRT=${trt.dir ? 1 : 0}`,
    'NAPI_VERSION=8',
    'NODE_ADDON_API_CPP_EXCEPTIONS',
    'NODE_ADDON_API_DISABLE_DEPRECATED',
  ];
  const isystem = [];
  // Directories the compiler searches anyway are not repeated: `-isystem /usr/include` breaks libstdc++'s
  // #include_next.
  const trtNeedsFlag = !!trt.dir && !IMPLICIT_INCLUDE_DIRS.includes(trt.dir);
  if (trtNeedsFlag) isystem.push(trt.dir);
  if (cuda.include) isystem.push(cuda.include);
  isystem.push(addonApiInclude());
  // -Werror only for development and CI (TENSORRT_NODE_WERROR=1, set by the test command, .ci/run and
  // scripts/gpu/run.sh): a user's source build must not break on a newer compiler or a TensorRT minor that
  // deprecates an API (review 2, defect #14).
  const cflags = ['-std=c++17', '-fexceptions', '-Wall', '-Wextra', '-fvisibility=hidden'];
  if (werror(env)) cflags.push('-Werror');
  for (const d of isystem) cflags.push('-isystem', d);
  const libs = [];
  if (cuda.cudartStatic) libs.push(cuda.cudartStatic);
  libs.push('-ldl', '-lpthread', '-lrt');
  return {
    tensorrt: { include: trt.dir, includeFlag: trtNeedsFlag, version: trt.dir ? readTrtVersion(trt.dir) : null, source: trt.source, searched: trt.searched },
    cuda,
    addonApiInclude: addonApiInclude(),
    defines,
    cflags,
    isystem,
    libs,
    sources: nativeSources(),
  };
}

function summary(info) {
  const t = info.tensorrt.include
    ? `TensorRT headers: ${info.tensorrt.include} (${info.tensorrt.version ?? 'unknown version'}, from ${info.tensorrt.source})`
    : `TensorRT headers: none (searched ${info.tensorrt.searched.join(', ')}; set TENSORRT_INCLUDE_DIR or TENSORRT_ROOT) — building the CUDA-only addon`;
  const c = info.cuda.include ? `CUDA: ${info.cuda.root}` : `CUDA: NOT FOUND (searched ${info.cuda.searched.join(', ')})`;
  return `${t}\n${c}`;
}

module.exports = { collect, findTensorRT, findCuda, summary, readTrtVersion };

if (require.main === module) {
  const what = (process.argv[2] || 'summary').replace(/^--/, '');
  const info = collect();
  const out = (s) => process.stdout.write(s + '\n');
  const fail = (msg) => {
    process.stderr.write(`find-deps: ${msg}\n`);
    process.exit(1);
  };
  const needCuda = () => {
    if (!info.cuda.include) fail(`CUDA toolkit not found (searched ${info.cuda.searched.join(', ')}); set CUDA_PATH`);
    if (!info.cuda.cudartStatic) fail(`libcudart_static.a not found under ${info.cuda.root}`);
  };
  switch (what) {
    case 'cflags':
      needCuda();
      out(info.cflags.join(' '));
      break;
    case 'defines':
      out(info.defines.join(' '));
      break;
    case 'libs':
      needCuda();
      out(info.libs.join(' '));
      break;
    case 'sources':
      out(info.sources.join(' '));
      break;
    case 'trt-include':
      // only when it must be added to the include path (empty for the compiler's own system directories)
      out(info.tensorrt.includeFlag ? info.tensorrt.include : '');
      break;
    case 'have-trt':
      out(info.tensorrt.include ? '1' : '0');
      break;
    case 'cuda-root':
      needCuda();
      out(info.cuda.root);
      break;
    case 'cuda-include':
      needCuda();
      out(info.cuda.include);
      break;
    case 'cuda-lib':
      needCuda();
      out(info.cuda.cudartStatic);
      break;
    case 'addon-include':
      out(info.addonApiInclude);
      break;
    case 'json':
      out(JSON.stringify(info, null, 2));
      break;
    case 'summary':
      out(summary(info));
      break;
    default:
      fail(`unknown query '${what}'`);
  }
}
