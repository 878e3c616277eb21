/**
 * Lessons carry no messages meant for developers (issue 17, section 5): no lock files, no scratch paths of the
 * machine the checkpoints were made on, in any cell's source; and code cells a learner can read: at most
 * 25 lines, none longer than 110 characters (plumbing belongs in kernel-lib). Each rule is shown failing on
 * a made-up cell.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { repoRoot } from "../kernel/kernelspec";
import { developerMessages } from "./lib/lesson-rules";
import { learnerCommand, shortBackend } from "kernel-lib";

test("the rule finds developer messages in a made-up notebook", () => {
  assert.deepEqual(developerMessages([{ source: "ok" }, { source: ["make it with ", "flock /tmp/aigc-train.lock node x.js"] }]), [
    "cell 2: a lock-file command (flock)",
    "cell 2: a scratch path under /tmp/",
  ]);
});

export const MAX_CELL_LINES = 25;
export const MAX_LINE_CHARS = 110;

/** Code cells too long to read: "cell N: what" per finding (lines counted without trailing blank ones). */
export function longCells(cells: { cell_type: string; source: string | string[] }[]): string[] {
  const found: string[] = [];
  cells.forEach((c, i) => {
    if (c.cell_type !== "code") return;
    const lines = (Array.isArray(c.source) ? c.source.join("") : c.source).replace(/\s+$/, "").split("\n");
    if (lines.length > MAX_CELL_LINES) found.push(`cell ${i + 1}: ${lines.length} lines (at most ${MAX_CELL_LINES})`);
    const wide = lines.map((l, j) => [j + 1, l.length]).filter(([, n]) => n! > MAX_LINE_CHARS);
    for (const [j, n] of wide) found.push(`cell ${i + 1}, line ${j}: ${n} characters (at most ${MAX_LINE_CHARS})`);
  });
  return found;
}

test("the cell-size rule finds a long cell and a wide line in a made-up notebook, and passes Markdown of any size", () => {
  const long = Array.from({ length: 26 }, (_, i) => `const x${i} = ${i};`).join("\n");
  const md = "x".repeat(500);
  assert.deepEqual(longCells([
    { cell_type: "code", source: "ok\n\n" },
    { cell_type: "code", source: long },
    { cell_type: "markdown", source: md },
    { cell_type: "code", source: ["a\n", "b".repeat(111)] },
  ]), ["cell 2: 26 lines (at most 25)", "cell 4, line 2: 111 characters (at most 110)"]);
  assert.deepEqual(longCells([{ cell_type: "code", source: Array(25).fill("y".repeat(110)).join("\n") }]), []);
});

test("a recorded command is shown without its lock file and scratch folders; a backend banner as its short phrase", () => {
  assert.equal(
    learnerCommand("flock /tmp/aigc-train.lock scripts/train-vae.ts --latent 2 --out /tmp/vaerun/full-vae-latent2.ckpt --data=/work/x/y.idx"),
    "scripts/train-vae.ts --latent 2 --out full-vae-latent2.ckpt --data=y.idx",
  );
  assert.equal(learnerCommand("scripts/train-gan.ts --tasks ring"), "scripts/train-gan.ts --tasks ring");
  assert.deepEqual(developerMessages([{ source: learnerCommand("flock /tmp/l scripts/a.ts --out /work/runs/a.ckpt") }]), []);
  assert.equal(shortBackend("kernel-lib backend: wasm+native [SIMD, 1 thread]; skipped tfjs-node (not installed)"), "wasm+native [SIMD, 1 thread]");
  assert.throws(() => learnerCommand(undefined as unknown as string), /must be a string, got undefined/);
});

const dir = path.join(repoRoot(), "notebooks");
for (const file of fs.readdirSync(dir).filter((f) => /^\d\d-.*\.ipynb$/.test(f)).sort()) {
  test(`${file} has no messages meant for developers`, () => {
    const nb = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as { cells: { source: string | string[] }[] };
    assert.deepEqual(developerMessages(nb.cells), []);
  });
}

for (const file of fs.readdirSync(dir).filter((f) => /^\d\d-.*\.ipynb$/.test(f)).sort()) {
  test(`${file}: every code cell at most ${MAX_CELL_LINES} lines of at most ${MAX_LINE_CHARS} characters`, () => {
    const nb = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as { cells: { cell_type: string; source: string | string[] }[] };
    assert.deepEqual(longCells(nb.cells), []);
  });
}
