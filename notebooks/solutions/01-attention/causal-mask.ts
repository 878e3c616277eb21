function buildCausalMask(T: number): number[][] {
  if (!Number.isInteger(T) || T < 1) throw new Error("T must be a positive integer");
  // Query i may look at keys 0..i: ones on and below the diagonal.
  return Array.from({ length: T }, (_, i) => Array.from({ length: T }, (_, j) => (j <= i ? 1 : 0)));
}
