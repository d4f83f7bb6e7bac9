/**
 * The packed tarball as consumers get it (scripts/check-package.js): publint and @arethetypeswrong/cli report no
 * problem, and TypeScript consumers (CommonJS node10 / node16 .cts, ESM nodenext .mts + "type": "module",
 * bundler resolution) compile a smoke file and every README example, strict and without skipLibCheck.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../..');

test('publint, attw and typed consumers of the packed tarball', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'check-package.js')], { cwd: ROOT, encoding: 'utf8' });
  const lines = `${r.stdout}${r.stderr}`.trim();
  const failed = lines.split('\n').filter((l) => l.startsWith('check-package: FAIL'));
  expect({ status: r.status, failed, output: failed.length ? lines : '' }).toEqual({ status: 0, failed: [], output: '' });
  for (const check of ['npm pack', 'publint', 'attw', 'cjs-node10', 'cjs-node16', 'esm-nodenext', 'bundler']) {
    expect(lines).toMatch(new RegExp(`check-package: ok +.*${check}`));
  }
}, 600_000);
