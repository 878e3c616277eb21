/**
 * A seeded, bounded fuzz of checkpoint loading (kernel-lib/src/train/checkpoint-format.ts and its callers
 * loadCharGPT and loadVae) on two kinds of checkpoint made here from small models: 1,200 mutations each
 * (bit flips and byte changes in the header, the body and the SHA-256 trailer, truncations and appended
 * bytes, and structural header changes both with the stored hash and re-signed so that only validation
 * stands between them and a load). Every mutated file must either load to exactly the original weights and
 * metadata (a no-op mutation) or throw a CheckpointError; no other error, and no tensor left alive.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { CharGPT, charGPTConfig, CharTokenizer, CheckpointError, loadCharGPT, loadVae, Rng, saveCharGPT, stableJson, tf, useBestBackend, Vae, VaeConfig } from "kernel-lib";
import { parts, withHeader } from "./lib/checkpoint-bytes";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ckpt-fuzz-"));
const PER_KIND = 1200;

before(async () => {
  await useBestBackend({ verbose: false });
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** mulberry32: a small seeded generator, independent of the library's. */
function generator(seed: number): { int: (n: number) => number; pick: <T>(xs: readonly T[]) => T } {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { int, pick: (xs) => xs[int(xs.length)]! };
}

const WRONG = [null, -1, 1.5, "x", "", [], {}, true, 1e300, [1, -2], "float64", { a: 1 }];

/** One structural header mutation (the header is a deep copy). */
function mutateHeader(h: any, g: ReturnType<typeof generator>): unknown {
  const t: any[] = h.tensors;
  const i = g.int(t.length);
  const j = (i + 1 + g.int(t.length - 1)) % t.length;
  switch (g.int(12)) {
    case 0: t[i].offset += g.pick([-8, -4, -1, 1, 4, 8]); break;
    case 1: [t[i].offset, t[j].offset] = [t[j].offset, t[i].offset]; break;
    case 2: t[j].offset = t[i].offset; break;
    case 3: t[i][g.pick(["name", "dtype", "shape", "offset", "bytes"])] = g.pick(WRONG); break;
    case 4: t[i] = g.pick(WRONG); break;
    case 5: h[g.pick(["format", "kind", "config", "step", "extra", "tensors"])] = g.pick(WRONG); break;
    case 6: delete h[g.pick(["format", "kind", "config", "step", "extra", "tensors"])]; break;
    case 7: t[i].dtype = g.pick(["int32", "float64", "bool", "float32"]); break;
    case 8: t[i].shape = t[i].shape.length ? t[i].shape.map((d: number, k: number) => (k === 0 ? d + g.pick([-1, 1]) : d)) : [2]; break;
    case 9: t[i].name = t[j].name; break;
    case 10: t.splice(i, 1); break;
    default: return g.pick([null, [], 7, "header", [h]]);
  }
  return h;
}

function mutate(good: Buffer, g: ReturnType<typeof generator>): { kind: string; bytes: Buffer } {
  const p = parts(good);
  const headerEnd = good.length - p.body.length - p.trailer.length;
  const b = Buffer.from(good);
  switch (g.int(8)) {
    case 0: { const k = headerEnd + g.int(p.body.length); b[k] ^= 1 << g.int(8); return { kind: "body bit", bytes: b }; }
    case 1: { const k = g.int(headerEnd); b[k] ^= 1 << g.int(8); return { kind: "header bit", bytes: b }; }
    case 2: { const k = g.int(headerEnd); b[k] = g.int(256); return { kind: "header byte", bytes: b }; }
    case 3: { const k = good.length - 32 + g.int(32); b[k] ^= 1 << g.int(8); return { kind: "trailer bit", bytes: b }; }
    case 4: return { kind: "truncation", bytes: good.subarray(0, g.int(good.length)) };
    case 5: return { kind: "appended", bytes: Buffer.concat([good, Buffer.alloc(1 + g.int(64), g.int(256))]) };
    case 6: return { kind: "header, kept hash", bytes: withHeader(good, (h) => mutateHeader(h, g), false) };
    default: return { kind: "header, re-signed", bytes: withHeader(good, (h) => mutateHeader(h, g), true) };
  }
}

interface Loaded {
  weights: Record<string, tf.Tensor>;
  meta: unknown;
  dispose: () => void;
}

const bytesOf = (t: tf.Tensor): Buffer => {
  const d = t.dataSync();
  return Buffer.from(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
};

/** Runs the mutations and returns the outcome counts; asserts nothing loads wrongly and nothing leaks. */
function fuzz(name: string, seed: number, good: Buffer, load: (file: string) => Loaded, original: Loaded): Record<string, number> {
  const g = generator(seed);
  const want = new Map(Object.entries(original.weights).map(([k, t]) => [k, bytesOf(t)]));
  const file = path.join(dir, `${name}.ckpt`);
  const counts: Record<string, number> = { mutations: 0, checkpointError: 0, identicalLoad: 0 };
  const failures: string[] = [];
  const start = tf.memory().numTensors;
  for (let n = 0; n < PER_KIND; n++) {
    const m = mutate(good, g);
    fs.writeFileSync(file, m.bytes);
    counts["mutations"]!++;
    counts[m.kind] = (counts[m.kind] ?? 0) + 1;
    const before = tf.memory().numTensors;
    try {
      const got = load(file);
      const same = stableJson(got.meta) === stableJson(original.meta) && Object.keys(got.weights).length === want.size && Object.entries(got.weights).every(([k, t]) => want.get(k)?.equals(bytesOf(t)));
      got.dispose();
      if (same) counts["identicalLoad"]!++;
      else failures.push(`#${n} ${m.kind}: loaded silently with other weights or metadata`);
    } catch (e) {
      if (e instanceof CheckpointError) counts["checkpointError"]!++;
      else failures.push(`#${n} ${m.kind}: ${(e as Error).name}: ${(e as Error).message}`);
    }
    if (tf.memory().numTensors !== before) failures.push(`#${n} ${m.kind}: ${tf.memory().numTensors - before} tensors leaked`);
  }
  const tally = (re: RegExp) => failures.filter((f) => re.test(f)).length;
  const summary = `${failures.length} failures of ${PER_KIND}: ${tally(/silently/)} silent loads, ${tally(/leaked$/)} leaks, ${failures.length - tally(/silently|leaked$/)} other errors`;
  assert.deepEqual(failures.slice(0, 10), [], summary);
  assert.equal(tf.memory().numTensors, start, "tensors alive after the fuzz");
  return counts;
}

test(`fuzz: ${PER_KIND} mutations of a char-GPT checkpoint; 0 silent loads, 0 other errors, 0 leaks`, async () => {
  const tok = CharTokenizer.fromText("It is a truth universally acknowledged, that a single man.");
  const config = charGPTConfig("tiny", tok.vocabSize);
  const model = new CharGPT({ ...config, contextLength: 8 }, new Rng(3));
  const good = path.join(dir, "gpt-good.ckpt");
  await saveCharGPT(good, model, tok, 42, { valLoss: 1.25, script: "fuzz" });
  const load = (f: string): Loaded => {
    const l = loadCharGPT(f, { ...config, contextLength: 8 });
    return { weights: l.model.variables(), meta: [l.step, l.extra, l.tokenizer.chars], dispose: () => l.model.dispose() };
  };
  const original = load(good);
  const t0 = Date.now();
  const counts = fuzz("gpt", 19, fs.readFileSync(good), load, original);
  console.log(`char-gpt fuzz: ${JSON.stringify(counts)} in ${Date.now() - t0} ms`);
  original.dispose();
  model.dispose();
  assert.equal(counts["mutations"], PER_KIND);
});

test(`fuzz: ${PER_KIND} mutations of a VAE checkpoint; 0 silent loads, 0 other errors, 0 leaks`, async () => {
  const config: VaeConfig = { inputDim: 12, hiddenDims: [8, 6], latentDim: 3 };
  const model = new Vae(config, new Rng(4));
  const good = path.join(dir, "vae-good.ckpt");
  await model.save(good, 9, { test: { loss: 12.5 }, madeBy: "fuzz" });
  const load = (f: string): Loaded => {
    const l = loadVae(f, config);
    return { weights: l.model.weights(), meta: [l.step, l.extra], dispose: () => l.model.dispose() };
  };
  const original = load(good);
  const t0 = Date.now();
  const counts = fuzz("vae", 20, fs.readFileSync(good), load, original);
  console.log(`vae fuzz: ${JSON.stringify(counts)} in ${Date.now() - t0} ms`);
  original.dispose();
  model.dispose();
  assert.equal(counts["mutations"], PER_KIND);
});
