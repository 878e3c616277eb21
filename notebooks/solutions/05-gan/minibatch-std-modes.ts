import { RingGenerator, ringCoverage, sampleLatent } from "kernel-lib";

// Prediction, before measuring: on the evaluation codes the plain generator covered 5 modes and the one with
// minibatch std all 8. The lost modes get (almost) no mass from G, so fresh codes should not bring them back.
const modesPrediction: { plain: number; remedy: number } | undefined = { plain: 5, remedy: 8 };

function modesOnFreshCodes(g: RingGenerator, n: number, seed: number): number {
  // 1) fresh codes, 2) through G, 3) PacGAN's count (at least 1% of the samples within 3 std of a centre).
  const points = tf.tidy(() => g.generator.apply(sampleLatent(n, g.latentDim, seed)).dataSync());
  return ringCoverage(points).modesCovered;
}
