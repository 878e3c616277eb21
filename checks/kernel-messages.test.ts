/**
 * The kernel against bad and hostile messages, over real ZeroMQ: validly signed messages whose header,
 * parent_header, metadata or content is null, an array, a number, a string, missing or incomplete (each
 * answered with an error status where a reply is possible, else dropped with one line in the kernel's
 * log, and the shell channel answering normally afterwards); a replayed signed execute_request (runs
 * once); an execute_request on the control channel (refused, the shell's running cell unharmed).
 * Run: npx tsc -b && node --test build/checks/kernel-messages.test.js
 */
import { after, before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import { createHmac, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zmq from "zeromq";
import { ExecuteResult, KernelClient } from "../kernel/client";
import { repoRoot, specForThisCheckout } from "../kernel/kernelspec";
import { SignatureHistory } from "../kernel/wire";

const ROOT = repoRoot();
const START_MS = 60000;

let dir: string;
let kernel: KernelClient;
let processOutput = "";
let key: string;
let ports: { shell_port: number; control_port: number };

before(async () => {
  const out = path.join(ROOT, "checks", "out");
  fs.mkdirSync(out, { recursive: true });
  dir = fs.mkdtempSync(path.join(out, "kernel-messages-"));
  kernel = await KernelClient.start({ spec: specForThisCheckout(ROOT), cwd: dir, startTimeoutMs: START_MS, onProcessOutput: (t) => (processOutput += t) });
  const conn = JSON.parse(fs.readFileSync(kernel.connectionFile, "utf8"));
  key = conn.key;
  ports = { shell_port: conn.shell_port, control_port: conn.control_port };
});

after(async () => {
  if (kernel?.alive) await kernel.shutdown();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function header(msgType: string): Record<string, unknown> {
  return { msg_id: randomUUID(), msg_type: msgType, session: "raw-test", username: "test", date: new Date().toISOString(), version: "5.3" };
}

/** Frames of a message whose four parts are given as JSON text (or left out), signed with the kernel's key. */
function signedFrames(parts: (string | undefined)[]): Buffer[] {
  const present = parts.filter((p): p is string => p !== undefined).map((p) => Buffer.from(p));
  const h = createHmac("sha256", key);
  for (const p of present) h.update(p);
  return [Buffer.from("<IDS|MSG>"), Buffer.from(h.digest("hex")), ...present];
}

/** A raw socket on one of the kernel's request channels, for messages our client would never send. */
async function withRaw<T>(channel: "shell" | "control", fn: (sock: zmq.Dealer) => Promise<T>): Promise<T> {
  const sock = new zmq.Dealer({ receiveTimeout: 5000, linger: 0 });
  sock.connect(`tcp://127.0.0.1:${channel === "shell" ? ports.shell_port : ports.control_port}`);
  try {
    return await fn(sock);
  } finally {
    sock.close();
  }
}

interface Parsed {
  header: Record<string, any>;
  parent: Record<string, any>;
  content: Record<string, any>;
}

function parseReply(frames: Buffer[]): Parsed {
  const i = frames.findIndex((f) => f.toString() === "<IDS|MSG>");
  assert.ok(i >= 0, "reply without a delimiter");
  const [sig, h, p, m, c] = frames.slice(i + 1);
  const mac = createHmac("sha256", key);
  for (const part of [h!, p!, m!, c!]) mac.update(part);
  assert.equal(sig!.toString(), mac.digest("hex"), "the kernel's reply is not signed with the key");
  return { header: JSON.parse(h!.toString()), parent: JSON.parse(p!.toString()), content: JSON.parse(c!.toString()) };
}

/** Nothing arrives on the socket within `ms`. */
async function assertSilent(sock: zmq.Dealer, ms: number, what: string): Promise<void> {
  sock.receiveTimeout = ms;
  await assert.rejects(sock.receive(), /timed out|EAGAIN/i, `${what}: the kernel answered a message it should have dropped`);
}

/** The kernel log written since `from`, once it contains `pattern` (the log travels through a pipe). */
async function logSince(from: number, pattern: RegExp, timeoutMs = 3000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(processOutput.slice(from)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return processOutput.slice(from);
}

async function shellStillAnswers(what: string): Promise<void> {
  const r: ExecuteResult = await kernel.execute("'still answering'", { timeoutMs: 15000 }).catch((e: Error) => {
    throw new Error(`${what}: the shell channel no longer answers an execute_request (${e.message}); kernel log:\n${processOutput.slice(-2000)}`);
  });
  assert.equal(r.status, "ok", `${what}: ${JSON.stringify(r.outputs)}`);
  const result = r.iopub.find((m) => m.header.msg_type === "execute_result");
  assert.equal(result?.content.data["text/plain"], "'still answering'");
}

const EXECUTE = JSON.stringify({ code: "1", silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
const BAD_VALUES: [string, string][] = [
  ["null", "null"],
  ["an array", "[1, 2]"],
  ["a number", "42"],
  ["a string", '"text"'],
];

/** Messages with no usable header: no reply is possible, so each is dropped with one log line. */
const NO_REPLY: { name: string; parts: (string | undefined)[]; log: RegExp }[] = [
  ...BAD_VALUES.map(([what, json]) => ({ name: `header is ${what}`, parts: [json, "{}", "{}", EXECUTE], log: /header is (null|an array|a number|a string)/ })),
  { name: "header without msg_type", parts: [JSON.stringify({ msg_id: "m1", session: "s" }), "{}", "{}", EXECUTE], log: /header\.msg_type is missing/ },
  { name: "header without msg_id", parts: [JSON.stringify({ msg_type: "execute_request", session: "s" }), "{}", "{}", EXECUTE], log: /header\.msg_id is missing/ },
  { name: "header whose msg_type is a number", parts: [JSON.stringify({ msg_id: "m2", msg_type: 7 }), "{}", "{}", EXECUTE], log: /header\.msg_type is a number/ },
  { name: "header that is not JSON", parts: ["{not json", "{}", "{}", EXECUTE], log: /header is not JSON/ },
  { name: "no frames after the signature", parts: [], log: /header frame is missing/ },
];

describe("malformed messages on shell", () => {
  for (const c of NO_REPLY) {
    test(`${c.name}: dropped with one log line, and shell still answers`, async () => {
      const from = processOutput.length;
      await withRaw("shell", async (sock) => {
        await sock.send(signedFrames(c.parts));
        await shellStillAnswers(c.name);
        await assertSilent(sock, 300, c.name);
      });
      const log = await logSince(from, c.log);
      const lines = log.split("\n").filter((l) => l.startsWith("aigc-lab kernel:"));
      assert.equal(lines.length, 1, `${c.name}: expected one log line, got:\n${log}`);
      assert.match(lines[0]!, c.log);
      assert.doesNotMatch(log, /Unhandled|TypeError/, log);
    });
  }

  // With a usable header, every other part is checked, and the request gets an error reply naming it.
  const replyCases: { name: string; parts: (string | undefined)[]; field: RegExp; type?: string }[] = [];
  for (const [index, part] of [[1, "parent_header"], [2, "metadata"], [3, "content"]] as const) {
    for (const [what, json] of BAD_VALUES) {
      const parts: (string | undefined)[] = [JSON.stringify(header("execute_request")), "{}", "{}", EXECUTE];
      parts[index] = json;
      replyCases.push({ name: `${part} is ${what}`, parts, field: new RegExp(`^${part} is ${what}`) });
    }
  }
  replyCases.push(
    { name: "content frame missing", parts: [JSON.stringify(header("execute_request")), "{}", "{}"], field: /^the content frame is missing/ },
    { name: "metadata and content frames missing", parts: [JSON.stringify(header("execute_request")), "{}"], field: /^the metadata frame is missing/ },
    { name: "content that is not JSON", parts: [JSON.stringify(header("execute_request")), "{}", "{}", "{code:"], field: /^content is not JSON/ },
    { name: "execute_request without code", parts: [JSON.stringify(header("execute_request")), "{}", "{}", "{}"], field: /^content\.code is missing/ },
    { name: "execute_request whose code is a number", parts: [JSON.stringify(header("execute_request")), "{}", "{}", JSON.stringify({ code: 5 })], field: /^content\.code is a number/ },
    { name: "execute_request whose silent is a string", parts: [JSON.stringify(header("execute_request")), "{}", "{}", JSON.stringify({ code: "1", silent: "yes" })], field: /^content\.silent is a string/ },
    { name: "complete_request whose cursor_pos is a string", parts: [JSON.stringify(header("complete_request")), "{}", "{}", JSON.stringify({ code: "x", cursor_pos: "1" })], field: /^content\.cursor_pos is a string/, type: "complete_reply" },
    { name: "kernel_info_request whose content is null", parts: [JSON.stringify(header("kernel_info_request")), "{}", "{}", "null"], field: /^content is null/, type: "kernel_info_reply" },
  );
  for (const c of replyCases) {
    test(`${c.name}: error reply naming the field, and shell still answers`, async () => {
      await withRaw("shell", async (sock) => {
        await sock.send(signedFrames(c.parts));
        const reply = parseReply((await sock.receive()) as Buffer[]);
        assert.equal(reply.header.msg_type, c.type ?? "execute_reply");
        assert.equal(reply.content.status, "error");
        assert.equal(reply.content.ename, "InvalidMessage");
        assert.match(reply.content.evalue, c.field);
        assert.equal(reply.parent.msg_id, JSON.parse(c.parts[0]!).msg_id, "the reply's parent_header is not the request's header");
      });
      await shellStillAnswers(c.name);
    });
  }

  test("a message that is not a request (no _request type) with bad content: dropped with a log line", async () => {
    const from = processOutput.length;
    await withRaw("shell", async (sock) => {
      await sock.send(signedFrames([JSON.stringify(header("comm_msg")), "{}", "{}", "null"]));
      await shellStillAnswers("comm_msg with null content");
      await assertSilent(sock, 300, "comm_msg with null content");
    });
    assert.match(await logSince(from, /comm_msg.*content is null/), /dropped a shell comm_msg: content is null/);
  });
});

describe("malformed messages on control", () => {
  test("a null header, then a null content: the control channel keeps answering", async () => {
    const from = processOutput.length;
    await withRaw("control", async (sock) => {
      await sock.send(signedFrames(["null", "{}", "{}", "{}"]));
      const h = header("kernel_info_request");
      await sock.send(signedFrames([JSON.stringify(h), "{}", "{}", "null"]));
      const reply = parseReply((await sock.receive()) as Buffer[]);
      assert.equal(reply.header.msg_type, "kernel_info_reply");
      assert.equal(reply.content.status, "error");
      assert.match(reply.content.evalue, /^content is null/);
    });
    const answer = await kernel.request("control", "kernel_info_request", {}, { timeoutMs: 10000 });
    assert.equal(answer.reply.content.status, "ok");
    const log = await logSince(from, /header is null/);
    assert.match(log, /dropped a control message: header is null/);
    assert.doesNotMatch(log, /Unhandled|TypeError/, log);
    await shellStillAnswers("after bad control messages");
  });
});

describe("replayed messages", () => {
  test("a signed execute_request sent three times runs once; the copies are dropped with a log line", async () => {
    const from = processOutput.length;
    const code = "(globalThis as { replays?: number }).replays = ((globalThis as { replays?: number }).replays ?? 0) + 1;";
    const frames = signedFrames([JSON.stringify(header("execute_request")), "{}", "{}", JSON.stringify({ code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true })]);
    await withRaw("shell", async (sock) => {
      for (let i = 0; i < 3; i++) await sock.send(frames);
      const first = parseReply((await sock.receive()) as Buffer[]);
      assert.equal(first.content.status, "ok");
      // Shell runs requests in order: by the time this cell answers, any accepted copy has run too.
      const count = await kernel.execute("(globalThis as { replays?: number }).replays", { timeoutMs: 15000 });
      assert.equal(count.iopub.find((m) => m.header.msg_type === "execute_result")?.content.data["text/plain"], "1", "the replayed request ran more than once");
      await assertSilent(sock, 300, "replayed execute_request");
    });
    const log = await logSince(from, /replayed/);
    assert.equal(log.split("\n").filter((l) => /dropped a replayed shell message/.test(l)).length, 2, log);
  });

  test("the history of signatures is bounded: the oldest goes first", () => {
    const history = new SignatureHistory(3);
    for (const s of ["a", "b", "c"]) assert.equal(history.check(s), false);
    assert.equal(history.check("b"), true);
    assert.equal(history.check("d"), false);
    assert.equal(history.size, 3);
    // "a" was the oldest and is forgotten; "b", "c" and "d" are still known.
    assert.deepEqual(["b", "c", "d"].map((s) => history.check(s)), [true, true, true]);
    assert.equal(history.check("a"), false);
    assert.equal(new SignatureHistory().check("x"), false);
  });
});

describe("execute_request on the control channel", () => {
  test("is refused with UnsupportedOnControl, and the shell cell running meanwhile still returns its result", async () => {
    let started!: () => void;
    const cellStarted = new Promise<void>((r) => (started = r));
    const shell = kernel.execute("console.log('shell cell started');\nawait new Promise<void>((r) => setTimeout(r, 1500));\n'shell result'", {
      timeoutMs: 30000,
      onIopub: (m) => {
        if (m.header.msg_type === "stream") started();
      },
    });
    await cellStarted;
    const code = "(globalThis as { ranOnControl?: boolean }).ranOnControl = true;\n'control result'";
    const control = await kernel.request("control", "execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true }, { timeoutMs: 10000 });
    assert.equal(control.reply.header.msg_type, "execute_reply");
    assert.equal(control.reply.content.status, "error");
    assert.equal(control.reply.content.ename, "UnsupportedOnControl");
    assert.match(control.reply.content.evalue, /control channel/);
    const r = await shell;
    assert.equal(r.status, "ok", JSON.stringify(r.outputs));
    assert.equal(r.iopub.find((m) => m.header.msg_type === "execute_result")?.content.data["text/plain"], "'shell result'");
    const ran = await kernel.execute("(globalThis as { ranOnControl?: boolean }).ranOnControl === undefined");
    assert.equal(ran.iopub.find((m) => m.header.msg_type === "execute_result")?.content.data["text/plain"], "true", "the control execute_request ran");
  });
});
