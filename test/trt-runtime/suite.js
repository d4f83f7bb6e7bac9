'use strict';
/**
 * test/trt-runtime: TensorRT's runtime-only libraries (the lean runtime libnvinfer_lean, the dispatch runtime
 * libnvinfer_dispatch) through tensorrt-node's loader, IRuntime, ILogger, error recorder and error paths. One file per
 * flavor (lean.test.js, dispatch.test.js), each in its own process, both defined here.
 *
 * Where the libraries come from: $TN_TRT_RUNTIME_DIR/<flavor>/ (scripts/gpu/run.sh unpacks the pinned PyPI wheels
 * there, with the wheel's version in VERSION, the oracle for the version check), which becomes TENSORRT_LIB_DIR
 * before the package loads; else wherever the loader finds them (the version check then skips).
 *
 * What no test here can do: build, parse or run a real engine (these libraries have no builder, and no
 * version-compatible plan exists here to deserialize). Every deserialization below is of bytes TensorRT must refuse.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { Worker } = require('node:worker_threads');
const v8 = require('node:v8');
const vm = require('node:vm');

const root = path.join(__dirname, '..', '..');

function defineSuite(flavor, file) {
  const base = `test/trt-runtime/${path.basename(file)}`;
  const dir = process.env.TN_TRT_RUNTIME_DIR ? path.join(process.env.TN_TRT_RUNTIME_DIR, flavor) : null;
  if (dir && fs.existsSync(dir)) process.env.TENSORRT_LIB_DIR = dir;
  const wheelVersion = dir && fs.existsSync(path.join(dir, 'VERSION')) ? fs.readFileSync(path.join(dir, 'VERSION'), 'utf8').trim() : null;
  const lib = require(path.join(root, 'dist', 'index.js'));

  // skipLib: the library itself is missing (every test skips); skip: no GPU either (the tests that create an IRuntime)
  let skipLib = false;
  const compiled = lib.runtimeInfo().compiledWith.tensorrt;
  const probe = compiled ? lib.probeTensorRT(flavor) : null;
  if (!compiled) skipLib = 'tensorrt-node was built without TensorRT headers';
  else if (!probe.available) skipLib = `the ${flavor} runtime does not load: ${probe.reason}`;
  const skip = skipLib || (lib.runtimeInfo().cuda.available ? false : `no usable CUDA GPU: ${lib.runtimeInfo().cuda.reason}`);
  if (skip) console.log(`# ${base} skipped${skipLib ? '' : ' (but for the tests that need no GPU)'}: ${skip}`);
  const major = compiled ? compiled.split('.')[0] : '?';
  const soname = `libnvinfer_${flavor}.so.${major}`;
  // the dispatch runtime refuses to deserialize without host code allowed (its plans embed the lean runtime)
  const rtOptions = flavor === 'dispatch' ? { flavor, engineHostCodeAllowed: true } : { flavor };
  const childEnv = (extra = {}) => ({ ...process.env, ...extra });

  // Bytes TensorRT must refuse. TensorRT plans begin with the tag "ftrt" followed by a serialization version.
  const rand = (n, seed) => {
    const out = Buffer.alloc(n);
    let off = 0;
    for (let i = 0; off < n; i++) {
      const h = crypto.createHash('sha256').update(`${seed}:${i}`).digest();
      off += h.copy(out, off);
    }
    return out;
  };
  const bad = {
    random: () => rand(64 * 1024, 'random'),
    truncatedHeader: () => Buffer.from('ftrt\x01\x00', 'latin1'),
    otherVersionMagic: () => {
      const b = Buffer.alloc(4096);
      b.write('ftrt', 0, 'latin1');
      b.writeUInt32LE(1, 4); // a serialization version no TensorRT 10 / 11 writes
      b.writeBigUInt64LE(4096n, 8);
      return b;
    },
  };

  async function rejects(p) {
    try {
      await p;
    } catch (e) {
      return e;
    }
    assert.fail('expected a rejection');
  }
  function checkDeserializeError(e, what) {
    assert.ok(e instanceof lib.TensorRTError, `${what}: a TensorRTError (got ${e && e.constructor && e.constructor.name}: ${e && e.message})`);
    assert.equal(e.code, 'DESERIALIZE_ERROR', `${what}: ${e.message}`);
    assert.doesNotMatch(e.message, /no details from TensorRT/, `${what}: TensorRT said nothing: ${e.message}`);
    assert.match(e.message, /version-compatible/, `${what}: the ${flavor} runtime's rule is named`);
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const gc = (() => {
    if (typeof global.gc === 'function') return global.gc;
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc');
  })();

  test(`${flavor}: the loader opens ${soname} and reports the wheel's version`, { skip: skipLib }, () => {
    assert.equal(probe.available, true);
    assert.equal(probe.flavor, flavor);
    assert.equal(path.basename(probe.libraryPath), soname);
    if (dir) assert.equal(probe.libraryPath, path.join(dir, soname));
    assert.match(probe.version, /^\d+\.\d+\.\d+$/);
    assert.ok(probe.cannot.some((c) => /build engines/.test(c)), probe.cannot.join('; '));
    assert.ok(probe.cannot.some((c) => /version-compatible/.test(c)));
    if (flavor === 'lean' && dir && fs.existsSync(path.join(dir, `libnvinfer_vc_plugin.so.${major}`))) {
      assert.equal(probe.pluginPath, path.join(dir, `libnvinfer_vc_plugin.so.${major}`));
    }
    console.log(`# ${flavor}: ${probe.libraryPath}: version ${probe.version}, buildVersion ${probe.buildVersion}, wheel ${wheelVersion}`);
    if (!wheelVersion) {
      console.log(`# ${flavor}: no wheel version given (TN_TRT_RUNTIME_DIR unset): version not compared`);
      return;
    }
    assert.equal(probe.buildVersion, wheelVersion, 'getInferLibVersion + getInferLibBuildVersion = the PyPI wheel version');
  });

  test(`${flavor}: runtimeInfo() and tensorrt-node info say which library serves, from where, its version and limits`, { skip: skipLib }, () => {
    const t = lib.runtimeInfo().tensorrt;
    if (dir) {
      // TENSORRT_LIB_DIR holds only this flavor's library: no libnvinfer anywhere, so the loader falls back to it
      assert.equal(t.flavor, flavor, JSON.stringify(t));
      assert.equal(t.available, true);
      assert.match(t.selectedBecause, new RegExp(`no libnvinfer\\.so\\.${major} \\(the full TensorRT library\\) was found`));
      assert.equal(t.libraryPath, probe.libraryPath);
    }
    const cli = spawnSync(process.execPath, [path.join(root, 'dist', 'cli', 'index.js'), 'info'], {
      env: childEnv({ TENSORRT_NODE_RUNTIME: flavor }), encoding: 'utf8', timeout: 60000,
    });
    console.log(cli.stdout.split('\n').filter((l) => /TensorRT|library|selected|cannot|^\s+- /.test(l)).map((l) => `# info| ${l}`).join('\n'));
    assert.match(cli.stdout, new RegExp(`TensorRT: found\\s+version ${(probe.buildVersion || probe.version).replace(/\./g, '\\.')}\\s+\\(${flavor} runtime\\)`));
    assert.ok(cli.stdout.includes(`library: ${probe.libraryPath}`), cli.stdout);
    assert.match(cli.stdout, new RegExp(`selected because TENSORRT_NODE_RUNTIME=${flavor}`));
    assert.match(cli.stdout, new RegExp(`the ${flavor} runtime cannot:\\n\\s+- build engines`));
    // an unknown TENSORRT_NODE_RUNTIME is refused with a reason, never guessed
    const r = spawnSync(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(path.join(root, 'dist'))}).runtimeInfo().tensorrt))`], {
      env: childEnv({ TENSORRT_NODE_RUNTIME: 'fast' }), encoding: 'utf8', timeout: 60000,
    });
    const o = JSON.parse(r.stdout);
    assert.equal(o.available, false);
    assert.match(o.reason, /TENSORRT_NODE_RUNTIME='fast' is not one of full, lean, dispatch/);
  });

  test(`${flavor}: building on a runtime-only library fails with TENSORRT_UNAVAILABLE naming the flavor and what to install`, { skip: skipLib }, () => {
    // the process's library is this flavor (TENSORRT_LIB_DIR holds only it, or TENSORRT_NODE_RUNTIME names it)
    const r = spawnSync(process.execPath, ['-e', `
      const lib = require(${JSON.stringify(path.join(root, 'dist'))});
      const out = {};
      try { new lib.Builder(); out.builder = 'created'; } catch (e) { out.builder = { code: e.code, message: e.message }; }
      try { new lib.Runtime({ flavor: 'nope' }); } catch (e) { out.badFlavor = { code: e.code, message: e.message }; }
      process.stdout.write(JSON.stringify(out));`], { env: childEnv({ TENSORRT_NODE_RUNTIME: flavor }), encoding: 'utf8', timeout: 60000 });
    const o = JSON.parse(r.stdout);
    console.log(`# ${flavor}: new Builder(): ${JSON.stringify(o.builder)}`);
    assert.equal(o.builder.code, 'TENSORRT_UNAVAILABLE');
    assert.match(o.builder.message, new RegExp(`The TensorRT builder is not available: tensorrt-node is using the ${flavor} runtime libnvinfer_${flavor}\\.so\\.${major}`));
    assert.match(o.builder.message, new RegExp(`needs the full TensorRT library libnvinfer\\.so\\.${major}: install it \\(\`pip install tensorrt-cu\\d+==${major}\\.\\*\``));
    assert.equal(o.badFlavor.code, 'INVALID_ARGUMENT');
    assert.match(o.badFlavor.message, /flavor must be one of full, lean, dispatch/);
  });

  // TensorRT's documentation (NvInferRuntime.h, IRuntime::setErrorRecorder): "If an error recorder is not set,
  // messages will be sent to the global log stream". Our IRuntime has a recorder, so its errors go there (next test)
  // and the logger gets TensorRT's other lines; "Loaded engine size: N MiB" is one TensorRT logs at kINFO (trtexec
  // prints it as "[I] [TRT] Loaded engine size").
  test(`${flavor}: IRuntime with our ILogger: TensorRT's log lines reach JS with their severity`, { skip }, async () => {
    const seen = [];
    const off = lib.onLog((severity, message) => seen.push({ severity, message }));
    const until = async (pred) => { for (let i = 0; i < 100 && !pred(); i++) await sleep(10); };
    try {
      lib.setLogSeverity('verbose');
      const rt = new lib.Runtime(rtOptions);
      assert.equal(rt.flavor, flavor);
      const e = await rejects(rt.deserialize(bad.random()));
      checkDeserializeError(e, 'random bytes');
      await until(() => seen.some((s) => /Loaded engine size/.test(s.message)));
      await sleep(50);
      console.log(`# ${flavor}: ${seen.length} log lines at 'verbose', severities ${[...new Set(seen.map((s) => s.severity))].join(', ')}`);
      for (const s of seen.slice(0, 12)) console.log(`# log| ${s.severity}: ${s.message.slice(0, 240)}`);
      for (const s of seen) assert.ok(lib.LOG_SEVERITIES.includes(s.severity), s.severity);
      const loaded = seen.filter((s) => /^Loaded engine size: \d+ MiB$/.test(s.message));
      assert.ok(loaded.length > 0, 'TensorRT logged "Loaded engine size" through our ILogger');
      assert.deepEqual([...new Set(loaded.map((s) => s.severity))], ['info']);
      // the error went to the error recorder, not to the logger, and the TensorRTError carries it
      assert.deepEqual(seen.filter((s) => s.severity === 'error' || s.severity === 'internalError'), []);
      assert.match(e.message, /Error Code \d+: /);
      // below the minimum severity ('warning', the default) nothing reaches JS
      seen.length = 0;
      lib.setLogSeverity('warning');
      const rt2 = new lib.Runtime(rtOptions);
      checkDeserializeError(await rejects(rt2.deserialize(bad.random())), 'random bytes at warning');
      await sleep(200);
      assert.deepEqual(seen, []);
      rt.dispose();
      rt2.dispose();
    } finally {
      off();
      lib.setLogSeverity('warning');
    }
  });

  test(`${flavor}: empty, random, truncated and other-version plans are refused with TensorRT's own words`, { skip }, async () => {
    const rt = new lib.Runtime(rtOptions);
    const empty = await rejects(rt.deserialize(new Uint8Array(0)));
    assert.equal(empty.code, 'DESERIALIZE_ERROR');
    assert.match(empty.message, /engine data is empty \(0 bytes\)/); // ours: TensorRT is not asked about 0 bytes
    for (const [what, make] of Object.entries(bad)) {
      const e = await rejects(rt.deserialize(make()));
      console.log(`# ${flavor}: ${what}: [${e.code}] ${e.message}`);
      checkDeserializeError(e, what);
    }
    // the same through a file and through Engine.load / loadEngine's runtime option
    const f = path.join(require('node:os').tmpdir(), `tn-trt-runtime-${process.pid}.engine`);
    fs.writeFileSync(f, bad.truncatedHeader());
    try {
      checkDeserializeError(await rejects(rt.deserialize(f)), 'file');
      checkDeserializeError(await rejects(lib.Engine.load(f, rtOptions)), 'Engine.load');
    } finally {
      fs.unlinkSync(f);
    }
    rt.dispose();
    if (flavor === 'dispatch') {
      const noHost = new lib.Runtime({ flavor });
      const e = await rejects(noHost.deserialize(bad.random()));
      console.log(`# dispatch without engineHostCodeAllowed: [${e.code}] ${e.message}`);
      assert.equal(e.code, 'INVALID_ARGUMENT');
      assert.match(e.message, /engineHostCodeAllowed: true/);
      noHost.dispose();
    }
  });

  test(`${flavor}: the error recorder: each failure reports its own errors, none left over from the one before`, { skip }, async () => {
    const logged = [];
    const off = lib.onLog((severity, message) => { if (severity === 'error') logged.push(message); });
    try {
      const rt = new lib.Runtime(rtOptions);
      const a = await rejects(rt.deserialize(bad.random()));
      const b = await rejects(rt.deserialize(bad.truncatedHeader()));
      await sleep(100);
      const details = (e) => e.message.slice(e.message.indexOf('bytes): ') + 8).replace(/ \[the .*$/, '').split('; ');
      const fromRecorder = (e) => details(e).filter((d) => !logged.some((l) => l.includes(d) || d.includes(l)));
      console.log(`# ${flavor}: random: ${JSON.stringify(details(a))}; only in the recorder: ${JSON.stringify(fromRecorder(a))}`);
      console.log(`# ${flavor}: truncated: ${JSON.stringify(details(b))}; logged at error: ${logged.length}`);
      assert.ok(details(a).length > 0 && details(b).length > 0);
      // TensorRT sent its errors to our IErrorRecorder (none reached the logger: see the ILogger test)
      assert.equal(logged.length, 0, logged.join(' | '));
      assert.ok(fromRecorder(a).length > 0 && fromRecorder(b).length > 0);
      // one deserialization's details never repeat in the next (the recorder is emptied before each)
      if (details(a).join() !== details(b).join()) {
        for (const d of details(a)) if (!details(b).includes(d)) assert.ok(!b.message.includes(d), `leftover: ${d}`);
      }
      rt.dispose();
    } finally {
      off();
    }
  });

  test(`${flavor}: 1,000 refused plans leak neither device nor host memory`, { skip, timeout: 120000 }, async () => {
    const rt = new lib.Runtime(rtOptions);
    const off = lib.onLog(() => {}); // keep 1,000 x TensorRT's error lines off stderr
    const kinds = Object.values(bad).map((f) => f());
    try {
      for (let i = 0; i < 30; i++) await rejects(rt.deserialize(kinds[i % kinds.length]));
      gc(); await sleep(50); gc();
      const dev0 = lib.memGetInfo().free;
      const rss0 = process.memoryUsage().rss;
      const t0 = Date.now();
      for (let i = 0; i < 1000; i++) {
        const e = await rejects(rt.deserialize(kinds[i % kinds.length]));
        if (e.code !== 'DESERIALIZE_ERROR') assert.fail(`failure ${i}: ${e.code}: ${e.message}`);
      }
      const ms = Date.now() - t0;
      gc(); await sleep(50); gc();
      const dev1 = lib.memGetInfo().free;
      const rss1 = process.memoryUsage().rss;
      console.log(`# ${flavor}: 1,000 failures in ${ms} ms; device free ${dev0} -> ${dev1} (${dev1 - dev0} bytes); host RSS ${rss0} -> ${rss1} (${((rss1 - rss0) / 2 ** 20).toFixed(2)} MiB)`);
      assert.ok(dev0 - dev1 <= 2 * 2 ** 20, `device memory fell by ${dev0 - dev1} bytes`);
      assert.ok(rss1 - rss0 <= 16 * 2 ** 20, `host RSS grew by ${rss1 - rss0} bytes (16 KiB a failure or more)`);
    } finally {
      off();
      rt.dispose();
    }
  });

  const workerCode = (body) => `
    const { parentPort } = require('node:worker_threads');
    const lib = require(${JSON.stringify(path.join(root, 'dist'))});
    const rtOptions = ${JSON.stringify(rtOptions)};
    const bytes = Buffer.alloc(65536, 7);
    (async () => { ${body} })().catch((e) => parentPort.postMessage({ failed: String(e && e.stack || e) }));`;

  test(`${flavor}: a runtime in a worker thread`, { skip }, async () => {
    const w = new Worker(workerCode(`
      const rt = new lib.Runtime(rtOptions);
      let out;
      try { await rt.deserialize(bytes); out = { resolved: true }; } catch (e) { out = { code: e.code, message: e.message, flavor: rt.flavor }; }
      rt.dispose();
      parentPort.postMessage(out);`), { eval: true });
    const msg = await new Promise((res, rej) => { w.once('message', res); w.once('error', rej); });
    const code = await new Promise((res) => w.once('exit', res));
    assert.equal(msg.failed, undefined, msg.failed);
    assert.equal(msg.flavor, flavor);
    assert.equal(msg.code, 'DESERIALIZE_ERROR', msg.message);
    assert.doesNotMatch(msg.message, /no details from TensorRT/);
    assert.equal(code, 0);
  });

  test(`${flavor}: worker.terminate() and process exit with runtimes alive and deserializations in flight`, { skip, timeout: 120000 }, async () => {
    const w = new Worker(workerCode(`
      const rts = [0, 1, 2, 3].map(() => new lib.Runtime(rtOptions));
      for (let i = 0; i < 16; i++) rts[i % 4].deserialize(Buffer.alloc(1 << 20, i)).catch(() => {});
      parentPort.postMessage({ ready: true });
      setInterval(() => {}, 1000);`), { eval: true });
    const msg = await new Promise((res, rej) => { w.once('message', res); w.once('error', rej); });
    assert.equal(msg.ready, true, msg.failed);
    const code = await w.terminate();
    assert.equal(code, 1); // terminated
    // this thread's TensorRT still works
    const rt = new lib.Runtime(rtOptions);
    checkDeserializeError(await rejects(rt.deserialize(bad.random())), 'after terminate');
    rt.dispose();
    // process.exit with runtimes alive (and work in flight), and a natural exit with runtimes never disposed
    for (const how of ['process.exit(0)', 'natural exit']) {
      const r = spawnSync(process.execPath, ['-e', `
        const lib = require(${JSON.stringify(path.join(root, 'dist'))});
        const rts = [0, 1, 2].map(() => new lib.Runtime(${JSON.stringify(rtOptions)}));
        globalThis.keep = rts;
        ${how === 'process.exit(0)'
          ? "for (const rt of rts) rt.deserialize(Buffer.alloc(1 << 20, 3)).catch(() => {}); setImmediate(() => process.exit(0));"
          : "Promise.allSettled(rts.map((rt) => rt.deserialize(Buffer.alloc(4096, 1)))).then((r) => console.log(r.map((x) => x.reason && x.reason.code).join()));"}
      `], { env: childEnv(), encoding: 'utf8', timeout: 60000 });
      console.log(`# ${flavor}: ${how}: status ${r.status}, signal ${r.signal}${r.stdout.trim() ? `, stdout ${r.stdout.trim()}` : ''}`);
      assert.equal(r.signal, null, `${how}: killed by ${r.signal}: ${r.stderr.slice(-2000)}`);
      assert.equal(r.status, 0, `${how}: ${r.stderr.slice(-2000)}`);
      assert.doesNotMatch(r.stderr, /Segmentation|Aborted|terminate called|FATAL/);
      if (how === 'natural exit') assert.equal(r.stdout.trim(), 'DESERIALIZE_ERROR,DESERIALIZE_ERROR,DESERIALIZE_ERROR');
    }
  });
}

module.exports = { defineSuite };
