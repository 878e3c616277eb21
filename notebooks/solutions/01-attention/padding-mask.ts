function buildPaddingMask(lengths: number[], T: number): tf.Tensor {
  // Row b: ones for the lengths[b] real tokens, zeros for the padding; the middle axis broadcasts over queries.
  const rows = lengths.map((n) => [Array.from({ length: T }, (_, j) => (j < n ? 1 : 0))]);
  return tf.tensor3d(rows, [lengths.length, 1, T]);
}
