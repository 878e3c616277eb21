#!/usr/bin/env node
// @ts-check
/**
 * Builds the native kernels (aigc_fast.node) with node-gyp; run by the root package.json "prepare"
 * script, so plain `npm install` builds them. It never fails the install: without a compiler, or
 * when the build fails, it prints one notice and exits 0, and kernel-lib falls back to the wasm
 * backend with an explicit-transpose matMul (slower, same results).
 *
 * Plain JavaScript (type-checked with @ts-check) because it runs before TypeScript is compiled.
 * Environment: AIGC_SKIP_NATIVE=1 skips the build; `--force` rebuilds even when up to date.
 */
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const here = __dirname;
const addon = path.join(here, "build", "Release", "aigc_fast.node");
/** binding.gyp and every source file: a change to any of them rebuilds. */
const sources = [
  path.join(here, "binding.gyp"),
  ...fs.readdirSync(path.join(here, "src")).filter((f) => /\.(cc|h)$/.test(f)).map((f) => path.join(here, "src", f)),
];

/** @param {string} why */
function notice(why) {
  console.log(
    `kernel-lib: native kernels not built (${why}); lessons will use the wasm backend with an ` +
      `explicit-transpose matMul, several times slower. To build them: install g++ and make, then ` +
      `run \`node kernel-lib/native/build.js --force\`.`,
  );
}

/** node-gyp as npm ships it: npm's lifecycle environment names it, else next to this node's npm. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
  ];
  for (const c of candidates) if (c && fs.existsSync(c)) return [process.execPath, c];
  return ["node-gyp"];
}

/** Node's own headers (Debian's /usr/include/node, or a tarball install's include/node): no download. */
function nodeDirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = path.resolve(path.dirname(process.execPath), "..");
  return fs.existsSync(path.join(prefix, "include", "node", "node_api.h")) ? [`--nodedir=${prefix}`] : [];
}

/** @param {string} name */
function onPath(name) {
  return (process.env.PATH ?? "").split(path.delimiter).some((dir) => dir && fs.existsSync(path.join(dir, name)));
}

function upToDate() {
  if (!fs.existsSync(addon)) return false;
  const built = fs.statSync(addon).mtimeMs;
  return sources.every((s) => fs.statSync(s).mtimeMs <= built);
}

function main() {
  if (process.env.AIGC_SKIP_NATIVE === "1") return notice("AIGC_SKIP_NATIVE=1");
  if (!process.argv.includes("--force") && upToDate()) return;
  const cxx = process.env.CXX ?? "c++";
  if (!onPath(cxx) && !onPath("g++") && !onPath("clang++")) return notice("no C++ compiler (g++) on PATH");
  if (!onPath("make")) return notice("no make on PATH");
  const [cmd, ...pre] = nodeGyp();
  const result = spawnSync(cmd ?? "node-gyp", [...pre, "rebuild", ...nodeDirArgs()], {
    cwd: here,
    encoding: "utf8",
    timeout: 300_000,
    // Offline machines: never let node-gyp try to fetch headers or Python.
    env: { ...process.env, npm_config_offline: "true" },
  });
  if (result.error) return notice(`could not run node-gyp: ${result.error.message}`);
  if (result.status !== 0 || !fs.existsSync(addon)) {
    const log = `${result.stdout}\n${result.stderr}`;
    const first =
      log.split("\n").find((l) => /error|not found|No such file/i.test(l) && !/^gyp info/.test(l)) ?? `node-gyp exited with ${result.status}`;
    return notice(first.trim().slice(0, 200));
  }
  // Load it once here, so a broken binary is reported now rather than in a lesson.
  try {
    const info = require(addon).info();
    console.log(`kernel-lib: native kernels built (${info.simd}, ${info.threads} threads).`);
  } catch (e) {
    notice(`built but failed to load: ${String(e).slice(0, 200)}`);
  }
}

try {
  main();
} catch (e) {
  notice(String(e).slice(0, 200));
}
