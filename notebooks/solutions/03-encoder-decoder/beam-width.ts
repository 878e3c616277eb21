function beamScores(m: EncoderDecoder, pairs: TextPair[], k: number): { exact: number; logProb: number } {
  let right = 0;
  let logProbs = 0;
  for (const p of pairs) {
    const { ids, logProb } = beamDecode(m, srcVocab.encode(p.source), k);
    if (tgtVocab.decode(ids) === p.target) right += 1;
    logProbs += logProb;
  }
  return { exact: right / pairs.length, logProb: logProbs / pairs.length };
}
