/**
 * The stop button stops: a cell looping on timers, immediates or an interval no longer advances once the
 * Interrupted reply is out, later cells (and their timers) run normally and earlier variables survive.
 * Errors thrown after their cell finished are mapped to `In[n]:line:col`. `process.exit()` in a cell
 * keeps the output the cell printed before it.
 * Run: npx tsc -b && node --test build/checks/kernel-interrupt.test.js
 */
import { after, before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ExecuteResult, KernelClient, Message } from "../kernel/client";
import { repoRoot, specForThisCheckout } from "../kernel/kernelspec";

const ROOT = repoRoot();
const START_MS = 60000;

let dir: string;
let kernel: KernelClient;
/** A second kernel for process.exit, which ends it. */
let exiting: Promise<KernelClient>;

before(async () => {
  const out = path.join(ROOT, "checks", "out");
  fs.mkdirSync(out, { recursive: true });
  dir = fs.mkdtempSync(path.join(out, "kernel-interrupt-"));
  exiting = KernelClient.start({ spec: specForThisCheckout(ROOT), cwd: dir, startTimeoutMs: START_MS });
  exiting.catch(() => {});
  kernel = await KernelClient.start({ spec: specForThisCheckout(ROOT), cwd: dir, startTimeoutMs: START_MS });
});

after(async () => {
  if (kernel?.alive) await kernel.shutdown();
  const other = await exiting?.catch(() => null);
  if (other) await other.shutdown(1000);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function resultText(r: ExecuteResult): string | undefined {
  return r.iopub.find((m) => m.header.msg_type === "execute_result")?.content.data["text/plain"];
}

async function ok(code: string): Promise<ExecuteResult> {
  const r = await kernel.execute(code, { timeoutMs: 60000 });
  assert.equal(r.status, "ok", `cell failed:\n${code}\n${JSON.stringify(r.outputs).slice(0, 2000)}`);
  return r;
}

function stderrOf(r: ExecuteResult): string {
  return r.iopub.filter((m) => m.header.msg_type === "stream" && m.content.name === "stderr").map((m) => String(m.content.text)).join("");
}

/** Runs `code` (which prints "loop started" first), interrupts it once it runs, returns the reply. */
async function interruptLoop(code: string): Promise<ExecuteResult> {
  let started!: () => void;
  const loopStarted = new Promise<void>((r) => (started = r));
  const running = kernel.execute(`console.log('loop started');\n${code}`, {
    timeoutMs: 30000,
    onIopub: (m: Message) => {
      if (m.header.msg_type === "stream" && String(m.content.text).includes("loop started")) started();
    },
  });
  await loopStarted;
  await sleep(300);
  await kernel.interrupt();
  return running;
}

describe("interrupting async loops", () => {
  const loops: [string, string][] = [
    ["an await on setTimeout in a loop (the issue's case)", "for (let i = 0; i < 1e6; i++) {\n  await new Promise<void>((r) => setTimeout(r, 10));\n  counter++;\n}"],
    ["an await on setImmediate in a loop", "for (let i = 0; i < 1e9; i++) {\n  await new Promise<void>((r) => setImmediate(r));\n  counter++;\n}"],
    ["a setInterval while the cell waits forever", "setInterval(() => counter++, 5);\nawait new Promise<void>(() => {});"],
    ["a loop in a function the cell started without awaiting it", "const spin = async () => {\n  for (;;) {\n    await new Promise<void>((r) => setTimeout(r, 5));\n    counter++;\n  }\n};\nvoid spin();\nawait new Promise<void>(() => {});"],
  ];
  for (const [name, loop] of loops) {
    test(`${name}: stops advancing once Interrupted is replied; the next cell and its timers work; variables survive`, async () => {
      await ok("let counter = 0;\nconst kept = 'defined before';");
      const r = await interruptLoop(loop);
      assert.equal(r.status, "error");
      assert.equal(r.reply.content.ename, "Interrupted");
      const atReply = Number(resultText(await ok("counter")));
      assert.ok(atReply > 0, `the loop never ran (counter ${atReply})`);
      await sleep(1500);
      const later = Number(resultText(await ok("counter")));
      assert.equal(later, atReply, `the interrupted loop kept running: counter ${atReply} -> ${later} in the 1.5 s after the reply`);
      assert.equal(resultText(await ok("kept")), "'defined before'");
      assert.equal(resultText(await ok("await new Promise<void>((r) => setTimeout(r, 20));\nawait new Promise<void>((r) => setImmediate(r));\n'timers work'")), "'timers work'");
      // The interrupted cell's awaits stay stopped while later cells run.
      await sleep(300);
      assert.equal(Number(resultText(await ok("counter"))), atReply);
    });
  }

  test("a loop awaiting I/O (no timer pending when it is cancelled): its next timer throws Interrupted, so the loop ends", async () => {
    await ok("let ioSteps = 0;\nlet caught = 'nothing';");
    const r = await interruptLoop(
      "import { promises as fsp } from 'fs';\ntry {\n  for (;;) {\n    await fsp.stat('.');\n    ioSteps++;\n    if (ioSteps % 50 === 0) setImmediate(() => {});\n  }\n} catch (e) {\n  caught = `${(e as Error).name}: ${(e as Error).message}`;\n}",
    );
    assert.equal(r.reply.content.ename, "Interrupted");
    await sleep(300);
    const first = Number(resultText(await ok("ioSteps")));
    assert.match(String(resultText(await ok("caught"))), /^'Interrupted: In\[\d+\] was interrupted: its code cannot start new timers'$/);
    await sleep(1000);
    assert.equal(Number(resultText(await ok("ioSteps"))), first, "the loop went on after its timer threw");
  });

  test("a loop that checks interruptRequested() still winds down itself (its pending timer fires)", async () => {
    await ok("let windDown = 'not yet';");
    const r = await interruptLoop(
      "const flag = (globalThis as unknown as Record<symbol, { interruptRequested: boolean }>)[Symbol.for('aigc-lab.kernel')]!;\nwhile (!flag.interruptRequested) await new Promise<void>((r) => setTimeout(r, 5));\nawait new Promise<void>((r) => setTimeout(r, 5));\nwindDown = 'done';",
    );
    assert.equal(r.reply.content.ename, "Interrupted");
    assert.equal(resultText(await ok("windDown")), "'done'");
  });
});

describe("errors after their cell finished", () => {
  test("a late timer's exception shows In[n]:line:col frames", async () => {
    const a = await ok("setTimeout(() => {\n  throw new RangeError('late boom');\n}, 200);");
    const b = await ok("await new Promise<void>((r) => setTimeout(r, 1000));");
    const err = stderrOf(b);
    assert.match(err, /Uncaught exception: RangeError: late boom/, err);
    assert.ok(err.includes(`In[${a.executionCount}]:2:`), `no In[${a.executionCount}] frame:\n${err}`);
    assert.doesNotMatch(err, /aigc-lab-cell-|build[/\\]kernel/, err);
  });

  test("a late unhandled rejection shows In[n]:line:col frames", async () => {
    const a = await ok("(async () => {\n  await new Promise<void>((r) => setTimeout(r, 200));\n  throw new TypeError('late reject');\n})();\n'started'");
    const b = await ok("await new Promise<void>((r) => setTimeout(r, 1000));");
    const err = stderrOf(b);
    assert.match(err, /Unhandled promise rejection: TypeError: late reject/, err);
    assert.ok(err.includes(`In[${a.executionCount}]:3:`), `no In[${a.executionCount}] frame:\n${err}`);
    assert.doesNotMatch(err, /aigc-lab-cell-|build[/\\]kernel/, err);
  });
});

describe("process.exit in a cell", () => {
  test("the cell's earlier output reaches the client before the kernel exits with the code", async () => {
    const k = await exiting;
    const streams: string[] = [];
    await assert.rejects(
      k.execute("console.log('printed before exit');\nprocess.stderr.write('stderr before exit\\n');\nprocess.exit(3);\nconsole.log('never printed');", {
        timeoutMs: 30000,
        onIopub: (m) => {
          if (m.header.msg_type === "stream") streams.push(`${m.content.name}: ${m.content.text}`);
        },
      }),
      /kernel died/,
    );
    const text = streams.join("");
    assert.match(text, /stdout: printed before exit/, `streams: ${JSON.stringify(streams)}`);
    assert.match(text, /stderr: stderr before exit/, `streams: ${JSON.stringify(streams)}`);
    assert.doesNotMatch(text, /never printed/);
    const exit = await k.shutdown(1000);
    assert.deepEqual(exit, { code: 3, signal: null });
  });
});
