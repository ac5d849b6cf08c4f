/**
 * The arrows of ../shared/ARCHITECTURE.md, checked from the import graph of src/: a wrong import
 * fails CI here instead of waiting for a review. The rules are data, each with the sentence of
 * ARCHITECTURE.md it enforces; the graph comes from the TypeScript compiler's own import scanner
 * (static imports, `export … from`, dynamic `import()`), plus the `new URL('./x', import.meta.url)`
 * a worker file is loaded by.
 */
import t from 'tap';
import ts from 'typescript';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A room of the house: the first folder under src/, or `cli` for the entry files beside them. */
type Room = 'protocol' | 'net' | 'api' | 'runtime' | 'scheduler' | 'plugins' | 'bench' | 'cli' | 'log';

interface Rule {
  /** The sentence of ARCHITECTURE.md this rule enforces. */
  says: string;
  from: Room[];
  /** Rooms `from` must not import; 'other rooms' is every room but its own. */
  to: Room[] | 'other rooms';
}

const RULES: Rule[] = [
  { says: '`protocol/` imports nothing of ours', from: ['protocol'], to: 'other rooms' },
  { says: '`net/` knows no role', from: ['net'], to: ['runtime', 'scheduler', 'api', 'plugins', 'cli'] },
  { says: 'nothing below `api/` imports `api/`', from: ['runtime', 'scheduler', 'plugins', 'net', 'protocol'], to: ['api'] },
  { says: 'No file in `scheduler/` imports `runtime/` or the reverse', from: ['scheduler'], to: ['runtime'] },
  { says: 'No file in `scheduler/` imports `runtime/` or the reverse', from: ['runtime'], to: ['scheduler'] },
  { says: 'Arrows point one way: `cli → api → runtime | scheduler → plugins → net → protocol`', from: ['plugins'], to: ['runtime', 'scheduler', 'api'] },
  { says: '`bench/` (`retinad bench`) uses runtime/, plugins/ and media code, never api/ or scheduler/', from: ['bench'], to: ['api', 'scheduler', 'cli'] },
  { says: 'nothing below the command line imports `bench/`', from: ['api', 'runtime', 'scheduler', 'plugins', 'net', 'protocol'], to: ['bench'] },
];
/** Said by the cycle check. */
const ONE_WAY = 'Arrows point one way (no import cycles)';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
const CODE = /\.(ts|mts|mjs|js)$/;

/** Every source file under src/, as a path relative to src/ with forward slashes. */
function sourceFiles(dir = src): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...sourceFiles(full));
    else if (CODE.test(name) && !name.endsWith('.d.ts')) out.push(path.relative(src, full).split(path.sep).join('/'));
  }
  return out.sort();
}

function roomOf(file: string): Room {
  const [first, ...rest] = file.split('/');
  // log.ts and sqlite.ts are plumbing every room may use; other top-level files are the command line.
  if (!rest.length) return first === 'log.ts' || first === 'sqlite.ts' ? 'log' : 'cli';
  return first === 'demo' ? 'cli' : (first as Room);
}

/** The relative imports of one file, resolved to files under src/ (what lies outside src/ is not ours to check). */
function importsOf(file: string): Array<{ spec: string; target: string }> {
  const text = readFileSync(path.join(src, file), 'utf8');
  const specs = ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
  for (const [, spec] of text.matchAll(/new URL\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g)) if (spec !== undefined && CODE.test(spec)) specs.push(spec);
  const out: Array<{ spec: string; target: string }> = [];
  for (const spec of new Set(specs)) {
    if (!spec.startsWith('.')) continue;
    const abs = path.resolve(path.dirname(path.join(src, file)), spec);
    const rel = path.relative(src, abs).split(path.sep).join('/');
    if (rel.startsWith('..') || !existsSync(abs)) continue;
    out.push({ spec, target: rel });
  }
  return out;
}

/** Each cycle of the graph once, as the path that walks it (`a.ts → b.ts → a.ts`). */
function cycles(graph: Map<string, string[]>): string[] {
  const found: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') found.push([...stack.slice(stack.indexOf(m)), m].join(' → '));
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  return found;
}

const files = sourceFiles();
const edges = files.flatMap((from) => importsOf(from).map((i) => ({ from, ...i })));

t.test('the import graph is read (a scanner that finds nothing would pass everything)', async (t) => {
  t.ok(files.length > 50, `${files.length} source files`);
  const has = (from: string, to: string) => edges.some((e) => e.from === from && e.target === to);
  t.ok(has('runtime/executor.ts', 'protocol/index.ts'), 'a static import');
  t.ok(has('api/routes/command.ts', 'protocol/index.ts'), 'a multi-name import');
  t.ok(has('plugins/pool.ts', 'plugins/sandbox-worker.mjs') || has('plugins/pool.ts', 'plugins/sandbox-worker.ts'), 'the worker loaded by URL');
});

for (const rule of RULES) {
  t.test(`${rule.says}: ${rule.from.join(', ')} ↛ ${rule.to === 'other rooms' ? 'any other room' : rule.to.join(', ')}`, async (t) => {
    const wrong = edges
      .filter((e) => rule.from.includes(roomOf(e.from)))
      .filter((e) => (rule.to === 'other rooms' ? roomOf(e.target) !== roomOf(e.from) : rule.to.includes(roomOf(e.target))))
      .map((e) => `src/${e.from} → '${e.spec}' breaks "${rule.says}"`);
    for (const w of wrong) t.fail(w);
    if (!wrong.length) t.pass(rule.says);
  });
}

t.test(ONE_WAY, async (t) => {
  const graph = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const e of edges) graph.get(e.from)!.push(e.target);
  const found = cycles(graph).map((c) => `import cycle: ${c} breaks "${ONE_WAY}"`);
  for (const c of found) t.fail(c);
  if (!found.length) t.pass(ONE_WAY);
});
