#!/usr/bin/env node
'use strict';
/**
 * The package's `install` step. It NEVER fails the install: it builds what it can and says, in one line starting
 * with "tensorrt-node:", what it did or left out and how to add it (also kept in build/install-result.txt, which
 * the load error of the addon repeats). Everything that needs no GPU (ONNX inspect / quantize, .npy files, the
 * CLI's inspect and quantize) works without the addon.
 *
 *   prebuilds/ holds an addon node-gyp-build accepts -> nothing to compile: the prebuilt addon matching the
 *                                                  libnvinfer.so.<major> found is chosen at load time (lib/native.ts)
 *   build/Release/tensorrt_node.node present     -> kept (a source build exists)
 *   C++ compiler, make, python3, node-gyp, Node headers and the CUDA toolkit present
 *                                                -> source build (scripts/build-native.js), with TensorRT headers
 *                                                   when found (TENSORRT_INCLUDE_DIR / TENSORRT_ROOT / system)
 *   otherwise                                    -> no addon; the line says what is missing
 * `npm rebuild tensorrt-node` (npm sets $npm_command=rebuild) and TENSORRT_NODE_BUILD_FROM_SOURCE=1 build from source
 * even when prebuilds exist (the prebuilds stay: a failed source build leaves them in use);
 * TENSORRT_NODE_SKIP_BUILD=1 builds nothing. node-gyp: the package's own when installed (a checkout), else npm's
 * bundled one, which npm passes to install scripts as $npm_config_node_gyp (build-native.js, findNodeGyp).
 * A failed compile is reported (the compiler's output above it); a build that could not start says why.
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

  const fromSource = !!process.env.TENSORRT_NODE_BUILD_FROM_SOURCE || process.env.npm_command === 'rebuild';
  const prebuilt = listPrebuilds();
  if (prebuilt.length && !fromSource) {
    say(`using prebuilt addons (${prebuilt.join(', ')}): the one matching the libnvinfer.so.<major> found is chosen ` +
      'at load time; nothing compiled (`npm rebuild tensorrt-node` or TENSORRT_NODE_BUILD_FROM_SOURCE=1 compiles instead).');
    return;
  }
  if (fs.existsSync(path.join(ROOT, 'build', 'Release', 'tensorrt_node.node')) && !fromSource) {
    say('native addon already built (build/Release/tensorrt_node.node); `npm rebuild tensorrt-node` rebuilds it.');
    return;
  }
  const keep = prebuilt.length ? ` The prebuilt addons (${prebuilt.join(', ')}) stay in use.` : '';

  const missing = [];
  const cxx = which(process.env.CXX || 'c++') || which('g++') || which('clang++');
  if (!cxx || !compilerWorks(cxx)) missing.push('a C++17 compiler (g++ or clang++; or set CXX)');
  if (!which('make')) missing.push('make');
  if (!which('python3') && !which('python')) missing.push('python3 (for node-gyp)');
  const { findNodeDir, findNodeGyp } = require('./build-native');
  if (!findNodeDir()) missing.push('the Node.js headers (nodejs-dev / libnode-dev, or set npm_config_nodedir)');
  if (!findNodeGyp()) missing.push('node-gyp (npm passes its own as $npm_config_node_gyp: run `npm rebuild tensorrt-node` through npm)');
  if (!info.cuda.include || !info.cuda.cudartStatic) {
    missing.push(`the CUDA toolkit (headers + libcudart_static.a; searched ${info.cuda.searched.join(', ')}; set CUDA_PATH)`);
  }
  if (missing.length) {
    say(`native addon NOT built: missing ${missing.join(', ')}; ${trt}.${keep || ` ${NO_GPU_FEATURES}.`} ` +
      'To add the addon: install what is missing, then `npm rebuild tensorrt-node --foreground-scripts`.');
    return;
  }

  // build-native.js: exit 0 built, 1 node-gyp/the compiler failed (their messages above), 3 no build started (its
  // last "build-native:" line says why). Its stderr is passed through and kept to quote that line.
  const r = spawnSync(process.execPath, [path.join(__dirname, 'build-native.js')], { cwd: ROOT, stdio: ['inherit', 'inherit', 'pipe'], encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
  if (r.stderr) process.stderr.write(r.stderr);
  if (r.status === 0) {
    say(`native addon built from source (${info.tensorrt.include ? `with TensorRT ${info.tensorrt.version ?? ''} support` : 'CUDA only'}); ${trt}; CUDA: ${info.cuda.root}.`);
  } else if (r.status === 1) {
    say(`native addon build FAILED (node-gyp exit 1; the compiler's messages are above); ${trt}.${keep || ` ${NO_GPU_FEATURES}.`} ` +
      'To retry: `npm rebuild tensorrt-node --foreground-scripts`.');
  } else {
    const why = (r.stderr || '').split('\n').filter((l) => l.startsWith('build-native: ')).pop();
    say(`native addon NOT built: ${why ? why.slice('build-native: '.length) : `build-native.js exited with ${r.status ?? r.signal}${r.error ? ` (${r.error.message})` : ''}`}; ${trt}.` +
      `${keep || ` ${NO_GPU_FEATURES}.`}`);
  }
}

/** The prebuilt addons shipped (lib/native.ts chooses among them): prebuilds/<platform>-<arch>/ and prebuilds/trt<M>/. */
function listPrebuilds() {
  const out = [];
  const tuple = `${process.platform}-${process.arch}`;
  const scan = (dir, label) => {
    try {
      for (const f of fs.readdirSync(dir)) if (f.endsWith('.node')) out.push(label ? `${label}/${f}` : f);
    } catch {
      // none there
    }
  };
  scan(path.join(ROOT, 'prebuilds', tuple), '');
  let dirs = [];
  try {
    dirs = fs.readdirSync(path.join(ROOT, 'prebuilds')).filter((d) => /^trt\d+$/.test(d));
  } catch {
    // no prebuilds
  }
  for (const d of dirs) scan(path.join(ROOT, 'prebuilds', d, 'prebuilds', tuple), '');
  return out.sort();
}

try {
  main();
} catch (e) {
  say(`install step error (${e && e.message ? e.message.split('\n')[0] : e}); native addon not built. ${NO_GPU_FEATURES}.`);
}
process.exit(0);
