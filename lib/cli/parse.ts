/**
 * Pure parsing and formatting helpers of the CLI, in trtexec's syntax where trtexec has one:
 *   shapes         `input:1x3x224x224,mask:1x224`  (a name holding ':' may be quoted: `'input:0':1x3`)
 *   memory pools   `workspace:4096M,tacticSharedMem:64K` (base-2 suffixes B, K, M, G, T; no suffix = MiB)
 * plus `name=file.npy` input specs, integer options, byte/time formatting and latency statistics.
 * Nothing here touches the file system or the native addon; every error is a UsageError with one line.
 */
import { UsageError } from './common';
import type { ShapeRange } from '../tensorrt/config';

export type Shape = number[];
export type ShapeMap = Record<string, Shape>;

export type { ShapeRange };

const MAX_DIM = 2 ** 31 - 1;

/** `1x3x224x224` -> [1, 3, 224, 224]; '' -> [] (a scalar). */
export function parseDims(text: string, what = 'shape'): Shape {
  const t = text.trim();
  if (t === '') return [];
  return t.split('x').map((d) => {
    if (!/^\d+$/.test(d)) {
      throw new UsageError(`${what}: '${text}' is not a shape like 1x3x224x224 (dimension '${d}' is not a non-negative integer)`);
    }
    const v = Number(d);
    if (v > MAX_DIM) throw new UsageError(`${what}: dimension ${d} of '${text}' is larger than ${MAX_DIM}`);
    return v;
  });
}

/** Splits `name:value` at the last ':' outside single/double quotes; quotes around the name are removed. */
function splitNameValue(item: string, what: string, example: string): [string, string] {
  const q = item[0];
  if (q === "'" || q === '"') {
    const end = item.indexOf(q, 1);
    if (end < 0) throw new UsageError(`${what}: unterminated quote in '${item}'`);
    if (item[end + 1] !== ':') throw new UsageError(`${what}: expected ':' after the quoted name in '${item}' (e.g. ${example})`);
    return [item.slice(1, end), item.slice(end + 2)];
  }
  const at = item.lastIndexOf(':');
  if (at <= 0) throw new UsageError(`${what}: '${item}' is not of the form name:value (e.g. ${example})`);
  return [item.slice(0, at), item.slice(at + 1)];
}

/** Splits a comma-separated list, keeping commas inside quotes. */
function splitList(spec: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote = '';
  for (const c of spec) {
    if (quote) {
      if (c === quote) quote = '';
      cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      cur += c;
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter((s) => s !== '');
}

/**
 * trtexec's `--shapes`/`--minShapes`/`--optShapes`/`--maxShapes` value: `name:1x3x224x224,name2:1x10`.
 * `previous` accumulates repeated flags (commander's argParser signature); a name given twice is an error.
 */
export function parseShapes(spec: string, previous: ShapeMap = {}, flag = '--shapes'): ShapeMap {
  const items = splitList(spec);
  if (items.length === 0) throw new UsageError(`${flag}: empty shape list (expected e.g. input:1x3x224x224)`);
  const out: ShapeMap = { ...previous };
  for (const item of items) {
    const [name, dims] = splitNameValue(item, flag, 'input:1x3x224x224');
    if (name === '') throw new UsageError(`${flag}: empty tensor name in '${item}'`);
    if (Object.prototype.hasOwnProperty.call(out, name)) throw new UsageError(`${flag}: shape of '${name}' given twice`);
    out[name] = parseDims(dims, `${flag} ${name}`);
  }
  return out;
}

/**
 * One optimization profile from trtexec-style flags. `--shapes` sets min = opt = max. For
 * `--minShapes/--optShapes/--maxShapes`, each named input needs an opt shape; a missing min or max defaults to
 * the opt shape (as trtexec does). Checks that ranks agree and min <= opt <= max per dimension.
 */
export function buildProfile(opts: { shapes?: ShapeMap; minShapes?: ShapeMap; optShapes?: ShapeMap; maxShapes?: ShapeMap }): Record<string, ShapeRange> | null {
  const { shapes = {}, minShapes = {}, optShapes = {}, maxShapes = {} } = opts;
  const profile: Record<string, ShapeRange> = {};
  for (const [name, s] of Object.entries(shapes)) {
    if (name in minShapes || name in optShapes || name in maxShapes) {
      throw new UsageError(`'${name}' is given both in --shapes and in --minShapes/--optShapes/--maxShapes; use one or the other`);
    }
    profile[name] = { min: [...s], opt: [...s], max: [...s] };
  }
  const names = new Set([...Object.keys(minShapes), ...Object.keys(optShapes), ...Object.keys(maxShapes)]);
  for (const name of names) {
    const opt = optShapes[name];
    if (!opt) throw new UsageError(`'${name}' has --minShapes/--maxShapes but no --optShapes; give all three (or --shapes)`);
    const min = minShapes[name] ?? opt;
    const max = maxShapes[name] ?? opt;
    if (min.length !== opt.length || max.length !== opt.length) {
      throw new UsageError(`'${name}': min, opt and max shapes must have the same rank; got ${fmtShape(min)}, ${fmtShape(opt)}, ${fmtShape(max)}`);
    }
    for (let i = 0; i < opt.length; i++) {
      if (!(min[i] <= opt[i] && opt[i] <= max[i])) {
        throw new UsageError(`'${name}': dimension ${i} must satisfy min <= opt <= max; got ${min[i]}, ${opt[i]}, ${max[i]}`);
      }
    }
    profile[name] = { min: [...min], opt: [...opt], max: [...max] };
  }
  return Object.keys(profile).length ? profile : null;
}

const UNITS: Record<string, number> = { B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** A size with trtexec's base-2 suffixes: `4096M`, `4G`, `512K`, `1024B`, `0.5G`; no suffix = MiB (trtexec). */
export function parseSize(text: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([BKMGT]?)(?:i?B)?\s*$/i.exec(text);
  if (!m) throw new UsageError(`${what}: '${text}' is not a size like 4096M, 4G, 512K or 1024B (no suffix = MiB)`);
  const unit = UNITS[(m[2] || 'M').toUpperCase()];
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`${what}: '${text}' is too large`);
  return bytes;
}

/** trtexec pool names -> tensorrt-node's MemoryPoolType names (which are also accepted as they are). */
export const MEMORY_POOLS: Readonly<Record<string, string>> = {
  workspace: 'workspace',
  dlaSRAM: 'dlaManagedSram',
  dlaLocalDRAM: 'dlaLocalDram',
  dlaGlobalDRAM: 'dlaGlobalDram',
  tacticSharedMem: 'tacticSharedMemory',
  dlaManagedSram: 'dlaManagedSram',
  dlaLocalDram: 'dlaLocalDram',
  dlaGlobalDram: 'dlaGlobalDram',
  tacticSharedMemory: 'tacticSharedMemory',
  tacticDram: 'tacticDram',
};

/** `--memPoolSize workspace:4096M,dlaSRAM:1M` -> { workspace: 4294967296, dlaManagedSram: 1048576 }. */
export function parseMemPoolSize(spec: string, previous: Record<string, number> = {}): Record<string, number> {
  const items = splitList(spec);
  if (items.length === 0) throw new UsageError('--memPoolSize: empty (expected e.g. workspace:4096M)');
  const out = { ...previous };
  for (const item of items) {
    const [pool, size] = splitNameValue(item, '--memPoolSize', 'workspace:4096M');
    const name = MEMORY_POOLS[pool];
    if (!name) {
      throw new UsageError(`--memPoolSize: unknown memory pool '${pool}'; known: workspace, dlaSRAM, dlaLocalDRAM, dlaGlobalDRAM, tacticSharedMem`);
    }
    if (name in out) throw new UsageError(`--memPoolSize: pool '${pool}' given twice`);
    out[name] = parseSize(size, `--memPoolSize ${pool}`);
  }
  return out;
}

/** An integer option value within [min, max]. */
export function parseIntOption(flag: string, min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    if (!/^\s*[-+]?\d+\s*$/.test(value)) throw new UsageError(`${flag}: '${value}' is not an integer`);
    const v = Number(value);
    if (v < min || v > max) {
      throw new UsageError(`${flag}: ${v} is out of range (${max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `${min} to ${max}`})`);
    }
    return v;
  };
}

/** A positive duration in seconds (`3`, `0.5`, `2s`, `500ms`), returned in milliseconds. */
export function parseDuration(flag: string): (value: string) => number {
  return (value: string) => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$/.exec(value);
    if (!m) throw new UsageError(`${flag}: '${value}' is not a duration like 3, 3s or 500ms`);
    const ms = Number(m[1]) * (m[2] === 'ms' ? 1 : 1000);
    return ms;
  };
}

export interface InputSpec {
  name: string;
  file: string;
}

/** `--input name=file.npy` (repeatable; also `name:file.npy`, trtexec's --loadInputs spelling). */
export function parseInputSpec(spec: string, previous: InputSpec[] = []): InputSpec[] {
  const out = [...previous];
  for (const item of splitList(spec)) {
    const at = item.indexOf('=') >= 0 ? item.indexOf('=') : item.lastIndexOf(':');
    if (at <= 0 || at === item.length - 1) {
      throw new UsageError(`--input: '${item}' is not of the form name=file.npy`);
    }
    const name = item.slice(0, at).replace(/^(['"])(.*)\1$/, '$2');
    const file = item.slice(at + 1);
    if (out.some((s) => s.name === name)) throw new UsageError(`--input: '${name}' given twice`);
    out.push({ name, file });
  }
  return out;
}

/** A tensor name as a file name: anything but [A-Za-z0-9._-] becomes '_' (names like `output:0`, `a/b`). */
export function fileNameFor(tensorName: string): string {
  const s = tensorName.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return s === '' ? '_' : s;
}

export function fmtShape(shape: readonly (number | string)[]): string {
  return shape.length === 0 ? '[] (scalar)' : shape.join('x');
}

/** 1536 -> '1.50 KiB'. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(2)} ${units[u]}`;
}

/** 1234 (ms) -> '1.23 s'; 12.5 -> '12.50 ms'. */
export function formatMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${(ms * 1000).toFixed(1)} µs`;
}

/** Groups of three digits: 1234567 -> '1,234,567'. */
export function formatCount(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export interface LatencyStats {
  count: number;
  min: number;
  max: number;
  mean: number;
  median: number;
  p90: number;
  p95: number;
  p99: number;
}

/**
 * trtexec's percentile: the value at (ceil(n * p / 100) - 1) of the sorted samples (nearest rank); the median
 * is the mean of the two middle samples for an even count. Throws on an empty sample.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of no samples');
  const i = p <= 0 ? 0 : Math.min(sorted.length - 1, Math.max(0, Math.ceil((sorted.length * p) / 100) - 1));
  return sorted[i];
}

export function latencyStats(samples: readonly number[]): LatencyStats {
  if (samples.length === 0) throw new RangeError('no latency samples');
  const s = [...samples].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  const mean = s.reduce((a, b) => a + b, 0) / n;
  return { count: n, min: s[0], max: s[n - 1], mean, median, p90: percentile(s, 90), p95: percentile(s, 95), p99: percentile(s, 99) };
}

/** A plain left-aligned text table. */
export function table(rows: readonly (readonly string[])[], indent = '  '): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) => indent + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd())
    .join('\n');
}
