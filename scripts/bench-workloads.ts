/**
 * The benchmark workloads of `npm run bench` (scripts/bench.ts), built from plain tfjs ops so they do
 * not depend on lesson code. scripts/bench_torch.py defines the same models in PyTorch: keep the two
 * in step (shapes, activations, losses, optimizers).
 *
 *   sgemm-N      C = A B, N x N x N
 *   attention    causal multi-head attention fwd+bwd, B8 T128 d128 h4 (gradients of 4 projections)
 *   vae          VAE step 784-512-256-16 (mu, logvar), B128, Bernoulli likelihood + KL, Adam
 *   gan          GAN step, D (784-512-256-1) then G (100-256-512-784), B128, LeakyReLU 0.2, Adam
 *   char-gpt     char-GPT step, 2 layers, 4 heads, d128, T64, B32, vocab 65, GELU (tanh), Adam
 *   dcgan        DCGAN step on 28x28x1, B64: D on a real and a fake batch, then G (non-saturating);
 *                G z64 -> dense 7x7x128, ReLU -> convT 4x4/2 to 14x14x64, batch norm, ReLU -> convT 4x4/2
 *                to 28x28x1, tanh; D conv 4x4/2 to 14x14x64, LeakyReLU 0.2 -> conv 4x4/2 to 7x7x128,
 *                LeakyReLU 0.2 -> dense 1; Adam 2e-4 (0.5, 0.999)
 *   conv-vae     conv VAE step on 28x28x1, B128, latent 16: conv 3x3/2 to 14x14x32, ReLU -> conv 3x3/2 to
 *                7x7x64, ReLU -> dense 2x16; dense 7x7x64, ReLU -> convT 4x4/2 to 14x14x32, ReLU -> convT
 *                4x4/2 to 28x28x1 logits; BCE summed over pixels + KL; Adam 1e-3
 *   unet         denoising U-Net step on 28x28x1, B64, MSE on the noise (0.96M parameters): time embedding
 *                1 -> 128 -> 128 (SiLU); residual blocks (conv 3x3, group norm 8, SiLU, + projected time
 *                embedding, conv 3x3, group norm 8, SiLU, 1x1 skip when channels change); input conv to
 *                32; Res(32->32) at 28, avg-pool, Res(32->64) at 14, avg-pool, Res(64->128) at 7; middle
 *                Res(128->128); up Res(128+128->64) at 7, nearest x2, Res(64+64->32) at 14, nearest x2,
 *                Res(32+32->32) at 28; output conv 3x3 to 1; Adam 2e-4
 *
 * Every workload steps with kernel-lib's fusedAdam, as the lessons' trainers do (tf.train.adam's numbers, one
 * native pass per variable on wasm+native; plain tfjs ops on other backends), and unet normalizes with
 * kernel-lib's groupNorm (native forward and backward on wasm+native, tfjs ops elsewhere).
 */
import { tf, fusedAdam, groupNorm } from "kernel-lib";

/** One workload, set up on the active backend: `step` runs one iteration and settles. */
export interface Workload {
  step(): Promise<void>;
  dispose(): void;
}

/** The default workloads, in report order; `sgemm-N` for any N (e.g. sgemm-4096 on a GPU) also works. */
export const WORKLOADS = ["sgemm-256", "sgemm-512", "sgemm-1024", "attention", "vae", "gan", "char-gpt", "dcgan", "conv-vae", "unet"] as const;
export type WorkloadName = (typeof WORKLOADS)[number] | `sgemm-${number}`;

/** True for a name {@link makeWorkload} knows. */
export function isWorkload(name: string): name is WorkloadName {
  return (WORKLOADS as readonly string[]).includes(name) || /^sgemm-[1-9]\d*$/.test(name);
}

/** Floating-point operations of one sgemm call, for GFLOP/s. */
export const sgemmFlops = (n: number): number => 2 * n * n * n;

/** Reads one number back, so asynchronous backends (WebGPU) have finished the step. */
async function settle(t: tf.Tensor): Promise<void> {
  await t.data();
  t.dispose();
}

type Dense = { w: tf.Variable; b: tf.Variable };

function dense(inputs: number, outputs: number, seed: number, vars: tf.Variable[]): Dense {
  const w = tf.variable(tf.randomNormal([inputs, outputs], 0, Math.sqrt(2 / inputs), "float32", seed));
  const b = tf.variable(tf.zeros([outputs]));
  vars.push(w, b);
  return { w, b };
}

/** x W + b on rank-2 x, with relu fused when asked (tfjs can differentiate fused relu and linear only). */
function apply(x: tf.Tensor, l: Dense, activation: "linear" | "relu" = "linear"): tf.Tensor2D {
  return tf.fused.matMul({ a: x as tf.Tensor2D, b: l.w as tf.Tensor2D, bias: l.b, activation }) as tf.Tensor2D;
}

/** Mean binary cross-entropy with logits, stable form: max(l, 0) - l y + log(1 + exp(-|l|)). */
function bceWithLogits(logits: tf.Tensor, target: number | tf.Tensor): tf.Tensor {
  const y = typeof target === "number" ? tf.scalar(target) : target;
  return tf.mean(tf.add(tf.sub(tf.relu(logits), tf.mul(logits, y)), tf.log1p(tf.exp(tf.neg(tf.abs(logits))))));
}

function sgemm(n: number): Workload {
  const a = tf.randomNormal([n, n], 0, 1, "float32", 1);
  const b = tf.randomNormal([n, n], 0, 1, "float32", 2);
  return {
    step: () => settle(tf.tidy(() => tf.matMul(a, b).slice([0, 0], [1, 1]))),
    dispose: () => tf.dispose([a, b]),
  };
}

/** Causal multi-head self-attention on [B, T, d] (no batch-norm, no dropout). */
function attend(x: tf.Tensor, wq: tf.Tensor, wk: tf.Tensor, wv: tf.Tensor, wo: tf.Tensor, heads: number, mask: tf.Tensor): tf.Tensor {
  const [B, T, d] = x.shape as [number, number, number];
  const dh = d / heads;
  const x2 = x.reshape([B * T, d]);
  const split = (w: tf.Tensor) => tf.matMul(x2, w).reshape([B, T, heads, dh]).transpose([0, 2, 1, 3]); // (B, h, T, dh)
  const q = split(wq);
  const k = split(wk);
  const v = split(wv);
  const att = tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)), mask)); // (B, h, T, T)
  const y = tf.matMul(att, v).transpose([0, 2, 1, 3]).reshape([B * T, d]); // (B*T, d)
  return tf.matMul(y, wo).reshape([B, T, d]);
}

/** 0 on and below the diagonal, -1e9 above: adding it before softmax hides the future. */
function causalMask(T: number): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9));
}

function attention(): Workload {
  const [B, T, d, h] = [8, 128, 128, 4];
  const x = tf.randomNormal([B, T, d], 0, 1, "float32", 3);
  const mask = causalMask(T);
  const ws = [4, 5, 6, 7].map((s) => tf.variable(tf.randomNormal([d, d], 0, 1 / Math.sqrt(d), "float32", s)));
  return {
    step: async () => {
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(attend(x, ws[0]!, ws[1]!, ws[2]!, ws[3]!, h, mask))) as tf.Scalar, ws);
      tf.dispose(grads);
      await settle(value);
    },
    dispose: () => tf.dispose([x, mask, ...ws]),
  };
}

function vae(): Workload {
  const B = 128;
  const vars: tf.Variable[] = [];
  const [e1, e2, mu, lv] = [dense(784, 512, 10, vars), dense(512, 256, 11, vars), dense(256, 16, 12, vars), dense(256, 16, 13, vars)];
  const [d1, d2, d3] = [dense(16, 256, 14, vars), dense(256, 512, 15, vars), dense(512, 784, 16, vars)];
  const x = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([B, 784], 0, 1, "float32", 17), 0.7), "float32"));
  const opt = adam(1e-3);
  let seed = 100;
  return {
    step: async () => {
      const eps = tf.randomNormal([B, 16], 0, 1, "float32", seed++);
      const loss = opt.minimize(() => {
        const h = apply(apply(x, e1, "relu"), e2, "relu");
        const m = apply(h, mu);
        const logvar = apply(h, lv);
        const z = tf.add(m, tf.mul(tf.exp(tf.mul(logvar, 0.5)), eps));
        const logits = apply(apply(apply(z, d1, "relu"), d2, "relu"), d3);
        const rec = tf.mul(bceWithLogits(logits, x), 784); // summed over pixels, mean over the batch
        const kl = tf.mul(-0.5, tf.mean(tf.sum(tf.sub(tf.sub(tf.add(1, logvar), tf.square(m)), tf.exp(logvar)), 1)));
        return tf.add(rec, kl) as tf.Scalar;
      }, true, vars)!;
      eps.dispose();
      await settle(loss);
    },
    dispose: () => {
      tf.dispose([x, ...vars]);
      opt.dispose();
    },
  };
}

function gan(): Workload {
  const B = 128;
  const gVars: tf.Variable[] = [];
  const dVars: tf.Variable[] = [];
  const g = [dense(100, 256, 20, gVars), dense(256, 512, 21, gVars), dense(512, 784, 22, gVars)];
  const d = [dense(784, 512, 23, dVars), dense(512, 256, 24, dVars), dense(256, 1, 25, dVars)];
  const real = tf.randomUniform([B, 784], -1, 1, "float32", 26);
  const optG = adam(2e-4, 0.5);
  const optD = adam(2e-4, 0.5);
  const G = (z: tf.Tensor) => tf.tanh(apply(tf.leakyRelu(apply(tf.leakyRelu(apply(z, g[0]!), 0.2), g[1]!), 0.2), g[2]!));
  const D = (x: tf.Tensor) => apply(tf.leakyRelu(apply(tf.leakyRelu(apply(x, d[0]!), 0.2), d[1]!), 0.2), d[2]!);
  let seed = 200;
  return {
    step: async () => {
      const z = tf.randomNormal([B, 100], 0, 1, "float32", seed++);
      const lossD = optD.minimize(() => tf.add(bceWithLogits(D(real), 1), bceWithLogits(D(G(z)), 0)) as tf.Scalar, true, dVars)!;
      const lossG = optG.minimize(() => bceWithLogits(D(G(z)), 1) as tf.Scalar, true, gVars)!;
      z.dispose();
      lossD.dispose();
      await settle(lossG);
    },
    dispose: () => {
      tf.dispose([real, ...gVars, ...dVars]);
      optG.dispose();
      optD.dispose();
    },
  };
}

function charGpt(): Workload {
  const [L, H, d, T, B, V] = [2, 4, 128, 64, 32, 65];
  const vars: tf.Variable[] = [];
  const v = (shape: number[], seed: number, std = 0.02) => {
    const t = tf.variable(tf.randomNormal(shape, 0, std, "float32", seed));
    vars.push(t);
    return t;
  };
  const ones = (n: number) => {
    const t = tf.variable(tf.ones([n]));
    vars.push(t);
    return t;
  };
  const zeros = (n: number) => {
    const t = tf.variable(tf.zeros([n]));
    vars.push(t);
    return t;
  };
  const wte = v([V, d], 30);
  const wpe = v([T, d], 31);
  const blocks = Array.from({ length: L }, (_, l) => ({
    ln1g: ones(d), ln1b: zeros(d), wqkv: v([d, 3 * d], 40 + l), bqkv: zeros(3 * d), wo: v([d, d], 50 + l), bo: zeros(d),
    ln2g: ones(d), ln2b: zeros(d), w1: v([d, 4 * d], 60 + l), b1: zeros(4 * d), w2: v([4 * d, d], 70 + l), b2: zeros(d),
  }));
  const lnfg = ones(d);
  const lnfb = zeros(d);
  const head = v([d, V], 80);
  const mask = causalMask(T);
  const idx = tf.randomUniform([B, T], 0, V, "int32", 81);
  const targets = tf.oneHot(tf.randomUniform([B * T], 0, V, "int32", 82), V);
  const opt = adam(1e-3);
  const layerNorm = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), g), b);
  };
  const gelu = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))));
  const lin = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias: b });
  const forward = () => {
    let x: tf.Tensor = tf.add(tf.gather(wte, idx), wpe).reshape([B * T, d]); // (B*T, d)
    for (const k of blocks) {
      const qkv = lin(layerNorm(x, k.ln1g, k.ln1b), k.wqkv, k.bqkv); // (B*T, 3d)
      const heads = (i: number) => qkv.slice([0, i * d], [B * T, d]).reshape([B, T, H, d / H]).transpose([0, 2, 1, 3]); // (B, H, T, dh)
      const att = tf.softmax(tf.add(tf.mul(tf.matMul(heads(0), heads(1), false, true), 1 / Math.sqrt(d / H)), mask));
      const y = tf.matMul(att, heads(2)).transpose([0, 2, 1, 3]).reshape([B * T, d]);
      x = tf.add(x, lin(y, k.wo, k.bo));
      x = tf.add(x, lin(gelu(lin(layerNorm(x, k.ln2g, k.ln2b), k.w1, k.b1)), k.w2, k.b2));
    }
    const logits = tf.matMul(layerNorm(x, lnfg, lnfb), head); // (B*T, V)
    return tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), 1))) as tf.Scalar;
  };
  return {
    step: async () => settle(opt.minimize(forward, true, vars)!),
    dispose: () => {
      tf.dispose([mask, idx, targets, ...vars]);
      opt.dispose();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Convolutional workloads (NHWC; PyTorch's side is NCHW with the same padding).

type Conv = { w: tf.Variable; b: tf.Variable };

/** A k x k convolution's filter [k, k, cin, cout] (He init) and bias; `transposed` stores it as [k, k, cout, cin]. */
function convLayer(k: number, cin: number, cout: number, seed: number, vars: tf.Variable[], transposed = false): Conv {
  const shape = transposed ? [k, k, cout, cin] : [k, k, cin, cout];
  const w = tf.variable(tf.randomNormal(shape, 0, Math.sqrt(2 / (k * k * cin)), "float32", seed));
  const b = tf.variable(tf.zeros([cout]));
  vars.push(w, b);
  return { w, b };
}

/** Padding 1 on every side, as PyTorch's `padding=1` (tfjs's 'same' would pad 0/1 at stride 2). */
const PAD1: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [1, 1], [1, 1], [0, 0]];

function conv(x: tf.Tensor, l: Conv, stride: number, pad: "same" | "valid" | typeof PAD1, activation: "linear" | "relu" = "linear"): tf.Tensor4D {
  return tf.fused.conv2d({ x: x as tf.Tensor4D, filter: l.w as tf.Tensor4D, strides: stride, pad: pad as "same", bias: l.b, activation });
}

/** Transposed 4x4 stride-2 convolution doubling the size (PyTorch: kernel 4, stride 2, padding 1). */
function convT2(x: tf.Tensor, l: Conv): tf.Tensor4D {
  const [n, h, w] = x.shape as [number, number, number, number];
  const cout = l.w.shape[2]!;
  return tf.add(tf.conv2dTranspose(x as tf.Tensor4D, l.w as tf.Tensor4D, [n, 2 * h, 2 * w, cout], 2, "same"), l.b) as tf.Tensor4D;
}

const silu = (x: tf.Tensor): tf.Tensor => tf.mul(x, tf.sigmoid(x));

function dcgan(): Workload {
  const B = 64;
  const gVars: tf.Variable[] = [];
  const dVars: tf.Variable[] = [];
  const g0 = dense(64, 7 * 7 * 128, 90, gVars);
  const g1 = convLayer(4, 128, 64, 91, gVars, true);
  const gamma = tf.variable(tf.ones([64]));
  const beta = tf.variable(tf.zeros([64]));
  gVars.push(gamma, beta);
  const g2 = convLayer(4, 64, 1, 92, gVars, true);
  const d1 = convLayer(4, 1, 64, 93, dVars);
  const d2 = convLayer(4, 64, 128, 94, dVars);
  const d3 = dense(7 * 7 * 128, 1, 95, dVars);
  const real = tf.randomUniform([B, 28, 28, 1], -1, 1, "float32", 96);
  const optG = adam(2e-4, 0.5, 0.999);
  const optD = adam(2e-4, 0.5, 0.999);
  const batchNorm = (x: tf.Tensor) => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), gamma), beta);
  };
  const G = (z: tf.Tensor) => {
    const h = apply(z, g0, "relu").reshape([B, 7, 7, 128]);
    return tf.tanh(convT2(tf.relu(batchNorm(convT2(h, g1))), g2));
  };
  const D = (x: tf.Tensor) => {
    const h = tf.leakyRelu(conv(tf.leakyRelu(conv(x, d1, 2, PAD1), 0.2), d2, 2, PAD1), 0.2);
    return apply(h.reshape([B, 7 * 7 * 128]), d3);
  };
  let seed = 300;
  return {
    step: async () => {
      const z = tf.randomNormal([B, 64], 0, 1, "float32", seed++);
      const lossD = optD.minimize(() => tf.add(bceWithLogits(D(real), 1), bceWithLogits(D(G(z)), 0)) as tf.Scalar, true, dVars)!;
      const lossG = optG.minimize(() => bceWithLogits(D(G(z)), 1) as tf.Scalar, true, gVars)!;
      z.dispose();
      lossD.dispose();
      await settle(lossG);
    },
    dispose: () => {
      tf.dispose([real, ...gVars, ...dVars]);
      optG.dispose();
      optD.dispose();
    },
  };
}

function convVae(): Workload {
  const B = 128;
  const vars: tf.Variable[] = [];
  const e1 = convLayer(3, 1, 32, 100, vars);
  const e2 = convLayer(3, 32, 64, 101, vars);
  const e3 = dense(7 * 7 * 64, 32, 102, vars);
  const d0 = dense(16, 7 * 7 * 64, 103, vars);
  const d1 = convLayer(4, 64, 32, 104, vars, true);
  const d2 = convLayer(4, 32, 1, 105, vars, true);
  const x = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([B, 28, 28, 1], 0, 1, "float32", 106), 0.7), "float32"));
  const opt = adam(1e-3);
  let seed = 400;
  return {
    step: async () => {
      const eps = tf.randomNormal([B, 16], 0, 1, "float32", seed++);
      const loss = opt.minimize(() => {
        const h = conv(conv(x, e1, 2, PAD1, "relu"), e2, 2, PAD1, "relu").reshape([B, 7 * 7 * 64]);
        const stats = apply(h, e3);
        const m = stats.slice([0, 0], [B, 16]);
        const logvar = stats.slice([0, 16], [B, 16]);
        const z = tf.add(m, tf.mul(tf.exp(tf.mul(logvar, 0.5)), eps));
        const logits = convT2(tf.relu(convT2(apply(z, d0, "relu").reshape([B, 7, 7, 64]), d1)), d2);
        const rec = tf.mul(bceWithLogits(logits, x), 784); // summed over pixels, mean over the batch
        const kl = tf.mul(-0.5, tf.mean(tf.sum(tf.sub(tf.sub(tf.add(1, logvar), tf.square(m)), tf.exp(logvar)), 1)));
        return tf.add(rec, kl) as tf.Scalar;
      }, true, vars)!;
      eps.dispose();
      await settle(loss);
    },
    dispose: () => {
      tf.dispose([x, ...vars]);
      opt.dispose();
    },
  };
}

function unet(): Workload {
  const B = 64;
  const vars: tf.Variable[] = [];
  let seed = 500;
  const gn = (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => groupNorm(x as tf.Tensor4D, gamma as tf.Tensor1D, beta as tf.Tensor1D, 8, 1e-5);
  const norm = (c: number) => {
    const gamma = tf.variable(tf.ones([c]));
    const beta = tf.variable(tf.zeros([c]));
    vars.push(gamma, beta);
    return { gamma, beta };
  };
  const res = (cin: number, cout: number) => {
    const c1 = convLayer(3, cin, cout, seed++, vars);
    const n1 = norm(cout);
    const t = dense(128, cout, seed++, vars);
    const c2 = convLayer(3, cout, cout, seed++, vars);
    const n2 = norm(cout);
    const skip = cin === cout ? null : convLayer(1, cin, cout, seed++, vars);
    return (x: tf.Tensor, temb: tf.Tensor) => {
      let h = silu(gn(conv(x, c1, 1, "same"), n1.gamma, n1.beta));
      h = tf.add(h, apply(temb, t).reshape([B, 1, 1, cout]));
      h = silu(gn(conv(h, c2, 1, "same"), n2.gamma, n2.beta));
      return tf.add(h, skip ? conv(x, skip, 1, "valid") : x);
    };
  };
  const t1 = dense(1, 128, seed++, vars);
  const t2 = dense(128, 128, seed++, vars);
  const inConv = convLayer(3, 1, 32, seed++, vars);
  const [down1, down2, down3, mid] = [res(32, 32), res(32, 64), res(64, 128), res(128, 128)];
  const [up3, up2, up1] = [res(256, 64), res(128, 32), res(64, 32)];
  const outConv = convLayer(3, 32, 1, seed++, vars);
  const x0 = tf.randomUniform([B, 28, 28, 1], -1, 1, "float32", 510);
  const pool = (x: tf.Tensor) => tf.avgPool(x as tf.Tensor4D, 2, 2, "valid");
  const upsample = (x: tf.Tensor) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [x.shape[1]! * 2, x.shape[2]! * 2]);
  const opt = adam(2e-4);
  let step = 600;
  return {
    step: async () => {
      const t = tf.randomUniform([B, 1], 0, 1, "float32", step++);
      const noise = tf.randomNormal([B, 28, 28, 1], 0, 1, "float32", step++);
      const loss = opt.minimize(() => {
        const angle = tf.mul(t, Math.PI / 2).reshape([B, 1, 1, 1]);
        const xt = tf.add(tf.mul(x0, tf.cos(angle)), tf.mul(noise, tf.sin(angle)));
        const temb = silu(apply(silu(apply(t, t1)), t2));
        const h0 = conv(xt, inConv, 1, "same");
        const a = down1(h0, temb); // 28x28x32
        const b = down2(pool(a), temb); // 14x14x64
        const c = down3(pool(b), temb); // 7x7x128
        const m = mid(c, temb);
        const u3 = up3(tf.concat([m, c], 3), temb); // 7x7x64
        const u2 = up2(tf.concat([upsample(u3), b], 3), temb); // 14x14x32
        const u1 = up1(tf.concat([upsample(u2), a], 3), temb); // 28x28x32
        return tf.mean(tf.square(tf.sub(conv(u1, outConv, 1, "same"), noise))) as tf.Scalar;
      }, true, vars)!;
      tf.dispose([t, noise]);
      await settle(loss);
    },
    dispose: () => {
      tf.dispose([x0, ...vars]);
      opt.dispose();
    },
  };
}

/** Builds a workload on the active backend. */
/** Which Adam the workloads step with: kernel-lib's fused one (what the trainers use) or tfjs's (to compare). */
let adamKind: "fused" | "tfjs" = "fused";
const adam = (lr: number, beta1?: number, beta2?: number): tf.Optimizer => (adamKind === "fused" ? fusedAdam(lr, beta1, beta2) : tf.train.adam(lr, beta1, beta2));

/** Builds a workload; `options.adam` "tfjs" steps it with tf.train.adam instead of the fused one (scripts/profile-step.ts). */
export function makeWorkload(name: WorkloadName, options: { adam?: "fused" | "tfjs" } = {}): Workload {
  adamKind = options.adam ?? "fused";
  if (name.startsWith("sgemm-")) return sgemm(Number(name.slice("sgemm-".length)));
  switch (name) {
    case "attention":
      return attention();
    case "vae":
      return vae();
    case "gan":
      return gan();
    case "char-gpt":
      return charGpt();
    case "dcgan":
      return dcgan();
    case "conv-vae":
      return convVae();
    case "unet":
      return unet();
    default:
      throw new Error(`unknown workload ${name}`);
  }
}
