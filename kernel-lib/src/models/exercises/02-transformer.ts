/**
 * The checks of notebooks/02-transformer.ipynb's exercises: the sinusoidal positional encoding, LayerNorm by
 * hand, top-k sampling, and the experiment on the sampling temperature that fits held-out text best. Expected
 * values come from float64 loops written here; each check recognises the usual wrong answers (the pair's
 * frequency taken from the odd column, sin and cos swapped, the unbiased variance, epsilon outside the square
 * root, the temperature multiplied in) and says what is wrong. checks/exercise-hints.test.ts shows each diagnosis.
 */
import * as tf from "@tensorflow/tfjs";
import { Exercise, expectValue, miss } from "../../notebook/exercise";
import { Rng } from "../../runtime/random";
import * as path from "node:path";
import { loadPrideAndPrejudice, splitTrainVal } from "../../data/text";
import { CharGPT } from "../transformer/char-gpt";
import { loadCharGPT } from "../transformer/char-lm";
import { comparePrediction, requirePrediction } from "./predictions";

const pe = (T: number, d: number, exponent: (j: number) => number, sinEven = true) =>
  Array.from({ length: T }, (_, pos) => Array.from({ length: d }, (_, j) => {
    const angle = pos / Math.pow(10000, exponent(j) / d);
    return (j % 2 === 0) === sinEven ? Math.sin(angle) : Math.cos(angle);
  }));

export const sinusoidalPeExercise: Exercise<(T: number, d: number) => number[][]> = {
  id: "sinusoidal-pe",
  check: (myPositionalEncoding) => {
    const even = (j: number) => j - (j % 2);
    expectValue(myPositionalEncoding(10, 8), pe(10, 8, even), {
      name: "myPositionalEncoding(10, 8)",
      atol: 1e-6,
      suspects: [
        { value: pe(10, 8, (j) => j), hints: ["Columns 2i and 2i + 1 must share one frequency (that pairing is what makes PE(pos + k) a rotation of PE(pos)); your odd columns use exponent j / d instead of (j - 1) / d."] },
        { value: pe(10, 8, even, false), hints: ["sin and cos are swapped: column 2i holds sin(pos / 10000^(2i/d)), column 2i + 1 the cos."] },
        { value: pe(10, 8, (j) => Math.floor(j / 2)), hints: ["Your exponent is i / d; the formula's is 2i / d (2i is the even column's index), so your frequencies fall off half as fast along the columns."] },
      ],
    });
  },
  hints: ["For column j the pair index is 2i = j - (j % 2); the angle is pos / 10000^(2i / d).", "Even columns take Math.sin(angle), odd ones Math.cos(angle)."],
};

type Norm = { unbiased?: boolean; epsOutside?: boolean; affine?: boolean; eps?: number };
const layerNormLoops = (rows: number[][], gamma: number[], beta: number[], how: Norm = {}) => rows.map((x) => {
  const d = x.length;
  const mean = x.reduce((s, v) => s + v, 0) / d;
  const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / (how.unbiased ? d - 1 : d);
  const eps = how.eps ?? 1e-5;
  const denominator = how.epsOutside ? Math.sqrt(variance) + eps : Math.sqrt(variance + eps);
  return x.map((v, j) => ((v - mean) / denominator) * (how.affine === false ? 1 : gamma[j]!) + (how.affine === false ? 0 : beta[j]!));
});

export const layerNormExercise: Exercise<(rows: number[][], gamma: number[], beta: number[]) => number[][]> = {
  id: "layer-norm",
  check: (myLayerNormRows) => {
    const rows = [[1, 2, 3, 4], [10, 10, 10, 14], [-3, 0.5, 2, 7], [5, 5, 5, 5], [1, 1.002, 0.998, 1]];
    const gamma = [1, 2, 0.5, 1];
    const beta = [0, 1, 0, -1];
    const got = myLayerNormRows(rows, gamma, beta);
    if (got[3]?.some((v) => !Number.isFinite(v))) miss("Your constant row [5, 5, 5, 5] came out NaN: its variance is 0, and 0 / 0 is NaN. That is what the epsilon is for: add it to the variance before the square root.");
    expectValue(got, layerNormLoops(rows, gamma, beta), {
      name: "myLayerNormRows",
      atol: 1e-4,
      suspects: [
        { value: layerNormLoops(rows, gamma, beta, { unbiased: true }), hints: ["You divided the squared deviations by d - 1. LayerNorm uses the biased variance: divide by d (the row is the whole population here, not a sample)."] },
        { value: layerNormLoops(rows, gamma, beta, { epsOutside: true }), hints: ["Epsilon is added outside the square root; the formula adds it to the variance: sqrt(variance + 1e-5). It only shows on rows of small variance, like the constant one."] },
        { value: layerNormLoops(rows, gamma, beta, { affine: false }), hints: ["Each row is normalised, but gamma and beta are not applied: multiply column j by gamma[j] and add beta[j]."] },
      ],
    });
  },
  hints: ["Per row: mean = sum / d; variance = sum((x - mean)^2) / d; then (x - mean) / sqrt(variance + 1e-5).", "Then column j: times gamma[j], plus beta[j]."],
};

const softmaxOf = (xs: number[]) => {
  const top = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - top));
  const total = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / total);
};

export const topKSamplingExercise: Exercise<(logits: number[], k: number, temperature: number, r: Rng) => number> = {
  id: "top-k-sampling",
  check: (sampleTopK) => {
    const logits = [2.0, -1.0, 0.5, 3.0, 1.0];
    const kept = [3, 0, 4];
    const n = 12000;
    const r = new Rng(1);
    const counts = [0, 0, 0, 0, 0];
    for (let i = 0; i < n; i++) {
      const drawn = sampleTopK(logits, 3, 0.8, r);
      if (!Number.isInteger(drawn) || drawn < 0 || drawn >= logits.length) miss(`sampleTopK returned ${drawn}; it must return an index into logits (0..${logits.length - 1}).`);
      counts[drawn]! += 1;
    }
    if (counts[1]! + counts[2]! > 0) miss(`${counts[1]! + counts[2]!} of ${n} draws were indices 1 or 2, which are not among the 3 largest logits (indices 3, 0, 4): top-k keeps only the k largest and draws among them.`);
    const share = kept.map((i) => counts[i]! / n);
    const keptLogits = kept.map((i) => logits[i]!);
    expectValue(share, softmaxOf(keptLogits.map((l) => l / 0.8)), {
      name: `frequencies of indices 3, 0, 4 over ${n} draws (k = 3, temperature 0.8)`,
      atol: 0.02,
      suspects: [
        { value: softmaxOf(keptLogits), hints: ["Your frequencies are softmax(logits) of the kept logits: the temperature is not used. Divide the logits by it before the softmax."] },
        { value: softmaxOf(keptLogits.map((l) => l * 0.8)), hints: ["Your draws are flatter than they should be: you multiplied the logits by the temperature. Divide by it (a temperature below 1 sharpens)."] },
        { value: softmaxOf(logits).filter((_, i) => kept.includes(i)).sort((a, b) => b - a), hints: ["Your frequencies follow the softmax over all five logits, renormalised nowhere: after keeping the top k, take the softmax over those k only."] },
      ],
    });
    if (sampleTopK(logits, 1, 1.0, r) !== 3) miss("With k = 1 only the largest logit (index 3) can be drawn.");
  },
  hints: [
    "Sort the indices by logit, largest first, and keep k; p_j = softmax(logit_j / temperature) over those k.",
    "Draw u = r.uniform() once and walk the kept indices, adding p_j, until the running sum exceeds u.",
  ],
};

/** The learner's measurement: the mean held-out cross-entropy (nats per character) at a temperature. */
export type HeldOutLossFn = (model: CharGPT, ids: Int32Array, temperature: number) => number;

export const TEMPERATURES = [0.5, 0.8, 1, 1.25, 2] as const;
export type Temperature = (typeof TEMPERATURES)[number];

export interface TemperatureExperiment {
  /** The temperature you predict gives the lowest held-out cross-entropy. */
  prediction: Temperature | undefined;
  measure: HeldOutLossFn;
  /** The folder of the shipped checkpoint char-gpt.ckpt. Default "checkpoints" (the lessons' working directory is notebooks/). */
  dir?: string;
}

/** Cross-entropy of softmax(logits / temperature) against the next characters, in float64, per window of T. */
export function heldOutLossByHand(model: CharGPT, ids: Int32Array, temperature: number): number {
  const T = model.config.contextLength;
  const windows = Math.floor((ids.length - 1) / T);
  const logits = tf.tidy(() => model.logits(tf.tensor2d(Array.from({ length: windows }, (_, w) => Array.from(ids.subarray(w * T, w * T + T))), [windows, T], "int32")).arraySync()) as number[][][];
  let total = 0;
  logits.forEach((rows, w) => rows.forEach((row, t) => {
    const z = row.map((l) => l / temperature);
    const top = Math.max(...z);
    const lse = top + Math.log(z.reduce((s, v) => s + Math.exp(v - top), 0));
    total += lse - z[ids[w * T + t + 1]!]!;
  }));
  return total / (windows * T);
}

/** The temperature experiment's check on a loaded model; returns what was measured. */
function temperatureCheck(predicted: Temperature, measure: HeldOutLossFn, model: CharGPT, heldOut: Int32Array): string {
  const ids = heldOut.subarray(0, 16 * model.config.contextLength + 1);
  const truth = Object.fromEntries(TEMPERATURES.map((t) => [t, heldOutLossByHand(model, ids, t)])) as Record<Temperature, number>;
  for (const t of TEMPERATURES) {
    const got = measure(model, ids, t);
    expectValue(got, truth[t], {
      name: `heldOutLoss(model, ids, ${t})`,
      rtol: 1e-3,
      suspects: [
        { value: truth[t] / Math.LN2, hints: ["Your number is in bits (log base 2); report nats, the natural logarithm, as the lesson's losses are."] },
        { value: truth[(1 / t) as Temperature] ?? NaN, hints: ["Your loss at temperature t is the true loss at 1 / t: you multiplied the logits by the temperature instead of dividing."] },
        { value: truth[1], hints: ["Your number does not change with the temperature: divide the logits by it before the log-softmax."] },
      ],
      otherwise: [`Windows of model.config.contextLength characters, targets shifted by one, the mean of -log softmax(logits / t)[target] over every position.`],
    });
  }
  const best = TEMPERATURES.reduce((a, b) => (truth[b] < truth[a] ? b : a));
  comparePrediction("the temperature with the lowest held-out loss", String(predicted), String(best),
    `Training minimised exactly this cross-entropy at temperature 1, so unless the model is over- or under-confident on new text, 1 fits best. Measured: ${TEMPERATURES.map((t) => `${t}: ${truth[t].toFixed(3)}`).join(", ")} nats/char.`);
  return `Measured (nats/char): ${TEMPERATURES.map((t) => `${t}: ${truth[t].toFixed(3)}`).join(", ")}.`;
}

export const temperatureFitExercise: Exercise<TemperatureExperiment> = {
  id: "temperature-fit",
  check: ({ prediction, measure, dir = "checkpoints" }) => {
    const predicted = requirePrediction(prediction, `one of ${TEMPERATURES.join(", ")}`);
    const { model, tokenizer } = loadCharGPT(path.join(dir, "char-gpt.ckpt"));
    try {
      return temperatureCheck(predicted, measure, model, splitTrainVal(tokenizer.encode(loadPrideAndPrejudice()), 0.9).val);
    } finally {
      model.dispose();
    }
  },
  hints: [
    "Cut ids into windows: inputs ids[w T .. w T + T - 1], targets the next characters; model.logits(inputs) is (windows, T, V).",
    "Loss = mean over positions of logsumexp(logits / t) - logits[target] / t; tf.losses.softmaxCrossEntropy or tf.logSoftmax then tf.gather both do it.",
  ],
};
