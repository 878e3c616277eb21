/**
 * A small convolutional classifier of Fashion-MNIST: its penultimate features are what the image metrics
 * (FID, KID) compare, and its predictions give the class coverage of generated images, as fast.ai's course
 * computes an FID from its own Fashion-MNIST classifier instead of Inception. For the table that compares
 * the image models of notebooks/04-vae.ipynb, notebooks/05-gan.ipynb and notebooks/06-diffusion.ipynb;
 * scripts/train-classifier.ts trains the shipped one.
 *
 * Architecture (inputs (B, 28, 28, 1) in [0, 1]): 3x3 conv to C₁ + ReLU (28x28) -> 3x3 stride-2 conv to C₂ + ReLU
 * (14x14) -> 3x3 stride-2 conv to C₂ + ReLU (7x7) -> dense to F + ReLU (the features) -> dense to 10 logits.
 */
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../../nn/errors";
import { uniformInit } from "../../nn/init";
import { VariableNetwork } from "../../nn/network";
import { Rng } from "../../runtime/random";
import { CheckpointError, disposeCheckpoint, loadCheckpoint, saveCheckpoint } from "../../train/checkpoint";

/** The classifier's sizes. Saved in checkpoints; loading checks them. */
export interface ClassifierConfig {
  /** Channels of the first conv layer. */
  channels1: number;
  /** Channels of the two strided conv layers. */
  channels2: number;
  /** Size of the penultimate features (what FID and KID compare). */
  features: number;
  /** Number of classes. */
  numClasses: number;
}

/** The shipped classifier's sizes: 32 and 64 channels, 128 features, 10 classes (about 0.46M parameters). */
export const CLASSIFIER_DEFAULT_CONFIG: ClassifierConfig = { channels1: 32, channels2: 64, features: 128, numClasses: 10 };

/** The kind name of a classifier checkpoint. */
export const CLASSIFIER_CHECKPOINT_KIND = "fashion-classifier";

function checkConfig(c: ClassifierConfig): ClassifierConfig {
  for (const k of ["channels1", "channels2", "features", "numClasses"] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new RangeError(`ClassifierConfig.${k} must be a positive integer, got ${c[k]}`);
  }
  return c;
}

/** Images as (B, 28, 28, 1): accepts (B, 784), (B, 28, 28) or (B, 28, 28, 1). */
export function asImageBatch(x: tf.Tensor): tf.Tensor4D {
  const per = x.shape.slice(1).reduce((a, b) => a * b, 1);
  if (x.rank < 2 || per !== 784) throw new ShapeError(`classifier: expected images of 28x28 = 784 pixels, got shape [${x.shape.join(", ")}]`);
  return tf.reshape(x, [x.shape[0]!, 28, 28, 1]) as tf.Tensor4D;
}

/** The Fashion-MNIST classifier (see the file comment). Build with a config and a seeded {@link Rng}. */
export class FashionClassifier extends VariableNetwork {
  readonly inputSize = 784;
  readonly outputShape: number[];
  private readonly v: Record<string, tf.Variable> = {};

  constructor(readonly config: ClassifierConfig, rng: Rng) {
    super("C");
    const { channels1: c1, channels2: c2, features: f, numClasses: k } = checkConfig(config);
    this.outputShape = [k];
    const conv = (name: string, cin: number, cout: number) => {
      this.v[`${name}Kernel`] = this.addVariable(`${name}/kernel`, uniformInit([3, 3, cin, cout], 9 * cin, rng));
      this.v[`${name}Bias`] = this.addVariable(`${name}/bias`, uniformInit([cout], 9 * cin, rng));
    };
    conv("conv1", 1, c1);
    conv("conv2", c1, c2);
    conv("conv3", c2, c2);
    this.v.fc1Kernel = this.addVariable("fc1/kernel", uniformInit([49 * c2, f], 49 * c2, rng));
    this.v.fc1Bias = this.addVariable("fc1/bias", uniformInit([f], 49 * c2, rng));
    this.v.fc2Kernel = this.addVariable("fc2/kernel", uniformInit([f, k], f, rng));
    this.v.fc2Bias = this.addVariable("fc2/bias", uniformInit([k], f, rng));
  }

  /** The penultimate features, (B, features), after the ReLU. */
  features(x: tf.Tensor): tf.Tensor2D {
    const v = this.v as Record<string, tf.Tensor>;
    return tf.tidy(() => {
      const conv = (h: tf.Tensor4D, name: string, stride: number) =>
        tf.relu(tf.add(tf.conv2d(h, v[`${name}Kernel`] as tf.Tensor4D, stride, "same"), v[`${name}Bias`]!)) as tf.Tensor4D;
      const h1 = conv(asImageBatch(x), "conv1", 1); // (B, 28, 28, C1)
      const h2 = conv(h1, "conv2", 2); //               (B, 14, 14, C2)
      const h3 = conv(h2, "conv3", 2); //               (B, 7, 7, C2)
      const flat = tf.reshape(h3, [h3.shape[0], -1]);
      return tf.relu(tf.add(tf.matMul(flat, v.fc1Kernel!), v.fc1Bias!)) as tf.Tensor2D; // (B, F)
    });
  }

  /** Class logits, (B, numClasses). */
  apply(x: tf.Tensor): tf.Tensor2D {
    const v = this.v as Record<string, tf.Tensor>;
    return tf.tidy(() => tf.add(tf.matMul(this.features(x), v.fc2Kernel!), v.fc2Bias!) as tf.Tensor2D);
  }

  /** Mean cross-entropy (nats) of the logits against integer labels. */
  loss(x: tf.Tensor, labels: tf.Tensor1D): tf.Scalar {
    return tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(labels, this.config.numClasses), this.apply(x)) as tf.Scalar);
  }

  /** Writes the classifier to `file` atomically, with `extra` (e.g. its training record). */
  async save(file: string, step: number, extra: Record<string, unknown> = {}): Promise<void> {
    await saveCheckpoint(file, { kind: CLASSIFIER_CHECKPOINT_KIND, config: this.config, step, weights: this.namedWeights(), extra });
  }
}

/** A classifier and what its checkpoint recorded. */
export interface LoadedClassifier {
  model: FashionClassifier;
  step: number;
  extra: Record<string, unknown>;
}

/** Loads a checkpoint written by {@link FashionClassifier.save}. The caller disposes the model. */
export function loadClassifier(file: string, config?: ClassifierConfig): LoadedClassifier {
  const ckpt = loadCheckpoint(file, { kind: CLASSIFIER_CHECKPOINT_KIND, ...(config ? { config } : {}) });
  let model: FashionClassifier | null = null;
  try {
    model = new FashionClassifier(ckpt.config as ClassifierConfig, new Rng(0));
    model.loadWeights(ckpt.weights);
    return { model, step: ckpt.step, extra: ckpt.extra ?? {} };
  } catch (e) {
    model?.dispose();
    throw new CheckpointError(file, `does not hold a usable classifier (${(e as Error).message})`);
  } finally {
    disposeCheckpoint(ckpt);
  }
}
