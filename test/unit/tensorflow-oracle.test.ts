/**
 * @jest-environment ./test/unit/quantize.environment.js
 *
 * TensorFlow itself as the oracle (issue 19): the corpus of test/tensorflow/gen/corpus.py (one small graph per
 * op and attribute variant, TF1/TF2 control flow, keras.applications networks as SavedModel, Keras export and
 * frozen GraphDef) is converted and run in onnxruntime-node; every output is compared with TensorFlow's:
 * float within 1e-4 of the reference's largest magnitude, integers/booleans exact, NMS indices as sets.
 * A case either agrees, or is refused with UNSUPPORTED_OP naming its node and op (listed at the end); any
 * other error or any disagreement fails. Whole models convert through the CLI as a process.
 * Subset "ci" by default (op cases + MobileNetV2 by all routes); TN_TF_CORPUS=full (npm run test:tensorflow) all.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readNpyFile } from '../../lib/npy';
import { TensorRTError } from '../../lib/errors';
import { convertTensorFlowToFile } from '../../lib/tensorflow';
import { ort } from './helpers/tf-agree';
import { loadCorpus, type CorpusCase } from './helpers/tf-corpus';
import { compareOutput } from './helpers/tf-compare';

const { corpus, reason } = ort ? loadCorpus() : { corpus: undefined, reason: 'onnxruntime-node is not installed' };
if (!corpus) console.log(`tensorflow-oracle: skipped: ${reason}`);
const d = corpus ? describe : describe.skip;
const cli = path.join(__dirname, '..', '..', 'dist', 'cli', 'index.js');

function canonical(n: string): string {
  return n.endsWith(':0') ? n.slice(0, -2) : n;
}

const refused: string[] = [];
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-oracle-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  if (corpus) {
    console.log(`tensorflow-oracle: ${corpus.cases.length} cases (TensorFlow ${corpus.tensorflow}, subset ${corpus.subset}); ${refused.length} refused with UNSUPPORTED_OP:\n  ${refused.join('\n  ')}`);
  }
});

async function runCase(c: CorpusCase): Promise<void> {
  const src = path.join(corpus!.dir, c.path);
  const out = path.join(tmp, `${c.name.replace(/[^A-Za-z0-9_]/g, '_')}.onnx`);
  if (c.route === 'op') {
    try {
      convertTensorFlowToFile(src, out, c.opset ? { opset: c.opset } : {});
    } catch (e) {
      if (e instanceof TensorRTError && e.code === 'UNSUPPORTED_OP') {
        refused.push(`${c.name}: ${e.message}`);
        expect(fs.existsSync(out)).toBe(false);
        return;
      }
      throw e;
    }
  } else {
    execFileSync(process.execPath, [cli, 'convert', src, '-o', out], { stdio: 'pipe' });
  }
  const s = await ort!.InferenceSession.create(out);
  const feeds: Record<string, import('onnxruntime-node').Tensor> = {};
  c.inputs.forEach((i, k) => {
    const a = readNpyFile(path.join(corpus!.dir, i.npy));
    const name = i.name && s.inputNames.includes(canonical(i.name)) ? canonical(i.name) : s.inputNames[k]!;
    const type = a.dtype === 'bool' ? 'bool' : a.dtype;
    feeds[name] = new ort!.Tensor(type as 'float32', a.data as Float32Array, a.shape);
  });
  const res = await s.run(feeds);
  const problems: string[] = [];
  c.outputs.forEach((o, k) => {
    const name = o.name && s.outputNames.includes(canonical(o.name)) ? canonical(o.name) : s.outputNames[k]!;
    const got = res[name]!;
    const why = compareOutput({ data: got.data as ArrayLike<number>, dims: got.dims }, readNpyFile(path.join(corpus!.dir, o.npy)), o.compare ?? 'close');
    if (why) problems.push(`${name}: ${why}`);
  });
  expect(problems).toEqual([]);
}

d('TensorFlow oracle corpus', () => {
  const cases = corpus?.cases ?? [];
  const ops = cases.filter((c) => c.route === 'op');
  const models = cases.filter((c) => c.route !== 'op');
  test.each(ops.map((c) => [c.name, c] as const))('op case %s agrees with TensorFlow or is refused with UNSUPPORTED_OP', async (_n, c) => runCase(c));
  test.each(models.map((c) => [c.name, c] as const))('model %s: tensorrt-node convert agrees with TensorFlow', async (_n, c) => runCase(c), 600000);
});

d('TF2 SavedModel bad input (from the corpus MobileNetV2 SavedModel): CLI exits 1 with [CODE], no output file', () => {
  const sm = corpus ? path.join(corpus.dir, 'MobileNetV2_saved_model') : '';
  function convert(dir: string, extra: string[] = []): { status: number; stderr: string; out: string } {
    const out = path.join(tmp, `bad-${Math.random().toString(36).slice(2)}.onnx`);
    try {
      execFileSync(process.execPath, [cli, 'convert', dir, '-o', out, ...extra], { stdio: 'pipe' });
      return { status: 0, stderr: '', out };
    } catch (e) {
      const err = e as { status: number; stderr: Buffer };
      return { status: err.status, stderr: err.stderr.toString(), out };
    }
  }
  function copy(): string {
    const dir = fs.mkdtempSync(path.join(tmp, 'sm-'));
    fs.cpSync(sm, dir, { recursive: true });
    return dir;
  }
  test.each([
    ['unknown tag set', (dir: string) => dir, ['--tag-set', 'gpu'], 'INVALID_ARGUMENT'],
    ['unknown signature', (dir: string) => dir, ['--signature-def', 'nope'], 'INVALID_ARGUMENT'],
    ['truncated saved_model.pb', (dir: string) => { const p = path.join(dir, 'saved_model.pb'); fs.writeFileSync(p, fs.readFileSync(p).subarray(0, 5000)); return dir; }, [], 'PARSE_ERROR'],
    ['missing variables shard', (dir: string) => { fs.rmSync(path.join(dir, 'variables', 'variables.data-00000-of-00001')); return dir; }, [], 'IO_ERROR'],
  ] as const)('%s', (_n, mutate, extra, code) => {
    const r = convert(mutate(copy()), [...extra]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr.trim().endsWith(`[${code}]`)).toBe(true);
    expect(fs.existsSync(r.out)).toBe(false);
  });
  test('--tag-set serve --signature-def serving_default converts', () => {
    const r = convert(sm, ['--tag-set', 'serve', '--signature-def', 'serving_default']);
    expect(r.status).toBe(0);
    expect(fs.existsSync(r.out)).toBe(true);
  });
});
