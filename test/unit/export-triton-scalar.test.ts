/**
 * export-triton on a model with a scalar input (issue 25 item 10): Triton's model configuration requires at least
 * one dimension, and documents a scalar as `dims: [ 1 ]` with `reshape: { shape: [ ] }` (the "Reshape" section of
 * its model_configuration.md). It wrote `dims: [ ]`. Run as a child process as a user would.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { onnx, saveModel } from '../../lib/onnx';
import { cliProcess } from './helpers/cli-process';

test('a scalar input is dims [ 1 ] reshaped to [ ]; other tensors keep their dims', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'triton-scalar-'));
  try {
    const vi = (name: string, dims: number[]) => onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      graph: { name: 'g', node: [{ opType: 'Mul', input: ['x', 's'], output: ['y'] }], input: [vi('x', [4]), vi('s', [])], output: [vi('y', [4])] },
    });
    const file = path.join(dir, 'scale.onnx');
    fs.writeFileSync(file, saveModel(model));
    const r = await cliProcess(['export-triton', path.join(dir, 'out'), '-m', file]);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const cfg = fs.readFileSync(path.join(dir, 'out', 'scale', 'config.pbtxt'), 'utf8');
    expect(cfg).toContain('max_batch_size: 0');
    expect(cfg).not.toMatch(/dims: \[ \]/);
    expect(cfg).toMatch(/name: "s"\n {4}data_type: TYPE_FP32\n {4}dims: \[ 1 \]\n {4}reshape: \{ shape: \[ \] \}/);
    expect(cfg).toMatch(/name: "x"\n {4}data_type: TYPE_FP32\n {4}dims: \[ 4 \]\n {2}\}/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
