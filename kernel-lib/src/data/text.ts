/**
 * Text corpora for the language-model lessons: loading a gzipped text whose SHA-256 is checked, the
 * train/validation split, random training batches and the full validation pass.
 * Taught in notebooks/02-transformer.ipynb.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import * as tf from "@tensorflow/tfjs";
import { eventLoopTurns } from "../runtime/event-loop";
import { Rng, rng as globalRng } from "../runtime/random";

/** Raised when a corpus file is missing or its checksum does not match. */
export class CorpusError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CorpusError";
  }
}

/** Pride and Prejudice as shipped in datasets/austen/ (see its README.md for provenance and licence). */
export const PRIDE_AND_PREJUDICE = {
  file: "austen/prideprejudice.txt.gz",
  /** SHA-256 of the .gz file. */
  sha256: "96c4f90d77b6be0fdea103138decbbf0ecd10b15eec26a5927c9fb459a90cc7e",
  /** Characters after decompression. */
  chars: 684768,
} as const;

/** The repository's datasets/ folder (kernel-lib lives in <repo>/kernel-lib/dist). */
export function datasetsDir(): string {
  return path.resolve(__dirname, "..", "..", "..", "datasets");
}

/** Reads a gzipped UTF-8 text file after checking the SHA-256 of its bytes. */
export function loadGzipText(file: string, sha256: string): string {
  if (!fs.existsSync(file)) throw new CorpusError(`${file}: no such file`);
  const bytes = fs.readFileSync(file);
  const actual = crypto.createHash("sha256").update(bytes).digest("hex");
  if (actual !== sha256) throw new CorpusError(`${file}: SHA-256 is ${actual}, expected ${sha256}; the file is corrupt or not the one this lesson was written for`);
  return zlib.gunzipSync(bytes).toString("utf8");
}

/** Pride and Prejudice as one string (684,768 characters), checksum verified. */
export function loadPrideAndPrejudice(dir: string = datasetsDir()): string {
  const text = loadGzipText(path.join(dir, PRIDE_AND_PREJUDICE.file), PRIDE_AND_PREJUDICE.sha256);
  if (text.length !== PRIDE_AND_PREJUDICE.chars) throw new CorpusError(`Pride and Prejudice has ${text.length} characters, expected ${PRIDE_AND_PREJUDICE.chars}`);
  return text;
}

/** The first `fraction` of the ids for training, the rest for validation (no shuffling: the split is by position). */
export function splitTrainVal(ids: Int32Array, fraction = 0.9): { train: Int32Array; val: Int32Array } {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`splitTrainVal: fraction must be in (0, 1), got ${fraction}`);
  const n = Math.floor(ids.length * fraction);
  return { train: ids.subarray(0, n), val: ids.subarray(n) };
}

/**
 * A batch of `batchSize` windows of T characters at random offsets: x = ids[o .. o+T), y = ids[o+1 .. o+T+1)
 * (each target is the character after its input). Both (batchSize, T) int32; the caller disposes them.
 */
export function randomBatch(ids: Int32Array, batchSize: number, T: number, r: Rng = globalRng()): { x: tf.Tensor2D; y: tf.Tensor2D } {
  if (ids.length < T + 1) throw new RangeError(`randomBatch: ${ids.length} ids are too few for windows of ${T} + 1`);
  const x = new Int32Array(batchSize * T);
  const y = new Int32Array(batchSize * T);
  for (let b = 0; b < batchSize; b++) {
    const o = r.int(ids.length - T);
    x.set(ids.subarray(o, o + T), b * T);
    y.set(ids.subarray(o + 1, o + T + 1), b * T);
  }
  return { x: tf.tensor2d(x, [batchSize, T], "int32"), y: tf.tensor2d(y, [batchSize, T], "int32") };
}

/**
 * Mean cross-entropy over ALL of `ids` (nats per character), cut into consecutive windows of T characters
 * (the last one shorter), each predicting its T next characters. Every character after the first is
 * predicted exactly once; a character at the start of a window sees less context than the model could
 * use, so this slightly overestimates the loss of a sliding window. `lossOf(x, y)` returns the mean loss
 * of a batch (a scalar the caller's model computes); batches of `batchSize` windows keep memory small.
 */
export async function evaluateLoss(ids: Int32Array, T: number, lossOf: (x: tf.Tensor2D, y: tf.Tensor2D) => tf.Scalar, batchSize = 64): Promise<number> {
  const targets = ids.length - 1;
  if (targets < 1) throw new RangeError("evaluateLoss: need at least 2 ids");
  let total = 0;
  let count = 0;
  const full = Math.floor(targets / T);
  const batch = async (starts: number[], len: number) => {
    const x = new Int32Array(starts.length * len);
    const y = new Int32Array(starts.length * len);
    starts.forEach((o, b) => {
      x.set(ids.subarray(o, o + len), b * len);
      y.set(ids.subarray(o + 1, o + len + 1), b * len);
    });
    const loss = tf.tidy(() => lossOf(tf.tensor2d(x, [starts.length, len], "int32"), tf.tensor2d(y, [starts.length, len], "int32")));
    const v = (await loss.data())[0]!;
    loss.dispose();
    total += v * starts.length * len;
    count += starts.length * len;
  };
  // A long evaluation (all 68,477 held-out characters) must not starve the kernel's event loop.
  const turn = eventLoopTurns();
  for (let w = 0; w < full; w += batchSize) {
    const starts = Array.from({ length: Math.min(batchSize, full - w) }, (_, i) => (w + i) * T);
    await batch(starts, T);
    await turn();
  }
  const rest = targets - full * T;
  if (rest > 0) await batch([full * T], rest);
  return total / count;
}
