function meanTargetProbability(logits: number[][][], targets: number[][]): number {
  let total = 0;
  let count = 0;
  logits.forEach((rows, b) =>
    rows.forEach((l, t) => {
      const y = targets[b]![t]!;
      if (y === 0) return; // PAD: not a prediction
      const max = Math.max(...l);
      const sum = l.reduce((s, v) => s + Math.exp(v - max), 0);
      total += Math.exp(l[y]! - max) / sum;
      count += 1;
    }),
  );
  return total / count;
}
