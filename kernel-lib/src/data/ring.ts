/**
 * The 2-D ring of Gaussians, the standard toy for mode collapse (Metz et al. 2017, "Unrolled Generative
 * Adversarial Networks", section 3.1; Lin et al. 2018, "PacGAN", section 5.1): K Gaussians with equal
 * weight, centred evenly on a circle, each with a small isotropic standard deviation. Its two metrics
 * follow PacGAN's: a mode is covered when enough samples land within 3 standard deviations of its centre,
 * and a sample is "high quality" when it lies within 3 standard deviations of some centre.
 * Taught in notebooks/05-gan.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { Rng, rng as globalRng } from "../runtime/random";

export interface RingOptions {
  /** Number of Gaussians. Default 8. */
  modes?: number;
  /** Radius of the circle the centres lie on. Default 2. */
  radius?: number;
  /** Standard deviation of each Gaussian (both axes). Default 0.02. */
  std?: number;
}

/** The ring's settings with defaults filled in. */
export function ringConfig(options: RingOptions = {}): Required<RingOptions> {
  const cfg = { modes: options.modes ?? 8, radius: options.radius ?? 2, std: options.std ?? 0.02 };
  if (!Number.isInteger(cfg.modes) || cfg.modes < 1) throw new RangeError(`ring: modes must be a positive integer, got ${cfg.modes}`);
  if (!(cfg.radius > 0) || !(cfg.std > 0)) throw new RangeError(`ring: radius and std must be positive, got ${cfg.radius} and ${cfg.std}`);
  return cfg;
}

/** The centres [x, y] of the ring's Gaussians, mode k at angle 2πk/K. */
export function ringCentres(options: RingOptions = {}): [number, number][] {
  const { modes, radius } = ringConfig(options);
  return Array.from({ length: modes }, (_, k) => {
    const angle = (2 * Math.PI * k) / modes;
    return [radius * Math.cos(angle), radius * Math.sin(angle)] as [number, number];
  });
}

/**
 * `n` samples of the ring as an (n, 2) tensor: a uniformly chosen centre plus Gaussian noise. Drawn in
 * JavaScript from `rng` (default: the lesson-wide generator), so a seed gives the same data on every backend.
 */
export function sampleRing(n: number, options: RingOptions & { rng?: Rng } = {}): tf.Tensor2D {
  const { std } = ringConfig(options);
  const centres = ringCentres(options);
  const r = options.rng ?? globalRng();
  const values = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const c = centres[r.int(centres.length)]!;
    values[2 * i] = c[0] + std * r.normal();
    values[2 * i + 1] = c[1] + std * r.normal();
  }
  return tf.tensor2d(values, [n, 2]);
}

/** What {@link ringCoverage} measured. */
export interface RingCoverage {
  /** Number of modes with at least `minCount` samples within 3 std of the centre. */
  modesCovered: number;
  /** Number of modes of the ring. */
  modes: number;
  /** Samples within 3 std of each centre, by mode. */
  counts: number[];
  /** Share of samples within 3 std of some centre, in [0, 1]. */
  quality: number;
  /** The per-mode count a mode needed to count as covered. */
  minCount: number;
  /** Number of samples measured. */
  samples: number;
}

/**
 * Mode coverage and sample quality of 2-D samples against the ring. A mode counts as covered when at least
 * `minShare` of the samples (default 1%: 25 of 2,500) lie within `radiusInStd` (default 3) standard deviations
 * of its centre; `quality` is the share of samples within that distance of some centre. Accepts an (n, 2)
 * tensor (not disposed), a flat [x0, y0, x1, y1, ...] array or a list of points.
 */
export function ringCoverage(
  samples: tf.Tensor | ArrayLike<number> | [number, number][],
  options: RingOptions & { minShare?: number; radiusInStd?: number } = {},
): RingCoverage {
  const { std } = ringConfig(options);
  const centres = ringCentres(options);
  let flat: ArrayLike<number>;
  if (samples instanceof tf.Tensor) {
    if (samples.rank !== 2 || samples.shape[1] !== 2) throw new RangeError(`ringCoverage: expected samples of shape [n, 2], got [${samples.shape.join(", ")}]`);
    flat = samples.dataSync();
  } else if (Array.isArray(samples) && samples.length > 0 && Array.isArray(samples[0])) {
    flat = (samples as [number, number][]).flat();
  } else {
    flat = samples as ArrayLike<number>;
  }
  if (flat.length % 2 !== 0) throw new RangeError(`ringCoverage: ${flat.length} numbers do not make 2-D points`);
  const n = flat.length / 2;
  if (n === 0) throw new RangeError("ringCoverage: no samples");
  const minShare = options.minShare ?? 0.01;
  // 1% of 2,500 is exactly 25; the small epsilon keeps float error (0.07 * 100 = 7.000000000000001) from adding one.
  const minCount = Math.max(1, Math.ceil(minShare * n - 1e-9));
  const reach = (options.radiusInStd ?? 3) * std;
  const reach2 = reach * reach;
  const counts = new Array<number>(centres.length).fill(0);
  let good = 0;
  for (let i = 0; i < n; i++) {
    const x = flat[2 * i]!;
    const y = flat[2 * i + 1]!;
    // Centres are far apart compared with 3 std (1.53 vs 0.06 by default), so a point is near at most one;
    // still, count it once, at the nearest centre within reach.
    let best = -1;
    let bestD2 = reach2;
    for (let k = 0; k < centres.length; k++) {
      const dx = x - centres[k]![0];
      const dy = y - centres[k]![1];
      const d2 = dx * dx + dy * dy;
      if (d2 <= bestD2) {
        best = k;
        bestD2 = d2;
      }
    }
    if (best >= 0) {
      counts[best]! += 1;
      good += 1;
    }
  }
  return { modesCovered: counts.filter((c) => c >= minCount).length, modes: centres.length, counts, quality: good / n, minCount, samples: n };
}
