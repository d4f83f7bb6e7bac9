'use strict';
// CONTRACT TESTS of the loader (native/loader.cc) with STAND-IN libraries — test doubles, named as such.
// Each test compiles (g++, into a temp folder) stand-ins named like TensorRT's libraries that export only the C
// symbols the loader resolves: getInferLibVersion and the factories of libnvinfer (which return null: nothing can
// be built or run with them), createNvOnnxParser_INTERNAL of libnvonnxparser, initLibNvInferPlugins of
// libnvinfer_plugin. Then a child process loads the contract-test addon with a chosen environment and reports
// runtimeInfo().tensorrt: which libraries were taken, which version, and why not.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('./helpers');

function reason() {
  const r = h.skipReason();
  if (r) return r;
  if (spawnSync('g++', ['--version']).status !== 0) return 'no g++ to compile the stand-in libraries';
  return null;
}
const skip = reason();
const opts = { skip: skip || false, timeout: 60_000 };
if (skip) console.log(`# loader contract tests skipped: ${skip}`);

let tmp;
let objs; // compiled stand-ins by kind/variant, copied into each layout
before(() => {
  if (skip) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tn-standin-'));
  objs = path.join(tmp, 'objs');
  fs.mkdirSync(objs);
});
after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const [MAJOR, MINOR, PATCH] = skip ? [0, 0, 0] : h.headerVersion();
const CUR = `${MAJOR}.${MINOR}.${PATCH}`;
function encode(v) {
  const [M, m, p] = v.split('.').map(Number);
  return M >= 10 ? M * 10000 + m * 100 + p : M * 1000 + m * 100 + p;
}

const SOURCES = {
  // variant: the version, '-norefit' appended for a library without createInferRefitter_INTERNAL
  nvinfer: (v) => `extern "C" {
    int getInferLibVersion() { return ${encode(v.replace(/-norefit$/, ''))}; }
    void* createInferBuilder_INTERNAL(void*, int) { return nullptr; }
    void* createInferRuntime_INTERNAL(void*, int) { return nullptr; }
    ${v.endsWith('-norefit') ? '' : 'void* createInferRefitter_INTERNAL(void*, void*, int) { return nullptr; }'}
  }`,
  nvonnxparser: () => `extern "C" {
    void* createNvOnnxParser_INTERNAL(void*, void*, int) { return nullptr; }
    int getNvOnnxParserVersion() { return 100; }
  }`,
  nvinfer_plugin: (ok) => `extern "C" bool initLibNvInferPlugins(void*, const char*) { return ${ok ? 'true' : 'false'}; }`,
};

/** A compiled stand-in (cached per kind and variant). */
function standIn(kind, variant) {
  const so = path.join(objs, `${kind}-${variant}.so`);
  if (!fs.existsSync(so)) {
    const src = `${so}.cc`;
    fs.writeFileSync(src, SOURCES[kind](variant));
    const r = spawnSync('g++', ['-shared', '-fPIC', '-O0', '-o', so, src], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  return so;
}

/**
 * Puts lib<kind>.so.<major> in `dir`: as a symlink to lib<kind>.so.<version> (tar/deb layout) when `version` has
 * major.minor.patch, else as a plain file (pip's tensorrt_libs layout).
 */
function install(dir, kind, { version = CUR, plainFile = false, pluginOk = true, refitter = true } = {}) {
  fs.mkdirSync(dir, { recursive: true });
  const variant = kind === 'nvinfer' ? (refitter ? version : `${version}-norefit`) : kind === 'nvinfer_plugin' ? pluginOk : 'x';
  const so = standIn(kind, variant);
  const soname = path.join(dir, `lib${kind}.so.${MAJOR}`);
  if (plainFile) {
    fs.copyFileSync(so, soname);
  } else {
    const real = path.join(dir, `lib${kind}.so.${version}`);
    fs.copyFileSync(so, real);
    fs.symlinkSync(path.basename(real), soname);
  }
  return soname;
}

let layouts = 0;
function layout() {
  return path.join(tmp, `l${++layouts}`);
}

/** runtimeInfo().tensorrt of the contract addon in a child process with exactly these library variables. */
function probe(vars) {
  const env = { ...process.env };
  for (const k of ['TENSORRT_LIB_DIR', 'LD_LIBRARY_PATH', 'VIRTUAL_ENV', 'CONDA_PREFIX']) delete env[k];
  Object.assign(env, vars);
  // runtimeInfo().tensorrt, plus what `new Builder()` throws (the stand-in's factory returns null when it loads)
  const src = `const a = require(${JSON.stringify(h.addonPath)});
    const t = a.runtimeInfo().tensorrt;
    try { new a.Builder(); } catch (e) { t.builderError = { code: e.code, message: e.message }; }
    try { a.contract.createRefitter(); } catch (e) { t.refitError = { code: e.code, message: e.message }; }
    console.log(JSON.stringify(t));`;
  const r = spawnSync(process.execPath, ['-e', src], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('a library of the compiled version loads; its parser and plugins come from beside it', opts, () => {
  const a = layout();
  const lib = install(a, 'nvinfer');
  const parser = install(a, 'nvonnxparser');
  const plugin = install(a, 'nvinfer_plugin');
  const t = probe({ LD_LIBRARY_PATH: a });
  assert.equal(t.available, true, t.reason);
  assert.equal(t.version, CUR);
  assert.equal(t.libraryPath, lib);
  assert.equal(t.onnxParserPath, parser);
  assert.equal(t.pluginPath, plugin);
  assert.equal(t.reason, undefined);
});

test('#2: a library older than the compiled headers is refused (TENSORRT_UNAVAILABLE names both versions)', { ...opts, skip: skip || (MINOR === 0 && 'the headers are x.0: no older minor to test') }, () => {
  const older = `${MAJOR}.${MINOR - 1}.0`;
  const a = layout();
  install(a, 'nvinfer', { version: older });
  const t = probe({ LD_LIBRARY_PATH: a });
  assert.equal(t.available, false);
  assert.equal(t.version, older);
  assert.ok(t.reason.includes(`is TensorRT ${older}, older than the TensorRT ${CUR} headers`), t.reason);
  assert.equal(t.builderError.code, 'TENSORRT_UNAVAILABLE');
  assert.ok(t.builderError.message.includes(older) && t.builderError.message.includes(CUR), t.builderError.message);
});

test('#2: a newer minor version of the same major is accepted', opts, () => {
  const newer = `${MAJOR}.${MINOR + 1}.0`;
  const a = layout();
  install(a, 'nvinfer', { version: newer });
  const t = probe({ LD_LIBRARY_PATH: a });
  assert.equal(t.available, true, t.reason);
  assert.equal(t.version, newer);
});

test('another major version is refused', opts, () => {
  const a = layout();
  const other = `${MAJOR + 1}.0.0`;
  fs.mkdirSync(a, { recursive: true });
  // named as the compiled major's soname but reporting another major
  fs.copyFileSync(standIn('nvinfer', other), path.join(a, `libnvinfer.so.${MAJOR}`));
  const t = probe({ LD_LIBRARY_PATH: a });
  assert.equal(t.available, false);
  assert.match(t.reason, /major versions must match/);
});

test('#11: the parser and plugins are never taken from another TensorRT found later in the search path', opts, () => {
  const other = layout(); // another install, first in LD_LIBRARY_PATH, without libnvinfer
  install(other, 'nvonnxparser');
  install(other, 'nvinfer_plugin');
  const a = layout();
  const lib = install(a, 'nvinfer');
  const t = probe({ LD_LIBRARY_PATH: `${other}:${a}` });
  assert.equal(t.available, true, t.reason);
  assert.equal(t.libraryPath, lib);
  assert.equal(t.onnxParserPath, undefined, 'no parser beside libnvinfer: none, rather than another install\'s');
  assert.equal(t.pluginPath, undefined);
});

test('#11: TENSORRT_LIB_DIR says where the parser and plugins come from', opts, () => {
  const a = layout();
  const lib = install(a, 'nvinfer');
  install(a, 'nvonnxparser'); // beside libnvinfer, but TENSORRT_LIB_DIR names another folder
  const c = layout();
  const parser = install(c, 'nvonnxparser');
  const plugin = install(c, 'nvinfer_plugin');
  const t = probe({ LD_LIBRARY_PATH: a, TENSORRT_LIB_DIR: c });
  assert.equal(t.libraryPath, lib);
  assert.equal(t.onnxParserPath, parser);
  assert.equal(t.pluginPath, plugin);
});

test('#11: a parser or plugin library of another version than libnvinfer is not mixed in', opts, () => {
  const a = layout();
  install(a, 'nvinfer');
  const other = `${MAJOR}.${MINOR + 1}.0`;
  install(a, 'nvonnxparser', { version: other });
  install(a, 'nvinfer_plugin', { version: other });
  const t = probe({ LD_LIBRARY_PATH: a });
  assert.equal(t.available, true, t.reason);
  assert.equal(t.onnxParserPath, undefined);
  assert.equal(t.pluginPath, undefined);
});

test('#11: pip\'s layout (plain lib*.so.<major> files, no version in the names) is accepted', opts, () => {
  const a = layout();
  const lib = install(a, 'nvinfer', { plainFile: true });
  const parser = install(a, 'nvonnxparser', { plainFile: true });
  const t = probe({ TENSORRT_LIB_DIR: a });
  assert.equal(t.libraryPath, lib);
  assert.equal(t.onnxParserPath, parser);
});

test('#11: initLibNvInferPlugins returning false is reported, and the plugins are not claimed', opts, () => {
  const a = layout();
  install(a, 'nvinfer');
  install(a, 'nvinfer_plugin', { pluginOk: false });
  const t = probe({ LD_LIBRARY_PATH: a });
  assert.equal(t.available, true);
  assert.equal(t.pluginPath, undefined);
  assert.match(t.reason, /initLibNvInferPlugins .* returned false/);
});

test('review 2 #12: createInferRefitter_INTERNAL is optional: a library without it loads; refit is TENSORRT_UNAVAILABLE', opts, () => {
  const a = layout();
  const lib = install(a, 'nvinfer', { refitter: false });
  const t = probe({ LD_LIBRARY_PATH: a });
  assert.equal(t.available, true, t.reason);
  assert.equal(t.libraryPath, lib);
  // the library is usable: new Builder() gets past the loader (to CUDA_UNAVAILABLE here, or the stand-in's null)
  assert.notEqual(t.builderError.code, 'TENSORRT_UNAVAILABLE', t.builderError.message);
  assert.equal(t.refitError.code, 'TENSORRT_UNAVAILABLE');
  assert.ok(t.refitError.message.includes('createInferRefitter_INTERNAL') && t.refitError.message.includes(lib), t.refitError.message);
  // with the symbol, the refitter factory is called (the stand-in's returns null: a TensorRT error, not UNAVAILABLE)
  const b = layout();
  install(b, 'nvinfer');
  const u = probe({ LD_LIBRARY_PATH: b });
  assert.notEqual(u.refitError.code, 'TENSORRT_UNAVAILABLE', u.refitError.message);
});
