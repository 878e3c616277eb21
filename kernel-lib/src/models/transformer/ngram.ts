/**
 * Count baselines for a language model: the unigram model p(x_t) and the bigram model p(x_t | x_{t-1}), estimated
 * by counting on the training text with add-α (Lidstone) smoothing, and their loss in nats per token on held-out
 * text. A Transformer's number means little without them: the unigram loss is what knowing only the letter
 * frequencies gives, the bigram loss what one character of context gives. Beside the character GPT of
 * notebooks/02-transformer.ipynb.
 */

/** A count model's log-probabilities: `logProb(prev, next)` (prev is ignored by the unigram model). */
export interface NgramModel {
  readonly order: 1 | 2;
  readonly vocabSize: number;
  logProb(prev: number, next: number): number;
}

function checkIds(ids: ArrayLike<number>, vocabSize: number, what: string): void {
  if (!Number.isInteger(vocabSize) || vocabSize < 1) throw new RangeError(`${what}: vocabSize must be a positive integer, got ${vocabSize}`);
  for (let i = 0; i < ids.length; i++) {
    const t = ids[i]!;
    if (!Number.isInteger(t) || t < 0 || t >= vocabSize) throw new RangeError(`${what}: token ${i} is ${t}, outside [0, ${vocabSize})`);
  }
}

/** p(x) = (count(x) + α) / (N + αV). */
export function unigramModel(ids: ArrayLike<number>, vocabSize: number, alpha = 1): NgramModel {
  checkIds(ids, vocabSize, "unigramModel");
  if (!(alpha > 0)) throw new RangeError(`unigramModel: alpha must be > 0, got ${alpha}`);
  const counts = new Float64Array(vocabSize);
  for (let i = 0; i < ids.length; i++) counts[ids[i]!]! += 1;
  const logp = Float64Array.from(counts, (c) => Math.log((c + alpha) / (ids.length + alpha * vocabSize)));
  return { order: 1, vocabSize, logProb: (_prev, next) => logp[next]! };
}

/** p(x_t | x_{t-1}) = (count(x_{t-1} x_t) + α) / (count(x_{t-1} ·) + αV). */
export function bigramModel(ids: ArrayLike<number>, vocabSize: number, alpha = 1): NgramModel {
  checkIds(ids, vocabSize, "bigramModel");
  if (!(alpha > 0)) throw new RangeError(`bigramModel: alpha must be > 0, got ${alpha}`);
  const V = vocabSize;
  const pairs = new Float64Array(V * V);
  const rows = new Float64Array(V);
  for (let i = 1; i < ids.length; i++) {
    pairs[ids[i - 1]! * V + ids[i]!]! += 1;
    rows[ids[i - 1]!]! += 1;
  }
  return { order: 2, vocabSize, logProb: (prev, next) => Math.log((pairs[prev * V + next]! + alpha) / (rows[prev]! + alpha * V)) };
}

/** Mean negative log-likelihood (nats per token) of `ids` under the model; the bigram model skips the first token. */
export function ngramLoss(model: NgramModel, ids: ArrayLike<number>): number {
  checkIds(ids, model.vocabSize, "ngramLoss");
  const start = model.order === 2 ? 1 : 0;
  if (ids.length <= start) throw new RangeError(`ngramLoss: need more than ${start} tokens, got ${ids.length}`);
  let nll = 0;
  for (let i = start; i < ids.length; i++) nll -= model.logProb(start ? ids[i - 1]! : 0, ids[i]!);
  return nll / (ids.length - start);
}
