#!/usr/bin/env node
'use strict';
/**
 * Last step of scripts/gpu/run.sh: folds system.txt, build.log, tests.log and bench.json of an output folder into
 * summary.json and summary.md, and prints summary.md.   node scripts/gpu/summarize.js <OUT> [build-note-file]
 */
const fs = require('fs');
const path = require('path');
const { benchMarkdown } = require('../bench/report');

const out = process.argv[2] || 'gpu-out';
const read = (f) => {
  try {
    return fs.readFileSync(path.join(out, f), 'utf8');
  } catch {
    return null;
  }
};
const system = read('system.txt') || '';
const tests = read('tests.log') || '';
const tests1 = read('tests-1gpu.log');
const trtRuntime = read('trt-runtime.log');
let bench = null;
try {
  bench = JSON.parse(read('bench.json'));
} catch {
  bench = null;
}
let buildNote = 'unknown';
try {
  buildNote = fs.readFileSync(process.argv[3], 'utf8').trim() || 'unknown';
} catch {
  // no note
}

const field = (re) => (re.exec(system) || [])[1]?.trim() ?? null;
const num = (k, text = tests) => {
  const m = new RegExp(`^\\S*\\s*${k} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : null;
};
const gpuLine = field(/^name, driver_version.*\n(.*)$/m);
const failedTests = [...tests.matchAll(/^\s*✖ (.+?)(?: \([\d.]+m?s\))?$/gm)].map((m) => m[1]).filter((x, i, a) => a.indexOf(x) === i);
const skippedNotes = [...tests.matchAll(/^#? ?(test\/\S+ skipped: .*)$/gm)].map((m) => m[1]);

const summary = {
  date: field(/^date: (.*)$/m),
  gpu: gpuLine,
  node: field(/^node: (.*)$/m),
  compiler: field(/^g\+\+: (.*)$/m),
  nvcc: field(/^nvcc: (.*)$/m),
  build: buildNote,
  tests: { tests: num('tests'), pass: num('pass'), fail: num('fail'), skipped: num('skipped'), todo: num('todo'), failed: failedTests.slice(0, 30), skipNotes: skippedNotes.slice(0, 20),
    exitStatus: Number((/^exit status: (\d+)/m.exec(tests) || [])[1] ?? NaN) },
  testsOneGpu: tests1 === null ? null : { pass: num('pass', tests1), fail: num('fail', tests1), skipped: num('skipped', tests1), tests: num('tests', tests1),
    failed: [...tests1.matchAll(/^\s*✖ (.+?)(?: \([\d.]+m?s\))?$/gm)].map((m) => m[1]).filter((x, i, a) => a.indexOf(x) === i).slice(0, 30),
    note: /not run/.test(tests1) ? tests1.trim() : undefined },
  trtRuntime: trtRuntime === null ? null : trtRuntime.split(/^######## /m).slice(1).map((part) => ({
    major: (/^TensorRT (\d+)/.exec(part) || [])[1] ?? null,
    libraries: [...part.matchAll(/^# (lean|dispatch): wheel (\S+):/gm)].map((m) => `${m[1]} ${m[2]}`),
    pass: num('pass', part), fail: num('fail', part), skipped: num('skipped', part), tests: num('tests', part),
    failed: [...part.matchAll(/^\s*✖ (.+?)(?: \([\d.]+m?s\))?$/gm)].map((m) => m[1]).filter((x, i, a) => x !== 'failing tests:' && a.indexOf(x) === i).slice(0, 30),
    buildFailed: /== build FAILED/.test(part),
  })),
  targets: bench?.targets ?? null,
  benchSkipped: bench?.skipped ?? null,
};
fs.writeFileSync(path.join(out, 'summary.json'), JSON.stringify({ ...summary, bench }, null, 2) + '\n');

const L = [];
L.push(`# tensorrt-node GPU run, ${summary.date}`, '');
L.push(`- GPU: ${summary.gpu ?? 'none found'}`);
L.push(`- Node: ${summary.node}; ${summary.compiler}; nvcc ${summary.nvcc}`);
L.push(`- Addon build: ${summary.build}`);
const t = summary.tests;
if (/^tests not run/.test(tests)) L.push(`- Tests (test/gpu, test/trt): ${tests.trim()}`);
else L.push(`- Tests (test/gpu, test/trt): ${t.pass ?? '?'} passed, ${t.fail ?? '?'} failed, ${t.skipped ?? '?'} skipped of ${t.tests ?? '?'}${t.failed.length ? `; failing: ${t.failed.join('; ')}` : ''}`);
for (const s of t.skipNotes) L.push(`  - ${s}`);
const t1 = summary.testsOneGpu;
if (t1) {
  L.push(t1.note ? `- One-GPU pass (CUDA_VISIBLE_DEVICES=0, test/gpu): ${t1.note}`
    : `- One-GPU pass (CUDA_VISIBLE_DEVICES=0, test/gpu): ${t1.pass ?? '?'} passed, ${t1.fail ?? '?'} failed, ${t1.skipped ?? '?'} skipped of ${t1.tests ?? '?'}${t1.failed.length ? `; failing: ${t1.failed.join('; ')}` : ''}`);
}
for (const r of summary.trtRuntime ?? []) {
  L.push(`- test/trt-runtime, TensorRT ${r.major} (${r.libraries.join(', ')}): ${r.buildFailed ? 'addon build FAILED (see trt-runtime.log)' : `${r.pass ?? '?'} passed, ${r.fail ?? '?'} failed, ${r.skipped ?? '?'} skipped of ${r.tests ?? '?'}`}${r.failed.length ? `; failing: ${r.failed.join('; ')}` : ''}`);
}
L.push('');
L.push(bench ? benchMarkdown(bench) : 'Benchmarks: no bench.json (not run or failed; see bench.log)');
const md = L.join('\n') + '\n';
fs.writeFileSync(path.join(out, 'summary.md'), md);
process.stdout.write(md);
