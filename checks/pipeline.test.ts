/**
 * The foundation end to end: kernelspec registration in an empty HOME, backend choice, and the notebook
 * runner's verdicts on a real lesson, on a lesson with a wrong constant, and on a cell that throws.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { findKernelSpec, installKernelSpec, KERNEL_NAME, kernelSpecForRun, removeKernelSpec, repoRoot, specForThisCheckout } from "../kernel/kernelspec";
import { cellSource, defaultCellTimeoutMs, describeFailure, Notebook, runNotebook, toLines } from "../kernel/runner";

const root = repoRoot();
const scratch = path.join(root, "checks", "out", "pipeline");
fs.mkdirSync(scratch, { recursive: true });

function readTour(): Notebook {
  return JSON.parse(fs.readFileSync(path.join(root, "notebooks", "00-tour.ipynb"), "utf8"));
}

describe("kernelspec", () => {
  test("installs into an empty HOME without Jupyter, is found, and is removed", () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "aigc-home-"));
    const env = { HOME: home, PATH: "/usr/bin:/bin" };
    const dir = installKernelSpec(env);
    assert.equal(dir, path.join(home, ".local", "share", "jupyter", "kernels", KERNEL_NAME));
    const spec = JSON.parse(fs.readFileSync(path.join(dir, "kernel.json"), "utf8"));
    assert.equal(spec.display_name, "TypeScript (aigc-lab)");
    assert.equal(spec.language, "typescript");
    assert.equal(spec.argv[2], "{connection_file}");
    assert.ok(fs.existsSync(spec.argv[1]), `the kernel entry ${spec.argv[1]} must exist in this checkout`);
    assert.equal(findKernelSpec(KERNEL_NAME, env).dir, dir);
    assert.equal(removeKernelSpec(env), dir);
    assert.throws(() => findKernelSpec(KERNEL_NAME, env), /not registered .* npm run kernel:install/);
    fs.rmSync(home, { recursive: true, force: true });
  });

  test("the kernelspec CLI (npm run kernel:install / kernel:remove) writes and removes the spec", () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "aigc-home-"));
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
    delete env.JUPYTER_DATA_DIR;
    delete env.XDG_DATA_HOME;
    const cli = path.join(root, "build", "kernel", "kernelspec.js");
    assert.match(execFileSync(process.execPath, [cli, "install"], { env }).toString(), /registered Jupyter kernel "TypeScript \(aigc-lab\)"/);
    assert.ok(fs.existsSync(path.join(home, ".local/share/jupyter/kernels/aigc-lab/kernel.json")));
    assert.match(execFileSync(process.execPath, [cli, "remove"], { env }).toString(), /removed kernel/);
    assert.ok(!fs.existsSync(path.join(home, ".local/share/jupyter/kernels/aigc-lab")));
    fs.rmSync(home, { recursive: true, force: true });
  });

  test("a notebook run uses this checkout's kernel when the registered aigc-lab kernel belongs to another checkout, and says so", () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "aigc-home-"));
    const env = { HOME: home, PATH: "/usr/bin:/bin" };
    const elsewhere = specForThisCheckout("/nonexistent/other-checkout");
    installKernelSpec(env, elsewhere);
    const notices: string[] = [];
    const spec = kernelSpecForRun(KERNEL_NAME, env, (l) => notices.push(l));
    assert.deepEqual(spec, specForThisCheckout(root));
    assert.equal(notices.length, 1);
    assert.match(notices[0]!, /runs the checkout \/nonexistent\/other-checkout; running this checkout's kernel .*npm run kernel:install/);
    // This checkout's own registration is used as registered, silently.
    installKernelSpec(env);
    assert.deepEqual(kernelSpecForRun(KERNEL_NAME, env, (l) => notices.push(l)), specForThisCheckout(root));
    assert.equal(notices.length, 1);
    removeKernelSpec(env);
    assert.throws(() => kernelSpecForRun(KERNEL_NAME, env), /not registered .* npm run kernel:install/);
    fs.rmSync(home, { recursive: true, force: true });
  });

  test("a kernel that exits during start-up is an error naming its argv, and the process that started it can still exit", () => {
    // Before the fix, ZeroMQ kept the process alive forever waiting to deliver kernel_info to the dead kernel.
    const client = path.join(root, "build", "kernel", "client.js");
    const script = `
      const { KernelClient } = require(${JSON.stringify(client)});
      const spec = { argv: [process.execPath, "-e", "process.exit(1)", "{connection_file}"], display_name: "dies", language: "typescript" };
      KernelClient.start({ spec, cwd: process.cwd() }).then(() => console.log("started?!"), (e) => console.log("error: " + e.message));`;
    const r = spawnSync(process.execPath, ["-e", script], { cwd: root, encoding: "utf8", timeout: 30_000 });
    assert.equal(r.signal, null, `the process was still running after 30 s (killed by ${r.signal}); output: ${r.stdout}${r.stderr}`);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /error: kernel exited during start-up \(code 1, signal null\); argv: .*process\.exit\(1\)/);
  });
});

describe("cell timeout", () => {
  test("900 s a cell in quick mode, 4 hours in full mode, AIGC_CELL_TIMEOUT overrides, and a bad value is an error", () => {
    assert.equal(defaultCellTimeoutMs({}, {}), 900_000);
    assert.equal(defaultCellTimeoutMs({ AIGC_MODE: "quick" }, {}), 900_000);
    assert.equal(defaultCellTimeoutMs({ AIGC_MODE: "full" }, {}), 4 * 3600_000);
    assert.equal(defaultCellTimeoutMs({}, { AIGC_MODE: "full" }), 4 * 3600_000);
    assert.equal(defaultCellTimeoutMs({ AIGC_MODE: "full" }, { AIGC_CELL_TIMEOUT: "60" }), 60_000);
    assert.equal(defaultCellTimeoutMs({ AIGC_CELL_TIMEOUT: "1.5" }, { AIGC_CELL_TIMEOUT: "60" }), 1500);
    assert.throws(() => defaultCellTimeoutMs({}, { AIGC_CELL_TIMEOUT: "ten" }), /AIGC_CELL_TIMEOUT must be a positive number of seconds, got "ten"/);
    assert.throws(() => defaultCellTimeoutMs({}, { AIGC_CELL_TIMEOUT: "0" }), /AIGC_CELL_TIMEOUT/);
  });
});

describe("backend choice", () => {
  const probe = (env: Record<string, string>) =>
    spawnSync(process.execPath, ["-e", "require('kernel-lib').useBestBackend().then(b => console.log('tf=' + require('kernel-lib').tf.getBackend()), e => { console.error(e.message); process.exit(3); })"], {
      cwd: root,
      env: { ...process.env, ...env },
      encoding: "utf8",
    });

  test("AIGC_BACKEND forces a backend and the line says so", () => {
    const r = probe({ AIGC_BACKEND: "cpu" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /kernel-lib backend: cpu.*forced by AIGC_BACKEND/);
    assert.match(r.stdout, /tf=cpu/);
  });

  test("automatic choice prints one line naming each skipped backend and why", () => {
    const r = probe({ AIGC_BACKEND: "" });
    assert.equal(r.status, 0, r.stderr);
    const line = r.stdout.split("\n").find((l) => l.startsWith("kernel-lib backend:"));
    assert.ok(line, r.stdout);
    assert.match(line!, /skipped tfjs-node-gpu \(.+\), tfjs-node \(.+\)/);
  });

  test("an unknown backend name is a clear error", () => {
    const r = probe({ AIGC_BACKEND: "tpu" });
    assert.equal(r.status, 3);
    assert.match(r.stderr, /AIGC_BACKEND="tpu" is not a backend; use one of tfjs-node-gpu, tfjs-node, webgpu, wasm, cpu/);
  });
});

describe("notebook runner", () => {
  const spec = specForThisCheckout(root);

  test("00-tour as shipped: the chart is one output with three MIME types, the grid a PNG, the exercise says not yet", async () => {
    const out = path.join(scratch, "00-tour.executed.ipynb");
    const report = await runNotebook({ notebook: path.join(root, "notebooks", "00-tour.ipynb"), outPath: out, spec, env: { AIGC_MODE: "quick" } });
    assert.ok(report.ok, describeFailure(report));
    const nb: Notebook = JSON.parse(fs.readFileSync(out, "utf8"));
    const outputs = nb.cells.flatMap((c) => c.outputs ?? []);
    const charts = outputs.filter((o) => o.output_type === "display_data" && "application/vnd.vegalite.v5+json" in o.data && String(o.data["text/plain"]).startsWith("[Vega-Lite chart"));
    assert.ok(charts.length >= 1, "expected a chart output");
    for (const c of charts) {
      assert.ok(c.output_type === "display_data");
      assert.deepEqual(Object.keys(c.data).sort(), ["application/vnd.vegalite.v5+json", "image/svg+xml", "text/plain"]);
      assert.match(String(c.data["image/svg+xml"]), /^<svg/);
    }
    assert.ok(outputs.some((o) => o.output_type === "display_data" && typeof o.data["image/png"] === "string"), "expected a PNG image grid");
    const text = outputs.map((o) => (o.output_type === "stream" ? o.text : "")).join("");
    assert.match(text, /Exercise stable-softmax: not yet/);
    assert.ok(nb.cells.filter((c) => c.cell_type === "code").every((c) => typeof c.execution_count === "number"), "every code cell records its execution count");
  });

  test("a wrong constant in 00-tour's softmax check fails the run, naming the notebook and the cell", async () => {
    const nb = readTour();
    const idx = nb.cells.findIndex((c) => cellSource(c).includes("const byHand = [0.0900306, 0.2447285, 0.665241];"));
    assert.ok(idx >= 0, "00-tour's softmax check cell not found");
    nb.cells[idx]!.source = toLines(cellSource(nb.cells[idx]!).replace("0.665241]", "0.675241]"));
    const mutant = path.join(scratch, "00-tour-mutant.ipynb");
    fs.writeFileSync(mutant, JSON.stringify(nb));
    const report = await runNotebook({ notebook: mutant, spec, env: { AIGC_MODE: "quick" } });
    assert.equal(report.ok, false);
    assert.equal(report.failed?.cell, idx + 1);
    const message = describeFailure(report);
    assert.match(message, new RegExp(`00-tour-mutant\\.ipynb: cell ${idx + 1} \\(code cell \\d+: .*\\) failed`));
    assert.match(message, /softmax\(1, 2, 3\): formula vs hand: expected 0\.67524\d* but got 0\.66524/);
    assert.ok(report.cells.filter((c) => c.cell > idx + 1).every((c) => c.status === "not run"), "no later cell may be reported as run");
  });

  test("a cell that throws fails the run naming that cell; no later cell is reported as passed", async () => {
    const cell = (src: string) => ({ cell_type: "code" as const, source: src, metadata: {}, outputs: [], execution_count: null });
    const nb: Notebook = {
      cells: [cell("const a = 1;"), { cell_type: "markdown", source: "text", metadata: {} }, cell('throw new Error("cell three broke");'), cell('console.log("after");')],
      metadata: { kernelspec: { name: "aigc-lab" } },
      nbformat: 4,
      nbformat_minor: 5,
    };
    const file = path.join(scratch, "throws.ipynb");
    fs.writeFileSync(file, JSON.stringify(nb));
    const out = path.join(scratch, "throws.executed.ipynb");
    const report = await runNotebook({ notebook: file, spec, outPath: out });
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.cells.map((c) => [c.cell, c.status]),
      [
        [1, "ok"],
        [3, "error"],
        [4, "not run"],
      ],
    );
    assert.match(describeFailure(report), /throws\.ipynb: cell 3 \(code cell 2: throw new Error\("cell three broke"\);\) failed:\n[\s\S]*cell three broke/);
    const executed: Notebook = JSON.parse(fs.readFileSync(out, "utf8"));
    assert.deepEqual(executed.cells[3]!.outputs, [], "the cell after the failure has no outputs");
  });

  test("a cell that runs past the per-cell timeout is reported as timed out and the kernel is shut down", async () => {
    const nb: Notebook = {
      cells: [{ cell_type: "code", source: "await new Promise((r) => setTimeout(r, 60000));", metadata: {}, outputs: [], execution_count: null }],
      metadata: { kernelspec: { name: "aigc-lab" } },
      nbformat: 4,
      nbformat_minor: 5,
    };
    const file = path.join(scratch, "slow.ipynb");
    fs.writeFileSync(file, JSON.stringify(nb));
    const t0 = Date.now();
    const report = await runNotebook({ notebook: file, spec, cellTimeoutMs: 3000 });
    assert.equal(report.failed?.status, "timeout");
    assert.match(describeFailure(report), /slow\.ipynb: cell 1 .* timed out:\nno answer to execute_request within 3 s/);
    assert.ok(Date.now() - t0 < 30000, "shutdown after a timeout must not hang");
  });
});
