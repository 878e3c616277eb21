/**
 * The check of notebooks/00-tour.ipynb's exercise (a stable softmax): expected values by log-sum-exp in
 * float64, and the wrong answers it recognises (no normalisation, overflow, reversed order, the smallest score
 * subtracted). checks/exercise-hints.test.ts shows each diagnosis.
 */
import { Exercise, expectValue, miss } from "../../notebook/exercise";

/** softmax(z) by z - logsumexp(z), in float64. */
function softmaxByLogSumExp(z: number[]): number[] {
  const top = Math.max(...z);
  const lse = top + Math.log(z.reduce((s, v) => s + Math.exp(v - top), 0));
  return z.map((v) => Math.exp(v - lse));
}

export const stableSoftmaxExercise: Exercise<(scores: number[]) => number[]> = {
  id: "stable-softmax",
  check: (stableSoftmax) => {
    for (const z of [[1, 2, 3], [5], [1001, 1002, 1003], [-800, 0, 3]]) {
      const got = stableSoftmax(z);
      const name = `stableSoftmax([${z.join(", ")}])`;
      if (!Array.isArray(got) || got.length !== z.length) miss(`${name} should return ${z.length} numbers, one weight per score; got ${JSON.stringify(got)}.`);
      const sum = got.reduce((s, v) => s + v, 0);
      expectValue(got, softmaxByLogSumExp(z), {
        name,
        atol: 1e-6,
        suspects: [
          { value: softmaxByLogSumExp(z.map((v) => -v)), hints: [`${name}: the largest score got the smallest weight. softmax gives larger scores larger weights: e^{z_i}, not e^{-z_i}.`] },
          { value: z.map((v) => Math.exp(v - Math.max(...z))), hints: [`${name}: your weights sum to ${sum.toPrecision(4)}, not 1. A softmax is a probability distribution: divide each exponential by their sum.`] },
        ],
        otherwise: Number.isFinite(sum) && Math.abs(sum - 1) > 1e-6 ? [`Your weights sum to ${sum.toPrecision(4)}; they must sum to 1.`] : [],
      });
    }
  },
  hints: [
    "softmax is shift-invariant: softmax(z - c) = softmax(z) for any constant c, because e^{-c} cancels between numerator and denominator.",
    "Choose c = the largest score: then every exponent is at most 0, nothing overflows, and the largest term is exactly 1 (the smallest score would not do: e^{z - min} can still overflow).",
    "const m = Math.max(...scores); const e = scores.map((z) => Math.exp(z - m)); then divide each by the sum of e.",
  ],
};
