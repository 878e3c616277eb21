function negativeElbo(model: Vae, x: tf.Tensor1D, eps: tf.Tensor2D): number {
  return tf.tidy(() => {
    // 1) encode a batch of one, 2) reparameterise, 3) decode to logits, 4) reconstruction + KL.
    const x1 = x.reshape([1, 784]); // (1, 784)
    const { mean, logVar } = model.encode(x1); // (1, d) each
    const z = mean.add(tf.exp(logVar.mul(0.5)).mul(eps)); // (1, d)
    const reconstruction = bceWithLogits(model.decodeLogits(z), x1); // (1)
    return reconstruction.add(gaussianKl(mean, logVar)).dataSync()[0]!;
  });
}
