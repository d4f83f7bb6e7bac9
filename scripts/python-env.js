#!/usr/bin/env node
'use strict';
/**
 * The Python side of the test suite: a git-ignored virtual environment `.cache/venv` holding the pinned
 * packages of `requirements-test.txt` (TensorFlow as the conversion oracle, tf2onnx as the peer, tritonclient
 * as the serving client, ...). Made by the test command on first use and re-made when the requirements change
 * (their hash is kept in .cache/venv/.requirements-sha256).
 *
 *   node scripts/python-env.js          ensure the venv; prints its python path, or one line why not (exit 1)
 *   require('./scripts/python-env').ensurePython()  -> { python, reason }
 *
 * Where no `python3` with `venv` exists, or the install fails (no registry), suites that need Python are not
 * started and the test command says why in one line. TN_PYTHON=/path/python uses a given interpreter instead
 * (its packages are then the caller's business). TN_NO_PYTHON=1 skips the Python suites.
 *
 * Beside it, `.cache/tfjs-py` (ensureTfjs, used by the corpus generator for its TF.js graph-model route): the
 * pinned requirements-tfjs.txt installed with `pip install --no-deps --target` (tensorflowjs's own requirements
 * conflict with tensorflow-cpu), run by the venv's python with PYTHONPATH = that folder + a stub for TF-DF.
 * Where that install fails, only the TF.js route is missing (ensureTfjs says why).
 */
const { spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const venv = path.join(root, '.cache', 'venv');
const reqFile = path.join(root, 'requirements-test.txt');
const stamp = path.join(venv, '.requirements-sha256');

function venvPython() {
  return path.join(venv, 'bin', 'python');
}

function ensurePython({ quiet = false } = {}) {
  if (process.env.TN_NO_PYTHON === '1') return { python: null, reason: 'TN_NO_PYTHON=1' };
  if (process.env.TN_PYTHON) return { python: process.env.TN_PYTHON, reason: null };
  if (!fs.existsSync(reqFile)) return { python: null, reason: 'no requirements-test.txt' };
  const want = crypto.createHash('sha256').update(fs.readFileSync(reqFile)).digest('hex');
  if (fs.existsSync(venvPython()) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8').trim() === want) {
    return { python: venvPython(), reason: null };
  }
  const base = spawnSync('python3', ['-c', 'import sys, venv; print(sys.version.split()[0])'], { encoding: 'utf8' });
  if (base.status !== 0) return { python: null, reason: 'no python3 with the venv module on PATH' };
  const log = (m) => { if (!quiet) process.stderr.write(`python-env: ${m}\n`); };
  log(`making ${path.relative(root, venv)} (Python ${base.stdout.trim()}) from requirements-test.txt`);
  fs.rmSync(venv, { recursive: true, force: true });
  const mk = spawnSync('python3', ['-m', 'venv', venv], { encoding: 'utf8' });
  if (mk.status !== 0) return { python: null, reason: `python3 -m venv failed: ${(mk.stderr || '').trim().split('\n').pop()}` };
  const pip = spawnSync(venvPython(), ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', '-r', reqFile], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20 * 60 * 1000,
  });
  if (pip.status !== 0) {
    const tail = `${pip.stderr || ''}${pip.stdout || ''}`.trim().split('\n').slice(-3).join(' | ');
    return { python: null, reason: `pip install -r requirements-test.txt failed: ${tail || pip.error || 'unknown'}` };
  }
  fs.writeFileSync(stamp, `${want}\n`);
  log('ready');
  return { python: venvPython(), reason: null };
}

const tfjsDir = path.join(root, '.cache', 'tfjs-py');
const tfjsReq = path.join(root, 'requirements-tfjs.txt');
const tfjsStubs = path.join(root, 'test', 'tensorflow', 'gen', 'tfjs-stubs');

/** { pythonPath, reason }: the PYTHONPATH that gives the venv's python tensorflowjs, or why not. */
function ensureTfjs({ quiet = false } = {}) {
  const py = ensurePython({ quiet });
  if (!py.python) return { pythonPath: null, reason: py.reason };
  if (!fs.existsSync(tfjsReq)) return { pythonPath: null, reason: 'no requirements-tfjs.txt' };
  const want = crypto.createHash('sha256').update(fs.readFileSync(tfjsReq)).digest('hex');
  const st = path.join(tfjsDir, '.requirements-sha256');
  const pythonPath = [tfjsDir, tfjsStubs].join(path.delimiter);
  if (fs.existsSync(st) && fs.readFileSync(st, 'utf8').trim() === want) return { pythonPath, reason: null };
  if (!quiet) process.stderr.write(`python-env: installing ${path.relative(root, tfjsDir)} from requirements-tfjs.txt (--no-deps)\n`);
  fs.rmSync(tfjsDir, { recursive: true, force: true });
  const pip = spawnSync(py.python, ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', '--no-deps', '--target', tfjsDir, '-r', tfjsReq], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10 * 60 * 1000,
  });
  if (pip.status !== 0) {
    const tail = `${pip.stderr || ''}${pip.stdout || ''}`.trim().split('\n').slice(-3).join(' | ');
    return { pythonPath: null, reason: `pip install --no-deps -r requirements-tfjs.txt failed: ${tail || pip.error || 'unknown'}` };
  }
  const probe = spawnSync(py.python, ['-W', 'ignore', '-c', 'import tensorflowjs.converters.converter'], {
    encoding: 'utf8', env: { ...process.env, PYTHONPATH: pythonPath, TF_CPP_MIN_LOG_LEVEL: '3', TF_ENABLE_ONEDNN_OPTS: '0' },
  });
  if (probe.status !== 0) return { pythonPath: null, reason: `tensorflowjs does not import: ${(probe.stderr || '').trim().split('\n').pop()}` };
  fs.writeFileSync(st, `${want}\n`);
  return { pythonPath, reason: null };
}

module.exports = { ensurePython, ensureTfjs, venvPython, venvDir: venv };

if (require.main === module) {
  const r = ensurePython();
  if (r.python) console.log(r.python);
  else { console.log(`python-env: not available: ${r.reason}`); process.exit(1); }
}
