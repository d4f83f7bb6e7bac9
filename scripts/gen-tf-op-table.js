#!/usr/bin/env node
'use strict';
/**
 * Generates the op table of docs/tensorflow.md (the block between `<!-- op-table:begin -->` and
 * `<!-- op-table:end -->`) from the converter itself: every op of supportedOps(), grouped by the module whose op
 * map handles it (OP_MODULES, OTHER_OPS of lib/tensorflow/convert.ts), with the ONNX opsets at which it converts.
 * Those opsets come from running the code: every TensorFlow-made op case of the oracle corpus
 * (test/tensorflow/gen/corpus.py, found as test/unit/tensorflow-oracle.test.ts finds it: test/unit/helpers/tf-corpus.ts,
 * route "op") is converted in-process at each opset of OPSET_RANGE; an op's opsets are those at which every case
 * containing it converts, or is refused for a node of another op ("no case": no corpus case contains it). The
 * refused node is the one the error names (`name: ...` from an op handler, `node "name/OnnxOp#node"` from lower.ts),
 * the TF node of that name or, for nodes the converter made (a lowered If/While, a TF1 loop frame's `__while`), of
 * the longest prefix naming one; a TF1 loop is blamed on its frame ops. Where no node is found, every op of the
 * case is blamed.
 *
 *   npm run gen:tf-op-table                       rewrite the block in docs/tensorflow.md
 *   node scripts/gen-tf-op-table.js --check       exit 1 when the block is not what the code gives
 *   TN_OP_TABLE_DEBUG=1                           print each refusal that names no node found in its graph
 *
 * Runs the current sources through test/unit/helpers/ts-register.js (no dist/ build needed). Uses the corpus of
 * subset full, ci or ops, the first present for the current generator; where none is, makes subset "ops" (the small
 * graphs only, about half a minute; needs the Python test environment, scripts/python-env.js).
 */
const fs = require('fs');
const path = require('path');

require('../test/unit/helpers/ts-register.js');
const { OPS, OP_MODULES, OTHER_OPS, OPSET_RANGE, supportedOps } = require('../lib/tensorflow/convert.ts');
const { FRAME_OPS } = require('../lib/tensorflow/control.ts');
const { convertTensorFlow, readTensorFlowGraph } = require('../lib/tensorflow/index.ts');
const { corpusDir, loadCorpus } = require('../test/unit/helpers/tf-corpus.ts');

const ROOT = path.resolve(__dirname, '..');
const DOC = path.join(ROOT, 'docs', 'tensorflow.md');
const BEGIN = '<!-- op-table:begin -->';
const END = '<!-- op-table:end -->';
const COMMAND = 'npm run gen:tf-op-table';

/** op -> module name: the OP_MODULES table whose handler OPS holds (a later module wins), else its OTHER_OPS group. */
function moduleOf() {
  const of = new Map();
  for (const op of supportedOps()) {
    const m = Object.keys(OP_MODULES).find((k) => OP_MODULES[k][op] !== undefined && OP_MODULES[k][op] === OPS[op])
      ?? Object.keys(OTHER_OPS).find((k) => OTHER_OPS[k].includes(op));
    if (!m) throw new Error(`${op}: in supportedOps() but in no OP_MODULES table or OTHER_OPS group`);
    of.set(op, m);
  }
  return of;
}

function moduleFile(m) {
  for (const f of [path.join('lib', 'tensorflow', 'ops', `${m}.ts`), path.join('lib', 'tensorflow', `${m}.ts`)]) {
    if (fs.existsSync(path.join(ROOT, f))) return f;
  }
  return path.join('lib', 'tensorflow', 'convert.ts');
}

function findCorpus() {
  for (const s of ['full', 'ci', 'ops']) {
    if (fs.existsSync(path.join(corpusDir(s), 'manifest.json'))) return loadCorpus(s);
  }
  return loadCorpus('ops');
}

/**
 * The TF ops a refusal is put down to: the op of the node the error names (see the header), else all `caseOps`.
 * readTensorFlowGraph has already lowered If/While to TF1 frames, so a refusal of a frame op is also put down to the
 * case's ops that the read graph no longer holds (the functional op it came from).
 */
function blame(file, err, caseOps) {
  const msg = String(err.message ?? err);
  const named = /node "([^"#]*)#/.exec(msg)?.[1]?.replace(/\/[^/]*$/, '') ?? /^([^\s:]+):/.exec(msg)?.[1];
  const nodes = readTensorFlowGraph(file).nodes;
  const lowered = caseOps.filter((o) => !nodes.some((n) => n.op === o));
  let ops;
  if (named?.endsWith('/__while')) ops = [...FRAME_OPS];
  else if (named) {
    const byName = new Map(nodes.map((n) => [n.name, n.op]));
    for (let p = named; p && !ops; p = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '') {
      if (byName.has(p)) ops = [byName.get(p)];
    }
  }
  if (!ops) {
    if (process.env.TN_OP_TABLE_DEBUG) process.stderr.write(`unblamed: ${file}: ${msg.slice(0, 160)}\n`);
    return new Set(caseOps);
  }
  return new Set(ops.some((o) => FRAME_OPS.has(o)) ? [...ops, ...lowered] : ops);
}

/** Sorted opsets as runs: 11–21, or 11–12, 14–21. */
function runs(opsets) {
  const out = [];
  for (let i = 0; i < opsets.length;) {
    let j = i;
    while (j + 1 < opsets.length && opsets[j + 1] === opsets[j] + 1) j++;
    out.push(i === j ? `${opsets[i]}` : `${opsets[i]}–${opsets[j]}`);
    i = j + 1;
  }
  return out.join(', ');
}

function generate() {
  const { corpus, reason } = findCorpus();
  if (!corpus) throw new Error(`no TensorFlow corpus: ${reason}`);
  const cases = corpus.cases.filter((c) => c.route === 'op');
  const [lo, hi] = OPSET_RANGE;
  const opsets = Array.from({ length: hi - lo + 1 }, (_, k) => lo + k);
  const converts = new Map(); // case name -> opsets at which it converts
  const failures = new Map(); // "code: first words" -> count, for the summary on stderr
  for (const c of cases) {
    const blamed = new Map(); // opset -> ops blamed for the refusal there
    for (const opset of opsets) {
      try {
        convertTensorFlow(path.join(corpus.dir, c.path), { opset });
      } catch (e) {
        const key = `${e.code ?? e.name} at opset ${opset}`;
        failures.set(key, (failures.get(key) ?? 0) + 1);
        blamed.set(opset, blame(path.join(corpus.dir, c.path), e, c.ops ?? []));
      }
    }
    converts.set(c.name, blamed);
  }
  const of = moduleOf();
  const rows = new Map(); // module -> range -> ops
  const noCase = [];
  for (const op of supportedOps()) {
    const mine = cases.filter((c) => (c.ops ?? []).includes(op));
    let range;
    if (!mine.length) {
      range = 'no case';
      noCase.push(op);
    } else {
      range = runs(opsets.filter((o) => mine.every((c) => !converts.get(c.name).get(o)?.has(op)))) || 'none';
    }
    const m = of.get(op);
    if (!rows.has(m)) rows.set(m, new Map());
    const r = rows.get(m);
    if (!r.has(range)) r.set(range, []);
    r.get(range).push(op);
  }
  const order = (a, b) => (a === b ? 0 : a < b ? -1 : 1);
  // ranges: the widest first (by lowest opset, then length), then "none", then "no case"
  const rank = (r) => (r === 'no case' ? [2, 0, 0] : r === 'none' ? [1, 0, 0] : [0, Number(r.split(/[–,]/)[0]), -r.length]);
  const byRange = (a, b) => { const x = rank(a); const y = rank(b); return x[0] - y[0] || x[1] - y[1] || x[2] - y[2] || order(a, b); };
  const lines = [
    BEGIN,
    `<!-- generated by \`${COMMAND}\` (scripts/gen-tf-op-table.js); do not edit by hand -->`,
    '',
    `Generated by \`${COMMAND}\` from \`supportedOps()\` (${supportedOps().length} ops) and the TensorFlow ${corpus.tensorflow} oracle corpus`
      + ` (${cases.length} op cases). Module: the op map that handles the op (\`lib/tensorflow/convert.ts\` OP_MODULES, OTHER_OPS).`
      + ` Opsets: the ONNX opsets of ${lo}–${hi} at which every corpus case containing the op converts; "no case": no corpus case contains it.`,
    '',
    '| Module | Opsets | Ops |',
    '| --- | --- | --- |',
  ];
  for (const m of [...rows.keys()].sort(order)) {
    const r = rows.get(m);
    for (const range of [...r.keys()].sort(byRange)) {
      lines.push(`| ${m} (\`${moduleFile(m)}\`) | ${range} | ${r.get(range).sort(order).map((o) => `\`${o}\``).join(', ')} |`);
    }
  }
  lines.push(END);
  return { block: lines.join('\n'), cases: cases.length, conversions: cases.length * opsets.length, failures, noCase };
}

function main() {
  const t0 = performance.now();
  const check = process.argv.includes('--check');
  const { block, cases, conversions, failures, noCase } = generate();
  const doc = fs.readFileSync(DOC, 'utf8');
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${path.relative(ROOT, DOC)}: no ${BEGIN} ... ${END} block`);
  const next = doc.slice(0, a) + block + doc.slice(b + END.length);
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  const fails = [...failures].sort((x, y) => (x[0] < y[0] ? -1 : 1)).map(([k, n]) => `${k} ×${n}`).join(', ') || 'none';
  process.stderr.write(`gen-tf-op-table: ${cases} op cases, ${conversions} conversions in ${secs} s; failed: ${fails}; no case: ${noCase.join(', ') || 'none'}\n`);
  if (check) {
    if (next !== doc) {
      process.stderr.write(`gen-tf-op-table: ${path.relative(ROOT, DOC)} is out of date: run ${COMMAND}\n`);
      process.exitCode = 1;
    }
    return;
  }
  if (next !== doc) fs.writeFileSync(DOC, next);
}

main();
