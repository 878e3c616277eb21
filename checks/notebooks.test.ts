/**
 * Every lesson in notebooks/ runs through the real kernel in quick mode, with its exercises swapped for
 * the reference solutions and AIGC_EXERCISES=strict (so a wrong solution fails). Then, in the same
 * kernel, each untouched exercise cell and its check cell run again and must say "not yet".
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { KernelClient, Output } from "../kernel/client";
import { cellSource, describeFailure, exerciseId, Notebook, runNotebook, solutionsTransform } from "../kernel/runner";
import { repoRoot } from "../kernel/kernelspec";
import { developerMessagesIn } from "./lib/lesson-rules";

const root = repoRoot();
const notebooksDir = path.join(root, "notebooks");
const outDir = path.join(root, "checks", "out", "executed");
const notebooks = fs
  .readdirSync(notebooksDir)
  .filter((f) => /^\d\d-.*\.ipynb$/.test(f))
  .sort();

function outputText(outputs: Output[]): string {
  return outputs
    .map((o) => (o.output_type === "stream" ? o.text : o.output_type === "error" ? `${o.ename}: ${o.evalue}` : String(o.data["text/plain"] ?? "")))
    .join("");
}

/** Runs each untouched exercise and its check cell in the kernel that just ran the solved notebook. */
async function checkUntouchedExercises(kernel: KernelClient, nb: Notebook, name: string): Promise<string[]> {
  const verdicts: string[] = [];
  await kernel.execute('process.env["AIGC_EXERCISES"] = "";');
  nb.cells.forEach((cell, i) => {
    const id = exerciseId(cell);
    if (id) verdicts.push(`${i}:${id}`);
  });
  const results: string[] = [];
  for (const entry of verdicts) {
    const [index, id] = [Number(entry.split(":")[0]), entry.slice(entry.indexOf(":") + 1)];
    const checkIndex = nb.cells.findIndex((c, j) => j > index && c.cell_type === "code" && cellSource(c).includes(`checkExercise("${id}"`));
    assert.ok(checkIndex > index, `${name}: exercise "${id}" (cell ${index + 1}) has no check cell calling checkExercise("${id}", ...) after it`);
    const exerciseRun = await kernel.execute(cellSource(nb.cells[index]!), { timeoutMs: 120000 });
    let text = outputText(exerciseRun.outputs);
    if (exerciseRun.status === "ok") {
      const checkRun = await kernel.execute(cellSource(nb.cells[checkIndex]!), { timeoutMs: 300000 });
      text += outputText(checkRun.outputs);
    }
    const failedAsExpected = text.includes(`Exercise ${id}: not yet`) || (exerciseRun.status !== "ok" && text.includes("TODO"));
    assert.ok(failedAsExpected, `${name}: the untouched exercise "${id}" (cell ${index + 1}) should fail its check (cell ${checkIndex + 1}), but the output was:\n${text}`);
    results.push(id);
  }
  return results;
}

for (const file of notebooks) {
  test(`notebook ${file} runs in quick mode, with its exercises solved and untouched`, async () => {
    const notebook = path.join(notebooksDir, file);
    let untouched: string[] = [];
    let afterSetup = NaN;
    let atEnd = NaN;
    const report = await runNotebook({
      notebook,
      outPath: path.join(outDir, file),
      env: { AIGC_MODE: "quick", AIGC_EXERCISES: "strict" },
      transformSource: solutionsTransform(notebook),
      // Live tensors after the setup cell (the lesson's first code cell, which imports tf) and after the last one.
      afterCell: async (kernel, cell) => {
        if (cell.codeCell === 1) afterSetup = await liveTensors(kernel, file);
      },
      beforeShutdown: async (kernel, nb) => {
        atEnd = await liveTensors(kernel, file);
        untouched = await checkUntouchedExercises(kernel, nb, file);
      },
    });
    const seconds = report.cells.reduce((s, c) => s + c.seconds, 0);
    console.log(`${file}: ${report.cells.length} code cells in ${seconds.toFixed(1)} s; exercises failing untouched and passing solved: ${untouched.join(", ") || "none"}`);
    assert.ok(report.ok, describeFailure(report));
    assert.ok(tensorsLeftOver(afterSetup, atEnd) === null, `${file}: ${tensorsLeftOver(afterSetup, atEnd)}`);
    // What the lesson printed holds no message meant for developers either (lock files, scratch paths).
    const executed = JSON.parse(fs.readFileSync(path.join(outDir, file), "utf8")) as Notebook;
    const shown = executed.cells.map((c, i) => ({ label: `cell ${i + 1} output`, text: outputText((c.outputs ?? []) as Output[]) }));
    assert.deepEqual(developerMessagesIn(shown), [], `${file}: outputs meant for developers`);
  });
}

/** tf.memory().numTensors in the lesson's kernel (its first cell imports tf from kernel-lib). */
async function liveTensors(kernel: KernelClient, file: string): Promise<number> {
  const r = await kernel.execute("tf.memory().numTensors", { timeoutMs: 60000 });
  const text = r.iopub.find((m) => m.header.msg_type === "execute_result")?.content.data["text/plain"];
  const n = Number(text);
  assert.ok(r.status === "ok" && Number.isInteger(n), `${file}: could not count live tensors (does its first cell import tf?): ${JSON.stringify(r.outputs)}`);
  return n;
}

/** Why a lesson's end is wrong (more tensors alive than after its setup cell), or null when it is right. */
export function tensorsLeftOver(afterSetup: number, atEnd: number): string | null {
  if (!Number.isInteger(afterSetup) || !Number.isInteger(atEnd)) return `live tensors not counted (after setup ${afterSetup}, at the end ${atEnd})`;
  if (atEnd > afterSetup) return `the lesson ends with ${atEnd} live tensors, ${atEnd - afterSetup} more than the ${afterSetup} after its setup cell: dispose what it made`;
  return null;
}

test("the end-of-lesson tensor check fails on a lesson that leaves tensors behind, passes on one that frees them", () => {
  assert.match(tensorsLeftOver(12, 40) ?? "", /28 more than the 12/);
  assert.equal(tensorsLeftOver(12, 12), null);
  assert.equal(tensorsLeftOver(12, 3), null);
  assert.match(tensorsLeftOver(NaN, 3) ?? "", /not counted/);
});

test("notebooks/ holds the lessons", () => {
  assert.ok(notebooks.includes("00-tour.ipynb"), `expected notebooks/00-tour.ipynb among ${notebooks.join(", ")}`);
  for (const file of notebooks) {
    const nb = JSON.parse(fs.readFileSync(path.join(notebooksDir, file), "utf8"));
    assert.equal(nb.metadata?.kernelspec?.name, "aigc-lab", `${file}: kernelspec must be aigc-lab`);
    for (const [i, cell] of nb.cells.entries()) {
      if (cell.cell_type === "code") assert.deepEqual(cell.outputs, [], `${file}: cell ${i + 1} is committed with outputs; clear them`);
    }
  }
});
