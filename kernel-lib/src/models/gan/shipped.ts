/**
 * The image GANs' checkpoints as scripts/train-gan.ts writes them (kind "gan-fashion", for the MLP GAN and the
 * DCGAN of notebooks/05-gan.ipynb): the weight-averaged generator, the training record, and the 16 samples from fixed
 * codes that the script stored at several steps of training (8-bit grey levels, base64).
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../runtime/random";
import { CheckpointError, disposeCheckpoint, loadCheckpoint } from "../../train/checkpoint";
import { Gan } from "./gan";
import { createFashionGan, FashionGanConfig } from "./presets";

export interface ShippedFashionGan {
  /** The GAN with the saved weight average loaded into `averageGenerator`. */
  gan: Gan;
  config: FashionGanConfig & { seed: number };
  /** Training steps done. */
  step: number;
  /** What the script recorded: data, seconds, backend, last losses. */
  record: Record<string, unknown>;
  /** The stored samples from fixed codes: images (16, 28, 28) in [0, 1] at each step. The caller disposes them. */
  snapshots(): { step: number; images: tf.Tensor3D }[];
}

/** Loads an image GAN checkpoint; a clear error for another kind of file or damaged snapshots. */
export function loadFashionGan(file: string): ShippedFashionGan {
  const ckpt = loadCheckpoint(file, { kind: "gan-fashion" });
  try {
    const config = ckpt.config as FashionGanConfig & { seed: number };
    const gan = createFashionGan(config, new Rng(config.seed));
    gan.averageGenerator!.loadWeights(ckpt.weights);
    const { snapshots = [], ...record } = ckpt.extra as { snapshots?: { step: number; images: string }[] };
    return {
      gan,
      config,
      step: ckpt.step,
      record,
      snapshots: () =>
        snapshots.map((s) => {
          const bytes = Buffer.from(s.images, "base64");
          if (bytes.length % 784 !== 0) throw new CheckpointError(file, `the snapshot of step ${s.step} has ${bytes.length} bytes, not a whole number of 28x28 images`);
          return { step: s.step, images: tf.tensor3d(Float32Array.from(bytes, (b) => b / 255), [bytes.length / 784, 28, 28]) };
        }),
    };
  } finally {
    disposeCheckpoint(ckpt);
  }
}
