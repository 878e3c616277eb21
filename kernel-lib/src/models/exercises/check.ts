/**
 * `checkExercise(id, answer)`: the one call of every exercise's check cell, in notebooks/00-tour.ipynb to
 * notebooks/07-latent-diffusion.ipynb. The id picks the exercise's check (one file per lesson beside this one), and
 * the answer's type is the exercise's, so a learner's function with the wrong signature is a type error in
 * the check cell. Hints escalate on repeated failures (kernel-lib/src/notebook/exercise.ts).
 */
import { Exercise, runExercise } from "../../notebook/exercise";
import { stableSoftmaxExercise } from "./00-tour";
import { attentionFromMatmulExercise, causalMaskExercise, paddingMaskExercise, scoreScaleExercise } from "./01-attention";
import { layerNormExercise, sinusoidalPeExercise, temperatureFitExercise, topKSamplingExercise } from "./02-transformer";
import { beamWidthExercise, meanConfidenceExercise, smoothedLossExercise } from "./03-encoder-decoder";
import { betaVaeExercise, elboOneImageExercise, klTermExercise, reparameterizeExercise } from "./04-vae";
import { countModesExercise, minibatchStdModesExercise, nonSaturatingLossExercise, optimalDExercise } from "./05-gan";
import { ddimStepExercise, ddimStepsExercise, noisyAtExercise, posteriorMeanExercise } from "./06-diffusion";
import { guidanceExperimentExercise, guidedEpsExercise, scaleFactorExercise } from "./07-latent-diffusion";

const exercises = {
  "stable-softmax": stableSoftmaxExercise,
  "causal-mask": causalMaskExercise,
  "attention-from-matmul": attentionFromMatmulExercise,
  "padding-mask": paddingMaskExercise,
  "score-scale": scoreScaleExercise,
  "sinusoidal-pe": sinusoidalPeExercise,
  "layer-norm": layerNormExercise,
  "top-k-sampling": topKSamplingExercise,
  "temperature-fit": temperatureFitExercise,
  "smoothed-loss": smoothedLossExercise,
  "mean-confidence": meanConfidenceExercise,
  "beam-width": beamWidthExercise,
  "kl-term": klTermExercise,
  "reparameterize": reparameterizeExercise,
  "elbo-one-image": elboOneImageExercise,
  "beta-vae": betaVaeExercise,
  "non-saturating-loss": nonSaturatingLossExercise,
  "optimal-d": optimalDExercise,
  "count-modes": countModesExercise,
  "minibatch-std-modes": minibatchStdModesExercise,
  "noisy-at": noisyAtExercise,
  "posterior-mean": posteriorMeanExercise,
  "ddim-step": ddimStepExercise,
  "ddim-steps": ddimStepsExercise,
  "guided-eps": guidedEpsExercise,
  "scale-factor": scaleFactorExercise,
  "guidance-prediction": guidanceExperimentExercise,
};

/** Every exercise by id. */
export type Exercises = typeof exercises;
/** What the check cell of exercise `K` passes. */
export type AnswerOf<K extends keyof Exercises> = Exercises[K] extends Exercise<infer A> ? A : never;

/** The ids of every lesson's exercises. */
export const exerciseIds = Object.keys(exercises) as (keyof Exercises)[];

/**
 * Checks the learner's answer to exercise `id` and prints the verdict ("correct", or "not yet" with a
 * diagnosis and, on later failures, more hints).
 */
export async function checkExercise<K extends keyof Exercises>(id: K, answer: AnswerOf<K>): Promise<void>;
/**
 * The older form, for a check written in the notebook itself: `test` throws when the answer is wrong, and
 * `hint` is the one hint.
 */
export async function checkExercise(id: string, test: () => void | Promise<void>, hint: string): Promise<void>;
export async function checkExercise(id: string, answer: unknown, hint?: string): Promise<void> {
  if (typeof hint === "string") {
    if (typeof answer !== "function") throw new TypeError(`checkExercise("${id}", test, hint): test must be a function`);
    await runExercise({ id, check: () => (answer as () => void | Promise<void>)(), hints: [hint] }, undefined);
    return;
  }
  if (!(id in exercises)) throw new RangeError(`checkExercise: no exercise "${id}"; the exercises are ${exerciseIds.join(", ")}`);
  await runExercise(exercises[id as keyof Exercises] as unknown as Exercise<unknown>, answer);
}
