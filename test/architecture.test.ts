/**
 * The module graph of src/: no import circle, type-only imports included (`import type`,
 * `export … from`, `import('…')` types). Each module's relative imports are read from its text and
 * resolved to files; a circle fails the test with its path.
 */
import * as fs from 'fs';
import * as path from 'path';

const SRC = path.join(__dirname, '..', 'src');

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return files(p);
    return d.name.endsWith('.ts') && !d.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** The relative module specifiers `text` imports or re-exports, types included. */
export function specifiers(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  const patterns = [/\b(?:import|export)\s+(?:type\s+)?[^'";]*?\sfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const re of patterns) for (const m of code.matchAll(re)) if (m[1].startsWith('.')) out.push(m[1]);
  return out;
}

function resolve(from: string, spec: string): string | undefined {
  const base = path.resolve(path.dirname(from), spec.replace(/\.js$/, ''));
  return [`${base}.ts`, path.join(base, 'index.ts')].find((f) => fs.existsSync(f));
}

/** Every circle of the graph (each found once, from the first module on it in DFS order). */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (m: string): void => {
    state.set(m, 'open');
    stack.push(m);
    for (const n of graph.get(m) ?? []) {
      if (state.get(n) === 'open') found.push([...stack.slice(stack.indexOf(n)), n]);
      else if (!state.has(n)) visit(n);
    }
    stack.pop();
    state.set(m, 'done');
  };
  for (const m of [...graph.keys()].sort()) if (!state.has(m)) visit(m);
  return found;
}

describe('architecture', () => {
  const graph = new Map<string, string[]>();
  for (const f of files(SRC)) {
    const deps = specifiers(fs.readFileSync(f, 'utf8')).map((s) => resolve(f, s));
    graph.set(
      path.relative(SRC, f),
      deps.filter((d): d is string => d !== undefined).map((d) => path.relative(SRC, d)),
    );
  }

  it('reads the imports it guards (types, re-exports, side effects)', () => {
    expect(specifiers("import type { A } from './a';\nexport { B } from '../b';\nimport './c';\nimport {\n  D,\n} from './d';\nexport * from './e';")).toEqual(['./a', '../b', './d', './e', './c']);
    expect(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual([['a', 'b', 'c', 'a']]);
    expect(graph.get(path.join('losses', 'options.ts'))).toEqual(expect.arrayContaining([path.join('losses', 'registry.ts'), path.join('losses', 'vocabulary.ts')]));
  });

  it('has no import circle in src/, type-only imports included', () => {
    expect(cycles(graph).map((c) => c.join(' → '))).toEqual([]);
  });

  it('the vocabulary of the losses is a leaf: it imports nothing of src/losses', () => {
    expect(graph.get(path.join('losses', 'vocabulary.ts'))).toEqual([]);
  });

  it('the data a loss takes (src/data) and the shapes it reads (src/losses/shapes.ts) import no graph code, no runtime, no package', () => {
    const shapes = path.join('losses', 'shapes.ts');
    const vocabulary = path.join('losses', 'vocabulary.ts');
    const data = [...graph].filter(([m]) => m.startsWith(`data${path.sep}`));
    expect(data.map(([m]) => m)).toEqual(expect.arrayContaining([path.join('data', 'rules.ts'), path.join('data', 'checks.ts')]));
    const allowed = (d: string): boolean => d.startsWith(`data${path.sep}`) || d.startsWith(`io${path.sep}`) || d === 'errors.ts' || d === vocabulary || d === shapes;
    expect(data.flatMap(([m, deps]) => deps.filter((d) => !allowed(d)).map((d) => `${m} → ${d}`))).toEqual([]);
    expect(graph.get(shapes)).toEqual([vocabulary]);
    // Nor any package: onnxruntime-node and protobufjs stay out of the code every worker thread loads.
    const packages = [...data.map(([m]) => m), shapes, vocabulary].filter((m) => /from '(?!\.)/.test(fs.readFileSync(path.join(SRC, m), 'utf8')));
    expect(packages).toEqual([]);
  });

  it('diagnostics is its own concept: src/diagnostics imports nothing of src/runtime', () => {
    const into = [...graph].filter(([m]) => m.startsWith(`diagnostics${path.sep}`)).flatMap(([m, deps]) => deps.filter((d) => d.startsWith(`runtime${path.sep}`)).map((d) => `${m} → ${d}`));
    expect([...graph.keys()]).toEqual(expect.arrayContaining([path.join('diagnostics', 'accumulate.ts'), path.join('diagnostics', 'report.ts')]));
    expect(into).toEqual([]);
  });
});
