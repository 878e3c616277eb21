function posteriorMean(s: NoiseSchedule, x0: number, xt: number, t: number): number {
  // Eq. 7 of Ho et al. 2020: the weights of x_0 and x_t in the posterior mean.
  const ab = s.alphaBars[t]!;
  const abPrev = s.alphaBars[t - 1]!;
  return ((Math.sqrt(abPrev) * s.betas[t]!) / (1 - ab)) * x0 + ((Math.sqrt(s.alphas[t]!) * (1 - abPrev)) / (1 - ab)) * xt;
}
