/**
 * The GAN library (kernel-lib/src/models/gan/, nn/mlp.ts) and the ring metrics (kernel-lib/src/data/ring.ts): losses on
 * hand-computed logits including ±100, D*, the mode metric on constructed sample sets, the layers
 * against TensorFlow.js's own ops, and a training step that leaks nothing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  affine,
  conv2dPatches,
  ConvDiscriminator,
  ConvGenerator,
  createMlp,
  discriminatorLoss,
  Gan,
  minibatchStd,
  minimaxGeneratorLoss,
  nonSaturatingGeneratorLoss,
  optimalDiscriminator,
  packSamples,
  ringCentres,
  ringCoverage,
  Rng,
  sampleGrid,
  sampleLatent,
  sampleRing,
  spaceToDepth2x,
  tf,
  upsample2x,
  useBestBackend,
} from "kernel-lib";

/** softplus in float64, for expected values: log(1 + e^x) without overflow. */
const sp = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function close(actual: number, expected: number, tol = 1e-5, what = "value"): void {
  assert.ok(Number.isFinite(actual), `${what}: ${actual} is not finite`);
  assert.ok(Math.abs(actual - expected) <= tol * (1 + Math.abs(expected)), `${what}: expected ${expected}, got ${actual}`);
}

function closeArrays(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) close(actual[i]!, expected[i]!, tol, `${what}[${i}]`);
}

const value = (t: tf.Tensor): number => {
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
};

test.before(async () => {
  await useBestBackend({ verbose: false });
});

test("losses at zero logits: D is unsure, -V = log 4 and each G loss is ±log 2", () => {
  const zero = tf.zeros([4, 1]);
  close(value(discriminatorLoss(zero, zero)), Math.log(4), 1e-6, "D loss");
  close(value(nonSaturatingGeneratorLoss(zero)), Math.log(2), 1e-6, "non-saturating");
  close(value(minimaxGeneratorLoss(zero)), -Math.log(2), 1e-6, "minimax");
  zero.dispose();
});

test("losses on mixed logits equal the float64 formulas", () => {
  const real = [1, -2, 0.5];
  const fake = [0.25, 3, -1.5];
  const r = tf.tensor2d(real, [3, 1]);
  const f = tf.tensor2d(fake, [3, 1]);
  // -V = -mean log σ(l_r) - mean log(1 - σ(l_f)) = mean softplus(-l_r) + mean softplus(l_f).
  close(value(discriminatorLoss(r, f)), mean(real.map((l) => sp(-l))) + mean(fake.map(sp)), 1e-6, "D loss");
  close(value(nonSaturatingGeneratorLoss(f)), mean(fake.map((l) => sp(-l))), 1e-6, "non-saturating");
  close(value(minimaxGeneratorLoss(f)), -mean(fake.map(sp)), 1e-6, "minimax");
  tf.dispose([r, f]);
});

test("extreme logits ±100 give finite losses and gradients (no NaN, no Inf)", () => {
  const confident = tf.tensor2d([100, 100], [2, 1]);
  const rejected = tf.tensor2d([-100, -100], [2, 1]);
  // D right on both: loss e^-100 ≈ 0; D wrong on both: loss 200.
  close(value(discriminatorLoss(confident, rejected)), 0, 1e-6, "D right");
  close(value(discriminatorLoss(rejected, confident)), 200, 1e-6, "D wrong");
  close(value(nonSaturatingGeneratorLoss(rejected)), 100, 1e-6, "non-saturating at -100");
  close(value(minimaxGeneratorLoss(rejected)), 0, 1e-6, "minimax at -100");
  close(value(minimaxGeneratorLoss(confident)), -100, 1e-6, "minimax at +100");
  for (const [name, f] of [
    ["D", (l: tf.Tensor) => discriminatorLoss(l, tf.neg(l))],
    ["non-saturating", nonSaturatingGeneratorLoss],
    ["minimax", minimaxGeneratorLoss],
  ] as const) {
    for (const x of [confident, rejected]) {
      const g = tf.grad((l: tf.Tensor) => f(l))(x);
      assert.ok(Array.from(g.dataSync()).every(Number.isFinite), `${name} gradient at ${x.dataSync()[0]} is finite`);
      g.dispose();
    }
  }
  tf.dispose([confident, rejected]);
});

test("when D rejects the fakes, the minimax gradient vanishes and the non-saturating one does not", () => {
  const l = tf.tensor2d([-10], [1, 1]);
  // d/dl of -softplus(l) is -σ(l) = -4.54e-5; d/dl of softplus(-l) is -σ(-l) = -0.99995.
  const gMinimax = value(tf.grad((x: tf.Tensor) => minimaxGeneratorLoss(x))(l));
  const gNonSat = value(tf.grad((x: tf.Tensor) => nonSaturatingGeneratorLoss(x))(l));
  close(gMinimax, -1 / (1 + Math.exp(10)), 1e-4, "minimax gradient");
  close(gNonSat, -1 / (1 + Math.exp(-10)), 1e-6, "non-saturating gradient");
  assert.ok(Math.abs(gNonSat / gMinimax) > 2e4, "ratio of the gradients");
  l.dispose();
});

test("D* = p_data / (p_data + p_g), with 1/2 where neither has mass", () => {
  close(optimalDiscriminator(1, 1), 0.5, 0, "equal densities");
  close(optimalDiscriminator(3, 1), 0.75, 1e-12, "3:1");
  close(optimalDiscriminator(0, 2), 0, 0, "no data");
  close(optimalDiscriminator(2, 0), 1, 0, "no fakes");
  close(optimalDiscriminator(0, 0), 0.5, 0, "neither");
  assert.throws(() => optimalDiscriminator(-1, 1), RangeError);
});

test("ring centres lie on the circle of radius 2, 2π/8 apart", () => {
  const c = ringCentres();
  assert.equal(c.length, 8);
  close(c[0]![0], 2, 1e-12, "x0");
  close(c[2]![1], 2, 1e-12, "y2");
  for (const [x, y] of c) close(Math.hypot(x, y), 2, 1e-12, "radius");
});

/** n points spread round-robin over the given modes, each offset from its centre by `offset` (in a fixed direction). */
function atModes(n: number, modes: number[], offset = 0): [number, number][] {
  const c = ringCentres();
  return Array.from({ length: n }, (_, i) => {
    const [x, y] = c[modes[i % modes.length]!]!;
    return [x + offset * Math.SQRT1_2, y + offset * Math.SQRT1_2] as [number, number];
  });
}

test("mode metric: samples on all 8 centres cover 8 modes at 100% quality", () => {
  const cov = ringCoverage(atModes(2500, [0, 1, 2, 3, 4, 5, 6, 7]));
  assert.equal(cov.modesCovered, 8);
  assert.equal(cov.quality, 1);
  assert.equal(cov.minCount, 25);
  assert.deepEqual(cov.counts, [313, 313, 313, 313, 312, 312, 312, 312]);
});

test("mode metric: a collapsed generator on one centre covers 1 mode at 100% quality", () => {
  const cov = ringCoverage(atModes(2500, [3], 0.05));
  assert.equal(cov.modesCovered, 1);
  assert.equal(cov.quality, 1);
  assert.equal(cov.counts[3], 2500);
});

test("mode metric: off-mode noise covers nothing; the 3-std radius and the 25-sample bar are sharp", () => {
  // Points between the modes (radius 1, and 0.061 > 3·0.02 from a centre) count for nothing.
  const between = Array.from({ length: 2500 }, (_, i) => [Math.cos(i), Math.sin(i)] as [number, number]);
  const none = ringCoverage(between);
  assert.equal(none.modesCovered, 0);
  assert.equal(none.quality, 0);
  assert.equal(ringCoverage(atModes(100, [0], 0.061)).quality, 0);
  assert.equal(ringCoverage(atModes(100, [0], 0.059)).quality, 1);
  // 25 samples at mode 0 and 24 at mode 1, the rest off-mode: mode 0 counts, mode 1 does not.
  const pts = [...atModes(25, [0]), ...atModes(24, [1]), ...between.slice(0, 2451)];
  const cov = ringCoverage(pts);
  assert.equal(cov.modesCovered, 1);
  close(cov.quality, 49 / 2500, 1e-12, "quality");
});

test("mode metric accepts tensors and flat arrays alike, and real ring data scores 8/8 at about 98.9%", () => {
  const data = sampleRing(2500, { rng: new Rng(7) });
  const fromTensor = ringCoverage(data);
  const fromFlat = ringCoverage(Array.from(data.dataSync()));
  assert.deepEqual(fromTensor, fromFlat);
  assert.equal(fromTensor.modesCovered, 8);
  // Within 3 std in 2-D: the Rayleigh probability 1 - e^{-9/2} = 0.98889; ±0.006 is about 3 binomial std.
  close(fromTensor.quality, 1 - Math.exp(-4.5), 0.006, "real-data quality");
  data.dispose();
  assert.throws(() => ringCoverage([1, 2, 3]), RangeError);
});

test("affine equals x·W + b, and its hand-written gradient equals TensorFlow.js's", () => {
  const r = new Rng(1);
  const x = tf.randomNormal([5, 3], 0, 1, "float32", r.seed()) as tf.Tensor2D;
  const w = tf.randomNormal([3, 4], 0, 1, "float32", r.seed()) as tf.Tensor2D;
  const b = tf.randomNormal([4], 0, 1, "float32", r.seed()) as tf.Tensor1D;
  const up = tf.randomNormal([5, 4], 0, 1, "float32", r.seed());
  const mine = tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(affine(a as tf.Tensor2D, c as tf.Tensor2D, d as tf.Tensor1D), up)));
  const ref = tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(tf.add(tf.matMul(a, c), d), up)));
  closeArrays(affine(x, w, b).dataSync(), tf.add(tf.matMul(x, w), b).dataSync(), 1e-5, "value");
  const gm = mine([x, w, b]);
  const gr = ref([x, w, b]);
  ["dx", "dW", "db"].forEach((n, i) => closeArrays(gm[i]!.dataSync(), gr[i]!.dataSync(), 1e-5, n));
  tf.dispose([x, w, b, up, ...gm, ...gr]);
});

/** Runs `f` on the cpu backend (which has every conv gradient) with copies of `inputs`; returns flat results. */
async function onCpu(inputs: tf.Tensor[], f: (...xs: tf.Tensor[]) => tf.Tensor[]): Promise<number[][]> {
  const vals = inputs.map((t) => ({ data: t.dataSync().slice(), shape: t.shape }));
  await tf.setBackend("cpu");
  try {
    const copies = vals.map((v) => tf.tensor(v.data, v.shape));
    const outs = f(...copies);
    const flat = outs.map((t) => Array.from(t.dataSync()));
    tf.dispose([...copies, ...outs]);
    return flat;
  } finally {
    await useBestBackend({ verbose: false });
  }
}

test("conv2dPatches equals tf.conv2d, and so do its gradients", async () => {
  const r = new Rng(2);
  for (const [k, pad] of [[3, 1], [2, 0]] as const) {
    const x = tf.randomNormal([2, 6, 6, 3], 0, 1, "float32", r.seed()) as tf.Tensor4D;
    const w = tf.randomNormal([k, k, 3, 5], 0, 1, "float32", r.seed()) as tf.Tensor4D;
    const b = tf.randomNormal([5], 0, 1, "float32", r.seed()) as tf.Tensor1D;
    const f = (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => conv2dPatches(a as tf.Tensor4D, c as tf.Tensor4D, d as tf.Tensor1D, pad);
    const grads = tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.square(f(a, c, d))));
    const mineOut = [f(x, w, b), ...grads([x, w, b])];
    const mine = mineOut.map((t) => Array.from(t.dataSync()));
    const g = (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.add(tf.conv2d(a as tf.Tensor4D, c as tf.Tensor4D, 1, [[0, 0], [pad, pad], [pad, pad], [0, 0]]), d);
    const ref = await onCpu([x, w, b], (a, c, d) => [g(a!, c!, d!), ...tf.grads((p: tf.Tensor, q: tf.Tensor, s: tf.Tensor) => tf.sum(tf.square(g(p, q, s))))([a!, c!, d!])]);
    ["value", "dx", "dW", "db"].forEach((n, i) => closeArrays(mine[i]!, ref[i]!, 1e-3, `k ${k} ${n}`));
    tf.dispose([x, w, b, ...mineOut]);
  }
});

test("pad 1, space-to-depth, 2x2 conv = a 4x4 stride-2 conv with the kernel regrouped", async () => {
  const r = new Rng(3);
  const x = tf.randomNormal([2, 8, 8, 3], 0, 1, "float32", r.seed()) as tf.Tensor4D;
  const w4 = tf.randomNormal([4, 4, 3, 5], 0, 1, "float32", r.seed()) as tf.Tensor4D;
  const b = tf.zeros([5]) as tf.Tensor1D;
  // Kernel row 2a + s, column 2c + t becomes 2x2 position (a, c), channel block (s, t).
  const w2 = tf.reshape(tf.transpose(tf.reshape(w4, [2, 2, 2, 2, 3, 5]), [0, 2, 1, 3, 4, 5]), [2, 2, 12, 5]) as tf.Tensor4D;
  const mine = conv2dPatches(spaceToDepth2x(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])), w2, b, 0);
  assert.deepEqual(mine.shape, [2, 4, 4, 5]);
  const [ref] = await onCpu([x, w4], (a, c) => [tf.conv2d(a as tf.Tensor4D, c as tf.Tensor4D, 2, [[0, 0], [1, 1], [1, 1], [0, 0]])]);
  closeArrays(mine.dataSync(), ref!, 1e-4, "strided conv");
  tf.dispose([x, w4, b, w2, mine]);
});

test("upsample2x repeats each pixel like resizeNearestNeighbor", () => {
  const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2]);
  const up = upsample2x(x);
  assert.deepEqual(up.shape, [1, 4, 4, 2]);
  const ref = tf.image.resizeNearestNeighbor(x, [4, 4]);
  assert.deepEqual(Array.from(up.dataSync()), Array.from(ref.dataSync()));
  tf.dispose([x, up, ref]);
});

test("minibatchStd averages per-feature batch standard deviations", () => {
  const h = tf.tensor2d([[0, 0], [2, 4]]);
  // Feature stds (population): 1 and 2; mean 1.5.
  close(value(minibatchStd(h)), 1.5, 1e-6, "statistic");
  h.dispose();
});

test("a minibatch-std discriminator sees the rest of the batch; a plain one does not", () => {
  for (const mbstd of [false, true]) {
    const D = createMlp({ sizes: [2, 8, 8, 1], minibatchStd: mbstd, rng: new Rng(3), name: "D" });
    const a = tf.tensor2d([[0, 0], [1, 1], [2, 2]]);
    const b = tf.tensor2d([[0, 0], [1, 1], [5, -5]]);
    const firstA = value(D.apply(a));
    const firstB = value(D.apply(b));
    if (mbstd) assert.notEqual(firstA, firstB, "row 0 changes with the batch");
    else assert.equal(firstA, firstB, "row 0 does not depend on the batch");
    tf.dispose([a, b]);
    D.dispose();
  }
});

test("packSamples puts consecutive samples side by side", () => {
  const x = tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8]]);
  const p = packSamples(x, 2);
  assert.deepEqual(p.shape, [2, 4]);
  assert.deepEqual(Array.from(p.dataSync()), [1, 2, 3, 4, 5, 6, 7, 8]);
  const imgs = tf.stack([tf.fill([28, 28, 1], 1), tf.fill([28, 28, 1], 2)]);
  const pi = packSamples(imgs, 2);
  assert.deepEqual(pi.shape, [1, 28, 28, 2]);
  assert.deepEqual(Array.from(pi.dataSync().slice(0, 4)), [1, 2, 1, 2]);
  assert.throws(() => packSamples(x, 3), RangeError);
  tf.dispose([x, p, imgs, pi]);
});

test("sampleLatent is seeded", () => {
  const a = sampleLatent(3, 4, 11);
  const b = sampleLatent(3, 4, 11);
  const c = sampleLatent(3, 4, 12);
  assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
  assert.notDeepEqual(Array.from(a.dataSync()), Array.from(c.dataSync()));
  tf.dispose([a, b, c]);
});

function ringGan(seed: number, options: { minibatchStd?: boolean } = {}): Gan {
  const r = new Rng(seed);
  return new Gan({
    generator: createMlp({ sizes: [64, 32, 32, 2], name: "G", rng: r.fork() }),
    discriminator: createMlp({ sizes: [2, 32, 32, 1], name: "D", rng: r.fork(), minibatchStd: options.minibatchStd }),
    averageGenerator: createMlp({ sizes: [64, 32, 32, 2], name: "G", rng: r.fork() }),
    rng: r.fork(),
  });
}

test("a training step updates D and G, returns finite losses and leaks no tensors", async () => {
  const gan = ringGan(4, { minibatchStd: true });
  const data = new Rng(5);
  const snapshot = (vs: tf.Variable[]) => vs.map((v) => Array.from(v.dataSync()));
  const d0 = snapshot(gan.discriminator.variables);
  const g0 = snapshot(gan.generator.variables);
  const a0 = snapshot(gan.averageGenerator!.variables);
  const step = () => {
    const real = sampleRing(64, { rng: data });
    const { d, g } = gan.step(real);
    const out = [value(d), value(g)];
    real.dispose();
    assert.ok(out.every(Number.isFinite), `losses ${out}`);
  };
  step();
  assert.notDeepEqual(snapshot(gan.discriminator.variables), d0, "D moved");
  assert.notDeepEqual(snapshot(gan.generator.variables), g0, "G moved");
  assert.notDeepEqual(snapshot(gan.averageGenerator!.variables), a0, "the average moved");
  // After the first step (which creates Adam's slots) the tensor count must stay flat.
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) step();
  assert.equal(tf.memory().numTensors, before, "tensor count after 3 more steps");
  gan.dispose();
});

test("the average generator starts as G and tracks it with decay β", () => {
  const gan = ringGan(6);
  const name = "G/dense0/bias";
  const w0 = Array.from(gan.generator.namedWeights()[name]!.dataSync());
  assert.deepEqual(Array.from(gan.averageGenerator!.namedWeights()[name]!.dataSync()), w0, "starts equal");
  const real = sampleRing(32, { rng: new Rng(1) });
  tf.dispose(Object.values(gan.step(real)));
  real.dispose();
  const w1 = Array.from(gan.generator.namedWeights()[name]!.dataSync());
  const expected = w0.map((v, i) => 0.999 * v + 0.001 * w1[i]!);
  closeArrays(gan.averageGenerator!.namedWeights()[name]!.dataSync(), expected, 1e-5, "average after one step");
  gan.dispose();
});

test("the same seeds give the same GAN: equal samples after two steps", () => {
  const run = () => {
    const gan = ringGan(8);
    const data = new Rng(9);
    for (let i = 0; i < 2; i++) {
      const real = sampleRing(32, { rng: data });
      tf.dispose(Object.values(gan.step(real)));
      real.dispose();
    }
    const s = gan.sample(10, 123);
    const out = Array.from(s.dataSync());
    s.dispose();
    gan.dispose();
    return out;
  };
  assert.deepEqual(run(), run());
});

test("the convolutional pair: shapes, a leak-free step, weights round-trip by name", () => {
  const r = new Rng(10);
  const gan = new Gan({
    generator: new ConvGenerator({ latentDim: 16, channels: 4, rng: r.fork() }),
    discriminator: new ConvDiscriminator({ channels: 4, rng: r.fork() }),
    learningRate: 2e-4,
    rng: r.fork(),
  });
  const real = tf.sub(tf.mul(tf.randomUniform([8, 28, 28, 1], 0, 1, "float32", 3), 2), 1);
  const grid = sampleGrid(gan, 6, 1);
  assert.deepEqual(grid.shape, [6, 28, 28, 1]);
  const [lo, hi] = [grid.min().dataSync()[0]!, grid.max().dataSync()[0]!];
  assert.ok(lo >= 0 && hi <= 1, `grid values in [0, 1]: ${lo}..${hi}`);
  grid.dispose();
  tf.dispose(Object.values(gan.step(real)));
  const before = tf.memory().numTensors;
  tf.dispose(Object.values(gan.step(real)));
  assert.equal(tf.memory().numTensors, before, "tensor count after a second step");
  // A fresh generator given the trained one's weights makes the same images.
  const copy = new ConvGenerator({ latentDim: 16, channels: 4, rng: new Rng(99) });
  copy.loadWeights(gan.generator.namedWeights());
  const z = sampleLatent(2, 16, 5);
  const a = gan.generator.apply(z);
  const b = copy.apply(z);
  assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
  assert.throws(() => copy.loadWeights({}), /lacks/);
  tf.dispose([real, z, a, b]);
  copy.dispose();
  gan.dispose();
});

test("a PacGAN step (pack 2) judges pairs of samples and leaks nothing", () => {
  const r = new Rng(12);
  const gan = new Gan({
    generator: createMlp({ sizes: [8, 16, 2], name: "G", rng: r.fork() }),
    discriminator: createMlp({ sizes: [4, 16, 1], name: "D", rng: r.fork() }),
    pack: 2,
    rng: r.fork(),
  });
  const real = sampleRing(32, { rng: new Rng(13) });
  const logits = gan.judge(real);
  assert.deepEqual(logits.shape, [16, 1]);
  logits.dispose();
  tf.dispose(Object.values(gan.step(real)));
  const before = tf.memory().numTensors;
  tf.dispose(Object.values(gan.step(real)));
  assert.equal(tf.memory().numTensors, before, "tensor count after a second step");
  assert.throws(() => new Gan({ generator: createMlp({ sizes: [8, 2], rng: r }), discriminator: createMlp({ sizes: [2, 1], rng: r }), pack: 2 }), /pack/);
  real.dispose();
  gan.dispose();
});
