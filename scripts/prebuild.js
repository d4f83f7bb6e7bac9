#!/usr/bin/env node
'use strict';
/**
 * Builds the linux-x64 prebuilt addons shipped in the tarball (prebuilds/ is git-ignored, listed in "files"):
 *
 *   prebuilds/linux-x64/tensorrt-node.trt<major>.node   one per TensorRT major, built against its headers
 *   prebuilds/linux-x64/tensorrt-node.cuda.node         CUDA only (no TensorRT headers)
 *
 * lib/native.ts loads the one matching the libnvinfer.so.<major> found at run time, else the CUDA-only one.
 *
 *   npm run prebuildify -- --tensorrt /path/to/TensorRT-10/include --tensorrt /path/to/TensorRT-11/include
 *   (or TENSORRT_INCLUDE_DIRS=dir10:dir11 npm run prebuildify;  --no-strip keeps symbols)
 *
 * Each variant is compiled with node-gyp in a staging copy of the sources (binding.gyp, native/,
 * scripts/find-deps.js; node_modules linked), so build/ of the checkout is left alone. Headers stay where they
 * are (outside the repository); Node headers are local (same lookup as build-native.js); nothing is downloaded.
 * N-API (NAPI_VERSION 8): one binary per variant serves every Node.js >= 18.17. (Not named "prebuild": npm
 * would run that before every `npm run build`.)
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { findNodeDir } = require('./build-native');
const deps = require('./find-deps');

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'prebuilds', 'linux-x64');

function fail(msg) {
  console.error(`prebuild: ${msg}`);
  process.exit(1);
}

function parseArgs(argv) {
  const dirs = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--tensorrt') dirs.push(argv[++i]);
    else if (argv[i].startsWith('--tensorrt=')) dirs.push(argv[i].slice('--tensorrt='.length));
  }
  if (!dirs.length && process.env.TENSORRT_INCLUDE_DIRS) dirs.push(...process.env.TENSORRT_INCLUDE_DIRS.split(':').filter(Boolean));
  return { dirs, strip: !argv.includes('--no-strip') };
}

function main(argv) {
  if (os.platform() !== 'linux' || os.arch() !== 'x64') fail(`only linux-x64 prebuilds are supported (this is ${os.platform()}-${os.arch()})`);
  const nodedir = findNodeDir();
  if (!nodedir) fail('no local Node.js headers found (set npm_config_nodedir)');
  const { dirs, strip } = parseArgs(argv);
  const variants = [];
  for (const d of dirs) {
    if (!fs.existsSync(path.join(d, 'NvInfer.h'))) fail(`${d} has no NvInfer.h`);
    const version = deps.readTrtVersion(d);
    if (!version) fail(`cannot read the TensorRT version from ${d}/NvInferVersion.h`);
    const major = version.split('.')[0];
    if (variants.some((v) => v.tag === `trt${major}`)) fail(`two header folders for TensorRT ${major}`);
    variants.push({ tag: `trt${major}`, include: path.resolve(d), version });
  }
  variants.push({ tag: 'cuda', include: null, version: null });

  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'tn-prebuild-'));
  try {
    fs.cpSync(path.join(ROOT, 'native'), path.join(stage, 'native'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'binding.gyp'), path.join(stage, 'binding.gyp'));
    fs.mkdirSync(path.join(stage, 'scripts'));
    fs.copyFileSync(path.join(ROOT, 'scripts', 'find-deps.js'), path.join(stage, 'scripts', 'find-deps.js'));
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(stage, 'node_modules'));
    fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify({ name: 'tensorrt-node-prebuild', private: true }));
    fs.mkdirSync(OUT, { recursive: true });
    const gyp = path.join(ROOT, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    const jobs = String(Math.max(1, Math.min(os.availableParallelism?.() ?? os.cpus().length, 8)));
    for (const v of variants) {
      // A CUDA-only variant must not pick up system TensorRT headers: point the lookup at an empty folder.
      const env = { ...process.env, npm_config_nodedir: nodedir, TENSORRT_INCLUDE_DIR: v.include ?? path.join(stage, 'no-tensorrt') };
      delete env.TENSORRT_ROOT;
      const info = deps.collect(env);
      if (!v.include && info.tensorrt.include) fail(`system TensorRT headers at ${info.tensorrt.include} would leak into the CUDA-only build`);
      console.log(`prebuild: ${v.tag}: ${v.include ? `TensorRT ${v.version} headers ${v.include}` : 'CUDA only'}`);
      const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '-j', jobs], { cwd: stage, env, stdio: 'inherit' });
      if (r.status !== 0) fail(`${v.tag}: node-gyp failed (exit ${r.status})`);
      const out = path.join(OUT, `tensorrt-node.${v.tag}.node`);
      const tmp = `${out}.tmp-${process.pid}`;
      fs.copyFileSync(path.join(stage, 'build', 'Release', 'tensorrt_node.node'), tmp);
      if (strip) {
        const s = spawnSync('strip', ['--strip-unneeded', tmp], { stdio: 'inherit' });
        if (s.status !== 0) fail(`${v.tag}: strip failed`);
      }
      fs.renameSync(tmp, out);
      console.log(`prebuild: wrote ${path.relative(ROOT, out)} (${(fs.statSync(out).size / 2 ** 20).toFixed(1)} MiB)`);
    }
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

main(process.argv.slice(2));
