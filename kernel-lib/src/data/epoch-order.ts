/**
 * Minibatches in a reshuffled-every-epoch order: each epoch is a fresh seeded permutation of the examples, cut
 * into batches; a tail shorter than a batch is skipped. Used by the VAE's and the diffusion model's trainers
 * (notebooks/04-vae.ipynb, notebooks/06-diffusion.ipynb).
 */
import { Rng } from "../runtime/random";

/** The indices of the next batch, from a random order of `n` examples that is drawn anew each epoch. */
export class EpochOrder {
  private order: number[] = [];
  private cursor = 0;

  /** @param rng draws each epoch's permutation; pass the trainer's own generator so one seed fixes every draw. */
  constructor(
    private readonly n: number,
    private readonly batchSize: number,
    private readonly rng: Rng,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > n) throw new RangeError(`EpochOrder: batch size ${batchSize} must be an integer in 1..${n} (the number of examples)`);
  }

  /** The next batch's indices; a new random order starts each epoch. */
  next(): number[] {
    if (this.cursor + this.batchSize > this.order.length) {
      this.order = this.rng.permutation(this.n);
      this.cursor = 0;
    }
    const idx = this.order.slice(this.cursor, this.cursor + this.batchSize);
    this.cursor += this.batchSize;
    return idx;
  }
}
