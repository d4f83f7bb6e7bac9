'use strict';
/**
 * Host<->device copy throughput of the binding against the plain C++ program, measured in interleaved pairs.
 *
 * The GPU host is a shared VM whose PCIe and memory bandwidth dip for tens to hundreds of milliseconds at a time
 * (trials of the same copy vary by up to 40% within a second). Measuring all C++ trials of a size and then all
 * binding trials lets such a dip land on one side only. Here the C++ program runs as a server process
 * (`copy_baseline serve`, one trial per request) next to this process, and for each (memory, direction, size):
 *
 *   1. both sides allocate and touch their buffers and run one untimed warm-up trial;
 *   2. `pairs` times: one C++ trial and one binding trial back to back, the order alternating from pair to pair
 *      (C++ first, binding first, ...), so that neither side is systematically first after the other's work;
 *      for pinned 1-64 MiB a third arm, C++ with an event recorded after every copy, takes part in the rotation;
 *   3. the ratio binding / C++ of every pair; reported: the median of those ratios (the target's figure), their
 *      25th-75th percentiles and minimum, and each side's median and best trial.
 *
 * A trial (the same on both sides): `reps` copies issued back to back on one stream, reps = ceil(256 MiB / size)
 * (at least 1, at most 2000), wall clock from the first call until the last copy has completed (C++:
 * cudaStreamSynchronize; binding: every Promise resolved), timed inside each process.
 *
 *   node scripts/bench/paired.js --baseline path/to/copy_baseline [--sizes 1048576,...] [--kinds pinned,pageable]
 *        [--dirs h2d,d2h] [--pairs 11] [--json]
 */
const { spawn } = require('child_process');
const readline = require('readline');
const { loadLib, cudaSkipReason, median, percentile, round, cli, MiB } = require('./common');

const DEFAULT_SIZES = [4096, 16384, 65536, 262144, MiB, 4 * MiB, 16 * MiB, 64 * MiB, 256 * MiB, 1024 * MiB];
const TRIAL_BYTES = 256 * MiB;

function repsFor(n) {
  return Math.min(2000, Math.max(1, Math.ceil(TRIAL_BYTES / n)));
}

/** `copy_baseline serve` as a child process: one JSON line per request. */
class BaselineServer {
  constructor(bin) {
    this.proc = spawn(bin, ['serve'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.waiting = [];
    this.stderr = '';
    this.dead = null;
    this.proc.stderr.on('data', (d) => (this.stderr = (this.stderr + d).slice(-2000)));
    readline.createInterface({ input: this.proc.stdout }).on('line', (line) => {
      const w = this.waiting.shift();
      if (w) w.resolve(line);
    });
    const die = (why) => {
      this.dead = why;
      for (const w of this.waiting.splice(0)) w.reject(new Error(`copy_baseline serve: ${why} ${this.stderr}`));
    };
    this.proc.on('error', (e) => die(e.message));
    this.proc.on('exit', (code, sig) => die(`exited (${sig ?? code})`));
  }

  async request(line) {
    if (this.dead) throw new Error(`copy_baseline serve: ${this.dead}`);
    const p = new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
    if (line !== null) this.proc.stdin.write(line + '\n');
    const r = JSON.parse(await p);
    if (r.error || r.skipped) throw new Error(`copy_baseline serve: ${r.error || r.skipped}`);
    return r;
  }

  ready() {
    return this.request(null);
  }

  trial(kind, dir, n, reps, ev) {
    return this.request(`trial ${kind} ${dir} ${n} ${reps} ${ev ? 1 : 0}`).then((r) => r.gbps);
  }

  close() {
    if (!this.dead) this.proc.stdin.end('quit\n');
  }
}

function summary(v) {
  return { median: round(median(v), 4), best: round(Math.max(...v), 4), trials: v.map((x) => round(x, 4)) };
}

async function run({ bin, sizes = DEFAULT_SIZES, kinds = ['pinned', 'pageable'], dirs = ['h2d', 'd2h'], pairs = 11, smallPairs = 5, log = () => {} } = {}) {
  const lib = loadLib();
  const skip = cudaSkipReason(lib);
  if (skip) return { skipped: skip };
  if (!bin) return { skipped: 'no baseline program (--baseline)' };
  const { DeviceBuffer, HostBuffer, Stream } = lib;
  const server = new BaselineServer(bin);
  await server.ready();
  const stream = new Stream({ nonBlocking: true });
  const results = [];
  try {
    for (const n of sizes) {
      log(`paired copies of ${n} B`);
      for (const kind of kinds) {
        const hb = kind === 'pinned' ? new HostBuffer(n) : null;
        const host = hb ?? new Uint8Array(n);
        (hb ? hb.view(Uint8Array) : host).fill(0x5a);
        const buf = new DeviceBuffer(n);
        try {
          await buf.copyFrom(host, { stream });
          await buf.copyTo(host, { stream });
          for (const dir of dirs) {
            const reps = repsFor(n);
            const once = () => (dir === 'h2d' ? buf.copyFrom(host, { stream }) : buf.copyTo(host, { stream }));
            const js = async () => {
              const ps = new Array(reps);
              const t0 = performance.now();
              for (let r = 0; r < reps; r++) ps[r] = once();
              await Promise.all(ps);
              return (n * reps) / ((performance.now() - t0) / 1e3) / 1e9;
            };
            const arms = [['cpp', () => server.trial(kind, dir, n, reps, false)], ['js', js]];
            if (kind === 'pinned' && n >= MiB && n <= 64 * MiB) arms.push(['cppEv', () => server.trial(kind, dir, n, reps, true)]);
            for (const [, f] of arms) await f(); // untimed warm-up trial of each arm
            const got = Object.fromEntries(arms.map(([k]) => [k, []]));
            const np = n >= MiB ? pairs : smallPairs;
            for (let p = 0; p < np; p++) {
              for (let a = 0; a < arms.length; a++) {
                const [k, f] = arms[(p + a) % arms.length]; // rotate: each arm goes first in turn
                got[k].push(await f());
              }
            }
            const ratios = got.js.map((x, i) => x / got.cpp[i]);
            const row = { kind, dir, bytes: n, reps, pairs: np, js: summary(got.js), cpp: summary(got.cpp),
              ratio: round(median(ratios), 4), ratioP25: round(percentile(ratios, 25), 4), ratioP75: round(percentile(ratios, 75), 4),
              ratioMin: round(Math.min(...ratios), 4), ratios: ratios.map((x) => round(x, 4)) };
            if (got.cppEv) {
              row.cppEv = summary(got.cppEv);
              row.ratioEv = round(median(got.js.map((x, i) => x / got.cppEv[i])), 4);
            }
            results.push(row);
          }
        } finally {
          buf.dispose();
          hb?.dispose();
          await server.request('free');
        }
      }
    }
  } finally {
    stream.dispose();
    server.close();
  }
  return {
    method: `interleaved pairs: one C++ trial (copy_baseline serve) and one binding trial back to back, order alternating; ` +
      `${pairs} pairs at >= 1 MiB (${smallPairs} below); a trial = ceil(256 MiB / size) back-to-back copies on one stream (1..2000), ` +
      `wall clock until the last copy completed; ratio = median of the per-pair ratios`,
    trialBytes: TRIAL_BYTES,
    results,
  };
}

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--baseline') o.bin = argv[++i];
    else if (argv[i] === '--sizes') o.sizes = argv[++i].split(',').map(Number);
    else if (argv[i] === '--kinds') o.kinds = argv[++i].split(',');
    else if (argv[i] === '--dirs') o.dirs = argv[++i].split(',');
    else if (argv[i] === '--pairs') o.pairs = Number(argv[++i]);
  }
  return o;
}

module.exports = { run, DEFAULT_SIZES, repsFor };
cli(module, (argv) => run(parseArgs(argv)));
