/**
 * The packed tarball as a user installs it (scripts/check-install.js; the CUDA-only prebuild is built first when
 * missing or stale): `npm install <tarball>` from the registry (no links to this checkout) in a private mount
 * namespace with no compiler, make, python3 or CUDA toolkit compiles nothing; the CUDA-only prebuild loads and
 * runtimeInfo() says prebuilt / cuda; inspect, .npy, quantize and `serve` (onnxruntime backend, answers equal to
 * onnxruntime-node's) work; a stand-in libnvinfer.so.11 with only the trt10 prebuild gives TENSORRT_UNAVAILABLE
 * naming the missing variant; without ONNXRUNTIME_NODE_INSTALL, info/serve say what to do; `npm rebuild
 * tensorrt-node` builds from source with npm's node-gyp. Parts that cannot run here print
 * "check-install: not run: <reason>" once.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../..');

test('the packed tarball installs like a user\'s: prebuilt addon, nothing compiled, chosen by TensorRT major', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'check-install.js')], { cwd: ROOT, encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`.trim();
  const lines = out.split('\n');
  const notRun = lines.filter((l) => l.startsWith('check-install: not run'));
  if (notRun.length) console.log(notRun.join('\n'));
  const failed = lines.filter((l) => l.startsWith('check-install: FAIL'));
  expect({ status: r.status, failed, output: failed.length || r.status ? out : '' }).toEqual({ status: 0, failed: [], output: '' });
  if (notRun.some((l) => l.includes('every check'))) return;
  expect(lines.some((l) => l.startsWith('check-install: ok   npm pack ships the prebuilds'))).toBe(true);
  if (!notRun.some((l) => l.includes('user, variants'))) {
    for (const what of ['user: npm install <tarball> succeeds', 'user: the install compiles nothing', 'user: no dependency is a link',
      'runtimeInfo() says prebuilt, variant cuda', 'real model', '.npy', 'quantize', '`tensorrt-node inspect', '`tensorrt-node serve`',
      '`npm rebuild tensorrt-node` without compiler', 'only the trt10 prebuild']) {
      expect({ what, ok: lines.some((l) => l.startsWith('check-install: ok') && l.includes(what)) }).toEqual({ what, ok: true });
    }
  }
}, 600_000);
