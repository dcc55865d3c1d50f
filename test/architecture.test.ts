/**
 * Architecture guardrails for src/. Every relative `import … from`, `import type … from`,
 * `export … from`, `export type … from`, `import x = require(…)`, dynamic `import(…)` and
 * `import('…')` type query of every .ts file under src/ is an edge of the module graph (type-only
 * edges included: a type-only cycle still ties the modules together), and:
 *   (a) the graph has no cycle, except those still listed in ALLOWED_CYCLES_TODO (a list that can
 *       only shrink: a listed cycle that no longer exists fails the suite until it is removed);
 *   (b) imports point down ARCHITECTURE.layers: a file may import from its own layer or a lower
 *       one, never a higher one.
 * Edit ARCHITECTURE and ALLOWED_CYCLES_TODO; the rest is machinery, unit-tested at the bottom.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

interface ArchitectureConfig {
  /** The folder scanned, relative to the repository root. */
  srcDir: string;
  /**
   * Layers from the bottom up; each is a set of folders directly under srcDir. A file belongs to
   * the layer of the first folder of its path (src/core/x/y.ts is in the layer listing 'core').
   */
  layers: readonly (readonly string[])[];
  /** The layer above all others, of the files directly under srcDir: the composition root (system.ts, index.ts, …). */
  rootLayer: string;
}

// biome-ignore lint/suspicious/noExportsInTest: the layer list is the test's exported, data-driven config
export const ARCHITECTURE: ArchitectureConfig = {
  srcDir: 'src',
  layers: [['util'], ['resilience'], ['core'], ['supervision', 'persistence'], ['modes', 'observability', 'remote'], ['repl'], ['cli']],
  rootLayer: 'root',
};

/**
 * The cycles of today's src/, to be removed by the refactor. Each entry is one elementary cycle,
 * written from its alphabetically first file (any rotation is accepted). The suite fails on a cycle
 * missing from this list, and on an entry whose cycle no longer exists: delete entries as they go.
 */
// biome-ignore lint/suspicious/noExportsInTest: the cycle allow-list is the test's exported, data-driven config
export const ALLOWED_CYCLES_TODO: readonly string[] = [];

// ---------------------------------------------------------------------------------------------
// Extraction: the import specifiers of one file.
// ---------------------------------------------------------------------------------------------

type ImportKind = 'import' | 'export' | 'import-equals' | 'dynamic-import' | 'import-type';

interface ImportRef {
  specifier: string;
  kind: ImportKind;
  /** True when the reference brings in types only (erased at run time). */
  typeOnly: boolean;
  /** 1-based line of the reference. */
  line: number;
}

function scriptKind(fileName: string): ts.ScriptKind {
  return fileName.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
}

function literalText(node: ts.Node | undefined): string | null {
  return node !== undefined && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) ? node.text : null;
}

/** Every module specifier of a TypeScript source, found on its syntax tree (so comments and strings never count). */
function extractImports(fileName: string, text: string): ImportRef[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, scriptKind(fileName));
  const refs: ImportRef[] = [];
  const add = (specifier: string | null, kind: ImportKind, typeOnly: boolean, node: ts.Node) => {
    if (specifier === null) return;
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    refs.push({ specifier, kind, typeOnly, line });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      let typeOnly = false;
      if (clause !== undefined) {
        const named = clause.namedBindings;
        typeOnly =
          clause.phaseModifier === ts.SyntaxKind.TypeKeyword ||
          (clause.name === undefined &&
            named !== undefined &&
            ts.isNamedImports(named) &&
            named.elements.length > 0 &&
            named.elements.every((element) => element.isTypeOnly));
      }
      add(literalText(node.moduleSpecifier), 'import', typeOnly, node);
    } else if (ts.isExportDeclaration(node)) {
      const clause = node.exportClause;
      const typeOnly = node.isTypeOnly || (clause !== undefined && ts.isNamedExports(clause) && clause.elements.length > 0 && clause.elements.every((e) => e.isTypeOnly));
      add(literalText(node.moduleSpecifier), 'export', typeOnly, node);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(literalText(node.moduleReference.expression), 'import-equals', node.isTypeOnly, node);
    } else if (ts.isImportTypeNode(node)) {
      const argument = node.argument;
      add(ts.isLiteralTypeNode(argument) ? literalText(argument.literal) : null, 'import-type', true, node);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(literalText(node.arguments[0]), 'dynamic-import', false, node);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return refs;
}

// ---------------------------------------------------------------------------------------------
// The module graph of a set of files (paths relative to srcDir, with '/').
// ---------------------------------------------------------------------------------------------

interface Edge {
  from: string;
  to: string;
  specifier: string;
  line: number;
  typeOnly: boolean;
}

interface Unresolved {
  from: string;
  specifier: string;
  line: number;
}

interface ModuleGraph {
  files: string[];
  /** One edge per reference (a file importing another twice gives two edges). */
  edges: Edge[];
  /** Relative specifiers that name no file of the set (and stay inside it). */
  unresolved: Unresolved[];
  /** Adjacency: each file to the sorted files it references. */
  adjacency: Map<string, string[]>;
}

const SOURCE_FILE = /\.(ts|tsx|mts|cts)$/;

/** The file of the set a relative specifier names, 'outside' if it leaves the set's root, null if none. */
function resolveSpecifier(from: string, specifier: string, files: ReadonlySet<string>): string | 'outside' | null {
  const target = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  if (target === '..' || target.startsWith('../')) return 'outside';
  const stem = target.replace(/\/$/, '');
  const candidates: string[] = [];
  const runtime = /\.(js|jsx|mjs|cjs)$/.exec(stem);
  if (runtime !== null) {
    const base = stem.slice(0, -runtime[0].length);
    const ext = runtime[1];
    if (ext === 'js') candidates.push(`${base}.ts`, `${base}.tsx`, `${base}.d.ts`);
    else if (ext === 'jsx') candidates.push(`${base}.tsx`);
    else if (ext === 'mjs') candidates.push(`${base}.mts`, `${base}.d.mts`);
    else candidates.push(`${base}.cts`, `${base}.d.cts`);
  }
  if (SOURCE_FILE.test(stem)) candidates.push(stem);
  candidates.push(`${stem}.ts`, `${stem}.tsx`, `${stem}.d.ts`, `${stem}/index.ts`, `${stem}/index.tsx`, `${stem}/index.d.ts`);
  return candidates.find((candidate) => files.has(candidate)) ?? null;
}

/** Builds the graph of in-memory sources: path (relative to the root, with '/') → text. */
function buildGraph(sources: ReadonlyMap<string, string>): ModuleGraph {
  const files = [...sources.keys()].sort();
  const set = new Set(files);
  const edges: Edge[] = [];
  const unresolved: Unresolved[] = [];
  const adjacency = new Map<string, Set<string>>(files.map((file) => [file, new Set()]));
  for (const from of files) {
    for (const ref of extractImports(from, sources.get(from) ?? '')) {
      if (!ref.specifier.startsWith('.')) continue; // a package or node: builtin
      const to = resolveSpecifier(from, ref.specifier, set);
      if (to === 'outside') continue;
      if (to === null) {
        unresolved.push({ from, specifier: ref.specifier, line: ref.line });
        continue;
      }
      edges.push({ from, to, specifier: ref.specifier, line: ref.line, typeOnly: ref.typeOnly });
      adjacency.get(from)?.add(to);
    }
  }
  return { files, edges, unresolved, adjacency: new Map([...adjacency].map(([file, targets]) => [file, [...targets].sort()])) };
}

// ---------------------------------------------------------------------------------------------
// Cycles: strongly connected components (Tarjan) and elementary cycles (Johnson).
// ---------------------------------------------------------------------------------------------

/** The strongly connected components with more than one node or a self-loop, each sorted. */
function stronglyConnected(adjacency: ReadonlyMap<string, readonly string[]>, only?: ReadonlySet<string>): string[][] {
  const nodes = [...adjacency.keys()].filter((n) => only === undefined || only.has(n)).sort();
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of adjacency.get(v) ?? []) {
      if (only !== undefined && !only.has(w)) continue;
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w === undefined) break;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (adjacency.get(v) ?? []).includes(v)) components.push(component.sort());
    }
  };
  for (const v of nodes) if (!index.has(v)) connect(v);
  return components.sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
}

interface CycleSearch {
  /** Each elementary cycle once, as its nodes from the alphabetically first one (not repeated at the end). */
  cycles: string[][];
  /** True when the search stopped at the limit. */
  truncated: boolean;
}

/** Every elementary cycle of the graph (Johnson's algorithm), up to `limit` of them. */
function findCycles(adjacency: ReadonlyMap<string, readonly string[]>, limit = 5_000): CycleSearch {
  const nodes = [...new Set([...adjacency.keys(), ...[...adjacency.values()].flat()])].sort();
  const cycles: string[][] = [];
  let truncated = false;
  for (let s = 0; s < nodes.length && !truncated; s++) {
    const start = nodes[s] as string;
    const rest = new Set(nodes.slice(s));
    const component = stronglyConnected(adjacency, rest).find((c) => c.includes(start));
    if (component === undefined) continue;
    const inComponent = new Set(component);
    const blocked = new Set<string>();
    const blockers = new Map<string, Set<string>>();
    const trail: string[] = [];
    const unblock = (u: string): void => {
      blocked.delete(u);
      const waiting = blockers.get(u);
      if (waiting === undefined) return;
      blockers.delete(u);
      for (const w of waiting) if (blocked.has(w)) unblock(w);
    };
    const circuit = (v: string): boolean => {
      let closed = false;
      trail.push(v);
      blocked.add(v);
      for (const w of adjacency.get(v) ?? []) {
        if (!inComponent.has(w) || truncated) continue;
        if (w === start) {
          cycles.push([...trail]);
          if (cycles.length >= limit) truncated = true;
          closed = true;
        } else if (!blocked.has(w) && circuit(w)) {
          closed = true;
        }
      }
      if (closed) unblock(v);
      else {
        for (const w of adjacency.get(v) ?? []) {
          if (!inComponent.has(w)) continue;
          const waiting = blockers.get(w);
          if (waiting === undefined) blockers.set(w, new Set([v]));
          else waiting.add(v);
        }
      }
      trail.pop();
      return closed;
    };
    circuit(start);
  }
  cycles.sort((a, b) => a.length - b.length || formatCycle(a).localeCompare(formatCycle(b)));
  return { cycles, truncated };
}

const ARROW = ' → ';

/** `a.ts → b.ts → a.ts`. */
function formatCycle(cycle: readonly string[]): string {
  return [...cycle, cycle[0]].join(ARROW);
}

/** A cycle written in any rotation, with or without the closing repetition, as formatCycle writes it. */
function canonicalCycle(written: string): string {
  const nodes = written
    .split(/→|->/)
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (nodes.length > 1 && nodes[0] === nodes[nodes.length - 1]) nodes.pop();
  if (nodes.length === 0) return written.trim();
  let first = 0;
  nodes.forEach((node, i) => {
    if (node < (nodes[first] as string)) first = i;
  });
  return formatCycle([...nodes.slice(first), ...nodes.slice(0, first)]);
}

interface CycleAudit {
  /** Cycles found that the allowed list lacks. */
  unexpected: string[];
  /** Allowed entries whose cycle no longer exists. */
  stale: string[];
  /** Allowed entries listed more than once. */
  duplicates: string[];
}

/** Compares the cycles found with the allowed list, both compared in canonical form. */
function auditCycles(found: readonly string[], allowed: readonly string[]): CycleAudit {
  const foundSet = new Set(found.map(canonicalCycle));
  const allowedCanonical = allowed.map(canonicalCycle);
  const allowedSet = new Set(allowedCanonical);
  return {
    unexpected: [...foundSet].filter((cycle) => !allowedSet.has(cycle)),
    stale: [...allowedSet].filter((cycle) => !foundSet.has(cycle)),
    duplicates: [...new Set(allowedCanonical.filter((cycle, i) => allowedCanonical.indexOf(cycle) !== i))],
  };
}

/** Where each edge of a cycle is, for the failure message: `a.ts:3 (type-only), b.ts:7` (importing file, line). */
function describeCycleEdges(cycle: readonly string[], edges: readonly Edge[]): string {
  return cycle
    .map((from, i) => {
      const to = cycle[(i + 1) % cycle.length] as string;
      const refs = edges.filter((e) => e.from === from && e.to === to);
      const typeOnly = refs.length > 0 && refs.every((e) => e.typeOnly);
      return `${from}:${refs.map((e) => e.line).join(',')}${typeOnly ? ' (type-only)' : ''}`;
    })
    .join(', ');
}

// ---------------------------------------------------------------------------------------------
// Layers.
// ---------------------------------------------------------------------------------------------

interface Layer {
  index: number;
  name: string;
}

/** The layer of a file (path relative to srcDir), or the unknown folder it sits in. */
function layerOf(file: string, config: Pick<ArchitectureConfig, 'layers' | 'rootLayer'>): Layer | { unknownFolder: string } {
  const slash = file.indexOf('/');
  if (slash < 0) return { index: config.layers.length, name: config.rootLayer };
  const folder = file.slice(0, slash);
  const index = config.layers.findIndex((layer) => layer.includes(folder));
  return index < 0 ? { unknownFolder: folder } : { index, name: (config.layers[index] ?? []).join(' | ') };
}

interface LayerReport {
  /** Imports that point up the layers. */
  violations: string[];
  /** Files in a folder that no layer lists. */
  unassigned: string[];
  /** Problems of the configuration itself (a folder in two layers). */
  configErrors: string[];
}

function checkLayers(graph: Pick<ModuleGraph, 'files' | 'edges'>, config: Pick<ArchitectureConfig, 'layers' | 'rootLayer'>): LayerReport {
  const configErrors: string[] = [];
  const seen = new Map<string, number>();
  config.layers.forEach((layer, i) => {
    for (const folder of layer) {
      const before = seen.get(folder);
      if (before !== undefined) configErrors.push(`folder '${folder}' is in layer #${before} and layer #${i}`);
      seen.set(folder, i);
    }
  });
  const unassigned: string[] = [];
  for (const file of graph.files) {
    const layer = layerOf(file, config);
    if ('unknownFolder' in layer) unassigned.push(`${file}: folder '${layer.unknownFolder}' is in no layer of ARCHITECTURE.layers`);
  }
  const violations: string[] = [];
  for (const edge of graph.edges) {
    const from = layerOf(edge.from, config);
    const to = layerOf(edge.to, config);
    if ('unknownFolder' in from || 'unknownFolder' in to) continue; // reported as unassigned
    if (to.index > from.index) {
      violations.push(
        `${edge.from}:${edge.line} imports '${edge.specifier}' (${edge.to})${edge.typeOnly ? ' [type-only]' : ''}: ` +
          `layer '${from.name}' (#${from.index}) may not import the higher layer '${to.name}' (#${to.index})`,
      );
    }
  }
  return { violations, unassigned, configErrors };
}

// ---------------------------------------------------------------------------------------------
// Reading src/.
// ---------------------------------------------------------------------------------------------

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Every .ts/.tsx/.mts/.cts file under dir, by path relative to dir with '/'. */
function readSources(dir: string): Map<string, string> {
  const sources = new Map<string, string>();
  const walk = (relative: string): void => {
    for (const entry of readdirSync(path.join(dir, relative), { withFileTypes: true })) {
      const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile() && SOURCE_FILE.test(entry.name)) sources.set(child, readFileSync(path.join(dir, child), 'utf8'));
    }
  };
  walk('');
  return sources;
}

function bulleted(lines: readonly string[]): string {
  return lines.map((line) => `  ${line}`).join('\n');
}

// ---------------------------------------------------------------------------------------------
// The assertions on src/.
// ---------------------------------------------------------------------------------------------

describe(`architecture of ${ARCHITECTURE.srcDir}/`, () => {
  const sources = readSources(path.join(ROOT, ARCHITECTURE.srcDir));
  const graph = buildGraph(sources);

  it('reads every source file and resolves every relative import', () => {
    expect(graph.files.length).toBeGreaterThan(0);
    expect(graph.edges.length).toBeGreaterThan(0);
    const unresolved = graph.unresolved.map((u) => `${u.from}:${u.line} '${u.specifier}'`);
    expect(unresolved, `relative imports that name no file under ${ARCHITECTURE.srcDir}/:\n${bulleted(unresolved)}`).toEqual([]);
  });

  it('finds the same module specifiers as ts.preProcessFile', () => {
    const mismatches: string[] = [];
    for (const [file, text] of sources) {
      const ours = [...new Set(extractImports(file, text).map((r) => r.specifier))].sort();
      const theirs = [...new Set(ts.preProcessFile(text, true, false).importedFiles.map((f) => f.fileName))].sort();
      if (ours.join('\n') !== theirs.join('\n')) mismatches.push(`${file}: ours [${ours.join(', ')}] vs preProcessFile [${theirs.join(', ')}]`);
    }
    expect(mismatches, `the syntax-tree scan and ts.preProcessFile disagree:\n${bulleted(mismatches)}`).toEqual([]);
  });

  it('(a) has no import cycle (type-only imports included) beyond ALLOWED_CYCLES_TODO', () => {
    const { cycles, truncated } = findCycles(graph.adjacency);
    const components = stronglyConnected(graph.adjacency).map((c) => `{ ${c.join(', ')} }`);
    expect(truncated, `too many cycles to list; the strongly connected components are:\n${bulleted(components)}`).toBe(false);
    const byName = new Map(cycles.map((cycle) => [formatCycle(cycle), cycle]));
    const audit = auditCycles([...byName.keys()], ALLOWED_CYCLES_TODO);
    const unexpected = audit.unexpected.map((name) => `${name}    [edges at ${describeCycleEdges(byName.get(name) ?? [], graph.edges)}]`);
    expect(
      audit.unexpected,
      `${audit.unexpected.length} import cycle(s) not in ALLOWED_CYCLES_TODO:\n${bulleted(unexpected)}\nstrongly connected components:\n${bulleted(components)}`,
    ).toEqual([]);
  });

  it('(a) ALLOWED_CYCLES_TODO only shrinks: every listed cycle still exists, once', () => {
    const { cycles } = findCycles(graph.adjacency);
    const audit = auditCycles(cycles.map(formatCycle), ALLOWED_CYCLES_TODO);
    expect(audit.stale, `cycles gone from ${ARCHITECTURE.srcDir}/ — delete them from ALLOWED_CYCLES_TODO:\n${bulleted(audit.stale)}`).toEqual([]);
    expect(audit.duplicates, `listed twice in ALLOWED_CYCLES_TODO:\n${bulleted(audit.duplicates)}`).toEqual([]);
  });

  it('(b) imports never point up the layers', () => {
    const report = checkLayers(graph, ARCHITECTURE);
    expect(report.configErrors, `ARCHITECTURE.layers is inconsistent:\n${bulleted(report.configErrors)}`).toEqual([]);
    expect(report.unassigned, `files outside every layer:\n${bulleted(report.unassigned)}`).toEqual([]);
    expect(report.violations, `imports up the layers:\n${bulleted(report.violations)}`).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// The machinery itself, on tiny in-memory trees.
// ---------------------------------------------------------------------------------------------

function graphOf(files: Record<string, string>): ModuleGraph {
  return buildGraph(new Map(Object.entries(files)));
}

function cyclesOf(files: Record<string, string>): string[] {
  return findCycles(graphOf(files).adjacency).cycles.map(formatCycle);
}

describe('architecture machinery', () => {
  it('extracts every kind of specifier, relative or not, and tells type-only ones', () => {
    const refs = extractImports(
      'x.ts',
      [
        "import { a } from './a.js';",
        "import type { B } from './b.js';",
        "import { type C, type D } from './c.js';",
        "import { type E, e } from './e.js';",
        "import './side-effect.js';",
        "export { f } from './f.js';",
        "export type { G } from './g.js';",
        "export * from './h.js';",
        "export * as i from './i.js';",
        "import j = require('./j.js');",
        "type K = import('./k.js').K;",
        "const l = await import('./l.js');",
        "import { readFileSync } from 'node:fs';",
        "// import { nope } from './comment.js';",
        'const s = "import { nope } from \'./string.js\'";',
      ].join('\n'),
    );
    expect(refs.map((r) => [r.specifier, r.kind, r.typeOnly])).toEqual([
      ['./a.js', 'import', false],
      ['./b.js', 'import', true],
      ['./c.js', 'import', true],
      ['./e.js', 'import', false],
      ['./side-effect.js', 'import', false],
      ['./f.js', 'export', false],
      ['./g.js', 'export', true],
      ['./h.js', 'export', false],
      ['./i.js', 'export', false],
      ['./j.js', 'import-equals', false],
      ['./k.js', 'import-type', true],
      ['./l.js', 'dynamic-import', false],
      ['node:fs', 'import', false],
    ]);
    expect(refs.map((r) => r.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  });

  it('resolves ./x.js to x.ts, folders to their index.ts, and ignores packages and paths leaving the root', () => {
    const files = new Set(['a.ts', 'core/index.ts', 'core/cell.ts', 'util/list.tsx', 'cli.mts']);
    expect(resolveSpecifier('a.ts', './core/cell.js', files)).toBe('core/cell.ts');
    expect(resolveSpecifier('a.ts', './core/cell.ts', files)).toBe('core/cell.ts');
    expect(resolveSpecifier('a.ts', './core/cell', files)).toBe('core/cell.ts');
    expect(resolveSpecifier('a.ts', './core', files)).toBe('core/index.ts');
    expect(resolveSpecifier('a.ts', './core/index.js', files)).toBe('core/index.ts');
    expect(resolveSpecifier('core/cell.ts', '../util/list.js', files)).toBe('util/list.tsx');
    expect(resolveSpecifier('core/cell.ts', '../cli.mjs', files)).toBe('cli.mts');
    expect(resolveSpecifier('core/cell.ts', '../../package.json', files)).toBe('outside');
    expect(resolveSpecifier('a.ts', './missing.js', files)).toBeNull();
    const graph = graphOf({ 'a.ts': "import { b } from './missing.js';\nimport x from 'pino';" });
    expect(graph.unresolved).toEqual([{ from: 'a.ts', specifier: './missing.js', line: 1 }]);
    expect(graph.edges).toEqual([]);
  });

  it('passes a DAG, diamonds included', () => {
    const files = {
      'index.ts': "export * from './a.js';\nexport * from './b.js';",
      'a.ts': "import { c } from './c.js';",
      'b.ts': "import type { C } from './c.js';\nimport { d } from './d.js';",
      'c.ts': "import { d } from './d.js';",
      'd.ts': 'export const d = 1;',
    };
    expect(cyclesOf(files)).toEqual([]);
    expect(stronglyConnected(graphOf(files).adjacency)).toEqual([]);
  });

  it('catches a 2-cycle', () => {
    expect(cyclesOf({ 'a.ts': "import { b } from './b.js';", 'b.ts': "export { a } from './a.js';" })).toEqual(['a.ts → b.ts → a.ts']);
  });

  it('catches a 3-cycle across folders, written from its first file', () => {
    const files = {
      'x/c.ts': "import { a } from '../a.js';",
      'a.ts': "import { b } from './y/b.js';",
      'y/b.ts': "import { c } from '../x/c.js';",
    };
    expect(cyclesOf(files)).toEqual(['a.ts → y/b.ts → x/c.ts → a.ts']);
  });

  it('catches a cycle made of type-only imports and import() type queries', () => {
    const files = {
      'a.ts': "import type { B } from './b.js';\nexport type A = { b: B };",
      'b.ts': "export type B = { a: import('./a.js').A };",
      'c.ts': "export type { A } from './a.js';\nimport { type D } from './d.js';",
      'd.ts': "import type { A } from './c.js';\nexport type D = A;",
    };
    expect(cyclesOf(files)).toEqual(['a.ts → b.ts → a.ts', 'c.ts → d.ts → c.ts']);
    expect(graphOf(files).edges.every((e) => e.typeOnly)).toBe(true);
  });

  it('catches a self-import and lists every elementary cycle of a tangle once', () => {
    expect(cyclesOf({ 'a.ts': "import './a.js';" })).toEqual(['a.ts → a.ts']);
    const tangle = {
      'a.ts': "import './b.js';\nimport './c.js';",
      'b.ts': "import './a.js';\nimport './c.js';",
      'c.ts': "import './a.js';",
    };
    expect(cyclesOf(tangle)).toEqual(['a.ts → b.ts → a.ts', 'a.ts → c.ts → a.ts', 'a.ts → b.ts → c.ts → a.ts']);
    expect(stronglyConnected(graphOf(tangle).adjacency)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
  });

  it('stops at the limit instead of enumerating a huge tangle', () => {
    const complete = new Map(['a', 'b', 'c', 'd', 'e', 'f'].map((n, _i, all) => [n, all.filter((m) => m !== n)]));
    expect(findCycles(complete).cycles.length).toBe(409); // Σ C(6,k)·(k−1)! for k = 2..6
    const limited = findCycles(complete, 10);
    expect(limited.truncated).toBe(true);
    expect(limited.cycles.length).toBe(10);
  });

  it('audits the allowed list both ways, in any rotation', () => {
    expect(canonicalCycle('b.ts → c.ts → a.ts → b.ts')).toBe('a.ts → b.ts → c.ts → a.ts');
    expect(canonicalCycle('b.ts -> a.ts')).toBe('a.ts → b.ts → a.ts');
    const found = ['a.ts → b.ts → a.ts', 'c.ts → d.ts → c.ts'];
    expect(auditCycles(found, ['b.ts → a.ts → b.ts', 'c.ts → d.ts → c.ts'])).toEqual({ unexpected: [], stale: [], duplicates: [] });
    expect(auditCycles(found, ['a.ts → b.ts → a.ts'])).toEqual({ unexpected: ['c.ts → d.ts → c.ts'], stale: [], duplicates: [] });
    expect(auditCycles(['a.ts → b.ts → a.ts'], ['a.ts → b.ts → a.ts', 'e.ts → f.ts → e.ts', 'f.ts → e.ts'])).toEqual({
      unexpected: [],
      stale: ['e.ts → f.ts → e.ts'],
      duplicates: ['e.ts → f.ts → e.ts'],
    });
  });

  it('checks layer direction: same or lower layer passes, a higher one fails, naming both', () => {
    const config = { layers: [['util'], ['core'], ['supervision', 'persistence']], rootLayer: 'root' };
    const graph = graphOf({
      'util/list.ts': "import { cell } from '../core/cell.js';",
      'core/cell.ts': "import { list } from '../util/list.js';\nimport { other } from './other.js';",
      'core/other.ts': "import type { Store } from '../persistence/store.js';",
      'persistence/store.ts': "import { s } from '../supervision/tree.js';",
      'supervision/tree.ts': "import { cell } from '../core/cell.js';",
      'system.ts': "import { tree } from './supervision/tree.js';",
      'index.ts': "export * from './system.js';",
      'misc/x.ts': "import { list } from '../util/list.js';",
      'core/up.ts': "import { system } from '../system.js';",
    });
    const report = checkLayers(graph, config);
    expect(report.violations).toEqual([
      "core/other.ts:1 imports '../persistence/store.js' (persistence/store.ts) [type-only]: layer 'core' (#1) may not import the higher layer 'supervision | persistence' (#2)",
      "core/up.ts:1 imports '../system.js' (system.ts): layer 'core' (#1) may not import the higher layer 'root' (#3)",
      "util/list.ts:1 imports '../core/cell.js' (core/cell.ts): layer 'util' (#0) may not import the higher layer 'core' (#1)",
    ]);
    expect(report.unassigned).toEqual(["misc/x.ts: folder 'misc' is in no layer of ARCHITECTURE.layers"]);
    expect(report.configErrors).toEqual([]);
    expect(checkLayers(graph, { layers: [['util'], ['core', 'util']], rootLayer: 'root' }).configErrors).toEqual(["folder 'util' is in layer #0 and layer #1"]);
  });

  it('treats a flat tree as one root layer', () => {
    const graph = graphOf({ 'a.ts': "import './b.js';", 'b.ts': "import './a.js';" });
    expect(checkLayers(graph, ARCHITECTURE)).toEqual({ violations: [], unassigned: [], configErrors: [] });
  });
});
