import { Trend, Rng, Vae, VaeTrainer } from "kernel-lib";

// Prediction, before measuring: at beta = 4 each nat of KL costs four times as much, so the encoder keeps less
// about x (the KL falls) and the decoder has less to go on (the reconstruction term rises).
const betaPrediction: { kl: Trend; reconstruction: Trend } | undefined = { kl: "falls", reconstruction: "rises" };

function betaRun(beta: number, train: tf.Tensor, test: tf.Tensor): { kl: number; reconstruction: number } {
  // 1) the exercise's small VAE with the KL weighted by beta, 2) three epochs, 3) the unweighted test terms.
  const model = new Vae({ inputDim: 784, hiddenDims: [64], latentDim: 8 }, new Rng(7));
  model.klWeight = beta;
  const trainer = new VaeTrainer(model, train, { batchSize: 100, learningRate: 2e-3, rng: new Rng(8) });
  for (let i = 0; i < 3 * trainer.stepsPerEpoch; i++) tf.dispose(Object.values(trainer.step()));
  const terms = tf.tidy(() => {
    const l = model.loss(test, 1);
    return { kl: l.kl.dataSync()[0]!, reconstruction: l.reconstruction.dataSync()[0]! };
  });
  trainer.dispose();
  model.dispose();
  return terms;
}
