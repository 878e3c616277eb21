/**
 * The exercises of notebooks/04-gan.ipynb, without a kernel: every exercise cell has a reference solution
 * that defines the same function with the same signature, the untouched cell is a todo() placeholder, and
 * a check cell calling checkExercise with its id follows. (checks/notebooks.test.ts runs the notebook
 * with the solutions in strict mode and the untouched cells through the kernel.) The solutions are also
 * transpiled with TypeScript and run here against independent numbers, and wrong answers must fail.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";
import * as kernelLib from "kernel-lib";
import { nonSaturatingGeneratorLoss, optimalDiscriminator, ringCentres, ringCoverage, sampleRing, Rng, tf } from "kernel-lib";

const root = path.resolve(__dirname, "..", "..");
const notebookPath = path.join(root, "notebooks", "04-gan.ipynb");
const solutionsDir = path.join(root, "notebooks", "solutions", "04-gan");

interface Cell {
  cell_type: string;
  source: string | string[];
  metadata: { aigc?: { exercise?: string } };
}
const nb = JSON.parse(fs.readFileSync(notebookPath, "utf8")) as { cells: Cell[] };
const src = (c: Cell) => (Array.isArray(c.source) ? c.source.join("") : c.source);
const exercises = nb.cells
  .map((c, i) => ({ cell: c, index: i, id: c.metadata.aigc?.exercise }))
  .filter((e): e is { cell: Cell; index: number; id: string } => typeof e.id === "string");

/** The `function name(...): T` line of a cell (parameters may hold function types, so: the whole line before "{"). */
function signature(source: string): string {
  const m = /^(function\s+\w+.*?)\s*\{\s*$/m.exec(source);
  assert.ok(m, `no top-level function in:\n${source}`);
  return m[1]!.trim();
}

/** Transpiles a solution and returns the function it defines, with tf and kernel-lib's names in scope. */
function solutionFunction(id: string): (...args: unknown[]) => unknown {
  const source = fs.readFileSync(path.join(solutionsDir, `${id}.ts`), "utf8");
  const name = /^function\s+(\w+)/m.exec(source)![1]!;
  const js = ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.None } }).outputText;
  const scope = { ...kernelLib };
  const make = new Function(...Object.keys(scope), `${js}\nreturn ${name};`) as (...v: unknown[]) => (...args: unknown[]) => unknown;
  return make(...Object.values(scope));
}

test("04-gan has three exercises, each with a solution of the same signature and a check cell after it", () => {
  assert.deepEqual(exercises.map((e) => e.id), ["non-saturating-loss", "optimal-d", "count-modes"]);
  for (const { cell, index, id } of exercises) {
    const file = path.join(solutionsDir, `${id}.ts`);
    assert.ok(fs.existsSync(file), `exercise ${id} has no solution at ${file}`);
    const solution = fs.readFileSync(file, "utf8");
    assert.equal(signature(solution), signature(src(cell)), `exercise ${id}: the solution's signature differs from the exercise cell's`);
    assert.match(src(cell), /todo\(/, `exercise ${id}: the untouched cell should be a todo() placeholder`);
    assert.doesNotMatch(solution, /todo\(/, `exercise ${id}: the solution still calls todo()`);
    const check = nb.cells.findIndex((c, j) => j > index && c.cell_type === "code" && src(c).includes(`checkExercise("${id}"`));
    assert.ok(check > index, `exercise ${id}: no check cell after it`);
  }
});

test("the non-saturating loss solution matches the library, is finite at ±100 and leaks nothing", async () => {
  await kernelLib.useBestBackend({ verbose: false });
  const loss = solutionFunction("non-saturating-loss") as (l: tf.Tensor) => tf.Scalar;
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const l = tf.tensor1d([-100, -3, 0, 2.5, 100]);
    kernelLib.checkClose(loss(l), nonSaturatingGeneratorLoss(l), { rtol: 1e-6, name: "vs library" });
    // By hand in float64: mean of softplus(-l).
    const sp = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
    kernelLib.checkClose(loss(l), [100, 3, 0, -2.5, -100].reduce((s, v) => s + sp(v), 0) / 5, { rtol: 1e-6, name: "by hand" });
  });
  assert.equal(tf.memory().numTensors, before, "no tensors leaked");
});

test("the optimal-D solution is p / (p + q), 1/2 where both vanish", () => {
  const optimalD = solutionFunction("optimal-d") as (xs: number[], p: (x: number) => number, q: (x: number) => number) => number[];
  const p = (x: number) => Math.exp(-x * x);
  const q = (x: number) => (x > 0 ? 2 * Math.exp(-x) : 0);
  const xs = [-1, 0.5, 3];
  assert.deepEqual(optimalD(xs, p, q), xs.map((x) => optimalDiscriminator(p(x), q(x))));
  assert.deepEqual(optimalD([7], () => 0, () => 0), [0.5]);
});

test("the count-modes solution agrees with ringCoverage on real data, a collapsed set and noise", () => {
  const count = solutionFunction("count-modes") as (pts: [number, number][], c: [number, number][], std: number, min: number) => number;
  const centres = ringCentres();
  const data = sampleRing(2500, { rng: new Rng(3) });
  const flat = Array.from(data.dataSync());
  data.dispose();
  const points = Array.from({ length: 2500 }, (_, i) => [flat[2 * i]!, flat[2 * i + 1]!] as [number, number]);
  assert.equal(count(points, centres, 0.02, 25), ringCoverage(points).modesCovered);
  assert.equal(count(points, centres, 0.02, 25), 8);
  // Keep only the samples near modes 0-2: three modes.
  const three = points.filter(([x, y]) => [0, 1, 2].some((k) => Math.hypot(x - centres[k]![0], y - centres[k]![1]) < 0.5));
  assert.equal(count(three, centres, 0.02, 25), 3);
  assert.equal(count(three, centres, 0.02, 25), ringCoverage(three, { minShare: 25 / three.length }).modesCovered);
  const noise = Array.from({ length: 500 }, (_, i) => [1.2 * Math.cos(i), 1.2 * Math.sin(i)] as [number, number]);
  assert.equal(count(noise, centres, 0.02, 25), 0);
});
