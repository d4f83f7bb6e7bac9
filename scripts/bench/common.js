'use strict';
/**
 * Shared helpers of scripts/bench: loading the library (dist/, built by `npm run build:ts`; the addon from
 * $TENSORRT_NODE_ADDON or build/), statistics, and the size rule shared with copy_baseline.cc.
 */
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** The value after `name` on the command line (`--n 16`), else `def`. */
function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : def;
}

function loadLib() {
  return require(path.join(ROOT, 'dist', 'index.js'));
}

/** Why CUDA benchmarks cannot run here, or null. */
function cudaSkipReason(lib) {
  try {
    const info = lib.runtimeInfo();
    if (!info.addon.loaded) return `native addon not loaded: ${info.addon.reason}`;
    if (!info.cuda.available) return `no usable CUDA GPU: ${info.cuda.reason ?? info.cuda.cudaError ?? 'unknown reason'}`;
    return null;
  } catch (e) {
    return `runtimeInfo() failed: ${e.message}`;
  }
}

/** Copies per trial: ~1 GiB in all, at least 3, at most 2000 (same rule as copy_baseline.cc). */
function repsFor(n) {
  return Math.min(2000, Math.max(3, Math.ceil(GiB / n)));
}

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

function percentile(v, p) {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

function stats(us) {
  return {
    medianUs: round(median(us), 3),
    p99Us: round(percentile(us, 99), 3),
    meanUs: round(us.reduce((a, b) => a + b, 0) / us.length, 3),
    minUs: round(Math.min(...us), 3),
  };
}

function round(x, d = 2) {
  if (typeof x !== 'number' || !Number.isFinite(x)) return x;
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

function sizeLabel(n) {
  if (n >= GiB && n % GiB === 0) return `${n / GiB} GiB`;
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB} KiB`;
  return `${n} B`;
}

const nowUs = () => Number(process.hrtime.bigint()) / 1e3;

/** Runs `main` when the file is executed directly: prints JSON (--json) or a readable dump. */
function cli(mod, main) {
  if (require.main !== mod) return;
  main(process.argv.slice(2)).then(
    (r) => {
      if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(r) + '\n');
      else console.log(JSON.stringify(r, null, 2));
    },
    (e) => {
      console.error(e && e.stack ? e.stack : e);
      process.exit(1);
    },
  );
}

module.exports = { arg, ROOT, KiB, MiB, GiB, loadLib, cudaSkipReason, repsFor, median, percentile, stats, round, sizeLabel, nowUs, cli };
