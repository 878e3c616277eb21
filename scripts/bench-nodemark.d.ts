/** Types for nodemark 0.3 (it ships none); only what scripts/bench.ts uses. */
declare module "nodemark" {
  /** mean, min and max in nanoseconds; error as a ratio of the mean; count of measured calls. */
  interface BenchmarkResult {
    readonly mean: number;
    readonly error: number;
    readonly min: number;
    readonly max: number;
    readonly count: number;
  }
  /** Times `subject` for about `duration` ms (at least 10 calls); callback-style when it takes an argument. */
  function nodemark(subject: () => void, setup?: () => void, duration?: number): BenchmarkResult;
  function nodemark(subject: (done: (err?: unknown) => void) => void, setup?: (done: (err?: unknown) => void) => void, duration?: number): Promise<BenchmarkResult>;
  export = nodemark;
}
