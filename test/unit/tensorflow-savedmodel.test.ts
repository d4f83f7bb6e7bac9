/**
 * @jest-environment ./test/unit/quantize.environment.js
 *
 * SavedModels that TensorFlow itself wrote (test/tensorflow/gen/savedmodels.py: a tf.Module with two signatures and
 * a Keras CNN exported with model.export), through the CLI (issue 19, items 4 and 5):
 * - `inspect <dir>` and `inspect <dir> --json` against `saved_model_cli show --dir <dir> --all`, parsed (the
 *   oracle is TensorFlow's own tool);
 * - `convert --inputs-as-nchw`: onnxruntime on the NCHW-transposed input gives TensorFlow's output on the NHWC one;
 * - `build <dir>` converts, then stops at TensorRT (TENSORRT_UNAVAILABLE, exit 1, one line) where it is absent;
 *   a bad SavedModel gives its own error first;
 * - bad input (truncated saved_model.pb, missing variables shard, unknown tag set or signature): the error's code,
 *   exit 1, no output file.
 * Skips with one printed line where Python/TensorFlow (or onnxruntime-node) is absent.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli } from '../../lib/cli/program';
import { runtimeInfo } from '../../lib/info';
import { readNpyFile } from '../../lib/npy';
import { cliProcess } from './helpers/cli-process';
import { ort } from './helpers/tf-agree';
import { loadSavedModels, parseSavedModelCliShow } from './helpers/tf-savedmodels';

const { models, reason } = loadSavedModels();
if (!models) console.log(`tensorflow-savedmodel: skipped: ${reason}`);
const d = models ? describe : describe.skip;

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false });
  return { code, out, err };
}

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-savedmodel-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function copyModel(src: string, name: string): string {
  const dst = path.join(tmp, name);
  fs.cpSync(src, dst, { recursive: true });
  return dst;
}

d('inspect <saved_model_dir> shows what saved_model_cli show --all shows', () => {
  for (const which of ['module', 'keras'] as const) {
    it(`${which}: tag sets, signatures, inputs and outputs with dtypes, shapes and names, method names`, async () => {
      const dir = models![which];
      const want = parseSavedModelCliShow(fs.readFileSync(path.join(models!.dir, `${which}.show.txt`), 'utf8'));
      expect(want.length).toBeGreaterThan(0);
      const j = await cli(['inspect', dir, '--json']);
      expect(j.err).toBe('');
      expect(j.code).toBe(0);
      const got = JSON.parse(j.out) as { format: string; metaGraphs: { tags: string[]; signatures: { key: string }[] }[] };
      expect(got.format).toBe('saved-model');
      // saved_model_cli lists signatures by key; inspect puts serving_default first, then by key
      const byKey = <T extends { key: string }>(a: T[]) => [...a].sort((x, y) => (x.key < y.key ? -1 : 1));
      expect(got.metaGraphs.map((m) => ({ ...m, signatures: byKey(m.signatures) }))).toEqual(want.map((m) => ({ ...m, signatures: byKey(m.signatures) })));
      for (const m of got.metaGraphs) expect(m.signatures[0]!.key).toBe('serving_default');
      // the text, parsed as saved_model_cli's, says the same
      const t = await cli(['inspect', dir]);
      expect(t.code).toBe(0);
      expect(parseSavedModelCliShow(t.out)).toEqual(got.metaGraphs);
    });
  }

  it('the two-signature module: serving_default and scale as TensorFlow wrote them', async () => {
    const got = JSON.parse((await cli(['inspect', models!.module, '--json'])).out) as { metaGraphs: { signatures: { key: string; inputs: unknown[] }[] }[] };
    const keys = got.metaGraphs[0]!.signatures.map((s) => s.key);
    expect(keys.slice(0, 1)).toEqual(['serving_default']);
    expect(keys).toEqual(expect.arrayContaining(['scale', 'serving_default']));
    const scale = got.metaGraphs[0]!.signatures.find((s) => s.key === 'scale')!;
    expect(scale.inputs).toEqual([{ key: 'a', dtype: 'DT_FLOAT', shape: [2, -1], name: 'scale_a:0' }, { key: 'k', dtype: 'DT_INT32', shape: [], name: 'scale_k:0' }]);
  });

  it('a truncated saved_model.pb: PARSE_ERROR, exit 1', async () => {
    const dir = copyModel(models!.module, 'm');
    const pb = path.join(dir, 'saved_model.pb');
    fs.writeFileSync(pb, fs.readFileSync(pb).subarray(0, 500));
    const r = await cli(['inspect', dir]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/not a SavedModel.*\[PARSE_ERROR\]\n$/);
  });
});

(models && ort ? describe : describe.skip)('convert --inputs-as-nchw (tf2onnx\'s option)', () => {
  it('the Keras export takes NCHW; onnxruntime on it gives TensorFlow\'s output on the NHWC input', async () => {
    const o = path.join(tmp, 'k.onnx');
    const r = await cli(['convert', models!.keras, '-o', o, '--inputs-as-nchw', `serving_default_${models!.kerasInput}:0`, '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.out) as { inputs: { name: string; shape: number[] }[] };
    expect(rep.inputs[0]!.shape).toEqual([-1, 3, 8, 8]);
    const nhwc = readNpyFile(path.join(models!.dir, 'keras_in.npy'));
    const want = readNpyFile(path.join(models!.dir, 'keras_out.npy'));
    const [n, h, w, c] = nhwc.shape as [number, number, number, number];
    const src = nhwc.data as Float32Array;
    const nchw = new Float32Array(src.length);
    for (let i = 0; i < n; i++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) nchw[((i * c + k) * h + y) * w + x] = src[((i * h + y) * w + x) * c + k]!;
    const session = await ort!.InferenceSession.create(o);
    expect(session.inputNames).toEqual([rep.inputs[0]!.name]);
    const got = (await session.run({ [session.inputNames[0]!]: new ort!.Tensor('float32', nchw, [n, c, h, w]) }))[session.outputNames[0]!]!;
    expect([...got.dims]).toEqual(want.shape);
    const ref = want.data as Float32Array;
    const scale = Math.max(...Array.from(ref, Math.abs));
    const worst = Math.max(...Array.from(got.data as Float32Array, (v, i) => Math.abs(v - ref[i]!)));
    expect(worst).toBeLessThanOrEqual(1e-4 * scale);
  });

  it('an unknown input name or a rank below 3: INVALID_ARGUMENT, no file', async () => {
    const o = path.join(tmp, 'k.onnx');
    const r = await cli(['convert', models!.keras, '-o', o, '--inputs-as-nchw', 'nope']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nope is not an input.*\[INVALID_ARGUMENT\]/);
    const r2 = await cli(['convert', models!.module, '-o', o, '--inputs-as-nchw', 'serving_default_x']);
    expect(r2.code).toBe(1);
    expect(r2.err).toMatch(/rank 2.*\[INVALID_ARGUMENT\]/);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });
});

d('build <saved_model_dir>: converts, then builds', () => {
  const trt = runtimeInfo().tensorrt.available;
  (trt ? it.skip : it)('where TensorRT is absent: TENSORRT_UNAVAILABLE after the conversion, exit 1, one line, no engine', async () => {
    const out = path.join(tmp, 'k.engine');
    const r = await cliProcess(['build', models!.keras, '-o', out, '--shapes', `serving_default_${models!.kerasInput}:1x8x8x3`]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/\[TENSORRT_UNAVAILABLE\]\n$/);
    expect(fs.existsSync(out)).toBe(false);
    // the conversion came first: the converted model's own input names are checked before TensorRT is looked for
    const dyn = await cli(['build', models!.keras, '-o', out]);
    expect(dyn.code).toBe(1);
    expect(dyn.err).toMatch(/input 'serving_default_images' \[N, 8, 8, 3\] has dynamic dimensions.*\[INVALID_ARGUMENT\]/);
  }, 60_000);

  it('a bad SavedModel gives its PARSE_ERROR first', async () => {
    const dir = copyModel(models!.keras, 'k');
    const pb = path.join(dir, 'saved_model.pb');
    fs.writeFileSync(pb, fs.readFileSync(pb).subarray(0, 700));
    const out = path.join(tmp, 'k.engine');
    const r = await cliProcess(['build', dir, '-o', out, '--shapes', 'serving_default_images:1x8x8x3']);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/saved_model\.pb: not a SavedModel.*\[PARSE_ERROR\]\n$/);
    expect(fs.existsSync(out)).toBe(false);
  }, 60_000);
});

d('bad SavedModels: the error\'s code, exit 1, no output file', () => {
  const cases: [string, (dir: string) => string[], RegExp][] = [
    ['a truncated saved_model.pb', (dir) => {
      const pb = path.join(dir, 'saved_model.pb');
      fs.writeFileSync(pb, fs.readFileSync(pb).subarray(0, 500));
      return [];
    }, /not a SavedModel.*\[PARSE_ERROR\]/],
    ['a missing variables shard', (dir) => {
      fs.rmSync(path.join(dir, 'variables', 'variables.data-00000-of-00001'));
      return [];
    }, /variables shard .*variables\.data-00000-of-00001.*ENOENT \[IO_ERROR\]/],
    ['an unknown tag set', () => ['--tag-set', 'gpu'], /no MetaGraph tagged gpu \(have: \[serve\]\) \[INVALID_ARGUMENT\]/],
    ['an unknown signature', () => ['--signature-def', 'nope'], /no signature "nope" \(have: .*serving_default\) \[INVALID_ARGUMENT\]/],
  ];
  for (const [what, spoil, msg] of cases) {
    it(what, async () => {
      const dir = copyModel(models!.module, 'm');
      const extra = spoil(dir);
      for (const cmd of ['convert', 'build']) {
        const out = path.join(tmp, cmd === 'convert' ? 'm.onnx' : 'm.engine');
        const r = await cli([cmd, dir, '-o', out, ...extra, ...(cmd === 'build' ? ['--shapes', 'serving_default_x:1x3'] : [])]);
        expect(r.code).toBe(1);
        expect(r.out).toBe('');
        expect(r.err.trim().split('\n')).toHaveLength(1);
        expect(r.err).toMatch(msg);
        expect(fs.readdirSync(tmp)).toEqual(['m']);
      }
    });
  }
});
