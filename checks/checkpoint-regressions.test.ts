/**
 * Regression tests of kernel-lib/src/train/checkpoint.ts and checkpoint-format.ts for what a fuzzing pass
 * found (issue 19): header mutations that loaded wrong weights or metadata silently, malformed headers that
 * raised TypeError or tfjs errors instead of CheckpointError, failed loads that leaked tensors, and temporary
 * files of killed saves left behind. "Kept SHA-256": the file's stored hash is left as it was (a corrupted
 * or tampered file). "Re-signed": the hash is recomputed, so only header validation can refuse the file.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { CharGPT, charGPTConfig, CharTokenizer, CheckpointError, decodeCheckpoint, loadCharGPT, loadVae, Rng, saveCharGPT, saveCheckpoint, tf, useBestBackend, Vae } from "kernel-lib";
import { asFormat1, parts, withHeader } from "./lib/checkpoint-bytes";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ckpt-regress-"));
const tok = CharTokenizer.fromText("It is a truth universally acknowledged.");
const config = charGPTConfig("tiny", tok.vocabSize);
const file = path.join(dir, "gpt.ckpt");
let model: CharGPT;
let good: Buffer;

before(async () => {
  await useBestBackend({ verbose: false });
  model = new CharGPT(config, new Rng(5));
  await saveCharGPT(file, model, tok, 7, { valLoss: 1.5, script: "node train.js --steps 7" });
  good = fs.readFileSync(file);
});

after(() => {
  model.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Loads `bytes` as a char-GPT and asserts a CheckpointError whose message matches `pattern`, with no tensor leaked. */
function refused(bytes: Buffer, pattern: RegExp, what: string): void {
  const bad = path.join(dir, "bad.ckpt");
  fs.writeFileSync(bad, bytes);
  const n = tf.memory().numTensors;
  let error: unknown;
  try {
    loadCharGPT(bad, config).model.dispose();
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof CheckpointError, `${what}: expected a CheckpointError, got ${error === undefined ? "a silent load" : String(error)}`);
  assert.match((error as Error).message, pattern, what);
  assert.equal(tf.memory().numTensors, n, `${what}: tensors leaked`);
}

type Entry = { name: string; offset: number; bytes: number };
const tensors = (h: any): Entry[] => h.tensors;

test("an offset changed by 4 is refused (kept SHA-256: corrupt; re-signed: the entry's offset)", () => {
  const shift = (h: any) => void (tensors(h)[1]!.offset += 4);
  refused(withHeader(good, shift, false), /corrupt/, "kept SHA-256");
  refused(withHeader(good, shift, true), /header\.tensors\[1\]\.offset/, "re-signed");
});

test("two same-size tensors with their offsets swapped are refused", () => {
  const list = tensors(parts(good).header);
  const i = list.findIndex((a, k) => list.some((b, j) => j > k && b.bytes === a.bytes && a.bytes > 0));
  const j = list.findIndex((b, k) => k > i && b.bytes === list[i]!.bytes);
  assert.ok(i >= 0 && j > i, "the model has two same-size tensors");
  const swap = (h: any) => {
    const t = tensors(h);
    [t[i]!.offset, t[j]!.offset] = [t[j]!.offset, t[i]!.offset];
  };
  refused(withHeader(good, swap, false), /corrupt/, "kept SHA-256");
  refused(withHeader(good, swap, true), new RegExp(`header\\.tensors\\[${i}\\]\\.offset`), "re-signed");
});

test("aliased offsets (one tensor's bytes read twice) are refused", () => {
  const alias = (h: any) => {
    const t = tensors(h);
    const k = t.findIndex((e, n) => n > 0 && e.bytes === t[n - 1]!.bytes);
    t[k]!.offset = t[k - 1]!.offset;
  };
  refused(withHeader(good, alias, false), /corrupt/, "kept SHA-256");
  refused(withHeader(good, alias, true), /header\.tensors\[\d+\]\.offset/, "re-signed");
});

test("a null header and a null tensor entry are CheckpointErrors naming the field, not TypeErrors", () => {
  refused(withHeader(good, () => null, true), /header must be a JSON object, got null/, "null header");
  refused(withHeader(good, (h) => void (h.tensors[0] = null), true), /header\.tensors\[0\] must be an object, got null/, "null tensor entry");
  refused(withHeader(good, (h) => void (h.tensors = null), true), /header\.tensors must be an array/, "null tensor list");
});

test("an offset past the end of the weights is a CheckpointError, not a tfjs size error", () => {
  const past = (h: any) => {
    const t = tensors(h);
    t[t.length - 1]!.offset = parts(good).body.length;
  };
  refused(withHeader(good, past, true), new RegExp(`header\\.tensors\\[${tensors(parts(good).header).length - 1}\\]\\.offset`), "re-signed");
});

test("a float64 dtype is a CheckpointError naming the dtype field, not a dtype error on assign", () => {
  refused(withHeader(good, (h) => void (h.tensors[0].dtype = "float64"), true), /header\.tensors\[0\]\.dtype must be "float32" or "int32", got "float64"/, "float64");
  // An authentic int32 tensor where the model has a float32 variable: refused by the loader, named.
  refused(withHeader(good, (h) => void (h.tensors[0].dtype = "int32"), true), /tensors does not fit a CharGPT.*is int32, the model expects float32/, "int32");
});

test("changed metadata (a recorded metric, the step, the training command) is refused", () => {
  refused(withHeader(good, (h) => void (h.extra.valLoss = 0.5), false), /corrupt/, "valLoss");
  refused(withHeader(good, (h) => void (h.step = 8), false), /corrupt/, "step");
  refused(withHeader(good, (h) => void (h.extra.script = "node train.js --steps 9"), false), /corrupt/, "script");
  refused(withHeader(good, (h) => void (h.step = -1), true), /header\.step must be a non-negative integer/, "re-signed step -1");
  refused(withHeader(good, (h) => void (h.extra = [1]), true), /header\.extra must be a JSON object/, "re-signed extra");
});

test("two swapped tokenizer characters are refused; a malformed tokenizer is a CheckpointError naming extra.tokenizer", () => {
  const swap = (h: any) => {
    const c: string[] = h.extra.tokenizer.chars;
    [c[1], c[2]] = [c[2]!, c[1]!];
  };
  refused(withHeader(good, swap, false), /corrupt/, "kept SHA-256");
  refused(withHeader(good, (h) => void (h.extra.tokenizer = null), true), /extra\.tokenizer does not fit/, "null tokenizer");
});

test("a decode that fails leaks no tensor; a VAE whose last layer does not fit leaks none of the layers made before it", async () => {
  refused(withHeader(good, (h) => void (h.tensors[h.tensors.length - 1].shape = [1, 2, 3]), true), /bytes/, "last tensor's shape");
  const vae = new Vae({ inputDim: 6, hiddenDims: [4], latentDim: 2 }, new Rng(1));
  const weights = { ...vae.weights(), "decoder.1.bias": tf.zeros([5]) as tf.Tensor };
  const vfile = path.join(dir, "vae.ckpt");
  await saveCheckpoint(vfile, { kind: "vae", config: vae.config, step: 1, weights });
  tf.dispose(weights["decoder.1.bias"]);
  vae.dispose();
  const n = tf.memory().numTensors;
  assert.throws(() => loadVae(vfile), (e: unknown) => e instanceof CheckpointError && /decoder\.1\.bias/.test(e.message));
  assert.equal(tf.memory().numTensors, n, "tensors leaked by the failed VAE load");
});

test("a format-1 file (header not covered by its SHA-256) is refused unless asked for, naming the upgrade script", () => {
  const v1 = asFormat1(good);
  refused(v1, /format 1.*upgrade-checkpoints/, "format 1");
  const ckpt = decodeCheckpoint(v1, "v1.ckpt", { format1: true, kind: "char-gpt" });
  assert.equal(ckpt.step, 7);
  tf.dispose(Object.values(ckpt.weights));
  // Validated all the same: a null tensor entry in a format-1 header is a CheckpointError.
  assert.throws(() => decodeCheckpoint(withHeader(v1, (h) => void (h.tensors[0] = null), false), "v1.ckpt", { format1: true }), CheckpointError);
});

test("saving removes stale temporary files of dead processes in the folder and keeps a live process's", async () => {
  const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
  const live = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
  try {
    const names = [`gpt.ckpt.tmp-${dead}-1700000000000`, `other.ckpt.tmp-${dead}-1700000000001`, `gpt.ckpt.tmp-${live.pid}-1700000000002`, "notes.tmp-x-1"];
    for (const n of names) fs.writeFileSync(path.join(dir, n), "AIGCCKP2 half-written");
    await saveCharGPT(file, model, tok, 7, { valLoss: 1.5, script: "node train.js --steps 7" });
    const left = fs.readdirSync(dir).filter((n) => n.includes(".tmp-"));
    assert.deepEqual(left.sort(), [names[2]!, names[3]!].sort(), "only the dead process's temporary files are removed");
  } finally {
    live.kill();
  }
});

test("scripts/upgrade-checkpoints.js re-writes a format-1 file as format 2 with the same weight bytes and metadata", () => {
  const v1 = path.join(dir, "old.ckpt");
  fs.writeFileSync(v1, asFormat1(good));
  const run = spawnSync(process.execPath, [path.join(__dirname, "..", "scripts", "upgrade-checkpoints.js"), v1], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /format 1 -> 2; \d+ tensors, \d+ weight bytes bit-identical/);
  const [a, b] = [parts(good), parts(fs.readFileSync(v1))];
  assert.equal(b.format, 2);
  assert.ok(b.body.equals(a.body), "weight bytes");
  assert.deepEqual(b.header, a.header, "header (kind, config, step, extra, tensors)");
});

test("every shipped checkpoint (notebooks/checkpoints/) is format 2 and verifies", () => {
  const shipped = path.join(__dirname, "..", "..", "notebooks", "checkpoints");
  const files = fs.readdirSync(shipped).filter((f) => f.endsWith(".ckpt"));
  assert.ok(files.length >= 9, `${files.length} checkpoints`);
  for (const f of files) {
    const bytes = fs.readFileSync(path.join(shipped, f));
    assert.equal(parts(bytes).format, 2, f);
    tf.dispose(Object.values(decodeCheckpoint(bytes, f).weights));
  }
});
