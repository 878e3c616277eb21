/**
 * Every lesson's exercises, without a kernel: each exercise cell is a todo() placeholder with a reference
 * solution of the same signature, a check cell calling checkExercise with its id follows it, ids are
 * unique, and no solution file is left without its exercise. (checks/notebooks.test.ts runs every lesson
 * with the solutions in strict mode and with the untouched cells; exercises-03/04 run solutions here.)
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { cellText, exercisesOf, lessonCells, notebooksDir, signature, solutionPath } from "./lib/exercises";

const lessons = fs.readdirSync(notebooksDir).filter((f) => /^\d\d-.*\.ipynb$/.test(f)).map((f) => f.replace(/\.ipynb$/, "")).sort();

test("every lesson has exercises", () => {
  assert.ok(lessons.length >= 6, `lessons found: ${lessons.join(", ")}`);
  for (const stem of lessons) assert.ok(exercisesOf(stem).length >= 1, `${stem} has no exercise cell`);
});

for (const stem of lessons) {
  test(`${stem}: each exercise has a solution of the same signature, a todo() placeholder and a check cell after it`, () => {
    const cells = lessonCells(stem);
    const exercises = exercisesOf(stem);
    const ids = exercises.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, `${stem}: exercise ids repeat: ${ids.join(", ")}`);
    for (const { id, index, source } of exercises) {
      const file = solutionPath(stem, id);
      assert.ok(fs.existsSync(file), `${stem}: exercise ${id} has no solution at ${file}`);
      const solution = fs.readFileSync(file, "utf8");
      const want = signature(source);
      assert.ok(want, `${stem}: exercise ${id}: the cell defines no top-level function`);
      assert.equal(signature(solution), want, `${stem}: exercise ${id}: the solution's signature differs from the exercise cell's`);
      assert.match(source, /todo\(/, `${stem}: exercise ${id}: the untouched cell should be a todo() placeholder`);
      assert.doesNotMatch(solution, /todo\(/, `${stem}: exercise ${id}: the solution still calls todo()`);
      const check = cells.findIndex((c, j) => j > index && c.cell_type === "code" && cellText(c).includes(`checkExercise("${id}"`));
      assert.ok(check > index, `${stem}: exercise ${id}: no check cell after it`);
    }
    const dir = path.join(notebooksDir, "solutions", stem);
    const orphans = fs.readdirSync(dir).filter((f) => !ids.includes(f.replace(/\.ts$/, "")));
    assert.deepEqual(orphans, [], `${stem}: solutions without an exercise cell`);
  });
}

test("signature(): a signature broken over lines equals it on one line; a changed parameter does not", () => {
  const oneLine = "function f(a: number, b: [number, number][]): number {\n  return 1;\n}";
  const broken = "const x = 1;\nfunction f(\n  a: number, b: [number, number][],\n): number {\n  return todo();\n}";
  assert.equal(signature(broken), signature(oneLine));
  assert.equal(signature(oneLine), "function f(a: number, b: [number, number][]): number");
  assert.notEqual(signature(broken.replace("b: [number", "b: [string")), signature(oneLine));
  assert.equal(signature("const f = () => 1;"), undefined);
});
