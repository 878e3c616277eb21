/**
 * What every VAE of the pack shares, whatever its encoder and decoder: the per-image loss terms with one
 * reparameterised sample, the batch loss, an optimisation step, reconstructions, samples, interpolation, the
 * evaluation over a set, saving and disposing. A subclass gives the encoder q(z|x), the decoder's Bernoulli
 * logits and its weights: the MLP {@link Vae} (vae.ts) and the convolutional {@link ConvVae} (conv-vae.ts).
 * Taught in notebooks/04-vae.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { VaeLoss, bceWithLogits, gaussianKl, reparameterize } from "./losses";
import { Checkpoint, saveCheckpoint } from "../../train/checkpoint";

export abstract class VaeModel {
  protected disposed = false;
  /**
   * The weight β of the KL term in the training objective reconstruction + β·KL (1: the ELBO itself; latent
   * diffusion's autoencoder uses a tiny β). Evaluation always reports the ELBO's two terms unweighted.
   */
  klWeight = 1;
  /** The class's name, for error messages. */
  protected abstract readonly label: string;
  /** Size of the code z. */
  abstract readonly latentDim: number;
  /** The weights by checkpoint name. */
  abstract weights(): Record<string, tf.Variable>;
  /** q(z|x): the mean and log-variance of the encoder's Gaussian, (B, latentDim) each. */
  abstract encode(x: tf.Tensor): { mean: tf.Tensor2D; logVar: tf.Tensor2D };
  /** p(x|z) as Bernoulli logits: z (B, latentDim) -> (B, pixels). */
  abstract decodeLogits(z: tf.Tensor): tf.Tensor2D;
  /** A batch of images flattened to (B, pixels), checking its size. */
  protected abstract flat(x: tf.Tensor): tf.Tensor2D;
  /** A checkpoint of this model (weights are read when it is saved; nothing is copied). */
  abstract toCheckpoint(step: number, extra?: Record<string, unknown>): Checkpoint;

  /** Number of trainable numbers. */
  parameterCount(): number {
    return Object.values(this.weights()).reduce((s, v) => s + v.size, 0);
  }

  /** The decoder's pixel means sigmoid(logits): z (B, d) -> (B, 784) in (0, 1). */
  decode(z: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => tf.sigmoid(this.decodeLogits(z)) as tf.Tensor2D);
  }

  /**
   * The per-image loss terms for a batch, with one reparameterised sample z = mean + sigma * eps.
   * `noise` is eps (B, d), or a seed to draw it. Returns (B)-vectors; see {@link VaeModel.loss} for the batch mean.
   */
  lossPerImage(x: tf.Tensor, noise: tf.Tensor | number): VaeLoss<tf.Tensor1D> {
    this.assertAlive();
    return tf.tidy(() => {
      // 1) encode, 2) sample z by reparameterisation, 3) decode to logits, 4) the two terms.
      const xf = this.flat(x);
      const { mean, logVar } = this.encode(xf);
      const eps = typeof noise === "number" ? tf.randomNormal(mean.shape, 0, 1, "float32", noise) : noise;
      if (eps.shape[0] !== mean.shape[0] || eps.shape[1] !== mean.shape[1]) throw new RangeError(`${this.label}: noise has shape [${eps.shape.join(", ")}], expected [${mean.shape.join(", ")}]`);
      const z = reparameterize(mean, logVar, eps);
      const reconstruction = bceWithLogits(this.decodeLogits(z), xf);
      const kl = gaussianKl(mean, logVar);
      return { loss: tf.add(reconstruction, kl) as tf.Tensor1D, reconstruction, kl };
    });
  }

  /** The batch means of {@link VaeModel.lossPerImage}: scalars in nats per image. */
  loss(x: tf.Tensor, noise: tf.Tensor | number): VaeLoss<tf.Scalar> {
    return tf.tidy(() => {
      const per = this.lossPerImage(x, noise);
      return { loss: tf.mean(per.loss) as tf.Scalar, reconstruction: tf.mean(per.reconstruction) as tf.Scalar, kl: tf.mean(per.kl) as tf.Scalar };
    });
  }

  /**
   * One optimisation step on a batch: minimises the mean negative ELBO and returns its two terms (before
   * the update) as scalars the caller disposes. Leaves no other tensor behind.
   */
  trainStep(optimizer: tf.Optimizer, x: tf.Tensor, seed: number): VaeLoss<tf.Scalar> {
    this.assertAlive();
    let terms: { reconstruction: tf.Scalar; kl: tf.Scalar } | null = null;
    const loss = optimizer.minimize(
      () => {
        const l = this.loss(x, seed);
        // keep() survives minimize's tidy; the caller gets them.
        terms = { reconstruction: tf.keep(l.reconstruction), kl: tf.keep(l.kl) };
        return this.klWeight === 1 ? l.loss : (tf.add(l.reconstruction, tf.mul(l.kl, this.klWeight)) as tf.Scalar);
      },
      true,
      Object.values(this.weights()),
    ) as tf.Scalar;
    const t = terms as unknown as { reconstruction: tf.Scalar; kl: tf.Scalar };
    return { loss, reconstruction: t.reconstruction, kl: t.kl };
  }

  /** Reconstructions decode(mean(x)): the encoder's most likely code, decoded. (B, 784). */
  reconstruct(x: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => this.decode(this.encode(x).mean));
  }

  /** `n` new images decode(z) with z ~ N(0, I) drawn with `seed`: (n, 784). */
  sample(n: number, seed: number): tf.Tensor2D {
    return tf.tidy(() => this.decode(tf.randomNormal([n, this.latentDim], 0, 1, "float32", seed)));
  }

  /**
   * Decodes `steps` points on the straight line between the codes (means) of two images, both ends
   * included: (steps, 784). `a` and `b` are single images (784 or 28x28) or batches of one.
   */
  interpolate(a: tf.Tensor, b: tf.Tensor, steps: number): tf.Tensor2D {
    if (!Number.isInteger(steps) || steps < 2) throw new RangeError(`${this.label}.interpolate: steps must be an integer >= 2, got ${steps}`);
    return tf.tidy(() => {
      const za = this.encode(a.reshape([1, -1])).mean; // (1, d)
      const zb = this.encode(b.reshape([1, -1])).mean; // (1, d)
      const t = tf.linspace(0, 1, steps).reshape([steps, 1]); // (steps, 1)
      return this.decode(tf.add(tf.mul(tf.sub(1, t), za), tf.mul(t, zb)));
    });
  }

  /**
   * The mean negative ELBO and its terms over a whole set, in batches, with one reparameterised sample
   * per image drawn from `seed` (the same seed gives the same number). Plain numbers; nothing leaks.
   */
  async evaluate(images: tf.Tensor, options: { batchSize?: number; seed?: number } = {}): Promise<VaeLoss<number>> {
    const { batchSize = 500, seed = 1 } = options;
    const n = images.shape[0]!;
    const sums = { loss: 0, reconstruction: 0, kl: 0 };
    for (let start = 0, k = 0; start < n; start += batchSize, k++) {
      const size = Math.min(batchSize, n - start);
      const sumsT = tf.tidy(() => {
        const batch = images.slice(start, size);
        const per = this.lossPerImage(batch, seed + k);
        return tf.stack([tf.sum(per.loss), tf.sum(per.reconstruction), tf.sum(per.kl)]);
      });
      const [l, r, q] = Array.from(await sumsT.data());
      sumsT.dispose();
      sums.loss += l!;
      sums.reconstruction += r!;
      sums.kl += q!;
    }
    return { loss: sums.loss / n, reconstruction: sums.reconstruction / n, kl: sums.kl / n };
  }

  /** Writes this model to `file` atomically (see train/checkpoint.ts). */
  async save(file: string, step: number, extra: Record<string, unknown> = {}): Promise<void> {
    await saveCheckpoint(file, this.toCheckpoint(step, extra));
  }

  /** Frees the weights. */
  dispose(): void {
    if (this.disposed) return;
    tf.dispose(Object.values(this.weights()));
    this.disposed = true;
  }

  protected assertAlive(): void {
    if (this.disposed) throw new Error(`${this.label}: this model was disposed`);
  }
}

