/**
 * `npm install tensorrt-node` never fails for lack of a compiler, CUDA or TensorRT (scripts/check-install.js): the
 * packed tarball is installed into a scratch project with the CUDA toolkit hidden (tmpfs in a private mount
 * namespace) and the C++ compilers replaced by /bin/false; the install succeeds with one line saying what it left
 * out, and inspect / .npy / quantize work without the addon. With prebuilds in the tarball: nothing is compiled and
 * the addon matching the libnvinfer.so.<major> found is chosen. Parts that cannot run here print
 * "check-install: not run: <reason>" once.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../..');

test('the packed tarball installs without CUDA toolkit and compiler; prebuilt addons are chosen by TensorRT major', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'check-install.js')], { cwd: ROOT, encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`.trim();
  const lines = out.split('\n');
  const notRun = lines.filter((l) => l.startsWith('check-install: not run'));
  if (notRun.length) console.log(notRun.join('\n'));
  const failed = lines.filter((l) => l.startsWith('check-install: FAIL'));
  expect({ status: r.status, failed, output: failed.length || r.status ? out : '' }).toEqual({ status: 0, failed: [], output: '' });
  expect(lines.some((l) => l.startsWith('check-install: ok   npm pack'))).toBe(true);
  if (!notRun.some((l) => l.includes('no-cuda-no-compiler'))) {
    for (const what of ['npm install succeeds', 'one install line', 'real model', '.npy', 'quantize', 'inspect']) {
      expect(lines.some((l) => l.startsWith('check-install: ok') && l.includes(what))).toBe(true);
    }
  }
}, 600_000);
