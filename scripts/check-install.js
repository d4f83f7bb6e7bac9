#!/usr/bin/env node
'use strict';
/**
 * Installs the packed tarball into scratch projects AS A USER WOULD: `npm install <tarball>` resolves every
 * dependency from the registry (npm's cache is used where it holds them: --prefer-offline); nothing is linked from
 * this checkout. One tarball is packed and reused by every check.
 *
 *   prebuild        the CUDA-only prebuild (scripts/prebuild.js, prebuildify) is built first when missing or older
 *                   than the native sources: CI builds and checks it here.
 *   user            in a private mount namespace (`unshare -m` as root, else `unshare -rm`): a tmpfs over the CUDA
 *                   toolkit (/usr/local/cuda, $CUDA_PATH, $CUDA_HOME), /bin/false bound over every C++ compiler,
 *                   make, python3/python and nvcc found, and a PATH holding only node, npm and a shell. Then
 *                   `npm install <tarball>` (ONNXRUNTIME_NODE_INSTALL=skip, as docs/install.md says where
 *                   api.nuget.org is unreachable): it compiles nothing; runtimeInfo() says prebuilt, variant cuda;
 *                   ONNX inspect (API and CLI), .npy, quantize and `tensorrt-node serve` (onnxruntime backend,
 *                   answers compared with onnxruntime-node run directly) work; a TensorRT class says
 *                   TENSORRT_UNAVAILABLE. `npm rebuild tensorrt-node` there (no compiler) says in one line what is
 *                   missing (no JS stack trace) and the prebuild stays in use.
 *   variants        a STAND-IN libnvinfer.so.11 of our own (a test double of the loader contract, exporting
 *                   getInferLibVersion only, compiled with g++) with only a trt10 prebuild present: the CUDA-only addon
 *                   is loaded, never the trt10 one, and TENSORRT_UNAVAILABLE says the trt11 variant is missing and
 *                   how to build it. Where the tarball ships trt<M> prebuilds, a stand-in libnvinfer.so.<M> selects
 *                   that one, and it loads (and calls the stand-in unusable: no TensorRT code runs).
 *   no-variable     only where api.nuget.org cannot be resolved: `npm install <tarball>` WITHOUT
 *                   ONNXRUNTIME_NODE_INSTALL: what npm does with onnxruntime-node, what `info` and `serve` say, and
 *                   that the advice given (ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node) works.
 *   source-build    where a compiler and the CUDA toolkit exist (CHECK_INSTALL_SKIP_SOURCE_BUILD=1 skips it):
 *                   `TENSORRT_NODE_BUILD_FROM_SOURCE=1 npm rebuild tensorrt-node` in the user's project compiles with
 *                   npm's own node-gyp ($npm_config_node_gyp; node-gyp is no dependency) and the source build loads.
 *
 *   node scripts/check-install.js [--keep]   prints one line per check; exit 1 on a failed check,
 *                                            "check-install: not run: <reason>" where a part cannot run here.
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { variantPaths, sourcesMtime } = require('./prebuild');

const ROOT = path.resolve(__dirname, '..');
const MODEL = path.join(ROOT, 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const NPM_FLAGS = ['--foreground-scripts', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];
let failed = 0;

function report(ok, name, detail = '') {
  if (!ok) failed++;
  console.log(`check-install: ${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 2 ** 20, ...opts });
  return { status: r.status ?? 1, out: `${r.stdout || ''}${r.stderr || ''}${r.error ? r.error.message : ''}` };
}

function lastJson(out) {
  const line = out.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  try {
    return JSON.parse(line);
  } catch {
    return { unparsed: out.trim().split('\n').slice(-5).join(' | ') };
  }
}

/** How to enter a private mount namespace here, or why not. */
function namespaceCommand() {
  if (!fs.existsSync('/usr/bin/unshare')) return { why: 'no unshare(1)' };
  const args = process.getuid && process.getuid() === 0 ? ['-m'] : ['-r', '-m'];
  const probe = sh('/usr/bin/unshare', [...args, 'sh', '-c', 'mount -t tmpfs tmpfs /tmp && true']);
  if (probe.status !== 0) return { why: `unshare ${args.join(' ')} with a tmpfs mount is not permitted here (${probe.out.trim().split('\n')[0]})` };
  return { cmd: '/usr/bin/unshare', args };
}

/** The real files of the build tools found on PATH (what the namespace replaces by /bin/false). */
function toolFiles() {
  const out = new Set();
  for (const name of ['c++', 'g++', 'gcc', 'cc', 'clang++', 'clang', 'make', 'gmake', 'python3', 'python', 'nvcc']) {
    for (const dir of (process.env.PATH || '').split(':')) {
      try {
        out.add(fs.realpathSync(path.join(dir, name)));
      } catch {
        // not there
      }
    }
  }
  for (const f of ['/usr/bin/python3', '/usr/local/cuda/bin/nvcc']) if (fs.existsSync(f)) out.add(fs.realpathSync(f));
  return [...out].filter((f) => !/\/(false|true)$/.test(f) && !f.startsWith('/usr/local/cuda'));
}

/** A folder with node, npm, npx and a shell only: the PATH of the user project without build tools. */
function minimalPath(work) {
  const bin = path.join(work, 'bin');
  fs.mkdirSync(bin);
  const npmOnPath = (process.env.PATH || '').split(':').map((d) => path.join(d, 'npm')).find((f) => fs.existsSync(f));
  const npmCli = fs.realpathSync(npmOnPath); // npm's bin/npm-cli.js
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync(npmCli, path.join(bin, 'npm'));
  fs.symlinkSync(path.join(path.dirname(npmCli), 'npx-cli.js'), path.join(bin, 'npx'));
  for (const t of ['sh', 'bash', 'env', 'ls', 'cat', 'wc', 'mkdir', 'rm', 'cp', 'dirname', 'sleep', 'kill', 'timeout']) {
    const f = ['/bin', '/usr/bin'].map((d) => path.join(d, t)).find((p) => fs.existsSync(p));
    if (f) fs.symlinkSync(f, path.join(bin, t));
  }
  return bin;
}

function userEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  for (const k of ['TENSORRT_NODE_ADDON', 'npm_config_nodedir', 'TENSORRT_NODE_BUILD_FROM_SOURCE', 'TENSORRT_NODE_SKIP_BUILD', 'TENSORRT_LIB_DIR', 'ONNXRUNTIME_NODE_INSTALL']) delete env[k];
  for (const k of Object.keys(env)) if (/^npm_(config|package|lifecycle)_|^npm_command$|^INIT_CWD$/.test(k)) delete env[k]; // not the caller's npm run
  return { ...env, ...extra };
}

function project(work, name) {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `scratch-${name}`, version: '1.0.0', private: true }, null, 2));
  for (const f of ['consumer.js', 'serve-check.js']) fs.copyFileSync(path.join(__dirname, 'check-install', f), path.join(dir, f));
  return dir;
}

/** The CUDA-only prebuild, built when missing or stale; null, or why it cannot be built here. */
function ensurePrebuild() {
  const { file } = variantPaths('cuda');
  if (fs.existsSync(file) && fs.statSync(file).mtimeMs > sourcesMtime()) return { file, built: false };
  const info = require('./find-deps').collect();
  if (!info.cuda.include || !info.cuda.cudartStatic) return { why: 'no CUDA toolkit here to build the CUDA-only prebuild' };
  if (sh('c++', ['--version']).status !== 0) return { why: 'no C++ compiler here to build the CUDA-only prebuild' };
  const r = sh(process.execPath, [path.join(__dirname, 'prebuild.js'), '--only-missing'], { cwd: ROOT, timeout: 900000 });
  report(r.status === 0 && fs.existsSync(file), 'prebuild: prebuildify builds the CUDA-only addon', r.status === 0 ? path.relative(ROOT, file) : r.out.trim().split('\n').slice(-8).join('\n'));
  return fs.existsSync(file) ? { file, built: true } : { why: 'the CUDA-only prebuild failed to build' };
}

function main(argv) {
  if (process.platform !== 'linux' || process.arch !== 'x64') return console.log(`check-install: not run: linux-x64 only (this is ${process.platform}-${process.arch})`);
  if (!fs.existsSync(path.join(ROOT, 'dist', 'index.js'))) return report(false, 'dist', 'not built: run `npm run build:ts`');
  const pre = ensurePrebuild();
  if (pre.why) return console.log(`check-install: not run: every check (${pre.why})`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tn-check-install-'));
  try {
    const pack = sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT });
    const meta = JSON.parse(pack.out.slice(pack.out.indexOf('['))).at(0);
    const tgz = path.join(work, meta.filename);
    const files = meta.files.map((f) => f.path);
    const trtMajors = files.map((f) => /^prebuilds\/trt(\d+)\/prebuilds\/linux-x64\/tensorrt-node\.trt\1\.glibc\.node$/.exec(f)).filter(Boolean).map((m) => Number(m[1]));
    report(files.includes('prebuilds/linux-x64/tensorrt-node.cuda.glibc.node') && files.includes('docs/install.md'),
      'npm pack ships the prebuilds and docs/', `${meta.filename}: ${(meta.size / 2 ** 20).toFixed(2)} MiB packed, ${(meta.unpackedSize / 2 ** 20).toFixed(2)} MiB unpacked, ${meta.entryCount} files; prebuilds: cuda${trtMajors.map((m) => `, trt${m}`).join('')}`);

    const ns = namespaceCommand();
    if (ns.why) {
      console.log(`check-install: not run: user, variants, no-variable (${ns.why})`);
    } else {
      const bin = minimalPath(work);
      const cudaDirs = [...new Set(['/usr/local/cuda', process.env.CUDA_PATH, process.env.CUDA_HOME].filter((d) => d && fs.existsSync(d)).map((d) => fs.realpathSync(d)))];
      const hide = [...cudaDirs.map((d) => `mount -t tmpfs tmpfs '${d}'`), ...toolFiles().map((f) => `mount --bind /bin/false '${f}'`)];
      const inNs = (dir, lines, env, timeout = 480000) =>
        sh(ns.cmd, [...ns.args, 'bash', '-c', ['set -e', ...hide, `export PATH='${bin}'`, `cd '${dir}'`, ...lines].join('\n')], { cwd: dir, env, timeout });
      userCheck(work, tgz, inNs);
      variantCheck(work, tgz, trtMajors);
      noVariableCheck(work, tgz, inNs);
    }
    sourceBuildCheck(work);
  } finally {
    if (argv.includes('--keep')) console.log(`check-install: kept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

function userCheck(work, tgz, inNs) {
  const dir = project(work, 'user');
  const r = inNs(dir, [
    `npm install '${tgz}' ${NPM_FLAGS.join(' ')}`,
    'echo "__TOOLS=$(command -v c++ g++ gcc cc make python3 python nvcc | wc -l) __CUDA=$(ls /usr/local/cuda 2>/dev/null | wc -l)' +
      ' __CXX=$(/usr/bin/c++ --version >/dev/null 2>&1 && echo works || echo fails)"',
    'echo "__BUILT=$(ls node_modules/tensorrt-node/build/Release 2>/dev/null | wc -l)"',
    `node consumer.js '${MODEL}'`,
    `./node_modules/.bin/tensorrt-node inspect '${MODEL}' > inspect.txt 2>&1 && rc=0 || rc=$?; echo "__INSPECT_EXIT=$rc"`,
    `node serve-check.js '${MODEL}' > serve.txt 2>&1 || true`,
    'npm rebuild tensorrt-node --foreground-scripts --loglevel=error > rebuild.txt 2>&1 && rc=0 || rc=$?; echo "__REBUILD_EXIT=$rc"',
    'node -e "const i=require(\'tensorrt-node\').runtimeInfo(); console.log(\'__AFTER_REBUILD=\' + i.addon.kind + \'/\' + i.addon.variant)"',
  ], userEnv({ ONNXRUNTIME_NODE_INSTALL: 'skip' }));
  const lines = r.out.split('\n');
  const installLines = lines.filter((l) => l.startsWith('tensorrt-node: '));
  report(r.status === 0, 'user: npm install <tarball> succeeds (dependencies from the registry, none linked)', r.status === 0 ? '' : r.out.trim().split('\n').slice(-15).join('\n'));
  report(/__TOOLS=0 __CUDA=0 __CXX=fails/.test(r.out), 'user: no compiler, make, python3, nvcc on PATH, CUDA toolkit hidden, compiler file unusable', (lines.find((l) => l.startsWith('__TOOLS')) || '').trim());
  report(installLines.length === 1 && /using prebuilt addons/.test(installLines[0]) && /__BUILT=0/.test(r.out) && !/CXX\(target\)/.test(r.out),
    'user: the install compiles nothing (one line: prebuilt addons)', installLines[0] || '(no line)');
  const linked = fs.existsSync(path.join(dir, 'node_modules')) && fs.readdirSync(path.join(dir, 'node_modules')).filter((e) => {
    try {
      return fs.lstatSync(path.join(dir, 'node_modules', e)).isSymbolicLink();
    } catch {
      return false;
    }
  });
  report(Array.isArray(linked) && linked.length === 0, 'user: no dependency is a link', JSON.stringify(linked));
  const out = lastJson(lines.filter((l) => l.startsWith('{')).join('\n'));
  report(out.addon && out.addon.loaded === true && out.addon.kind === 'prebuilt' && out.addon.variant === 'cuda' && /tensorrt-node\.cuda\.glibc\.node$/.test(out.addon.file),
    'user: the CUDA-only prebuild loads; runtimeInfo() says prebuilt, variant cuda', JSON.stringify(out.addon));
  report(Array.isArray(out.modelInputs) && out.modelInputs.length === 1, 'user: loadModel/modelInfo of a real model', JSON.stringify(out.modelInputs));
  report(JSON.stringify(out.npy) === JSON.stringify({ shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }), 'user: .npy write -> read', JSON.stringify(out.npy));
  report(!!out.quantize && out.quantize.qdq > 0, 'user: quantize (Q/DQ inserted, statistics by onnxruntime-node on the CPU)', JSON.stringify(out.quantize));
  report(!!out.builder && out.builder.isTensorRTError === true && out.builder.code === 'TENSORRT_UNAVAILABLE', 'user: a TensorRT class gives TENSORRT_UNAVAILABLE', JSON.stringify(out.builder && out.builder.code));
  report(out.esm === 'object', 'user: ESM import works', String(out.esm));
  const read = (f) => {
    try {
      return fs.readFileSync(path.join(dir, f), 'utf8');
    } catch {
      return '';
    }
  };
  report(/__INSPECT_EXIT=0/.test(r.out) && read('inspect.txt').length > 0, 'user: `tensorrt-node inspect model.onnx`', read('inspect.txt').trim().split('\n')[0]);
  const s = lastJson(read('serve.txt'));
  report(s.ok === true, 'user: `tensorrt-node serve` (onnxruntime backend) answers KServe v2 and TF Serving like onnxruntime-node', JSON.stringify(s).slice(0, 300));
  const rebuild = read('rebuild.txt');
  const rl = rebuild.split('\n').filter((l) => l.startsWith('tensorrt-node: '));
  report(/__REBUILD_EXIT=0/.test(r.out) && rl.length === 1 && /NOT built: missing a C\+\+17 compiler/.test(rl[0]) && /make/.test(rl[0]) && /python3/.test(rl[0]) &&
    /prebuilt addons .* stay in use/.test(rl[0]) && !/\n\s+at /.test(rebuild) && !/compiler's messages are above/.test(rebuild) && /__AFTER_REBUILD=prebuilt\/cuda/.test(r.out),
  'user: `npm rebuild tensorrt-node` without compiler: one line says what is missing, no stack trace, the prebuild stays', rl[0] || rebuild.trim().split('\n').slice(-3).join(' | '));
}

/** A stand-in libnvinfer.so.<major> of our own (test double of the loader contract): getInferLibVersion only. */
function standIn(work, major) {
  const dir = path.join(work, `standin-trt${major}`);
  fs.mkdirSync(dir);
  const src = path.join(dir, 'standin.cc');
  fs.writeFileSync(src, `// STAND-IN for libnvinfer.so.${major}: a test double, not TensorRT\nextern "C" int getInferLibVersion() { return ${major * 10000 + 100}; }\n`);
  const r = sh('g++', ['-shared', '-fPIC', '-o', path.join(dir, `libnvinfer.so.${major}`), src]);
  return r.status === 0 ? dir : null;
}

function variantCheck(work, tgz, trtMajors) {
  const pkg = path.join(work, 'user', 'node_modules', 'tensorrt-node');
  if (!fs.existsSync(path.join(pkg, 'package.json'))) return console.log('check-install: not run: variants (the user install failed)');
  if (sh('g++', ['--version']).status !== 0) return console.log('check-install: not run: variants (no g++ to compile the stand-in libnvinfer)');
  const probe = (env, root) => lastJson(sh(process.execPath, ['-e', [
    "const t=require('tensorrt-node'); const i=t.runtimeInfo(); let b;",
    'try { new t.Builder(); b = "constructed"; } catch (e) { b = { code: e.code, message: e.message }; }',
    'console.log(JSON.stringify({ kind: i.addon.kind, variant: i.addon.variant, compiled: i.compiledWith.tensorrt, available: i.tensorrt.available, reason: i.tensorrt.reason, builder: b }))',
  ].join('\n')], { cwd: root, env: userEnv(env) }).out);
  // only a trt10 prebuild present, a TensorRT 11 library: the copy of the package gets a trt10 slot holding the real
  // trt10 prebuild when shipped, else a PLACEHOLDER (a copy of the CUDA-only addon: if it were loaded, the variant
  // reported would say trt10 and the test fails)
  const lib11 = standIn(work, 11);
  const copy = path.join(work, 'only-trt10', 'node_modules', 'tensorrt-node');
  fs.cpSync(pkg, copy, { recursive: true });
  fs.rmSync(path.join(copy, 'prebuilds', 'trt11'), { recursive: true, force: true });
  const slot = variantPaths('trt10', copy).file;
  if (!fs.existsSync(slot)) {
    fs.mkdirSync(path.dirname(slot), { recursive: true });
    fs.copyFileSync(variantPaths('cuda', copy).file, slot);
  }
  for (const dep of fs.readdirSync(path.join(work, 'user', 'node_modules'))) {
    if (dep !== 'tensorrt-node') fs.symlinkSync(path.join(work, 'user', 'node_modules', dep), path.join(work, 'only-trt10', 'node_modules', dep));
  }
  const m = probe({ TENSORRT_LIB_DIR: lib11 }, path.join(work, 'only-trt10'));
  report(m.variant === 'cuda' && m.builder && m.builder.code === 'TENSORRT_UNAVAILABLE' && /libnvinfer\.so\.11 was found/.test(m.builder.message) &&
    /no prebuilt addon for TensorRT 11 \(the variant trt11/.test(m.builder.message) && /npm rebuild tensorrt-node/.test(m.builder.message) && m.reason === m.builder.message,
  'variants: STAND-IN libnvinfer.so.11 with only the trt10 prebuild: CUDA-only loaded, TENSORRT_UNAVAILABLE names the missing trt11 variant and how to build it', JSON.stringify(m).slice(0, 400));
  for (const major of trtMajors) {
    const lib = major === 11 ? lib11 : standIn(work, major);
    const p = probe({ TENSORRT_LIB_DIR: lib }, path.join(work, 'user'));
    report(p.kind === 'prebuilt' && p.variant === `trt${major}` && String(p.compiled).startsWith(`${major}.`) && p.available === false && /not a usable TensorRT library/.test(p.reason || ''),
      `variants: STAND-IN libnvinfer.so.${major} selects and loads the trt${major} prebuild (stand-in reported unusable; no TensorRT code runs)`, JSON.stringify(p).slice(0, 300));
  }
}

function noVariableCheck(work, tgz, inNs) {
  const dns = sh(process.execPath, ['-e', "require('dns').lookup('api.nuget.org', (e) => process.exit(e ? 1 : 0))"], { timeout: 15000 });
  if (dns.status === 0) return console.log('check-install: not run: no-variable (api.nuget.org is reachable here: onnxruntime-node would download its CUDA providers)');
  const dir = project(work, 'novar');
  const r = inNs(dir, [
    `npm install '${tgz}' ${NPM_FLAGS.join(' ')} > install.txt 2>&1 && rc=0 || rc=$?; echo "__INSTALL_EXIT=$rc"`,
    'echo "__ORT=$(ls -d node_modules/onnxruntime-node 2>/dev/null | wc -l)"',
    './node_modules/.bin/tensorrt-node info > info.txt 2>&1 || true',
    `mkdir -p repo/cls/1 && cp '${MODEL}' repo/cls/1/model.onnx`,
    'timeout 20 ./node_modules/.bin/tensorrt-node serve repo --port 0 > serve.txt 2>&1 && rc=0 || rc=$?; echo "__SERVE_EXIT=$rc"',
    `ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node ${NPM_FLAGS.join(' ')} > ort.txt 2>&1 && rc=0 || rc=$?; echo "__ORT_INSTALL_EXIT=$rc"`,
    './node_modules/.bin/tensorrt-node info > info2.txt 2>&1 || true',
  ], userEnv());
  const read = (f) => {
    try {
      return fs.readFileSync(path.join(dir, f), 'utf8');
    } catch {
      return '';
    }
  };
  const ort = /__ORT=1/.test(r.out);
  console.log(`check-install: note no-variable: npm install exit ${(/__INSTALL_EXIT=(\d+)/.exec(r.out) || [])[1]}, onnxruntime-node ${ort ? 'kept' : 'dropped by npm (its postinstall could not reach api.nuget.org)'}`);
  report(/__INSTALL_EXIT=0/.test(r.out), 'no-variable: npm install <tarball> succeeds', read('install.txt').trim().split('\n').slice(-3).join(' | '));
  if (!ort) {
    const info = read('info.txt');
    report(/onnxruntime-node: MISSING/.test(info) && !/default backend onnxruntime/.test(info) && /ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node/.test(info),
      'no-variable: `info` says onnxruntime-node is MISSING and what to do, and claims no onnxruntime default backend', (info.split('\n').find((l) => l.startsWith('serve:')) || '').trim());
    const serve = read('serve.txt');
    const errLine = serve.split('\n').find((l) => l.startsWith('tensorrt-node serve: ')) || '';
    report(/__SERVE_EXIT=1/.test(r.out) && /ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node/.test(errLine),
      'no-variable: `serve` exits 1, its error line saying ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node', `exit ${(/__SERVE_EXIT=(\d+)/.exec(r.out) || [])[1]}: ${(errLine || serve.trim().split('\n').pop()).slice(0, 300)}`);
    report(/__ORT_INSTALL_EXIT=0/.test(r.out) && /serve: default backend onnxruntime/.test(read('info2.txt')),
      'no-variable: the advice works: afterwards `info` finds onnxruntime-node', (read('info2.txt').split('\n').find((l) => l.startsWith('serve:')) || read('ort.txt').trim()).trim().slice(0, 200));
  }
}

function sourceBuildCheck(work) {
  if (process.env.CHECK_INSTALL_SKIP_SOURCE_BUILD) return console.log('check-install: not run: source-build (CHECK_INSTALL_SKIP_SOURCE_BUILD is set)');
  const info = require('./find-deps').collect();
  if (!info.cuda.include || sh('c++', ['--version']).status !== 0 || sh('make', ['--version']).status !== 0) return console.log('check-install: not run: source-build (no compiler, make or CUDA toolkit here)');
  const dir = path.join(work, 'user');
  if (!fs.existsSync(path.join(dir, 'node_modules', 'tensorrt-node'))) return console.log('check-install: not run: source-build (the user install failed)');
  const r = sh('npm', ['rebuild', 'tensorrt-node', '--foreground-scripts', '--loglevel=error'], { cwd: dir, env: userEnv({ TENSORRT_NODE_BUILD_FROM_SOURCE: '1', ONNXRUNTIME_NODE_INSTALL: 'skip' }), timeout: 1200000 });
  const line = r.out.split('\n').find((l) => l.startsWith('tensorrt-node: ')) || '';
  report(r.status === 0 && /built from source/.test(line) && /npm's bundled node-gyp/.test(r.out), "source-build: `npm rebuild tensorrt-node` in the user's project compiles with npm's node-gyp", line || r.out.trim().split('\n').slice(-5).join(' | '));
  const q = lastJson(sh(process.execPath, ['-e', "const i=require('tensorrt-node').runtimeInfo(); console.log(JSON.stringify({ loaded: i.addon.loaded, kind: i.addon.kind }))"], { cwd: dir, env: userEnv() }).out);
  report(q.loaded === true && q.kind === 'source build', 'source-build: the source build loads', JSON.stringify(q));
}

main(process.argv.slice(2));
process.exit(failed ? 1 : 0);
