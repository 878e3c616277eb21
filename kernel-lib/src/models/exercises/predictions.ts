/**
 * What the experiment exercises share (notebooks/01-attention.ipynb to notebooks/06-diffusion.ipynb): a
 * prediction written before measuring, compared with what was measured. Predictions are coarse on purpose
 * ("smaller", "about the same", "larger": within a factor `band` counts as the same), so a learner who
 * understood the mechanism gets them right without guessing digits.
 */
import { Miss, miss } from "../../notebook/exercise";

export type Direction = "smaller" | "about the same" | "larger";

/** The direction of `value` against `reference`: within a factor `band` (default 2) is "about the same". */
export function directionOf(value: number, reference: number, band = 2): Direction {
  if (value > reference * band) return "larger";
  if (value < reference / band) return "smaller";
  return "about the same";
}

/** Fails unless a prediction was written (not left undefined) before the measurement is checked. */
export function requirePrediction<P>(prediction: P | undefined, what: string): P {
  if (prediction === undefined) miss(`Write your prediction first (${what}): replace the undefined in the exercise cell, then run both cells.`);
  return prediction;
}

/** Fails with `why` when a predicted direction differs from the measured one. */
export function comparePrediction(name: string, predicted: string, measured: string, why: string): void {
  if (predicted !== measured) throw new Miss([`Your measurement is right, but your prediction is not: you predicted "${predicted}" for ${name}, and it measured "${measured}". Before changing the prediction, work out why.`, why], true);
}
