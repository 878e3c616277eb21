/**
 * Training a VAE with Adam on batches of images: one step per call of the shared training loop.
 * Taught in notebooks/04-vae.ipynb; scripts/train-vae.ts runs the same code.
 */
import * as tf from "@tensorflow/tfjs";
import { VaeLoss } from "./losses";
import { VaeModel } from "./vae-base";
import { EpochOrder } from "../../data/epoch-order";
import { Rng } from "../../runtime/random";
import { fusedAdam } from "../../train/fused-adam";

export interface VaeTrainerOptions {
  /** Images per step. Default 128. */
  batchSize?: number;
  /** Adam's learning rate. Default 1e-3. */
  learningRate?: number;
  /** Shuffles the batches and draws each step's noise. */
  rng: Rng;
}

/**
 * What a training loop needs to train a VAE on a set of images: a `step(i)` for kernel-lib's `train()`
 * that takes the next batch of a reshuffled-every-epoch order and returns the loss terms, the optimizer
 * (Adam), and the number of steps in one epoch (full batches only, so every step has the same shape).
 */
export class VaeTrainer {
  readonly model: VaeModel;
  readonly optimizer: tf.Optimizer;
  readonly batchSize: number;
  /** Full batches per pass over the data. */
  readonly stepsPerEpoch: number;
  private readonly images: tf.Tensor2D;
  private readonly rng: Rng;
  private readonly batches: EpochOrder;

  /** @param images (N, 28, 28) or (N, 784) in [0, 1]; the trainer keeps its own flattened handle (no copy: tfjs shares the data), freed by dispose(). */
  constructor(model: VaeModel, images: tf.Tensor, options: VaeTrainerOptions) {
    this.model = model;
    this.batchSize = options.batchSize ?? 128;
    this.rng = options.rng;
    this.images = tf.tidy(() => images.reshape([images.shape[0]!, -1]).clone() as tf.Tensor2D);
    this.stepsPerEpoch = Math.floor(this.images.shape[0] / this.batchSize);
    if (this.stepsPerEpoch < 1) throw new RangeError(`VaeTrainer: ${this.images.shape[0]} images make no batch of ${this.batchSize}`);
    this.optimizer = fusedAdam(options.learningRate ?? 1e-3);
    this.batches = new EpochOrder(this.images.shape[0], this.batchSize, this.rng);
  }

  /** One step: returns { loss, reconstruction, kl } as scalars (train() reads and disposes them). */
  step(): VaeLoss<tf.Scalar> {
    const batch = tf.tidy(() => tf.gather(this.images, tf.tensor1d(this.batches.next(), "int32")));
    try {
      return this.model.trainStep(this.optimizer, batch, this.rng.seed());
    } finally {
      batch.dispose();
    }
  }

  /** Frees the data copy and the optimizer's state (not the model). */
  dispose(): void {
    this.images.dispose();
    this.optimizer.dispose();
  }
}
