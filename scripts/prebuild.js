#!/usr/bin/env node
'use strict';
/**
 * Builds the prebuilt addons shipped in the tarball with prebuildify (N-API, linux-x64, glibc tag; prebuilds/ is
 * git-ignored and listed in "files"), in the layout node-gyp-build reads:
 *
 *   prebuilds/linux-x64/tensorrt-node.cuda.glibc.node                     CUDA only: what node-gyp-build finds
 *                                                                          for the package root
 *   prebuilds/trt<M>/prebuilds/linux-x64/tensorrt-node.trt<M>.glibc.node  one per TensorRT major M, compiled
 *                                                                          against the headers given (use the
 *                                                                          OLDEST of that major the loader accepts:
 *                                                                          10.0 for 10, 11.1 for 11)
 *
 * Each prebuilds/trt<M>/ is a root of its own for node-gyp-build; lib/native.ts picks the root by the
 * libnvinfer.so.<major> found at run time (docs/install.md, "Prebuilt addons").
 *
 *   node scripts/prebuild.js                                   the CUDA-only prebuild
 *   node scripts/prebuild.js --tensorrt DIR10 --tensorrt DIR11  plus one per TensorRT major
 *   (or TENSORRT_INCLUDE_DIRS=dir10:dir11;  --no-strip keeps symbols;  --only-missing skips a variant whose file is
 *   newer than native/, binding.gyp and scripts/find-deps.js)
 *
 * Each variant is compiled by prebuildify (node-gyp rebuild, this checkout's node-gyp devDependency) in a staging
 * copy of the sources (binding.gyp, native/, scripts/find-deps.js; node_modules linked), so build/ of the checkout
 * is left alone. Headers stay where they are (outside the repository); Node headers are local (same lookup as
 * build-native.js); nothing is downloaded. (Not named "prebuild": npm would run that before every `npm run build`.)
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { findNodeDir } = require('./build-native');
const deps = require('./find-deps');

const ROOT = path.resolve(__dirname, '..');

/** Where prebuildify puts a variant (its `out`), and the file it writes there. */
function variantPaths(tag, root = ROOT) {
  const out = tag === 'cuda' ? root : path.join(root, 'prebuilds', tag);
  return { out, file: path.join(out, 'prebuilds', 'linux-x64', `tensorrt-node.${tag}.glibc.node`) };
}

/** The newest modification time of the sources an addon is compiled from. */
function sourcesMtime(root = ROOT) {
  const files = [path.join(root, 'binding.gyp'), path.join(root, 'scripts', 'find-deps.js')];
  for (const f of fs.readdirSync(path.join(root, 'native'))) files.push(path.join(root, 'native', f));
  return Math.max(...files.map((f) => fs.statSync(f).mtimeMs));
}

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
  return { dirs, strip: !argv.includes('--no-strip'), onlyMissing: argv.includes('--only-missing') };
}

function prebuildifyOnce(opts) {
  const prebuildify = require('prebuildify');
  return new Promise((resolve, reject) => prebuildify(opts, (err) => (err ? reject(err) : resolve())));
}

async function main(argv) {
  if (os.platform() !== 'linux' || os.arch() !== 'x64') fail(`only linux-x64 prebuilds are supported (this is ${os.platform()}-${os.arch()})`);
  const nodedir = findNodeDir();
  if (!nodedir) fail('no local Node.js headers found (set npm_config_nodedir)');
  const { dirs, strip, onlyMissing } = parseArgs(argv);
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

  const gyp = path.join(ROOT, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (!fs.existsSync(gyp)) fail('node-gyp (a devDependency) is not installed: run `npm ci` first');
  const newest = sourcesMtime();
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'tn-prebuild-'));
  const saved = { ...process.env };
  try {
    fs.cpSync(path.join(ROOT, 'native'), path.join(stage, 'native'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'binding.gyp'), path.join(stage, 'binding.gyp'));
    fs.mkdirSync(path.join(stage, 'scripts'));
    fs.copyFileSync(path.join(ROOT, 'scripts', 'find-deps.js'), path.join(stage, 'scripts', 'find-deps.js'));
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(stage, 'node_modules'));
    fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify({ name: 'tensorrt-node', private: true }));
    const jobs = String(Math.max(1, Math.min(os.availableParallelism?.() ?? os.cpus().length, 8)));
    for (const v of variants) {
      const { out, file } = variantPaths(v.tag);
      if (onlyMissing && fs.existsSync(file) && fs.statSync(file).mtimeMs > newest) {
        console.log(`prebuild: ${v.tag}: ${path.relative(ROOT, file)} is newer than the sources: kept`);
        continue;
      }
      // prebuildify passes process.env to node-gyp: the variant's headers, local Node headers, parallel jobs.
      // A CUDA-only variant must not pick up system TensorRT headers: the lookup is pointed at an empty folder.
      process.env = { ...saved, npm_config_nodedir: nodedir, JOBS: jobs, TENSORRT_INCLUDE_DIR: v.include ?? path.join(stage, 'no-tensorrt') };
      delete process.env.TENSORRT_ROOT;
      const info = deps.collect(process.env);
      if (!v.include && info.tensorrt.include) fail(`system TensorRT headers at ${info.tensorrt.include} would leak into the CUDA-only build`);
      if (!info.cuda.include || !info.cuda.cudartStatic) fail(`CUDA toolkit not found (searched ${info.cuda.searched.join(', ')}); set CUDA_PATH`);
      console.log(`prebuild: ${v.tag}: ${v.include ? `TensorRT ${v.version} headers ${v.include}` : 'CUDA only'}`);
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
      try {
        await prebuildifyOnce({
          cwd: stage, out, name: `tensorrt-node.${v.tag}`, napi: true, targets: [process.versions.node], tagLibc: true,
          strip, nodeGyp: gyp, cache: path.join(stage, 'devdir'),
        });
      } catch (e) {
        fail(`${v.tag}: prebuildify failed (${e.message})`);
      }
      if (!fs.existsSync(file)) fail(`${v.tag}: prebuildify wrote no ${path.relative(ROOT, file)}`);
      console.log(`prebuild: wrote ${path.relative(ROOT, file)} (${(fs.statSync(file).size / 2 ** 20).toFixed(1)} MiB)`);
    }
  } finally {
    process.env = saved;
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

module.exports = { variantPaths, sourcesMtime };

if (require.main === module) main(process.argv.slice(2)).catch((e) => fail(e.stack || e.message));
