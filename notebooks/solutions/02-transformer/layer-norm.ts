function myLayerNormRows(rows: number[][], gamma: number[], beta: number[]): number[][] {
  return rows.map((x) => {
    const d = x.length;
    const mean = x.reduce((s, v) => s + v, 0) / d;
    const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / d; // biased: divide by d
    const scale = 1 / Math.sqrt(variance + 1e-5);
    return x.map((v, j) => (v - mean) * scale * gamma[j]! + beta[j]!);
  });
}
