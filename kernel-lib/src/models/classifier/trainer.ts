/**
 * Training the Fashion-MNIST classifier with Adam on reshuffled batches: one step per call of the shared
 * training loop (train/train.ts). scripts/train-classifier.ts runs it to make the shipped classifier, whose
 * features the image metrics of notebooks/04-vae.ipynb to notebooks/06-diffusion.ipynb are meant to use.
 */
import * as tf from "@tensorflow/tfjs";
import { EpochOrder } from "../../data/epoch-order";
import { Rng } from "../../runtime/random";
import { FashionClassifier } from "./fashion-classifier";
import { fusedAdam } from "../../train/fused-adam";

export interface ClassifierTrainerOptions {
  /** Images per step. Default 128. */
  batchSize?: number;
  /** Adam's learning rate. Default 1e-3. */
  learningRate?: number;
  /** Shuffles the batches. */
  rng: Rng;
}

/** A `step()` for train(): the next batch of a reshuffled-every-epoch order, one Adam update, its loss. */
export class ClassifierTrainer {
  readonly optimizer: tf.Optimizer;
  readonly batchSize: number;
  /** Full batches per pass over the data. */
  readonly stepsPerEpoch: number;
  private readonly images: tf.Tensor2D;
  private readonly labels: tf.Tensor1D;
  private readonly batches: EpochOrder;

  /** @param images (N, 28, 28) or (N, 784) in [0, 1]; @param labels N class indices. */
  constructor(readonly model: FashionClassifier, images: tf.Tensor, labels: ArrayLike<number>, options: ClassifierTrainerOptions) {
    const n = images.shape[0]!;
    if (labels.length !== n) throw new RangeError(`ClassifierTrainer: ${labels.length} labels for ${n} images`);
    this.batchSize = options.batchSize ?? 128;
    this.stepsPerEpoch = Math.floor(n / this.batchSize);
    if (this.stepsPerEpoch < 1) throw new RangeError(`ClassifierTrainer: ${n} images make no batch of ${this.batchSize}`);
    this.images = tf.tidy(() => images.reshape([n, -1]).clone() as tf.Tensor2D);
    this.labels = tf.tensor1d(Int32Array.from(labels), "int32");
    this.optimizer = fusedAdam(options.learningRate ?? 1e-3);
    this.batches = new EpochOrder(n, this.batchSize, options.rng);
  }

  /** One step: returns { loss } (mean cross-entropy of the batch, before the update) as a scalar. */
  step(): { loss: tf.Scalar } {
    const idx = this.batches.next();
    return tf.tidy(() => {
      const i = tf.tensor1d(idx, "int32");
      const x = tf.gather(this.images, i);
      const y = tf.gather(this.labels, i) as tf.Tensor1D;
      const { value, grads } = tf.variableGrads(() => this.model.loss(x, y), this.model.variables);
      this.optimizer.applyGradients(grads);
      return { loss: value };
    });
  }

  /** Frees the data handles and the optimizer's state (not the model). */
  dispose(): void {
    tf.dispose([this.images, this.labels]);
    this.optimizer.dispose();
  }
}
