/**
 * What the lessons send, seen by the clients learners open them in, without running one (the clients
 * themselves are driven by `npm run test:clients`, clients/jupyterlab.test.ts):
 * - VS Code: every display bundle kernel-lib sends, put through VS Code's rules for choosing an output's
 *   MIME type (modelled below from its source), shows with a renderer VS Code has; a metric is text/plain
 *   only, with the number in the output's metadata where the report collector reads it.
 * - JupyterLab: a notebook saved from JupyterLab keeps the image/png its Vega renderer wrote beside each
 *   chart spec; the outputs digest ignores it, so such a notebook still passes the reproducibility check.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as lib from "kernel-lib";
import type { Output } from "../kernel/client";
import type { Notebook } from "../kernel/runner";
import { renderBundle } from "../scripts/report/html";
import { collectMetrics, fingerprint, isClientChartImage, METRIC_KEY, VEGALITE_MIME, WIDGET_VIEW_MIME } from "../scripts/report/outputs";

/**
 * VS Code's choice of the MIME type an output shows, as its source reads (microsoft/vscode):
 * 1. extensions/ipynb/src/deserializers.ts, `orderOfMimeTypes` and `sortOutputItemsBasedOnDisplayOrder`:
 *    an output's items are ordered application/vnd.* first, ..., text/plain last (others after all).
 * 2. src/vs/workbench/contrib/notebook/common/notebookCommon.ts, `NOTEBOOK_DISPLAY_ORDER` and
 *    `MimeTypeDisplayOrder.sort`: with the default (empty) `notebook.displayOrder` setting, every type is
 *    re-sorted by its index in NOTEBOOK_DISPLAY_ORDER, and a type not in it (index -1) comes first.
 * 3. src/vs/workbench/contrib/notebook/browser/services/notebookServiceImpl.ts, `getOutputMimeTypeInfo`
 *    and `findBestRenderers`: a type no renderer claims becomes RENDERER_NOT_AVAILABLE and moves last.
 * 4. src/vs/workbench/contrib/notebook/browser/viewModel/cellOutputViewModel.ts, `resolveMimeTypes`: the
 *    first type with a renderer is shown; with none, the first type, as "no renderer".
 */
const IPYNB_ORDER = [
  "application/vnd.*",
  "application/vdom.*",
  "application/geo+json",
  "application/x-nteract-model-debug+json",
  "text/html",
  "application/javascript",
  "image/gif",
  "text/latex",
  "text/markdown",
  "image/png",
  "image/svg+xml",
  "image/jpeg",
  "application/json",
  "text/plain",
];
const NOTEBOOK_DISPLAY_ORDER = ["application/json", "application/javascript", "text/html", "image/svg+xml", "text/latex", "text/markdown", "image/png", "image/jpeg", "text/plain"];

/** VS Code's built-in renderers: extensions/notebook-renderers/package.json, plus Markdown (markdown-language-features). */
const VSCODE_BUILTIN = new Set(["image/gif", "image/png", "image/jpeg", "image/svg+xml", "text/html", "application/javascript", "text/plain", "text/markdown"]);
/**
 * With the Jupyter extensions: Vega-Lite 5 (ms-toolsai.jupyter-renderers) and widget views (ms-toolsai.jupyter's
 * ipywidgets renderer, for any kernel with the comm target).
 */
const VSCODE_WITH_JUPYTER = new Set([...VSCODE_BUILTIN, VEGALITE_MIME, WIDGET_VIEW_MIME]);

export interface VsCodePick {
  /** The items in the order the ipynb extension gives them (step 1). */
  items: string[];
  shown: string;
  hasRenderer: boolean;
}

export function vscodePick(mimes: readonly string[], renderers: ReadonlySet<string>): VsCodePick {
  const ipynbIndex = (m: string) => {
    const i = IPYNB_ORDER.findIndex((p) => (p.endsWith(".*") ? m.startsWith(p.slice(0, -2)) : m.startsWith(p)));
    return i < 0 ? 100 : i;
  };
  const items = [...mimes].sort((a, b) => ipynbIndex(a) - ipynbIndex(b));
  const sorted = [...items].sort((a, b) => NOTEBOOK_DISPLAY_ORDER.indexOf(a) - NOTEBOOK_DISPLAY_ORDER.indexOf(b));
  const ranked = [...sorted.filter((m) => renderers.has(m)), ...sorted.filter((m) => !renderers.has(m))];
  const shown = ranked[0]!;
  return { items, shown, hasRenderer: renderers.has(shown) };
}

test("the VS Code model follows its source: vnd.* first in the ipynb order, unknown types first in the display order, unrenderable ones last", () => {
  // Step 1 alone: a private vnd type is the first item, text/plain the last (the order the issue worried about).
  assert.deepEqual(vscodePick(["text/plain", "application/vnd.x.private+json"], VSCODE_BUILTIN).items, ["application/vnd.x.private+json", "text/plain"]);
  // Steps 2-4: with no renderer for it, VS Code falls back to text/plain; with one, it shows the private type.
  assert.deepEqual(vscodePick(["text/plain", "application/vnd.x.private+json"], VSCODE_BUILTIN), { items: ["application/vnd.x.private+json", "text/plain"], shown: "text/plain", hasRenderer: true });
  assert.equal(vscodePick(["text/plain", "application/vnd.x.private+json"], new Set([...VSCODE_BUILTIN, "application/vnd.x.private+json"])).shown, "application/vnd.x.private+json");
  // A bundle of unrenderable types only is shown as "no renderer".
  assert.deepEqual(vscodePick(["application/vnd.x.private+json"], VSCODE_BUILTIN), { items: ["application/vnd.x.private+json"], shown: "application/vnd.x.private+json", hasRenderer: false });
  // SVG ranks ahead of PNG and text in NOTEBOOK_DISPLAY_ORDER.
  assert.equal(vscodePick(["text/plain", "image/png", "image/svg+xml"], VSCODE_BUILTIN).shown, "image/svg+xml");
});

interface Sent {
  what: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  update: boolean;
}

/** Every display bundle kernel-lib sends for the kinds of output the lessons make, captured through the kernel hooks. */
async function whatWeSend(): Promise<Sent[]> {
  const sent: Sent[] = [];
  let what = "";
  const hooks: lib.KernelHooks = {
    display: (content, update) => sent.push({ what, data: content.data, metadata: content.metadata ?? {}, update }),
    interruptRequested: false,
  };
  const global = globalThis as Record<symbol, unknown>;
  const before = global[lib.KERNEL_HOOKS];
  global[lib.KERNEL_HOOKS] = hooks;
  try {
    what = "metric";
    lib.reportMetric("validation loss", 1.2345, { unit: "nats" });
    what = "chart";
    await lib.showChart(lib.lineChart([{ x: 0, y: 1 }, { x: 1, y: 0.5 }], { x: "x", y: "y" }));
    what = "images";
    const images = lib.tf.zeros([2, 8, 8]);
    lib.showImages(images, { caption: "two blank images" });
    images.dispose();
    what = "markdown";
    lib.showMarkdown("**bold**");
    what = "progress";
    const progress = new lib.Progress({ total: 3, title: "training", textEvery: 0, chartEvery: 0 });
    for (let i = 1; i <= 3; i++) progress.update(i, { loss: 1 / i });
    await progress.finish();
    what = "widget: static rendering";
    const widgets = await lib.interact(({ k }) => `k = ${k}`, { k: new lib.IntSlider({ value: 1, min: 0, max: 3, description: "k" }) });
    widgets.close();
    for (const s of sent) if (s.data[WIDGET_VIEW_MIME] !== undefined) s.what = "widget: controls";
    for (const [label, value] of [
      ["result: tensor", lib.tf.tensor1d([1, 2, 3])],
      ["result: image", lib.asImage(lib.tf.zeros([1, 4, 4]))],
      ["result: chart", lib.lineChart([{ x: 0, y: 0 }], { x: "x", y: "y" })],
      ["result: value", { a: 1 }],
    ] as const) {
      const bundle = await lib.resultBundle(value);
      assert.ok(bundle, label);
      sent.push({ what: label, data: bundle.data, metadata: bundle.metadata, update: false });
    }
  } finally {
    global[lib.KERNEL_HOOKS] = before;
  }
  return sent;
}

test("VS Code: every bundle kernel-lib sends shows with a renderer, in stock VS Code and with the Jupyter renderers; no private MIME type is sent", async () => {
  const sent = await whatWeSend();
  const kinds = new Set(sent.map((s) => s.what));
  for (const k of ["metric", "chart", "images", "markdown", "progress", "widget: static rendering", "widget: controls", "result: tensor", "result: image", "result: chart", "result: value"]) assert.ok(kinds.has(k), `nothing captured for ${k}`);
  const expected: Record<string, [string, string]> = {
    metric: ["text/plain", "text/plain"],
    chart: ["image/svg+xml", VEGALITE_MIME],
    images: ["image/png", "image/png"],
    markdown: ["text/markdown", "text/markdown"],
    "widget: static rendering": ["text/plain", "text/plain"],
    "widget: controls": ["text/plain", WIDGET_VIEW_MIME],
    "result: tensor": ["text/plain", "text/plain"],
    "result: image": ["image/png", "image/png"],
    "result: chart": ["image/svg+xml", VEGALITE_MIME],
    "result: value": ["text/plain", "text/plain"],
  };
  for (const s of sent) {
    const mimes = Object.keys(s.data);
    const at = `${s.what} (${mimes.join(", ")})`;
    assert.ok(mimes.includes("text/plain"), `${at}: no text/plain for the simplest clients`);
    for (const m of mimes) assert.ok(VSCODE_WITH_JUPYTER.has(m), `${at}: VS Code has no renderer for ${m}`);
    const stock = vscodePick(mimes, VSCODE_BUILTIN);
    const jupyter = vscodePick(mimes, VSCODE_WITH_JUPYTER);
    assert.ok(stock.hasRenderer && jupyter.hasRenderer, `${at}: shown as "no renderer"`);
    const want = expected[s.what];
    if (want) assert.deepEqual([stock.shown, jupyter.shown], want, `${at}: what VS Code shows (stock, with the Jupyter renderers)`);
    else assert.ok(s.what === "progress" && [stock.shown, jupyter.shown].every((m) => m === "text/plain" || m === "image/svg+xml" || m === VEGALITE_MIME), `${at}: shows ${stock.shown} / ${jupyter.shown}`);
  }
});

test("a metric is a text/plain-only display with the number in its metadata, and the report collects it from there", async () => {
  const metric = (await whatWeSend()).filter((s) => s.what === "metric");
  assert.equal(metric.length, 1);
  const [m] = metric;
  assert.deepEqual(m!.data, { "text/plain": "validation loss: 1.2345 nats" });
  assert.deepEqual(m!.metadata, { [METRIC_KEY]: { name: "validation loss", value: 1.2345, unit: "nats" } });
  assert.equal(lib.METRIC_KEY, METRIC_KEY, "kernel-lib and the report must agree on the metadata key");

  const nb = notebookOf([[{ output_type: "display_data", data: m!.data, metadata: m!.metadata }, { output_type: "display_data", data: { "text/plain": "not a metric" }, metadata: {} }]]);
  assert.deepEqual(collectMetrics(nb), [{ name: "validation loss", value: 1.2345, unit: "nats" }]);
  // A bundle with the old private MIME type and no metadata is no longer a metric.
  assert.deepEqual(collectMetrics(notebookOf([[{ output_type: "display_data", data: { "application/vnd.aigc-lab.metric+json": { name: "x", value: 1 }, "text/plain": "x: 1" }, metadata: {} }]])), []);
  // The report page shows the metric as a metric.
  const html = renderBundle(m!.data, m!.metadata, { n: 0 });
  assert.match(html, /class="metric"><span class="metric-name">validation loss<\/span> <span class="metric-value">1\.234 nats<\/span>/);
});

function notebookOf(cells: Output[][]): Notebook {
  return {
    cells: cells.map((outputs) => ({ cell_type: "code", source: "", metadata: {}, outputs, execution_count: null })),
    metadata: {},
    nbformat: 4,
    nbformat_minor: 5,
  } as unknown as Notebook;
}

test("JupyterLab: the PNG its Vega renderer saves beside a chart spec does not change the outputs digest; other PNGs and the spec do", () => {
  const spec = { mark: "line", data: { values: [{ x: 1 }] } };
  const chart = (extra: Record<string, unknown>): Output => ({ output_type: "display_data", data: { [VEGALITE_MIME]: spec, "image/svg+xml": "<svg/>", "text/plain": "chart", ...extra }, metadata: {} });
  const asSent = fingerprint(notebookOf([[chart({})]])).digest;
  assert.equal(fingerprint(notebookOf([[chart({ "image/png": "iVBORw0KGgoAAAA" })]])).digest, asSent, "the saved chart PNG changed the digest");
  assert.equal(fingerprint(notebookOf([[chart({ "image/png": "c29tZXRoaW5nIGVsc2U=" })]])).digest, asSent, "a different chart PNG changed the digest");
  assert.notEqual(fingerprint(notebookOf([[chart({ [VEGALITE_MIME]: { ...spec, mark: "point" } })]])).digest, asSent, "a changed spec must change the digest");
  // An image the kernel sent (no spec beside it) is part of the run.
  const image = (png: string): Output => ({ output_type: "display_data", data: { "image/png": png, "text/plain": "[image]" }, metadata: {} });
  assert.notEqual(fingerprint(notebookOf([[image("AAAA")]])).digest, fingerprint(notebookOf([[image("BBBB")]])).digest);
  assert.equal(isClientChartImage("image/png", { "application/vnd.vega.v5+json": {}, "image/png": "" }), true);
  assert.equal(isClientChartImage("image/png", { "application/vnd.vegalite.v4+json": {}, "image/png": "" }), true);
  assert.equal(isClientChartImage("image/svg+xml", { [VEGALITE_MIME]: {}, "image/svg+xml": "" }), false);
  assert.equal(isClientChartImage("image/png", { "image/png": "" }), false);
});

test("a notebook as jupyter-server writes it (multiline strings as lists of lines) digests like the same notebook in memory", () => {
  const inMemory = notebookOf([[
    { output_type: "stream", name: "stdout", text: "step 1\nstep 2\n" },
    { output_type: "display_data", data: { "text/plain": "a\nb", "image/svg+xml": "<svg>\n</svg>", [VEGALITE_MIME]: { values: ["x\n", "y"] } }, metadata: {} },
  ]]);
  const onDisk = notebookOf([[
    { output_type: "stream", name: "stdout", text: ["step 1\n", "step 2\n"] as unknown as string },
    { output_type: "display_data", data: { "text/plain": ["a\n", "b"], "image/svg+xml": ["<svg>\n", "</svg>"], [VEGALITE_MIME]: { values: ["x\n", "y"] } }, metadata: {} },
  ]]);
  assert.equal(fingerprint(onDisk).digest, fingerprint(inMemory).digest);
  // A JSON value that is a list stays a list: joining it would hide a change.
  const json = (v: unknown) => notebookOf([[{ output_type: "display_data", data: { "application/json": v, "text/plain": "" }, metadata: {} }]]);
  assert.notEqual(fingerprint(json(["a", "b"])).digest, fingerprint(json(["ab"])).digest);
});
