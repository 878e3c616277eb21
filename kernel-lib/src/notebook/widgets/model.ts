/**
 * The kernel side of a Jupyter widget (ipywidgets 8's protocol, version 2.1.0): a model whose state is kept
 * in step with the front end's copy over a `jupyter.widget` comm: comm_open with {state, buffer_paths},
 * `update` both ways, `echo_update` back to the front ends, `request_state`, `custom` messages; the
 * `jupyter.widget.control` target's `request_states` (every live widget at once, for a page that reloads);
 * and models the front end opens. Without the kernel's comms a model is local: state and observers only.
 * Taught in notebooks/02-transformer.ipynb.
 */
import { sendDisplay } from "../display";
import { CommHandle, CommMessage, KernelComms, kernelComms, putBuffers, removeBuffers } from "./comm";

/** The widget message protocol this speaks (ipywidgets 8). */
export const WIDGET_PROTOCOL_VERSION = "2.1.0";
/** The MIME type of a widget's view in a display bundle. */
export const WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json";

/** One change of a state key, as observers see it. */
export interface Change {
  name: string;
  old: unknown;
  new: unknown;
  owner: WidgetModel;
}

/**
 * Checks a value the front end sent for `key`: returns the value to keep (possibly clamped), or throws
 * to refuse it (the front end is then sent the kernel's value back).
 */
export type Coerce = (key: string, value: unknown) => unknown;

const live = new Map<string, WidgetModel>();
const targetsRegistered = new WeakSet<KernelComms>();
let localIds = 0;

/** The live widget models by id (the comm id), for the control target and for tests. */
export function liveWidgets(): ReadonlyMap<string, WidgetModel> {
  return live;
}

/** The `"IPY_MODEL_<id>"` reference by which one widget's state names another. */
export function ref(model: WidgetModel): string {
  return `IPY_MODEL_${model.id}`;
}

/** A widget model: state synchronised with the front end, observers of its keys, custom messages. */
export class WidgetModel {
  readonly id: string;
  private readonly values: Record<string, unknown>;
  private readonly comm: CommHandle | null;
  private readonly observers = new Map<string, Set<(change: Change) => void>>();
  private readonly customHandlers = new Set<(content: unknown, buffers: Uint8Array[]) => void>();
  private closedFlag = false;

  /** `state` holds the six `_model_*` / `_view_*` keys and the rest; `comm` is set for a front end's model. */
  constructor(
    state: Record<string, unknown>,
    private readonly coerce: Coerce = (_k, v) => v,
    comm?: CommHandle,
  ) {
    this.values = { ...state };
    const comms = kernelComms();
    if (comm) this.comm = comm;
    else if (comms) {
      registerWidgetTargets(comms);
      const { state: json, bufferPaths, buffers } = removeBuffers(this.values);
      this.comm = comms.open("jupyter.widget", { state: json, buffer_paths: bufferPaths }, { metadata: { version: WIDGET_PROTOCOL_VERSION }, buffers });
    } else this.comm = null;
    this.id = this.comm?.commId ?? `local-${++localIds}`;
    if (this.comm) {
      this.comm.onMsg = (msg) => this.handleMessage(msg);
      this.comm.onClose = () => this.forget();
    }
    live.set(this.id, this);
  }

  /** True once closed (by either side). */
  get closed(): boolean {
    return this.closedFlag;
  }

  /** A copy of the whole state. */
  state(): Record<string, unknown> {
    return { ...this.values };
  }

  get(key: string): unknown {
    return this.values[key];
  }

  /** Sets keys here and on the front end (one `update` with the keys that changed), then tells observers. */
  set(patch: Record<string, unknown>): void {
    const changes = this.apply(patch);
    if (changes.length > 0) this.sendState(Object.fromEntries(changes.map((c) => [c.name, c.new])), "update");
    this.notify(changes);
  }

  /** Calls `handler` after each change of `name` (or of any key, for "*"); returns the function that stops it. */
  observe(name: string, handler: (change: Change) => void): () => void {
    const set = this.observers.get(name) ?? new Set();
    set.add(handler);
    this.observers.set(name, set);
    return () => void set.delete(handler);
  }

  /** Calls `handler` with the content of each `custom` message from the front end (a button's click). */
  onCustom(handler: (content: unknown, buffers: Uint8Array[]) => void): () => void {
    this.customHandlers.add(handler);
    return () => void this.customHandlers.delete(handler);
  }

  /** Sends a `custom` message to the front end's model. */
  sendCustom(content: unknown, buffers: Uint8Array[] = []): void {
    this.comm?.send({ method: "custom", content }, { buffers });
  }

  /** Shows the widget: a display_data with its view, and `text` for clients without widgets. */
  display(text: string): void {
    sendDisplay({ data: { [WIDGET_VIEW_MIME]: { model_id: this.id, version_major: 2, version_minor: 1 }, "text/plain": text }, metadata: {} });
  }

  /** Closes the comm; the front end's views go. */
  close(): void {
    if (this.closedFlag) return;
    this.comm?.close();
    this.forget();
  }

  private forget(): void {
    this.closedFlag = true;
    live.delete(this.id);
  }

  private apply(patch: Record<string, unknown>): Change[] {
    const changes: Change[] = [];
    for (const [name, value] of Object.entries(patch)) {
      const old = this.values[name];
      if (sameValue(old, value)) continue;
      this.values[name] = value;
      changes.push({ name, old, new: value, owner: this });
    }
    return changes;
  }

  private notify(changes: Change[]): void {
    for (const change of changes) {
      for (const handler of [...(this.observers.get(change.name) ?? []), ...(this.observers.get("*") ?? [])]) {
        try {
          handler(change);
        } catch (e) {
          // One failing observer must not stop the others, nor the kernel's comm handling.
          console.error(`widget ${this.id}: an observer of ${change.name} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        }
      }
    }
  }

  private sendState(state: Record<string, unknown>, method: "update" | "echo_update"): void {
    if (!this.comm) return;
    const split = removeBuffers(state);
    this.comm.send({ method, state: split.state, buffer_paths: split.bufferPaths }, { buffers: split.buffers });
  }

  /** A message from the front end's model. */
  private handleMessage(msg: CommMessage): void {
    const method = msg.data["method"];
    if (method === "request_state") return this.sendState(this.values, "update");
    if (method === "custom") {
      for (const h of this.customHandlers) h(msg.data["content"], msg.buffers);
      return;
    }
    if (method !== "update") throw new TypeError(`widget ${this.id}: unknown method ${JSON.stringify(method)}`);
    const incoming = msg.data["state"];
    if (!incoming || typeof incoming !== "object" || Array.isArray(incoming)) throw new TypeError(`widget ${this.id}: an update without a state object`);
    const state = { ...(incoming as Record<string, unknown>) };
    putBuffers(state, msg.data["buffer_paths"], msg.buffers);
    // 1) keep what passes the model's checks; 2) echo it to every front end (2.1.0's echo_update, whose
    // parent is this message, so the sender recognises its own change); 3) send back the kernel's value
    // of what was refused or changed; 4) tell observers.
    const accepted: Record<string, unknown> = {};
    const corrected: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(state)) {
      if (key.startsWith("_model_") || key.startsWith("_view_") || !(key in this.values)) continue;
      try {
        const kept = this.coerce(key, value);
        accepted[key] = kept;
        if (!sameValue(kept, value)) corrected[key] = kept;
      } catch {
        corrected[key] = this.values[key];
      }
    }
    if (Object.keys(accepted).length > 0) this.sendState(accepted, "echo_update");
    const changes = this.apply(accepted);
    if (Object.keys(corrected).length > 0) this.sendState(corrected, "update");
    this.notify(changes);
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array || b instanceof Uint8Array) return false;
  return typeof a === "object" && typeof b === "object" && JSON.stringify(a) === JSON.stringify(b);
}

/** `state` of every live widget, keyed by id, with buffer paths that start at the id (`update_states`). */
function allStates(): { data: Record<string, unknown>; buffers: Uint8Array[] } {
  const states: Record<string, unknown> = {};
  for (const [id, w] of live) {
    const s = w.state();
    states[id] = { model_name: s["_model_name"], model_module: s["_model_module"], model_module_version: s["_model_module_version"], state: s };
  }
  const split = removeBuffers(states);
  return { data: { method: "update_states", states: split.state, buffer_paths: split.bufferPaths }, buffers: split.buffers };
}

/** Registers `jupyter.widget` (models the front end opens) and `jupyter.widget.control` once per kernel. */
export function registerWidgetTargets(comms: KernelComms): void {
  if (targetsRegistered.has(comms)) return;
  targetsRegistered.add(comms);
  comms.registerTarget("jupyter.widget", (comm, msg) => {
    const state = msg.data["state"];
    if (!state || typeof state !== "object" || typeof (state as Record<string, unknown>)["_model_name"] !== "string") {
      throw new TypeError(`comm_open to jupyter.widget without a state naming _model_name`);
    }
    const copy = { ...(state as Record<string, unknown>) };
    putBuffers(copy, msg.data["buffer_paths"], msg.buffers);
    new WidgetModel(copy, undefined, comm);
  });
  comms.registerTarget("jupyter.widget.control", (comm) => {
    comm.onMsg = (msg) => {
      if (msg.data["method"] !== "request_states") throw new TypeError(`jupyter.widget.control: unknown method ${JSON.stringify(msg.data["method"])}`);
      const { data, buffers } = allStates();
      comm.send(data, { buffers });
    };
  });
}
