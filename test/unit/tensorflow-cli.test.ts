/**
 * @jest-environment ./test/unit/quantize.environment.js
 *
 * `tensorrt-node convert` and the TensorFlow hooks of `inspect`: a TF.js graph model written to disk (model.json +
 * binary shard) converts to a loadable ONNX file; an unsupported model exits 1 listing its ops and writes nothing.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli } from '../../lib/cli/program';
import { parseTfInputs } from '../../lib/cli/convert';
import { loadModel, modelInfo } from '../../lib/onnx';
import { A, GraphBuilder } from './helpers/tf-graph';
import { seeded } from './helpers/tf-models';
import { writeNpyFile } from '../../lib/npy';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false });
  return { code, out, err };
}

function writeModel(dir: string, g: GraphBuilder): string {
  const a = g.artifacts();
  fs.writeFileSync(path.join(dir, 'group1-shard1of1.bin'), a.weightData);
  const json = { format: 'graph-model', modelTopology: a.modelTopology, weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: a.weightSpecs }] };
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
  return path.join(dir, 'model.json');
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-cli-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function small(): GraphBuilder {
  const g = new GraphBuilder();
  const x = g.input('images', [-1, 8, 8, 3]);
  const w = g.const('w', seeded(3 * 3 * 3 * 4, 1, -1, 1), [3, 3, 3, 4]);
  const c = g.op('conv', 'Conv2D', [x, w], { T: A.type('DT_FLOAT'), data_format: A.s('NHWC'), strides: A.ints([1, 1, 1, 1]), padding: A.s('SAME') });
  g.op('out', 'Relu', [c], { T: A.type('DT_FLOAT') });
  return g;
}

test('convert writes an ONNX model keeping TF names and NHWC at the boundary', async () => {
  const m = writeModel(dir, small());
  const o = path.join(dir, 'model.onnx');
  const r = await cli(['convert', m, '-o', o, '--inputs', 'images:1x8x8x3']);
  expect(r).toMatchObject({ code: 0 });
  expect(r.out).toMatch(/Converted .*tfjs-graph-model/);
  const info = modelInfo(loadModel(o));
  expect(info.inputs).toEqual([{ name: 'images', dtype: 'float32', shape: [1, 8, 8, 3] }]);
  expect(info.outputs).toEqual([{ name: 'out', dtype: 'float32', shape: [1, 8, 8, 4] }]);
  expect(info.opTypeHistogram).toMatchObject({ Conv: 1, Relu: 1, Transpose: 2 });
  const j = await cli(['convert', m, '-o', o, '--json', '--opset', '17']);
  expect(j.code).toBe(0);
  expect(JSON.parse(j.out)).toMatchObject({ format: 'tfjs-graph-model', opset: 17, inputs: [{ name: 'images', shape: [-1, 8, 8, 3] }] });
});

test('an unsupported model exits 1, lists its ops and writes nothing', async () => {
  const g = small();
  g.op('odd', 'Bucketize', ['out']);
  const m = writeModel(dir, g);
  const o = path.join(dir, 'model.onnx');
  const r = await cli(['convert', m, '-o', o, '--outputs', 'odd']);
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/Bucketize ×1 \(e\.g\. odd\).*\[UNSUPPORTED_OP\]/);
  expect(fs.readdirSync(dir).sort()).toEqual(['group1-shard1of1.bin', 'model.json']);
});

test('usage errors: no output, not a TF model', async () => {
  const m = writeModel(dir, small());
  expect((await cli(['convert', m])).code).toBe(1);
  fs.writeFileSync(path.join(dir, 'x.txt'), 'hello');
  const r = await cli(['convert', path.join(dir, 'x.txt'), '-o', path.join(dir, 'y.onnx')]);
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/not a TF\.js model\.json/);
});

test('inspect takes a TF.js model directly (converted in memory)', async () => {
  const m = writeModel(dir, small());
  const r = await cli(['inspect', m, '--json']);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.out)).toMatchObject({ convertedFrom: 'tfjs-graph-model', inputs: [{ name: 'images' }], outputs: [{ name: 'out' }] });
});

test('--inputs parsing', () => {
  expect(parseTfInputs('a:1x224x224x3,b,c:0:?x3')).toEqual([{ name: 'a', shape: [1, 224, 224, 3] }, { name: 'b' }, { name: 'c:0', shape: [-1, 3] }]);
});

let hasOrt = true;
try {
  require.resolve('onnxruntime-node');
} catch {
  hasOrt = false;
  console.log('convert → quantize test skipped: onnxruntime-node (optional dependency) is not installed');
}
(hasOrt ? test : test.skip)('quantize takes a TF.js model directly (converted in memory), Q/DQ around its convolution', async () => {
  const m = writeModel(dir, small());
  fs.mkdirSync(path.join(dir, 'calib'));
  for (let i = 0; i < 3; i++) writeNpyFile(path.join(dir, 'calib', `b${i}.npy`), { dtype: 'float32', shape: [1, 8, 8, 3], data: seeded(192, 50 + i, -1, 1) });
  const o = path.join(dir, 'q.onnx');
  const r = await cli(['quantize', m, '--calib', path.join(dir, 'calib'), '-o', o, '--method', 'minmax', '--json']);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  const info = modelInfo(loadModel(o));
  expect(info.inputs).toEqual([{ name: 'images', dtype: 'float32', shape: ['N', 8, 8, 3] }]);
  // the one Conv: its input activation quantized (Q + DQ), its weight stored INT8 (DQ only)
  expect(info.opTypeHistogram.QuantizeLinear).toBe(1);
  expect(info.opTypeHistogram.DequantizeLinear).toBe(2);
  expect(info.opTypeHistogram.Conv).toBe(1);
});
