/**
 * The widgets check's page: the JupyterLab check's set-up (a SessionContext through jupyter-server, one
 * OutputArea per code cell, JupyterLab's standard renderers and its Vega 5 renderer) plus ipywidgets 8's
 * own JavaScript, @jupyter-widgets/html-manager (with @jupyter-widgets/base 6 and controls 5, the packages
 * JupyterLab 4's widget extension loads), connected to the live kernel: the manager opens models from the
 * kernel's comm_open messages, and a renderer for application/vnd.jupyter.widget-view+json shows their
 * views in the OutputArea. The driver (clients/widgets.test.ts) moves the controls with the keyboard.
 */
import { shims } from "@jupyter-widgets/base";
import type { WidgetModel } from "@jupyter-widgets/base";
// The manager itself, not the package index, which also loads the embedding script (it needs webpack globals).
import { HTMLManager } from "@jupyter-widgets/html-manager/lib/htmlmanager";
import { SessionContext } from "@jupyterlab/apputils";
import { OutputArea, OutputAreaModel } from "@jupyterlab/outputarea";
import { IRenderMime, RenderMimeRegistry, standardRendererFactories } from "@jupyterlab/rendermime";
import { Kernel, KernelManager, KernelMessage, KernelSpecManager, ServerConnection, SessionManager } from "@jupyterlab/services";
import vega5 from "@jupyterlab/vega5-extension";
import type { JSONObject } from "@lumino/coreutils";
import { Panel, Widget } from "@lumino/widgets";
import type { ControlRecord, ServerInfo, WidgetCellRecord, WidgetsApi } from "./protocol";

const KERNEL = "aigc-lab";
const WIDGET_MIME = "application/vnd.jupyter.widget-view+json";

const errors: string[] = [];
const originalError = console.error.bind(console);
console.error = (...args: unknown[]) => {
  errors.push(args.map((a) => (a instanceof Error ? `${a.name}: ${a.message}` : String(a))).join(" "));
  originalError(...args);
};
window.addEventListener("error", (e) => errors.push(`uncaught: ${e.message}`));
window.addEventListener("unhandledrejection", (e) => errors.push(`unhandled rejection: ${String(e.reason)}`));

/** ipywidgets' HTML manager on a live kernel: comms through @jupyterlab/services, as JupyterLab's widget extension does. */
class KernelWidgetManager extends HTMLManager {
  constructor(private readonly kernel: Kernel.IKernelConnection) {
    super();
    // Output widgets render with the manager's registry: let it draw charts as the page does.
    this.renderMime.addFactory(vega5.rendererFactory, vega5.rank);
    kernel.registerCommTarget("jupyter.widget", async (comm, msg) => {
      await this.handle_comm_open(new shims.services.Comm(comm), msg);
    });
  }

  override async _create_comm(target: string, modelId?: string, data?: JSONObject, metadata?: JSONObject, buffers?: ArrayBuffer[] | ArrayBufferView[]): Promise<shims.services.Comm> {
    const comm = this.kernel.createComm(target, modelId);
    if (data || metadata) comm.open(data ?? {}, metadata, buffers);
    return new shims.services.Comm(comm);
  }

  override async _get_comm_info(): Promise<Record<string, unknown>> {
    const reply = await this.kernel.requestCommInfo({ target_name: "jupyter.widget" });
    return reply.content.status === "ok" ? reply.content.comms : {};
  }
}

/** The renderer of a widget-view output: the view of the model it names. */
class WidgetViewRenderer extends Panel implements IRenderMime.IRenderer {
  constructor(private readonly manager: KernelWidgetManager) {
    super();
    this.addClass("aigc-widget-view");
  }
  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const { model_id } = model.data[WIDGET_MIME] as { model_id: string };
    const view = await this.manager.create_view(await this.manager.get_model(model_id));
    this.addWidget(view.luminoWidget);
  }
}

let context: SessionContext | null = null;
let manager: KernelWidgetManager | null = null;
let registry: RenderMimeRegistry | null = null;
const cells = new Map<number, { area: OutputArea; box: HTMLElement; views: string[] }>();

async function open(server: ServerInfo, lesson: string): Promise<void> {
  document.body.textContent = "";
  const h = document.createElement("h2");
  h.textContent = `${lesson} with Jupyter widgets (ipywidgets 8 html-manager, kernel ${KERNEL})`;
  document.body.appendChild(h);
  const serverSettings = ServerConnection.makeSettings({ baseUrl: server.baseUrl, token: server.token, appendToken: true });
  const kernelManager = new KernelManager({ serverSettings });
  const specsManager = new KernelSpecManager({ serverSettings });
  await specsManager.ready;
  context = new SessionContext({ sessionManager: new SessionManager({ serverSettings, kernelManager }), specsManager, path: lesson, name: lesson, type: "notebook", kernelPreference: { name: KERNEL, autoStartDefault: false, shouldStart: true, canStart: true } });
  await context.initialize();
  await context.ready;
  const kernel = context.session?.kernel;
  if (!kernel || kernel.name !== KERNEL) throw new Error(`no ${KERNEL} kernel for ${lesson}`);
  await kernel.info;
  manager = new KernelWidgetManager(kernel);
  registry = new RenderMimeRegistry({ initialFactories: standardRendererFactories });
  registry.addFactory(vega5.rendererFactory, vega5.rank);
  const widgets = manager;
  registry.addFactory({ safe: false, mimeTypes: [WIDGET_MIME], createRenderer: () => new WidgetViewRenderer(widgets) }, 0);
  cells.clear();
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function textOf(data: Record<string, unknown>): string {
  const t = data["text/plain"];
  return (Array.isArray(t) ? t.join("") : typeof t === "string" ? t : "").slice(0, 200);
}

/** The controls of a widget-view output: the children of its box that have a description. */
async function controlsOf(modelId: string): Promise<ControlRecord[]> {
  const root = await manager!.get_model(modelId);
  const children = (root.get("children") as WidgetModel[] | undefined) ?? [];
  return children
    .filter((m) => m.get("_model_name") !== "OutputModel")
    .map((m) => ({ model: String(m.get("_model_name")), description: String(m.get("description") ?? ""), value: Number(m.get("value") ?? m.get("index")), min: Number(m.get("min") ?? 0), max: Number(m.get("max") ?? 0) }));
}

async function run(cell: number, source: string): Promise<WidgetCellRecord> {
  if (!context || !registry) throw new Error("open() first");
  const box = document.createElement("section");
  box.className = "cell";
  box.dataset["cell"] = String(cell);
  box.innerHTML = `<h3>cell ${cell}</h3>`;
  document.body.appendChild(box);
  const area = new OutputArea({ model: new OutputAreaModel({ trusted: true }), rendermime: registry });
  Widget.attach(area, box);
  const views: string[] = [];
  cells.set(cell, { area, box, views });
  const t0 = performance.now();
  const reply = await OutputArea.execute(source, area, context, { deletedCells: [], recordTiming: false, cellId: `cell-${cell}` });
  const status = (reply as KernelMessage.IExecuteReplyMsg | undefined)?.content.status ?? "no reply";
  const outputs: WidgetCellRecord["outputs"] = [];
  for (let i = 0; i < area.model.length; i++) {
    const out = area.model.get(i);
    const data = out.data as Record<string, unknown>;
    outputs.push({ outputType: out.type, mimeTypes: Object.keys(data), text: textOf(data) });
    const view = data[WIDGET_MIME] as { model_id?: string } | undefined;
    if (view?.model_id) views.push(view.model_id);
  }
  // Wait until every widget view is on the page (the views are made asynchronously).
  const deadline = Date.now() + 20_000;
  while (box.querySelectorAll(".aigc-widget-view .widget-output").length < views.length && Date.now() < deadline) await sleep(50);
  const controls = (await Promise.all(views.map(controlsOf))).flat();
  return { cell, status, ms: Math.round(performance.now() - t0), outputs, widgetViews: box.querySelectorAll(".aigc-widget-view .widget-output").length, controls, consoleErrors: errors.splice(0) };
}

/** The text/plain of what the cell's output widget model holds (the kernel's last rendering). */
async function outputModelText(cell: number): Promise<string> {
  const id = cells.get(cell)?.views[0];
  if (!id || !manager) return "";
  const children = ((await manager.get_model(id)).get("children") as WidgetModel[] | undefined) ?? [];
  const outputs = (children.find((m) => m.get("_model_name") === "OutputModel")?.get("outputs") ?? []) as { data?: Record<string, unknown>; text?: string }[];
  return outputs.map((o) => (o.data ? textOf(o.data) : String(o.text ?? ""))).join("\n");
}

/** What a cell's live output widget shows now: a hash of its DOM, the kind of thing drawn, the model's text. */
async function liveOutput(cell: number): Promise<{ hash: string; kind: string; text: string }> {
  const node = cells.get(cell)?.box.querySelector(".aigc-widget-view .widget-output");
  if (!node) return { hash: "", kind: "none", text: "" };
  const html = node.innerHTML;
  let h = 2166136261;
  for (let i = 0; i < html.length; i++) h = Math.imul(h ^ html.charCodeAt(i), 16777619);
  const kind = node.querySelector("img") ? "image" : node.querySelector("svg, canvas") ? "chart" : node.textContent?.trim() ? "text" : "empty";
  return { hash: (h >>> 0).toString(16), kind, text: (await outputModelText(cell)).slice(0, 160) };
}

/** The same for the cell's static outputs (everything but the widget view). */
function staticOutputs(cell: number): string {
  const box = cells.get(cell)?.box;
  if (!box) return "";
  return Array.from(box.querySelectorAll(".jp-OutputArea-output"))
    // Not the widget view, nor the outputs inside its output widget.
    .filter((n) => !n.closest(".aigc-widget-view") && !n.querySelector(".aigc-widget-view"))
    .map((n) => n.innerHTML.length + ":" + (n.textContent ?? "").slice(0, 60))
    .join("|");
}

async function close(): Promise<void> {
  await context?.shutdown();
  context?.dispose();
  context = null;
}

const api: WidgetsApi = { ready: true, open, run, liveOutput, staticOutputs, close, consoleErrors: () => errors.splice(0) };
(window as unknown as { aigcWidgets: WidgetsApi }).aigcWidgets = api;
