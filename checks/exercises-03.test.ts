/**
 * The exercises of notebooks/03-vae.ipynb, without a kernel: every exercise cell has a reference solution
 * that defines the same function with the same signature, the untouched cell is a todo() placeholder, and
 * a check cell calling checkExercise with its id follows. (checks/notebooks.test.ts runs the notebook
 * with the solutions in strict mode and the untouched cells through the kernel.) The solutions are
 * also type-checked and run here against the checks' own numbers, transpiled with TypeScript.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";
import * as kernelLib from "kernel-lib";
import { gaussianKl, loadFashionMnist, reparameterize, Rng, tf, Vae } from "kernel-lib";

const root = path.resolve(__dirname, "..", "..");
const notebookPath = path.join(root, "notebooks", "03-vae.ipynb");
const solutionsDir = path.join(root, "notebooks", "solutions", "03-vae");

interface Cell {
  cell_type: string;
  source: string | string[];
  metadata: { aigc?: { exercise?: string } };
}
const nb = JSON.parse(fs.readFileSync(notebookPath, "utf8")) as { cells: Cell[] };
const src = (c: Cell) => (Array.isArray(c.source) ? c.source.join("") : c.source);
const exercises = nb.cells.map((c, i) => ({ cell: c, index: i, id: c.metadata.aigc?.exercise })).filter((e): e is { cell: Cell; index: number; id: string } => typeof e.id === "string");

/** The `function name(...): T {` line of a cell. */
function signature(source: string): string {
  const m = /^function\s+\w+\s*\([^)]*\)\s*:\s*[^{]+/m.exec(source);
  assert.ok(m, `no top-level function in:\n${source}`);
  return m[0].trim();
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

test("03-vae has three exercises, each with a solution of the same signature and a check cell after it", () => {
  assert.deepEqual(exercises.map((e) => e.id), ["kl-term", "reparameterize", "elbo-one-image"]);
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

test("the solutions compute the right numbers outside the notebook", async () => {
  await kernelLib.useBestBackend({ verbose: false });
  const klTerm = solutionFunction("kl-term") as (m: tf.Tensor2D, lv: tf.Tensor2D) => tf.Tensor1D;
  const sampleLatent = solutionFunction("reparameterize") as (m: tf.Tensor, lv: tf.Tensor, e: tf.Tensor) => tf.Tensor;
  const negativeElbo = solutionFunction("elbo-one-image") as (model: Vae, x: tf.Tensor1D, eps: tf.Tensor2D) => number;
  const data = loadFashionMnist({ split: "test", source: "subset", limit: 2 });
  const model = new Vae({ inputDim: 784, hiddenDims: [32], latentDim: 4 }, new Rng(1));
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const mean = tf.randomNormal([3, 4], 0, 1, "float32", 1) as tf.Tensor2D;
    const logVar = tf.randomNormal([3, 4], 0, 1, "float32", 2) as tf.Tensor2D;
    kernelLib.checkClose(klTerm(mean, logVar), gaussianKl(mean, logVar), { rtol: 1e-5, name: "kl-term" });
    const eps = tf.randomNormal([3, 4], 0, 1, "float32", 3);
    kernelLib.checkClose(sampleLatent(mean, logVar, eps), reparameterize(mean, logVar, eps), { rtol: 1e-6, name: "reparameterize" });
  });
  const x = tf.tidy(() => data.images.slice(1, 1).reshape([784]) as tf.Tensor1D);
  const eps = tf.tidy(() => tf.randomNormal([1, 4], 0, 1, "float32", 4) as tf.Tensor2D);
  const expected = tf.tidy(() => model.lossPerImage(x.reshape([1, 784]), eps).loss.dataSync()[0]!);
  kernelLib.checkClose(negativeElbo(model, x, eps), expected, { rtol: 1e-5, name: "elbo-one-image" });
  tf.dispose([x, eps]);
  assert.equal(tf.memory().numTensors, before, "the solutions leak no tensors");
  model.dispose();
  data.images.dispose();
});
