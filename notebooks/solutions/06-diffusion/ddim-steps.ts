import { ddimSample, Denoiser, Direction, NoiseSchedule, ringCoverage } from "kernel-lib";

// Prediction, before measuring: two DDIM jumps cannot follow the curved path from noise to a narrow mode; the
// first predicts an x_0 near the data's mean, so most samples should land between the modes.
const stepsPrediction: Direction | undefined = "smaller";

function ddimQuality(model: Denoiser, schedule: NoiseSchedule, steps: number, n: number, seed: number, scale: number): number {
  // 1) DDIM samples in the model's (scaled) coordinates, 2) back to the ring's, 3) the share within 3 std of a mode.
  return tf.tidy(() => ringCoverage(tf.div(ddimSample(model, schedule, { n, seed, steps }).samples, scale)).quality);
}
