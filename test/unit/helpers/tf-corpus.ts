/**
 * The TensorFlow oracle corpus (test/tensorflow/gen/corpus.py): generated once per machine into the git-ignored
 * .cache/tf-corpus/<hash of generator + requirements>/<subset>, by TensorFlow from the pinned venv
 * (scripts/python-env.js). Subset "ci" (default) or "full" (TN_TF_CORPUS=full, `npm run test:tensorflow`); "ops" (the
 * small graphs only) for scripts/gen-tf-op-table.js.
 */
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

export interface CorpusTensor { name: string | null; npy: string; compare?: 'close' | 'exact' | 'set' }
export interface CorpusCase { name: string; path: string; format: string; route: string; model?: string; inputs: CorpusTensor[]; outputs: CorpusTensor[]; ops?: string[]; opset?: number }
export interface Corpus { dir: string; tensorflow: string; subset: string; cases: CorpusCase[] }

const root = path.join(__dirname, '..', '..', '..');

export function corpusSubset(): 'ci' | 'full' {
  return process.env.TN_TF_CORPUS === 'full' ? 'full' : 'ci';
}

const gen = path.join(root, 'test', 'tensorflow', 'gen', 'corpus.py');

/** Where the corpus of `subset` ("ops": the small graphs only) is or will be, for the current generator. */
export function corpusDir(subset: 'ci' | 'full' | 'ops'): string {
  const req = path.join(root, 'requirements-test.txt');
  const reqTfjs = path.join(root, 'requirements-tfjs.txt');
  const hash = crypto.createHash('sha256').update(fs.readFileSync(gen)).update(fs.existsSync(req) ? fs.readFileSync(req) : '')
    .update(fs.existsSync(reqTfjs) ? fs.readFileSync(reqTfjs) : '').digest('hex').slice(0, 12);
  return path.join(root, '.cache', 'tf-corpus', hash, subset);
}

/** The corpus, generating it when absent; or the one-line reason it cannot be had here. */
export function loadCorpus(subset: 'ci' | 'full' | 'ops' = corpusSubset()): { corpus?: Corpus; reason?: string } {
  if (process.env.TN_NO_TENSORFLOW === '1') return { reason: 'TN_NO_TENSORFLOW=1' };
  let dir = corpusDir(subset);
  let manifest = path.join(dir, 'manifest.json');
  if (!fs.existsSync(manifest)) {
    const { ensurePython, ensureTfjs } = require(path.join(root, 'scripts', 'python-env.js')) as {
      ensurePython: (o?: { quiet?: boolean }) => { python: string | null; reason: string | null };
      ensureTfjs: (o?: { quiet?: boolean }) => { pythonPath: string | null; reason: string | null };
    };
    const py = ensurePython({ quiet: true });
    if (!py.python) return { reason: `no Python test environment (${py.reason})` };
    const probe = spawnSync(py.python, ['-c', 'import tensorflow'], { encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3', TF_ENABLE_ONEDNN_OPTS: '0' } });
    if (probe.status !== 0) return { reason: `TensorFlow does not import in ${py.python}: ${(probe.stderr || '').trim().split('\n').pop()}` };
    // the TF.js graph-model route: tensorflowjs beside the venv (requirements-tfjs.txt); without it that route is absent,
    // and the corpus is kept under a name of its own, so that a later run where tensorflowjs installs makes the whole one
    const tfjs = ensureTfjs({ quiet: true });
    if (!tfjs.pythonPath) {
      console.log(`tf-corpus: no TF.js graph-model route: ${tfjs.reason}`);
      dir = `${dir}-without-tfjs`;
      manifest = path.join(dir, 'manifest.json');
    }
    if (!fs.existsSync(manifest)) {
      const tmp = `${dir}.tmp-${process.pid}`;
      fs.rmSync(tmp, { recursive: true, force: true });
      const r = spawnSync(py.python, [gen, tmp, '--subset', subset], {
        encoding: 'utf8', timeout: 30 * 60 * 1000, maxBuffer: 1 << 28,
        env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3', TF_ENABLE_ONEDNN_OPTS: '0', ...(tfjs.pythonPath ? { TN_TFJS_PYTHONPATH: tfjs.pythonPath } : {}) },
      });
      if (r.status !== 0) {
        fs.rmSync(tmp, { recursive: true, force: true });
        throw new Error(`corpus generator failed (status ${r.status}): ${(r.stderr || '').trim().split('\n').slice(-5).join(' | ')}`);
      }
      fs.rmSync(dir, { recursive: true, force: true });
      fs.renameSync(tmp, dir);
    }
  }
  const m = JSON.parse(fs.readFileSync(manifest, 'utf8')) as Omit<Corpus, 'dir'>;
  return { corpus: { dir, ...m } };
}
