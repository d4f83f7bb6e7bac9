/**
 * A require hook for running lib/**\/*.ts as a child process without building dist/ (tests that run the CLI as
 * the user would, on the current sources): `node -r ./test/unit/helpers/ts-register.js lib/cli/index.ts ...`.
 * Transpile only (ts-jest and `npm run lint:types` check the types); outputs are cached by content hash in the
 * git-ignored .cache/ts-register/, so that only the first run after an edit pays for loading TypeScript.
 */
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const cacheDir = path.join(__dirname, '..', '..', '..', '.cache', 'ts-register');
let ts;

require.extensions['.ts'] = function compileTs(module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const key = crypto.createHash('sha256').update(filename).update('\0').update(source).digest('hex');
  const cached = path.join(cacheDir, `${key}.js`);
  let code;
  try {
    code = fs.readFileSync(cached, 'utf8');
  } catch {
    ts = ts || require('typescript');
    code = ts.transpileModule(source, {
      fileName: filename,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, inlineSourceMap: true },
    }).outputText;
    try {
      fs.mkdirSync(cacheDir, { recursive: true });
      const tmp = `${cached}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, code);
      fs.renameSync(tmp, cached);
    } catch {
      /* an unwritable cache only costs time */
    }
  }
  module._compile(code, filename);
};
