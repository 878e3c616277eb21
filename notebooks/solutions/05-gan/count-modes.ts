function countCoveredModes(points: [number, number][], centres: [number, number][], std: number, minCount: number): number {
  const counts = centres.map(([cx, cy]) => points.filter(([x, y]) => Math.hypot(x - cx, y - cy) <= 3 * std).length);
  return counts.filter((c) => c >= minCount).length;
}
