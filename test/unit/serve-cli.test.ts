/**
 * @jest-environment ./test/unit/quantize.environment.js
 */
/**
 * The `serve` and `export-triton` commands in-process (runCli): their argument and start-up errors (exit 1, one
 * line), the tensorrt backend refusing with its reason where TensorRT or a GPU is absent, and the Triton repository
 * written by export-triton (config.pbtxt in Triton's documented ModelConfig text format, model files copied).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli } from '../../lib/cli/program';
import { configPbtxt } from '../../lib/cli/export-triton';
import { runtimeInfo } from '../../lib/info';
import { CLS, makeRepo } from './serve-helpers';

async function run(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { out: (s) => (stdout += s), err: (s) => (stderr += s), isTTY: false });
  return { code, stdout, stderr };
}

let repo = '';
beforeAll(() => {
  repo = makeRepo({ 'cls/config.json': JSON.stringify({ maxBatchSize: 16, dynamicBatching: { preferredBatchSize: [4, 16], maxQueueDelayMicroseconds: 500 }, instances: 2 }) });
});
afterAll(() => fs.rmSync(repo, { recursive: true, force: true }));

describe('serve: start-up errors', () => {
  test('bad flags and missing repositories are one-line user errors (exit 1)', async () => {
    let r = await run('serve', path.join(repo, 'nope'), '--port', '0', '--log-level', 'silent');
    expect([r.code, r.stderr]).toEqual([1, expect.stringMatching(/^tensorrt-node serve: cannot read model repository .*nope: no such file or directory \[IO_ERROR\]\n$/)]);
    r = await run('serve', repo, '--backend', 'tensorflow');
    expect([r.code, r.stderr]).toEqual([1, expect.stringMatching(/--backend must be auto, tensorrt or onnxruntime; got 'tensorflow'/)]);
    r = await run('serve', repo, '--port', 'x');
    expect([r.code, r.stderr]).toEqual([1, expect.stringMatching(/--port: 'x' is not an integer/)]);
    r = await run('serve', repo, '--preferred-batch-size', '4,0');
    expect([r.code, r.stderr]).toEqual([1, expect.stringMatching(/--preferred-batch-size: '0' is not a positive integer/)]);
    const bad = makeRepo({ 'cls/config.json': '{"maxBatchSize": -1}' });
    fs.rmSync(path.join(bad, 'det'), { recursive: true });
    r = await run('serve', bad, '--port', '0', '--log-level', 'silent');
    expect([r.code, r.stderr]).toEqual([1, expect.stringMatching(/no model could be loaded .*maxBatchSize must be a non-negative integer/)]);
    fs.rmSync(bad, { recursive: true, force: true });
  });

  const info = runtimeInfo();
  const trtHere = info.tensorrt.available && info.cuda.available;
  (trtHere ? test.skip : test)('--backend tensorrt where TensorRT or a GPU is absent: refused with the reason', async () => {
    const r = await run('serve', CLS, '--backend', 'tensorrt', '--port', '0', '--log-level', 'silent');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the tensorrt backend cannot run here: (TensorRT is not available|no CUDA GPU)/);
  });
});

describe('export-triton', () => {
  test('writes config.pbtxt and the model files of a Triton repository', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tensorrt-node-triton-'));
    try {
      const r = await run('export-triton', out, '--model', repo);
      expect([r.code, r.stderr]).toEqual([0, '']);
      expect(r.stdout).toMatch(/cls: onnxruntime_onnx, versions 1, max_batch_size 16/);
      const cfg = fs.readFileSync(path.join(out, 'cls', 'config.pbtxt'), 'utf8');
      expect(cfg).toBe([
        'name: "cls"',
        'platform: "onnxruntime_onnx"',
        'max_batch_size: 16',
        'input [',
        '  {',
        '    name: "x"',
        '    data_type: TYPE_FP32',
        '    dims: [ 3, -1, -1 ]',
        '  }',
        ']',
        'output [',
        '  {',
        '    name: "softmax_0.tmp_0"',
        '    data_type: TYPE_FP32',
        '    dims: [ 2 ]',
        '  }',
        ']',
        'dynamic_batching {',
        '  preferred_batch_size: [ 4, 16 ]',
        '  max_queue_delay_microseconds: 500',
        '}',
        'instance_group [ { count: 2 kind: KIND_CPU } ]',
        '',
      ].join('\n'));
      expect(fs.readFileSync(path.join(out, 'cls', '1', 'model.onnx')).equals(fs.readFileSync(CLS))).toBe(true);
      expect(fs.readFileSync(path.join(out, 'det', 'config.pbtxt'), 'utf8')).toMatch(/name: "det"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 8\n/);
      expect(fs.readdirSync(path.join(out, 'cls')).sort()).toEqual(['1', 'config.pbtxt']); // no temporary files left
      const bad = await run('export-triton', out, '--model', repo, '--kind', 'KIND_TPU');
      expect([bad.code, bad.stderr]).toEqual([1, expect.stringMatching(/--kind must be KIND_GPU or KIND_CPU/)]);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  test('engines: platform tensorrt_plan, I/O left to Triton auto-complete', () => {
    const text = configPbtxt({ name: 'm', platform: 'tensorrt_plan', maxBatchSize: 8, batching: true, instances: 1, kind: 'KIND_GPU' });
    expect(text).toBe('name: "m"\nplatform: "tensorrt_plan"\nmax_batch_size: 8\ndynamic_batching {\n  max_queue_delay_microseconds: 0\n}\ninstance_group [ { count: 1 kind: KIND_GPU } ]\n');
  });
});
