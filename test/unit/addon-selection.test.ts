/**
 * The thin layer over node-gyp-build that picks the addon file (lib/native.ts selectAddon), on package roots made
 * here: only the choice is checked (the files are empty and never loaded; scripts/check-install.js loads the real
 * prebuilds). The libnvinfer.so.<major> files are empty names to choose by, found through TENSORRT_LIB_DIR.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { selectAddon } from '../../lib/native';

const CUDA = 'prebuilds/linux-x64/tensorrt-node.cuda.glibc.node';
const trt = (m: number) => `prebuilds/trt${m}/prebuilds/linux-x64/tensorrt-node.trt${m}.glibc.node`;

let tmp: string;
const saved = { ...process.env };
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tn-select-'));
  delete process.env.TENSORRT_NODE_ADDON;
  delete process.env.TENSORRT_NODE_PREBUILD;
  process.env.LD_LIBRARY_PATH = '';
});
afterEach(() => {
  process.env = { ...saved };
  fs.rmSync(tmp, { recursive: true, force: true });
});

function root(files: string[]): string {
  const r = path.join(tmp, 'pkg');
  fs.mkdirSync(r, { recursive: true });
  fs.writeFileSync(path.join(r, 'package.json'), JSON.stringify({ name: 'tensorrt-node' }));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(r, f)), { recursive: true });
    fs.writeFileSync(path.join(r, f), '');
  }
  return r;
}
function libs(...majors: number[]): void {
  const d = path.join(tmp, 'lib');
  fs.mkdirSync(d, { recursive: true });
  for (const m of majors) fs.writeFileSync(path.join(d, `libnvinfer.so.${m}`), '');
  process.env.TENSORRT_LIB_DIR = d;
}
const haveSystemTrt = () => {
  process.env.TENSORRT_LIB_DIR = path.join(tmp, 'none');
   
  return (require('../../lib/native') as typeof import('../../lib/native')).findTensorRTLibraries().length > 0;
};

test('a libnvinfer major with its variant shipped selects that variant, highest major first', () => {
  const r = root([CUDA, trt(10), trt(11)]);
  libs(10, 11);
  expect(selectAddon(r)).toMatchObject({ file: path.join(r, trt(11)), kind: 'prebuilt', variant: 'trt11' });
  libs(10);
  fs.rmSync(path.join(tmp, 'lib', 'libnvinfer.so.11'));
  expect(selectAddon(r)).toMatchObject({ file: path.join(r, trt(10)), variant: 'trt10' });
});

test('TensorRT 11 found, only the trt10 variant shipped: the CUDA-only addon, never trt10, and what is missing', () => {
  const r = root([CUDA, trt(10)]);
  libs(11);
  const s = selectAddon(r);
  expect(s).toMatchObject({ file: path.join(r, CUDA), kind: 'prebuilt', variant: 'cuda' });
  expect('missingVariant' in s && s.missingVariant).toMatch(/libnvinfer\.so\.11 was found .*no prebuilt addon for TensorRT 11 \(the variant trt11.*shipped: trt10\).*npm rebuild tensorrt-node/);
});

test('no libnvinfer: the CUDA-only addon, nothing missing', () => {
  if (haveSystemTrt()) {
    console.log('skipped: this machine has a libnvinfer.so.<major> in the system folders');
    return;
  }
  const r = root([CUDA, trt(10)]);
  const s = selectAddon(r);
  expect(s).toMatchObject({ file: path.join(r, CUDA), variant: 'cuda' });
  expect('missingVariant' in s ? s.missingVariant : undefined).toBeUndefined();
});

test('a source build in build/Release comes first; TENSORRT_NODE_ADDON before everything', () => {
  const r = root([CUDA, trt(10), 'build/Release/tensorrt_node.node']);
  libs(10);
  expect(selectAddon(r)).toMatchObject({ file: path.join(r, 'build/Release/tensorrt_node.node'), kind: 'source build', variant: null });
  process.env.TENSORRT_NODE_ADDON = path.join(tmp, 'x.node');
  expect(selectAddon(r)).toMatchObject({ file: path.join(tmp, 'x.node'), kind: 'override' });
});

test('no addon at all: an error naming how to build one in the project', () => {
  const r = root(['build/install-result.txt']);
  const s = selectAddon(r);
  expect('error' in s && s.error).toMatch(/no tensorrt-node native addon .*TENSORRT_NODE_BUILD_FROM_SOURCE=1 .*npm rebuild tensorrt-node/);
});
