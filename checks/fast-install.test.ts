/**
 * The native build at `npm install` (kernel-lib/native/build.js, run by the root "prepare" script)
 * never fails the install: without a compiler, or when told to skip, it prints one notice and exits 0.
 * Each case runs on a copy of kernel-lib/native, so the real addon is never touched.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const native = path.resolve(__dirname, "..", "..", "kernel-lib", "native");

/** Runs build.js from a fresh copy of kernel-lib/native (without its build/) with `env`. */
function build(env: NodeJS.ProcessEnv): { status: number | null; stdout: string; built: boolean } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aigc-native-"));
  try {
    for (const f of ["build.js", "binding.gyp", "src"]) fs.cpSync(path.join(native, f), path.join(dir, f), { recursive: true });
    const r = spawnSync(process.execPath, [path.join(dir, "build.js")], { env, encoding: "utf8", timeout: 120_000 });
    return { status: r.status, stdout: r.stdout + r.stderr, built: fs.existsSync(path.join(dir, "build", "Release", "aigc_fast.node")) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("without a C++ compiler on PATH: one notice, exit 0, no addon", () => {
  // A PATH holding node alone: no g++, c++, clang++ or make.
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), "aigc-path-"));
  fs.symlinkSync(process.execPath, path.join(bin, "node"));
  try {
    const r = build({ PATH: bin, HOME: os.tmpdir() });
    assert.equal(r.status, 0);
    assert.equal(r.built, false);
    assert.match(r.stdout, /^kernel-lib: native kernels not built \(no C\+\+ compiler \(g\+\+\) on PATH\); lessons will use the wasm backend/);
    assert.equal(r.stdout.trim().split("\n").length, 1, "one line");
  } finally {
    fs.rmSync(bin, { recursive: true, force: true });
  }
});

test("AIGC_SKIP_NATIVE=1 skips the build with the same notice", () => {
  const r = build({ ...process.env, AIGC_SKIP_NATIVE: "1" });
  assert.equal(r.status, 0);
  assert.equal(r.built, false);
  assert.match(r.stdout, /native kernels not built \(AIGC_SKIP_NATIVE=1\)/);
});
