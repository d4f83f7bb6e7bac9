#!/usr/bin/env node
'use strict';
/**
 * The package's `install` step. It NEVER fails the install: it builds what it can and says, in one line starting
 * with "tensorrt-node:", what it did or left out and how to add it (also kept in build/install-result.txt, which
 * the load error of the addon repeats). Everything that needs no GPU (ONNX inspect / quantize, .npy files, the
 * CLI's inspect and quantize) works without the addon.
 *
 *   prebuilds/<platform>-<arch>/*.node present  -> nothing to compile: the addon matching the libnvinfer.so.<major>
 *                                                  found is chosen at load time (lib/native.ts)
 *   build/Release/tensorrt_node.node present     -> kept (a source build exists)
 *   C++ compiler, make, python3, Node headers and the CUDA toolkit present
 *                                                -> source build (scripts/build-native.js), with TensorRT headers
 *                                                   when found (TENSORRT_INCLUDE_DIR / TENSORRT_ROOT / system)
 *   otherwise                                    -> no addon; the line says what is missing
 * TENSORRT_NODE_BUILD_FROM_SOURCE=1 builds even when prebuilds exist; TENSORRT_NODE_SKIP_BUILD=1 builds nothing.
 * A failed source build is reported (the compiler's output above it) and the install goes on.
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const RESULT = path.join(ROOT, 'build', 'install-result.txt');
const NO_GPU_FEATURES = 'ONNX inspect/quantize, .npy files and the CLI\'s inspect/quantize work without it';

function say(line) {
  const text = `tensorrt-node: ${line}`;
  console.log(text);
  try {
    fs.mkdirSync(path.dirname(RESULT), { recursive: true });
    fs.writeFileSync(RESULT, `${text}\n`);
  } catch {
    // read-only package folder: the line printed is all there is
  }
}

/** An executable in $PATH (or the absolute path given), or null. */
function which(cmd) {
  if (!cmd) return null;
  const first = cmd.trim().split(/\s+/)[0];
  if (first.includes('/')) return isExecutable(first) ? first : null;
  for (const dir of (process.env.PATH || '').split(':')) {
    if (dir && isExecutable(path.join(dir, first))) return path.join(dir, first);
  }
  return null;
}

function isExecutable(f) {
  try {
    fs.accessSync(f, fs.constants.X_OK);
    return fs.statSync(f).isFile();
  } catch {
    return false;
  }
}

/** Whether the compiler actually runs (a wrapper or a stub may be on the PATH). */
function compilerWorks(cxx) {
  const r = spawnSync(cxx, ['--version'], { encoding: 'utf8', timeout: 20000 });
  return r.status === 0;
}

function main() {
  if (process.env.TENSORRT_NODE_SKIP_BUILD) {
    say(`native addon not built (TENSORRT_NODE_SKIP_BUILD is set); ${NO_GPU_FEATURES}. To add it: \`npm rebuild tensorrt-node\` without it.`);
    return;
  }
  const deps = require('./find-deps');
  const info = deps.collect();
  const trt = info.tensorrt.include
    ? `TensorRT headers: ${info.tensorrt.include} (TensorRT ${info.tensorrt.version ?? '?'})`
    : 'TensorRT headers: not found (set TENSORRT_INCLUDE_DIR)';

  const pre = path.join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`);
  const prebuilt = fs.existsSync(pre) ? fs.readdirSync(pre).filter((f) => f.endsWith('.node')).sort() : [];
  if (prebuilt.length && !process.env.TENSORRT_NODE_BUILD_FROM_SOURCE) {
    say(`using prebuilt addons (${prebuilt.join(', ')}): the one matching the libnvinfer.so.<major> found is chosen ` +
      'at load time; nothing compiled (TENSORRT_NODE_BUILD_FROM_SOURCE=1 compiles instead).');
    return;
  }
  if (fs.existsSync(path.join(ROOT, 'build', 'Release', 'tensorrt_node.node')) && !process.env.TENSORRT_NODE_BUILD_FROM_SOURCE) {
    say('native addon already built (build/Release/tensorrt_node.node); `npm run build:native` rebuilds it.');
    return;
  }

  const missing = [];
  const cxx = which(process.env.CXX || 'c++') || which('g++') || which('clang++');
  if (!cxx || !compilerWorks(cxx)) missing.push('a C++17 compiler (g++ or clang++; or set CXX)');
  if (!which('make')) missing.push('make');
  if (!which('python3') && !which('python')) missing.push('python3 (for node-gyp)');
  const { findNodeDir } = require('./build-native');
  if (!findNodeDir()) missing.push('the Node.js headers (nodejs-dev / libnode-dev, or set npm_config_nodedir)');
  if (!info.cuda.include || !info.cuda.cudartStatic) {
    missing.push(`the CUDA toolkit (headers + libcudart_static.a; searched ${info.cuda.searched.join(', ')}; set CUDA_PATH)`);
  }
  if (missing.length) {
    say(`native addon NOT built: missing ${missing.join(', ')}; ${trt}. ${NO_GPU_FEATURES}. ` +
      'To add the addon: install what is missing, then `npm rebuild tensorrt-node`.');
    return;
  }

  const r = spawnSync(process.execPath, [path.join(__dirname, 'build-native.js')], { cwd: ROOT, stdio: 'inherit' });
  if (r.status === 0) {
    say(`native addon built from source (${info.tensorrt.include ? `with TensorRT ${info.tensorrt.version ?? ''} support` : 'CUDA only'}); ${trt}; CUDA: ${info.cuda.root}.`);
  } else {
    say(`native addon build FAILED (exit ${r.status ?? r.signal}; the compiler's messages are above); ${trt}. ` +
      `${NO_GPU_FEATURES}. To retry: \`npm rebuild tensorrt-node --foreground-scripts\`.`);
  }
}

try {
  main();
} catch (e) {
  say(`install step error (${e && e.message ? e.message.split('\n')[0] : e}); native addon not built. ${NO_GPU_FEATURES}.`);
}
process.exit(0);
