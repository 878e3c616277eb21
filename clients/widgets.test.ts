/**
 * Jupyter widgets in a real browser (`npm run test:clients`, needs Debian's python3-jupyter-server and
 * chromium): each lesson with `interact(` cells runs, in quick mode, through jupyter-server into
 * clients/lab/widgets-page.ts, where ipywidgets 8's own JavaScript (@jupyter-widgets/html-manager, base 6,
 * controls 5) opens the kernel's widget models over the comm protocol and draws their views in JupyterLab's
 * OutputArea. For every control of every interact cell the test presses an arrow key on the slider's handle
 * (noUiSlider's keyboard support, as a learner would) and waits until the live output widget shows something
 * else, while the cell's static rendering stays as it was. Results and screenshots: checks/out/widgets/.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import type { Page } from "puppeteer-core";
import { repoRoot } from "../kernel/kernelspec";
import { cellSource, readNotebook } from "../kernel/runner";
import { bundlePage, JupyterServer, launchChromium, missingTools, openPage, startJupyterServer } from "./lab/harness";
import type { WidgetCellRecord, WidgetsApi } from "./lab/protocol";

const root = repoRoot();
const notebooks = path.join(root, "notebooks");
const out = path.join(root, "checks", "out", "widgets");
const WIDGET_MIME = "application/vnd.jupyter.widget-view+json";
const LESSONS = fs
  .readdirSync(notebooks)
  .filter((f) => /^\d\d-.*\.ipynb$/.test(f) && fs.readFileSync(path.join(notebooks, f), "utf8").includes("await interact("))
  .sort();

let server: JupyterServer;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
let page: Page;
const pageProblems: string[] = [];
const moved: { lesson: string; cell: number; control: string; key: string; from: string; to: string; ms: number }[] = [];

const api = <T>(fn: (w: WidgetsApi, ...args: any[]) => T | Promise<T>, ...args: unknown[]): Promise<T> =>
  page.evaluate((src, a) => new Function("w", "a", `return (${src})(w, ...a)`)((globalThis as unknown as { aigcWidgets: WidgetsApi }).aigcWidgets, a), fn.toString(), args) as Promise<T>;

before(async () => {
  const missing = missingTools();
  if (missing) throw new Error(`${missing}; npm test needs neither`);
  fs.rmSync(out, { recursive: true, force: true });
  await bundlePage(path.join(out, "static"), { entry: "widgets-page.ts", name: "widgets", title: "aigc-lab widgets in ipywidgets 8's html-manager" });
  server = await startJupyterServer(root, path.join(out, "static"), { AIGC_MODE: "quick" });
  chromium = await launchChromium();
  page = await openPage(chromium.browser, server, pageProblems, { html: "widgets.html", global: "aigcWidgets" });
});

after(async () => {
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, "moved.json"), JSON.stringify(moved, null, 1) + "\n");
  await chromium?.close();
  if (server) {
    fs.writeFileSync(path.join(out, "jupyter-server.log"), server.log());
    await server.stop();
  }
});

/** Presses `key` on the handle of the slider labelled `description` in `cell`. */
async function pressOnSlider(cell: number, description: string, key: "ArrowRight" | "ArrowLeft"): Promise<void> {
  const handle = await page.evaluateHandle(
    (c, d) => {
      const sliders = Array.from(document.querySelectorAll(`section[data-cell="${c}"] .widget-slider`));
      return sliders.find((s) => s.querySelector(".widget-label")?.textContent === d)?.querySelector(".noUi-handle") ?? null;
    },
    cell,
    description,
  );
  const element = handle.asElement();
  assert.ok(element, `cell ${cell}: no slider handle labelled "${description}" on the page`);
  await (element as unknown as { focus(): Promise<void> }).focus();
  await page.keyboard.press(key);
}

/** The live output once the kernel's rendering and the page's drawing of it have both changed, of the same kind. */
async function waitForChange(cell: number, before: { hash: string; kind: string; text: string }, timeoutMs: number): Promise<{ hash: string; kind: string; text: string } | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const now = await api((w, c: number) => w.liveOutput(c), cell);
    // A chart is drawn asynchronously: it has changed once the new one is drawn.
    if (now.hash !== before.hash && now.text !== before.text && now.kind === before.kind) return now;
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

for (const file of LESSONS) {
  const lesson = file.replace(/\.ipynb$/, "");
  test(`widgets: ${lesson}: each interact cell shows its static rendering, then ipywidgets 8 controls; moving each redraws the live output`, async (t) => {
    const nb = readNotebook(path.join(notebooks, file));
    const code = nb.cells.map((c, i) => ({ cell: i + 1, type: c.cell_type, source: cellSource(c) })).filter((c) => c.type === "code");
    const last = Math.max(...code.filter((c) => c.source.includes("await interact(")).map((c) => c.cell));
    await api((w, s, l: string) => w.open(s, l), { baseUrl: server.baseUrl, token: server.token }, `notebooks/${file}`);
    const records: WidgetCellRecord[] = [];
    try {
      for (const c of code.filter((c) => c.cell <= last)) {
        const r = await api((w, n: number, s: string) => w.run(n, s), c.cell, c.source);
        records.push(r);
        assert.equal(r.status, "ok", `${lesson} cell ${c.cell}: ${JSON.stringify(r.outputs)}`);
        assert.deepEqual([...r.consoleErrors, ...pageProblems.splice(0)], [], `${lesson} cell ${c.cell}: console errors`);
        if (!c.source.includes("await interact(")) continue;
        const views = r.outputs.filter((o) => o.mimeTypes.includes(WIDGET_MIME));
        assert.equal(views.length, 1, `${lesson} cell ${c.cell}: one widget view`);
        assert.ok(views[0]!.mimeTypes.includes("text/plain"), "the widget view has a text/plain fallback");
        const firstStatic = r.outputs.findIndex((o) => o.outputType === "display_data" && !o.mimeTypes.includes(WIDGET_MIME));
        assert.ok(firstStatic >= 0 && firstStatic < r.outputs.indexOf(views[0]!), `${lesson} cell ${c.cell}: the static rendering comes before the controls`);
        assert.equal(r.widgetViews, 1, `${lesson} cell ${c.cell}: the widget view was not drawn`);
        assert.ok(r.controls.length > 0, `${lesson} cell ${c.cell}: no controls`);
        for (const control of r.controls) {
          // Let the current rendering finish drawing first (a chart draws asynchronously).
          await new Promise((r) => setTimeout(r, 500));
          const before = await api((w, n: number) => w.liveOutput(n), c.cell);
          assert.ok(["image", "chart", "text"].includes(before.kind), `${lesson} cell ${c.cell}: the live output shows ${before.kind}`);
          const staticBefore = await api((w, n: number) => w.staticOutputs(n), c.cell);
          const key = control.value >= control.max ? "ArrowLeft" : "ArrowRight";
          const t0 = Date.now();
          await pressOnSlider(c.cell, control.description, key);
          const after = await waitForChange(c.cell, before, 90_000);
          assert.ok(after, `${lesson} cell ${c.cell}: moving "${control.description}" (${key}) did not change the live output (${before.kind}: ${before.text})`);
          assert.equal(await api((w, n: number) => w.staticOutputs(n), c.cell), staticBefore, "the static rendering changed");
          moved.push({ lesson, cell: c.cell, control: control.description, key, from: before.text.slice(0, 60), to: after.text.slice(0, 60), ms: Date.now() - t0 });
          t.diagnostic(`${lesson} cell ${c.cell}: "${control.description}" ${key}: ${before.kind} changed in ${Date.now() - t0} ms (${after.text.slice(0, 60)})`);
        }
      }
      await page.screenshot({ path: path.join(out, `${lesson}.png`) as `${string}.png`, fullPage: true });
      assert.deepEqual([...(await api((w) => w.consoleErrors())), ...pageProblems.splice(0)], [], `${lesson}: console errors after moving the controls`);
    } finally {
      fs.mkdirSync(out, { recursive: true });
      fs.writeFileSync(path.join(out, `${lesson}.json`), JSON.stringify(records, null, 1) + "\n");
      await api((w) => w.close());
    }
  });
}

test("widgets: at least five lesson controls redraw their output in the browser", () => {
  assert.ok(moved.length >= 5, `only ${moved.length} controls moved: ${JSON.stringify(moved)}`);
});
