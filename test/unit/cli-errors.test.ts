/**
 * CLI errors keep their promise: every error line, from every command, ends with `[CODE]` (a TensorRTError
 * code), and the same bad file gives the same code from every command that reads it (the rule is written in
 * lib/cli/files.ts). Runs in-process through runCli, without TensorRT or a GPU: every file problem below is
 * found before either is looked for.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli } from '../../lib/cli/program';
import { writeNpyFile } from '../../lib/npy';
import { wrapNativeError } from '../../lib/errors';

const CLS = path.join(__dirname, '..', '..', 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
/** A code lib/errors.ts knows (its own list, read through wrapNativeError, which maps unknown codes to INTERNAL). */
const isKnownCode = (c: string) => wrapNativeError({ code: c, message: '' }).code === c;

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { out: (s) => (stdout += s), err: (s) => (stderr += s), isTTY: false });
  return { code, stdout, stderr };
}

/** The code at the end of the one error line (and the line has the documented shape). */
function codeOf(r: { code: number; stdout: string; stderr: string }, command: string): string {
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(r.code).toBe(1);
  expect(lines[0]!.startsWith(`tensorrt-node${command ? ` ${command}` : ''}: `)).toBe(true);
  const m = / \[([A-Z_]+)\]$/.exec(lines[0]!);
  expect(m).not.toBeNull();
  expect(isKnownCode(m![1]!)).toBe(true);
  return m![1]!;
}

let tmp = '';
let calib = '';
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trtn-cli-errors-'));
  calib = path.join(tmp, 'calib');
  fs.mkdirSync(calib);
  writeNpyFile(path.join(calib, 'b0.npy'), { dtype: 'float32', shape: [1, 3, 48, 192], data: new Float32Array(3 * 48 * 192) });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const put = (name: string, content: Uint8Array | string) => {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, content);
  return f;
};

/** Every command that reads a model or engine file, as argv with the file in it. */
const COMMANDS: [string, (f: string) => string[]][] = [
  ['inspect', (f) => ['inspect', f]],
  ['inspect', (f) => ['inspect', f, '--json']],
  ['build', (f) => ['build', f, '-o', path.join(tmp, 'out.engine')]],
  ['run', (f) => ['run', f]],
  ['bench', (f) => ['bench', f, '--iterations', '5']],
  ['quantize', (f) => ['quantize', f, '-o', path.join(tmp, 'out.onnx'), '--calib', calib]],
];

describe('the same bad file gives the same code from every command', () => {
  const BAD_FILES: [string, () => string, string][] = [
    ['missing .onnx', () => path.join(tmp, 'missing.onnx'), 'IO_ERROR'],
    ['missing .engine', () => path.join(tmp, 'missing.engine'), 'IO_ERROR'],
    ['a directory', () => calib, 'IO_ERROR'],
    ['a directory named .engine', () => (fs.mkdirSync(path.join(tmp, 'dir.engine'), { recursive: true }), path.join(tmp, 'dir.engine')), 'IO_ERROR'],
    ['empty .onnx', () => put('empty.onnx', ''), 'PARSE_ERROR'],
    ['empty .engine', () => put('empty.engine', ''), 'DESERIALIZE_ERROR'],
    ['empty, no extension', () => put('empty', ''), 'PARSE_ERROR'],
    ['truncated ONNX model', () => put('truncated.onnx', fs.readFileSync(CLS).subarray(0, 4096)), 'PARSE_ERROR'],
    ['garbage .onnx', () => put('garbage.onnx', 'this is not a model\n'), 'PARSE_ERROR'],
    ['garbage .bin', () => put('garbage.bin', Buffer.from([0x0f, 0xff, 0xff, 0xff, 0x01, 0x02])), 'PARSE_ERROR'],
  ];
  test.each(BAD_FILES)('%s', async (_what, make, expected) => {
    const f = make();
    const got: Record<string, string> = {};
    for (const [name, argv] of COMMANDS) got[argv(f).join(' ').replace(f, '<file>')] = codeOf(await cli(...argv(f)), name);
    expect(new Set(Object.values(got))).toEqual(new Set([expected]));
  });

  test('a bad .npy input gives one code from run, bench and quantize', async () => {
    const engine = put('tagged2.engine', Buffer.concat([Buffer.from('ftrt'), Buffer.alloc(60, 7)]));
    const dir = path.join(tmp, 'badcalib');
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, content] of [['garbage.npy', 'not numpy'], ['truncated.npy', fs.readFileSync(path.join(calib, 'b0.npy')).subarray(0, 200)], ['empty.npy', '']] as const) {
      const npy = put(name, content);
      fs.rmSync(path.join(dir, 'b0.npy'), { force: true });
      fs.copyFileSync(npy, path.join(dir, 'b0.npy'));
      const codes = new Set([
        codeOf(await cli('run', engine, '--input', `x=${npy}`), 'run'),
        codeOf(await cli('bench', engine, '--input', `x=${npy}`), 'bench'),
        codeOf(await cli('quantize', CLS, '-o', path.join(tmp, 'q.onnx'), '--calib', dir), 'quantize'),
      ]);
      expect([name, [...codes]]).toEqual([name, ['INVALID_ARGUMENT']]);
    }
  });

  test('a readable file of the other kind is INVALID_ARGUMENT', async () => {
    for (const argv of [['run', CLS], ['bench', CLS]]) expect(codeOf(await cli(...argv), argv[0]!)).toBe('INVALID_ARGUMENT');
    const engine = put('tagged.engine', Buffer.concat([Buffer.from('ftrt'), Buffer.alloc(60, 7)]));
    expect(codeOf(await cli('build', engine, '-o', path.join(tmp, 'o.engine')), 'build')).toBe('INVALID_ARGUMENT');
    expect(codeOf(await cli('quantize', engine, '-o', path.join(tmp, 'o.onnx'), '--calib', calib), 'quantize')).toBe('INVALID_ARGUMENT');
  });
});

describe('every CLI error line ends with [CODE]', () => {
  const f = () => CLS;
  const CASES: [string, () => string[], string][] = [
    ['', () => ['nosuchcommand'], 'INVALID_ARGUMENT'],
    ['', () => ['--nosuchflag'], 'INVALID_ARGUMENT'],
    ['inspect', () => ['inspect'], 'INVALID_ARGUMENT'],
    ['inspect', () => ['inspect', f(), '--layers', 'x'], 'INVALID_ARGUMENT'],
    ['inspect', () => ['inspect', f(), '--nosuchflag'], 'INVALID_ARGUMENT'],
    ['build', () => ['build', f()], 'INVALID_ARGUMENT'],
    ['build', () => ['build', f(), '-o', path.join(tmp, 'x.engine'), '--memPoolSize', 'gpu:1G'], 'INVALID_ARGUMENT'],
    ['build', () => ['build', f(), '-o', path.join(tmp, 'x.engine'), '--shapes', 'x:1xq'], 'INVALID_ARGUMENT'],
    ['build', () => ['build', f(), '-o', path.join(tmp, 'no', 'such', 'dir', 'x.engine'), '--shapes', 'x:1x3x48x192'], 'IO_ERROR'],
    ['build', () => ['build', f(), '-o', path.join(tmp, 'x.engine'), '--shapes', 'x:1x3x48x192', '--calib', path.join(tmp, 'nope')], 'IO_ERROR'],
    ['run', () => ['run', f(), '--seed', 'x'], 'INVALID_ARGUMENT'],
    ['run', () => ['run', put('t.engine', Buffer.concat([Buffer.from('ftrt'), Buffer.alloc(8)])), '--input', `x=${path.join(tmp, 'none.npy')}`], 'IO_ERROR'],
    ['bench', () => ['bench', f(), '--iterations', '-1'], 'INVALID_ARGUMENT'],
    ['quantize', () => ['quantize', f()], 'INVALID_ARGUMENT'],
    ['quantize', () => ['quantize', f(), '-o', path.join(tmp, 'q.onnx'), '--calib', calib, '--method', 'best'], 'INVALID_ARGUMENT'],
    ['quantize', () => ['quantize', f(), '-o', path.join(tmp, 'no', 'q.onnx'), '--calib', calib], 'IO_ERROR'],
    ['quantize', () => ['quantize', f(), '-o', path.join(tmp, 'q.onnx'), '--calib', path.join(tmp, 'nope')], 'IO_ERROR'],
  ];
  test.each(CASES)('%s %#', async (command, argv, expected) => {
    expect(codeOf(await cli(...argv()), command)).toBe(expected);
  });
});
