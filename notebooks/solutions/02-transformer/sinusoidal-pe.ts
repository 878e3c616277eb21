function myPositionalEncoding(T: number, d: number): number[][] {
  if (d % 2 !== 0) throw new Error("d must be even: columns come in sin/cos pairs");
  return Array.from({ length: T }, (_, pos) =>
    Array.from({ length: d }, (_, j) => {
      const i2 = j - (j % 2); // the even index 2i shared by the pair
      const angle = pos / Math.pow(10000, i2 / d);
      return j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }),
  );
}
