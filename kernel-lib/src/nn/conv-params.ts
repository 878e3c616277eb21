/**
 * The variables of a convolutional network by name, created with PyTorch's default U(-1/√fanIn, 1/√fanIn)
 * (dense and conv kernels and biases) and group-norm scales and shifts: the registry shared by the U-Net
 * denoisers of notebooks/06-diffusion.ipynb and notebooks/07-latent-diffusion.ipynb. Names are checkpoint names;
 * each variable is also named `<prefix>/<name>` in tfjs.
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../runtime/random";
import { uniformInit } from "./init";

export class ConvParams {
  readonly vars = new Map<string, tf.Variable>();

  constructor(private readonly prefix: string) {}

  /** A trainable variable `name` from `init` (which is disposed). */
  add(name: string, init: tf.Tensor): void {
    this.vars.set(name, tf.variable(init, true, `${this.prefix}/${name}`));
    init.dispose();
  }
  dense(name: string, nIn: number, nOut: number, r: Rng): void {
    this.add(`${name}.kernel`, uniformInit([nIn, nOut], nIn, r));
    this.add(`${name}.bias`, uniformInit([nOut], nIn, r));
  }
  conv(name: string, k: number, cin: number, cout: number, r: Rng): void {
    this.add(`${name}.kernel`, uniformInit([k, k, cin, cout], k * k * cin, r));
    this.add(`${name}.bias`, uniformInit([cout], k * k * cin, r));
  }
  norm(name: string, c: number): void {
    this.add(`${name}.gamma`, tf.ones([c]));
    this.add(`${name}.beta`, tf.zeros([c]));
  }
  get(name: string): tf.Tensor {
    return this.vars.get(name)!;
  }
}
