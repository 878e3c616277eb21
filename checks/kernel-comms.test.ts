/**
 * Comms over real ZeroMQ (kernel/comms.ts with kernel-lib's widgets on top): comm_info_request with and
 * without a target name; the control target before kernel-lib is loaded; a slider's comm_open on iopub, a front end's update echoed (echo_update whose
 * parent is the front end's message) and seen by the next cell; a kernel-side change sent as update;
 * binary buffers both ways; the control target's update_states; a comm_msg handled while a cell awaits
 * (no idle status in the middle of the cell); comm_close both ways; and wrong messages: an unknown comm
 * id, an unknown target (answered with comm_close), a comm_msg without comm_id (dropped, one log line).
 * Run: npx tsc -b && node --test build/checks/kernel-comms.test.js
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { KernelClient } from "../kernel/client";
import { repoRoot, specForThisCheckout } from "../kernel/kernelspec";
import { RawFrontEnd, RawMessage } from "./lib/raw-front-end";

const ROOT = repoRoot();
let dir: string;
let kernel: KernelClient;
let fe: RawFrontEnd;
let log = "";
let sliderId = "";

async function run(code: string): Promise<string> {
  const r = await kernel.execute(code, { timeoutMs: 60000 });
  assert.equal(r.status, "ok", `${code}: ${JSON.stringify(r.outputs)}`);
  const result = r.iopub.find((m) => m.header.msg_type === "execute_result");
  return String(result?.content.data["text/plain"] ?? "");
}

async function commInfo(content: Record<string, unknown> = {}): Promise<Record<string, { target_name: string }>> {
  const r = await kernel.request("shell", "comm_info_request", content);
  assert.equal(r.reply.header.msg_type, "comm_info_reply");
  assert.equal(r.reply.content.status, "ok");
  return r.reply.content.comms;
}

async function logOnce(pattern: RegExp, from: number): Promise<string[]> {
  const deadline = Date.now() + 5000;
  while (!pattern.test(log.slice(from)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return log.slice(from).split("\n").filter((l) => pattern.test(l));
}

const commMsgs = (m: RawMessage) => m.header.msg_type === "comm_msg";

before(async () => {
  const out = path.join(ROOT, "checks", "out");
  fs.mkdirSync(out, { recursive: true });
  dir = fs.mkdtempSync(path.join(out, "kernel-comms-"));
  kernel = await KernelClient.start({ spec: specForThisCheckout(ROOT), cwd: dir, startTimeoutMs: 60000, onProcessOutput: (t) => (log += t) });
  fe = new RawFrontEnd(kernel.connectionFile);
  // Until the subscription has joined, iopub messages are lost.
  for (let i = 0; i < 100 && fe.iopub.length === 0; i++) await run("0");
});

after(async () => {
  fe?.close();
  if (kernel?.alive) await kernel.shutdown();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test("before kernel-lib is loaded: comm_info lists no comms, and the control target answers that there are no widgets", async () => {
  assert.deepEqual(await commInfo(), {});
  assert.deepEqual(await commInfo({ target_name: "jupyter.widget" }), {});
  const from = fe.iopub.length;
  await fe.send("comm_open", { comm_id: "control-0", target_name: "jupyter.widget.control", data: {} });
  const id = await fe.send("comm_msg", { comm_id: "control-0", data: { method: "request_states" } });
  const [reply] = await fe.waitFor((m) => commMsgs(m) && m.parent.msg_id === id, { from });
  assert.deepEqual(reply?.content.data, { method: "update_states", states: {}, buffer_paths: [] });
  await fe.send("comm_close", { comm_id: "control-0", data: {} });
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(await commInfo(), {});
});

test("a slider made in a cell: comm_open on iopub (parent: the cell), a widget-view display with text/plain, listed by comm_info", async () => {
  const from = fe.iopub.length;
  const r = await kernel.execute('import { IntSlider } from "kernel-lib";\nconst s = new IntSlider({ value: 3, min: 0, max: 10, description: "k" });\ns.display("k = 3");\ns.id', { timeoutMs: 120000 });
  assert.equal(r.status, "ok", JSON.stringify(r.outputs));
  sliderId = JSON.parse(String(r.iopub.find((m) => m.header.msg_type === "execute_result")!.content.data["text/plain"]).replace(/'/g, '"'));
  // This front end's iopub socket is not the client's: wait for the messages to reach it too.
  const cellId = r.reply.parent_header.msg_id!;
  const opens = await fe.waitFor((m) => m.header.msg_type === "comm_open" && m.parent.msg_id === cellId, { from, count: 3 });
  assert.equal(opens.length, 3, "layout, style and slider");
  const slider = opens.find((m) => m.content.comm_id === sliderId)!;
  assert.equal(slider.content.target_name, "jupyter.widget");
  assert.deepEqual(slider.metadata, { version: "2.1.0" });
  assert.equal(slider.content.data.state._model_name, "IntSliderModel");
  const display = r.iopub.find((m) => m.header.msg_type === "display_data")!;
  assert.deepEqual(display.content.data["application/vnd.jupyter.widget-view+json"], { model_id: sliderId, version_major: 2, version_minor: 1 });
  assert.equal(display.content.data["text/plain"], "k = 3");
  const all = await commInfo();
  assert.equal(all[sliderId]?.target_name, "jupyter.widget");
  assert.equal(Object.keys(all).length, 3);
  assert.deepEqual(Object.keys(await commInfo({ target_name: "jupyter.widget" })).sort(), Object.keys(all).sort());
  assert.deepEqual(await commInfo({ target_name: "no.such.target" }), {});
});

test("a front end's update: echo_update with the front end's message as parent, inside busy/idle; the next cell sees the value", async () => {
  const from = fe.iopub.length;
  const id = await fe.send("comm_msg", { comm_id: sliderId, data: { method: "update", state: { value: 7 }, buffer_paths: [] } });
  const [echo] = await fe.waitFor((m) => commMsgs(m) && m.parent.msg_id === id, { from });
  assert.deepEqual(echo?.content, { comm_id: sliderId, data: { method: "echo_update", state: { value: 7 }, buffer_paths: [] } });
  const statuses = (await fe.waitFor((m) => m.header.msg_type === "status" && m.parent.msg_id === id, { from, count: 2 })).map((m) => m.content.execution_state);
  assert.deepEqual(statuses, ["busy", "idle"]);
  assert.equal(await run("s.value"), "7");
});

test("a kernel-side change goes out as update (parent: the cell); request_state answers the whole state", async () => {
  const from = fe.iopub.length;
  await run("s.value = 4");
  const [update] = await fe.waitFor((m) => commMsgs(m) && m.content.comm_id === sliderId, { from });
  assert.deepEqual(update?.content.data, { method: "update", state: { value: 4 }, buffer_paths: [] });
  const id = await fe.send("comm_msg", { comm_id: sliderId, data: { method: "request_state" } });
  const [full] = await fe.waitFor((m) => commMsgs(m) && m.parent.msg_id === id, { from });
  assert.equal(full?.content.data.method, "update");
  assert.equal(full?.content.data.state.value, 4);
  assert.equal(full?.content.data.state._model_name, "IntSliderModel");
});

test("binary buffers: a Uint8Array in the state is a buffer frame after the signed parts, and a buffer from the front end is put back at its path", async () => {
  const from = fe.iopub.length;
  const imageId = JSON.parse((await run('import { WidgetModel } from "kernel-lib";\nconst img = new WidgetModel({ _model_name: "ImageModel", _model_module: "@jupyter-widgets/controls", value: new Uint8Array([137, 80, 78, 71]) });\nimg.id')).replace(/'/g, '"'));
  const [open] = await fe.waitFor((m) => m.header.msg_type === "comm_open" && m.content.comm_id === imageId, { from });
  assert.deepEqual(open?.content.data.buffer_paths, [["value"]]);
  assert.deepEqual([...open!.buffers[0]!], [137, 80, 78, 71]);
  const id = await fe.send("comm_msg", { comm_id: imageId, data: { method: "update", state: {}, buffer_paths: [["value"]] } }, [new Uint8Array([1, 2, 3])]);
  const [echo] = await fe.waitFor((m) => commMsgs(m) && m.parent.msg_id === id, { from });
  assert.deepEqual(echo?.content.data, { method: "echo_update", state: {}, buffer_paths: [["value"]] });
  assert.deepEqual([...echo!.buffers[0]!], [1, 2, 3]);
  assert.equal(await run("Array.from(img.get('value') as Uint8Array).join(',')"), "'1,2,3'");
});

test("the jupyter.widget.control target answers request_states with every live widget's state", async () => {
  const from = fe.iopub.length;
  await fe.send("comm_open", { comm_id: "control-1", target_name: "jupyter.widget.control", data: {} });
  const id = await fe.send("comm_msg", { comm_id: "control-1", data: { method: "request_states" } });
  const [reply] = await fe.waitFor((m) => commMsgs(m) && m.parent.msg_id === id, { from });
  assert.equal(reply?.content.data.method, "update_states");
  assert.equal(reply?.content.data.states[sliderId].model_name, "IntSliderModel");
  assert.equal(reply?.content.data.states[sliderId].state.value, 4);
  assert.ok(reply!.content.data.buffer_paths.some((p: unknown[]) => p[1] === "state" && p[2] === "value"), "the image's buffer path starts at its id");
  await fe.send("comm_close", { comm_id: "control-1", data: {} });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await commInfo())["control-1"], undefined, "closed by the front end, no longer listed");
});

test("a comm_msg while a cell awaits runs at once (the cell sees the value when it resumes), with no idle status mid-cell", async () => {
  const from = fe.iopub.length;
  // The cell awaits until it sees the new value (at most 20 s): it ends with 9 only if the comm_msg was handled
  // while it awaited; were comm messages queued behind the cell, it would end with 4. No fixed delay, so a
  // loaded machine that holds the kernel back for a second cannot reorder the messages.
  const cell = kernel.execute("for (let i = 0; i < 400 && s.value !== 9; i++) await new Promise((r) => setTimeout(r, 50));\ns.value", { timeoutMs: 30000 });
  await new Promise((r) => setTimeout(r, 300));
  const id = await fe.send("comm_msg", { comm_id: sliderId, data: { method: "update", state: { value: 9 }, buffer_paths: [] } });
  const [echo] = await fe.waitFor((m) => commMsgs(m) && m.parent.msg_id === id, { from });
  const r = await cell;
  assert.ok(echo, "no echo_update");
  const cellId = r.reply.parent_header.msg_id;
  await fe.waitFor((m) => m.header.msg_type === "status" && m.content.execution_state === "idle" && m.parent.msg_id === cellId, { from });
  const replyAt = fe.iopub.findIndex((m, i) => i >= from && m.header.msg_type === "status" && m.content.execution_state === "idle" && m.parent.msg_id === r.reply.parent_header.msg_id);
  assert.ok(fe.iopub.indexOf(echo!) < replyAt, "the echo came only after the cell finished");
  assert.deepEqual(fe.childrenOf(id, from).filter((m) => m.header.msg_type === "status"), [], "status for a comm_msg while a cell runs");
  assert.equal(r.iopub.find((m) => m.header.msg_type === "execute_result")?.content.data["text/plain"], "9");
});

test("wrong messages: unknown comm id ignored with a log line; unknown target answered with comm_close; comm_msg without comm_id dropped", async () => {
  let from = log.length;
  await fe.send("comm_msg", { comm_id: "no-such-comm", data: { method: "update", state: { value: 1 } } });
  assert.equal((await logOnce(/comm_msg for comm no-such-comm, which is not open/, from)).length, 1);
  const iopubFrom = fe.iopub.length;
  from = log.length;
  await fe.send("comm_open", { comm_id: "stray-1", target_name: "no.such.target", data: {} });
  const [close] = await fe.waitFor((m) => m.header.msg_type === "comm_close" && m.content.comm_id === "stray-1", { from: iopubFrom });
  assert.ok(close, "no comm_close for an unknown target");
  assert.equal((await logOnce(/no comm target "no.such.target": closed comm stray-1/, from)).length, 1);
  from = log.length;
  await fe.send("comm_msg", { data: { method: "update" } });
  assert.equal((await logOnce(/dropped a shell comm_msg: content.comm_id is missing/, from)).length, 1);
  from = log.length;
  await fe.send("comm_msg", { comm_id: sliderId, data: { method: "update", state: { value: "many" } } });
  const [back] = await fe.waitFor((m) => commMsgs(m) && m.content.data.method === "update" && m.content.comm_id === sliderId, { from: iopubFrom });
  assert.deepEqual(back?.content.data.state, { value: 9 }, "a refused value is answered with the kernel's");
  assert.equal(await run("s.value"), "9");
});

test("comm_close both ways: the kernel closes a widget (comm_close on iopub), the front end closes one (no longer listed)", async () => {
  const from = fe.iopub.length;
  await run("s.close()");
  const [close] = await fe.waitFor((m) => m.header.msg_type === "comm_close" && m.content.comm_id === sliderId, { from });
  assert.ok(close);
  const before = await commInfo();
  assert.equal(before[sliderId], undefined);
  const other = Object.keys(before)[0]!;
  await fe.send("comm_close", { comm_id: other, data: {} });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await commInfo())[other], undefined);
  assert.equal(await run("1 + 1"), "2");
});
