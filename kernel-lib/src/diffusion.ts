/**
 * Denoising diffusion probabilistic models (Ho, Jain and Abbeel 2020, "Denoising Diffusion Probabilistic
 * Models", DDPM). Taught in notebooks/05-diffusion.ipynb.
 *
 * - Noise schedules: linear (Ho et al. 2020, section 4: beta from 1e-4 to 0.02 over T = 1000 steps) and
 *   cosine (Nichol and Dhariwal 2021, "Improved Denoising Diffusion Probabilistic Models", section 3.2, eq. 17).
 * - The forward process in closed form, q(x_t | x_0) = N(sqrt(alphaBar_t) x_0, (1 - alphaBar_t) I), and its
 *   one-step form q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I).
 * - The posterior q(x_{t-1} | x_t, x_0) (Ho et al. 2020, eqs. 6-7), the epsilon-prediction loss L_simple
 *   (eq. 14), ancestral sampling (Algorithm 2) and deterministic DDIM sampling (Song, Meng and Ermon 2021,
 *   "Denoising Diffusion Implicit Models", eq. 12 with eta = 0), all seeded.
 * - A time-conditioned MLP denoiser with a sinusoidal time embedding, optional class conditioning and
 *   classifier-free guidance (Ho and Salimans 2022, "Classifier-Free Diffusion Guidance", eq. 6), used for
 *   2-D points and for 28x28 images flattened to 784 numbers.
 *
 * Index convention: timesteps are the paper's t = 1..T. Every schedule array has T + 1 entries and entry 0
 * is the clean data (beta_0 = 0, alphaBar_0 = 1), so `alphaBars[t]` is the paper's alphaBar_t.
 */
import * as tf from "@tensorflow/tfjs";
import { Checkpoint, CheckpointError, disposeCheckpoint, loadCheckpoint, saveCheckpoint } from "./checkpoint";
import { Rng } from "./random";

// ---------------------------------------------------------------------------------------------------------
// Noise schedules

export type ScheduleKind = "linear" | "cosine";

/** A noise schedule: the variances beta_t of the forward steps and the products derived from them. */
export interface NoiseSchedule {
  kind: ScheduleKind;
  /** Number of diffusion steps T. */
  T: number;
  /** beta_t for t = 0..T (beta_0 = 0). */
  betas: Float64Array;
  /** alpha_t = 1 - beta_t. */
  alphas: Float64Array;
  /** alphaBar_t = prod_{s <= t} alpha_s (alphaBar_0 = 1). */
  alphaBars: Float64Array;
}

function checkSteps(T: number): void {
  if (!Number.isInteger(T) || T < 1) throw new RangeError(`noise schedule: T must be a positive integer, got ${T}`);
}

function fromBetas(kind: ScheduleKind, betas: number[]): NoiseSchedule {
  const T = betas.length;
  const b = new Float64Array(T + 1);
  const a = new Float64Array(T + 1);
  const ab = new Float64Array(T + 1);
  a[0] = 1;
  ab[0] = 1;
  for (let t = 1; t <= T; t++) {
    const beta = betas[t - 1]!;
    if (!(beta > 0 && beta < 1)) throw new RangeError(`noise schedule: beta_${t} = ${beta} is not in (0, 1)`);
    b[t] = beta;
    a[t] = 1 - beta;
    ab[t] = ab[t - 1]! * (1 - beta);
  }
  return { kind, T, betas: b, alphas: a, alphaBars: ab };
}

export interface LinearScheduleOptions {
  /** beta_1. Default 1e-4 (Ho et al. 2020, section 4). */
  betaStart?: number;
  /** beta_T. Default 0.02 (Ho et al. 2020, section 4). */
  betaEnd?: number;
  /**
   * Rescale both ends by 1000 / T (capped below 1), so that a short schedule still ends near pure noise:
   * with the paper's ends and T = 100, alphaBar_T would be 0.36, far from N(0, I). Default true.
   */
  rescale?: boolean;
}

/**
 * The linear schedule of Ho et al. 2020 (section 4): beta_t rises linearly from betaStart (t = 1) to betaEnd
 * (t = T). With T = 1000 this is the paper's schedule exactly; shorter schedules are rescaled by 1000 / T
 * unless `rescale` is false (as in the improved-DDPM code of Nichol and Dhariwal 2021).
 */
export function linearSchedule(T: number, options: LinearScheduleOptions = {}): NoiseSchedule {
  checkSteps(T);
  const scale = options.rescale === false ? 1 : 1000 / T;
  const start = Math.min((options.betaStart ?? 1e-4) * scale, 0.999);
  const end = Math.min((options.betaEnd ?? 0.02) * scale, 0.999);
  const betas = Array.from({ length: T }, (_, i) => (T === 1 ? end : start + ((end - start) * i) / (T - 1)));
  return fromBetas("linear", betas);
}

export interface CosineScheduleOptions {
  /** Offset s that keeps beta_t from being tiny near t = 0. Default 0.008 (Nichol and Dhariwal 2021, section 3.2). */
  s?: number;
  /** Cap on beta_t, which would reach 1 at t = T. Default 0.999 (same source). */
  maxBeta?: number;
}

/**
 * The cosine schedule of Nichol and Dhariwal 2021 (section 3.2, eq. 17): alphaBar_t = f(t) / f(0) with
 * f(t) = cos^2(((t / T + s) / (1 + s)) * pi / 2), and beta_t = min(1 - alphaBar_t / alphaBar_{t-1}, maxBeta).
 * alphaBar falls slowly at both ends, so fewer steps are wasted on almost-clean or almost-pure-noise inputs.
 */
export function cosineSchedule(T: number, options: CosineScheduleOptions = {}): NoiseSchedule {
  checkSteps(T);
  const s = options.s ?? 0.008;
  const maxBeta = options.maxBeta ?? 0.999;
  const f = (t: number) => Math.cos((((t / T) + s) / (1 + s)) * (Math.PI / 2)) ** 2;
  const betas = Array.from({ length: T }, (_, i) => Math.min(1 - f(i + 1) / f(i), maxBeta));
  return fromBetas("cosine", betas);
}

/** A schedule by name: `noiseSchedule("cosine", 200)`. */
export function noiseSchedule(kind: ScheduleKind, T: number): NoiseSchedule {
  if (kind === "linear") return linearSchedule(T);
  if (kind === "cosine") return cosineSchedule(T);
  throw new RangeError(`noiseSchedule: unknown kind "${String(kind)}"; use linear or cosine`);
}

// ---------------------------------------------------------------------------------------------------------
// Forward process and posterior

function checkT(schedule: NoiseSchedule, t: number, min = 1): void {
  if (!Number.isInteger(t) || t < min || t > schedule.T) throw new RangeError(`timestep ${t} is outside ${min}..${schedule.T}`);
}

/** Per-row coefficients as a (B, 1, ..., 1) tensor that broadcasts against x (B, ...). */
function rowCoefficients(values: ArrayLike<number>, x: tf.Tensor): tf.Tensor {
  if (values.length !== x.shape[0]) throw new RangeError(`${values.length} timesteps for a batch of ${x.shape[0]}`);
  return tf.tensor(Float32Array.from(values), [values.length, ...new Array<number>(x.rank - 1).fill(1)]);
}

/** Timesteps as an array of length B, from one number (every row) or one number per row. */
function timesteps(t: number | ArrayLike<number>, batch: number): ArrayLike<number> {
  return typeof t === "number" ? new Array<number>(batch).fill(t) : t;
}

/**
 * The closed-form forward process (Ho et al. 2020, eq. 4): x_t = sqrt(alphaBar_t) x_0 + sqrt(1 - alphaBar_t) eps.
 * `t` is one timestep for every row or one per row (0..T; t = 0 returns x_0); `noise` is eps, shaped like x0.
 */
export function qSample(schedule: NoiseSchedule, x0: tf.Tensor, t: number | ArrayLike<number>, noise: tf.Tensor): tf.Tensor {
  if (noise.shape.join(",") !== x0.shape.join(",")) throw new RangeError(`qSample: noise [${noise.shape}] must have x0's shape [${x0.shape}]`);
  const ts = timesteps(t, x0.shape[0]!);
  for (let i = 0; i < ts.length; i++) checkT(schedule, ts[i]!, 0);
  const ab = Array.from(ts, (s) => schedule.alphaBars[s]!);
  return tf.tidy(() => {
    const signal = rowCoefficients(ab.map(Math.sqrt), x0); // (B, 1...)
    const spread = rowCoefficients(ab.map((a) => Math.sqrt(1 - a)), x0); // (B, 1...)
    return tf.add(tf.mul(signal, x0), tf.mul(spread, noise));
  });
}

/** One forward step (Ho et al. 2020, eq. 2): x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps, for t in 1..T. */
export function qStep(schedule: NoiseSchedule, xPrev: tf.Tensor, t: number, noise: tf.Tensor): tf.Tensor {
  checkT(schedule, t);
  const beta = schedule.betas[t]!;
  return tf.tidy(() => tf.add(tf.mul(Math.sqrt(1 - beta), xPrev), tf.mul(Math.sqrt(beta), noise)));
}

/**
 * The posterior q(x_{t-1} | x_t, x_0) = N(c0 x_0 + ct x_t, variance I) (Ho et al. 2020, eqs. 6-7):
 * c0 = sqrt(alphaBar_{t-1}) beta_t / (1 - alphaBar_t), ct = sqrt(alpha_t) (1 - alphaBar_{t-1}) / (1 - alphaBar_t),
 * variance = betaTilde_t = (1 - alphaBar_{t-1}) / (1 - alphaBar_t) beta_t. Plain numbers, t in 1..T.
 */
export function posteriorCoefficients(schedule: NoiseSchedule, t: number): { c0: number; ct: number; variance: number } {
  checkT(schedule, t);
  const beta = schedule.betas[t]!;
  const ab = schedule.alphaBars[t]!;
  const abPrev = schedule.alphaBars[t - 1]!;
  return {
    c0: (Math.sqrt(abPrev) * beta) / (1 - ab),
    ct: (Math.sqrt(schedule.alphas[t]!) * (1 - abPrev)) / (1 - ab),
    variance: ((1 - abPrev) / (1 - ab)) * beta,
  };
}

/** x_0 recovered from x_t and the noise in it: x_0 = (x_t - sqrt(1 - alphaBar_t) eps) / sqrt(alphaBar_t). */
export function predictX0(schedule: NoiseSchedule, xt: tf.Tensor, eps: tf.Tensor, t: number): tf.Tensor {
  checkT(schedule, t);
  const ab = schedule.alphaBars[t]!;
  return tf.tidy(() => tf.div(tf.sub(xt, tf.mul(Math.sqrt(1 - ab), eps)), Math.sqrt(ab)));
}

/** `n` timesteps drawn uniformly from 1..T with `rng` (Ho et al. 2020, Algorithm 1). */
export function sampleTimesteps(n: number, T: number, rng: Rng): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = 1 + rng.int(T);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The denoiser

/**
 * The sinusoidal embedding of timesteps (Vaswani et al. 2017, section 3.5, as used for t by Ho et al. 2020,
 * section 4): for k < dim/2, e_k = sin(t w_k) and e_{k + dim/2} = cos(t w_k), with w_k = 10000^(-k / (dim/2 - 1)).
 * Computed in JavaScript (t is data, never differentiated): (B) -> (B, dim).
 */
export function timestepEmbedding(t: ArrayLike<number>, dim: number): tf.Tensor2D {
  if (!Number.isInteger(dim) || dim < 2 || dim % 2 !== 0) throw new RangeError(`timestepEmbedding: dim must be an even integer >= 2, got ${dim}`);
  const half = dim / 2;
  const out = new Float32Array(t.length * dim);
  for (let i = 0; i < t.length; i++) {
    for (let k = 0; k < half; k++) {
      const w = half === 1 ? 1 : Math.exp((-Math.log(10000) * k) / (half - 1));
      out[i * dim + k] = Math.sin(t[i]! * w);
      out[i * dim + half + k] = Math.cos(t[i]! * w);
    }
  }
  return tf.tensor2d(out, [t.length, dim]);
}

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
export class DiffusionMlp {
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
      const value = tf.tidy(() => (w ? w.clone() : init === "zeros" ? tf.zeros(shape) : tf.initializers.glorotUniform({ seed: rng.seed() }).apply(shape)));
      this.vars.set(name, tf.variable(value, true, `${id}/${name}`));
      value.dispose();
    };
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

  /** Copies another model's weights into this one (same config), e.g. to start a weight average. */
  copyFrom(other: DiffusionMlp): void {
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

// ---------------------------------------------------------------------------------------------------------
// Loss

/**
 * The simplified loss L_simple (Ho et al. 2020, eq. 14): || eps - eps_theta(sqrt(alphaBar_t) x_0 +
 * sqrt(1 - alphaBar_t) eps, t) ||^2, averaged over the batch and the data dimensions (a mean squared error).
 * `t` holds one timestep per row, `noise` is eps shaped like x0, `labels` the classes when conditioned.
 */
export function epsilonLoss(model: DiffusionMlp, schedule: NoiseSchedule, x0: tf.Tensor, t: ArrayLike<number>, noise: tf.Tensor, labels?: ArrayLike<number> | null): tf.Scalar {
  return tf.tidy(() => {
    const B = x0.shape[0]!;
    const xt = qSample(schedule, x0, t, noise);
    const pred = model.predictNoise(xt, t, labels);
    return tf.mean(tf.squaredDifference(pred, noise.reshape([B, -1]))) as tf.Scalar;
  });
}

/**
 * L_simple over a whole set with timesteps and noise drawn from `seed`: the same weights give the same number
 * every time, so a checkpoint's recorded loss can be checked. Computed in batches of 500; a plain number.
 */
export function evaluateEpsilonLoss(model: DiffusionMlp, schedule: NoiseSchedule, x0: tf.Tensor, seed: number, labels?: ArrayLike<number> | null): number {
  const r = new Rng(seed);
  const n = x0.shape[0]!;
  const t = sampleTimesteps(n, schedule.T, r);
  let sum = 0;
  for (let start = 0; start < n; start += 500) {
    const size = Math.min(500, n - start);
    const noiseSeed = r.seed();
    sum += tf.tidy(() => {
      const batch = x0.slice(start, size);
      const y = labels ? Array.from(labels).slice(start, start + size) : null;
      return epsilonLoss(model, schedule, batch, t.subarray(start, start + size), tf.randomNormal(batch.shape, 0, 1, "float32", noiseSeed), y).dataSync()[0]! * size;
    });
  }
  return sum / n;
}

// ---------------------------------------------------------------------------------------------------------
// Sampling

/** Options shared by {@link ddpmSample} and {@link ddimSample}. */
export interface DiffusionSampleOptions {
  /** Number of samples. */
  n: number;
  /** Seeds the starting noise x_T and every noise draw on the way: the same seed gives the same samples. */
  seed: number;
  /** One class per sample for a class-conditioned model (0..numClasses-1, or numClasses for none). */
  labels?: ArrayLike<number> | null;
  /**
   * Classifier-free guidance weight w (Ho and Salimans 2022, eq. 6): eps = (1 + w) eps(x, y) - w eps(x, none).
   * 0 (the default) is plain conditional sampling; it needs a class-conditioned model.
   */
  guidance?: number;
  /** Clip the predicted x_0 to this range at every step (Ho et al.'s code does, to [-1, 1], for images). Default none. */
  clip?: [number, number] | null;
  /** Timesteps at which to keep a copy of x_t (T is the starting noise, 0 the final sample). Default none. */
  keep?: number[];
}

/** What a sampler returns. The caller disposes `samples` and every tensor in `trajectory`. */
export interface DiffusionSampleResult {
  /** x_0, (n, dataDim). */
  samples: tf.Tensor2D;
  /** Copies of x_t at the requested timesteps, in the order the sampler reached them. */
  trajectory: { t: number; x: tf.Tensor2D }[];
}

/** eps_theta with classifier-free guidance when asked: one batch of 2n rows (conditional, then unconditional). */
function guidedNoise(model: DiffusionMlp, x: tf.Tensor2D, t: number, labels: ArrayLike<number> | null, w: number): tf.Tensor2D {
  if (w === 0) return model.predictNoise(x, t, labels);
  return tf.tidy(() => {
    const n = x.shape[0];
    const none = new Array<number>(n).fill(model.config.numClasses);
    const both = model.predictNoise(tf.concat([x, x]), t, [...Array.from(labels!), ...none]); // (2n, D)
    const [cond, uncond] = tf.split(both, 2);
    return tf.sub(tf.mul(1 + w, cond!), tf.mul(w, uncond!)) as tf.Tensor2D;
  });
}

function checkSampleOptions(model: DiffusionMlp, o: DiffusionSampleOptions): { labels: ArrayLike<number> | null; w: number } {
  if (!Number.isInteger(o.n) || o.n < 1) throw new RangeError(`sampler: n must be a positive integer, got ${o.n}`);
  const w = o.guidance ?? 0;
  const labels = o.labels ?? null;
  if (w !== 0 && model.config.numClasses === 0) throw new RangeError("sampler: classifier-free guidance needs a class-conditioned model");
  if (labels && labels.length !== o.n) throw new RangeError(`sampler: ${labels.length} labels for ${o.n} samples`);
  return { labels, w };
}

/**
 * Ancestral sampling (Ho et al. 2020, Algorithm 2): start from x_T ~ N(0, I) and for t = T..1 draw
 * x_{t-1} ~ N(mu_theta(x_t, t), sigma_t^2 I), where mu_theta is the posterior mean of q(x_{t-1} | x_t, x_0)
 * at the predicted x_0 = (x_t - sqrt(1 - alphaBar_t) eps_theta) / sqrt(alphaBar_t), and no noise is added at
 * t = 1. sigma_t^2 = beta_t ("beta", the default) or the posterior variance betaTilde_t ("posterior"); Ho et
 * al. found both to give similar results (section 3.2). Randomness: with r = new Rng(seed), x_T is
 * tf.randomNormal(..., r.seed()) and the noise of step t (T..2) the next r.seed(), so a loop written out in
 * a notebook can reproduce the samples exactly.
 */
export function ddpmSample(model: DiffusionMlp, schedule: NoiseSchedule, options: DiffusionSampleOptions & { variance?: "beta" | "posterior" }): DiffusionSampleResult {
  const { labels, w } = checkSampleOptions(model, options);
  const rng = new Rng(options.seed);
  const keep = new Set(options.keep ?? []);
  const D = model.config.dataDim;
  const trajectory: DiffusionSampleResult["trajectory"] = [];
  let x = tf.randomNormal([options.n, D], 0, 1, "float32", rng.seed()) as tf.Tensor2D; // x_T
  if (keep.has(schedule.T)) trajectory.push({ t: schedule.T, x: x.clone() });
  for (let t = schedule.T; t >= 1; t--) {
    const next = tf.tidy(() => {
      // 1) predict the noise, 2) the x_0 it implies, 3) the posterior mean, 4) add sigma_t z (none at t = 1).
      const eps = guidedNoise(model, x, t, labels, w);
      let x0 = predictX0(schedule, x, eps, t);
      if (options.clip) x0 = tf.clipByValue(x0, options.clip[0], options.clip[1]);
      const { c0, ct, variance } = posteriorCoefficients(schedule, t);
      const mean = tf.add(tf.mul(c0, x0), tf.mul(ct, x));
      if (t === 1) return mean as tf.Tensor2D;
      const sigma = Math.sqrt(options.variance === "posterior" ? variance : schedule.betas[t]!);
      return tf.add(mean, tf.mul(sigma, tf.randomNormal(x.shape, 0, 1, "float32", rng.seed()))) as tf.Tensor2D;
    });
    x.dispose();
    x = next;
    if (keep.has(t - 1)) trajectory.push({ t: t - 1, x: x.clone() });
  }
  return { samples: x, trajectory };
}

/** The DDIM timesteps: `steps` evenly spaced values from T down to 1 (Song et al. 2021, section 4.2 and appendix D.2). */
export function ddimTimesteps(T: number, steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > T) throw new RangeError(`ddimTimesteps: steps must be an integer in 1..${T}, got ${steps}`);
  const out: number[] = [];
  for (let i = steps; i >= 1; i--) out.push(Math.max(1, Math.round((i * T) / steps)));
  return out;
}

/**
 * DDIM sampling (Song et al. 2021, eq. 12) on `steps` evenly spaced timesteps: from x_t to x_s (s < t),
 * x_s = sqrt(alphaBar_s) x0_hat + sqrt(1 - alphaBar_s - sigma^2) eps_theta + sigma z with
 * sigma = eta sqrt((1 - alphaBar_s) / (1 - alphaBar_t)) sqrt(1 - alphaBar_t / alphaBar_s). With eta = 0 (the
 * default) the map from x_T to x_0 is deterministic: only the starting noise depends on the seed.
 */
export function ddimSample(model: DiffusionMlp, schedule: NoiseSchedule, options: DiffusionSampleOptions & { steps?: number; eta?: number }): DiffusionSampleResult {
  const { labels, w } = checkSampleOptions(model, options);
  const rng = new Rng(options.seed);
  const eta = options.eta ?? 0;
  const taus = ddimTimesteps(schedule.T, options.steps ?? Math.min(50, schedule.T));
  const keep = new Set(options.keep ?? []);
  const trajectory: DiffusionSampleResult["trajectory"] = [];
  let x = tf.randomNormal([options.n, model.config.dataDim], 0, 1, "float32", rng.seed()) as tf.Tensor2D; // x_T
  if (keep.has(schedule.T)) trajectory.push({ t: schedule.T, x: x.clone() });
  taus.forEach((t, i) => {
    const s = i + 1 < taus.length ? taus[i + 1]! : 0;
    const next = tf.tidy(() => {
      const eps = guidedNoise(model, x, t, labels, w);
      let x0 = predictX0(schedule, x, eps, t);
      if (options.clip) x0 = tf.clipByValue(x0, options.clip[0], options.clip[1]);
      const ab = schedule.alphaBars[t]!;
      const abS = schedule.alphaBars[s]!;
      const sigma = eta * Math.sqrt((1 - abS) / (1 - ab)) * Math.sqrt(1 - ab / abS);
      // With a clipped x0, re-derive the noise it implies so the step stays on the line through x_t and x0.
      const epsUsed = options.clip ? tf.div(tf.sub(x, tf.mul(Math.sqrt(ab), x0)), Math.sqrt(1 - ab)) : eps;
      let out = tf.add(tf.mul(Math.sqrt(abS), x0), tf.mul(Math.sqrt(Math.max(0, 1 - abS - sigma * sigma)), epsUsed));
      if (sigma > 0) out = tf.add(out, tf.mul(sigma, tf.randomNormal(x.shape, 0, 1, "float32", rng.seed())));
      return out as tf.Tensor2D;
    });
    x.dispose();
    x = next;
    if (keep.has(s)) trajectory.push({ t: s, x: x.clone() });
  });
  return { samples: x, trajectory };
}

// ---------------------------------------------------------------------------------------------------------
// Training

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
 * What a training loop needs to train a {@link DiffusionMlp} on a fixed set of examples with L_simple
 * (Ho et al. 2020, Algorithm 1): batches from a reshuffled-every-epoch order, a uniform t per example, fresh
 * noise, one Adam step. `step()` plugs into kernel-lib's `train()`.
 */
export class DiffusionTrainer {
  readonly model: DiffusionMlp;
  readonly schedule: NoiseSchedule;
  readonly optimizer: tf.Optimizer;
  readonly batchSize: number;
  /** The weight average, or null when emaDecay is 0. Sample from it: it is what the lesson reports. */
  readonly average: DiffusionMlp | null;
  private readonly data: tf.Tensor2D;
  private readonly labels: Int32Array | null;
  private readonly dropClass: number;
  private readonly emaDecay: number;
  private readonly rng: Rng;
  private readonly learningRate: number;
  private readonly decaySteps: number;
  private order: number[] = [];
  private cursor = 0;
  /** Steps taken. */
  steps = 0;

  /** @param data (N, dataDim) or (N, 28, 28); the trainer keeps its own flattened copy. */
  constructor(model: DiffusionMlp, schedule: NoiseSchedule, data: tf.Tensor, options: DiffusionTrainerOptions) {
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
    this.optimizer = tf.train.adam(this.learningRate);
    if (this.emaDecay > 0) {
      this.average = new DiffusionMlp(model.config, new Rng(0));
      this.average.copyFrom(model);
    } else {
      this.average = null;
    }
  }

  /** The next batch's indices; a new random order starts each epoch. */
  private nextIndices(): number[] {
    if (this.cursor + this.batchSize > this.order.length) {
      this.order = this.rng.permutation(this.data.shape[0]);
      this.cursor = 0;
    }
    const idx = this.order.slice(this.cursor, this.cursor + this.batchSize);
    this.cursor += this.batchSize;
    return idx;
  }

  /** One step of Algorithm 1: returns { loss } (L_simple on the batch, before the update) as a scalar. */
  step(): { loss: tf.Scalar } {
    const idx = this.nextIndices();
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
