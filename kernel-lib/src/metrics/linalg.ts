/**
 * Float64 linear algebra for the image metrics: feature means and covariances, and the eigen-decomposition of
 * a symmetric matrix by cyclic Jacobi rotations (Golub and Van Loan, "Float64Matrix Computations", 4th ed., §8.5),
 * which is accurate for the small (at most a few hundred) dimensions of classifier features and needs no
 * library. Used by the FID (fid.ts). For the table that compares the image models of notebooks/04-vae.ipynb,
 * notebooks/05-gan.ipynb and notebooks/06-diffusion.ipynb; tested in checks/metrics.test.ts.
 */

/** A dense row-major float64 matrix. */
export interface Float64Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

/** Features as n rows of d numbers: a matrix, or an array of rows. */
export type Features = Float64Matrix | ArrayLike<number>[];

/** The features as a float64 matrix, checking that every row has the same length and only finite values. */
export function toMatrix(x: Features, name = "features"): Float64Matrix {
  if (!Array.isArray(x) && "data" in x) {
    const m = x as Float64Matrix;
    if (m.data.length !== m.rows * m.cols) throw new RangeError(`${name}: ${m.rows}x${m.cols} matrix holds ${m.data.length} numbers`);
    return m;
  }
  const rows = x as ArrayLike<number>[];
  if (rows.length === 0) throw new RangeError(`${name}: no rows`);
  const cols = rows[0]!.length;
  const data = new Float64Array(rows.length * cols);
  rows.forEach((r, i) => {
    if (r.length !== cols) throw new RangeError(`${name}: row ${i} has ${r.length} numbers, row 0 has ${cols}`);
    for (let j = 0; j < cols; j++) data[i * cols + j] = r[j]!;
  });
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new RangeError(`${name}: row ${Math.floor(bad / cols)} holds ${data[bad]}`);
  return { rows: rows.length, cols, data };
}

/** Mean (d) and unbiased covariance (d x d, divided by n - 1) of the rows. */
export function meanAndCovariance(x: Features, name = "features"): { mean: Float64Array; cov: Float64Matrix } {
  const m = toMatrix(x, name);
  const { rows: n, cols: d, data } = m;
  if (n < 2) throw new RangeError(`${name}: a covariance needs at least 2 rows, got ${n}`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += data[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j] /= n;
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = data[i * d + j]! - mean[j]!;
    for (let a = 0; a < d; a++) {
      const ra = row[a]!;
      for (let b = a; b < d; b++) cov[a * d + b] += ra * row[b]!;
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = cov[a * d + b]! / (n - 1);
      cov[a * d + b] = v;
      cov[b * d + a] = v;
    }
  }
  return { mean, cov: { rows: d, cols: d, data: cov } };
}

/** A · B for square matrices. */
export function matMul64(a: Float64Matrix, b: Float64Matrix): Float64Matrix {
  if (a.cols !== b.rows) throw new RangeError(`matMul64: ${a.rows}x${a.cols} times ${b.rows}x${b.cols}`);
  const out = new Float64Array(a.rows * b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let k = 0; k < a.cols; k++) {
      const v = a.data[i * a.cols + k]!;
      if (v === 0) continue;
      for (let j = 0; j < b.cols; j++) out[i * b.cols + j] += v * b.data[k * b.cols + j]!;
    }
  }
  return { rows: a.rows, cols: b.cols, data: out };
}

/**
 * Eigenvalues and eigenvectors of a symmetric matrix: A = V diag(values) Vᵀ, eigenvectors in V's columns.
 * Cyclic Jacobi: each rotation zeroes one off-diagonal pair; sweeps repeat until the off-diagonal mass is
 * below 1e-15 of the total (quadratic convergence: typically 6-10 sweeps).
 */
export function symmetricEigen(a: Float64Matrix, maxSweeps = 60): { values: Float64Array; vectors: Float64Matrix } {
  const n = a.rows;
  if (a.cols !== n) throw new RangeError(`symmetricEigen: the matrix is ${a.rows}x${a.cols}, not square`);
  const A = Float64Array.from(a.data);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const d = Math.abs(A[i * n + j]! - A[j * n + i]!);
      if (d > 1e-9 * (1 + Math.abs(A[i * n + j]!))) throw new RangeError(`symmetricEigen: the matrix is not symmetric at (${i}, ${j})`);
    }
  }
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  const total = A.reduce((s, v) => s + v * v, 0);
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += 2 * A[p * n + q]! ** 2;
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q]!;
        if (apq === 0) continue;
        // The rotation angle that zeroes A[p][q]: t = tan(theta), the smaller root (GVL Algorithm 8.5.1).
        const tau = (A[q * n + q]! - A[p * n + p]!) / (2 * apq);
        const t = Math.sign(tau || 1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p]!;
          const akq = A[k * n + q]!;
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k]!;
          const aqk = A[q * n + k]!;
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p]!;
          const vkq = V[k * n + q]!;
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = A[i * n + i]!;
  return { values, vectors: { rows: n, cols: n, data: V } };
}

/** The symmetric square root of a symmetric positive semi-definite matrix, V diag(sqrt(max(λ, 0))) Vᵀ. */
export function sqrtPsd(a: Float64Matrix): Float64Matrix {
  const { values, vectors: V } = symmetricEigen(a);
  const n = a.rows;
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const r = Math.sqrt(Math.max(values[k]!, 0));
    if (r === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = V.data[i * n + k]! * r;
      for (let j = 0; j < n; j++) out[i * n + j] += vik * V.data[j * n + k]!;
    }
  }
  return { rows: n, cols: n, data: out };
}
