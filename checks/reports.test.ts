/**
 * The lesson reports (`npm start`): two runs of a lesson with the same seed, backend and mode give the
 * same outputs once timings are masked; a failing lesson still gets its page, is marked failed in the
 * index and makes `npm start` exit non-zero; plus the pieces the pages are made of (timing masks, math,
 * ANSI, the command line).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import katex from "katex";
import { repoRoot } from "../kernel/kernelspec";
import { cellSource, readNotebook } from "../kernel/runner";
import { ansiToHtml } from "../scripts/report/ansi";
import { failureHeadline, formatSeconds, LessonSummary, renderMarkdown } from "../scripts/report/html";
import { fingerprint, firstDifference, maskTimings, METRIC_KEY } from "../scripts/report/outputs";
import * as lib from "kernel-lib";
import { parseArgs, UsageError } from "../scripts/start";

/** Lessons whose two quick runs must agree output for output (04-vae: a training lesson). Add a lesson here to cover it. */
const REPRODUCIBLE_LESSONS = ["00-tour", "04-vae"];

const root = repoRoot();
const startJs = path.join(root, "build", "scripts", "start.js");
const outBase = path.join(root, "checks", "out", "reports-test");

function runStart(args: string[]): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [startJs, ...args], { cwd: root, encoding: "utf8", timeout: 600_000, env: { ...process.env, AIGC_MODE: "" } });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

function summaries(outDir: string): Record<string, LessonSummary> {
  return JSON.parse(fs.readFileSync(path.join(outDir, "runs.json"), "utf8")).lessons;
}

test("reportMetric: the report's metadata key, JSON-safe values, a text line outside a kernel", () => {
  assert.equal(lib.METRIC_KEY, METRIC_KEY, "kernel-lib and the report must agree on the metric's metadata key");
  const printed: string[] = [];
  const log = console.log;
  console.log = (line: string) => printed.push(line);
  try {
    assert.deepEqual(lib.reportMetric("validation loss", 1.23456789, { unit: "nats", digits: 4 }), { name: "validation loss", value: 1.23456789, unit: "nats" });
    assert.deepEqual(lib.reportMetric("diverged", NaN), { name: "diverged", value: "NaN" });
    lib.reportMetric("modes covered", 8);
  } finally {
    console.log = log;
  }
  assert.deepEqual(printed, ["validation loss: 1.235 nats", "diverged: NaN", "modes covered: 8"]);
  assert.throws(() => lib.reportMetric(" ", 1), TypeError);
});

test("maskTimings masks durations, rates, clocks and dates but keeps every other number", () => {
  assert.equal(
    maskTimings("fit: step 150/150 (100%) | loss 0.0115 | 6.35 steps/s | ETA 0:23"),
    "fit: step 150/150 (100%) | loss 0.0115 | <rate> | ETA <clock>",
  );
  assert.equal(maskTimings("done in 1:02:03, took 12 ms, then 1.5s and 3 seconds"), "done in <clock>, took <duration>, then <duration> and <duration>");
  assert.equal(maskTimings("run at 2026-11-28T16:02:08.123Z"), "run at <date>");
  assert.equal(maskTimings("matMul 3.2 GFLOP/s"), "matMul <rate>");
  assert.equal(maskTimings("loss 1.25e-3, 7 samples, seed 2024, \x1b[31mred\x1b[0m"), "loss 1.25e-3, 7 samples, seed 2024, red");
});

test("fingerprints of two notebooks differ exactly where a number differs", () => {
  const nb = (loss: string, time: string) => ({
    cells: [{ cell_type: "code" as const, source: "x", metadata: {}, outputs: [{ output_type: "stream" as const, name: "stdout", text: `loss ${loss} in ${time}\n` }] }],
    metadata: {},
    nbformat: 4,
    nbformat_minor: 5,
  });
  assert.equal(firstDifference(fingerprint(nb("0.5", "3 ms")), fingerprint(nb("0.5", "9 ms"))), null);
  const diff = firstDifference(fingerprint(nb("0.5", "3 ms")), fingerprint(nb("0.6", "3 ms")));
  assert.match(diff ?? "", /cell 1, output 1 differs/);
});

test("Markdown math renders with KaTeX; a broken formula shows as a KaTeX error", () => {
  const html = renderMarkdown("Softmax $z_i$:\n\n$$\\frac{e^{z_i}}{\\sum_j e^{z_j}}$$\n");
  assert.match(html, /class="katex"/);
  assert.match(html, /class="katex-display"/);
  assert.doesNotMatch(html, /katex-error/);
  assert.match(renderMarkdown("$\\frac{1}$"), /katex-error/, "a broken formula must show as a KaTeX error, not vanish");
  // Jupyter pairs a closing `$` after a space (pandoc's rule does not); prices stay text.
  const jupyterStyle = renderMarkdown("With $l = $ D's logit and $D(G(z)) = \\sigma(l)$.");
  assert.equal(jupyterStyle.match(/class="katex"/g)?.length, 2);
  assert.doesNotMatch(jupyterStyle, /katex-error/);
  assert.doesNotMatch(renderMarkdown("costs $5 and $10"), /katex/);
});

test("every lesson's Markdown renders its math without KaTeX errors", () => {
  const dir = path.join(root, "notebooks");
  const lessons = fs.readdirSync(dir).filter((f) => /^\d\d-.*\.ipynb$/.test(f));
  assert.ok(lessons.length > 0, "no lessons found");
  const errors: string[] = [];
  for (const file of lessons) {
    readNotebook(path.join(dir, file)).cells.forEach((cell, i) => {
      if (cell.cell_type !== "markdown") return;
      for (const m of renderMarkdown(cellSource(cell)).matchAll(/<span class="katex-error" title="([^"]*)"/g)) errors.push(`${file} cell ${i + 1}: ${m[1]}`);
    });
  }
  assert.deepEqual(errors, []);
});

test("ANSI colours become spans, other escapes vanish, text is escaped", () => {
  assert.equal(ansiToHtml("\x1b[31mError\x1b[0m: a < b\x1b[2K"), '<span class="ansi-fg-red">Error</span>: a &lt; b');
  assert.equal(ansiToHtml("\x1b[1;32mok\x1b[22m!"), '<span class="ansi-fg-green ansi-bold">ok</span><span class="ansi-fg-green">!</span>');
});

test("the command line: quick by default, --full, repeated --only, usage errors", () => {
  assert.deepEqual(parseArgs([]), { mode: "quick", only: [], help: false });
  assert.deepEqual(parseArgs(["--full", "--only", "02", "--only=03"]), { mode: "full", only: ["02", "03"], help: false });
  assert.equal(parseArgs(["--quick"]).mode, "quick");
  assert.throws(() => parseArgs(["--quick", "--full"]), UsageError);
  assert.throws(() => parseArgs(["--only"]), UsageError);
  assert.throws(() => parseArgs(["--fast"]), UsageError);
  assert.equal(formatSeconds(125), "2:05");
  assert.equal(
    failureHeadline("evalmachine.<anonymous>:2\nthrow new Error('boom');\n^\n\nError: boom\n    at evalmachine.<anonymous>:2:7"),
    "Error: boom",
  );
});

const OK_NOTEBOOK = {
  cells: [
    { cell_type: "markdown", source: "# A lesson that works\n\nIt reports $x^2 = 4$ for $x = 2$.", metadata: {} },
    { cell_type: "code", source: 'import { reportMetric, setSeed } from "kernel-lib";\nsetSeed(11);\nreportMetric("answer", 42);\nreportMetric("loss", 0.123456789, { unit: "nats" });', metadata: {} },
  ],
  metadata: { kernelspec: { name: "aigc-lab", display_name: "TypeScript (aigc-lab)", language: "typescript" } },
  nbformat: 4,
  nbformat_minor: 5,
};

const FAILING_NOTEBOOK = {
  cells: [
    { cell_type: "markdown", source: "# A lesson that fails\n\nThe second cell throws.", metadata: {} },
    { cell_type: "code", source: 'console.log("before the failure, mode", process.env.AIGC_MODE);', metadata: {} },
    { cell_type: "code", source: 'throw new RangeError("deliberate failure for the report test");', metadata: {} },
    { cell_type: "code", source: 'console.log("never printed");', metadata: {} },
  ],
  metadata: OK_NOTEBOOK.metadata,
  nbformat: 4,
  nbformat_minor: 5,
};

test("a failing lesson gets its page with the error in place, is marked failed, and npm start exits non-zero", () => {
  const dir = path.join(outBase, "failing");
  const notebooks = path.join(dir, "notebooks");
  const out = path.join(dir, "reports");
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(notebooks, { recursive: true });
  fs.writeFileSync(path.join(notebooks, "00-works.ipynb"), JSON.stringify(OK_NOTEBOOK));
  fs.writeFileSync(path.join(notebooks, "01-fails.ipynb"), JSON.stringify(FAILING_NOTEBOOK));
  fs.writeFileSync(path.join(notebooks, "02-unreadable.ipynb"), '{"cells": [');

  const run = runStart(["--notebooks", notebooks, "--out", out]);
  assert.equal(run.status, 1, `npm start must exit 1 when a lesson fails; output:\n${run.output}`);
  assert.match(run.output, /cell +2\/3 +FAILED/);
  assert.match(run.output, /deliberate failure for the report test/);

  // Both lessons ran (a failure does not stop the others) and the summaries say how each went.
  const s = summaries(out);
  assert.equal(s["00-works"]?.status, "ok");
  assert.equal(s["00-works"]?.seed, 11);
  assert.equal(s["00-works"]?.mode, "quick");
  assert.deepEqual(s["00-works"]?.metrics, [{ name: "answer", value: 42 }, { name: "loss", value: 0.123456789, unit: "nats" }]);
  assert.equal(s["01-fails"]?.status, "failed");
  assert.deepEqual(s["01-fails"]?.failedCell, { cell: 3, codeCell: 2 });
  assert.equal(s["01-fails"]?.error, "RangeError: deliberate failure for the report test");
  // A lesson that cannot even start gets a page saying why.
  assert.equal(s["02-unreadable"]?.status, "failed");
  assert.match(fs.readFileSync(path.join(out, "02-unreadable.html"), "utf8"), /The lesson could not run: .*02-unreadable.ipynb: not a readable notebook/);

  const index = fs.readFileSync(path.join(out, "index.html"), "utf8");
  assert.match(index, /<tr class="status-failed"><td><a href="01-fails.html">/);
  assert.match(index, /failed \(code cell 2\)/);
  assert.match(index, /<tr class="status-ok"><td><a href="00-works.html">/);
  assert.match(index, /answer<\/span> <span class="metric-value">42</);
  assert.match(index, /0.1235 nats/);

  // The page shows the error at the failing cell, after the output of the cell before, and the rest as not run.
  const page = fs.readFileSync(path.join(out, "01-fails.html"), "utf8");
  const before = page.indexOf("before the failure");
  const failedCell = page.indexOf('<section class="cell code status-error" id="cell-3">');
  const error = page.indexOf("deliberate failure for the report test", failedCell);
  const notRun = page.indexOf('<section class="cell code status-not-run" id="cell-4">');
  assert.ok(before > 0 && failedCell > before && error > failedCell && notRun > error, "page order: output, failing cell, its error, the cell not run");
  assert.match(page, /<dd class="status-failed"><a href="#cell-3">failed at code cell 2<\/a><\/dd>/);
  assert.equal(page.slice(notRun).includes("output-error"), false, "a cell that did not run shows no error");
  assert.ok(fs.existsSync(path.join(out, "01-fails.ipynb")), "the executed notebook sits beside the page");
  // KaTeX's CSS states its version; it must be the version that rendered the math.
  const css = fs.readFileSync(path.join(out, "assets", "katex", "katex.min.css"), "utf8");
  assert.ok(css.includes(`content:"${katex.version}"`), `assets/katex/katex.min.css is not KaTeX ${katex.version}`);
  assert.ok(fs.existsSync(path.join(out, "assets", "katex", "fonts", "KaTeX_Main-Regular.woff2")));
  const firstOutput = () => readNotebook(path.join(out, "01-fails.ipynb")).cells[1]?.outputs?.[0];
  assert.deepEqual(firstOutput(), { output_type: "stream", name: "stdout", text: "before the failure, mode quick\n" });

  // --only runs one lesson and keeps the other lessons' rows in the index; --full reaches the kernel.
  const only = runStart(["--notebooks", notebooks, "--out", out, "--only", "01", "--full"]);
  assert.equal(only.status, 1, only.output);
  assert.match(only.output, /1 lesson in .* \(full mode\)/);
  assert.deepEqual(firstOutput(), { output_type: "stream", name: "stdout", text: "before the failure, mode full\n" });
  assert.equal(summaries(out)["01-fails"]?.mode, "full");
  assert.deepEqual(summaries(out)["00-works"], s["00-works"]);
  const none = runStart(["--notebooks", notebooks, "--out", out, "--only", "99"]);
  assert.equal(none.status, 2, none.output);
  assert.match(none.output, /no lesson .* matches "99"/);
});

for (const lesson of REPRODUCIBLE_LESSONS) {
  test(`${lesson}: two quick runs give identical outputs (timings and dates excluded)`, () => {
    const runs = ["first", "second"].map((name) => {
      const out = path.join(outBase, `repro-${lesson}-${name}`);
      fs.rmSync(out, { recursive: true, force: true });
      const run = runStart(["--quick", "--only", lesson, "--out", out]);
      assert.equal(run.status, 0, `${lesson} failed in the ${name} run:\n${run.output}`);
      return { out, summary: summaries(out)[lesson]!, print: fingerprint(readNotebook(path.join(out, `${lesson}.ipynb`))) };
    });
    const [a, b] = runs as [(typeof runs)[0], (typeof runs)[0]];
    assert.equal(a.summary.backend, b.summary.backend);
    assert.equal(a.summary.seed, b.summary.seed);
    assert.ok(
      a.print.cells.some((c) => c.outputs.some((o) => /\d\.\d/.test(o))),
      `${lesson}: no output holds a decimal number, so the comparison would prove nothing`,
    );
    assert.equal(firstDifference(a.print, b.print), null);
    assert.equal(a.summary.digest, b.summary.digest);
    assert.deepEqual(a.summary.metrics, b.summary.metrics);
  });
}
