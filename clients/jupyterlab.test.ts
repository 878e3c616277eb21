/**
 * The lessons in JupyterLab's own front-end code (`npm run test:clients`, needs Debian's
 * python3-jupyter-server and chromium): every lesson's code cells run in order in quick mode through
 * jupyter-server and JupyterLab's OutputArea.execute, rendered by JupyterLab's standard renderers and its
 * Vega 5 renderer, in headless Chromium; then interrupt and restart through KernelConnection.interrupt()
 * and SessionContext.restartKernel(). Results, screenshots and the notebooks as JupyterLab would save
 * them land in checks/out/jupyterlab/. The page is clients/lab/page.ts, the plumbing clients/lab/harness.ts.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import type { Page } from "puppeteer-core";
import { repoRoot, specForThisCheckout } from "../kernel/kernelspec";
import { cellSource, Notebook, readNotebook, runNotebook } from "../kernel/runner";
import { fingerprint, firstDifference, VEGALITE_MIME } from "../scripts/report/outputs";
import { bundlePage, JupyterServer, launchChromium, missingTools, openPage, startJupyterServer } from "./lab/harness";
import type { CodeCell, InterruptRecord, LabApi, LessonRecord, ServerInfo } from "./lab/protocol";

const root = repoRoot();
const notebooks = path.join(root, "notebooks");
const out = path.join(root, "checks", "out", "jupyterlab");
/** Lessons whose JupyterLab run must digest exactly like a run through our own runner (kernel/runner.ts). */
const CROSS_CLIENT_LESSONS = ["00-tour"];
const LESSONS = fs
  .readdirSync(notebooks)
  .filter((f) => /^\d\d-.*\.ipynb$/.test(f))
  .sort();

let server: JupyterServer;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
let page: Page;
const pageProblems: string[] = [];
const summary: Record<string, unknown> = {};

before(async () => {
  const missing = missingTools();
  if (missing) throw new Error(`${missing}; npm test needs neither, .ci/run installs both`);
  fs.rmSync(out, { recursive: true, force: true });
  const t0 = Date.now();
  const bytes = await bundlePage(path.join(out, "static"));
  summary.bundle = { bytes, ms: Date.now() - t0 };
  // The server's root is the checkout: lessons open as notebooks/NN-name.ipynb (so their kernels start in
  // notebooks/, as in JupyterLab), and JupyterLab's saves go to checks/out/jupyterlab/saved/.
  fs.mkdirSync(path.join(out, "saved"), { recursive: true });
  server = await startJupyterServer(root, path.join(out, "static"), { AIGC_MODE: "quick" });
  chromium = await launchChromium();
  page = await openPage(chromium.browser, server, pageProblems);
});

after(async () => {
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
  await chromium?.close();
  if (server) {
    fs.writeFileSync(path.join(out, "jupyter-server.log"), server.log());
    await server.stop();
  }
});

function codeCells(nb: Notebook): CodeCell[] {
  const cells: CodeCell[] = [];
  nb.cells.forEach((c, i) => {
    if (c.cell_type === "code") cells.push({ cell: i + 1, source: cellSource(c) });
  });
  return cells;
}

async function runLesson(s: ServerInfo, lesson: string, cells: CodeCell[]): Promise<LessonRecord> {
  return page.evaluate((s2, l, c) => (globalThis as unknown as { aigcLab: LabApi }).aigcLab.runLesson(s2, l, c), s, lesson, cells);
}

/** Every problem with a lesson's run in JupyterLab, as sentences; empty when it passed. */
export function lessonProblems(record: LessonRecord, expectedCells: number): string[] {
  const problems: string[] = [];
  if (record.cells.length !== expectedCells) problems.push(`ran ${record.cells.length} of ${expectedCells} code cells`);
  for (const c of record.cells) {
    const at = `cell ${c.cell}`;
    if (c.status !== "ok") problems.push(`${at}: status ${c.status}: ${c.outputs.map((o) => o.text).join(" | ")}`);
    for (const e of c.consoleErrors) problems.push(`${at}: console error: ${e}`);
    c.outputs.forEach((o, j) => {
      const what = `${at} output ${j + 1} (${o.mimeTypes.join(", ")})`;
      if (o.outputType !== "stream" && o.outputType !== "error" && !o.chosen) problems.push(`${what}: no renderer for any of its MIME types`);
      if (o.renderer.length === 0) problems.push(`${what}: no jp-Rendered* widget in the output node`);
      if (o.mimeTypes.includes(VEGALITE_MIME) && o.chosen !== VEGALITE_MIME) problems.push(`${what}: the Vega-Lite spec was not what JupyterLab chose (${o.chosen})`);
      if (o.chartDrawn === false) problems.push(`${what}: the Vega renderer drew no svg or canvas`);
      if (o.imageShown === false) problems.push(`${what}: the image did not load`);
    });
    for (const d of c.displays) {
      if (d.updates > 0 && (d.finalStateOutputs !== d.created || d.staleOutputs !== 0))
        problems.push(`${at}: display ${d.displayId} (${d.updates} updates) left ${d.finalStateOutputs} outputs in its final state and ${d.staleOutputs} stale ones`);
    }
  }
  return problems;
}

/** The lesson with JupyterLab's outputs in place of the stored ones: what File > Save would write. */
function savedNotebook(nb: Notebook, record: LessonRecord): Notebook {
  const byCell = new Map(record.cells.map((c) => [c.cell, c.saved]));
  return {
    ...nb,
    cells: nb.cells.map((c, i) => (c.cell_type === "code" ? { ...c, outputs: (byCell.get(i + 1) ?? []) as typeof c.outputs } : c)),
  };
}

/** The same notebook without the image/png JupyterLab's Vega renderer adds beside a Vega-Lite spec. */
function withoutVegaPng(nb: Notebook): Notebook {
  return {
    ...nb,
    cells: nb.cells.map((c) => ({
      ...c,
      outputs: c.outputs?.map((o) => {
        if ((o.output_type !== "display_data" && o.output_type !== "execute_result") || o.data[VEGALITE_MIME] === undefined) return o;
        const { ["image/png"]: _png, ...rest } = o.data;
        return { ...o, data: rest };
      }),
    })),
  };
}

test("the JupyterLab check's judgement names every kind of problem (a cell not ok, no renderer, an undrawn chart, an unloaded image, a stale display, a console error, cells not run)", () => {
  const output = (o: Partial<LessonRecord["cells"][number]["outputs"][number]>) => ({ outputType: "display_data", mimeTypes: ["text/plain"], chosen: "text/plain", renderer: ["jp-RenderedText"], text: "", ...o });
  const good: LessonRecord = {
    lesson: "x",
    kernel: "aigc-lab",
    ms: 1,
    cells: [
      { cell: 1, status: "ok", ms: 1, outputs: [output({ mimeTypes: [VEGALITE_MIME, "text/plain"], chosen: VEGALITE_MIME, renderer: ["jp-RenderedVegaCommon5"], chartDrawn: true })], displays: [{ displayId: "p", created: 1, updates: 3, finalStateOutputs: 1, staleOutputs: 0 }], consoleErrors: [], saved: [] },
    ],
  };
  assert.deepEqual(lessonProblems(good, 1), []);
  const bad: LessonRecord = {
    ...good,
    cells: [
      {
        cell: 2,
        status: "error",
        ms: 1,
        outputs: [
          output({ mimeTypes: ["application/x-unknown"], chosen: null, renderer: [] }),
          output({ mimeTypes: [VEGALITE_MIME, "image/svg+xml"], chosen: "image/svg+xml", renderer: ["jp-RenderedSVG"] }),
          output({ mimeTypes: [VEGALITE_MIME], chosen: VEGALITE_MIME, renderer: ["jp-RenderedVegaCommon5"], chartDrawn: false }),
          output({ mimeTypes: ["image/png"], chosen: "image/png", renderer: ["jp-RenderedImage"], imageShown: false }),
        ],
        displays: [{ displayId: "p", created: 1, updates: 2, finalStateOutputs: 1, staleOutputs: 1 }],
        consoleErrors: ["TypeError: boom"],
        saved: [],
      },
    ],
  };
  const problems = lessonProblems(bad, 3).join("\n");
  for (const re of [/ran 1 of 3 code cells/, /cell 2: status error/, /console error: TypeError: boom/, /no renderer for any of its MIME types/, /no jp-Rendered\* widget/, /Vega-Lite spec was not what JupyterLab chose \(image\/svg\+xml\)/, /drew no svg or canvas/, /image did not load/, /display p \(2 updates\) left 1 outputs in its final state and 1 stale/])
    assert.match(problems, re);
});

for (const file of LESSONS) {
  const lesson = file.replace(/\.ipynb$/, "");
  test(`JupyterLab: ${lesson} runs cell by cell in quick mode, every output rendered, charts drawn by the Vega 5 renderer, progress in place, no console errors`, async (t) => {
    const nb = readNotebook(path.join(notebooks, file));
    const cells = codeCells(nb);
    const serverInfo = { baseUrl: server.baseUrl, token: server.token };
    const record = await runLesson(serverInfo, `notebooks/${file}`, cells);
    fs.writeFileSync(path.join(out, `${lesson}.json`), JSON.stringify({ ...record, cells: record.cells.map(({ saved: _s, ...c }) => c) }, null, 2) + "\n");
    const saved = savedNotebook(nb, record);
    const savedPath = await page.evaluate(
      (s2, p, c) => (globalThis as unknown as { aigcLab: LabApi }).aigcLab.saveNotebook(s2, p, c),
      serverInfo,
      `checks/out/jupyterlab/saved/${file}`,
      saved as unknown,
    );
    const onDisk = readNotebook(path.join(root, savedPath));
    await page.screenshot({ path: path.join(out, `${lesson}.png`) as `${string}.png`, fullPage: true });

    const outputs = record.cells.flatMap((c) => c.outputs);
    const renderers = [...new Set(outputs.map((o) => `${o.chosen ?? o.outputType} -> ${o.renderer.join(" ")}`))].sort();
    const charts = outputs.filter((o) => o.chartDrawn !== undefined);
    const lessonSummary = {
      ms: record.ms,
      cells: record.cells.length,
      statuses: [...new Set(record.cells.map((c) => c.status))],
      outputs: outputs.length,
      charts: charts.length,
      chartsDrawn: charts.filter((o) => o.chartDrawn).length,
      pngWrittenBack: charts.filter((o) => o.pngWrittenBack).length,
      images: outputs.filter((o) => o.imageShown !== undefined).length,
      imagesShown: outputs.filter((o) => o.imageShown).length,
      displaysUpdatedInPlace: record.cells.flatMap((c) => c.displays).filter((d) => d.updates > 0).length,
      consoleErrors: record.cells.reduce((n, c) => n + c.consoleErrors.length, 0),
      renderers,
    };
    summary[lesson] = lessonSummary;
    t.diagnostic(`${lesson}: ${JSON.stringify(lessonSummary)}`);

    const problems = [...lessonProblems(record, cells.length), ...pageProblems.splice(0)];
    assert.deepEqual(problems, [], `${lesson} in JupyterLab:\n  ${problems.join("\n  ")}`);
    assert.ok(charts.length > 0 && lessonSummary.chartsDrawn === charts.length, `${lesson}: no chart drawn by the Vega renderer`);
    // The notebook as saved (with the PNG the Vega renderer wrote beside each spec, multiline strings as
    // jupyter-server writes them) digests like the outputs the kernel sent.
    assert.ok(lessonSummary.pngWrittenBack > 0, `${lesson}: JupyterLab wrote no chart PNG, so the saved-notebook check checks nothing`);
    const digest = fingerprint(withoutVegaPng(saved)).digest;
    assert.equal(fingerprint(saved).digest, digest, `${lesson}: the saved PNG of a chart changed the outputs digest`);
    assert.equal(fingerprint(onDisk).digest, digest, `${lesson}: the notebook saved through jupyter-server digests differently: ${firstDifference(fingerprint(onDisk), fingerprint(saved))}`);
    summary[lesson] = { ...lessonSummary, digest };
    if (CROSS_CLIENT_LESSONS.includes(lesson)) {
      // The same lesson through our own runner: the two clients must agree output for output.
      const oursPath = path.join(out, "runner", file);
      const ours = await runNotebook({ notebook: path.join(notebooks, file), outPath: oursPath, spec: specForThisCheckout(root), env: { AIGC_MODE: "quick" } });
      assert.ok(ours.ok, `${lesson}: our own runner failed at cell ${ours.failed?.cell}`);
      const diff = firstDifference(fingerprint(readNotebook(oursPath)), fingerprint(onDisk));
      assert.equal(diff, null, `${lesson}: JupyterLab's saved notebook and our runner's differ: ${diff}`);
    }
  });
}

test("JupyterLab: interrupting a training cell through KernelConnection.interrupt() fails it with Interrupted, the next cell runs, restart gives a fresh namespace", async (t) => {
  const r: InterruptRecord = await page.evaluate(
    (s) => (globalThis as unknown as { aigcLab: LabApi }).aigcLab.interruptAndRestart(s),
    { baseUrl: server.baseUrl, token: server.token },
  );
  summary.interrupt = r;
  t.diagnostic(JSON.stringify(r));
  await page.screenshot({ path: path.join(out, "interrupt-and-restart.png") as `${string}.png`, fullPage: true });
  assert.ok(r.training.progressSeen, "the training cell never showed its progress display, so it was not training when interrupted");
  assert.equal(r.training.status, "error", `the training cell was not stopped: ${JSON.stringify(r.training)}`);
  assert.deepEqual(r.training.errorNames, ["Interrupted"], "the training cell's error output");
  assert.deepEqual(r.after, { status: "ok", text: "42" }, "the cell after the interrupt");
  assert.deepEqual(r.beforeRestart, { status: "ok", text: "41" }, "the name before the restart");
  assert.equal(r.afterRestart.status, "error", `after the restart the old name still resolved: ${r.afterRestart.text}`);
  assert.match(r.afterRestart.text, /marker/, "the error after the restart names the missing name");
  assert.deepEqual([...r.consoleErrors, ...pageProblems.splice(0)], [], "console errors");
});
