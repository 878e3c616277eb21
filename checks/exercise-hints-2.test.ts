/**
 * The exercise checks of lessons 04-06 (kernel-lib/src/models/exercises/): each passes on the reference solution
 * and fails on deliberately wrong answers with the diagnosis that names the mistake. Lessons 00-02 and the
 * escalation of hints: exercise-hints.test.ts.
 */
import { before, test } from "node:test";
import * as kernelLib from "kernel-lib";
import { ddimSample, Denoiser, NoiseSchedule, ringCoverage, sampleLatent, tf, Vae, VaeTrainer, Rng, RingGenerator } from "kernel-lib";
import { checkpointsDir, diagnoses, experiment, passes, solved } from "./lib/exercise-verdicts";

before(async () => {
  await kernelLib.useBestBackend({ verbose: false });
});

type T = tf.Tensor;

test("03 kl-term: the solution passes; sigma for sigma^2, no -1, no 1/2, +log sigma^2, no sum are named", async () => {
  await passes("kl-term", solved("04-vae", "kl-term"));
  const kl = (f: (m: T, lv: T) => T, half = 0.5, reduce = true) => (m: T, lv: T) => tf.tidy(() => (reduce ? tf.sum(f(m, lv), 1) : f(m, lv)).mul(half));
  await diagnoses("kl-term", kl((m, lv) => tf.exp(lv.mul(0.5)).add(m.square()).sub(1).sub(lv)), /sigma = exp\(logVar \/ 2\) where/, "sigma for sigma^2");
  await diagnoses("kl-term", kl((m, lv) => tf.exp(lv).add(m.square()).sub(lv)), /the -1/, "no -1");
  await diagnoses("kl-term", kl((m, lv) => tf.exp(lv).add(m.square()).sub(1).sub(lv), 1), /twice the KL/, "no 1/2");
  await diagnoses("kl-term", kl((m, lv) => tf.exp(lv).add(m.square()).sub(1).add(lv)), /minus sign/, "+log sigma^2");
  await diagnoses("kl-term", kl((m, lv) => tf.exp(lv).add(m.square()).sub(1).sub(lv), 0.5, false), /one KL per row/, "no sum");
});

test("03 reparameterize: the solution passes; fresh noise, the variance for sigma, no sigma, no gradient are named", async () => {
  await passes("reparameterize", solved("04-vae", "reparameterize"));
  let seed = 0;
  await diagnoses("reparameterize", (m: T, lv: T) => m.add(tf.exp(lv.mul(0.5)).mul(tf.randomNormal(m.shape, 0, 1, "float32", ++seed))), /drew new noise/, "fresh noise");
  await diagnoses("reparameterize", (m: T, lv: T, e: T) => m.add(tf.exp(lv).mul(e)), /variance exp\(logVar\)/, "variance");
  await diagnoses("reparameterize", (m: T, _lv: T, e: T) => m.add(e), /ignores the variance/, "no sigma");
  await diagnoses("reparameterize", (m: T, lv: T, e: T) => tf.tensor(m.add(tf.exp(lv.mul(0.5)).mul(e)).arraySync() as number[]), /No gradient reaches logVar|expected/, "values read out and back in");
});

test("03 elbo-one-image: the solution passes; the KL left out or subtracted, the ELBO's sign, no sampling are named", async () => {
  await passes("elbo-one-image", solved("04-vae", "elbo-one-image"));
  const elbo = (o: { kl?: number; sign?: number; noSample?: boolean }) => (model: Vae, x: tf.Tensor1D, eps: tf.Tensor2D) => tf.tidy(() => {
    const x1 = x.reshape([1, 784]);
    const { mean, logVar } = model.encode(x1);
    const z = o.noSample ? mean : mean.add(tf.exp(logVar.mul(0.5)).mul(eps));
    const total = kernelLib.bceWithLogits(model.decodeLogits(z), x1).add(kernelLib.gaussianKl(mean, logVar).mul(o.kl ?? 1));
    return total.mul(o.sign ?? 1).dataSync()[0]!;
  });
  await diagnoses("elbo-one-image", elbo({ kl: 0 }), /reconstruction term alone/, "no KL");
  await diagnoses("elbo-one-image", elbo({ kl: -1 }), /subtracted the KL/, "minus KL");
  await diagnoses("elbo-one-image", elbo({ sign: -1 }), /ELBO itself/, "the ELBO, not its negative");
  await diagnoses("elbo-one-image", elbo({ noSample: true }), /mean of q\(z\|x\) instead of a sample/, "z = mean");
});

test("03 beta-vae (experiment): the solution passes; beta not applied, beta * KL reported and a wrong prediction are named", async () => {
  const right = { kl: "falls", reconstruction: "rises" };
  await passes("beta-vae", experiment("04-vae", "beta-vae", right));
  const run = (applyBeta: boolean, reportWeighted: boolean) => (beta: number, train: T, test: T) => {
    const model = new Vae({ inputDim: 784, hiddenDims: [64], latentDim: 8 }, new Rng(7));
    if (applyBeta) model.klWeight = beta;
    const trainer = new VaeTrainer(model, train, { batchSize: 100, learningRate: 2e-3, rng: new Rng(8) });
    for (let i = 0; i < 3 * trainer.stepsPerEpoch; i++) tf.dispose(Object.values(trainer.step()));
    const out = tf.tidy(() => {
      const l = model.loss(test, 1);
      return { kl: l.kl.dataSync()[0]! * (reportWeighted ? beta : 1), reconstruction: l.reconstruction.dataSync()[0]! };
    });
    trainer.dispose();
    model.dispose();
    return out;
  };
  await diagnoses("beta-vae", { prediction: right, measure: run(false, false) }, /is beta reaching the training loss/, "klWeight never set");
  await diagnoses("beta-vae", { prediction: right, measure: run(true, true) }, /not beta \* KL/, "beta * KL reported");
  await diagnoses("beta-vae", experiment("04-vae", "beta-vae", { kl: "rises", reconstruction: "rises" }), /your prediction is not.*test KL/, "wrong prediction");
});

test("04 non-saturating-loss: the solution passes; log(sigmoid) in float32, the saturating loss, a sum are named", async () => {
  await passes("non-saturating-loss", solved("05-gan", "non-saturating-loss"));
  await diagnoses("non-saturating-loss", (l: T) => tf.neg(tf.mean(tf.log(tf.sigmoid(l)))) as tf.Scalar, /NaN or Infinity/, "log(sigmoid)");
  await diagnoses("non-saturating-loss", (l: T) => tf.mean(tf.neg(tf.softplus(l))) as tf.Scalar, /saturating \(min-max\) loss/, "min-max loss");
  await diagnoses("non-saturating-loss", (l: T) => tf.sum(tf.softplus(tf.neg(l))) as tf.Scalar, /summed/, "sum");
});

test("04 optimal-d: the solution passes; D* of the fakes, 0/0 and 0 where both vanish are named", async () => {
  await passes("optimal-d", solved("05-gan", "optimal-d"));
  type P = (x: number) => number;
  await diagnoses("optimal-d", (xs: number[], p: P, q: P) => xs.map((x) => (p(x) + q(x) === 0 ? 0.5 : q(x) / (p(x) + q(x)))), /probability that x is fake/, "swapped");
  await diagnoses("optimal-d", (xs: number[], p: P, q: P) => xs.map((x) => p(x) / (p(x) + q(x))), /0 \/ 0/, "NaN");
  await diagnoses("optimal-d", (xs: number[], p: P, q: P) => xs.map((x) => (p(x) + q(x) === 0 ? 0 : p(x) / (p(x) + q(x)))), /returned 0; the exercise asks for 1\/2/, "0 where both vanish");
});

test("04 count-modes: the solution passes; a radius of one std, a strict count and counting points are named", async () => {
  await passes("count-modes", solved("05-gan", "count-modes"));
  type Pts = [number, number][];
  const count = (radius: number, strict: boolean) => (pts: Pts, cs: Pts, std: number, min: number) =>
    cs.filter(([cx, cy]) => {
      const c = pts.filter(([x, y]) => Math.hypot(x - cx, y - cy) <= radius * std).length;
      return strict ? c > min : c >= min;
    }).length;
  await diagnoses("count-modes", count(1, false), /within 3 standard deviations/, "one std");
  await diagnoses("count-modes", count(3, true), /at least minCount/, "strict count");
  await diagnoses("count-modes", (pts: Pts, cs: Pts, std: number) => pts.filter(([x, y]) => cs.some(([cx, cy]) => Math.hypot(x - cx, y - cy) <= 3 * std)).length, /number of points near some centre/, "points counted");
});

test("04 minibatch-std-modes (experiment): the solution passes; a count of the wrong samples and a wrong prediction are named", async () => {
  const dir = checkpointsDir;
  await passes("minibatch-std-modes", experiment("05-gan", "minibatch-std-modes", { plain: 5, remedy: 8 }, { dir }));
  // Any point near a centre counts its mode (no 1% threshold): stray samples make the plain G look less collapsed.
  const anyPoint = (g: RingGenerator, n: number, seed: number) => ringCoverage(tf.tidy(() => g.generator.apply(sampleLatent(n, g.latentDim, seed)).dataSync()), { minShare: 0 }).modesCovered;
  await diagnoses("minibatch-std-modes", { prediction: { plain: 5, remedy: 8 }, dir, measure: anyPoint }, /independent count of the same 2,500 samples/, "no 1% threshold");
  await diagnoses("minibatch-std-modes", experiment("05-gan", "minibatch-std-modes", { plain: 8, remedy: 8 }, { dir }), /your prediction is not.*plain/, "plain predicted to cover all");
});

test("05 noisy-at: the solution passes; no square roots, swapped coefficients, 1 - sqrt and an off-by-one step are named", async () => {
  await passes("noisy-at", solved("06-diffusion", "noisy-at"));
  const noisy = (f: (ab: ArrayLike<number>, t: number) => [number, number]) => (x0: T, t: number, eps: T, ab: ArrayLike<number>) => tf.tidy(() => {
    const [a, b] = f(ab, t);
    return tf.add(tf.mul(a, x0), tf.mul(b, eps));
  });
  await diagnoses("noisy-at", noisy((ab, t) => [ab[t]!, 1 - ab[t]!]), /takes their square roots/, "no sqrt");
  await diagnoses("noisy-at", noisy((ab, t) => [Math.sqrt(1 - ab[t]!), Math.sqrt(ab[t]!)]), /swapped/, "swapped");
  await diagnoses("noisy-at", noisy((ab, t) => [Math.sqrt(ab[t]!), 1 - Math.sqrt(ab[t]!)]), /not 1 - sqrt/, "1 - sqrt");
  await diagnoses("noisy-at", noisy((ab, t) => [Math.sqrt(ab[t - 1]!), Math.sqrt(1 - ab[t - 1]!)]), /Off by one/, "t - 1");
});

test("05 posterior-mean: the solution passes; swapped coefficients, alphaBar_t for alphaBar_{t-1}, alpha without its root are named", async () => {
  await passes("posterior-mean", solved("06-diffusion", "posterior-mean"));
  const pm = (f: (ab: number, abPrev: number, a: number, b: number) => [number, number]) => (s: NoiseSchedule, x0: number, xt: number, t: number) => {
    const [c0, ct] = f(s.alphaBars[t]!, s.alphaBars[t - 1]!, s.alphas[t]!, s.betas[t]!);
    return c0 * x0 + ct * xt;
  };
  const right = (ab: number, abPrev: number, a: number, b: number): [number, number] => [(Math.sqrt(abPrev) * b) / (1 - ab), (Math.sqrt(a) * (1 - abPrev)) / (1 - ab)];
  await passes("posterior-mean", pm(right));
  await diagnoses("posterior-mean", pm((ab, abPrev, a, b) => right(ab, abPrev, a, b).reverse() as [number, number]), /swapped/, "swapped");
  await diagnoses("posterior-mean", pm((ab, _abPrev, a, b) => right(ab, ab, a, b)), /alphaBar_t where/, "alphaBar_t for alphaBar_{t-1}");
  await diagnoses("posterior-mean", pm((ab, abPrev, a, b) => [(Math.sqrt(abPrev) * b) / (1 - ab), (a * (1 - abPrev)) / (1 - ab)]), /sqrt\(alpha_t\), not alpha_t/, "alpha_t");
});

test("05 ddim-step: the solution passes; returning x0hat, not moving, missing roots and a sign slip are named", async () => {
  await passes("ddim-step", solved("06-diffusion", "ddim-step"));
  const step = (o: { stop?: boolean; target?: "t"; sign?: number }) => (s: NoiseSchedule, xt: T, eps: T, t: number, to: number) => tf.tidy(() => {
    const ab = s.alphaBars[t]!;
    const x0 = tf.div(tf.sub(xt, tf.mul((o.sign ?? 1) * Math.sqrt(1 - ab), eps)), Math.sqrt(ab));
    if (o.stop) return x0;
    const abS = s.alphaBars[o.target === "t" ? t : to]!;
    return tf.add(tf.mul(Math.sqrt(abS), x0), tf.mul(Math.sqrt(1 - abS), eps));
  });
  await diagnoses("ddim-step", step({ stop: true }), /returned the predicted x_0/, "x0hat returned");
  await diagnoses("ddim-step", step({ target: "t" }), /returns x_t unchanged/, "alphaBar_t in the second half");
  await diagnoses("ddim-step", step({ sign: -1 }), /noise is subtracted/, "sign");
});

test("05 ddim-steps (experiment): the solution passes; unscaled samples and a wrong prediction are named", async () => {
  const dir = checkpointsDir;
  await passes("ddim-steps", experiment("06-diffusion", "ddim-steps", "smaller", { dir }));
  const unscaled = (m: Denoiser, s: NoiseSchedule, steps: number, n: number, seed: number) => tf.tidy(() => ringCoverage(ddimSample(m, s, { n, seed, steps }).samples).quality);
  await diagnoses("ddim-steps", { prediction: "smaller", dir, measure: unscaled }, /divide the samples by scale/, "not divided by the scale");
  await diagnoses("ddim-steps", experiment("06-diffusion", "ddim-steps", "about the same", { dir }), /your prediction is not/, "wrong prediction");
});
