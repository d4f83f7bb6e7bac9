/**
 * lib/ has no import cycles between modules (value imports: `import type` is erased by tsc and loads nothing).
 * The graph is read from the sources with TypeScript's own pre-processor.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

const LIB = path.join(__dirname, '..', '..', 'lib');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative modules that `file` loads when it runs (type-only imports and exports left out). */
function valueImports(file: string): string[] {
  const sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const add = (spec: ts.Expression | undefined) => {
    if (!spec || !ts.isStringLiteral(spec) || !spec.text.startsWith('.')) return;
    const base = path.resolve(path.dirname(file), spec.text);
    const hit = [`${base}.ts`, path.join(base, 'index.ts')].find((f) => fs.existsSync(f));
    if (hit) out.push(hit);
  };
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st)) {
      const c = st.importClause;
      if (c?.isTypeOnly) continue;
      const named = c?.namedBindings;
      if (c && !c.name && named && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly)) continue;
      add(st.moduleSpecifier);
    } else if (ts.isExportDeclaration(st)) {
      if (st.isTypeOnly) continue;
      const ex = st.exportClause;
      if (ex && ts.isNamedExports(ex) && ex.elements.length > 0 && ex.elements.every((e) => e.isTypeOnly)) continue;
      add(st.moduleSpecifier);
    }
  }
  return out;
}

test('lib/ modules import each other without cycles', () => {
  const files = sources(LIB);
  const graph = new Map(files.map((f) => [f, valueImports(f)]));
  const cycles: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'visiting');
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === 'visiting') {
        cycles.push([...stack.slice(stack.indexOf(d)), d].map((x) => path.relative(LIB, x)).join(' -> '));
      } else if (!state.has(d)) {
        visit(d);
      }
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  expect(graph.get(path.join(LIB, 'tensorrt', 'runtime.ts'))).toContain(path.join(LIB, 'tensorrt', 'engine.ts')); // the graph is read at all
  expect(cycles).toEqual([]);
});

test('IOTensor is declared once', () => {
  const decls = sources(LIB).filter((f) => /\binterface\s+IOTensor\b|\btype\s+IOTensor\s*=/.test(fs.readFileSync(f, 'utf8')));
  expect(decls.map((f) => path.relative(LIB, f))).toEqual([path.join('tensorrt', 'engine.ts')]);
});
