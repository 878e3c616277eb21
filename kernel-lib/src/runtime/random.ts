/**
 * Seeded randomness. One seed fixes every random draw of a lesson: weight initialisers, dropout,
 * sampling and shuffling all take their seeds from a {@link Rng}, so the same seed on the same
 * backend gives the same numbers. Taught in notebooks/00-tour.ipynb.
 */

/** A small, fast, seedable generator (sfc32 by Chris Doty-Humphrey, as in PractRand). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** @param seed any integer; equal seeds give equal streams. */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`Rng: seed must be a finite number, got ${seed}`);
    // splitmix32 spreads a small integer seed over the 128-bit state, so seeds 0, 1, 2 give unrelated streams.
    let s = Math.trunc(seed) >>> 0;
    const splitmix = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = splitmix();
    this.b = splitmix();
    this.c = splitmix();
    this.d = splitmix();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** A uniform number in [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`Rng.int: n must be a positive integer, got ${n}`);
    return Math.floor(this.uniform() * n);
  }

  /** A standard normal draw (Box-Muller). */
  normal(): number {
    let u = this.uniform();
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /**
   * A fresh integer seed for a TensorFlow.js op or initialiser (`tf.randomNormal(shape, 0, 1, 'float32', seed)`,
   * `tf.initializers.glorotUniform({ seed })`). Each call advances the stream, so consecutive draws differ.
   */
  seed(): number {
    return this.nextUint32() % 2147483647;
  }

  /** An independent child generator; forking keeps one part of a lesson from shifting another's draws. */
  fork(): Rng {
    return new Rng(this.nextUint32());
  }

  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }
}

let globalRng = new Rng(0);
let globalSeed = 0;

/** Sets the lesson-wide seed: call it once at the top of a notebook. Returns the new global generator. */
export function setSeed(seed: number): Rng {
  globalSeed = seed;
  globalRng = new Rng(seed);
  return globalRng;
}

/** The lesson-wide generator that {@link setSeed} reset. */
export function rng(): Rng {
  return globalRng;
}

/** The seed last passed to {@link setSeed} (0 until then). */
export function currentSeed(): number {
  return globalSeed;
}
