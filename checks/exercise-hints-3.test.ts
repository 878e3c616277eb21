/**
 * The exercise checks of lessons 03 and 07 (kernel-lib/src/models/exercises/03-encoder-decoder.ts and
 * 07-latent-diffusion.ts): each passes on the reference solution and fails on deliberately wrong answers with the
 * diagnosis that names the mistake; a wrong answer checked again adds the next hint. Lessons 00-02:
 * exercise-hints.test.ts; 04-06: exercise-hints-2.test.ts.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import * as kernelLib from "kernel-lib";
import { beamDecode, DATE_VOCABS, dateSeq2SeqConfig, EncoderDecoder, Rng, tf, TextPair } from "kernel-lib";
import { checkpointsDir, diagnoses, passes, solved, verdict } from "./lib/exercise-verdicts";

type T = tf.Tensor;
const vocabs = { srcVocab: DATE_VOCABS.source, tgtVocab: DATE_VOCABS.target };
let shipped: EncoderDecoder;
let untrained: EncoderDecoder;
let pair: kernelLib.LatentDiffusionPair;

before(async () => {
  await kernelLib.useBestBackend({ verbose: false });
  shipped = kernelLib.loadSeq2Seq(path.join(checkpointsDir, "seq2seq-dates.ckpt")).model;
  untrained = new EncoderDecoder(dateSeq2SeqConfig(), new Rng(5));
  pair = kernelLib.loadLatentDiffusionPair(checkpointsDir);
});

after(() => {
  shipped.dispose();
  untrained.dispose();
  pair.dispose();
});

/** -sum_v q_v log p_v, written several ways: right, and with the usual mistakes. */
const smoothed = (o: { eps?: (e: number) => number; others?: "all" | "rest"; noMax?: boolean; sign?: number; probs?: boolean }) =>
  (l: number[], y: number, e: number) => {
    const V = l.length;
    const top = o.noMax ? 0 : Math.max(...l);
    const lse = top + Math.log(l.reduce((s, v) => s + Math.exp(v - top), 0));
    const eps = (o.eps ?? ((x) => x))(e);
    const q = (v: number) => (o.others === "rest" ? (v === y ? 1 - eps : eps / (V - 1)) : (v === y ? 1 - eps : 0) + eps / V);
    return -(o.sign ?? 1) * l.reduce((s, v, k) => s + q(k) * (o.probs ? Math.exp(v - lse) : v - lse), 0);
  };

test("03 smoothed-loss: the solution passes; ε ignored, ε over V - 1 tokens, overflow, a sign, p for log p are named", async () => {
  await passes("smoothed-loss", solved("03-encoder-decoder", "smoothed-loss"));
  await passes("smoothed-loss", smoothed({}));
  await diagnoses("smoothed-loss", smoothed({ eps: () => 0 }), /plain cross-entropy/, "no smoothing");
  await diagnoses("smoothed-loss", smoothed({ others: "rest" }), /V - 1 other tokens/, "ε / (V - 1) on the others");
  await diagnoses("smoothed-loss", smoothed({ noMax: true }), /overflows.*subtract the largest logit/, "no max subtracted");
  await diagnoses("smoothed-loss", smoothed({ sign: -1 }), /minus sign is missing/, "no minus");
  await diagnoses("smoothed-loss", smoothed({ probs: true }), /weighted the probabilities/, "p for log p");
});

test("03 smoothed-loss: the same wrong answer checked again shows the general hints in turn, the last near the answer", async () => {
  const wrong = smoothed({ eps: () => 0 });
  const first = await verdict("smoothed-loss", wrong);
  const second = await verdict("smoothed-loss", wrong, false);
  const third = await verdict("smoothed-loss", wrong, false);
  assert.deepEqual([first.hints.length, second.hints.length, third.hints.length], [1, 2, 3]);
  assert.match(second.hints[1]!, /largest logit comes out before exp/);
  assert.match(third.hints[2]!, /1 - epsilon : 0\) \+ epsilon \/ V/);
});

/** The mean target probability, written several ways. */
const confidence = (o: { pad?: boolean; max?: boolean; log?: boolean; noMax?: boolean }) => (logits: number[][][], targets: number[][]) => {
  let [total, count] = [0, 0];
  logits.forEach((rows, b) => rows.forEach((l, t) => {
    const y = targets[b]![t]!;
    if (y === 0 && !o.pad) return;
    const top = o.noMax ? 0 : Math.max(...l);
    const z = l.reduce((s, v) => s + Math.exp(v - top), 0);
    const p = Math.exp((o.max ? Math.max(...l) : l[y]!) - top) / z;
    total += o.log ? Math.log(p) : p;
    count += 1;
  }));
  return total / count;
};

test("03 mean-confidence: the solution passes on the shipped model; PAD counted, the row's maximum, log p, overflow are named", async () => {
  await passes("mean-confidence", { measure: solved("03-encoder-decoder", "mean-confidence"), model: shipped });
  const on = (f: ReturnType<typeof confidence>) => ({ measure: f, model: shipped });
  await diagnoses("mean-confidence", on(confidence({ pad: true })), /counted the PAD position/, "PAD counted");
  await diagnoses("mean-confidence", on(confidence({ max: true })), /largest probability/, "max instead of the target");
  await diagnoses("mean-confidence", on(confidence({ log: true })), /averaged log p/, "log p");
  await diagnoses("mean-confidence", on(confidence({ noMax: true })), /overflows/, "no max subtracted");
});

/** beamScores written several ways. */
const beamScores = (o: { sum?: boolean; count?: boolean; width?: number; noDecode?: boolean }) => (m: EncoderDecoder, pairs: TextPair[], k: number) => {
  let [right, logProbs] = [0, 0];
  for (const p of pairs) {
    const { ids, logProb } = beamDecode(m, DATE_VOCABS.source.encode(p.source), o.width ?? k);
    const out = o.noDecode ? ids.join(",") : DATE_VOCABS.target.decode(ids);
    if (out === p.target) right += 1;
    logProbs += logProb;
  }
  return { exact: o.count ? right : right / pairs.length, logProb: o.sum ? logProbs : logProbs / pairs.length };
};

test("03 beam-width: the solution passes; a count for a share, ids not decoded, a sum for a mean, k ignored are named", async () => {
  const answer = (measure: unknown) => ({ measure, shipped, trained: untrained });
  await passes("beam-width", answer(solved("03-encoder-decoder", "beam-width", vocabs)));
  await diagnoses("beam-width", answer(beamScores({ count: true })), /count of pairs; return the share/, "a count");
  await diagnoses("beam-width", answer(beamScores({ noDecode: true })), /tgtVocab\.decode/, "ids compared with text");
  await diagnoses("beam-width", answer(beamScores({ sum: true })), /summed the log-probabilities/, "a sum");
  await diagnoses("beam-width", answer(beamScores({ width: 1 })), /equal your width-1 ones/, "k ignored");
});

const guided = (c: number, n: (w: number) => number, g: (w: number) => number) => (epsCond: T, epsNull: T, w: number) =>
  tf.tidy(() => tf.add(tf.mul(c + g(w), epsCond), tf.mul(n(w), epsNull)));

test("07 guided-eps: the solution passes; swapped estimates, the guidance-scale convention, a plus sign are named", async () => {
  await passes("guided-eps", { combine: solved("07-latent-diffusion", "guided-eps"), pair });
  const on = (combine: unknown) => ({ combine, pair });
  await passes("guided-eps", on(guided(1, (w) => -w, (w) => w)));
  await diagnoses("guided-eps", on(guided(0, (w) => 1 + w, (w) => -w)), /swapped/, "swapped");
  await diagnoses("guided-eps", on(guided(0, (w) => 1 - w, (w) => w)), /guidance scale/, "scale w, not 1 + w");
  await diagnoses("guided-eps", on(guided(1, (w) => w, (w) => w)), /subtracted, not added/, "+ w epsNull");
});

test("07 guided-eps: the check leaves no tensors behind, on a right and on a wrong answer", async () => {
  const on = (combine: unknown) => ({ combine, pair });
  const before = tf.memory().numTensors;
  await verdict("guided-eps", on(guided(1, (w) => -w, (w) => w)));
  await verdict("guided-eps", on(guided(0, (w) => 1 + w, (w) => -w)));
  assert.equal(tf.memory().numTensors, before);
});

const scaleOf = (how: (v: number[]) => number) => (latents: T) => how(Array.from(latents.dataSync()));
const moments = (v: number[], centred = true, ddof = 0) => {
  const m = centred ? v.reduce((s, x) => s + x, 0) / v.length : 0;
  return v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - ddof);
};

test("07 scale-factor: the solution passes; the variance, the std itself, no mean subtracted, n - 1 are named", async () => {
  const images = kernelLib.loadFashionMnist({ split: "test", source: "subset", limit: 100 }).images;
  try {
    const on = (measure: unknown) => ({ measure, pair, images });
    await passes("scale-factor", on(solved("07-latent-diffusion", "scale-factor")));
    await diagnoses("scale-factor", on(scaleOf((v) => 1 / moments(v))), /divided by the variance/, "1 / variance");
    await diagnoses("scale-factor", on(scaleOf((v) => Math.sqrt(moments(v)))), /reciprocal/, "std");
    await diagnoses("scale-factor", on(scaleOf((v) => 1 / Math.sqrt(moments(v, false)))), /root mean square/, "no mean");
    await diagnoses("scale-factor", on(scaleOf((v) => 1 / Math.sqrt(moments(v, true, 1)))), /n - 1/, "unbiased variance");
  } finally {
    images.dispose();
  }
});

test("07 guidance-prediction (experiment): the reference prediction passes; a wrong one is told what was measured and why", async () => {
  const on = (predict: unknown) => ({ predict, pair, dir: checkpointsDir });
  await passes("guidance-prediction", on(solved("07-latent-diffusion", "guidance-prediction")));
  const wrong = on(() => ({ accuracyHigher: false, varianceLower: true }));
  const first = await verdict("guidance-prediction", wrong);
  assert.ok(!first.passed);
  assert.match(first.hints[0]!, /your prediction is not: you predicted "no" for class accuracy higher/);
  const second = await verdict("guidance-prediction", wrong, false);
  assert.match(second.hints[1]!, /Measured, w = 0: class accuracy .* p\(y \| z\)\^\(1 \+ w\)/);
  await diagnoses("guidance-prediction", on(() => ({ accuracyHigher: true })), /each true or false/, "half a prediction");
});
