function optimalD(xs: number[], pData: (x: number) => number, pG: (x: number) => number): number[] {
  return xs.map((x) => {
    const a = pData(x);
    const b = pG(x);
    // Where neither distribution has mass D* is undefined; 1/2 is its limit along p_data = p_g.
    return a + b === 0 ? 0.5 : a / (a + b);
  });
}
