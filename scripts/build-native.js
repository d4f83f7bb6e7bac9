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
 *
 * node-gyp (findNodeGyp): a node-gyp package resolvable from the package (the checkout's pinned devDependency),
 * else npm's own bundled node-gyp, which npm names in $npm_config_node_gyp for every script it runs (install,
 * `npm rebuild tensorrt-node`, `npm run`): so a source build works in a user's project, where devDependencies are
 * not installed, as long as npm started it. node-gyp is deliberately not a dependency (it would add ~100 packages to
 * every install for a build most users never run).
 *
 * Exit status: 0 built; 1 the compiler / node-gyp failed (its messages are above); 3 no build was started (one
 * line starting with "build-native:" says why: no node-gyp, no Node headers, no CUDA toolkit, an internal error).
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

/** The node-gyp to run, and where it came from; null when none is found. */
function findNodeGyp(env = process.env) {
  try {
    const pj = require.resolve('node-gyp/package.json', { paths: [ROOT] });
    const meta = JSON.parse(fs.readFileSync(pj, 'utf8'));
    const rel = typeof meta.bin === 'string' ? meta.bin : meta.bin['node-gyp'];
    return { file: path.join(path.dirname(pj), rel), source: `node-gyp ${meta.version} (${path.dirname(pj)})` };
  } catch {
    // not installed next to the package (a user's project: devDependencies are not installed)
  }
  const npmGyp = env.npm_config_node_gyp;
  if (npmGyp && fs.existsSync(npmGyp)) return { file: npmGyp, source: `npm's bundled node-gyp ($npm_config_node_gyp=${npmGyp})` };
  return null;
}

const NO_NODE_GYP =
  'no node-gyp found: run the build through npm (`npm rebuild tensorrt-node --foreground-scripts` in your project: ' +
  'npm passes its bundled node-gyp as $npm_config_node_gyp), or set npm_config_node_gyp=/path/to/node-gyp.js';

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
    return 3;
  }
  const info = deps.collect();
  if (!info.cuda.include || !info.cuda.cudartStatic) {
    console.error(`build-native: CUDA toolkit not found (searched ${info.cuda.searched.join(', ')}); set CUDA_PATH.`);
    return 3;
  }
  if (process.env.TENSORRT_INCLUDE_DIR && info.tensorrt.source !== 'TENSORRT_INCLUDE_DIR') {
    console.warn(`build-native: warning: TENSORRT_INCLUDE_DIR=${process.env.TENSORRT_INCLUDE_DIR} has no NvInfer.h`);
  }
  const gyp = useCmake ? null : findNodeGyp();
  if (!useCmake && !gyp) {
    console.error(`build-native: ${NO_NODE_GYP}.`);
    return 3;
  }
  console.log(`build-native: Node headers: ${nodedir}/include/node`);
  if (gyp) console.log(`build-native: ${gyp.source}`);
  console.log(`build-native: ${deps.summary(info).split('\n').join('\nbuild-native: ')}`);

  const env = { ...process.env, npm_config_nodedir: nodedir };
  let status;
  if (useCmake) {
    const args = [resolveBin('cmake-js', 'cmake-js'), 'rebuild', '--directory', ROOT, '--out', path.join(ROOT, 'build')];
    if (debug) args.push('--debug');
    args.push(`--CDTN_NODE_INCLUDE_DIR=${path.join(nodedir, 'include', 'node')}`);
    status = run(process.execPath, args, env);
  } else {
    const args = [gyp.file, 'rebuild', `--nodedir=${nodedir}`, '-j', String(jobs())];
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

module.exports = { findNodeDir, findNodeGyp, NO_NODE_GYP };

if (require.main === module) {
  let status;
  try {
    status = main(process.argv.slice(2));
  } catch (e) {
    console.error(`build-native: no build started: ${e && e.message ? e.message.split('\n')[0] : e}`);
    status = 3;
  }
  process.exit(status);
}
