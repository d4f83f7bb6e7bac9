/**
 * No source file over 1,000 lines in lib/, native/, scripts/ and test/ (TypeScript, JavaScript, C++, shell,
 * Python). Left out, and only this one: lib/onnx/proto.ts, which scripts/gen-onnx.js generates from the ONNX
 * schema lib/onnx/onnx.proto (onnx-schema.test.ts checks it is current; a .proto is not matched either).
 */
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..', '..');
const LIMIT = 1000;
const SOURCE = /\.(ts|js|mjs|cjs|cc|cpp|h|hpp|sh|py)$/;
const EXCLUDED = new Set(['lib/onnx/proto.ts']);

function files(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name.startsWith('.') || e.name === 'node_modules' ? [] : files(p);
    return SOURCE.test(e.name) ? [p] : [];
  });
}

function lines(file: string): number {
  const text = fs.readFileSync(file, 'utf8');
  return text.length === 0 ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

test(`no source file of lib/, native/, scripts/, test/ is over ${LIMIT} lines`, () => {
  const all = ['lib', 'native', 'scripts', 'test'].flatMap((d) => files(path.join(ROOT, d)));
  const rel = (f: string) => path.relative(ROOT, f).split(path.sep).join('/');
  // the walk finds each folder's sources (an empty list would pass for nothing)
  for (const f of ['lib/index.ts', 'native/addon.cc', 'scripts/run-tests.js', 'test/unit/file-size.test.ts']) {
    expect(all.map(rel)).toContain(f);
  }
  const over = all
    .filter((f) => !EXCLUDED.has(rel(f)))
    .map((f) => ({ file: rel(f), lines: lines(f) }))
    .filter((x) => x.lines > LIMIT);
  expect(over).toEqual([]);
});

test('the excluded file exists (an exclusion of nothing is stale)', () => {
  for (const f of EXCLUDED) expect(fs.existsSync(path.join(ROOT, f))).toBe(true);
});
