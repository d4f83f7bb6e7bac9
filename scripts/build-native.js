#!/usr/bin/env node
'use strict';
/**
 * Builds the tensorrt_node addon from the local sources, never downloading anything.
 *
 *   node scripts/build-native.js            node-gyp rebuild (default)
 *   node scripts/build-native.js --cmake    cmake-js rebuild (CMakeLists.txt)
 *   --debug                                 debug build
 *
 * Node headers: $npm_config_nodedir, else <node executable>/../.. when it has include/node, else /usr when
 * /usr/include/node exists. TensorRT headers: $TENSORRT_INCLUDE_DIR / $TENSORRT_ROOT / system paths (optional).
 */
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const deps = require('./find-deps');

const ROOT = path.resolve(__dirname, '..');

function hasNodeHeaders(dir) {
  return !!dir && fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h'));
}

/** The directory holding include/node for the running Node, or null. */
function findNodeDir(env = process.env) {
  const candidates = [];
  if (env.npm_config_nodedir) candidates.push(env.npm_config_nodedir);
  candidates.push(path.resolve(path.dirname(process.execPath), '..'));
  candidates.push('/usr');
  return candidates.find(hasNodeHeaders) ?? null;
}

function resolveBin(pkg, bin) {
  const pkgJson = require.resolve(`${pkg}/package.json`, { paths: [ROOT] });
  const meta = require(pkgJson);
  const rel = typeof meta.bin === 'string' ? meta.bin : meta.bin[bin];
  return path.join(path.dirname(pkgJson), rel);
}

function run(cmd, args, env) {
  console.log(`> ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', env });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function main(argv) {
  const useCmake = argv.includes('--cmake');
  const debug = argv.includes('--debug');
  const nodedir = findNodeDir();
  if (!nodedir) {
    console.error(
      'build-native: no local Node.js headers found (looked at $npm_config_nodedir, ' +
        `${path.resolve(path.dirname(process.execPath), '..')}, /usr); install the Node development headers ` +
        '(e.g. the nodejs-dev / libnode-dev package) or set npm_config_nodedir.',
    );
    return 1;
  }
  const info = deps.collect();
  if (!info.cuda.include || !info.cuda.cudartStatic) {
    console.error(`build-native: CUDA toolkit not found (searched ${info.cuda.searched.join(', ')}); set CUDA_PATH.`);
    return 1;
  }
  if (process.env.TENSORRT_INCLUDE_DIR && info.tensorrt.source !== 'TENSORRT_INCLUDE_DIR') {
    console.warn(`build-native: warning: TENSORRT_INCLUDE_DIR=${process.env.TENSORRT_INCLUDE_DIR} has no NvInfer.h`);
  }
  console.log(`build-native: Node headers: ${nodedir}/include/node`);
  console.log(`build-native: ${deps.summary(info).split('\n').join('\nbuild-native: ')}`);

  const env = { ...process.env, npm_config_nodedir: nodedir };
  let status;
  if (useCmake) {
    const args = [resolveBin('cmake-js', 'cmake-js'), 'rebuild', '--directory', ROOT, '--out', path.join(ROOT, 'build')];
    if (debug) args.push('--debug');
    args.push(`--CDTN_NODE_INCLUDE_DIR=${path.join(nodedir, 'include', 'node')}`);
    status = run(process.execPath, args, env);
  } else {
    const args = [resolveBin('node-gyp', 'node-gyp'), 'rebuild', `--nodedir=${nodedir}`, '-j', String(jobs())];
    if (debug) args.push('--debug');
    status = run(process.execPath, args, env);
  }
  if (status === 0) {
    const out = path.join(ROOT, 'build', debug ? 'Debug' : 'Release', 'tensorrt_node.node');
    console.log(`build-native: built ${out} (${info.tensorrt.include ? `TensorRT ${info.tensorrt.version} headers from ${info.tensorrt.include}` : 'without TensorRT headers: CUDA-only'})`);
  }
  return status;
}

function jobs() {
  const n = require('os').availableParallelism?.() ?? require('os').cpus().length;
  return Math.max(1, Math.min(n, 8));
}

module.exports = { findNodeDir };

if (require.main === module) process.exit(main(process.argv.slice(2)));
