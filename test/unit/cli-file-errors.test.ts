/**
 * One code and one message form per file-system cause, from every command (issue 25 item 10), each run as a child
 * process as a user would:
 *   a missing input   -> `tensorrt-node <cmd>: cannot read <what> <path>: no such file or directory [IO_ERROR]`
 *   an output under a directory that does not exist (/proc/nope, which cannot be made either)
 *                     -> `tensorrt-node <cmd>: cannot write <what> <path>: no such directory /proc/nope [IO_ERROR]`
 *   an output path that is a directory -> `cannot write <what> <path>: is a directory [IO_ERROR]`
 * (convert said INVALID_ARGUMENT and "ENOENT", quantize IO_ERROR, run "no such file", serve "does not exist";
 * export-triton and `fs.mkdir -p` on /proc/nope spun forever.) Every case exits 1 within the time limit. No TensorRT
 * or GPU is needed: each fault is found first.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeNpyFile } from '../../lib/npy';
import { cliProcess } from './helpers/cli-process';

const CLS = path.join(__dirname, '..', '..', 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
let tmp = '';
let calib = '';
let engine = '';
let tfjs = '';
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-file-errors-'));
  calib = path.join(tmp, 'calib');
  fs.mkdirSync(calib);
  writeNpyFile(path.join(calib, 'b0.npy'), { dtype: 'float32', shape: [1, 3, 48, 192], data: new Float32Array(3 * 48 * 192) });
  engine = path.join(tmp, 'tagged.engine'); // bytes with TensorRT's plan tag: an engine by the file rule; no TensorRT reads it here
  fs.writeFileSync(engine, Buffer.concat([Buffer.from('ftrt'), Buffer.alloc(60, 7)]));
  tfjs = path.join(tmp, 'model.json');
  fs.writeFileSync(tfjs, JSON.stringify({ format: 'graph-model', modelTopology: { node: [{ name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' } } }, { name: 'y', op: 'Relu', input: ['x'], attr: { T: { type: 'DT_FLOAT' } } }] }, weightsManifest: [] }));
  fs.mkdirSync(path.join(tmp, 'a-dir.onnx'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const M = () => path.join(tmp, 'missing.onnx');
const NOPE = '/proc/nope';

/** [command, argv, what the line names, the path it names] */
const MISSING_INPUT: [string, () => string[], string, () => string][] = [
  ['inspect', () => ['inspect', M()], 'model', M],
  ['build', () => ['build', M(), '-o', path.join(tmp, 'x.engine')], 'model', M],
  ['run', () => ['run', path.join(tmp, 'missing.engine')], 'engine', () => path.join(tmp, 'missing.engine')],
  ['bench', () => ['bench', path.join(tmp, 'missing.engine')], 'engine', () => path.join(tmp, 'missing.engine')],
  ['quantize', () => ['quantize', M(), '-o', path.join(tmp, 'q.onnx'), '--calib', calib], 'model', M],
  ['convert', () => ['convert', path.join(tmp, 'missing.json'), '-o', path.join(tmp, 'c.onnx')], 'model', () => path.join(tmp, 'missing.json')],
  ['export-triton', () => ['export-triton', path.join(tmp, 'tri'), '-m', M()], 'model repository', M],
  ['serve', () => ['serve', M()], 'model repository', M],
  ['run', () => ['run', engine, '--input', `x=${path.join(tmp, 'none.npy')}`], '--input x', () => path.join(tmp, 'none.npy')],
  ['bench', () => ['bench', engine, '--input', `x=${path.join(tmp, 'none.npy')}`], '--input x', () => path.join(tmp, 'none.npy')],
  ['build', () => ['build', CLS, '-o', path.join(tmp, 'x.engine'), '--shapes', 'x:1x3x48x192', '--calib', path.join(tmp, 'nocalib')], 'calibration directory', () => path.join(tmp, 'nocalib')],
  ['quantize', () => ['quantize', CLS, '-o', path.join(tmp, 'q.onnx'), '--calib', path.join(tmp, 'nocalib')], 'calibration directory', () => path.join(tmp, 'nocalib')],
];

const UNWRITABLE_OUTPUT: [string, () => string[], string, string][] = [
  ['build', () => ['build', CLS, '-o', `${NOPE}/x.engine`, '--shapes', 'x:1x3x48x192'], 'engine', `${NOPE}/x.engine`],
  ['quantize', () => ['quantize', CLS, '-o', `${NOPE}/q.onnx`, '--calib', calib], 'model', `${NOPE}/q.onnx`],
  ['quantize', () => ['quantize', CLS, '-o', path.join(tmp, 'q.onnx'), '--calib', calib, '--cache', `${NOPE}/q.cache`], 'calibration cache', `${NOPE}/q.cache`],
  ['convert', () => ['convert', tfjs, '-o', `${NOPE}/x.onnx`], 'model', `${NOPE}/x.onnx`],
  ['export-triton', () => ['export-triton', `${NOPE}/tri`, '-m', CLS], 'Triton repository', `${NOPE}/tri`],
  ['run', () => ['run', engine, '--output-dir', `${NOPE}/out`], 'output directory', `${NOPE}/out`],
];

const OUTPUT_IS_A_DIRECTORY: [string, () => string[], string, () => string][] = [
  ['build', () => ['build', CLS, '-o', path.join(tmp, 'a-dir.onnx'), '--shapes', 'x:1x3x48x192'], 'engine', () => path.join(tmp, 'a-dir.onnx')],
  ['quantize', () => ['quantize', CLS, '-o', path.join(tmp, 'a-dir.onnx'), '--calib', calib], 'model', () => path.join(tmp, 'a-dir.onnx')],
  ['convert', () => ['convert', tfjs, '-o', path.join(tmp, 'a-dir.onnx')], 'model', () => path.join(tmp, 'a-dir.onnx')],
];

async function expectLine(command: string, argv: string[], line: string): Promise<void> {
  const t0 = Date.now();
  const r = await cliProcess(argv, { cwd: tmp, timeoutMs: 20_000 });
  expect({ argv: argv.join(' '), status: r.status, stderr: r.stderr }).toEqual({ argv: argv.join(' '), status: 1, stderr: `tensorrt-node ${command}: ${line} [IO_ERROR]\n` });
  expect(Date.now() - t0).toBeLessThan(20_000);
}

test.each(MISSING_INPUT)('a missing input: %s', async (command, argv, what, p) => {
  await expectLine(command, argv(), `cannot read ${what} ${p()}: no such file or directory`);
});

test.each(UNWRITABLE_OUTPUT)('an output under a directory that does not exist: %s', async (command, argv, what, p) => {
  await expectLine(command, argv(), `cannot write ${what} ${p}: no such directory ${NOPE}`);
});

test.each(OUTPUT_IS_A_DIRECTORY)('an output path that is a directory: %s', async (command, argv, what, p) => {
  await expectLine(command, argv(), `cannot write ${what} ${p()}: is a directory`);
});

test('the table covers every command that reads or writes a file', () => {
  const covered = new Set([...MISSING_INPUT, ...UNWRITABLE_OUTPUT, ...OUTPUT_IS_A_DIRECTORY].map((c) => c[0]));
  expect([...covered].sort()).toEqual(['bench', 'build', 'convert', 'export-triton', 'inspect', 'quantize', 'run', 'serve']);
});
