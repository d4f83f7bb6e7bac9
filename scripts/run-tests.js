#!/usr/bin/env node
'use strict';
/**
 * The test command (`npm test`). Runs, in order:
 *   1. the jest unit tests (test/unit, CPU: run everywhere, CI included);
 *   2. node:test suites that need hardware, each STARTED ONLY WHERE IT CAN RUN (otherwise one line says why):
 *        test/gpu       where a CUDA GPU is usable (runtimeInfo().cuda.available)
 *        test/trt       where the full TensorRT library loads (runtimeInfo().tensorrt: available, flavor 'full')
 *        test/trt-runtime  where TensorRT's lean or dispatch runtime loads (probeTensorRT('lean' | 'dispatch'))
 *        test/contract  where test/contract exists and the test-only addon build-contract/tensorrt_node_contract.node
 *                       ($TN_CONTRACT_ADDON) was built
 *                       (scripts/contract/build.sh, against TensorRT headers)
 * and closes with ONE line for the whole run, always the last line printed:
 *   Tests: N passed, N failed, N skipped
 * counting every test the command knows of: a node:test suite not started counts its tests as skipped (counted
 * from the files' sources: each top-level test() / it() call is one test; a test() the count cannot see statically,
 * inside a loop or a function, fails the run, so that the figure stays exact), and a jest suite that fails to
 * load (syntax error, a throw at import) counts as one failed test.
 * Arguments are passed to jest (e.g. `npm test -- test/unit/npy.test.ts`); with arguments only jest runs.
 * Exit status 0 only when nothing failed and every runner finished.
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..');
// onnxruntime-node's install must not download anything (it honours this variable; see README "Install")
// TENSORRT_NODE_WERROR=1: native builds started from the test command use -Werror (development; off for users)
const env = {
  ...process.env,
  ONNXRUNTIME_NODE_INSTALL: process.env.ONNXRUNTIME_NODE_INSTALL || 'skip',
  TENSORRT_NODE_WERROR: process.env.TENSORRT_NODE_WERROR || '1',
};
const totals = { passed: 0, failed: 0, skipped: 0 };
let ok = true;

// The CLI tests run dist/: rebuild it when it is missing or older than any source in lib/ (a stale dist/ after a
// pull would otherwise test yesterday's code).
function newestMtime(dir) {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newestMtime(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, fs.statSync(p).mtimeMs);
  }
  return t;
}
const distIndex = path.join(root, 'dist', 'index.js');
if (!fs.existsSync(distIndex) || fs.statSync(distIndex).mtimeMs < newestMtime(path.join(root, 'lib'))) {
  const r = spawnSync('npm', ['run', 'build:ts'], { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) {
    ok = false;
    finish();
  }
}

// 1. jest (unit tests). Its report goes to stdout with the rest of the output (jest writes it to stderr).
{
  const jestJson = path.join(os.tmpdir(), `tensorrt-node-jest-${process.pid}.json`);
  const jestArgs = [require.resolve('jest/bin/jest'), '--json', `--outputFile=${jestJson}`, ...process.argv.slice(2)];
  if (process.env.CI) jestArgs.push('--ci');
  const j = spawnSync(process.execPath, jestArgs, { cwd: root, stdio: ['inherit', 'inherit', 1], env });
  if (j.status !== 0) ok = false;
  try {
    const r = JSON.parse(fs.readFileSync(jestJson, 'utf8'));
    totals.passed += r.numPassedTests;
    totals.failed += r.numFailedTests;
    // a suite that failed to load or run has no test results of its own: one failure each
    const broken = (r.testResults || []).filter((t) => t.testExecError || (t.status === 'failed' && !(t.assertionResults || []).length));
    totals.failed += broken.length;
    totals.skipped += r.numPendingTests + (r.numTodoTests || 0);
    fs.unlinkSync(jestJson);
  } catch (e) {
    console.log(`jest left no report (${e.message})`);
    ok = false;
  }
}

// 2. node:test suites, only where they can run
if (process.argv.length > 2) {
  console.log('\ntest/gpu, test/trt, test/trt-runtime, test/contract: not started (arguments given: they select jest tests only)');
} else {
  const probe = probeMachine();
  const suites = [
    { dir: 'test/gpu', why: probe.cuda ? null : `no usable CUDA GPU here (${probe.cudaReason})` },
    { dir: 'test/trt', why: probe.trt ? null : `TensorRT does not load here (${probe.trtReason})` },
    { dir: 'test/trt-runtime', why: probe.runtimeOnly ? null : `neither TensorRT's lean nor its dispatch runtime loads here (${probe.runtimeOnlyReason})` },
    { dir: 'test/contract', why: contractReason() },
  ];
  for (const s of suites) {
    const files = testFiles(s.dir);
    if (!fs.existsSync(path.join(root, s.dir))) continue;
    if (s.why) {
      const n = files.reduce((a, f) => a + staticTestCount(f), 0);
      console.log(`\n${s.dir}: not started (${files.length} files, ${n} tests, counted as skipped): ${s.why}`);
      totals.skipped += n;
      continue;
    }
    runNodeTest(s.dir, files);
  }
}

finish();

function finish() {
  console.log(`\nTests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
  process.exit(ok && totals.failed === 0 ? 0 : 1);
}

function testFiles(dir) {
  const abs = path.join(root, dir);
  if (!fs.existsSync(abs)) return [];
  return fs.readdirSync(abs).filter((f) => /\.test\.(c|m)?js$/.test(f)).sort().map((f) => path.join(dir, f));
}

/**
 * The tests of a node:test file, counted from its source: every call of `test(...)` / `it(...)`. One inside a loop
 * or a function (a count the source does not show) fails the run, naming the line.
 */
function staticTestCount(file) {
  const ts = require('typescript');
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  let n = 0;
  const hidden = [];
  const walk = (node, dynamic) => {
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && (node.expression.text === 'test' || node.expression.text === 'it')) {
      n++;
      if (dynamic) hidden.push(sf.getLineAndCharacterOfPosition(node.getStart()).line + 1);
    }
    // `require('./suite').defineSuite(...)` at top level: the tests that function of that local module defines
    const helper = !dynamic && ts.isCallExpression(node) && localHelperCall(ts, node);
    if (helper) n += helperTestCount(ts, path.join(path.dirname(file), helper.module), helper.fn, hidden);
    const inner = dynamic || ts.isIterationStatement(node, false) || ts.isFunctionLike(node) ||
      (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && ['forEach', 'map', 'flatMap'].includes(node.expression.name.text));
    ts.forEachChild(node, (c) => walk(c, inner));
  };
  walk(sf, false);
  if (hidden.length) {
    console.log(`${file}: test() at line ${hidden.join(', ')} is inside a loop or a function: its tests cannot be counted without running it (counted as failed)`);
    ok = false;
    totals.failed += 1;
  }
  return n;
}

/** `require('./m').fn(...)`: { module: './m' (with .js), fn }; anything else: null. */
function localHelperCall(ts, call) {
  const callee = call.expression;
  if (!ts.isPropertyAccessExpression(callee) || !ts.isCallExpression(callee.expression)) return null;
  const req = callee.expression;
  if (!ts.isIdentifier(req.expression) || req.expression.text !== 'require' || req.arguments.length !== 1) return null;
  const arg = req.arguments[0];
  if (!ts.isStringLiteral(arg) || !arg.text.startsWith('./')) return null;
  return { module: /\.(c|m)?js$/.test(arg.text) ? arg.text : `${arg.text}.js`, fn: callee.name.text };
}

/** The test() / it() calls in the body of function `fn` of a local helper module (not in loops or inner functions). */
function helperTestCount(ts, file, fn, hidden) {
  const abs = path.join(root, file);
  if (!fs.existsSync(abs)) return 0;
  const sf = ts.createSourceFile(file, fs.readFileSync(abs, 'utf8'), ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  let n = 0;
  const count = (node, dynamic) => {
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && (node.expression.text === 'test' || node.expression.text === 'it')) {
      n++;
      if (dynamic) hidden.push(`${file}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}`);
    }
    const inner = dynamic || ts.isIterationStatement(node, false) || ts.isFunctionLike(node) ||
      (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && ['forEach', 'map', 'flatMap'].includes(node.expression.name.text));
    ts.forEachChild(node, (c) => count(c, inner));
  };
  ts.forEachChild(sf, (node) => {
    if (ts.isFunctionDeclaration(node) && node.name && node.name.text === fn && node.body) ts.forEachChild(node.body, (c) => count(c, false));
  });
  return n;
}

/** What this machine offers, asked of the package itself in a child process (a crash there is a reason too). */
function probeMachine() {
  const code = [
    "const lib = require('./dist'); const { runtimeInfo } = lib;",
    'const i = runtimeInfo();',
    "const full = !!i.tensorrt.available && (i.tensorrt.flavor || 'full') === 'full';",
    "const ro = ['lean', 'dispatch'].map((f) => (typeof lib.probeTensorRT === 'function' ? lib.probeTensorRT(f) : { available: false, reason: 'no probeTensorRT in dist/' }));",
    'process.stdout.write(JSON.stringify({ cuda: !!i.cuda.available, cudaReason: i.cuda.reason || null,',
    "  trt: full, trtReason: full ? null : i.tensorrt.available ? `only the ${i.tensorrt.flavor} runtime loads (${i.tensorrt.libraryPath})` : i.tensorrt.reason || null,",
    "  runtimeOnly: ro.some((p) => p.available), runtimeOnlyReason: ro.map((p, k) => `${k ? 'dispatch' : 'lean'}: ${p.reason || 'unknown reason'}`).join('; ') }));",
  ].join('\n');
  const r = spawnSync(process.execPath, ['-e', code], { cwd: root, env, encoding: 'utf8', timeout: 60000 });
  try {
    const p = JSON.parse(r.stdout);
    const short = (s) => String(s || 'unknown reason').split(/[;\n]/)[0];
    const shortEach = (s) => String(s || 'unknown reason').split('; ').filter((x) => /^(lean|dispatch): /.test(x)).map((x) => x.split(/\. Searched|[\n]/)[0]).join('; ');
    return { ...p, cudaReason: short(p.cudaReason), trtReason: short(p.trtReason), runtimeOnlyReason: shortEach(p.runtimeOnlyReason) };
  } catch {
    const why = `runtimeInfo() failed: ${(r.stderr || r.error || '').toString().trim().split('\n')[0]}`;
    return { cuda: false, cudaReason: why, trt: false, trtReason: why, runtimeOnly: false, runtimeOnlyReason: why };
  }
}

function contractReason() {
  // test/contract/helpers.js loads $TN_CONTRACT_ADDON, else build-contract/tensorrt_node_contract.node
  const addon = process.env.TN_CONTRACT_ADDON || path.join(root, 'build-contract', 'tensorrt_node_contract.node');
  if (!fs.existsSync(addon)) {
    return `no test-only contract addon ${path.relative(root, addon)} (built by scripts/contract/build.sh against TensorRT headers)`;
  }
  // An addon older than the sources it is built from tests old code (and its tests may then hang): not started.
  const built = fs.statSync(addon).mtimeMs;
  const sources = ['native', path.join('test', 'contract', 'native')].flatMap((d) =>
    fs.readdirSync(path.join(root, d)).filter((f) => /\.(cc|h)$/.test(f)).map((f) => path.join(d, f)));
  const newer = sources.filter((f) => fs.statSync(path.join(root, f)).mtimeMs > built);
  return newer.length
    ? `the contract addon ${path.relative(root, addon)} is older than ${newer[0]}${newer.length > 1 ? ` and ${newer.length - 1} more source(s)` : ''}: rebuild it (bash scripts/contract/build.sh <TensorRT include dir>)`
    : null;
}

function runNodeTest(dir, files) {
  if (!files.length) return;
  console.log(`\n${dir}: node --test (${files.length} files)`);
  const n = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], {
    cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 2 ** 20,
  });
  process.stdout.write(n.stdout || '');
  if (n.status !== 0) ok = false;
  const num = (k) => {
    const m = (n.stdout || '').match(new RegExp(`^\\S*\\s*${k} (\\d+)\\s*$`, 'm'));
    return m ? Number(m[1]) : 0;
  };
  if (!/^\S*\s*tests \d+\s*$/m.test(n.stdout || '')) ok = false; // no summary: the runner did not finish
  totals.passed += num('pass');
  totals.failed += num('fail') + num('cancelled');
  totals.skipped += num('skipped') + num('todo');
}
