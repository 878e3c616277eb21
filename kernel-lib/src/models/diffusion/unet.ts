/**
 * A small U-Net denoiser for 28x28x1 images (Ronneberger et al. 2015; as DDPM uses it, Ho et al. 2020, appendix B,
 * much smaller), at the sizes the benchmark of the convolution work uses (scripts/bench-workloads.ts, "unet"),
 * for notebooks/06-diffusion.ipynb:
 *
 * - time: t / T -> dense to 128, SiLU -> dense to 128, SiLU (the embedding every block reads);
 * - residual block Res(a -> b): 3x3 conv, group norm (8 groups), SiLU, plus the time embedding projected to b
 *   channels, then 3x3 conv, group norm, SiLU, plus the input (through a 1x1 conv when a != b);
 * - 3x3 conv to 32 -> Res(32->32) at 28 -> average pool -> Res(32->64) at 14 -> pool -> Res(64->128) at 7 ->
 *   Res(128->128) -> Res(128+128->64) at 7 -> nearest x2 -> Res(64+64->32) at 14 -> x2 -> Res(32+32->32) at 28 ->
 *   3x3 conv to 1; each up block reads the down path's output at its size (the skip connections).
 *
 * Weights start from PyTorch's default U(-1/√fanIn, 1/√fanIn), as the benchmark's PyTorch side.
 */
import * as tf from "@tensorflow/tfjs";
import { Denoiser } from "./denoiser";
import { NoiseSchedule, noiseSchedule, ScheduleKind } from "./schedules";
import { groupNorm } from "../../nn/group-norm";
import { ConvParams } from "../../nn/conv-params";
import { Rng } from "../../runtime/random";
import { Checkpoint, CheckpointError, disposeCheckpoint, loadCheckpoint, saveCheckpoint } from "../../train/checkpoint";

/** The U-Net's sizes. Saved in checkpoints; loading checks them. */
export interface UNetConfig {
  /** 784: 28x28x1 images, flattened as the samplers hand them over. */
  dataDim: 784;
  /** Unconditional only (0). */
  numClasses: 0;
  /** The schedule's number of steps T; the network reads t / T. */
  T: number;
  /** Channels at 28, 14 and 7 pixels. */
  channels: [number, number, number];
  /** Width of the time embedding. */
  timeDim: number;
  /** Groups of every group norm (each channel count must be divisible by it). */
  groups: number;
}

/** The benchmark's (and the lesson's) U-Net for a schedule of T steps: channels 32, 64, 128; about 0.96M parameters. */
export function unetConfig(T: number): UNetConfig {
  return { dataDim: 784, numClasses: 0, T, channels: [32, 64, 128], timeDim: 128, groups: 8 };
}

/** The kind name of a U-Net checkpoint. */
export const UNET_CHECKPOINT_KIND = "diffusion-unet";

const silu = (x: tf.Tensor): tf.Tensor => tf.mul(x, tf.sigmoid(x));

export class UNet implements Denoiser {
  readonly config: UNetConfig;
  private readonly params: ConvParams;
  private static instances = 0;
  private readonly id: string;

  constructor(config: UNetConfig, rng: Rng = new Rng(0)) {
    const ok = (n: number) => Number.isInteger(n) && n > 0;
    const { T, channels, timeDim, groups } = config;
    if (config.dataDim !== 784 || config.numClasses !== 0 || !ok(T) || !ok(timeDim) || !ok(groups) || channels.length !== 3 || !channels.every((c) => ok(c) && c % groups === 0)) {
      throw new RangeError(`UNet: config needs dataDim 784, numClasses 0, positive T and timeDim, and 3 channel counts divisible by groups; got ${JSON.stringify(config)}`);
    }
    this.config = { ...config, channels: [channels[0], channels[1], channels[2]] };
    this.id = `unet${UNet.instances++}`;
    this.params = new ConvParams(this.id);
    const [c1, c2, c3] = this.config.channels;
    this.params.dense("time1", 1, timeDim, rng);
    this.params.dense("time2", timeDim, timeDim, rng);
    this.params.conv("in", 3, 1, c1, rng);
    const blocks: [string, number, number][] = [["down1", c1, c1], ["down2", c1, c2], ["down3", c2, c3], ["mid", c3, c3], ["up3", 2 * c3, c2], ["up2", 2 * c2, c1], ["up1", 2 * c1, c1]];
    for (const [name, a, b] of blocks) {
      this.params.conv(`${name}.conv1`, 3, a, b, rng);
      this.params.norm(`${name}.norm1`, b);
      this.params.dense(`${name}.time`, timeDim, b, rng);
      this.params.conv(`${name}.conv2`, 3, b, b, rng);
      this.params.norm(`${name}.norm2`, b);
      if (a !== b) this.params.conv(`${name}.skip`, 1, a, b, rng);
    }
    this.params.conv("out", 3, c1, 1, rng);
  }

  private applyConv(x: tf.Tensor4D, name: string): tf.Tensor4D {
    return tf.add(tf.conv2d(x, this.params.get(`${name}.kernel`) as tf.Tensor4D, 1, "same"), this.params.get(`${name}.bias`)) as tf.Tensor4D;
  }
  private applyDense(x: tf.Tensor, name: string): tf.Tensor2D {
    return tf.add(tf.matMul(x as tf.Tensor2D, this.params.get(`${name}.kernel`)), this.params.get(`${name}.bias`)) as tf.Tensor2D;
  }
  private norm2d(x: tf.Tensor4D, name: string): tf.Tensor4D {
    return groupNorm(x, this.params.get(`${name}.gamma`) as tf.Tensor1D, this.params.get(`${name}.beta`) as tf.Tensor1D, this.config.groups);
  }

  /** Res(a -> b) with the time embedding temb (B, timeDim). */
  private res(x: tf.Tensor4D, temb: tf.Tensor2D, name: string): tf.Tensor4D {
    const B = x.shape[0];
    const cout = (this.params.get(`${name}.conv1.bias`) as tf.Tensor).size;
    let h = silu(this.norm2d(this.applyConv(x, `${name}.conv1`), `${name}.norm1`)) as tf.Tensor4D;
    h = tf.add(h, tf.reshape(this.applyDense(temb, `${name}.time`), [B, 1, 1, cout])) as tf.Tensor4D;
    h = silu(this.norm2d(this.applyConv(h, `${name}.conv2`), `${name}.norm2`)) as tf.Tensor4D;
    return tf.add(h, this.params.vars.has(`${name}.skip.kernel`) ? this.applyConv(x, `${name}.skip`) : x) as tf.Tensor4D;
  }

  predictNoise(x: tf.Tensor, t: number | ArrayLike<number>, labels?: ArrayLike<number> | null): tf.Tensor2D {
    if (labels) throw new RangeError("UNet: this U-Net is unconditional; pass no labels");
    const B = x.shape[0]!;
    if (x.size !== B * 784) throw new RangeError(`UNet: expected (B, 784) or (B, 28, 28[, 1]) images, got shape [${x.shape.join(", ")}]`);
    const ts = typeof t === "number" ? new Array<number>(B).fill(t) : Array.from(t);
    if (ts.length !== B) throw new RangeError(`UNet: ${ts.length} timesteps for ${B} images`);
    return tf.tidy(() => {
      const temb = silu(this.applyDense(silu(this.applyDense(tf.tensor2d(ts.map((v) => v / this.config.T), [B, 1]), "time1")), "time2")) as tf.Tensor2D;
      const pool = (h: tf.Tensor4D) => tf.avgPool(h, 2, 2, "valid");
      const up = (h: tf.Tensor4D) => tf.image.resizeNearestNeighbor(h, [2 * h.shape[1], 2 * h.shape[2]]);
      const h0 = this.applyConv(tf.reshape(x, [B, 28, 28, 1]) as tf.Tensor4D, "in");
      const a = this.res(h0, temb, "down1"); //            (B, 28, 28, c1)
      const b = this.res(pool(a), temb, "down2"); //       (B, 14, 14, c2)
      const c = this.res(pool(b), temb, "down3"); //       (B, 7, 7, c3)
      const m = this.res(c, temb, "mid");
      const u3 = this.res(tf.concat([m, c], 3), temb, "up3"); //           (B, 7, 7, c2)
      const u2 = this.res(tf.concat([up(u3), b], 3), temb, "up2"); //      (B, 14, 14, c1)
      const u1 = this.res(tf.concat([up(u2), a], 3), temb, "up1"); //      (B, 28, 28, c1)
      return tf.reshape(this.applyConv(u1, "out"), [B, 784]) as tf.Tensor2D;
    });
  }

  get variables(): tf.Variable[] {
    return [...this.params.vars.values()];
  }
  weights(): Record<string, tf.Variable> {
    return Object.fromEntries(this.params.vars);
  }
  parameterCount(): number {
    return this.variables.reduce((s, v) => s + v.size, 0);
  }
  fresh(): UNet {
    return new UNet(this.config, new Rng(0));
  }
  copyFrom(other: Denoiser): void {
    const theirs = other.weights();
    for (const [name, v] of this.params.vars) {
      const w = theirs[name];
      if (!w || w.shape.join(",") !== v.shape.join(",")) throw new RangeError(`UNet.copyFrom: weight ${name} is missing or has another shape`);
      v.assign(w);
    }
  }
  /** A checkpoint of this model and its schedule, as DiffusionMlp's (weights are read when it is saved). */
  toCheckpoint(schedule: NoiseSchedule, step: number, extra: Record<string, unknown> = {}): Checkpoint {
    return { kind: UNET_CHECKPOINT_KIND, config: { model: this.config, schedule: { kind: schedule.kind, T: schedule.T } }, step, weights: this.weights(), extra };
  }
  async save(file: string, schedule: NoiseSchedule, step: number, extra: Record<string, unknown> = {}): Promise<void> {
    await saveCheckpoint(file, this.toCheckpoint(schedule, step, extra));
  }
  dispose(): void {
    tf.dispose(this.variables);
    this.params.vars.clear();
  }
}

/** Loads a U-Net written by {@link UNet.save}, with its schedule. The caller disposes the model. */
export function loadUNet(file: string): { model: UNet; schedule: NoiseSchedule; step: number; extra: Record<string, unknown> } {
  const ckpt = loadCheckpoint(file, { kind: UNET_CHECKPOINT_KIND });
  let model: UNet | null = null;
  try {
    const saved = ckpt.config as { model: UNetConfig; schedule: { kind: ScheduleKind; T: number } };
    if (saved.schedule.T !== saved.model.T) throw new Error(`the schedule has T = ${saved.schedule.T}, the U-Net ${saved.model.T}`);
    model = new UNet(saved.model, new Rng(0));
    model.copyFrom({ weights: () => ckpt.weights as Record<string, tf.Variable> } as Denoiser);
    return { model, schedule: noiseSchedule(saved.schedule.kind, saved.schedule.T), step: ckpt.step, extra: ckpt.extra ?? {} };
  } catch (e) {
    model?.dispose();
    throw new CheckpointError(file, `does not hold a usable U-Net (${(e as Error).message})`);
  } finally {
    disposeCheckpoint(ckpt);
  }
}
