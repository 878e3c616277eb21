/**
 * The exercises of the lessons, read without a kernel: which cells are exercises (metadata.aigc.exercise),
 * their reference solutions (notebooks/solutions/<lesson>/<id>.ts), and a solution turned into a function
 * that tests can call (transpiled with TypeScript, tf and kernel-lib's names in scope, as in the notebook).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";
import * as kernelLib from "kernel-lib";
import { repoRoot } from "../../kernel/kernelspec";

export const notebooksDir = path.join(repoRoot(), "notebooks");

export interface Cell {
  cell_type: string;
  source: string | string[];
  metadata: { aigc?: { exercise?: string } };
}

export interface Exercise {
  id: string;
  /** The cell's index in the notebook (markdown cells counted). */
  index: number;
  source: string;
}

export const cellText = (c: Cell): string => (Array.isArray(c.source) ? c.source.join("") : c.source);

export function lessonCells(stem: string): Cell[] {
  return (JSON.parse(fs.readFileSync(path.join(notebooksDir, `${stem}.ipynb`), "utf8")) as { cells: Cell[] }).cells;
}

export function exercisesOf(stem: string): Exercise[] {
  return lessonCells(stem).flatMap((c, index) => {
    const id = c.metadata.aigc?.exercise;
    return typeof id === "string" ? [{ id, index, source: cellText(c) }] : [];
  });
}

export function solutionPath(stem: string, id: string): string {
  return path.join(notebooksDir, "solutions", stem, `${id}.ts`);
}

/** The `function name(...): T` line of a cell or solution (parameters may hold function types: the whole line before "{"). */
export function signature(source: string): string | undefined {
  // Up to the "{" that ends a line, over as many lines as the parameters take; then the layout is normalised
  // (whitespace collapsed, none inside the parentheses, no trailing comma), so a signature broken over lines
  // equals the same signature on one.
  const raw = /^(function\s+\w+[\s\S]*?)\s*\{\s*$/m.exec(source)?.[1];
  if (!raw) return undefined;
  return raw
    .replace(/\s+/g, " ")
    .replace(/\(\s+/g, "(")
    .replace(/,?\s*\)/g, ")")
    .trim();
}

/**
 * A lesson's solution as a callable function. `extra` adds names the solution reads from the lesson's earlier
 * cells (lesson 03's `srcVocab`, for example) to kernel-lib's.
 */
export function solutionFunction(stem: string, id: string, extra: Record<string, unknown> = {}): (...args: unknown[]) => unknown {
  const source = fs.readFileSync(solutionPath(stem, id), "utf8").replace(/^import .*;$/gm, "");
  const name = /^function\s+(\w+)/m.exec(source)?.[1];
  if (!name) throw new Error(`${solutionPath(stem, id)}: no top-level function`);
  const js = ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.None } }).outputText;
  const scope = { ...kernelLib, ...extra };
  const make = new Function(...Object.keys(scope), `${js}\nreturn ${name};`) as (...v: unknown[]) => (...args: unknown[]) => unknown;
  return make(...Object.values(scope));
}
