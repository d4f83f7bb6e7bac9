#!/usr/bin/env node
'use strict';
// The test command: the GPU and TensorRT suites with node's test runner (each test skips with a printed reason
// where no GPU / no TensorRT exists), then the jest unit tests (CPU). Prints one combined closing line.
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..');
const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' };
let passed = 0, failed = 0, skipped = 0, ok = true;

if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) {
  const r = spawnSync('npm', ['run', 'build:ts'], { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) process.exit(r.status || 1);
}

// 1. node:test suites for GPU / TensorRT (each test skips with its reason where no GPU / TensorRT exists)
const dirs = ['test/gpu', 'test/trt'].filter((d) => fs.existsSync(path.join(root, d)));
const files = dirs.flatMap((d) =>
  fs.readdirSync(path.join(root, d)).filter((f) => /\.test\.(c|m)?js$/.test(f)).map((f) => path.join(d, f)));
if (files.length) {
  const n = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], {
    cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.stdout.write(n.stdout);
  if (n.status !== 0) ok = false;
  const num = (k) => { const m = n.stdout.match(new RegExp(`^\\S*\\s*${k} (\\d+)`, 'm')); return m ? Number(m[1]) : 0; };
  passed += num('pass'); failed += num('fail'); skipped += num('skipped') + num('todo');
}

// 2. jest, last, so that its summary (the tests that ran here) closes the output. Its report goes to stdout
//    with the rest of the output (jest writes it to stderr).
const jestJson = path.join(os.tmpdir(), `tensorrt-node-jest-${process.pid}.json`);
const jestArgs = [require.resolve('jest/bin/jest'), '--json', `--outputFile=${jestJson}`, ...process.argv.slice(2)];
if (process.env.CI) jestArgs.push('--ci');
const j = spawnSync(process.execPath, jestArgs, { cwd: root, stdio: ['inherit', 'inherit', 1], env });
if (j.status !== 0) ok = false;
try {
  const r = JSON.parse(fs.readFileSync(jestJson, 'utf8'));
  passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + (r.numTodoTests || 0);
  fs.unlinkSync(jestJson);
} catch {
  ok = false;
}

console.log(`\ntensorrt-node (node:test + jest): ${passed} passed, ${failed} failed, ${skipped} skipped`);
console.log(`Tests:       ${failed ? `${failed} failed, ` : ''}${skipped} skipped, ${passed} passed, ${passed + failed + skipped} total`);
process.exit(ok && failed === 0 ? 0 : 1);
