/**
 * The layout of kernel-lib (checks/lib/layout.ts): imports go only down the layers
 * (runtime <- nn, data, notebook <- train <- models), index.ts only re-exports, no import cycles, no file
 * over 300 lines, every file opens with a comment naming its lesson, and every `kernel-lib/src/...` path
 * named in a lesson or the docs exists. Each rule is also shown failing on a small tree made to break it.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { repoRoot } from "../kernel/kernelspec";
import {
  headerViolations,
  importCycles,
  importViolations,
  indexViolations,
  longFiles,
  missingSourcePaths,
  SourceTree,
} from "./lib/layout";

const root = repoRoot();
const src = path.join(root, "kernel-lib", "src");
const MAX_LINES = 300;

function readTree(dir: string, ext = ".ts"): SourceTree {
  const tree: SourceTree = {};
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(ext)) tree[path.relative(dir, p).split(path.sep).join("/")] = fs.readFileSync(p, "utf8");
    }
  };
  walk(dir);
  return tree;
}

const tree = readTree(src);
const lessons = fs.readdirSync(path.join(root, "notebooks")).filter((f) => /^\d\d-.*\.ipynb$/.test(f)).sort();

function markdownOf(lesson: string): string[] {
  const nb = JSON.parse(fs.readFileSync(path.join(root, "notebooks", lesson), "utf8")) as { cells: { cell_type: string; source: string | string[] }[] };
  return nb.cells.filter((c) => c.cell_type === "markdown").map((c) => (Array.isArray(c.source) ? c.source.join("") : c.source));
}

test("kernel-lib/src has the layer folders and nothing beside them but index.ts", () => {
  const top = [...new Set(Object.keys(tree).map((f) => f.split("/")[0]!))].sort();
  assert.deepEqual(top, ["data", "index.ts", "metrics", "models", "nn", "notebook", "runtime", "train"]);
});

test("imports go only down the layers: runtime <- nn, data, notebook <- train <- models", () => {
  assert.deepEqual(importViolations(tree, ["../package.json"]), []);
});

test("index.ts only re-exports", () => {
  assert.deepEqual(indexViolations(tree["index.ts"]!), []);
});

test("no import cycles in kernel-lib", () => {
  assert.deepEqual(importCycles(tree), []);
});

test(`no file of kernel-lib/src or kernel/ is over ${MAX_LINES} lines`, () => {
  assert.deepEqual(longFiles(tree, MAX_LINES), []);
  const kernel = readTree(path.join(root, "kernel"));
  assert.deepEqual(longFiles(kernel, MAX_LINES), []);
});

test("every kernel-lib file opens with a comment that names the lesson teaching it", () => {
  assert.deepEqual(headerViolations(tree, lessons), []);
});

test("every kernel-lib/src path named in a lesson, a README or a test exists", () => {
  const texts: [string, string][] = lessons.map((l) => [`notebooks/${l}`, fs.readFileSync(path.join(root, "notebooks", l), "utf8")]);
  for (const f of ["README.md", "datasets/austen/README.md", "datasets/fashion-mnist/README.md"]) texts.push([f, fs.readFileSync(path.join(root, f), "utf8")]);
  for (const dir of ["checks", "kernel", "scripts", "datasets"]) {
    // This file names missing paths on purpose, in the tests of the rule below.
    for (const [f, s] of Object.entries(readTree(path.join(root, dir)))) if (`${dir}/${f}` !== "checks/layout.test.ts") texts.push([`${dir}/${f}`, s]);
  }
  for (const [f, s] of Object.entries(tree)) texts.push([`kernel-lib/src/${f}`, s]);
  const missing = texts.flatMap(([f, s]) => missingSourcePaths(s, tree).map((p) => `${f} names ${p}`));
  assert.deepEqual(missing, []);
});

test("every lesson with a model names, in its Markdown, the kernel-lib files that implement its formulas", () => {
  for (const lesson of lessons.filter((l) => !l.startsWith("00-"))) {
    const named = markdownOf(lesson).flatMap((m) => missingSourcePaths(m, {}));
    assert.ok(named.length >= 2, `${lesson} names ${named.length} kernel-lib/src file(s) in its Markdown: ${named.join(", ")}`);
  }
});

// The rules fail on trees made to break them (so the checks above can fail).

const ok: SourceTree = {
  "index.ts": '/** The index. */\nexport * from "./runtime/random";\nexport { Mlp } from "./nn/mlp";\n',
  "runtime/random.ts": "/** Seeds. Taught in notebooks/00-tour.ipynb. */\nexport const seed = 1;\n",
  "nn/mlp.ts": '/** MLPs. Taught in notebooks/05-gan.ipynb. */\nimport { seed } from "../runtime/random";\nexport class Mlp { s = seed; }\n',
  "models/gan.ts": '/** GANs. Taught in notebooks/05-gan.ipynb. */\nimport { Mlp } from "../nn/mlp";\nexport const g = new Mlp();\n',
};

test("the rules pass a well-formed tree", () => {
  assert.deepEqual(importViolations(ok), []);
  assert.deepEqual(indexViolations(ok["index.ts"]!), []);
  assert.deepEqual(importCycles(ok), []);
  assert.deepEqual(headerViolations(ok, ["00-tour.ipynb", "05-gan.ipynb"]), []);
});

test("an import up the layers is a violation (runtime importing a model, notebook importing nn, data importing train)", () => {
  const bad = {
    ...ok,
    "runtime/random.ts": ok["runtime/random.ts"] + 'import { g } from "../models/gan";\nexport const h = g;\n',
    "notebook/plot.ts": '/** x. notebooks/00-tour.ipynb */\nexport type M = import("../nn/mlp").Mlp;\n',
    "data/ring.ts": '/** x. notebooks/05-gan.ipynb */\nconst t = require("../train/train");\nconst p = require("../../package.json");\n',
    "train/train.ts": "/** x. notebooks/02-transformer.ipynb */\nexport {};\n",
  };
  assert.deepEqual(importViolations(bad), [
    "runtime/random.ts -> models/gan.ts: runtime/ may import only from runtime",
    "notebook/plot.ts -> nn/mlp.ts: notebook/ may import only from notebook, runtime",
    "data/ring.ts -> train/train.ts: data/ may import only from data, runtime",
    'data/ring.ts -> "../../package.json": names no file of kernel-lib/src',
  ]);
  assert.ok(!importViolations(bad, ["../package.json"]).some((v) => v.includes("package.json")), "kernel-lib's package.json may be read");
  assert.deepEqual(importCycles(bad), ["runtime/random.ts -> models/gan.ts -> nn/mlp.ts -> runtime/random.ts"]);
});

test("a file outside the layers, an import of the index or of a missing file is a violation", () => {
  const bad = { ...ok, "helpers.ts": "/** x */\nexport {};\n", "nn/mlp.ts": ok["nn/mlp.ts"] + 'import "../index";\nimport "./gone";\n' };
  assert.deepEqual(importViolations(bad), [
    "nn/mlp.ts -> index.ts: a layer must not import the index",
    'nn/mlp.ts -> "./gone": names no file of kernel-lib/src',
    "helpers.ts: lies outside the layer folders (runtime, nn, data, notebook, metrics, train, models)",
  ]);
});

test("code in index.ts other than re-exports is a violation", () => {
  assert.deepEqual(indexViolations('export * from "./a";\nimport { b } from "./b";\nexport const c = b;\n'), ['line 2: import { b } from "./b";', "line 3: export const c = b;"]);
});

test("a long file, a file without a lesson in its header, and a missing path are reported", () => {
  assert.deepEqual(longFiles({ "a.ts": "x\n".repeat(301), "b.ts": "x\n".repeat(300) }, 300), ["a.ts: 301 lines (at most 300)"]);
  assert.deepEqual(headerViolations({ "a.ts": "export {};\n", "b.ts": "/** No lesson. */\n", "c.ts": "/** notebooks/09-x.ipynb */\n" }, ["00-tour.ipynb"]), [
    "a.ts: does not open with a /** ... */ comment",
    "b.ts: its opening comment names no lesson (notebooks/NN-name.ipynb)",
    "c.ts: its opening comment names notebooks/09-x.ipynb, which does not exist",
  ]);
  assert.deepEqual(missingSourcePaths("see `kernel-lib/src/nn/mlp.ts` and kernel-lib/src/gan.ts", ok), ["kernel-lib/src/gan.ts"]);
});
