/**
 * lib/ has no import circle between modules, anywhere in the tree. Every way one module names another counts:
 * `import` / `export ... from` (type-only ones too: a circle of types is still two modules that know each other),
 * `require('./x')` and `import('./x')` (lazy loads, `typeof import('./x')`), and `declare module './x'`
 * (a module augmentation names the module it widens). The graph is read from the sources with TypeScript's parser.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ts from 'typescript';

const LIB = path.join(__dirname, '..', '..', 'lib');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative modules that `file` names, in any of the ways above. */
function imports(file: string): string[] {
  const sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out = new Set<string>();
  const add = (spec: ts.Node | undefined) => {
    if (!spec || !ts.isStringLiteralLike(spec) || !spec.text.startsWith('.')) return;
    const base = path.resolve(path.dirname(file), spec.text);
    const hit = [`${base}.ts`, path.join(base, 'index.ts')].find((f) => fs.existsSync(f));
    if (!hit) throw new Error(`${path.relative(LIB, file)}: '${spec.text}' names no module of lib/`);
    out.add(hit);
  };
  const walk = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) add(n.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference)) add(n.moduleReference.expression);
    else if (ts.isModuleDeclaration(n) && ts.isStringLiteral(n.name)) add(n.name);
    else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument)) add(n.argument.literal);
    else if (ts.isCallExpression(n) && (n.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(n.expression) && n.expression.text === 'require'))) {
      add(n.arguments[0]);
    }
    ts.forEachChild(n, walk);
  };
  walk(sf);
  return [...out];
}

/** Every circle of the graph, each as `a -> b -> ... -> a` (paths relative to `root`). */
function circles(files: string[], root: string): string[] {
  const graph = new Map(files.map((f) => [f, imports(f)]));
  const found: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'visiting');
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === 'visiting') {
        found.push([...stack.slice(stack.indexOf(d)), d].map((x) => path.relative(root, x)).join(' -> '));
      } else if (!state.has(d)) {
        visit(d);
      }
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return found;
}

test('lib/ modules import each other without circles', () => {
  const files = sources(LIB);
  // the graph is read at all, each kind of edge included
  const rel = (f: string) => path.join(LIB, ...f.split('/'));
  expect(files).toEqual(expect.arrayContaining([rel('index.ts'), rel('serve/protocols/context.ts'), rel('tensorflow/ops/math.ts')]));
  expect(imports(rel('tensorrt/runtime.ts'))).toContain(rel('tensorrt/engine.ts')); // value import
  expect(imports(rel('tensorrt/context.ts'))).toContain(rel('tensorrt/io-tensor.ts')); // type-only import
  expect(imports(rel('cli/trt.ts'))).toContain(rel('tensorrt/build.ts')); // lazy require
  expect(circles(files, LIB)).toEqual([]);
});

test('the circle finder sees circles of types, lazy requires and augmentations', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tn-cycles-'));
  try {
    const write = (name: string, text: string) => fs.writeFileSync(path.join(dir, name), text);
    write('a.ts', "import type { B } from './b';\nexport type A = B;\n");
    write('b.ts', "export type B = import('./a').A | number;\n");
    write('c.ts', "export function c() { return require('./d'); }\n");
    write('d.ts', "import { c } from './c';\nexport const d = c;\n");
    write('e.ts', "export interface E { x: number }\n");
    write('f.ts', "import './e';\ndeclare module './g' { interface G { y: number } }\n");
    write('g.ts', "import './f';\nexport interface G { z: number }\n");
    const found = circles(sources(dir), dir);
    expect(found).toEqual(['a.ts -> b.ts -> a.ts', 'c.ts -> d.ts -> c.ts', 'f.ts -> g.ts -> f.ts']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('IOTensor is declared once', () => {
  const decls = sources(LIB).filter((f) => /\binterface\s+IOTensor\b|\btype\s+IOTensor\s*=/.test(fs.readFileSync(f, 'utf8')));
  expect(decls.map((f) => path.relative(LIB, f))).toEqual([path.join('tensorrt', 'io-tensor.ts')]);
});
