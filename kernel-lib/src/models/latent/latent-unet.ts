/**
 * The denoiser of latent diffusion in miniature (Rombach et al. 2022, section 3.3): a small U-Net on 7x7xC
 * latents, conditioned on the class only through cross-attention to a few learned tokens per class (the way
 * Stable Diffusion's U-Net reads a prompt's token embeddings), with a learned null condition for classifier-free
 * guidance. Taught in notebooks/07-latent-diffusion.ipynb.
 *
 * - time: t / T -> dense to timeDim, SiLU -> dense, SiLU (as the pixel U-Net of lesson 06);
 * - Res(a -> b): 3x3 conv, group norm, SiLU, + the time embedding projected to b, 3x3 conv, group norm, SiLU,
 *   + the input (1x1 conv when a != b); Attn: x + cross-attention(GroupNorm(x) -> the class tokens);
 * - 3x3 conv C -> c1 at 7x7 -> Res(c1->c1), Attn -> 3x3 stride-2 conv to 4x4 -> Res(c1->c2), Attn ->
 *   Res(c2->c2), Attn (middle) -> Res(c2+c2->c2), Attn -> nearest x2 to 8x8, cropped to 7x7 -> Res(c2+c1->c1),
 *   Attn -> 3x3 conv to C. Each up block reads the down path's output at its size (the skip connections).
 */
import * as tf from "@tensorflow/tfjs";
import { ClassTokens, SpatialCrossAttention } from "./condition";
import { Denoiser } from "../diffusion/denoiser";
import { NoiseSchedule } from "../diffusion/schedules";
import { ShapeError } from "../../nn/errors";
import { groupNorm } from "../../nn/group-norm";
import { ConvParams } from "../../nn/conv-params";
import { Rng } from "../../runtime/random";
import { Checkpoint, saveCheckpoint } from "../../train/checkpoint";

/** The latent U-Net's sizes. Saved in checkpoints; loading checks them. */
export interface LatentUNetConfig {
  /** Latent channels C at 7x7 (dataDim = 49 C). */
  latentChannels: number;
  /** Classes (class `numClasses` is "no class"). */
  numClasses: number;
  /** The schedule's number of steps T; the network reads t / T. */
  T: number;
  /** Channels at 7x7 and at 4x4. */
  channels: [number, number];
  /** Width of the time embedding. */
  timeDim: number;
  /** Groups of every group norm (each channel count must be divisible by it). */
  groups: number;
  /** Learned condition tokens per class (the "prompt length"). */
  condTokens: number;
  /** Width of a condition token. */
  condDim: number;
  /** Heads of every cross-attention (must divide both channel counts). */
  heads: number;
}

/** The lesson's latent U-Net: 4 latent channels, channels 32 and 64, 4 tokens of 32 per class, 4 heads. */
export function latentUNetConfig(T: number): LatentUNetConfig {
  return { latentChannels: 4, numClasses: 10, T, channels: [32, 64], timeDim: 64, groups: 8, condTokens: 4, condDim: 32, heads: 4 };
}

/** The kind name of a latent U-Net checkpoint. */
export const LATENT_UNET_CHECKPOINT_KIND = "latent-diffusion-unet";

const silu = (x: tf.Tensor): tf.Tensor => tf.mul(x, tf.sigmoid(x));
const PAD1: [[0, 0], [1, 1], [1, 1], [0, 0]] = [[0, 0], [1, 1], [1, 1], [0, 0]];
/** Residual blocks in order, with their input and output channels as functions of (c1, c2). */
const BLOCKS: [string, (c1: number, c2: number) => [number, number]][] = [
  ["down1", (a) => [a, a]],
  ["down2", (a, b) => [a, b]],
  ["mid", (_, b) => [b, b]],
  ["up2", (_, b) => [2 * b, b]],
  ["up1", (a, b) => [b + a, a]],
];

export class LatentUNet implements Denoiser {
  readonly config: LatentUNetConfig & { readonly dataDim: number };
  private readonly params: ConvParams;
  private readonly attn = new Map<string, SpatialCrossAttention>();
  private readonly tokens: ClassTokens;
  private static instances = 0;
  private readonly id: string;

  constructor(config: LatentUNetConfig, rng: Rng = new Rng(0)) {
    const ok = (n: number) => Number.isInteger(n) && n > 0;
    const { channels: ch, groups, heads } = config;
    const sizesOk = [config.latentChannels, config.numClasses, config.T, config.timeDim, groups, config.condTokens, config.condDim, heads].every(ok);
    if (!sizesOk || ch.length !== 2 || !ch.every((c) => ok(c) && c % groups === 0 && c % heads === 0)) {
      throw new RangeError(`LatentUNet: config needs positive integer sizes and 2 channel counts divisible by groups and heads; got ${JSON.stringify(config)}`);
    }
    this.config = { ...config, channels: [ch[0], ch[1]], dataDim: 49 * config.latentChannels };
    this.id = `latentunet${LatentUNet.instances++}`;
    this.params = new ConvParams(this.id);
    const [c1, c2] = this.config.channels;
    const C = config.latentChannels;
    this.params.dense("time1", 1, config.timeDim, rng);
    this.params.dense("time2", config.timeDim, config.timeDim, rng);
    this.params.conv("in", 3, C, c1, rng);
    this.params.conv("downsample", 3, c1, c1, rng);
    for (const [name, io] of BLOCKS) {
      const [a, b] = io(c1, c2);
      this.params.conv(`${name}.conv1`, 3, a, b, rng);
      this.params.norm(`${name}.norm1`, b);
      this.params.dense(`${name}.time`, config.timeDim, b, rng);
      this.params.conv(`${name}.conv2`, 3, b, b, rng);
      this.params.norm(`${name}.norm2`, b);
      if (a !== b) this.params.conv(`${name}.skip`, 1, a, b, rng);
      this.attn.set(name, new SpatialCrossAttention(b, heads, config.condDim, groups, rng));
    }
    this.params.conv("out", 3, c1, C, rng);
    this.tokens = new ClassTokens(config.numClasses, config.condTokens, config.condDim, rng, `${this.id}/tokens`);
  }

  private applyConv(x: tf.Tensor4D, name: string, stride = 1): tf.Tensor4D {
    return tf.add(tf.conv2d(x, this.params.get(`${name}.kernel`) as tf.Tensor4D, stride, stride === 1 ? "same" : PAD1), this.params.get(`${name}.bias`)) as tf.Tensor4D;
  }
  private applyDense(x: tf.Tensor, name: string): tf.Tensor2D {
    return tf.add(tf.matMul(x as tf.Tensor2D, this.params.get(`${name}.kernel`)), this.params.get(`${name}.bias`)) as tf.Tensor2D;
  }
  private norm2d(x: tf.Tensor4D, name: string): tf.Tensor4D {
    return groupNorm(x, this.params.get(`${name}.gamma`) as tf.Tensor1D, this.params.get(`${name}.beta`) as tf.Tensor1D, this.config.groups);
  }

  /** Res(a -> b) with the time embedding, then cross-attention to the tokens. */
  private block(x: tf.Tensor4D, temb: tf.Tensor2D, cond: tf.Tensor3D, name: string): tf.Tensor4D {
    const B = x.shape[0];
    const cout = (this.params.get(`${name}.conv1.bias`) as tf.Tensor).size;
    let h = silu(this.norm2d(this.applyConv(x, `${name}.conv1`), `${name}.norm1`)) as tf.Tensor4D;
    h = tf.add(h, tf.reshape(this.applyDense(temb, `${name}.time`), [B, 1, 1, cout])) as tf.Tensor4D;
    h = silu(this.norm2d(this.applyConv(h, `${name}.conv2`), `${name}.norm2`)) as tf.Tensor4D;
    h = tf.add(h, this.params.vars.has(`${name}.skip.kernel`) ? this.applyConv(x, `${name}.skip`) : x) as tf.Tensor4D;
    return this.attn.get(name)!.apply(h, cond);
  }

  /** The condition tokens of each label (B, condTokens, condDim); label numClasses is the null condition. */
  conditionTokens(labels: ArrayLike<number>): tf.Tensor3D {
    return this.tokens.lookup(labels);
  }

  /** eps_theta(z_t, t, y): latents (B, 49C) at timesteps t (one, or one per row), one class per row (required). */
  predictNoise(x: tf.Tensor, t: number | ArrayLike<number>, labels?: ArrayLike<number> | null): tf.Tensor2D {
    const B = x.shape[0]!;
    const D = this.config.dataDim;
    if (x.rank !== 2 || x.shape[1] !== D) throw new ShapeError(`LatentUNet: expected latents (B, ${D}) = (B, 7·7·${this.config.latentChannels}), got shape [${x.shape.join(", ")}]; encode images with the autoencoder first`);
    if (!labels) throw new RangeError(`LatentUNet: pass one label per row (0..${this.config.numClasses - 1}, or ${this.config.numClasses} for no class)`);
    if (labels.length !== B) throw new RangeError(`LatentUNet: ${labels.length} labels for ${B} latents`);
    const ts = typeof t === "number" ? new Array<number>(B).fill(t) : Array.from(t);
    if (ts.length !== B) throw new RangeError(`LatentUNet: ${ts.length} timesteps for ${B} latents`);
    return tf.tidy(() => {
      const temb = silu(this.applyDense(silu(this.applyDense(tf.tensor2d(ts.map((v) => v / this.config.T), [B, 1]), "time1")), "time2")) as tf.Tensor2D;
      const cond = this.tokens.lookup(labels); //                                   (B, S, condDim)
      const h0 = this.applyConv(tf.reshape(x, [B, 7, 7, this.config.latentChannels]) as tf.Tensor4D, "in");
      const a = this.block(h0, temb, cond, "down1"); //                              (B, 7, 7, c1)
      const b = this.block(this.applyConv(a, "downsample", 2), temb, cond, "down2"); // (B, 4, 4, c2)
      const m = this.block(b, temb, cond, "mid");
      const u2 = this.block(tf.concat([m, b], 3), temb, cond, "up2"); //             (B, 4, 4, c2)
      const up = tf.slice(tf.image.resizeNearestNeighbor(u2, [8, 8]), [0, 0, 0, 0], [B, 7, 7, -1]) as tf.Tensor4D;
      const u1 = this.block(tf.concat([up, a], 3), temb, cond, "up1"); //             (B, 7, 7, c1)
      return tf.reshape(this.applyConv(u1, "out"), [B, D]) as tf.Tensor2D;
    });
  }

  /** The cross-attention block of one residual stage ("down1", "down2", "mid", "up2", "up1"). */
  attention(stage: string): SpatialCrossAttention {
    const a = this.attn.get(stage);
    if (!a) throw new RangeError(`LatentUNet: no stage ${stage}; stages: ${[...this.attn.keys()].join(", ")}`);
    return a;
  }

  weights(): Record<string, tf.Variable> {
    const out: Record<string, tf.Variable> = Object.fromEntries(this.params.vars);
    for (const [stage, a] of this.attn) for (const [k, v] of Object.entries(a.variables())) out[`${stage}.attn.${k}`] = v;
    out["tokens"] = this.tokens.table;
    return out;
  }
  get variables(): tf.Variable[] {
    return Object.values(this.weights());
  }
  parameterCount(): number {
    return this.variables.reduce((s, v) => s + v.size, 0);
  }
  fresh(): LatentUNet {
    return new LatentUNet(this.config, new Rng(0));
  }
  copyFrom(other: Denoiser): void {
    const theirs = other.weights();
    for (const [name, v] of Object.entries(this.weights())) {
      const w = theirs[name];
      if (!w || w.shape.join(",") !== v.shape.join(",")) throw new RangeError(`LatentUNet.copyFrom: weight ${name} is missing or has another shape`);
      v.assign(w);
    }
  }
  toCheckpoint(schedule: NoiseSchedule, step: number, extra: Record<string, unknown> = {}): Checkpoint {
    const { dataDim: _d, ...model } = this.config;
    return { kind: LATENT_UNET_CHECKPOINT_KIND, config: { model, schedule: { kind: schedule.kind, T: schedule.T } }, step, weights: this.weights(), extra };
  }
  async save(file: string, schedule: NoiseSchedule, step: number, extra: Record<string, unknown> = {}): Promise<void> {
    await saveCheckpoint(file, this.toCheckpoint(schedule, step, extra));
  }
  dispose(): void {
    tf.dispose([...this.params.vars.values(), this.tokens.table]);
    for (const a of this.attn.values()) a.dispose();
    this.params.vars.clear();
    this.attn.clear();
  }
}

/**
 * The parameter count of a latent U-Net by formula: time MLP, input/downsample/output convs, five residual
 * blocks (two 3x3 convs, two norms, a time projection, a 1x1 skip when the width changes), five attention
 * blocks (a norm and four projections with biases) and the token table (numClasses + 1 sequences).
 */
export function latentUNetParameterCount(c: LatentUNetConfig): number {
  const [c1, c2] = c.channels;
  const conv = (k: number, a: number, b: number) => k * k * a * b + b;
  const dense = (a: number, b: number) => a * b + b;
  let n = dense(1, c.timeDim) + dense(c.timeDim, c.timeDim) + conv(3, c.latentChannels, c1) + conv(3, c1, c1) + conv(3, c1, c.latentChannels);
  for (const [, io] of BLOCKS) {
    const [a, b] = io(c1, c2);
    n += conv(3, a, b) + conv(3, b, b) + 4 * b + dense(c.timeDim, b) + (a !== b ? conv(1, a, b) : 0);
    n += 2 * b + dense(b, b) * 2 + dense(c.condDim, b) * 2; // norm; W_q, W_o (b x b); W_k, W_v (condDim x b)
  }
  return n + (c.numClasses + 1) * c.condTokens * c.condDim;
}
