function applyMerges(ids: number[], merges: [number, number][]): number[] {
  const rank = new Map(merges.map(([a, b], r) => [`${a},${b}`, r]));
  let out = [...ids];
  for (;;) {
    // 1) The adjacent pair of lowest rank.
    let best = Infinity;
    for (let i = 0; i + 1 < out.length; i++) best = Math.min(best, rank.get(`${out[i]},${out[i + 1]}`) ?? Infinity);
    if (best === Infinity) return out;
    // 2) Replace each of its occurrences, left to right, by its token.
    const [a, b] = merges[best]!;
    const next: number[] = [];
    for (let i = 0; i < out.length; i++) {
      if (i + 1 < out.length && out[i] === a && out[i + 1] === b) {
        next.push(256 + best);
        i++;
      } else next.push(out[i]!);
    }
    out = next;
  }
}
