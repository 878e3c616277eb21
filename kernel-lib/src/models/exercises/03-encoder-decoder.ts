/**
 * The checks of notebooks/03-encoder-decoder.ipynb's exercises: the label-smoothed loss at one position, the mean
 * probability of the true token under teacher forcing, and beam search's exact match and log-probability by
 * width. Expected values come from float64 arithmetic written here (log softmax with the maximum subtracted)
 * and from the library's beam search; each check recognises the usual wrong answers (ε left out, ε spread over
 * the V - 1 other tokens, exp overflowing, PAD counted, the largest probability for the target's, log p for p,
 * a sum for a mean, k ignored) and says what is wrong. checks/exercise-hints-3.test.ts shows each diagnosis.
 */
import * as tf from "@tensorflow/tfjs";
import { Exercise, expectValue, miss } from "../../notebook/exercise";
import { byMode } from "../../runtime/mode";
import { dateTextPairs, DATE_VOCABS, teacherForcedLogits, TextPair } from "../seq2seq/dates-task";
import { beamDecode } from "../seq2seq/decode";
import { EncoderDecoder } from "../seq2seq/encoder-decoder";

type Smoothing = { qTarget?: (eps: number, V: number) => number; qOther?: (eps: number, V: number) => number; probs?: boolean; sign?: number };

/** -sum_v q_v log p_v in float64 (or with one of the usual mistakes, for the diagnoses). */
function smoothedByHand(logits: number[], target: number, eps: number, how: Smoothing = {}): number {
  const V = logits.length;
  const top = Math.max(...logits);
  const lse = top + Math.log(logits.reduce((s, l) => s + Math.exp(l - top), 0));
  const qTarget = (how.qTarget ?? ((e, n) => 1 - e + e / n))(eps, V);
  const qOther = (how.qOther ?? ((e, n) => e / n))(eps, V);
  const total = logits.reduce((s, l, v) => s + (v === target ? qTarget : qOther) * (how.probs ? Math.exp(l - lse) : l - lse), 0);
  return -(how.sign ?? 1) * total;
}

export const smoothedLossExercise: Exercise<(logits: number[], target: number, epsilon: number) => number> = {
  id: "smoothed-loss",
  check: (smoothedLoss) => {
    const l = [1.5, -0.5, 3, 0.2, -2];
    const got = smoothedLoss(l, 3, 0.1);
    if (typeof got !== "number") miss(`smoothedLoss should return one number (nats), got ${typeof got}.`);
    expectValue(got, smoothedByHand(l, 3, 0.1), {
      name: "smoothedLoss([1.5, -0.5, 3, 0.2, -2], 3, 0.1)",
      rtol: 1e-9,
      atol: 1e-9,
      suspects: [
        { value: smoothedByHand(l, 3, 0), hints: ["Your loss is the plain cross-entropy -log p_target: epsilon changes nothing. Smoothing moves ε of the target's weight onto all V tokens, so every token's log-probability enters with weight ε / V."] },
        { value: smoothedByHand(l, 3, 0.1, { qTarget: (e) => 1 - e, qOther: (e, n) => e / (n - 1) }), hints: ["You spread ε over the V - 1 other tokens. The lesson's q (Szegedy et al., as in Vaswani et al.) spreads ε / V over all V tokens, the target included: q_target = 1 - ε + ε / V."] },
        { value: smoothedByHand(l, 3, 0.1, { qTarget: (e) => 1 - e }), hints: ["Your q does not sum to 1: the target gets 1 - ε and the others ε / V, so ε / V is missing on the target. q_v = (1 - ε) [v = target] + ε / V for every v, the target included."] },
        { value: smoothedByHand(l, 3, 0.1, { sign: -1 }), hints: ["Your loss is negative. A cross-entropy -Σ q_v log p_v is at least 0 (log p ≤ 0): the minus sign is missing."] },
        { value: smoothedByHand(l, 3, 0.1, { probs: true }), hints: ["You weighted the probabilities p_v; the cross-entropy weights their logarithms: -Σ q_v log p_v."] },
        { value: smoothedByHand(l, 3, 0.1) / l.length, hints: ["Your value is the loss divided by V: the cross-entropy sums over the V tokens, it does not average."] },
      ],
    });
    const big = smoothedLoss([1000, 0, 0], 0, 0.1);
    if (!Number.isFinite(big)) miss(`smoothedLoss([1000, 0, 0], 0, 0.1) gave ${big}: exp(1000) overflows to Infinity. log softmax does not change when every logit is shifted by the same amount, so subtract the largest logit before exp.`);
    // Logits (1000, 0, 0), target 0: log p = (0, -1000, -1000), so the loss is 2 (ε / 3) 1000, by hand.
    expectValue(big, (2 * 1000 * 0.1) / 3, { name: "smoothedLoss([1000, 0, 0], 0, 0.1), by hand 2 (ε / 3) 1000", rtol: 1e-9 });
    // Equal logits give p = 1/V whatever the target and ε: the loss is ln V.
    expectValue(smoothedLoss([0, 0, 0, 0], 2, 0.3), Math.log(4), { name: "four equal logits (by hand ln 4)", atol: 1e-9 });
    // ε = 0 is the cross-entropy: -log(e^2 / (e^2 + 1)).
    expectValue(smoothedLoss([2, 0], 0, 0), Math.log(1 + Math.exp(-2)), { name: "logits (2, 0), ε = 0 (by hand ln(1 + e^-2))", atol: 1e-9 });
  },
  hints: [
    "log p_v = l_v - (max + log Σ_u exp(l_u - max)): the largest logit comes out before exp.",
    "Then -Σ_v ((v === target ? 1 - epsilon : 0) + epsilon / V) * log p_v.",
  ],
};

type Confidence = { countPad?: boolean; divideAll?: boolean; stat?: "p" | "max" | "logp" };

/** The mean over non-PAD positions of softmax(l)[y] in float64 (or with one of the usual mistakes). */
function meanConfidenceByHand(logits: number[][][], targets: number[][], how: Confidence = {}): number {
  let total = 0;
  let count = 0;
  let positions = 0;
  logits.forEach((rows, b) => rows.forEach((l, t) => {
    positions += 1;
    const y = targets[b]![t]!;
    if (y === 0 && !how.countPad) return;
    const top = Math.max(...l);
    const lse = top + Math.log(l.reduce((s, v) => s + Math.exp(v - top), 0));
    const stat = how.stat ?? "p";
    total += stat === "logp" ? l[y]! - lse : Math.exp((stat === "max" ? top : l[y]!) - lse);
    count += 1;
  }));
  return total / (how.divideAll ? positions : count);
}

/** What the mean-confidence check gets: the learner's function and the model it measures. */
export interface MeanConfidenceAnswer {
  measure: (logits: number[][][], targets: number[][]) => number;
  /** The model measured on the first 200 test pairs (the shipped one in quick mode). */
  model: EncoderDecoder;
}

export const meanConfidenceExercise: Exercise<MeanConfidenceAnswer> = {
  id: "mean-confidence",
  check: ({ measure, model }) => {
    // By hand: logits (0, 0, ln 3) give p = (1/5, 1/5, 3/5); targets 2, 1 and PAD (0), which must not count.
    const ln3 = Math.log(3);
    const small = [[[0, 0, ln3], [0, ln3, 0], [5, 0, 0.5]]];
    const smallTargets = [[2, 1, 0]];
    expectValue(measure(small, smallTargets), 0.6, {
      name: "logits (0, 0, ln 3), (0, ln 3, 0) with targets 2, 1 and a PAD position: by hand (3/5 + 3/5) / 2",
      atol: 1e-9,
      suspects: [
        { value: meanConfidenceByHand(small, smallTargets, { countPad: true }), hints: ["You counted the PAD position (target 0): padding only fills a batch to one length, it is not a prediction. Skip the positions whose target is 0."] },
        { value: meanConfidenceByHand(small, smallTargets, { divideAll: true }), hints: ["You skipped PAD in the sum but still divided by every position: divide by the number of positions you averaged over."] },
        { value: meanConfidenceByHand(small, smallTargets, { stat: "logp" }), hints: ["You averaged log p (that is minus the unsmoothed loss), not the probability p itself."] },
      ],
    });
    const off = [[[0, ln3, 0], [ln3, 0, 0]]];
    expectValue(measure(off, [[2, 2]]), 0.2, {
      name: "logits (0, ln 3, 0), (ln 3, 0, 0) with target 2 at both: by hand 1/5",
      atol: 1e-9,
      suspects: [{ value: 0.6, hints: ["You averaged each row's largest probability; the exercise asks for the probability at the target id, softmax(logits[b][t])[targets[b][t]], right or wrong."] }],
    });
    const big = measure([[[1000, 990, 0]]], [[1]]);
    if (!Number.isFinite(big)) miss(`Logits (1000, 990, 0) gave ${big}: exp(1000) overflows. Subtract the row's largest logit before exp; the softmax does not change.`);
    expectValue(big, 1 / (1 + Math.exp(10) + Math.exp(-990)), { name: "logits (1000, 990, 0), target 1", rtol: 1e-9 });
    // On the model: 200 test pairs, against tf.softmax in the library (no PAD among them: every date has 10 characters).
    const pairs = dateTextPairs("test").slice(0, 200);
    const measured = teacherForcedLogits(model, DATE_VOCABS, pairs);
    const reference = tf.tidy(() => {
      const p = tf.softmax(tf.tensor3d(measured.logits)); // (B, T, V)
      const y = tf.oneHot(tf.tensor2d(measured.targets, undefined, "int32"), DATE_VOCABS.target.size);
      return tf.mean(tf.sum(tf.mul(p, y), -1)).dataSync()[0]!;
    });
    const mean = measure(measured.logits, measured.targets);
    expectValue(mean, reference, { name: "on 200 test pairs, against tf.softmax", atol: 1e-5 });
    const V = DATE_VOCABS.target.size;
    return `Measured: mean probability of the true token ${mean.toFixed(4)}; the smoothed loss is lowest at 1 - ε + ε/V = ${(0.9 + 0.1 / V).toFixed(4)}.`;
  },
  hints: [
    "For each b, t with targets[b][t] !== 0: p = exp(l[y] - max) / Σ_u exp(l[u] - max), with max the row's largest logit.",
    "Sum those p and divide by how many positions you counted.",
  ],
};

/** The learner's measurement: beam search of width k on each pair; the share exactly right and the mean total log-probability. */
export type BeamScoresFn = (m: EncoderDecoder, pairs: TextPair[], k: number) => { exact: number; logProb: number };

/** What the beam-width check gets: the learner's function and the two models of the lesson. */
export interface BeamWidthAnswer {
  measure: BeamScoresFn;
  /** The shipped model, and the one trained in the lesson's training cell (briefly, in quick mode). */
  shipped: EncoderDecoder;
  trained: EncoderDecoder;
}

/** The library's beam search of width k on `pairs`: the share right and the mean log-probability. */
export function beamScoresByLibrary(m: EncoderDecoder, pairs: TextPair[], k: number): { exact: number; logProb: number; sum: number; right: number } {
  let right = 0;
  let sum = 0;
  for (const p of pairs) {
    const { ids, logProb } = beamDecode(m, DATE_VOCABS.source.encode(p.source), k);
    if (DATE_VOCABS.target.decode(ids) === p.target) right += 1;
    sum += logProb;
  }
  return { exact: right / pairs.length, logProb: sum / pairs.length, sum, right };
}

/** The validation pairs the beam-width experiment decodes: 8 in quick mode, 30 in full mode. */
export const beamExperimentPairs = (): number => byMode({ quick: 8, full: 30 });

export const beamWidthExercise: Exercise<BeamWidthAnswer> = {
  id: "beam-width",
  check: ({ measure, shipped, trained }) => {
    const pairs = dateTextPairs("val").slice(0, beamExperimentPairs());
    const models = [["shipped", shipped], ["trained here", trained]] as const;
    const table = models.map(([name, m]) => ({ name, cells: [1, 2, 4].map((w) => ({ w, ...measure(m, pairs, w) })) }));
    const got = table[0]!.cells[1]!;
    if (typeof got?.exact !== "number" || typeof got?.logProb !== "number") miss("beamScores should return { exact, logProb }, two numbers.");
    // The library's beam search at width 2 on the shipped model (nearly every date right) and at width 4 on the
    // briefly trained one (few right, but log-probabilities that differ by width).
    for (const [i, w, cell] of [[0, 2, 1], [1, 4, 2]] as const) {
      const [name, m] = models[i]!;
      const mine = table[i]!.cells[cell]!;
      const lib = beamScoresByLibrary(m, pairs, w);
      const widthOne = table[i]!.cells[0]!; // the learner's own width-1 numbers
      expectValue(mine.exact, lib.exact, {
        name: `exact match, width ${w}, ${name} model, ${pairs.length} validation pairs`,
        atol: 1e-12,
        suspects: [
          { value: lib.right, hints: ["Your exact match is a count of pairs; return the share, the count divided by pairs.length."] },
          ...(lib.exact > 0 ? [{ value: 0, hints: ["None of your outputs equals its target: turn the ids into text with tgtVocab.decode(ids) before comparing with p.target."] }] : []),
        ],
      });
      expectValue(mine.logProb, lib.logProb, {
        name: `mean log-probability, width ${w}, ${name} model`,
        atol: 1e-6,
        suspects: [
          { value: lib.sum, hints: ["You summed the log-probabilities over the pairs; return their mean."] },
          ...(Math.abs(widthOne.logProb - lib.logProb) > 1e-6 ? [{ value: widthOne.logProb, hints: [`Your width-${w} numbers equal your width-1 ones, though a wider beam finds likelier outputs here: pass k on to beamDecode(m, ids, k).`] }] : []),
          { value: -lib.logProb, hints: ["Your log-probability is positive: a log-probability is at most 0. Return logProb as beamDecode gives it."] },
        ],
      });
    }
    const lines = table.map(({ name, cells }) => {
      const text = cells.map((c) => `width ${c.w}: ${c.exact.toFixed(3)}, ${c.logProb.toFixed(3)}`).join("   ");
      return `\n${name.padEnd(13)} exact match, mean log p:   ${text}`;
    });
    return `On ${pairs.length} validation pairs:${lines.join("")}`;
  },
  hints: [
    "Per pair p: const { ids, logProb } = beamDecode(m, srcVocab.encode(p.source), k).",
    "Right if tgtVocab.decode(ids) === p.target; return { exact: right / pairs.length, logProb: sum of logProb / pairs.length }.",
  ],
};
