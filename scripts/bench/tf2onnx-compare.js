#!/usr/bin/env node
'use strict';
/**
 * Side by side with tf2onnx on the oracle corpus' whole models (.cache/tf-corpus/<hash>/<subset>, made by
 * test/unit/tensorflow-oracle.test.ts): per model and route, conversion wall time (process start included,
 * both sides), ONNX node count and file size, for tensorrt-node convert and `python -m tf2onnx.convert`.
 *   node scripts/bench/tf2onnx-compare.js <corpus dir> [python]
 * Agreement with TensorFlow is checked by the oracle test (ours); not yet for tf2onnx's output here.
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const dir = process.argv[2];
const py = process.argv[3] || path.join(__dirname, '..', '..', '.cache', 'venv', 'bin', 'python');
const { loadModel } = require('../../dist/onnx');
const cases = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).cases.filter((c) => c.route !== 'op');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tf2onnx-cmp-'));
const env = { ...process.env, TF_ENABLE_ONEDNN_OPTS: '0', TF_CPP_MIN_LOG_LEVEL: '3' };
function run(cmd, args, out) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0 || !fs.existsSync(out)) return { ok: false, ms, why: (r.stderr || '').trim().split('\n').pop() };
  return { ok: true, ms, nodes: loadModel(fs.readFileSync(out)).graph.node.length, bytes: fs.statSync(out).size };
}
console.log(`machine: ${os.cpus()[0].model} x${os.cpus().length}, ${os.platform()}`);
for (const c of cases) {
  const src = path.join(dir, c.path);
  const a = path.join(tmp, 'ours.onnx');
  const b = path.join(tmp, 'tf2onnx.onnx');
  const ours = run(process.execPath, [path.join(__dirname, '..', '..', 'dist', 'cli', 'index.js'), 'convert', src, '-o', a], a);
  const targs = c.format === 'saved-model' ? ['--saved-model', src] : ['--graphdef', src, '--inputs', c.inputs[0].name, '--outputs', c.outputs[0].name];
  const peer = run(py, ['-m', 'tf2onnx.convert', ...targs, '--opset', '13', '--output', b], b);
  const f = (r) => (r.ok ? `${r.ms.toFixed(0)} ms, ${r.nodes} nodes, ${(r.bytes / 1e6).toFixed(2)} MB` : `failed (${r.why})`);
  console.log(`${c.name}: tensorrt-node ${f(ours)} | tf2onnx ${f(peer)}${ours.ok && peer.ok ? ` | time ratio ${(ours.ms / peer.ms).toFixed(2)}` : ''}`);
  fs.rmSync(a, { force: true });
  fs.rmSync(b, { force: true });
}
fs.rmSync(tmp, { recursive: true, force: true });
