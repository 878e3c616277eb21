/**
 * kernel-lib's widgets (kernel-lib/src/notebook/widgets/) against a fake front end on fake kernel comms:
 * the ipywidgets 8 messages each control sends (comm_open with state and buffer_paths, layout and style
 * first), echo_update of a front end's change, a clamped or refused value sent back, request_state, the
 * control target's update_states, binary buffers both ways, a button's click, a bad message refused; and
 * `interact`: the static first rendering, a redraw per change (debounced), and no tensor growth over
 * 1,000 slider events. The same protocol over real ZeroMQ: checks/kernel-comms.test.ts.
 * Run: npx tsc -b && node --test build/checks/widgets.test.js
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import { asImage, Button, Checkbox, CommHandle, CommMessage, Dropdown, FloatSlider, interact, IntSlider, KernelComms, liveWidgets, putBuffers, removeBuffers, tf, WidgetModel, WIDGET_VIEW_MIME } from "kernel-lib";

interface Sent {
  type: "comm_open" | "comm_msg" | "comm_close";
  commId: string;
  target?: string;
  data: Record<string, any>;
  metadata: Record<string, unknown>;
  buffers: Uint8Array[];
}

/** The kernel's comm hooks with a scripted front end: records what is sent, delivers what the test sends. */
class FakeFrontEnd implements KernelComms {
  readonly sent: Sent[] = [];
  readonly displays: Record<string, unknown>[] = [];
  private readonly comms = new Map<string, CommHandle>();
  readonly targets = new Map<string, (comm: CommHandle, msg: CommMessage) => void>();
  private n = 0;

  open(targetName: string, data: Record<string, unknown>, options: { metadata?: Record<string, unknown>; buffers?: Uint8Array[]; commId?: string } = {}): CommHandle {
    const comm = this.handle(options.commId ?? `comm-${++this.n}`, targetName);
    this.sent.push({ type: "comm_open", commId: comm.commId, target: targetName, data, metadata: options.metadata ?? {}, buffers: options.buffers ?? [] });
    return comm;
  }
  registerTarget(targetName: string, onOpen: (comm: CommHandle, msg: CommMessage) => void): void {
    this.targets.set(targetName, onOpen);
  }
  openIds(): string[] {
    return [...this.comms.keys()];
  }
  private handle(commId: string, targetName: string): CommHandle {
    const sent = this.sent;
    const comms = this.comms;
    const comm: CommHandle = {
      commId,
      targetName,
      send: (data, o = {}) => void sent.push({ type: "comm_msg", commId, data, metadata: o.metadata ?? {}, buffers: o.buffers ?? [] }),
      close: (data = {}) => {
        comms.delete(commId);
        sent.push({ type: "comm_close", commId, data, metadata: {}, buffers: [] });
      },
      onMsg: null,
      onClose: null,
    };
    comms.set(commId, comm);
    return comm;
  }
  /** A comm_msg from the front end; returns its msg_id. */
  message(commId: string, data: Record<string, unknown>, buffers: Uint8Array[] = []): string {
    const header = { msg_id: randomUUID(), msg_type: "comm_msg" };
    const comm = this.comms.get(commId);
    if (!comm) throw new Error(`no comm ${commId}`);
    comm.onMsg?.({ data, metadata: {}, buffers, header });
    return header.msg_id;
  }
  /** A comm_open from the front end to `target`. */
  openFromFrontEnd(target: string, data: Record<string, unknown>, buffers: Uint8Array[] = []): CommHandle {
    const comm = this.handle(`fe-${++this.n}`, target);
    const onOpen = this.targets.get(target);
    if (!onOpen) throw new Error(`no target ${target}`);
    onOpen(comm, { data, metadata: {}, buffers, header: { msg_id: randomUUID(), msg_type: "comm_open" } });
    return comm;
  }
  since(i: number): Sent[] {
    return this.sent.slice(i);
  }
}

const fe = new FakeFrontEnd();
(globalThis as Record<symbol, unknown>)[Symbol.for("aigc-lab.kernel")] = {
  display: (content: { data: Record<string, unknown> }) => void fe.displays.push(content.data),
  interruptRequested: false,
  comms: fe,
};

test("a slider opens its layout and style models first, then itself, with ipywidgets 8's model names and protocol version", () => {
  const from = fe.sent.length;
  const s = new IntSlider({ value: 3, min: 1, max: 9, description: "k" });
  const opens = fe.since(from);
  assert.deepEqual(opens.map((m) => [m.type, m.data.state._model_name]), [["comm_open", "SliderStyleModel"], ["comm_open", "LayoutModel"], ["comm_open", "IntSliderModel"]]);
  const [style, layout] = opens;
  const state = opens[2]!.data.state;
  assert.equal(opens[2]!.target, "jupyter.widget");
  assert.deepEqual(opens[2]!.metadata, { version: "2.1.0" });
  assert.equal(state._model_module, "@jupyter-widgets/controls");
  assert.equal(state._model_module_version, "2.0.0");
  assert.equal(state._view_name, "IntSliderView");
  assert.equal(state.layout, `IPY_MODEL_${layout!.commId}`);
  assert.equal(state.style, `IPY_MODEL_${style!.commId}`);
  assert.equal(layout!.data.state._model_module, "@jupyter-widgets/base");
  assert.equal(style!.data.state._view_module, "@jupyter-widgets/base");
  assert.deepEqual([state.value, state.min, state.max, state.step, state.description], [3, 1, 9, 1, "k"]);
  assert.deepEqual(opens[2]!.data.buffer_paths, []);
  assert.equal(s.id, opens[2]!.commId);
});

test("a front end's update is echoed (echo_update), applied and observed; a kernel-side change goes out as update", () => {
  const s = new FloatSlider({ value: 0.8, min: 0.1, max: 2, description: "temperature" });
  const seen: [number, number][] = [];
  s.onChange((v, old) => seen.push([v, old]));
  const from = fe.sent.length;
  fe.message(s.id, { method: "update", state: { value: 1.5 }, buffer_paths: [] });
  assert.deepEqual(fe.since(from).map((m) => m.data), [{ method: "echo_update", state: { value: 1.5 }, buffer_paths: [] }]);
  assert.equal(s.value, 1.5);
  assert.deepEqual(seen, [[1.5, 0.8]]);
  const from2 = fe.sent.length;
  s.value = 0.5;
  assert.deepEqual(fe.since(from2).map((m) => m.data), [{ method: "update", state: { value: 0.5 }, buffer_paths: [] }]);
  s.value = 0.5;
  assert.equal(fe.sent.length, from2 + 1, "setting the same value again sends nothing");
});

test("a value out of range is clamped and the front end told; one of the wrong type is refused and the kernel's value sent back", () => {
  const s = new IntSlider({ value: 5, min: 0, max: 10 });
  let from = fe.sent.length;
  fe.message(s.id, { method: "update", state: { value: 99 }, buffer_paths: [] });
  assert.equal(s.value, 10);
  assert.deepEqual(fe.since(from).map((m) => m.data), [
    { method: "echo_update", state: { value: 10 }, buffer_paths: [] },
    { method: "update", state: { value: 10 }, buffer_paths: [] },
  ]);
  from = fe.sent.length;
  fe.message(s.id, { method: "update", state: { value: "lots", no_such_key: 1 }, buffer_paths: [] });
  assert.equal(s.value, 10);
  assert.deepEqual(fe.since(from).map((m) => m.data), [{ method: "update", state: { value: 10 }, buffer_paths: [] }]);
  assert.throws(() => fe.message(s.id, { method: "update", state: [1, 2] }), /an update without a state object/);
  assert.throws(() => fe.message(s.id, { method: "frobnicate" }), /unknown method "frobnicate"/);
  assert.throws(() => fe.message(s.id, { method: "update", state: { value: 1 }, buffer_paths: [["value"]] }), /buffer_paths names 1 paths for 0 buffers/);
});

test("request_state answers the whole state; the control target answers update_states for every live widget", () => {
  const d = new Dropdown({ options: ["layer 1", "layer 2"], value: "layer 2", description: "layer" });
  let from = fe.sent.length;
  fe.message(d.id, { method: "request_state" });
  const [reply] = fe.since(from);
  assert.equal(reply!.data.method, "update");
  assert.deepEqual([reply!.data.state._options_labels, reply!.data.state.index], [["layer 1", "layer 2"], 1]);
  const control = fe.openFromFrontEnd("jupyter.widget.control", {});
  from = fe.sent.length;
  fe.message(control.commId, { method: "request_states" });
  const [states] = fe.since(from);
  assert.equal(states!.data.method, "update_states");
  assert.deepEqual(Object.keys(states!.data.states).sort(), [...liveWidgets().keys()].sort());
  assert.equal(states!.data.states[d.id].model_name, "DropdownModel");
  assert.equal(states!.data.states[d.id].state.index, 1);
});

test("binary buffers: a Uint8Array in the state travels as a buffer with its path, and an incoming buffer is put back at its path", () => {
  const split = removeBuffers({ a: 1, b: new Uint8Array([1, 2]), c: [new Uint8Array([3]), 4], d: { e: new Uint8Array([5]) } });
  assert.deepEqual(split.state, { a: 1, c: [null, 4], d: {} });
  assert.deepEqual(split.bufferPaths, [["b"], ["c", 0], ["d", "e"]]);
  const back = structuredClone(split.state);
  putBuffers(back, split.bufferPaths, split.buffers);
  assert.deepEqual(back, { a: 1, b: new Uint8Array([1, 2]), c: [new Uint8Array([3]), 4], d: { e: new Uint8Array([5]) } });
  const from = fe.sent.length;
  const image = new WidgetModel({ _model_name: "ImageModel", _model_module: "@jupyter-widgets/controls", _model_module_version: "2.0.0", value: new Uint8Array([137, 80]) });
  const [open] = fe.since(from);
  assert.deepEqual([open!.data.buffer_paths, open!.buffers], [[["value"]], [new Uint8Array([137, 80])]]);
  const from2 = fe.sent.length;
  fe.message(image.id, { method: "update", state: {}, buffer_paths: [["value"]] }, [new Uint8Array([9, 9, 9])]);
  assert.deepEqual(image.get("value"), new Uint8Array([9, 9, 9]));
  assert.deepEqual(fe.since(from2).map((m) => [m.data.method, m.data.buffer_paths, m.buffers]), [["echo_update", [["value"]], [new Uint8Array([9, 9, 9])]]]);
});

test("a model the front end opens is kept with its state; one without _model_name is refused", () => {
  const comm = fe.openFromFrontEnd("jupyter.widget", { state: { _model_name: "IntSliderModel", _model_module: "@jupyter-widgets/controls", value: 2 }, buffer_paths: [] });
  const model = liveWidgets().get(comm.commId)!;
  assert.equal(model.get("value"), 2);
  assert.throws(() => fe.openFromFrontEnd("jupyter.widget", { state: { value: 1 } }), /without a state naming _model_name/);
});

test("a button's click (a custom message) runs its handlers; a checkbox refuses a non-boolean", () => {
  const b = new Button({ description: "resample" });
  let clicks = 0;
  b.onClick(() => clicks++);
  fe.message(b.id, { method: "custom", content: { event: "click" } });
  fe.message(b.id, { method: "custom", content: { event: "hover" } });
  assert.equal(clicks, 1);
  const c = new Checkbox({ value: true, description: "causal" });
  fe.message(c.id, { method: "update", state: { value: "yes" } });
  assert.equal(c.value, true);
});

test("interact: the first rendering as a normal output, then the widget view with a text fallback; a change redraws the output widget", async () => {
  const displays = fe.displays.length;
  const k = new IntSlider({ value: 2, min: 1, max: 5, description: "k" });
  const it = await interact(({ k }) => `k squared is ${k * k}`, { k }, { debounceMs: 0 });
  const shown = fe.displays.slice(displays);
  assert.equal(shown.length, 2);
  assert.equal(shown[0]!["text/plain"], "k squared is 4");
  assert.deepEqual(shown[1]![WIDGET_VIEW_MIME], { model_id: it.box.id, version_major: 2, version_minor: 1 });
  assert.match(String(shown[1]!["text/plain"]), /k = 2 \(1 to 5\)/);
  fe.message(k.id, { method: "update", state: { value: 3 } });
  await it.idle();
  const outputs = it.output.get("outputs") as { data: Record<string, unknown> }[];
  assert.equal(outputs[0]!.data["text/plain"], "k squared is 9");
  assert.equal(it.renders, 2);
  it.close();
});

test("interact: a burst of changes is debounced into one redraw, with the last value", async () => {
  const t = new FloatSlider({ value: 0, min: 0, max: 1, step: 0.01 });
  const it = await interact(({ t }) => t.toFixed(2), { t }, { debounceMs: 30 });
  for (let i = 1; i <= 20; i++) fe.message(t.id, { method: "update", state: { value: i / 20 } });
  await it.idle();
  assert.equal(it.renders, 2);
  assert.equal((it.output.get("outputs") as { data: Record<string, unknown> }[])[0]!.data["text/plain"], "1.00");
  it.close();
});

test("interact: no tensor growth over 1,000 slider events (each render's tensors disposed, the ones it only passes on kept)", async () => {
  await tf.setBackend("cpu");
  const kept = tf.randomUniform([1, 8, 8, 1]);
  const t = new IntSlider({ value: 0, min: 0, max: 100 });
  const it = await interact(({ t }) => (t % 2 === 0 ? asImage(tf.mul(tf.add(kept, t), 1 / 101)) : asImage(kept)), { t }, { debounceMs: 0 });
  const before = tf.memory().numTensors;
  for (let i = 1; i <= 1000; i++) {
    fe.message(t.id, { method: "update", state: { value: i % 101 } });
    await it.idle();
  }
  assert.equal(it.renders, 1001);
  assert.equal(tf.memory().numTensors, before, "tensors left behind by the renders");
  assert.equal(kept.isDisposed, false, "a tensor the render only passed on was disposed");
  it.close();
  kept.dispose();
});
