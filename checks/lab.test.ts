/**
 * `npm run lab`: with no Jupyter on the PATH it explains how to install one and exits 1; with one it
 * registers the kernel and starts JupyterLab in preference to the classic Notebook, in notebooks/.
 * Fake launchers stand in for Jupyter, so the test needs none installed.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { repoRoot } from "../kernel/kernelspec";

const root = repoRoot();
const labJs = path.join(root, "build", "scripts", "lab.js");

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "aigc-lab-test-"));
}

function runLab(pathDirs: string[], dataDir: string): { status: number | null; output: string } {
  const env = { HOME: process.env.HOME ?? os.homedir(), PATH: pathDirs.join(path.delimiter), JUPYTER_DATA_DIR: dataDir };
  const r = spawnSync(process.execPath, [labJs], { cwd: root, encoding: "utf8", env, timeout: 30_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

function fakeLauncher(dir: string, name: string, record: string): void {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\necho "${name} $(pwd)" > "${record}"\nexit 0\n`);
  fs.chmodSync(file, 0o755);
}

test("without Jupyter, npm run lab says how to install one and exits 1", () => {
  const empty = tempDir();
  const data = tempDir();
  const r = runLab([empty], data);
  assert.equal(r.status, 1, r.output);
  assert.match(r.output, /no Jupyter found/);
  assert.match(r.output, /pip install jupyterlab/);
  assert.match(r.output, /apt-get install jupyter-notebook/);
  assert.equal(fs.existsSync(path.join(data, "kernels", "aigc-lab")), false, "nothing is registered when there is nothing to open");
});

test("npm run lab prefers JupyterLab, registers the kernel and starts in notebooks/", () => {
  const bin = tempDir();
  const data = tempDir();
  const record = path.join(bin, "started.txt");
  fakeLauncher(bin, "jupyter-notebook", record);
  fakeLauncher(bin, "jupyter-lab", record);
  const r = runLab([bin], data);
  assert.equal(r.status, 0, r.output);
  assert.equal(fs.readFileSync(record, "utf8").trim(), `jupyter-lab ${path.join(root, "notebooks")}`);
  const spec = JSON.parse(fs.readFileSync(path.join(data, "kernels", "aigc-lab", "kernel.json"), "utf8"));
  assert.equal(spec.argv[1], path.join(root, "build", "kernel", "main.js"));

  fs.rmSync(path.join(bin, "jupyter-lab"));
  assert.equal(runLab([bin], data).status, 0);
  assert.equal(fs.readFileSync(record, "utf8").trim(), `jupyter-notebook ${path.join(root, "notebooks")}`, "the classic Notebook when JupyterLab is absent");
});
