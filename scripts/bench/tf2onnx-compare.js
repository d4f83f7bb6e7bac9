#!/usr/bin/env node
'use strict';
/**
 * Side by side with tf2onnx on the oracle corpus' whole models (.cache/tf-corpus/<hash>/<subset>, made by
 * test/unit/tensorflow-oracle.test.ts; subset `full` has all five keras networks): per model and route,
 * conversion wall time (process start included, both sides), ONNX node count and file size, for
 * `tensorrt-node convert` and `python -m tf2onnx.convert` (opset 13 both), and whether each converter's ONNX,
 * run in onnxruntime-node on the corpus inputs, agrees with TensorFlow's stored outputs by the oracle test's rule
 * (float within 1e-4 of the reference's largest magnitude; max |diff| / max |ref| is printed).
 *   node scripts/bench/tf2onnx-compare.js <corpus dir> [--python PY] [--models A,B] [--routes R,S] [--json OUT]
 * Needs dist/ (npm run build) and tf2onnx in the Python (default .cache/venv, requirements-test.txt).
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const argv = process.argv.slice(2);
const opt = (k, d) => (argv.includes(k) ? argv[argv.indexOf(k) + 1] : d);
const dir = argv[0];
if (!dir || !fs.existsSync(path.join(dir, 'manifest.json'))) {
  console.error('usage: node scripts/bench/tf2onnx-compare.js <corpus dir with manifest.json> [--python PY] [--models A,B] [--routes R,S] [--json OUT]');
  process.exit(2);
}
const py = opt('--python', path.join(__dirname, '..', '..', '.cache', 'venv', 'bin', 'python'));
const models = opt('--models') ? opt('--models').split(',') : undefined;
const routes = opt('--routes') ? opt('--routes').split(',') : undefined;
const jsonOut = opt('--json');
const { loadModel } = require('../../dist/onnx');
const { readNpyFile } = require('../../dist/npy');
const ort = require('onnxruntime-node');
const cases = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).cases
  .filter((c) => c.route !== 'op' && (!models || models.includes(c.model)) && (!routes || routes.includes(c.route)));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tf2onnx-cmp-'));
const env = { ...process.env, TF_ENABLE_ONEDNN_OPTS: '0', TF_CPP_MIN_LOG_LEVEL: '3', CUDA_VISIBLE_DEVICES: '' };

function run(cmd, args, out) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', maxBuffer: 1 << 28 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0 || !fs.existsSync(out)) return { ok: false, ms, why: (r.stderr || '').trim().split('\n').pop() };
  return { ok: true, ms, nodes: loadModel(fs.readFileSync(out)).graph.node.length, bytes: fs.statSync(out).size };
}

/** The name in the session for a TF tensor name (x:0 / x), else the k-th. */
function pick(names, tfName, k) {
  if (tfName) {
    for (const n of [tfName, tfName.replace(/:0$/, ''), `${tfName.replace(/:0$/, '')}:0`]) if (names.includes(n)) return n;
  }
  return names[k];
}

/** Runs the ONNX on the corpus inputs; worst max|diff| / max|ref| over the float outputs (exact for others). */
async function check(c, file) {
  const s = await ort.InferenceSession.create(file);
  const feeds = {};
  c.inputs.forEach((i, k) => {
    const a = readNpyFile(path.join(dir, i.npy));
    feeds[pick(s.inputNames, i.name, k)] = new ort.Tensor(a.dtype === 'bool' ? 'bool' : a.dtype, a.data, a.shape);
  });
  const res = await s.run(feeds);
  let worst = 0;
  const why = [];
  c.outputs.forEach((o, k) => {
    const got = res[pick(s.outputNames, o.name, k)];
    const ref = readNpyFile(path.join(dir, o.npy));
    if (!got || got.dims.join('x') !== ref.shape.join('x')) {
      why.push(`output ${k}: shape ${got ? got.dims.join('x') : 'missing'} != ${ref.shape.join('x')}`);
      return;
    }
    let maxRef = 0;
    let d = 0;
    for (let i = 0; i < ref.data.length; i++) {
      maxRef = Math.max(maxRef, Math.abs(Number(ref.data[i])));
      d = Math.max(d, Math.abs(Number(got.data[i]) - Number(ref.data[i])));
    }
    worst = Math.max(worst, maxRef > 0 ? d / maxRef : d);
  });
  return { agrees: why.length === 0 && worst <= 1e-4, worst, why: why.join('; ') };
}

async function main() {
  const ver = spawnSync(py, ['-c', 'import tf2onnx, tensorflow as tf; print(tf2onnx.__version__, tf.__version__)'], { env, encoding: 'utf8' }).stdout.trim();
  const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) || [])[1] || os.cpus()[0].model;
  console.log(`machine: ${cpu}, ${os.cpus().length} cores visible, ${os.platform()}; tf2onnx, TensorFlow: ${ver}; onnxruntime-node ${require('onnxruntime-node/package.json').version}`);
  const rows = [];
  const t0 = Date.now();
  for (const c of cases) {
    const src = path.join(dir, c.path);
    const a = path.join(tmp, 'ours.onnx');
    const b = path.join(tmp, 'tf2onnx.onnx');
    const ours = run(process.execPath, [path.join(__dirname, '..', '..', 'dist', 'cli', 'index.js'), 'convert', src, '-o', a], a);
    const targs = c.format === 'saved-model' ? ['--saved-model', src]
      : c.format === 'tfjs-graph-model' ? ['--tfjs', src]
        : ['--graphdef', src, '--inputs', c.inputs.map((i) => i.name).join(','), '--outputs', c.outputs.map((o) => o.name).join(',')];
    const peer = run(py, ['-m', 'tf2onnx.convert', ...targs, '--opset', '13', '--output', b], b);
    if (ours.ok) ours.check = await check(c, a);
    if (peer.ok) peer.check = await check(c, b);
    const f = (r) => (r.ok
      ? `${r.ms.toFixed(0)} ms, ${r.nodes} nodes, ${(r.bytes / 1e6).toFixed(2)} MB, ${r.check.agrees ? 'agrees' : 'DISAGREES'} (${r.check.worst.toExponential(1)}${r.check.why ? `; ${r.check.why}` : ''})`
      : `failed (${r.why})`);
    console.log(`${c.name}: tensorrt-node ${f(ours)} | tf2onnx ${f(peer)}${ours.ok && peer.ok ? ` | time ratio ${(ours.ms / peer.ms).toFixed(2)}` : ''}`);
    rows.push({ name: c.name, ours, tf2onnx: peer });
    fs.rmSync(a, { force: true });
    fs.rmSync(b, { force: true });
  }
  const both = rows.filter((r) => r.ours.ok && r.tf2onnx.ok);
  const sum = (k) => both.reduce((s, r) => s + r[k].ms, 0);
  if (both.length) console.log(`total over ${both.length} cases: tensorrt-node ${(sum('ours') / 1000).toFixed(1)} s, tf2onnx ${(sum('tf2onnx') / 1000).toFixed(1)} s, ratio ${(sum('ours') / sum('tf2onnx')).toFixed(2)}; wall ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify({ cpu, versions: ver, rows }, null, 1));
  fs.rmSync(tmp, { recursive: true, force: true });
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
