/**
 * The JupyterLab check's page: JupyterLab's own front-end packages, bundled by esbuild and run in
 * Chromium, drive the aigc-lab kernel through jupyter-server the way JupyterLab's notebook does: a
 * SessionContext (@jupyterlab/apputils) on the lesson's path, one OutputArea (@jupyterlab/outputarea)
 * per code cell executed with OutputArea.execute, and a RenderMimeRegistry with JupyterLab's standard
 * renderers (@jupyterlab/rendermime) plus its Vega 5 renderer (@jupyterlab/vega5-extension). What each
 * cell showed is read back from the OutputArea's model and DOM (see protocol.ts). The driver is
 * clients/jupyterlab.test.ts.
 */
import { SessionContext } from "@jupyterlab/apputils";
import { OutputArea, OutputAreaModel } from "@jupyterlab/outputarea";
import { RenderMimeRegistry, standardRendererFactories } from "@jupyterlab/rendermime";
import { ContentsManager, KernelManager, KernelMessage, KernelSpecManager, ServerConnection, SessionManager } from "@jupyterlab/services";
import vega5 from "@jupyterlab/vega5-extension";
import { Widget } from "@lumino/widgets";
import type { CellRecord, CodeCell, DisplayRecord, InterruptRecord, LabApi, LessonRecord, OutputRecord, ServerInfo } from "./protocol";

const KERNEL = "aigc-lab";
const VEGA_MIMES = new Set(vega5.rendererFactory.mimeTypes);

/** console.error calls and uncaught errors since the last take(). */
const errors: string[] = [];
const originalError = console.error.bind(console);
/**
 * What @jupyterlab/services logs for each widget model the kernel opens when, as on this page, no widget
 * manager registered the `jupyter.widget` comm target (JupyterLab without its widgets extension does the
 * same for any kernel's widgets): expected here, where a widget cell must show its static rendering.
 */
const NO_WIDGET_MANAGER = [/^Exception opening new comm$/, /^Error: Object 'jupyter\.widget' not found in registry$/];
console.error = (...args: unknown[]) => {
  const text = args.map((a) => (a instanceof Error ? `${a.name}: ${a.message}` : String(a))).join(" ");
  if (!NO_WIDGET_MANAGER.some((re) => re.test(text))) errors.push(text);
  originalError(...args);
};
window.addEventListener("error", (e) => errors.push(`uncaught: ${e.message}`));
window.addEventListener("unhandledrejection", (e) => errors.push(`unhandled rejection: ${String(e.reason)}`));
const takeErrors = (): string[] => errors.splice(0, errors.length);

function rendermime(): RenderMimeRegistry {
  const registry = new RenderMimeRegistry({ initialFactories: standardRendererFactories });
  registry.addFactory(vega5.rendererFactory, vega5.rank);
  return registry;
}

function settings(server: ServerInfo): ServerConnection.ISettings {
  return ServerConnection.makeSettings({ baseUrl: server.baseUrl, token: server.token, appendToken: true });
}

function managers(server: ServerInfo) {
  const serverSettings = settings(server);
  const kernelManager = new KernelManager({ serverSettings });
  return {
    sessionManager: new SessionManager({ serverSettings, kernelManager }),
    specsManager: new KernelSpecManager({ serverSettings }),
    kernelManager,
  };
}

async function openSession(server: ServerInfo, path: string): Promise<SessionContext> {
  const m = managers(server);
  await m.specsManager.ready;
  const context = new SessionContext({ ...m, path, name: path, type: "notebook", kernelPreference: { name: KERNEL, autoStartDefault: false, shouldStart: true, canStart: true } });
  await context.initialize();
  await context.ready;
  const kernel = context.session?.kernel;
  if (!kernel) throw new Error(`no kernel started for ${path} (is the ${KERNEL} kernelspec installed where jupyter-server looks?)`);
  if (kernel.name !== KERNEL) throw new Error(`jupyter-server started kernel ${kernel.name}, not ${KERNEL}`);
  await kernel.info;
  return context;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(ok: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) return false;
    await sleep(50);
  }
  return true;
}

function plainText(data: Record<string, unknown>): string | null {
  const t = data["text/plain"];
  if (typeof t === "string") return t;
  if (Array.isArray(t)) return t.join("");
  return null;
}

/** One cell: its own OutputArea in the page, executed as a notebook code cell, then read back. */
class CellRun {
  readonly model = new OutputAreaModel({ trusted: true });
  readonly area: OutputArea;
  private readonly iopub: KernelMessage.IIOPubMessage[] = [];

  constructor(
    private readonly context: SessionContext,
    private readonly registry: RenderMimeRegistry,
    readonly cell: number,
    host: HTMLElement,
  ) {
    this.area = new OutputArea({ model: this.model, rendermime: registry });
    const box = document.createElement("section");
    box.className = "cell";
    const label = document.createElement("h3");
    label.textContent = `cell ${cell}`;
    box.appendChild(label);
    host.appendChild(box);
    Widget.attach(this.area, box);
  }

  /** Runs the code; resolves to the execute_reply status. Calls onIopub for each message of this request. */
  async execute(code: string, onIopub?: (msg: KernelMessage.IIOPubMessage) => void): Promise<string> {
    const kernel = this.context.session?.kernel;
    if (!kernel) throw new Error("the session has no kernel");
    let msgId = "";
    const early: KernelMessage.IIOPubMessage[] = [];
    const listen = (_: unknown, msg: KernelMessage.IIOPubMessage) => {
      const parent = (msg.parent_header as Partial<KernelMessage.IHeader>).msg_id;
      if (!msgId) early.push(msg);
      else if (parent === msgId) {
        this.iopub.push(msg);
        onIopub?.(msg);
      }
    };
    kernel.iopubMessage.connect(listen);
    try {
      const done = OutputArea.execute(code, this.area, this.context, { deletedCells: [], recordTiming: false, cellId: `cell-${this.cell}` });
      msgId = this.area.future.msg.header.msg_id;
      for (const m of early) if ((m.parent_header as Partial<KernelMessage.IHeader>).msg_id === msgId) this.iopub.push(m);
      const reply = await done;
      return reply?.content.status ?? "no reply";
    } finally {
      kernel.iopubMessage.disconnect(listen);
    }
  }

  /** Waits for the renderers to finish (charts drawn, images loaded), then describes every output. */
  async read(): Promise<{ outputs: OutputRecord[]; displays: DisplayRecord[]; saved: unknown[] }> {
    const nodes = () => Array.from(this.area.node.querySelectorAll<HTMLElement>(":scope > .jp-OutputArea-child .jp-OutputArea-output"));
    const settled = () =>
      nodes().every((n) => {
        if (n.classList.contains("jp-RenderedVegaCommon5")) return !!n.querySelector("svg, canvas");
        const img = n.querySelector("img");
        return !img || img.complete;
      });
    await until(settled, 15_000);
    // The Vega renderer writes its PNG after drawing; give it the moment it needs.
    await until(() => this.vegaOutputs().every((i) => this.model.get(i).data["image/png"] !== undefined), 5_000);
    const dom = nodes();
    const outputs: OutputRecord[] = [];
    for (let i = 0; i < this.model.length; i++) {
      const out = this.model.get(i);
      const node = dom[i];
      const data = out.data as Record<string, unknown>;
      const renderer = node ? Array.from(node.classList).filter((c) => c.startsWith("jp-Rendered")) : [];
      const json = out.toJSON() as { output_type: string; text?: string | string[]; ename?: string; evalue?: string };
      const mimeTypes = Object.keys(data);
      const chosen = this.registry.preferredMimeType(out.data, out.trusted ? "any" : "ensure") ?? null;
      const record: OutputRecord = {
        outputType: out.type,
        mimeTypes,
        chosen,
        renderer,
        text: (plainText(data) ?? (Array.isArray(json.text) ? json.text.join("") : (json.text ?? `${json.ename ?? ""}: ${json.evalue ?? ""}`))).slice(0, 120),
      };
      if (chosen && VEGA_MIMES.has(chosen)) {
        record.chartDrawn = !!node?.querySelector("svg, canvas");
        record.pngWrittenBack = typeof data["image/png"] === "string";
      }
      if (chosen?.startsWith("image/") && chosen !== "image/svg+xml") {
        const img = node?.querySelector("img");
        record.imageShown = !!img && img.complete && img.naturalWidth > 0 && img.naturalHeight > 0;
      }
      outputs.push(record);
    }
    return { outputs, displays: this.displays(), saved: this.model.toJSON() };
  }

  private vegaOutputs(): number[] {
    const found: number[] = [];
    for (let i = 0; i < this.model.length; i++) {
      const chosen = this.registry.preferredMimeType(this.model.get(i).data, "any");
      if (chosen && VEGA_MIMES.has(chosen)) found.push(i);
    }
    return found;
  }

  /** For every display_id this cell sent: how many outputs hold its last state, and how many a stale one. */
  private displays(): DisplayRecord[] {
    const byId = new Map<string, { created: number; updates: number; states: string[] }>();
    for (const msg of this.iopub) {
      const type = msg.header.msg_type;
      if (type !== "display_data" && type !== "update_display_data") continue;
      const content = msg.content as KernelMessage.IDisplayDataMsg["content"];
      const id = (content.transient as { display_id?: string } | undefined)?.display_id;
      if (!id) continue;
      const entry = byId.get(id) ?? { created: 0, updates: 0, states: [] };
      if (type === "display_data") entry.created++;
      else entry.updates++;
      entry.states.push(plainText(content.data as Record<string, unknown>) ?? "");
      byId.set(id, entry);
    }
    const texts: string[] = [];
    for (let i = 0; i < this.model.length; i++) texts.push(plainText(this.model.get(i).data as Record<string, unknown>) ?? "");
    return [...byId].map(([displayId, e]) => {
      const last = e.states[e.states.length - 1]!;
      const stale = new Set(e.states.filter((s) => s !== last));
      return {
        displayId,
        created: e.created,
        updates: e.updates,
        finalStateOutputs: texts.filter((t) => t === last).length,
        staleOutputs: texts.filter((t) => stale.has(t)).length,
      };
    });
  }
}

function lessonHost(title: string): HTMLElement {
  document.body.textContent = "";
  const h = document.createElement("h2");
  h.textContent = title;
  document.body.appendChild(h);
  const host = document.createElement("main");
  document.body.appendChild(host);
  return host;
}

/** Runs a lesson's code cells in order in a fresh session; stops at the first cell that does not reply ok. */
async function runLesson(server: ServerInfo, lesson: string, cells: CodeCell[]): Promise<LessonRecord> {
  const t0 = performance.now();
  const host = lessonHost(`${lesson} (JupyterLab OutputArea, kernel ${KERNEL})`);
  const registry = rendermime();
  takeErrors();
  const context = await openSession(server, lesson);
  const records: CellRecord[] = [];
  try {
    for (const c of cells) {
      const run = new CellRun(context, registry, c.cell, host);
      const start = performance.now();
      const status = await run.execute(c.source);
      const read = await run.read();
      records.push({ cell: c.cell, status, ms: Math.round(performance.now() - start), ...read, consoleErrors: takeErrors() });
      if (status !== "ok") break;
    }
  } finally {
    await context.shutdown();
    context.dispose();
  }
  return { lesson, kernel: KERNEL, cells: records, ms: Math.round(performance.now() - t0) };
}

/** The text of a cell's outputs, joined. */
function outputText(run: CellRun): string {
  const parts: string[] = [];
  for (let i = 0; i < run.model.length; i++) {
    const j = run.model.get(i).toJSON() as { text?: string | string[]; data?: Record<string, unknown>; ename?: string; evalue?: string };
    if (j.data) parts.push(plainText(j.data) ?? "");
    else if (j.text !== undefined) parts.push(Array.isArray(j.text) ? j.text.join("") : j.text);
    else parts.push(`${j.ename}: ${j.evalue}`);
  }
  return parts.join("\n");
}

/** The training cell of the interrupt scenario: kernel-lib's train() on a small regression, far too many steps to finish. */
const TRAINING_CELL = [
  'import { tf, train } from "kernel-lib";',
  "const w = tf.variable(tf.zeros([32, 1]));",
  "const x = tf.randomNormal([256, 32]);",
  "const y = tf.randomNormal([256, 1]);",
  "const opt = tf.train.adam(1e-3);",
  'const run = await train({ steps: 10_000_000, title: "interrupt me", evalEvery: 1_000_000, step: () => opt.minimize(() => tf.mean(tf.square(tf.sub(tf.matMul(x, w), y))) as tf.Scalar, true) as tf.Scalar });',
].join("\n");

/**
 * Interrupt and restart through JupyterLab's API: KernelConnection.interrupt() while a training cell
 * runs (jupyter-server sends the kernelspec's signal), then the next cell, then restartKernel().
 */
async function interruptAndRestart(server: ServerInfo): Promise<InterruptRecord> {
  const host = lessonHost("interrupt and restart");
  const registry = rendermime();
  takeErrors();
  const context = await openSession(server, "notebooks/interrupt-and-restart.ipynb");
  let n = 0;
  const cell = () => new CellRun(context, registry, ++n, host);
  try {
    const define = cell();
    if ((await define.execute("const marker = 41;")) !== "ok") throw new Error(`defining marker failed: ${outputText(define)}`);

    const training = cell();
    let progressSeen = false;
    let shown!: () => void;
    const firstDisplay = new Promise<void>((r) => (shown = r));
    const t0 = performance.now();
    const running = training.execute(TRAINING_CELL, (msg) => {
      if (msg.header.msg_type === "display_data" || msg.header.msg_type === "update_display_data") {
        progressSeen = true;
        shown();
      }
    });
    await Promise.race([firstDisplay, sleep(60_000)]);
    // Let it train a moment with its progress display up, then interrupt as JupyterLab's stop button does.
    await sleep(1500);
    const kernel = context.session?.kernel;
    if (!kernel) throw new Error("the session lost its kernel");
    await kernel.interrupt();
    const trainingStatus = await running;
    const ms = Math.round(performance.now() - t0);
    const errorNames: string[] = [];
    for (let i = 0; i < training.model.length; i++) {
      const j = training.model.get(i).toJSON() as { output_type: string; ename?: string };
      if (j.output_type === "error") errorNames.push(j.ename ?? "");
    }

    const after = cell();
    const afterStatus = await after.execute("marker + 1");
    const before = cell();
    const beforeStatus = await before.execute("marker");

    await context.restartKernel();
    const restarted = cell();
    const restartedStatus = await restarted.execute("marker");
    return {
      training: { status: trainingStatus, errorNames, progressSeen, ms },
      after: { status: afterStatus, text: outputText(after) },
      beforeRestart: { status: beforeStatus, text: outputText(before) },
      afterRestart: { status: restartedStatus, text: outputText(restarted) },
      consoleErrors: takeErrors(),
    };
  } finally {
    await context.shutdown();
    context.dispose();
  }
}

/** Saves a notebook through jupyter-server's contents API, as JupyterLab's File > Save does; resolves to its server-side path. */
async function saveNotebook(server: ServerInfo, path: string, content: unknown): Promise<string> {
  const saved = await new ContentsManager({ serverSettings: settings(server) }).save(path, { type: "notebook", format: "json", content: content as never });
  return saved.path;
}

const api: LabApi = { runLesson, interruptAndRestart, saveNotebook, ready: true };
(window as unknown as { aigcLab: LabApi }).aigcLab = api;
