/**
 * kernel-lib/src/metrics/: the Jacobi eigen-decomposition and matrix square root against their definitions, the
 * Fréchet distance against closed forms for Gaussians with diagonal and non-diagonal covariances (computed by a
 * different route: the 2x2 trace formula), FID and KID of a set to itself, their invariance to order and their
 * growth with a shift, KID's Gram-matrix path against the plain double loop and a hand computation, seeding, the
 * class histogram, and clear errors on bad input.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  classHistogram,
  fid,
  fitGaussian,
  Float64Matrix,
  frechetDistance,
  kid,
  matMul64,
  mmdUnbiased,
  Rng,
  sqrtPsd,
  symmetricEigen,
  tf,
  toMatrix,
  useBestBackend,
} from "kernel-lib";

const mat = (rows: number[][]): Float64Matrix => toMatrix(rows);
const normalRows = (n: number, mean: number[], scale: number[][], r: Rng): number[][] =>
  Array.from({ length: n }, () => {
    const z = mean.map(() => r.normal());
    return mean.map((m, i) => m + scale[i]!.reduce((s, a, j) => s + a * z[j]!, 0));
  });

function randomSymmetric(n: number, r: Rng, psd: boolean): Float64Matrix {
  const b = Array.from({ length: n }, () => Array.from({ length: n }, () => r.normal()));
  const rows = b.map((row, i) => row.map((_, j) => (psd ? b.reduce((s, rk) => s + rk[i]! * rk[j]!, 0) : (b[i]![j]! + b[j]![i]!) / 2)));
  return mat(rows);
}

test("symmetricEigen: [[2, 1], [1, 2]] has eigenvalues 1 and 3; a random 9x9 matrix is rebuilt from V diag(λ) Vᵀ with V orthogonal", () => {
  const { values } = symmetricEigen(mat([[2, 1], [1, 2]]));
  assert.deepEqual([...values].map((v) => Number(v.toFixed(12))).sort(), [1, 3]);
  const a = randomSymmetric(9, new Rng(1), false);
  const { values: l, vectors: v } = symmetricEigen(a);
  for (let i = 0; i < 9; i++) {
    for (let j = 0; j < 9; j++) {
      let rebuilt = 0;
      let gram = 0;
      for (let k = 0; k < 9; k++) {
        rebuilt += v.data[i * 9 + k]! * l[k]! * v.data[j * 9 + k]!;
        gram += v.data[k * 9 + i]! * v.data[k * 9 + j]!;
      }
      assert.ok(Math.abs(rebuilt - a.data[i * 9 + j]!) < 1e-10, `A[${i}][${j}] rebuilt as ${rebuilt}, is ${a.data[i * 9 + j]}`);
      assert.ok(Math.abs(gram - (i === j ? 1 : 0)) < 1e-12, `VᵀV[${i}][${j}] = ${gram}`);
    }
  }
});

test("sqrtPsd(A) squared is A for a random positive semi-definite 12x12 matrix", () => {
  const a = randomSymmetric(12, new Rng(2), true);
  const r = sqrtPsd(a);
  const rr = matMul64(r, r);
  rr.data.forEach((v, i) => assert.ok(Math.abs(v - a.data[i]!) < 1e-9 * (1 + Math.abs(a.data[i]!)), `(R R)[${i}] = ${v}, A = ${a.data[i]}`));
});

test("Fréchet distance of diagonal Gaussians: |Δμ|² + Σ (√a - √b)²", () => {
  const a = { mean: [1, -2, 0.5], cov: mat([[4, 0, 0], [0, 1, 0], [0, 0, 0.25]]) };
  const b = { mean: [0, -2, 1.5], cov: mat([[1, 0, 0], [0, 9, 0], [0, 0, 0.25]]) };
  const expected = 1 + 0 + 1 + (2 - 1) ** 2 + (1 - 3) ** 2 + 0;
  assert.ok(Math.abs(frechetDistance(a, b) - expected) < 1e-12, `got ${frechetDistance(a, b)}, expected ${expected}`);
});

/** tr((S1 S2)^{1/2}) for 2x2 covariances, from the eigenvalues of S1 S2: sqrt(tr(S1 S2) + 2 sqrt(det S1 det S2)). */
function crossTrace2x2(s1: number[][], s2: number[][]): number {
  const p = [0, 1].map((i) => [0, 1].map((j) => s1[i]![0]! * s2[0]![j]! + s1[i]![1]! * s2[1]![j]!));
  const det = (m: number[][]) => m[0]![0]! * m[1]![1]! - m[0]![1]! * m[1]![0]!;
  return Math.sqrt(p[0]![0]! + p[1]![1]! + 2 * Math.sqrt(det(s1) * det(s2)));
}

test("Fréchet distance of correlated 2-D Gaussians equals the 2x2 closed form; an element-wise square root would not", () => {
  const s1 = [[2, 1.2], [1.2, 1.5]];
  const s2 = [[1, -0.6], [-0.6, 0.8]];
  const mu = [0.3, -0.4];
  const closed = mu[0]! ** 2 + mu[1]! ** 2 + 2 + 1.5 + 1 + 0.8 - 2 * crossTrace2x2(s1, s2);
  const got = frechetDistance({ mean: mu, cov: mat(s1) }, { mean: [0, 0], cov: mat(s2) });
  assert.ok(Math.abs(got - closed) < 1e-12, `got ${got}, closed form ${closed}`);
  // The check can tell a wrong formula apart: Σ sqrt(S1 ∘ S2) on the diagonal (a common mistake) is far off here.
  const wrong = mu[0]! ** 2 + mu[1]! ** 2 + 2 + 1.5 + 1 + 0.8 - 2 * (Math.sqrt(2 * 1) + Math.sqrt(1.5 * 0.8));
  assert.ok(Math.abs(wrong - closed) > 0.05, `the wrong formula ${wrong} should differ from ${closed}`);
});

test("FID of a set with itself is 0; FID and KID do not depend on the order of the rows", async () => {
  await useBestBackend({ verbose: false });
  const r = new Rng(3);
  const x = normalRows(600, [0, 1, 2, 3], [[1, 0, 0, 0], [0.5, 1, 0, 0], [0, 0.3, 1, 0], [0.2, 0, 0, 0.5]], r);
  const y = normalRows(600, [0.2, 1, 2, 3], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], r);
  assert.ok(fid(x, x) < 1e-9, `FID(x, x) = ${fid(x, x)}`);
  const shuffled = (rows: number[][]) => new Rng(9).permutation(rows.length).map((i) => rows[i]!);
  assert.ok(Math.abs(fid(x, y) - fid(shuffled(x), shuffled(y))) < 1e-9);
  const full = { subsetSize: 600, subsets: 1 };
  assert.ok(Math.abs(kid(x, y, full).kid - kid(shuffled(x), shuffled(y), full).kid) < 1e-5);
});

test("FID from 20,000 samples of two Gaussians approaches their Fréchet distance; FID and KID grow with the shift", async () => {
  await useBestBackend({ verbose: false });
  const r = new Rng(4);
  const scale = [[1, 0], [0.6, 0.8]];
  const base = normalRows(20000, [0, 0], scale, r);
  const exact = (shift: number) => frechetDistance({ mean: [0, 0], cov: mat([[1, 0.6], [0.6, 1]]) }, { mean: [shift, 0], cov: mat([[1, 0.6], [0.6, 1]]) });
  let lastFid = -1;
  let lastKid = -Infinity;
  for (const shift of [0.1, 0.3, 0.6, 1.0]) {
    const other = normalRows(20000, [shift, 0], scale, r);
    const f = fid(base, other);
    assert.ok(Math.abs(f - exact(shift)) < 0.01 + 0.05 * exact(shift), `shift ${shift}: FID ${f}, exact ${exact(shift)}`);
    const k = kid(base, other, { subsets: 10, subsetSize: 1000 }).kid;
    assert.ok(f > lastFid && k > lastKid, `shift ${shift}: FID ${f} (before ${lastFid}), KID ${k} (before ${lastKid}) should grow`);
    lastFid = f;
    lastKid = k;
  }
});

test("unbiased MMD² by hand: x = (0, 1), y = (2, 3) in one dimension gives 1 + 343 - 46.5 = 297.5", () => {
  const x = mat([[0], [1]]);
  const y = mat([[2], [3]]);
  assert.equal(mmdUnbiased(x, [0, 1], y, [0, 1]), 297.5);
});

test("KID's Gram-matrix path equals the double loop; unbiased over independent pairs of one distribution (the biased estimate is not); seeded", async () => {
  await useBestBackend({ verbose: false });
  const r = new Rng(5);
  const x = normalRows(300, [0, 0, 0], [[1, 0, 0], [0, 1, 0], [0, 0, 1]], r);
  const y = normalRows(300, [0.5, 0, 0], [[1, 0, 0], [0, 1, 0], [0, 0, 1]], r);
  const all = Array.from({ length: 300 }, (_, i) => i);
  const loop = mmdUnbiased(toMatrix(x), all, toMatrix(y), all);
  const gram = kid(x, y, { subsetSize: 300, subsets: 1 }).kid;
  assert.ok(Math.abs(gram - loop) < 1e-4 * Math.abs(loop) + 1e-6, `Gram ${gram}, loop ${loop}`);
  // Unbiased: over 20 independent pairs of sets from one distribution the estimates average to 0 (within 3
  // standard errors of that mean), while the biased estimate (diagonal terms kept) stays clearly above 0.
  const kernel = (a: number[], b: number[]) => ((a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!) / 3 + 1) ** 3;
  const unbiased: number[] = [];
  const biased: number[] = [];
  for (let p = 0; p < 20; p++) {
    const [a, b] = [0, 1].map(() => normalRows(200, [0, 0, 0], [[1, 0, 0], [0, 1, 0], [0, 0, 1]], r));
    unbiased.push(kid(a!, b!, { subsetSize: 200, subsets: 1 }).kid);
    let v = 0;
    for (const [u, w, sign] of [[a!, a!, 1], [b!, b!, 1], [a!, b!, -2]] as const) for (const ui of u) for (const wj of w) v += (sign * kernel(ui, wj)) / 200 ** 2;
    biased.push(v);
  }
  const meanSe = (xs: number[]) => {
    const m = xs.reduce((s, v) => s + v, 0) / xs.length;
    return [m, Math.sqrt(xs.reduce((s, v) => s + (v - m) ** 2, 0) / (xs.length - 1) / xs.length)] as const;
  };
  const [mu, seu] = meanSe(unbiased);
  const [mb, seb] = meanSe(biased);
  assert.ok(Math.abs(mu) < 3 * seu, `unbiased KID over 20 pairs: ${mu} ± ${seu}`);
  assert.ok(mb > 3 * seb, `the biased estimate should sit above 0: ${mb} ± ${seb}`);
  assert.deepEqual(kid(x, y, { subsets: 5, subsetSize: 100, seed: 7 }), kid(x, y, { subsets: 5, subsetSize: 100, seed: 7 }));
  assert.notEqual(kid(x, y, { subsets: 5, subsetSize: 100, seed: 7 }).kid, kid(x, y, { subsets: 5, subsetSize: 100, seed: 8 }).kid);
});

test("KID leaves no tensors behind", async () => {
  await useBestBackend({ verbose: false });
  const r = new Rng(6);
  const x = normalRows(200, [0, 0], [[1, 0], [0, 1]], r);
  const before = tf.memory().numTensors;
  kid(x, x, { subsets: 3, subsetSize: 100 });
  assert.equal(tf.memory().numTensors, before);
});

test("classHistogram: shares per class by hand", () => {
  assert.deepEqual(classHistogram([0, 2, 2, 1, 2, 0, 0, 0], 4), [0.5, 0.125, 0.375, 0]);
});

test("bad input is an error that names the problem", () => {
  assert.throws(() => toMatrix([[1, 2], [3]]), /row 1 has 1 numbers, row 0 has 2/);
  assert.throws(() => toMatrix([[1, NaN]]), /row 0 holds NaN/);
  assert.throws(() => fitGaussian([[1, 2]]), /at least 2 rows, got 1/);
  assert.throws(() => fid([[1, 2], [3, 4]], [[1, 2, 3], [4, 5, 6]]), /means of 2 and 3 numbers/);
  assert.throws(() => kid([[1], [2]], [[1], [2], [3]], { subsetSize: 3 }), /subsetSize 3 must be an integer in 2\.\.2/);
  assert.throws(() => symmetricEigen(mat([[1, 2], [0, 1]])), /not symmetric at \(0, 1\)/);
  assert.throws(() => classHistogram([0, 3], 3), /label 1 is 3, not a class in 0\.\.2/);
});
