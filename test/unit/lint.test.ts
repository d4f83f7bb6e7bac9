/**
 * ESLint (eslint.config.js: eslint's and typescript-eslint's recommended rules) over lib/, test/ and scripts/, as a
 * counted test of the test command: no problem reported (unused `eslint-disable` directives included), and every
 * `eslint-disable` comment says why after ` -- `. Run on its own: `npx eslint .`.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..', '..');

interface LintResult {
  filePath: string;
  messages: { ruleId: string | null; line: number; message: string }[];
}

test('eslint reports no problem in lib/, test/, scripts/', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'eslint', 'bin', 'eslint.js'), '--format', 'json', 'lib', 'test', 'scripts', 'eslint.config.js'], {
    cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 2 ** 20,
  });
  let results: LintResult[];
  try {
    results = JSON.parse(r.stdout) as LintResult[];
  } catch {
    throw new Error(`eslint gave no report (exit ${r.status}): ${r.stderr.slice(0, 2000)}`);
  }
  const problems = results.flatMap((f) => f.messages.map((m) => `${path.relative(ROOT, f.filePath)}:${m.line} ${m.ruleId ?? ''} ${m.message}`));
  expect(results.length).toBeGreaterThan(100); // the files were linted at all
  expect(problems).toEqual([]);
});

test('every eslint-disable comment gives its reason (`-- why`)', () => {
  const files = (dir: string): string[] =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) return e.name === 'node_modules' || e.name.startsWith('.') ? [] : files(p);
      return /\.(ts|js|mjs|cjs)$/.test(e.name) ? [p] : [];
    });
  const generated = new Set([path.join(ROOT, 'lib', 'onnx', 'proto.ts')]); // ignored by eslint.config.js
  const bare: string[] = [];
  for (const f of ['lib', 'test', 'scripts'].flatMap((d) => files(path.join(ROOT, d)))) {
    if (generated.has(f)) continue;
    fs.readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
      // a directive comment (not the text of one inside a string, as scripts/gen-onnx.js writes)
      const m = /(?<!['"`])(\/\/|\/\*)\s*eslint-disable\S*(.*)$/.exec(line);
      if (m && !/\s--\s+\S/.test(m[2]!)) bare.push(`${path.relative(ROOT, f)}:${i + 1}: ${line.trim()}`);
    });
  }
  expect(bare).toEqual([]);
});
