/**
 * useBestBackend (kernel-lib/src/runtime/backend.ts) with tfjs-node installed, broken or mismatched. Real
 * tfjs-node cannot be installed here (its install downloads libtensorflow), so each case puts a
 * stand-in package on NODE_PATH in a child process: one that registers a "tensorflow" backend (the cpu
 * backend's kernels under that name), one that throws on load, one that registers nothing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const root = path.resolve(__dirname, "..", "..");
const tfjs = path.join(root, "node_modules", "@tensorflow", "tfjs");
const cpu = path.join(root, "node_modules", "@tensorflow", "tfjs-backend-cpu");

const STAND_INS: Record<string, string> = {
  working: `
    const tf = require(${JSON.stringify(tfjs)});
    const { MathBackendCPU } = require(${JSON.stringify(cpu)});
    for (const k of tf.getKernelsForBackend("cpu")) tf.registerKernel({ ...k, backendName: "tensorflow" });
    tf.registerBackend("tensorflow", () => new MathBackendCPU(), 3);`,
  throwing: `throw new Error("libtensorflow.so.2: cannot open shared object file");`,
  empty: `module.exports = {};`,
};

/** Runs useBestBackend in a child with a stand-in @tensorflow/tfjs-node; returns its choice. */
function chooseWith(standIn: keyof typeof STAND_INS): { name: string; tfName: string; summary: string; sum: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aigc-tfjs-node-"));
  const pkg = path.join(dir, "node_modules", "@tensorflow", "tfjs-node");
  fs.mkdirSync(pkg, { recursive: true });
  fs.writeFileSync(path.join(pkg, "package.json"), JSON.stringify({ name: "@tensorflow/tfjs-node", version: "4.22.0", main: "index.js" }));
  fs.writeFileSync(path.join(pkg, "index.js"), STAND_INS[standIn]!);
  const script = `
    const { useBestBackend, tf } = require("kernel-lib");
    useBestBackend({ verbose: false }).then(async (c) => {
      const sum = (await tf.sum(tf.tensor1d([1, 2, 3])).data())[0];
      process.stdout.write(JSON.stringify({ name: c.name, tfName: c.tfName, summary: c.summary, sum }));
    });`;
  try {
    const env = { ...process.env, NODE_PATH: path.join(dir, "node_modules"), AIGC_BACKEND: "" };
    return JSON.parse(execFileSync(process.execPath, ["-e", script], { cwd: root, env, encoding: "utf8" }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("an installed tfjs-node is chosen, and the summary says why tfjs-node-gpu was not", () => {
  const c = chooseWith("working");
  assert.equal(c.name, "tfjs-node");
  assert.equal(c.tfName, "tensorflow");
  assert.equal(c.sum, 6);
  assert.equal(c.summary, "kernel-lib backend: tfjs-node; skipped tfjs-node-gpu (not installed)");
});

test("a tfjs-node that fails to load is reported and passed over", () => {
  const c = chooseWith("throwing");
  assert.notEqual(c.name, "tfjs-node");
  assert.match(c.summary, /tfjs-node \(failed to load: libtensorflow\.so\.2: cannot open shared object file\)/);
});

test("a tfjs-node that registers no backend (another tfjs version) is reported and passed over", () => {
  const c = chooseWith("empty");
  assert.notEqual(c.name, "tfjs-node");
  assert.match(c.summary, /tfjs-node \(loaded, but registered no backend with this @tensorflow\/tfjs \(versions differ\?\)\)/);
});
