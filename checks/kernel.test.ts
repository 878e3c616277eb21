/**
 * Conformance of the aigc-lab kernel (kernel/server.ts), driven over ZeroMQ with our own client: every
 * point of the kernel issue, from kernel_info to errors, results, displays, interrupts and shutdown.
 * Run: npx tsc -b && node --test build/checks/kernel.test.js
 */
import { after, before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zmq from "zeromq";
import { ExecuteResult, KernelClient, Message } from "../kernel/client";
import { repoRoot, specForThisCheckout } from "../kernel/kernelspec";
import { cellSource, readNotebook, toLines } from "../kernel/runner";
import { freePort } from "../kernel/connection-files";

const ROOT = repoRoot();
const OUT = path.join(ROOT, "checks", "out");
/** Under load (two cores shared with builds) starting a kernel and loading TensorFlow.js can take a while. */
const START_MS = 60000;

let dir: string;
let kernel: KernelClient;
let processOutput = "";

function types(r: { iopub: Message[] }): string[] {
  return r.iopub.map((m) => m.header.msg_type);
}

function describeResult(r: ExecuteResult): string {
  return `status ${r.status}; outputs ${JSON.stringify(r.outputs).slice(0, 2000)}`;
}

/** Runs a cell that must succeed. */
async function ok(code: string): Promise<ExecuteResult> {
  const r = await kernel.execute(code, { timeoutMs: 60000 });
  assert.equal(r.status, "ok", `cell failed:\n${code}\n${describeResult(r)}`);
  return r;
}

/** The text/plain of the cell's execute_result. */
function resultText(r: ExecuteResult): string | undefined {
  const res = r.iopub.find((m) => m.header.msg_type === "execute_result");
  return res?.content.data["text/plain"];
}


function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const poll = () => {
      try {
        process.kill(pid, 0);
      } catch {
        return resolve(true);
      }
      if (Date.now() > deadline) return resolve(false);
      setTimeout(poll, 100);
    };
    poll();
  });
}

/**
 * Starts a kernel from a throwaway parent process, kills the parent after a second, and resolves with
 * whether the kernel exited within 60 s.
 */
async function orphanScenario(): Promise<{ exited: boolean; pid: number }> {
  const file = path.join(dir, "orphan.json");
  const ports = { shell_port: await freePort(), iopub_port: await freePort(), stdin_port: await freePort(), control_port: await freePort(), hb_port: await freePort() };
  fs.writeFileSync(file, JSON.stringify({ transport: "tcp", ip: "127.0.0.1", signature_scheme: "hmac-sha256", key: "orphan", ...ports }));
  const spec = specForThisCheckout(ROOT);
  const script = `const c = require("node:child_process").spawn(${JSON.stringify(spec.argv[0])}, [${JSON.stringify(spec.argv[1])}, ${JSON.stringify(file)}], { stdio: "ignore" }); console.log(c.pid); setInterval(() => {}, 1000);`;
  const parent = spawn(process.execPath, ["-e", script], { cwd: dir, stdio: ["ignore", "pipe", "inherit"] });
  const pid = await new Promise<number>((resolve) => parent.stdout!.once("data", (b: Buffer) => resolve(Number(b.toString().trim()))));
  // Let the kernel start running (node itself takes a moment) before its parent goes.
  await new Promise((r) => setTimeout(r, 1000));
  parent.kill("SIGKILL");
  return { exited: await waitForExit(pid, 60000), pid };
}

/** A second kernel for the restart test, and the orphan scenario: both start while the main kernel does. */
let second: Promise<KernelClient>;
let orphan: Promise<{ exited: boolean; pid: number }>;

before(async () => {
  fs.mkdirSync(OUT, { recursive: true });
  // Inside the checkout, so `kernel-lib` resolves from the kernel's working directory as in notebooks/.
  dir = fs.mkdtempSync(path.join(OUT, "kernel-test-"));
  second = KernelClient.start({ spec: specForThisCheckout(ROOT), cwd: dir, startTimeoutMs: START_MS });
  orphan = orphanScenario();
  // Handled by the tests that await them; avoid unhandled-rejection noise if `before` itself fails.
  second.catch(() => {});
  orphan.catch(() => {});
  kernel = await KernelClient.start({ spec: specForThisCheckout(ROOT), cwd: dir, startTimeoutMs: START_MS, onProcessOutput: (t) => (processOutput += t) });
});

let kernelLibImported: Promise<unknown> | null = null;

/**
 * Imports kernel-lib into the kernel once, for the tests that need it. Those come last: once a cell has
 * imported it, every later cell is type-checked against TensorFlow.js's declarations and compiles slower.
 */
function importKernelLib(): Promise<unknown> {
  kernelLibImported ??= ok(`import { tf, lineChart, interruptRequested, asImage, sendDisplay, newDisplayId, showMarkdown } from "kernel-lib";`);
  return kernelLibImported;
}

after(async () => {
  if (kernel?.alive) await kernel.shutdown();
  const other = await second?.catch(() => null);
  if (other?.alive) await other.shutdown(1000);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("kernel_info", () => {
  test("has every field, with the real TypeScript version and the package version", async () => {
    const { reply, iopub } = await kernel.request("shell", "kernel_info_request", {});
    const c = reply.content;
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
    const tsVersion = (require(require.resolve("@tslab/typescript-for-tslab", { paths: [path.join(ROOT, "node_modules", "tslab")] })) as { version: string }).version;
    assert.equal(reply.header.msg_type, "kernel_info_reply");
    assert.equal(c.status, "ok");
    assert.equal(c.protocol_version, "5.3");
    assert.equal(c.implementation, "aigc-lab");
    assert.equal(c.implementation_version, pkg.version);
    assert.equal(c.language_info.name, "typescript");
    assert.equal(c.language_info.version, tsVersion);
    assert.notEqual(c.language_info.version, "3.7.2");
    assert.equal(c.language_info.file_extension, ".ts");
    assert.equal(c.language_info.mimetype, "text/typescript");
    assert.equal(c.language_info.pygments_lexer, "typescript");
    assert.equal(c.language_info.codemirror_mode.typescript, true);
    assert.match(c.banner, /aigc-lab .*TypeScript/);
    assert.deepEqual(types({ iopub }), ["status", "status"]);
    assert.deepEqual(iopub.map((m) => m.content.execution_state), ["busy", "idle"]);
  });
});

describe("execute", () => {
  test("broadcasts execute_input with the execution count, which the result and reply repeat", async () => {
    const a = await ok("1 + 1");
    const b = await ok("2 + 2");
    for (const [r, value] of [[a, "2"], [b, "4"]] as const) {
      const input = r.iopub.find((m) => m.header.msg_type === "execute_input");
      assert.ok(input, `no execute_input in ${types(r)}`);
      assert.equal(input.content.code, value === "2" ? "1 + 1" : "2 + 2");
      assert.equal(input.content.execution_count, r.executionCount);
      const result = r.iopub.find((m) => m.header.msg_type === "execute_result");
      assert.equal(result?.content.execution_count, r.executionCount);
      assert.equal(resultText(r), value);
    }
    assert.equal(b.executionCount, a.executionCount! + 1);
    assert.deepEqual(types(a), ["status", "execute_input", "execute_result", "status"]);
  });

  test("the last expression becomes execute_result (undefined gives none; null and objects are inspected)", async () => {
    assert.equal(types(await ok("const nothing = undefined;\nnothing")).includes("execute_result"), false);
    assert.equal(types(await ok("console.log('printed')")).includes("execute_result"), false);
    assert.equal(resultText(await ok("null")), "null");
    assert.equal(resultText(await ok("({ a: 1, b: [1, 2] })")), "{ a: 1, b: [ 1, 2 ] }");
    assert.equal(resultText(await ok("'text'")), "'text'");
  });

  test("stdout and stderr of user code go to iopub streams", async () => {
    const r = await ok("console.log('out line');\nconsole.error('err line');\nprocess.stdout.write('raw\\n');");
    const text = (name: string) => r.iopub.filter((m) => m.header.msg_type === "stream" && m.content.name === name).map((m) => m.content.text).join("");
    assert.equal(text("stdout"), "out line\nraw\n");
    assert.equal(text("stderr"), "err line\n");
  });
});

describe("errors", () => {
  test("a type error is a CompileError with the cell's line and column, on the reply and on iopub", async () => {
    const r = await kernel.execute("const fine = 1;\nlet s: string = null;");
    assert.equal(r.status, "error");
    const c = r.reply.content;
    assert.equal(c.ename, "CompileError");
    assert.match(c.evalue, /line 2, column 5: Type 'null' is not assignable to type 'string'/);
    assert.ok(c.traceback.some((l: string) => l.includes("let s: string = null;")), c.traceback.join("\n"));
    const err = r.iopub.find((m) => m.header.msg_type === "error");
    assert.ok(err, `no iopub error in ${types(r)}`);
    assert.equal(err.content.ename, "CompileError");
    assert.deepEqual(err.content.traceback, c.traceback);
    assert.equal(typeof c.execution_count, "number");
  });

  test("the compiler is strict: implicit any and null checks are errors", async () => {
    const implicitAny = await kernel.execute("function twice(x) { return x * 2; }");
    assert.equal(implicitAny.status, "error");
    assert.match(implicitAny.reply.content.evalue, /implicitly has an 'any' type/);
    const nullable = await kernel.execute("const m = new Map<string, number>();\nm.get('a').toFixed();");
    assert.equal(nullable.status, "error");
    assert.match(nullable.reply.content.evalue, /line 2, column 1: .*possibly 'undefined'/);
  });

  test("a runtime error's stack is mapped to the lines of the cells it passed through", async () => {
    const def = await ok("// defines a function that fails\nfunction explode(n: number): number {\n  if (n > 1) {\n    throw new RangeError(`too big: ${n}`);\n  }\n  return n;\n}");
    const r = await kernel.execute("const before = 1;\n\nexplode(before + 1);");
    assert.equal(r.status, "error");
    const c = r.reply.content;
    assert.equal(c.ename, "RangeError");
    assert.equal(c.evalue, "too big: 2");
    const tb = c.traceback.join("\n");
    // The throw is at line 4, column 11 of the defining cell; the call at line 3, column 1 of this one.
    assert.ok(tb.includes(`at explode (In[${def.executionCount}]:4:11)`), tb);
    assert.ok(tb.includes(`In[${r.executionCount}]:3:1`), tb);
    assert.ok(tb.includes("throw new RangeError"), tb);
    assert.equal(/node:vm|tslab[/\\]dist|build[/\\]kernel/.test(tb), false, `kernel frames leaked:\n${tb}`);
    const err = r.iopub.find((m) => m.header.msg_type === "error");
    assert.equal(err?.content.ename, "RangeError");
  });

  test("an error after an await is mapped too", async () => {
    const r = await kernel.execute("await new Promise<void>((r) => setTimeout(r, 1));\nconst o: { f?: () => void } = {};\n(o as { f: () => void }).f();");
    assert.equal(r.status, "error");
    assert.equal(r.reply.content.ename, "TypeError");
    assert.ok(r.reply.content.traceback.some((l: string) => l.includes(`In[${r.executionCount}]:3:`)), r.reply.content.traceback.join("\n"));
  });

  test("a notebook whose cell 2 throws: cell 3 still runs and gives its output", async () => {
    const nbPath = path.join(dir, "throws.ipynb");
    const cells = ["let counter = 1;", "counter += 1;\nthrow new Error('cell 2 fails');", "counter += 10;\nconsole.log(`counter is ${counter}`);\ncounter"];
    fs.writeFileSync(
      nbPath,
      JSON.stringify({
        cells: cells.map((c) => ({ cell_type: "code", source: toLines(c), metadata: {}, outputs: [], execution_count: null })),
        metadata: { kernelspec: { name: "aigc-lab", display_name: "TypeScript (aigc-lab)", language: "typescript" } },
        nbformat: 4,
        nbformat_minor: 5,
      }),
    );
    const nb = readNotebook(nbPath);
    const results: ExecuteResult[] = [];
    // Each cell is sent the moment the previous reply arrives, as a front end does: no abort window.
    for (const cell of nb.cells) results.push(await kernel.execute(cellSource(cell), { timeoutMs: 60000 }));
    assert.deepEqual(results.map((r) => r.status), ["ok", "error", "ok"]);
    assert.equal(results[1]!.reply.content.evalue, "cell 2 fails");
    assert.deepEqual(results[2]!.outputs, [
      { output_type: "stream", name: "stdout", text: "counter is 12\n" },
      { output_type: "execute_result", execution_count: results[2]!.executionCount, data: { "text/plain": "12" }, metadata: {} },
    ]);
  });

  test("execute requests queued before a failure are aborted (stop_on_error); later ones run", async () => {
    const failing = kernel.execute("await new Promise<void>((r) => setTimeout(r, 300));\nthrow new Error('first fails');");
    const queued = kernel.execute("'queued ran'");
    const [f, q] = await Promise.all([failing, queued]);
    assert.equal(f.status, "error");
    assert.equal(q.status, "aborted");
    assert.equal(resultText(await ok("'later ran'")), "'later ran'");
    // Without stop_on_error the queued request runs.
    const content = (code: string) => ({ code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false });
    const f2 = kernel.request("shell", "execute_request", content("await new Promise<void>((r) => setTimeout(r, 300));\nthrow new Error('fails again');"));
    const q2 = kernel.request("shell", "execute_request", content("'runs anyway'"));
    const [rf2, rq2] = await Promise.all([f2, q2]);
    assert.equal(rf2.reply.content.status, "error");
    assert.equal(rq2.reply.content.status, "ok");
  });
});

describe("completion, inspection, is_complete, comms, heartbeat", () => {
  test("complete_request lists names defined by earlier cells", async () => {
    await ok("const learningRate = 0.01;");
    const code = "learningR";
    const { reply } = await kernel.request("shell", "complete_request", { code, cursor_pos: code.length });
    assert.equal(reply.content.status, "ok");
    assert.ok(reply.content.matches.includes("learningRate"), JSON.stringify(reply.content.matches).slice(0, 500));
    assert.equal(reply.content.cursor_start, 0);
    assert.equal(reply.content.cursor_end, code.length);
  });

  test("completion positions count code points, as the protocol says", async () => {
    const code = "'😀'; learningR";
    const { reply } = await kernel.request("shell", "complete_request", { code, cursor_pos: [...code].length });
    assert.ok(reply.content.matches.includes("learningRate"));
    assert.equal(reply.content.cursor_end, [...code].length);
  });

  test("inspect_request gives the type", async () => {
    const { reply } = await kernel.request("shell", "inspect_request", { code: "learningRate", cursor_pos: 3, detail_level: 0 });
    assert.equal(reply.content.status, "ok");
    assert.equal(reply.content.found, true);
    assert.match(reply.content.data["text/plain"], /const learningRate: 0.01/);
  });

  test("is_complete_request", async () => {
    const incomplete = await kernel.request("shell", "is_complete_request", { code: "function f() {" });
    assert.equal(incomplete.reply.content.status, "incomplete");
    assert.equal(typeof incomplete.reply.content.indent, "string");
    const complete = await kernel.request("shell", "is_complete_request", { code: "const a = 1;" });
    assert.equal(complete.reply.content.status, "complete");
  });

  test("comm_info_request gives comm_info_reply with no comms", async () => {
    const { reply } = await kernel.request("shell", "comm_info_request", {});
    assert.equal(reply.header.msg_type, "comm_info_reply");
    assert.deepEqual(reply.content, { status: "ok", comms: {} });
  });

  test("a request with a bad signature is dropped", async () => {
    const conn = JSON.parse(fs.readFileSync(kernel.connectionFile, "utf8"));
    const shell = new zmq.Dealer({ receiveTimeout: 1500 });
    shell.connect(`tcp://127.0.0.1:${conn.shell_port}`);
    try {
      const header = { msg_id: "forged", msg_type: "kernel_info_request", session: "forger", username: "x", date: new Date().toISOString(), version: "5.3" };
      const parts = [header, {}, {}, {}].map((x) => Buffer.from(JSON.stringify(x)));
      await shell.send([Buffer.from("<IDS|MSG>"), Buffer.from("0".repeat(64)), ...parts]);
      await assert.rejects(shell.receive(), /timed out|EAGAIN/i);
    } finally {
      shell.close();
    }
    // The kernel still answers properly signed requests.
    assert.equal((await kernel.request("shell", "kernel_info_request", {})).reply.content.status, "ok");
  });

  test("the heartbeat echoes", async () => {
    const conn = JSON.parse(fs.readFileSync(kernel.connectionFile, "utf8"));
    const hb = new zmq.Request({ receiveTimeout: 10000 });
    hb.connect(`tcp://127.0.0.1:${conn.hb_port}`);
    try {
      await hb.send("ping 42");
      const [echo] = await hb.receive();
      assert.equal(echo!.toString(), "ping 42");
    } finally {
      hb.close();
    }
  });
});

describe("rich results (kernel-lib's resultBundle)", () => {
  test("a Vega-Lite spec gives the chart bundle", async () => {
    await importKernelLib();
    const r = await ok("lineChart([{ x: 1, y: 2 }, { x: 2, y: 3 }], { x: 'x', y: 'y', title: 'a line' })");
    const data = r.iopub.find((m) => m.header.msg_type === "execute_result")!.content.data;
    assert.deepEqual(Object.keys(data).sort(), ["application/vnd.vegalite.v5+json", "image/svg+xml", "text/plain"]);
    assert.match(data["image/svg+xml"], /^<svg/);
    assert.equal(data["text/plain"], "[Vega-Lite chart: a line]");
  });

  test("a tensor gives shape, dtype and abbreviated values", async () => {
    await importKernelLib();
    assert.equal(resultText(await ok("tf.tensor2d([[1, 2.5, 3], [4, 5, 6]])")), "Tensor float32 [2, 3]\n[[1, 2.5, 3],\n [4, 5, 6]]");
    assert.equal(resultText(await ok("tf.range(0, 10, 1, 'int32')")), "Tensor int32 [10]\n[0, 1, 2, ..., 7, 8, 9]");
  });

  test("an image tensor gives a PNG: asImage, and a [N, H, W, C] batch in [0, 1]", async () => {
    await importKernelLib();
    for (const code of ["asImage(tf.ones([2, 8, 8]))", "tf.ones([2, 8, 8, 1]).mul(0.5)"]) {
      const r = await ok(code);
      const result = r.iopub.find((m) => m.header.msg_type === "execute_result")!.content;
      const png = Buffer.from(String(result.data["image/png"]), "base64");
      assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], `${code}: not a PNG`);
      assert.match(result.data["text/plain"], /image grid: 2 images/);
      assert.equal(typeof result.metadata["image/png"].width, "number");
    }
    // Values outside [0, 1] are not taken for an image.
    const notImage = await ok("tf.ones([2, 8, 8, 1]).mul(3)");
    assert.equal("image/png" in notImage.iopub.find((m) => m.header.msg_type === "execute_result")!.content.data, false);
  });
});

describe("displays", () => {
  test("kernel-lib's display hook sends display_data and update_display_data under the cell's parent", async () => {
    await importKernelLib();
    const r = await ok(
      "const id = newDisplayId('t');\nsendDisplay({ data: { 'text/plain': 'v1' }, metadata: {}, transient: { display_id: id } });\nsendDisplay({ data: { 'text/plain': 'v2' }, metadata: {}, transient: { display_id: id } }, true);\nshowMarkdown('**hi**');",
    );
    const msgs = r.iopub.filter((m) => m.header.msg_type.endsWith("display_data"));
    assert.deepEqual(msgs.map((m) => m.header.msg_type), ["display_data", "update_display_data", "display_data"]);
    assert.equal(msgs[0]!.content.transient.display_id, msgs[1]!.content.transient.display_id);
    for (const m of msgs) assert.equal(m.parent_header.msg_id, r.reply.parent_header.msg_id);
    assert.equal(r.outputs[0]?.output_type === "display_data" && r.outputs[0].data["text/plain"], "v2");
    assert.equal(r.outputs[1]?.output_type === "display_data" && r.outputs[1].data["text/markdown"], "**hi**");
  });

  test("tslab's own display API reaches iopub too", async () => {
    const r = await ok("import { display, newDisplay } from 'tslab';\ndisplay.html('<b>bold</b>');\nconst d = newDisplay();\nd.text('first');\nd.text('second');");
    const msgs = r.iopub.filter((m) => m.header.msg_type.endsWith("display_data"));
    assert.deepEqual(msgs.map((m) => m.header.msg_type), ["display_data", "display_data", "update_display_data"]);
    assert.equal(msgs[0]!.content.data["text/html"], "<b>bold</b>");
    assert.equal(msgs[2]!.content.data["text/plain"], "second");
    assert.equal(msgs[1]!.content.transient.display_id, msgs[2]!.content.transient.display_id);
  });
});

describe("interrupt", () => {
  test("SIGINT stops an async loop between steps; the reply is Interrupted; state survives; the flag resets", async () => {
    await importKernelLib();
    await ok("let steps = 0;\nlet stopped = false;");
    let started!: () => void;
    const loopStarted = new Promise<void>((r) => (started = r));
    const t0 = Date.now();
    const running = kernel.execute("console.log('loop started');\nwhile (!interruptRequested()) {\n  steps++;\n  await new Promise<void>((r) => setTimeout(r, 5));\n}\nstopped = true;", {
      timeoutMs: 30000,
      onIopub: (m) => {
        if (m.header.msg_type === "stream" && String(m.content.text).includes("loop started")) started();
      },
    });
    await loopStarted;
    await new Promise((r) => setTimeout(r, 100));
    await kernel.interrupt();
    const r = await running;
    assert.equal(r.status, "error");
    assert.equal(r.reply.content.ename, "Interrupted");
    assert.ok(r.iopub.some((m) => m.header.msg_type === "error" && m.content.ename === "Interrupted"));
    assert.ok(Date.now() - t0 < 20000);
    assert.equal(resultText(await ok("[stopped, steps > 0, interruptRequested()]")), "[ true, true, false ]");
  });

  test("train() with steps that never yield to the event loop (as on wasm): displays keep flowing past ZeroMQ's 512 synchronous sends, and SIGINT stops it", async () => {
    await importKernelLib();
    await ok(`import { train } from "kernel-lib";`);
    // Each step spins 1 ms and updates a display: about 1,000 updates a second. Without the loop's
    // yields, ZeroMQ stops after 512 sends until the cell ends, and the SIGINT handler never runs.
    const code = [
      "const spin = (ms: number) => { const t = Date.now(); while (Date.now() - t < ms) {} };",
      "const shown = newDisplayId();",
      "sendDisplay({ data: { 'text/plain': 'step 0' }, metadata: {}, transient: { display_id: shown } });",
      "const spun = await train({ steps: 15000, title: 'spin', progress: false, step: (i) => { spin(1); sendDisplay({ data: { 'text/plain': `step ${i}` }, metadata: {}, transient: { display_id: shown } }, true); return tf.scalar(1); } });",
    ].join("\n");
    let updates = 0;
    let reached!: () => void;
    const enough = new Promise<void>((r) => (reached = r));
    const running = kernel.execute(code, {
      timeoutMs: 60000,
      onIopub: (m) => {
        if (m.header.msg_type === "update_display_data" && ++updates === 2000) reached();
      },
    });
    let settled = false;
    void running.then(() => (settled = true));
    await Promise.race([enough, new Promise((r) => setTimeout(r, 12000))]);
    const seenWhileRunning = updates;
    const stillRunning = !settled;
    await kernel.interrupt();
    const r = await running;
    assert.ok(stillRunning, "the cell ended before 2,000 updates arrived");
    assert.ok(seenWhileRunning >= 2000, `only ${seenWhileRunning} display updates arrived while the loop ran (ZeroMQ starved of the event loop?)`);
    assert.equal(r.status, "error", `the loop was not interrupted: ${describeResult(r)}`);
    assert.equal(r.reply.content.ename, "Interrupted");
    assert.equal(resultText(await ok("interruptRequested()")), "false");
  });

  test("interrupt_request on the control channel works like the signal", async () => {
    await importKernelLib();
    let started!: () => void;
    const loopStarted = new Promise<void>((r) => (started = r));
    const running = kernel.execute("console.log('waiting');\nwhile (!interruptRequested()) await new Promise<void>((r) => setTimeout(r, 5));", {
      timeoutMs: 30000,
      onIopub: (m) => {
        if (m.header.msg_type === "stream") started();
      },
    });
    await loopStarted;
    await kernel.interrupt("message");
    const r = await running;
    assert.equal(r.reply.content.ename, "Interrupted");
  });

  test("a synchronous loop at a cell's top level is stopped too (V8 breakOnSigint)", async () => {
    const running = kernel.execute("let spins = 0;\nwhile (true) spins++;", { timeoutMs: 30000 });
    let settled = false;
    void running.then(() => (settled = true));
    // The signal must land while the loop runs, not while the cell compiles: repeat until it does.
    for (let i = 0; i < 20 && !settled; i++) {
      await new Promise((r) => setTimeout(r, 750));
      if (!settled) await kernel.interrupt();
    }
    const r = await running;
    assert.equal(r.status, "error");
    assert.equal(r.reply.content.ename, "Interrupted");
    assert.equal(resultText(await ok("'still usable'")), "'still usable'");
  });
});

describe("shutdown and restart", () => {
  test("restart: true is echoed and the process exits (Jupyter starts a new one)", async () => {
    const other = await second;
    try {
      const { reply, iopub } = await other.request("control", "shutdown_request", { restart: true }, { timeoutMs: 10000 });
      assert.deepEqual(reply.content, { status: "ok", restart: true });
      assert.deepEqual(iopub.map((m) => m.content.execution_state), ["busy", "idle"]);
      assert.ok(await waitForExit(other.process.pid!, 10000), "kernel still running after shutdown_request");
      assert.equal(other.process.exitCode, 0);
    } finally {
      await other.shutdown(1000);
    }
  });

  test("a kernel whose parent dies exits instead of living on as an orphan", async () => {
    const { exited, pid } = await orphan;
    if (!exited) process.kill(pid, "SIGKILL");
    assert.ok(exited, "the kernel outlived its parent by 60 s");
  });

  test("shutdown_request: reply, then the process exits cleanly", async () => {
    const { reply } = await kernel.request("control", "shutdown_request", { restart: false }, { timeoutMs: 10000 });
    assert.deepEqual(reply.content, { status: "ok", restart: false });
    assert.ok(await waitForExit(kernel.process.pid!, 10000), `kernel still running after shutdown; its output:\n${processOutput}`);
    const exit = await kernel.shutdown(1000);
    assert.deepEqual(exit, { code: 0, signal: null });
  });
});
