/**
 * Training a denoiser with Adam on L_simple (Ho et al. 2020, Algorithm 1), with condition dropout for
 * classifier-free guidance. Taught in notebooks/06-diffusion.ipynb; scripts/train-diffusion.ts runs the same code.
 */
import * as tf from "@tensorflow/tfjs";
import { Denoiser } from "./denoiser";
import { sampleTimesteps } from "./forward";
import { epsilonLoss } from "./loss";
import { NoiseSchedule } from "./schedules";
import { EpochOrder } from "../../data/epoch-order";
import { Rng } from "../../runtime/random";
import { fusedAdam } from "../../train/fused-adam";

export interface DiffusionTrainerOptions {
  /** Examples per step. Default 256. */
  batchSize?: number;
  /** Adam's learning rate. Default 1e-3. */
  learningRate?: number;
  /**
   * Steps of a cosine decay of the learning rate to a tenth of its start, after which it stays there; the
   * small late steps let the weights settle, which sharpens the samples. Default 0: no decay.
   */
  decaySteps?: number;
  /** One class per example, for a class-conditioned model. */
  labels?: ArrayLike<number> | null;
  /**
   * Probability of replacing an example's class by "no class" during training, so one network learns both
   * eps(x, y) and eps(x, none) for classifier-free guidance (Ho and Salimans 2022, Algorithm 1). Default 0.1.
   */
  dropClass?: number;
  /**
   * Decay of an exponential moving average of the weights, kept in {@link DiffusionTrainer.average} (Ho et al.
   * 2020, appendix B, use 0.9999 over 800k steps; a short run wants a shorter window). 0 = none. Default 0.
   */
  emaDecay?: number;
  /** Shuffles the batches and draws each step's timesteps and noise. */
  rng: Rng;
}

/**
 * What a training loop needs to train a denoiser ({@link Denoiser}: the MLP or the U-Net) on a fixed set of examples with L_simple
 * (Ho et al. 2020, Algorithm 1): batches from a reshuffled-every-epoch order, a uniform t per example, fresh
 * noise, one Adam step. `step()` plugs into kernel-lib's `train()`.
 */
export class DiffusionTrainer<M extends Denoiser = Denoiser> {
  readonly model: M;
  readonly schedule: NoiseSchedule;
  readonly optimizer: tf.Optimizer;
  readonly batchSize: number;
  /** The weight average, or null when emaDecay is 0. Sample from it: it is what the lesson reports. */
  readonly average: M | null;
  private readonly data: tf.Tensor2D;
  private readonly labels: Int32Array | null;
  private readonly dropClass: number;
  private readonly emaDecay: number;
  private readonly rng: Rng;
  private readonly learningRate: number;
  private readonly decaySteps: number;
  private readonly batches: EpochOrder;
  /** Steps taken. */
  steps = 0;

  /** @param data (N, dataDim) or (N, 28, 28); the trainer keeps its own flattened copy. */
  constructor(model: M, schedule: NoiseSchedule, data: tf.Tensor, options: DiffusionTrainerOptions) {
    this.model = model;
    this.schedule = schedule;
    this.batchSize = options.batchSize ?? 256;
    this.rng = options.rng;
    this.data = tf.tidy(() => data.reshape([data.shape[0]!, -1]).clone() as tf.Tensor2D);
    if (this.data.shape[1] !== model.config.dataDim) throw new RangeError(`DiffusionTrainer: examples have ${this.data.shape[1]} numbers, the model takes ${model.config.dataDim}`);
    if (this.data.shape[0] < this.batchSize) throw new RangeError(`DiffusionTrainer: ${this.data.shape[0]} examples make no batch of ${this.batchSize}`);
    const conditioned = model.config.numClasses > 0;
    if (conditioned !== !!options.labels) throw new RangeError(conditioned ? "DiffusionTrainer: a class-conditioned model needs labels" : "DiffusionTrainer: labels given for an unconditional model");
    this.labels = options.labels ? Int32Array.from(options.labels) : null;
    if (this.labels && this.labels.length !== this.data.shape[0]) throw new RangeError(`DiffusionTrainer: ${this.labels.length} labels for ${this.data.shape[0]} examples`);
    this.dropClass = options.dropClass ?? 0.1;
    this.emaDecay = options.emaDecay ?? 0;
    this.learningRate = options.learningRate ?? 1e-3;
    this.decaySteps = options.decaySteps ?? 0;
    this.optimizer = fusedAdam(this.learningRate);
    this.batches = new EpochOrder(this.data.shape[0], this.batchSize, this.rng);
    if (this.emaDecay > 0) {
      this.average = model.fresh() as M;
      this.average.copyFrom(model);
    } else {
      this.average = null;
    }
  }

  /** One step of Algorithm 1: returns { loss } (L_simple on the batch, before the update) as a scalar. */
  step(): { loss: tf.Scalar } {
    const idx = this.batches.next();
    const B = idx.length;
    const t = sampleTimesteps(B, this.schedule.T, this.rng);
    let labels: Int32Array | null = null;
    if (this.labels) {
      labels = Int32Array.from(idx, (i) => (this.rng.uniform() < this.dropClass ? this.model.config.numClasses : this.labels![i]!));
    }
    const noiseSeed = this.rng.seed();
    // tfjs's Adam reads its learningRate field at every update, so a schedule is an assignment.
    (this.optimizer as unknown as { learningRate: number }).learningRate = this.currentLearningRate();
    const x0 = tf.tidy(() => tf.gather(this.data, tf.tensor1d(idx, "int32")));
    try {
      const loss = this.optimizer.minimize(
        () => tf.tidy(() => epsilonLoss(this.model, this.schedule, x0, t, tf.randomNormal(x0.shape, 0, 1, "float32", noiseSeed), labels)),
        true,
        this.model.variables,
      ) as tf.Scalar;
      if (this.average) {
        const beta = this.emaDecay;
        const current = this.model.weights();
        tf.tidy(() => {
          for (const [name, avg] of Object.entries(this.average!.weights())) avg.assign(tf.add(tf.mul(avg, beta), tf.mul(current[name]!, 1 - beta)));
        });
      }
      this.steps += 1;
      return { loss };
    } finally {
      x0.dispose();
    }
  }

  /** The learning rate of the next step: the start value, or its cosine decay when decaySteps is set. */
  currentLearningRate(): number {
    if (this.decaySteps <= 0) return this.learningRate;
    const p = Math.min(1, this.steps / this.decaySteps);
    return this.learningRate * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * p)));
  }

  /** Frees the data copy, the optimizer's state and the weight average (not the model). */
  dispose(): void {
    this.data.dispose();
    this.optimizer.dispose();
    this.average?.dispose();
  }
}
