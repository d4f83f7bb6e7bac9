'use strict';
// Run by scripts/check-install.js inside a scratch project that installed the packed tarball: what a user's code does.
const fs = require('fs');
const path = require('path');
const t = require('tensorrt-node');
(async () => {
  const out = {};
  const info = t.runtimeInfo();
  out.addon = { loaded: info.addon.loaded, kind: info.addon.kind, variant: info.addon.variant, file: info.addon.file, reason: info.addon.reason || null };
  const bytes = fs.readFileSync(process.argv[2]);
  const mi = t.modelInfo(t.loadModel(bytes));
  out.modelInputs = mi.inputs.map((i) => i.name);
  const f = path.join(process.cwd(), 'a.npy');
  t.writeNpyFile(f, { dtype: 'float32', data: Float32Array.from([1, 2, 3, 4, 5, 6]), shape: [2, 3] });
  const back = t.readNpyFile(f);
  out.npy = { shape: back.shape, data: Array.from(back.data) };
  const input = mi.inputs[0];
  const shape = [1, 3, 48, 192];
  const n = shape.reduce((a, b) => a * b, 1);
  const batches = [0, 1].map((b) => ({ [input.name]: { data: Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.01 + b)), shape } }));
  try {
    const q = await t.quantize(bytes, t.createCalibrator('minmax', { batches }));
    out.quantize = { nodes: q.model.graph.node.length, qdq: q.model.graph.node.filter((x) => x.opType === 'QuantizeLinear').length };
  } catch (e) {
    out.quantize = { error: `${e && e.code} ${e && e.message}` };
  }
  try {
    new t.Builder();
    out.builder = 'constructed';
  } catch (e) {
    out.builder = { isTensorRTError: e instanceof t.TensorRTError, code: e.code, message: e.message };
  }
  const esm = require('child_process').spawnSync(process.execPath, ['--input-type=module', '-e',
    "import { runtimeInfo } from 'tensorrt-node'; console.log(typeof runtimeInfo());"], { encoding: 'utf8' });
  out.esm = esm.stdout.trim();
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.log(JSON.stringify({ crashed: String(e && e.stack) }));
  process.exit(1);
});
