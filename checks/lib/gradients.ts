/**
 * Gradient checks by central finite differences, shared by the model tests: per entry (a few random entries of
 * each named variable) and along random directions over all variables at once (for losses summed over many
 * pixels, where a single entry's effect drowns in float32 rounding).
 */
import assert from "node:assert/strict";
import { Rng, tf } from "kernel-lib";

/** Central differences at three random entries of each named variable against tf.variableGrads. */
export function checkGradients(vars: Record<string, tf.Variable>, loss: () => tf.Scalar, names: string[], seed: number, h = 1e-3, atol = 2e-3): void {
  const { grads } = tf.variableGrads(loss, names.map((n) => vars[n]!));
  const r = new Rng(seed);
  for (const name of names) {
    const v = vars[name]!;
    const g = grads[v.name]!.dataSync();
    for (let k = 0; k < 3; k++) {
      const i = r.int(v.size);
      const base = v.dataSync().slice();
      const at = (delta: number) => {
        const w = base.slice();
        w[i] = w[i]! + delta;
        v.assign(tf.tensor(w, v.shape));
        return tf.tidy(() => loss().dataSync()[0]!);
      };
      const fd = (at(h) - at(-h)) / (2 * h);
      v.assign(tf.tensor(base, v.shape));
      assert.ok(Math.abs(fd - g[i]!) <= atol + 0.05 * Math.abs(fd), `${name}[${i}]: finite difference ${fd}, gradient ${g[i]}`);
    }
  }
  tf.dispose(Object.values(grads));
}

/** The directional derivative along three random unit directions, by central differences, against Σ grad·u. */
export function checkDirectional(vars: tf.Variable[], loss: () => tf.Scalar, seed: number, h = 1e-2, rtol = 0.03, atol = 1e-3): void {
  const { grads } = tf.variableGrads(loss, vars);
  const r = new Rng(seed);
  for (let k = 0; k < 3; k++) {
    const dirs = vars.map((v) => Float32Array.from({ length: v.size }, () => r.normal()));
    const norm = Math.sqrt(dirs.reduce((s, d) => s + d.reduce((a, x) => a + x * x, 0), 0));
    const bases = vars.map((v) => v.dataSync().slice());
    const at = (step: number) => {
      vars.forEach((v, j) => v.assign(tf.tensor(bases[j]!.map((w, i) => w + (step * dirs[j]![i]!) / norm), v.shape)));
      return tf.tidy(() => loss().dataSync()[0]!);
    };
    const fd = (at(h) - at(-h)) / (2 * h);
    vars.forEach((v, j) => v.assign(tf.tensor(bases[j]!, v.shape)));
    const analytic = vars.reduce((s, v, j) => s + Array.from(grads[v.name]!.dataSync() as Float32Array).reduce((a, g, i) => a + (g * dirs[j]![i]!) / norm, 0), 0);
    assert.ok(Math.abs(fd - analytic) <= rtol * Math.abs(analytic) + atol, `direction ${k}: finite difference ${fd}, gradient·u ${analytic}`);
  }
  tf.dispose(Object.values(grads));
}
