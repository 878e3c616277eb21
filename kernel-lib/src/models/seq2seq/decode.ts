/**
 * Decoding an encoder-decoder: greedy (the most likely next token, step by step, a batch at a time) and beam
 * search (keep the `beam` most likely prefixes by total log-probability; a finished hypothesis leaves the beam),
 * and the exact-match accuracy of either on a set of pairs. Taught in notebooks/03-encoder-decoder.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { EncoderDecoder } from "./encoder-decoder";
import { BOS, EOS, padBatch } from "./vocab";

/** Greedy decoding of a batch of source id rows: each output's ids up to (not including) EOS. */
export function greedyDecode(model: EncoderDecoder, sources: number[][], maxLen = model.config.maxTgtLen): number[][] {
  const { ids, shape } = padBatch(sources);
  const src = tf.tensor2d(ids, shape, "int32");
  const srcMask = model.sourceMask(src);
  const memory = model.encode(src, srcMask);
  const rows = sources.map(() => [BOS]);
  const done = sources.map(() => false);
  try {
    for (let t = 1; t < maxLen && done.some((d) => !d); t++) {
      const next = tf.tidy(() => {
        const logits = model.decode(memory, srcMask, tf.tensor2d(rows.flat(), [rows.length, t], "int32")).logits; // (B, t, V)
        return tf.argMax(logits.slice([0, t - 1, 0], [rows.length, 1, -1]).reshape([rows.length, -1]), 1).dataSync();
      });
      rows.forEach((r, b) => {
        r.push(done[b] ? EOS : next[b]!);
        if (next[b] === EOS) done[b] = true;
      });
    }
  } finally {
    tf.dispose([src, srcMask, memory]);
  }
  return rows.map((r) => {
    const end = r.indexOf(EOS, 1);
    return r.slice(1, end < 0 ? undefined : end);
  });
}

/** Beam search for one source: the highest-scoring finished hypothesis (sum of log-probabilities), without EOS. */
export function beamDecode(model: EncoderDecoder, source: number[], beam = 4, maxLen = model.config.maxTgtLen): { ids: number[]; logProb: number } {
  if (!Number.isInteger(beam) || beam < 1) throw new RangeError(`beamDecode: beam must be a positive integer, got ${beam}`);
  const src = tf.tensor2d(source, [1, source.length], "int32");
  const srcMask = model.sourceMask(src);
  const memory = model.encode(src, srcMask);
  let alive: { ids: number[]; logProb: number }[] = [{ ids: [BOS], logProb: 0 }];
  const finished: { ids: number[]; logProb: number }[] = [];
  try {
    for (let t = 1; t < maxLen && alive.length; t++) {
      const k = alive.length;
      const logp = tf.tidy(() => {
        const mem = tf.tile(memory, [k, 1, 1]);
        const mask = tf.tile(srcMask, [k, 1, 1, 1]);
        const logits = model.decode(mem, mask, tf.tensor2d(alive.flatMap((h) => h.ids), [k, t], "int32")).logits;
        return tf.logSoftmax(logits.slice([0, t - 1, 0], [k, 1, -1]).reshape([k, -1])).arraySync() as number[][];
      });
      const candidates = alive.flatMap((h, i) => logp[i]!.map((lp, tok) => ({ ids: [...h.ids, tok], logProb: h.logProb + lp })));
      candidates.sort((a, b) => b.logProb - a.logProb);
      // Best first: a candidate ending in EOS is finished; the others fill the beam.
      alive = [];
      for (const c of candidates) {
        if (c.ids[c.ids.length - 1] === EOS) finished.push(c);
        else alive.push(c);
        if (alive.length === beam) break;
      }
      // Stop once the best finished hypothesis beats every live one (log-probabilities only fall).
      const best = Math.max(...finished.map((f) => f.logProb));
      if (finished.length && alive.every((h) => h.logProb < best)) break;
    }
  } finally {
    tf.dispose([src, srcMask, memory]);
  }
  const pool = finished.length ? finished : alive;
  const top = pool.reduce((a, b) => (b.logProb > a.logProb ? b : a));
  const end = top.ids.indexOf(EOS, 1);
  return { ids: top.ids.slice(1, end < 0 ? undefined : end), logProb: top.logProb };
}

/** The share of pairs whose decoded output equals the target exactly. */
export function exactMatch(decoded: string[], targets: string[]): number {
  if (decoded.length !== targets.length || decoded.length === 0) throw new RangeError(`exactMatch: ${decoded.length} outputs for ${targets.length} targets`);
  return decoded.filter((d, i) => d === targets[i]).length / decoded.length;
}

/** The share of target characters that the decoded output has at the same position (a missing one is wrong). */
export function characterAccuracy(decoded: string[], targets: string[]): number {
  if (decoded.length !== targets.length || decoded.length === 0) throw new RangeError(`characterAccuracy: ${decoded.length} outputs for ${targets.length} targets`);
  let right = 0;
  let total = 0;
  decoded.forEach((d, i) => {
    const t = targets[i]!;
    for (let j = 0; j < t.length; j++) right += d[j] === t[j] ? 1 : 0;
    total += t.length;
  });
  return right / total;
}
