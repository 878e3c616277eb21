/**
 * Connection files: a kernel started from one with an empty or missing key warns at start-up that
 * anyone who can reach its ports can run code; the runner (kernel/client.ts) writes its connection files
 * readable by the user only, names their folders with its pid, and removes the folders of runners that
 * died (kill -9) at its next start.
 * Run: npx tsc -b && node --test build/checks/kernel-connection.test.js
 */
import { after, before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { KernelClient } from "../kernel/client";
import { repoRoot, specForThisCheckout } from "../kernel/kernelspec";
import { freePort } from "../kernel/connection-files";

const ROOT = repoRoot();
const START_MS = 60000;

let dir: string;
let savedTmpdir: string | undefined;

before(() => {
  const out = path.join(ROOT, "checks", "out");
  fs.mkdirSync(out, { recursive: true });
  dir = fs.mkdtempSync(path.join(out, "kernel-connection-"));
  savedTmpdir = process.env["TMPDIR"];
});

after(() => {
  if (savedTmpdir === undefined) delete process.env["TMPDIR"];
  else process.env["TMPDIR"] = savedTmpdir;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});


function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once("exit", () => r()));
}

/** Starts the kernel on a connection file, collects its stderr until `pattern` or `ms`, then kills it. */
async function kernelStderr(connection: Record<string, unknown>, pattern: RegExp, ms: number): Promise<string> {
  const file = path.join(dir, `conn-${Date.now()}.json`);
  fs.writeFileSync(file, JSON.stringify(connection));
  const spec = specForThisCheckout(ROOT);
  const child = spawn(spec.argv[0]!, [spec.argv[1]!, file], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  let text = "";
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      child.stderr!.on("data", (b: Buffer) => {
        text += b.toString();
        if (pattern.test(text)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  } finally {
    child.kill("SIGKILL");
    await exited(child);
  }
  return text;
}

async function ports(): Promise<Record<string, number>> {
  return { shell_port: await freePort(), iopub_port: await freePort(), stdin_port: await freePort(), control_port: await freePort(), hb_port: await freePort() };
}

const WARNING = /^aigc-lab kernel: WARNING: .*$/m;

describe("unsigned connections", () => {
  for (const [name, keyPart] of [
    ['key: ""', { key: "" }],
    ["no key", {}],
  ] as const) {
    test(`a connection file with ${name}: one warning line at start-up saying anyone who can reach the ports can run code`, async () => {
      const connection = { transport: "tcp", ip: "127.0.0.1", signature_scheme: "hmac-sha256", ...keyPart, ...(await ports()) };
      const text = await kernelStderr(connection, WARNING, 30000);
      const lines = text.split("\n").filter((l) => WARNING.test(l));
      assert.equal(lines.length, 1, `expected one warning line, stderr was:\n${text}`);
      assert.match(lines[0]!, /no key|empty key/);
      assert.match(lines[0]!, /protocol allows unsigned messages/);
      assert.match(lines[0]!, /anyone who can reach .*127\.0\.0\.1.* can run code/);
    });
  }
});

/** The pid of the process whose command line holds `text` (Linux /proc), or null. */
function processWith(text: string): number | null {
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/cmdline`, "utf8").includes(text)) return Number(name);
    } catch {
      // exited meanwhile
    }
  }
  return null;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a runner (KernelClient.start in a child process) with its temporary folder in `base` and kills
 * it with SIGKILL the moment its kernel process exists. Returns the connection folder it left and the
 * kernel's pid.
 */
async function runnerKilledAtStart(base: string): Promise<{ folder: string; runnerPid: number; kernelPid: number }> {
  const client = path.join(ROOT, "build", "kernel", "client.js");
  const script = `const { KernelClient } = require(${JSON.stringify(client)}); KernelClient.start({ spec: ${JSON.stringify(specForThisCheckout(ROOT))}, cwd: ${JSON.stringify(dir)} }).catch(() => {}); setInterval(() => {}, 1000);`;
  const runner = spawn(process.execPath, ["-e", script], { env: { ...process.env, TMPDIR: base }, stdio: "ignore" });
  const deadline = Date.now() + 30000;
  const folders = () => fs.readdirSync(base).filter((n) => n.startsWith("aigc-kernel-") && fs.existsSync(path.join(base, n, "kernel.json")));
  let kernelPid: number | null = null;
  while (kernelPid === null && Date.now() < deadline) {
    const found = folders()[0];
    if (found) kernelPid = processWith(path.join(base, found, "kernel.json"));
    if (kernelPid === null) await new Promise((r) => setTimeout(r, 10));
  }
  runner.kill("SIGKILL");
  await exited(runner);
  assert.ok(kernelPid !== null, `the runner started no kernel within 30 s (folders: ${JSON.stringify(folders())})`);
  const left = folders();
  assert.equal(left.length, 1, `the killed runner left ${JSON.stringify(left)} in ${base}`);
  return { folder: left[0]!, runnerPid: runner.pid!, kernelPid };
}

/** Waits up to `ms` for `pid` to exit; kills it (so that no test leaves a kernel behind) if it does not. */
async function exitsWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (!isAlive(pid)) return true;
  process.kill(pid, "SIGKILL");
  return false;
}

describe("the runner's connection files", () => {
  test("a kernel whose runner is killed the moment it starts the kernel exits too (no orphan holding the key)", async () => {
    const base = fs.mkdtempSync(path.join(dir, "tmp-"));
    const { kernelPid, runnerPid, folder } = await runnerKilledAtStart(base);
    assert.match(folder, new RegExp(`^aigc-kernel-${runnerPid}-`), "the connection folder is not named with its runner's pid");
    assert.ok(await exitsWithin(kernelPid, 20000), `kernel ${kernelPid} outlived its killed runner by 20 s`);
  });

  test("are mode 0600 in a 0700 folder named with the runner's pid; the folders of dead runners are removed at the next start", async () => {
    const base = fs.mkdtempSync(path.join(dir, "tmp-"));
    process.env["TMPDIR"] = base;
    // A runner that dies with kill -9 while its kernel starts leaves its connection folder behind.
    const { folder: stale, kernelPid } = await runnerKilledAtStart(base);
    await exitsWithin(kernelPid, 20000);
    // A live runner's folder (another process) and folders this runner did not name stay.
    const live = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    const liveDir = path.join(base, `aigc-kernel-${live.pid}-abcdef`);
    const otherDir = path.join(base, "aigc-kernel-unnamed");
    for (const d of [liveDir, otherDir]) {
      fs.mkdirSync(d);
      fs.writeFileSync(path.join(d, "kernel.json"), "{}");
    }
    let kernel: KernelClient | undefined;
    try {
      let output = "";
      kernel = await KernelClient.start({ spec: specForThisCheckout(ROOT), cwd: dir, startTimeoutMs: START_MS, onProcessOutput: (t) => (output += t) });
      const file = kernel.connectionFile;
      assert.equal(path.dirname(path.dirname(file)), base);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600, `connection file mode ${(fs.statSync(file).mode & 0o777).toString(8)}`);
      assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
      assert.match(path.basename(path.dirname(file)), new RegExp(`^aigc-kernel-${process.pid}-`));
      assert.equal(fs.existsSync(path.join(base, stale)), false, `the dead runner's ${stale} (with its key) is still there`);
      assert.match(stale, /^aigc-kernel-\d+-/, "the connection folder is not named with its runner's pid");
      assert.ok(fs.existsSync(liveDir), "the folder of a live runner was removed");
      assert.ok(fs.existsSync(otherDir), "a folder not named with a pid was removed");
      assert.equal((await kernel.execute("'connected'")).status, "ok");
      // A kernel with a key does not warn.
      assert.doesNotMatch(output, WARNING, output);
    } finally {
      live.kill("SIGKILL");
      await exited(live);
      await kernel?.shutdown();
      if (savedTmpdir === undefined) delete process.env["TMPDIR"];
      else process.env["TMPDIR"] = savedTmpdir;
    }
    assert.equal(fs.existsSync(path.dirname(kernel!.connectionFile)), false, "shutdown left the connection folder");
  });
});
