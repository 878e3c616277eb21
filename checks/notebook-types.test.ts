/**
 * Type-checks the code cells of every notebook in notebooks/ without running them, chained the way the
 * kernel chains them (each cell against the declarations of the cells before it) and with the kernel's
 * strict options (kernel/converter.ts). A failure names the notebook, the cell, the line, the column
 * and the message. Notebooks with exercises are checked twice: as shipped, and with each exercise cell
 * replaced by its reference solution (notebooks/solutions/).
 * Run: npx tsc -b && node --test build/checks/notebook-types.test.js
 */
import { after, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { CellDiagnostic, createNotebookConverter, typeCheckCells } from "../kernel/converter";
import { repoRoot } from "../kernel/kernelspec";
import { cellSource, exerciseId, NotebookCell, readNotebook, solutionsTransform } from "../kernel/runner";

const NOTEBOOKS = path.join(repoRoot(), "notebooks");
// Rooted in notebooks/, as the kernel is when Jupyter opens a lesson there.
const converter = createNotebookConverter({ cwd: NOTEBOOKS });
after(() => converter.close());

/** nbclient's tag for a cell that is meant to fail. */
const RAISES = "raises-exception";

function describeDiagnostics(notebook: string, cells: NotebookCell[], diagnostics: CellDiagnostic[]): string {
  const codeCells = cells.map((c, i) => ({ c, i })).filter(({ c }) => c.cell_type === "code");
  return diagnostics
    .map((d) => {
      const cellNumber = codeCells[d.codeCell - 1]!.i + 1;
      const where = d.fileName ? `${d.fileName} line ${d.line}, column ${d.column}` : `line ${d.line}, column ${d.column}`;
      return `${notebook}: cell ${cellNumber} (code cell ${d.codeCell}), ${where}: ${d.message} (TS${d.code})`;
    })
    .join("\n");
}

/** Declarations before each code cell of each notebook as shipped, so the solutions check can skip ahead. */
const declsBefore = new Map<string, string[]>();

function check(notebookPath: string, withSolutions: boolean): void {
  const nb = readNotebook(notebookPath);
  const code = nb.cells.filter((c) => c.cell_type === "code");
  const transform = withSolutions ? solutionsTransform(notebookPath) : null;
  const sources = code.map((c) => (transform ? transform(c, cellSource(c)) : cellSource(c)));
  const expectErrors = new Set(code.flatMap((c, i) => ((c.metadata?.["tags"] as string[] | undefined)?.includes(RAISES) ? [i + 1] : [])));
  const decls: string[] = [];
  let start: { index: number; prevDecl: string } | undefined;
  if (withSolutions) {
    // The cells before the first exercise are the same in both checks.
    const first = code.findIndex((c) => exerciseId(c) !== undefined);
    const known = declsBefore.get(notebookPath)?.[first];
    if (first > 0 && known !== undefined) start = { index: first, prevDecl: known };
  }
  const diagnostics = typeCheckCells(converter, sources, { expectErrors, start, onCell: (i, d) => (decls[i] = d) });
  if (!withSolutions) declsBefore.set(notebookPath, decls);
  assert.equal(diagnostics.length, 0, describeDiagnostics(path.relative(repoRoot(), notebookPath), nb.cells, diagnostics));
}

describe("the notebook type-checker", () => {
  test("reports a strict-mode error with its code cell, line and column", () => {
    const diagnostics = typeCheckCells(converter, ["const fine: number = 1;", "// the next line is wrong\nlet s: string = null;"]);
    assert.deepEqual(
      diagnostics.map((d) => [d.codeCell, d.line, d.column, d.code]),
      [[2, 2, 5, 2322]],
    );
    assert.match(diagnostics[0]!.message, /Type 'null' is not assignable to type 'string'/);
  });

  test("chains cells: a later cell sees earlier declarations and imports from kernel-lib by package name", () => {
    const ok = typeCheckCells(converter, ['import { tf } from "kernel-lib";\nconst n = 3;', "const t: tf.Tensor = tf.zeros([n]);", "t.shape.length + n"]);
    assert.deepEqual(ok, []);
    const wrongType = typeCheckCells(converter, ["const n = 3;", "const s: string = n;"]);
    assert.deepEqual(wrongType.map((d) => [d.codeCell, d.line, d.column]), [[2, 1, 7]]);
  });

  test("a cell tagged raises-exception may fail; the chain goes on past it", () => {
    assert.deepEqual(typeCheckCells(converter, ["const a = 1;", "const b: string = a;", "a + 1"], { expectErrors: new Set([2]) }), []);
  });
});

const notebooks = fs.existsSync(NOTEBOOKS) ? fs.readdirSync(NOTEBOOKS).filter((f) => f.endsWith(".ipynb")).sort() : [];

describe("notebooks/ type-check", () => {
  for (const name of notebooks) {
    const file = path.join(NOTEBOOKS, name);
    test(`${name} as shipped`, () => check(file, false));
    const hasExercises = readNotebook(file).cells.some((c) => c.cell_type === "code" && exerciseId(c) !== undefined);
    if (hasExercises) test(`${name} with the reference solutions`, () => check(file, true));
  }
});
