function smoothedLoss(logits: number[], target: number, epsilon: number): number {
  // 1) log softmax, with the largest logit subtracted first so that exp cannot overflow.
  const max = Math.max(...logits);
  const logSum = max + Math.log(logits.reduce((s, l) => s + Math.exp(l - max), 0));
  // 2) The smoothed target: 1 - epsilon on the true token, epsilon spread evenly over all V tokens.
  const V = logits.length;
  return -logits.reduce((s, l, v) => s + ((v === target ? 1 - epsilon : 0) + epsilon / V) * (l - logSum), 0);
}
