/**
 * The checks of notebooks/05-gan.ipynb's exercises: the non-saturating loss, the optimal discriminator, counting
 * covered modes, and the experiment that counts the modes of the shipped generators with and without minibatch
 * std on fresh codes. Expected values come from float64 arithmetic written here; each check recognises the usual
 * wrong answers (log of a float32 sigmoid, the saturating loss, D* of the fakes, 0/0, the radius of one std, a
 * strict count) and says what is wrong. checks/exercise-hints.test.ts shows each diagnosis.
 */
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { Exercise, expectValue, miss } from "../../notebook/exercise";
import { ringCentres } from "../../data/ring";
import { sampleLatent } from "../gan/gan";
import { loadRingGenerator, RingGenerator } from "../gan/ring-shipped";
import { comparePrediction, requirePrediction } from "./predictions";

const softplus = (l: number) => Math.max(l, 0) + Math.log1p(Math.exp(-Math.abs(l)));
const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;

export const nonSaturatingLossExercise: Exercise<(fakeLogits: tf.Tensor) => tf.Scalar> = {
  id: "non-saturating-loss",
  check: (myNonSaturatingLoss) => {
    const logits = [-100, -3, 0, 2.5, 100, 0.7];
    const got = tf.tidy(() => Array.from(myNonSaturatingLoss(tf.tensor1d(logits)).dataSync()));
    if (got.length !== 1) miss(`myNonSaturatingLoss returned ${got.length} numbers; it should return one scalar, the mean over the batch.`);
    expectValue(got[0]!, mean(logits.map((l) => softplus(-l))), {
      name: "myNonSaturatingLoss at logits -100, -3, 0, 2.5, 100, 0.7",
      rtol: 1e-5,
      suspects: [
        { value: mean(logits.map((l) => -softplus(l))), hints: ["That is the saturating (min-max) loss, mean log(1 - D(G(z))) = -softplus(l): its gradient vanishes exactly when D rejects the fakes. The non-saturating loss is -log D(G(z))."] },
        { value: mean(logits.map((l) => softplus(l))), hints: ["Sign: -log D = -log sigmoid(l) = softplus(-l), not softplus(l) (that is -log(1 - D))."] },
        { value: logits.map((l) => softplus(-l)).reduce((s, v) => s + v, 0), hints: ["You summed over the batch; take the mean."] },
      ],
      otherwise: ["At logit -100, float32's sigmoid is 0 and log(0) is -Infinity: never take log(sigmoid(l)), use -log sigmoid(l) = softplus(-l)."],
    });
  },
  hints: ["-log sigmoid(l) = log(1 + e^{-l}) = softplus(-l), finite for any l.", "tf.mean(tf.softplus(tf.neg(fakeLogits)))."],
};

export type Density = (x: number) => number;

export const optimalDExercise: Exercise<(xs: number[], pData: Density, pG: Density) => number[]> = {
  id: "optimal-d",
  check: (optimalD) => {
    const uniform = (a: number, b: number) => (x: number) => (x >= a && x <= b ? 1 / (b - a) : 0);
    const normal = (m: number, s: number) => (x: number) => Math.exp(-0.5 * ((x - m) / s) ** 2) / (s * Math.sqrt(2 * Math.PI));
    const cases: [string, Density, Density, number[]][] = [
      ["a uniform on [0, 2] against a uniform on [1, 3]", uniform(0, 2), uniform(1, 3), [0.5, 1.5, 2.5, 5]],
      ["N(0, 1) against N(1.5, 0.75^2)", normal(0, 1), normal(1.5, 0.75), [-1, 0, 0.8, 2]],
    ];
    for (const [name, p, q, xs] of cases) {
      const got = optimalD(xs, p, q);
      if (got.some((v) => Number.isNaN(v))) miss(`Where both densities are 0 (x = 5 in "${name}") your D* is NaN: 0 / 0. D* is undefined there; the exercise asks for 1/2, its limit where p_data = p_g.`);
      const ratio = (a: number, b: number) => (a + b === 0 ? 0.5 : a / (a + b));
      expectValue(got, xs.map((x) => ratio(p(x), q(x))), {
        name: `optimalD on ${name}`,
        rtol: 1e-9,
        atol: 1e-12,
        suspects: [
          { value: xs.map((x) => ratio(q(x), p(x))), hints: ["You returned the probability that x is fake, p_g / (p_data + p_g). D outputs the probability that x is real: p_data / (p_data + p_g)."] },
          { value: xs.map((x) => (p(x) + q(x) === 0 ? 0 : p(x) / (p(x) + q(x)))), hints: ["Where both densities vanish you returned 0; the exercise asks for 1/2 (neither real nor fake is more likely)."] },
        ],
      });
    }
  },
  hints: ["D*(x) = p_data(x) / (p_data(x) + p_g(x)): the chance that a point drawn half from each came from the data.", "xs.map((x) => { const a = pData(x), b = pG(x); return a + b === 0 ? 0.5 : a / (a + b); })."],
};

type Pts = [number, number][];
const countBy = (points: Pts, centres: Pts, reach: number, minCount: number, strict = false) =>
  centres.filter(([cx, cy]) => {
    const c = points.filter(([x, y]) => Math.hypot(x - cx, y - cy) <= reach).length;
    return strict ? c > minCount : c >= minCount;
  }).length;

export const countModesExercise: Exercise<(points: Pts, centres: Pts, std: number, minCount: number) => number> = {
  id: "count-modes",
  check: (countCoveredModes) => {
    const centres = ringCentres();
    const on = (n: number, modes: number[], offset: number): Pts => Array.from({ length: n }, (_, i) => [centres[modes[i % modes.length]!]![0] + offset, centres[modes[i % modes.length]!]![1]]);
    const cases: [string, Pts][] = [
      ["2,500 points 0.01 from all 8 centres", on(2500, [0, 1, 2, 3, 4, 5, 6, 7], 0.01)],
      ["points 0.05 (2.5 std) from centre 5", on(2500, [5], 0.05)],
      ["25 points on mode 0 and 24 on mode 1", [...on(25, [0], 0), ...on(24, [1], 0)]],
      ["26 points on mode 3 and 25 on mode 4", [...on(26, [3], 0), ...on(25, [4], 0)]],
      ["points 0.07 (3.5 std) from centre 2", on(2500, [2], 0.07)],
      ["points on the unit circle, far from every centre", Array.from({ length: 2500 }, (_, i) => [Math.cos(i), Math.sin(i)])],
    ];
    for (const [name, points] of cases) {
      const got = countCoveredModes(points, centres, 0.02, 25);
      const want = countBy(points, centres, 0.06, 25);
      if (got === want) continue;
      if (got === countBy(points, centres, 0.02, 25)) miss(`${name}: you counted ${got}, expected ${want}. A point is near a centre within 3 standard deviations (3 * std = 0.06), not within one.`);
      if (got === countBy(points, centres, 0.06, 25, true)) miss(`${name}: you counted ${got}, expected ${want}. A mode with exactly minCount points is covered: at least minCount, >=, not >.`);
      if (got === points.filter(([x, y]) => centres.some(([cx, cy]) => Math.hypot(x - cx, y - cy) <= 0.06)).length) miss(`${name}: you counted ${got}: that is the number of points near some centre. Count the centres (modes) that have at least minCount points.`);
      miss(`${name}: you counted ${got} covered modes, expected ${want}.`);
    }
  },
  hints: ["For each centre count the points p with Math.hypot(p[0] - c[0], p[1] - c[1]) <= 3 * std.", "Then return the number of centres whose count is >= minCount."],
};

/** Modes covered (PacGAN's rule: >= 1% of the samples within 3 std) by n samples of G on codes drawn with `seed`, in float64. */
export function modesByHand(g: RingGenerator, n: number, seed: number): number {
  const flat = tf.tidy(() => Array.from(g.generator.apply(sampleLatent(n, g.latentDim, seed)).dataSync()));
  const points = Array.from({ length: n }, (_, i) => [flat[2 * i]!, flat[2 * i + 1]!] as [number, number]);
  return countBy(points, ringCentres(), 0.06, Math.ceil(0.01 * n - 1e-9));
}

export interface MinibatchStdExperiment {
  /** Modes you predict each shipped generator covers on 2,500 fresh codes (not the evaluation codes). */
  prediction: { plain: number; remedy: number } | undefined;
  /** Your measurement: modes covered by n samples of g on the codes of `seed`. */
  measure: (g: RingGenerator, n: number, seed: number) => number;
  /** The folder of the shipped checkpoints. Default "checkpoints" (the lessons' working directory is notebooks/). */
  dir?: string;
}

export const minibatchStdModesExercise: Exercise<MinibatchStdExperiment> = {
  id: "minibatch-std-modes",
  check: ({ prediction, measure, dir = "checkpoints" }) => {
    const predicted = requirePrediction(prediction, "the modes covered by the plain and the minibatch-std generator");
    const gens = { plain: loadRingGenerator(path.join(dir, "gan-ring-plain.ckpt")), remedy: loadRingGenerator(path.join(dir, "gan-ring.ckpt")) };
    try {
      const measured: Record<string, number[]> = {};
      for (const [name, g] of Object.entries(gens)) {
        measured[name] = [101, 102, 103].map((seed) => {
          const mine = measure(g, 2500, seed);
          const byHand = modesByHand(g, 2500, seed);
          if (mine !== byHand) miss(`${name} generator, codes of seed ${seed}: you measured ${mine} modes, an independent count of the same 2,500 samples gives ${byHand}. Draw the codes with sampleLatent(n, g.latentDim, seed), map them through g.generator.apply, and count modes as in exercise 3 (std 0.02, at least 1% of the samples).`);
          return byHand;
        });
      }
      const spread = (xs: number[]) => Math.max(...xs) - Math.min(...xs);
      const why = `On three fresh sets of 2,500 codes: plain ${measured.plain!.join(", ")}, minibatch std ${measured.remedy!.join(", ")}. A collapsed G puts (almost) no mass on the lost modes, whatever codes you draw: the collapse is in G's weights, not in the draw.`;
      for (const name of ["plain", "remedy"] as const) {
        const m = measured[name]!;
        const typical = spread(m) === 0 ? String(m[0]) : `${Math.min(...m)}-${Math.max(...m)}`;
        const ok = predicted[name] >= Math.min(...m) && predicted[name] <= Math.max(...m);
        comparePrediction(`the ${name === "plain" ? "plain" : "minibatch-std"} generator's modes`, String(predicted[name]), ok ? String(predicted[name]) : typical, why);
      }
      return `Modes on three fresh sets of 2,500 codes: plain ${measured.plain!.join(", ")}; minibatch std ${measured.remedy!.join(", ")}.`;
    } finally {
      gens.plain.generator.dispose();
      gens.remedy.generator.dispose();
    }
  },
  hints: ["tf.tidy(() => g.generator.apply(sampleLatent(n, g.latentDim, seed)).dataSync()) gives the points, flat [x0, y0, x1, y1, ...].", "ringCoverage(points).modesCovered counts them (or your countCoveredModes from exercise 3, with std 0.02 and minCount 1% of n)."],
};
