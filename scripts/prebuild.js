#!/usr/bin/env node
'use strict';
/**
 * Builds the linux-x64 N-API prebuild (prebuilds/linux-x64/*.node, stripped) with prebuildify, using the
 * local Node headers (same lookup as build-native.js; nothing is downloaded). node-gyp-build loads it.
 * TensorRT headers are picked up as in build-native.js (TENSORRT_INCLUDE_DIR / TENSORRT_ROOT / system).
 *
 *   npm run prebuildify   (node scripts/prebuild.js [--debug] [--no-strip])
 * (Not named "prebuild": npm would run that before every `npm run build`.)
 */
const path = require('path');
const os = require('os');
const { findNodeDir } = require('./build-native');
const deps = require('./find-deps');

const ROOT = path.resolve(__dirname, '..');

function main(argv) {
  if (os.platform() !== 'linux' || os.arch() !== 'x64') {
    console.error(`prebuild: only linux-x64 prebuilds are supported (this is ${os.platform()}-${os.arch()})`);
    process.exit(1);
  }
  const nodedir = findNodeDir();
  if (!nodedir) {
    console.error('prebuild: no local Node.js headers found (set npm_config_nodedir)');
    process.exit(1);
  }
  process.env.npm_config_nodedir = nodedir;
  console.log(`prebuild: Node headers: ${nodedir}/include/node`);
  console.log(`prebuild: ${deps.summary(deps.collect()).split('\n').join('\nprebuild: ')}`);
  const prebuildify = require(require.resolve('prebuildify', { paths: [ROOT] }));
  prebuildify(
    {
      cwd: ROOT,
      napi: true,
      strip: !argv.includes('--no-strip'),
      debug: argv.includes('--debug'),
      arch: 'x64',
      platform: 'linux',
      targets: [process.versions.node],
      tagLibc: true,
      nodeGyp: path.join(ROOT, 'node_modules', '.bin', 'node-gyp'),
    },
    (err) => {
      if (err) {
        console.error(`prebuild: ${err.message || err}`);
        process.exit(1);
      }
      console.log(`prebuild: wrote ${path.join(ROOT, 'prebuilds', 'linux-x64')}`);
    },
  );
}

main(process.argv.slice(2));
