#!/usr/bin/env node
'use strict';
/**
 * Checks the package as consumers get it: packs the tarball (`npm pack`, dist/ must be built), then
 *   1. publint on the tarball (every message, suggestions included, is a problem);
 *   2. @arethetypeswrong/cli on the tarball (node10, node16 CJS/ESM, bundler; no registry look-up);
 *   3. compiles TypeScript consumers of the unpacked tarball, strict and WITHOUT skipLibCheck:
 *        cjs-node10     "type": "commonjs", module commonjs, moduleResolution node10 (.ts)
 *        cjs-node16     module nodenext, a .cts file (require side of `exports`)
 *        esm-nodenext   "type": "module", module nodenext, a .mts file and a .ts file
 *        bundler        module preserve, moduleResolution bundler
 *      each compiling a small smoke file and every ```ts example of README.md (as ES modules; for the CommonJS
 *      consumers the example's statements are wrapped in an async function, its imports kept at the top).
 *      README examples may call functions the reader writes (listed in READER_FUNCTIONS, declared here).
 *
 *   node scripts/check-package.js [--keep]      prints one line per check; exit 1 on any problem
 * Used by test/unit/package-consumers.test.ts. Needs no network: attw runs with --no-definitely-typed.
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');

/** Functions README examples leave to the reader (their pre-processing, their data). */
const READER_FUNCTIONS = [
  'declare function readImageAsFloat32(req: import("http").IncomingMessage): Promise<Float32Array>;',
  'declare function loadBatch(files: string[]): Promise<Float32Array>;',
  'declare const files: string[];',
];

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 2 ** 20, ...opts });
  return { status: r.status ?? 1, out: `${r.stdout || ''}${r.stderr || ''}${r.error ? r.error.message : ''}` };
}

function bin(pkg, name) {
  const pj = path.join(ROOT, 'node_modules', pkg, 'package.json'); // some packages do not export ./package.json
  const meta = JSON.parse(fs.readFileSync(pj, 'utf8'));
  return path.join(path.dirname(pj), typeof meta.bin === 'string' ? meta.bin : meta.bin[name]);
}

/** ```ts blocks of README.md. */
function readmeExamples() {
  const text = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  return [...text.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m) => m[1]);
}

function asCommonJs(src) {
  const lines = src.split('\n');
  const imports = lines.filter((l) => /^import\s/.test(l));
  const body = lines.filter((l) => !/^import\s/.test(l));
  return [...imports, 'export async function example(): Promise<void> {', ...body, '}', ''].join('\n');
}

const SMOKE = [
  "import { runtimeInfo, loadModel, saveModel, TensorRTError, type ModelInfo } from 'tensorrt-node';",
  "import * as trt from 'tensorrt-node';",
  'const info = runtimeInfo();',
  'const ok: boolean = info.tensorrt.available;',
  'const m: ModelInfo | null = null;',
  'const e: TensorRTError | null = null;',
  'const bytes: Uint8Array = saveModel(loadModel(new Uint8Array(0)));',
  'export { ok, m, e, bytes, trt };',
  '',
].join('\n');

const CONSUMERS = [
  { name: 'cjs-node10', type: 'commonjs', ext: '.ts', cjs: true, options: { module: 'commonjs', moduleResolution: 'node10' } },
  { name: 'cjs-node16', type: 'commonjs', ext: '.cts', cjs: true, options: { module: 'nodenext', moduleResolution: 'nodenext' } },
  { name: 'esm-nodenext', type: 'module', ext: '.mts', also: '.ts', options: { module: 'nodenext', moduleResolution: 'nodenext' } },
  { name: 'bundler', type: 'module', ext: '.ts', options: { module: 'preserve', moduleResolution: 'bundler' } },
];

function main(argv) {
  const results = [];
  const report = (name, ok, detail) => {
    results.push({ name, ok, detail });
    console.log(`check-package: ${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
  };
  if (!fs.existsSync(path.join(ROOT, 'dist', 'index.d.mts'))) {
    report('dist', false, 'dist/ is not built: run `npm run build:ts`');
    return results;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tn-check-package-'));
  try {
    const pack = sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT });
    let tgz;
    try {
      tgz = path.join(work, JSON.parse(pack.out.slice(pack.out.indexOf('['))).at(0).filename);
    } catch {
      report('npm pack', false, pack.out.trim().split('\n').slice(-3).join(' | '));
      return results;
    }
    report('npm pack', fs.existsSync(tgz), path.basename(tgz));

    const pl = sh(process.execPath, [bin('publint', 'publint'), 'run', tgz, '--level', 'suggestion'], { cwd: work });
    const plProblems = !/Suggestions:|Warnings:|Errors:/.test(pl.out);
    report('publint', pl.status === 0 && plProblems, plProblems ? 'no problems' : pl.out.trim());

    const at = sh(process.execPath, [bin('@arethetypeswrong/cli', 'attw'), tgz, '--no-definitely-typed', '--format', 'ascii', '--no-color', '--no-emoji'], { cwd: work });
    report('attw', at.status === 0 && !/❌|Error|problems? found/i.test(at.out.replace(/No problems found/g, '')), at.status === 0 ? 'no problems' : at.out.trim());

    // consumers: the unpacked tarball as node_modules/tensorrt-node, everything else from this checkout's node_modules
    const consumerRoot = path.join(work, 'consumers');
    const nm = path.join(consumerRoot, 'node_modules');
    fs.mkdirSync(path.join(nm, 'tensorrt-node'), { recursive: true });
    const tx = sh('tar', ['-xzf', tgz, '-C', path.join(nm, 'tensorrt-node'), '--strip-components=1']);
    if (tx.status !== 0) {
      report('unpack', false, tx.out);
      return results;
    }
    for (const entry of fs.readdirSync(path.join(ROOT, 'node_modules'))) {
      if (entry === 'tensorrt-node' || entry.startsWith('.')) continue;
      fs.symlinkSync(path.join(ROOT, 'node_modules', entry), path.join(nm, entry));
    }
    const examples = readmeExamples();
    const tsc = bin('typescript', 'tsc');
    for (const c of CONSUMERS) {
      const dir = path.join(consumerRoot, c.name);
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `consumer-${c.name}`, private: true, type: c.type }));
      const files = [];
      const write = (name, text) => {
        fs.writeFileSync(path.join(dir, name), text);
        files.push(name);
      };
      write(`smoke${c.ext}`, SMOKE);
      if (c.also) write(`smoke-also${c.also}`, SMOKE);
      examples.forEach((src, i) => {
        const text = `${READER_FUNCTIONS.join('\n')}\n${c.cjs ? asCommonJs(src) : `${src}\nexport {};\n`}`;
        write(`readme-example-${i + 1}${c.ext}`, text);
      });
      fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
        compilerOptions: {
          ...c.options, target: 'es2022', lib: ['es2022', 'esnext.disposable'], strict: true, noEmit: true,
          skipLibCheck: false, types: ['node'], typeRoots: [path.join(nm, '@types')], esModuleInterop: true,
        },
        files,
      }, null, 2));
      const r = sh(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir });
      report(`types: ${c.name} consumer (${files.length} files: smoke + ${examples.length} README examples)`, r.status === 0, r.status === 0 ? '' : `\n${r.out.trim()}`);
    }
  } finally {
    if (argv.includes('--keep')) console.log(`check-package: kept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
  return results;
}

module.exports = { main, readmeExamples };

if (require.main === module) {
  const results = main(process.argv.slice(2));
  process.exit(results.length && results.every((r) => r.ok) ? 0 : 1);
}
