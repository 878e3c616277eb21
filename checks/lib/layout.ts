/**
 * The layout rules of kernel-lib (README, "Layout"), as pure functions over file texts so that
 * checks/layout.test.ts can run them on the real tree and on small trees made to break them.
 *
 * kernel-lib/src is layered: runtime <- nn, data, notebook, metrics <- train <- models (train uses only runtime and notebook). A file may import only from
 * its own layer and the layers it stands on; index.ts only re-exports.
 */
import * as path from "node:path";
import ts from "typescript";

/** The folders of kernel-lib/src, each with the folders its files may import from (besides itself). */
export const ALLOWED_IMPORTS: Record<string, readonly string[]> = {
  runtime: [],
  nn: ["runtime"],
  data: ["runtime"],
  notebook: ["runtime"],
  metrics: ["runtime"],
  train: ["runtime", "notebook"],
  models: ["runtime", "nn", "data", "notebook", "metrics", "train"],
};

/** Source files by path relative to kernel-lib/src, with "/" separators ("nn/linear.ts"). */
export type SourceTree = Record<string, string>;

/** The layer of a file: its first folder under src ("index" for src/index.ts, "" for another top-level file). */
export function layerOf(file: string): string {
  const parts = file.split("/");
  if (parts.length === 1) return file === "index.ts" ? "index" : "";
  return parts[0]!;
}

/** The relative module specifiers a file imports or re-exports (import ... from, export ... from, import(), require()). */
export function relativeImports(source: string): string[] {
  const specs: string[] = [];
  const sf = ts.createSourceFile("x.ts", source, ts.ScriptTarget.ES2022, true);
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      specs.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.arguments.length === 1 && ts.isStringLiteral(node.arguments[0]!)) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === "require")) specs.push((node.arguments[0] as ts.StringLiteral).text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      specs.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return specs.filter((s) => s.startsWith("."));
}

/**
 * The file a relative specifier of `from` names, relative to src ("../package.json" for a file above it), or
 * null when it names no file of the tree nor one of `outside` (files above src that exist).
 */
export function resolveImport(tree: SourceTree, from: string, spec: string, outside: readonly string[] = []): string | null {
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  for (const candidate of [base, `${base}.ts`, `${base}/index.ts`]) if (candidate in tree || outside.includes(candidate)) return candidate;
  return null;
}

/**
 * Every import that breaks the layering or names no file, as "from -> to: why". `outside` lists the files above
 * src that may be read (kernel-lib's package.json, relative to src: "../package.json").
 */
export function importViolations(tree: SourceTree, outside: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const [file, source] of Object.entries(tree)) {
    const layer = layerOf(file);
    if (layer !== "index" && !(layer in ALLOWED_IMPORTS)) {
      out.push(`${file}: lies outside the layer folders (${Object.keys(ALLOWED_IMPORTS).join(", ")})`);
      continue;
    }
    for (const spec of relativeImports(source)) {
      const target = resolveImport(tree, file, spec, outside);
      if (!target) {
        out.push(`${file} -> "${spec}": names no file of kernel-lib/src`);
        continue;
      }
      const to = layerOf(target);
      if (layer === "index" || target.startsWith("../")) continue;
      if (to === layer) continue;
      if (to === "index") out.push(`${file} -> ${target}: a layer must not import the index`);
      else if (!ALLOWED_IMPORTS[layer]!.includes(to)) out.push(`${file} -> ${target}: ${layer}/ may import only from ${[layer, ...ALLOWED_IMPORTS[layer]!].join(", ")}`);
    }
  }
  return out;
}

/** Statements of index.ts that are not re-exports (`export ... from "..."`), as "line N: text". */
export function indexViolations(source: string): string[] {
  const sf = ts.createSourceFile("index.ts", source, ts.ScriptTarget.ES2022, true);
  return sf.statements
    .filter((s) => !(ts.isExportDeclaration(s) && s.moduleSpecifier))
    .map((s) => `line ${sf.getLineAndCharacterOfPosition(s.getStart(sf)).line + 1}: ${s.getText(sf).split("\n")[0]}`);
}

/** Import cycles between files of the tree, each as "a -> b -> ... -> a" (one per cycle found). */
export function importCycles(tree: SourceTree): string[] {
  const edges = new Map<string, string[]>();
  for (const [file, source] of Object.entries(tree)) {
    edges.set(file, relativeImports(source).map((s) => resolveImport(tree, file, s)).filter((t): t is string => t !== null));
  }
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (f: string): void => {
    state.set(f, "open");
    stack.push(f);
    for (const g of edges.get(f) ?? []) {
      if (state.get(g) === "open") cycles.push([...stack.slice(stack.indexOf(g)), g].join(" -> "));
      else if (!state.has(g)) visit(g);
    }
    stack.pop();
    state.set(f, "done");
  };
  for (const f of Object.keys(tree).sort()) if (!state.has(f)) visit(f);
  return cycles;
}

/** Files longer than `maxLines` lines, as "file: N lines". */
export function longFiles(tree: SourceTree, maxLines: number): string[] {
  return Object.entries(tree)
    .map(([f, s]) => [f, s.replace(/\n$/, "").split("\n").length] as const)
    .filter(([, n]) => n > maxLines)
    .map(([f, n]) => `${f}: ${n} lines (at most ${maxLines})`);
}

/**
 * Files that do not open with a comment naming the lesson that teaches them: the first thing in the file must
 * be a block comment that names `notebooks/NN-name.ipynb`, and every lesson it names must be in `lessons`.
 */
export function headerViolations(tree: SourceTree, lessons: readonly string[]): string[] {
  const out: string[] = [];
  for (const [file, source] of Object.entries(tree)) {
    const m = /^\/\*\*([\s\S]*?)\*\//.exec(source);
    if (!m) {
      out.push(`${file}: does not open with a /** ... */ comment`);
      continue;
    }
    const named = [...m[1]!.matchAll(/notebooks\/(\d\d-[\w-]+\.ipynb)/g)].map((x) => x[1]!);
    if (file !== "index.ts" && named.length === 0) out.push(`${file}: its opening comment names no lesson (notebooks/NN-name.ipynb)`);
    for (const n of named) if (!lessons.includes(n)) out.push(`${file}: its opening comment names notebooks/${n}, which does not exist`);
  }
  return out;
}

/** `kernel-lib/src/...` paths named in a text that are not files of the tree, as "path". */
export function missingSourcePaths(text: string, tree: SourceTree): string[] {
  const named = [...text.matchAll(/kernel-lib\/src\/([\w./-]+\.ts)\b/g)].map((m) => m[1]!);
  return [...new Set(named)].filter((p) => !(p in tree)).map((p) => `kernel-lib/src/${p}`);
}
