function stableSoftmax(scores: number[]): number[] {
  if (scores.length === 0) throw new Error("softmax of an empty array is undefined");
  const m = Math.max(...scores);
  const exps = scores.map((z) => Math.exp(z - m));
  const total = exps.reduce((s, e) => s + e, 0);
  return exps.map((e) => e / total);
}
