/**
 * The MLP denoiser eps_theta(x_t, t[, y]) of denoising diffusion (Ho, Jain and Abbeel 2020, DDPM): residual
 * blocks on a sinusoidal time embedding, optional class conditioning with a null class for classifier-free
 * guidance (Ho and Salimans 2022), used for 2-D points and for 28x28 images flattened to 784 numbers; its
 * checkpoints. Taught in notebooks/06-diffusion.ipynb.
 *
 * Index convention: timesteps are the paper's t = 1..T (see schedules.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { Denoiser } from "./denoiser";
import { timesteps } from "./forward";
import { NoiseSchedule, ScheduleKind, noiseSchedule } from "./schedules";
import { timestepEmbedding } from "./time-embedding";
import { Rng } from "../../runtime/random";
import { Checkpoint, CheckpointError, disposeCheckpoint, loadCheckpoint, saveCheckpoint } from "../../train/checkpoint";

/** The architecture of a {@link DiffusionMlp}. Saved in checkpoints; loading checks it. */
export interface DiffusionMlpConfig {
  /** Numbers per example: 2 for points, 784 for 28x28 images. */
  dataDim: number;
  /** Width of the hidden layers. */
  hidden: number;
  /** Residual blocks after the input layer. */
  blocks: number;
  /** Size of the sinusoidal time embedding. */
  timeDim: number;
  /** Classes for conditioning; 0 = unconditional. Class `numClasses` is the "no class" token of classifier-free guidance. */
  numClasses: number;
  /** Hidden nonlinearity: "silu" (x sigmoid(x), as in Ho et al. 2020) or "relu" (cheaper). */
  activation: "silu" | "relu";
  /**
   * Predict the noise as what is left of x_t: eps = exp(a(t)) * (x_t - f(x_t, t)), with a per-dimension log-gain
   * a(t) = W_a emb(t) + b_a (starting at 0). Needed when the hidden layers are narrower than the data: the
   * noise fills all 784 dimensions of an image, and an output of rank 384 alone could reproduce only about
   * half of it. Default false (the plain output layer).
   */
  gated?: boolean;
}

/** The 2-D denoiser of the lesson: width 128, 3 residual blocks, ReLU, 32-dim time embedding, unconditional. */
export const DIFFUSION_POINTS_CONFIG: DiffusionMlpConfig = { dataDim: 2, hidden: 128, blocks: 3, timeDim: 32, numClasses: 0, activation: "relu" };

/**
 * The image denoiser of the lesson: 784 -> 384 wide, 2 residual blocks, SiLU, 64-dim time embedding,
 * unconditional, with the gated output (1,023,648 parameters, 4.1 MB). SiLU rather than ReLU: on Fashion-MNIST the ReLU net sat near
 * the predict-zero loss of 1.0 for the first few hundred steps, the SiLU net left it sooner.
 */
export const DIFFUSION_IMAGE_CONFIG: DiffusionMlpConfig = { dataDim: 784, hidden: 384, blocks: 2, timeDim: 64, numClasses: 0, activation: "silu", gated: true };

/** The kind name of a diffusion checkpoint. */
export const DIFFUSION_CHECKPOINT_KIND = "diffusion-mlp";

function checkMlpConfig(c: DiffusionMlpConfig): DiffusionMlpConfig {
  const pos = (n: unknown) => Number.isInteger(n) && (n as number) > 0;
  if (!pos(c.dataDim) || !pos(c.hidden) || !pos(c.timeDim) || c.timeDim % 2 !== 0 || !Number.isInteger(c.blocks) || c.blocks < 0 || !Number.isInteger(c.numClasses) || c.numClasses < 0 || (c.activation !== "silu" && c.activation !== "relu")) {
    throw new RangeError(`DiffusionMlp: bad config ${JSON.stringify(c)}`);
  }
  const out: DiffusionMlpConfig = { dataDim: c.dataDim, hidden: c.hidden, blocks: c.blocks, timeDim: c.timeDim, numClasses: c.numClasses, activation: c.activation };
  // Written only when on, so configs saved before the option existed still compare equal.
  if (c.gated) out.gated = true;
  return out;
}

/**
 * A time-conditioned MLP that predicts the noise eps in x_t: eps_theta(x_t, t, y).
 *
 * 1) condition: c = [sin/cos embedding of t, one-hot of y] (B, timeDim (+ numClasses + 1 when conditioned));
 *    class `numClasses` is the learned "no class" input of classifier-free guidance.
 * 2) input: h = act(W_in [x, c] + b_in) (B, H).
 * 3) blocks: h = h + act(W_l [h, c] + b_l): every layer sees the time (and class) again, as every residual
 *    block of Ho et al.'s U-Net adds a projection of the time embedding.
 * 4) output: eps = W_out h + b_out (B, dataDim); or, when `gated`, eps = exp(W_a emb(t) + b_a) * (x_t - W_out h - b_out).
 *
 * The condition is concatenated rather than added through separate matrices: the same function class, with
 * half as many variables, and on the CPU each variable costs Adam about ten small ops per step.
 */
export class DiffusionMlp implements Denoiser {
  readonly config: DiffusionMlpConfig;
  private readonly vars = new Map<string, tf.Variable>();
  private disposed = false;
  private static instances = 0;

  /**
   * @param config the architecture
   * @param rng seeds the Glorot-uniform initial weights (biases start at zero)
   * @param weights optional named weights (from a checkpoint) used instead of an initialisation
   */
  constructor(config: DiffusionMlpConfig, rng: Rng = new Rng(0), weights?: Record<string, tf.Tensor>) {
    this.config = checkMlpConfig(config);
    const { dataDim, hidden: H, blocks } = this.config;
    const C = this.conditionSize();
    // tfjs registers variables by name, once per process: prefix this instance's names with an id.
    const id = `diffusion${DiffusionMlp.instances++}`;
    const add = (name: string, shape: number[], init: "glorot" | "zeros") => {
      const w = weights?.[name];
      if (weights && !w) throw new RangeError(`DiffusionMlp: weights lack ${name}`);
      if (w && w.shape.join(",") !== shape.join(",")) throw new RangeError(`DiffusionMlp: ${name} has shape [${w.shape}], expected [${shape}]`);
      if (w && w.dtype !== "float32") throw new TypeError(`DiffusionMlp: ${name} must be float32, got ${w.dtype}`);
      const value = tf.tidy(() => (w ? w.clone() : init === "zeros" ? tf.zeros(shape) : tf.initializers.glorotUniform({ seed: rng.seed() }).apply(shape)));
      this.vars.set(name, tf.variable(value, true, `${id}/${name}`));
      value.dispose();
    };
    try {
      add("in.kernel", [dataDim + C, H], "glorot");
      add("in.bias", [H], "zeros");
      for (let l = 0; l < blocks; l++) {
        add(`block.${l}.kernel`, [H + C, H], "glorot");
        add(`block.${l}.bias`, [H], "zeros");
      }
      add("out.kernel", [H, dataDim], "glorot");
      add("out.bias", [dataDim], "zeros");
      if (this.config.gated) {
        add("gain.kernel", [this.config.timeDim, dataDim], "zeros");
        add("gain.bias", [dataDim], "zeros");
      }
    } catch (e) {
      tf.dispose([...this.vars.values()]); // the layers made before the one that did not fit
      throw e;
    }
  }

  /** Width of the condition c fed to every layer: the time embedding, plus the one-hot class when conditioned. */
  conditionSize(): number {
    return this.config.timeDim + (this.config.numClasses > 0 ? this.config.numClasses + 1 : 0);
  }

  /** Trainable variables, for an optimizer's var list. */
  get variables(): tf.Variable[] {
    this.assertAlive();
    return [...this.vars.values()];
  }

  /** The weights by checkpoint name ("in.kernel", "block.0.time", ...). Not copies: do not dispose them. */
  weights(): Record<string, tf.Variable> {
    this.assertAlive();
    return Object.fromEntries(this.vars);
  }

  /** Number of trainable numbers. */
  parameterCount(): number {
    return this.variables.reduce((s, v) => s + v.size, 0);
  }

  /** A new MLP of the same config (weights from seed 0, to be overwritten). */
  fresh(): DiffusionMlp {
    return new DiffusionMlp(this.config, new Rng(0));
  }

  /** Copies another model's weights into this one (same config), e.g. to start a weight average. */
  copyFrom(other: Denoiser): void {
    const theirs = other.weights();
    for (const [name, v] of this.vars) v.assign(theirs[name]!);
  }

  private act(x: tf.Tensor): tf.Tensor {
    return this.config.activation === "relu" ? tf.relu(x) : tf.mul(x, tf.sigmoid(x));
  }

  private dense(x: tf.Tensor, name: string): tf.Tensor2D {
    return tf.add(tf.matMul(x as tf.Tensor2D, this.vars.get(`${name}.kernel`)!), this.vars.get(`${name}.bias`)!) as tf.Tensor2D;
  }

  /**
   * eps_theta(x_t, t, y): x (B, dataDim) or (B, 28, 28) -> (B, dataDim). `t` holds one timestep per row, or
   * one for all rows; `labels` one class per row (0..numClasses-1, or numClasses for "no class"), needed
   * exactly when the model is class-conditioned.
   */
  predictNoise(x: tf.Tensor, t: number | ArrayLike<number>, labels?: ArrayLike<number> | null): tf.Tensor2D {
    this.assertAlive();
    const { dataDim, timeDim, numClasses, blocks } = this.config;
    const B = x.shape[0]!;
    if (x.size !== B * dataDim) throw new RangeError(`DiffusionMlp: expected (B, ${dataDim}) inputs, got [${x.shape}]`);
    const ts = timesteps(t, B);
    if (ts.length !== B) throw new RangeError(`DiffusionMlp: ${ts.length} timesteps for a batch of ${B}`);
    if (numClasses > 0 && (!labels || labels.length !== B)) throw new RangeError(`DiffusionMlp: a class-conditioned model needs ${B} labels`);
    if (numClasses === 0 && labels) throw new RangeError("DiffusionMlp: labels given to an unconditional model");
    return tf.tidy(() => {
      // 1) the condition c, (B, C).
      let c = timestepEmbedding(ts, timeDim);
      if (numClasses > 0) {
        const oneHot = new Float32Array(B * (numClasses + 1));
        for (let i = 0; i < B; i++) {
          const y = labels![i]!;
          if (!Number.isInteger(y) || y < 0 || y > numClasses) throw new RangeError(`DiffusionMlp: label ${y} is outside 0..${numClasses}`);
          oneHot[i * (numClasses + 1) + y] = 1;
        }
        c = tf.concat([c, tf.tensor2d(oneHot, [B, numClasses + 1])], 1);
      }
      // 2) input layer, 3) residual blocks, 4) output layer.
      const xf = x.reshape([B, dataDim]);
      let h = this.act(this.dense(tf.concat([xf, c], 1), "in")) as tf.Tensor2D; // (B, H)
      for (let l = 0; l < blocks; l++) h = tf.add(h, this.act(this.dense(tf.concat([h, c], 1), `block.${l}`))) as tf.Tensor2D;
      const out = this.dense(h, "out"); // (B, dataDim)
      if (!this.config.gated) return out;
      // The time embedding alone sets the gain: c's first timeDim columns.
      const gain = tf.exp(this.dense(c.slice([0, 0], [B, timeDim]), "gain")); // (B, dataDim)
      return tf.mul(gain, tf.sub(xf, out)) as tf.Tensor2D;
    });
  }

  /** A checkpoint of this model and its schedule (weights are read when it is saved; nothing is copied). */
  toCheckpoint(schedule: NoiseSchedule, step: number, extra: Record<string, unknown> = {}): Checkpoint {
    return { kind: DIFFUSION_CHECKPOINT_KIND, config: { model: this.config, schedule: { kind: schedule.kind, T: schedule.T } }, step, weights: this.weights(), extra };
  }

  /** Writes this model and its schedule's name and length to `file` atomically (see checkpoint.ts). */
  async save(file: string, schedule: NoiseSchedule, step: number, extra: Record<string, unknown> = {}): Promise<void> {
    await saveCheckpoint(file, this.toCheckpoint(schedule, step, extra));
  }

  /** Frees the weights. */
  dispose(): void {
    if (this.disposed) return;
    tf.dispose([...this.vars.values()]);
    this.vars.clear();
    this.disposed = true;
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error("DiffusionMlp: this model was disposed");
  }
}

/** A diffusion model loaded from a checkpoint: the denoiser, its schedule and what the checkpoint recorded. */
export interface LoadedDiffusion {
  model: DiffusionMlp;
  schedule: NoiseSchedule;
  step: number;
  extra: Record<string, unknown>;
}

/** Loads a checkpoint written by {@link DiffusionMlp.save}. The caller disposes the model. */
export function loadDiffusion(file: string, config?: DiffusionMlpConfig): LoadedDiffusion {
  const ckpt = loadCheckpoint(file, { kind: DIFFUSION_CHECKPOINT_KIND });
  try {
    const saved = ckpt.config as { model: DiffusionMlpConfig; schedule: { kind: ScheduleKind; T: number } };
    if (config && JSON.stringify(checkMlpConfig(config)) !== JSON.stringify(checkMlpConfig(saved.model))) {
      throw new Error(`config ${JSON.stringify(saved.model)} differs from the expected ${JSON.stringify(config)}`);
    }
    const model = new DiffusionMlp(saved.model, new Rng(0), ckpt.weights);
    return { model, schedule: noiseSchedule(saved.schedule.kind, saved.schedule.T), step: ckpt.step, extra: ckpt.extra ?? {} };
  } catch (e) {
    throw new CheckpointError(file, `does not hold a usable diffusion model (${(e as Error).message})`);
  } finally {
    disposeCheckpoint(ckpt);
  }
}
