function sampleTopK(logits: number[], k: number, temperature: number, r: Rng): number {
  // 1) The k largest logits (by index).
  const kept = logits.map((_, i) => i).sort((a, b) => logits[b]! - logits[a]!).slice(0, k);
  // 2) Their softmax at the temperature, with the largest subtracted first so exp cannot overflow.
  const max = logits[kept[0]!]!;
  const exps = kept.map((i) => Math.exp((logits[i]! - max) / temperature));
  const total = exps.reduce((s, e) => s + e, 0);
  // 3) Walk the cumulative probabilities until they pass a uniform draw.
  const u = r.uniform();
  let acc = 0;
  for (let j = 0; j < kept.length; j++) {
    acc += exps[j]! / total;
    if (u < acc) return kept[j]!;
  }
  return kept[kept.length - 1]!;
}
