/**
 * `npm run build` (also run by `npm pack` and `npm publish`, through `prepack`): src/ → dist/
 * as tsconfig.build.json says — ESM JavaScript, source maps with the sources inlined (src/ is
 * not published), and .d.ts files without the internals (`stripInternal` drops every
 * declaration tagged `@internal`). dist/ is emptied first, so a deleted source leaves nothing
 * behind in the package.
 *
 * One thing `tsc` alone gets wrong: a class with internal members keeps its `implements` clause
 * in its .d.ts, naming interfaces (the runtime's seams, say) whose members the stripped class no
 * longer shows — an error in every consumer that checks declaration files (`skipLibCheck:
 * false`). Types are structural, so the clause tells a consumer nothing it needs: the
 * declarations of such classes are emitted without it. Other classes keep theirs.
 */
import { rmSync } from 'node:fs';
import ts from 'typescript';

const CONFIG = 'tsconfig.build.json';

const host: ts.FormatDiagnosticsHost = {
  getCanonicalFileName: (name) => name,
  getCurrentDirectory: () => ts.sys.getCurrentDirectory(),
  getNewLine: () => ts.sys.newLine,
};

function fail(diagnostics: readonly ts.Diagnostic[]): never {
  process.stderr.write(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
  process.exit(1);
}

/** Whether a class declared in src/ has a member tagged `@internal` (stripped from its .d.ts). */
function hasInternalMembers(node: ts.Node): boolean {
  return ts.isClassDeclaration(node) && node.members.some((member) => ts.getJSDocTags(member).some((tag) => tag.tagName.text === 'internal'));
}

/** Drops `implements …` from the declaration of every class that has internal members. */
const dropImplementsOfStrippedClasses: ts.TransformerFactory<ts.SourceFile | ts.Bundle> = (context) => (file) => {
  if (!ts.isSourceFile(file)) return file;
  const visit = (node: ts.Node): ts.Node => {
    if (!ts.isClassDeclaration(node) || !hasInternalMembers(ts.getOriginalNode(node))) return node;
    const heritage = node.heritageClauses?.filter((clause) => clause.token !== ts.SyntaxKind.ImplementsKeyword);
    return ts.factory.updateClassDeclaration(node, node.modifiers, node.name, node.typeParameters, heritage, node.members);
  };
  return ts.visitEachChild(file, visit, context);
};

const parsed = ts.getParsedCommandLineOfConfigFile(CONFIG, undefined, {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (diagnostic) => fail([diagnostic]),
});
if (parsed === undefined) throw new Error(`cannot read ${CONFIG}`);
if (parsed.errors.length > 0) fail(parsed.errors);
if (parsed.options.outDir === undefined) throw new Error(`${CONFIG} names no outDir`);

rmSync(parsed.options.outDir, { recursive: true, force: true });
const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
const emitted = program.emit(undefined, undefined, undefined, false, { afterDeclarations: [dropImplementsOfStrippedClasses] });
const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
if (diagnostics.length > 0) fail(diagnostics);
