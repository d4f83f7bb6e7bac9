/**
 * SavedModels written by TensorFlow itself (test/tensorflow/gen/savedmodels.py: a tf.Module with two signatures,
 * a Keras CNN exported with model.export, TensorFlow's outputs on fixed inputs and `saved_model_cli show --all`
 * of each), generated once per machine into the git-ignored .cache/tf-savedmodels/<hash of the generator>, from
 * the pinned venv (scripts/python-env.js). Where Python or TensorFlow is absent: the one-line reason to skip.
 */
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

const root = path.join(__dirname, '..', '..', '..');

export interface SavedModels { dir: string; module: string; keras: string; kerasInput: string; kerasOutput: string; python: string }

export function loadSavedModels(): { models?: SavedModels; reason?: string } {
  if (process.env.TN_NO_TENSORFLOW === '1') return { reason: 'TN_NO_TENSORFLOW=1' };
  const gen = path.join(root, 'test', 'tensorflow', 'gen', 'savedmodels.py');
  const hash = crypto.createHash('sha256').update(fs.readFileSync(gen)).digest('hex').slice(0, 12);
  const dir = path.join(root, '.cache', 'tf-savedmodels', hash);
  const { ensurePython } = require(path.join(root, 'scripts', 'python-env.js')) as { ensurePython: (o?: { quiet?: boolean }) => { python: string | null; reason: string | null } };
  const py = ensurePython({ quiet: true });
  if (!py.python) return { reason: `no Python test environment (${py.reason})` };
  const env = { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3', TF_ENABLE_ONEDNN_OPTS: '0' };
  const manifest = path.join(dir, 'manifest.json');
  if (!fs.existsSync(manifest)) {
    const probe = spawnSync(py.python, ['-c', 'import tensorflow'], { encoding: 'utf8', env });
    if (probe.status !== 0) return { reason: `TensorFlow does not import in ${py.python}: ${(probe.stderr || '').trim().split('\n').pop()}` };
    const tmp = `${dir}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    const r = spawnSync(py.python, [gen, tmp], { encoding: 'utf8', env, timeout: 10 * 60 * 1000, maxBuffer: 1 << 26 });
    if (r.status !== 0) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw new Error(`savedmodels.py failed (status ${r.status}): ${(r.stderr || '').trim().split('\n').slice(-5).join(' | ')}`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    fs.renameSync(tmp, dir);
  }
  const m = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { keras: { input: string; output: string } };
  return { models: { dir, module: path.join(dir, 'module'), keras: path.join(dir, 'keras'), kerasInput: m.keras.input, kerasOutput: m.keras.output, python: py.python } };
}

export interface ShownTensor { key: string; dtype: string; shape: number[] | null; name: string }
export interface ShownSignature { key: string; methodName: string; inputs: ShownTensor[]; outputs: ShownTensor[] }

/** The tag sets and SignatureDefs of `saved_model_cli show --all` text. */
export function parseSavedModelCliShow(text: string): { tags: string[]; signatures: ShownSignature[] }[] {
  const out: { tags: string[]; signatures: ShownSignature[] }[] = [];
  let sig: ShownSignature | undefined;
  let side: 'inputs' | 'outputs' = 'inputs';
  let t: ShownTensor | undefined;
  for (const line of text.split('\n')) {
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^MetaGraphDef with tag-set: '(.*)' contains the following SignatureDefs:/))) out.push({ tags: m[1]!.split(', '), signatures: [] });
    else if ((m = line.match(/^signature_def\['(.*)'\]:/))) out[out.length - 1]!.signatures.push((sig = { key: m[1]!, methodName: '', inputs: [], outputs: [] }));
    else if ((m = line.match(/^ {4}(inputs|outputs)\['(.*)'\] tensor_info:/))) {
      side = m[1] as 'inputs' | 'outputs';
      sig![side].push((t = { key: m[2]!, dtype: '', shape: null, name: '' }));
    } else if ((m = line.match(/^ {8}dtype: (\S+)/))) t!.dtype = m[1]!;
    else if ((m = line.match(/^ {8}shape: (.*)/))) t!.shape = m[1] === 'unknown_rank' ? null : m[1]!.replace(/[()\s]/g, '').split(',').filter((d) => d).map(Number);
    else if ((m = line.match(/^ {8}name: (.*)/))) t!.name = m[1]!;
    else if ((m = line.match(/^ {2}Method name is: ?(.*)/))) sig!.methodName = m[1]!;
  }
  return out;
}
