/**
 * Checks that make a wrong formula fail the notebook run. Each throws a {@link CheckError} naming what
 * was expected and what was found. Taught in notebooks/00-tour.ipynb.
 */
import * as tf from "@tensorflow/tfjs";

/** Raised when a check fails; the message names the check, the expected and the actual values. */
export class CheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckError";
  }
}

export type Numeric = number | number[] | number[][] | number[][][] | Float32Array | Int32Array | tf.Tensor;

export interface CloseOptions {
  /** Relative tolerance. Default 1e-5. */
  rtol?: number;
  /** Absolute tolerance. Default 1e-6. */
  atol?: number;
  /** What is being compared, for the error message. Default "value". */
  name?: string;
}

function flatten(x: Numeric): { values: number[]; shape: number[] } {
  if (x instanceof tf.Tensor) return { values: Array.from(x.dataSync()), shape: x.shape };
  if (typeof x === "number") return { values: [x], shape: [] };
  if (x instanceof Float32Array || x instanceof Int32Array) return { values: Array.from(x), shape: [x.length] };
  const shape: number[] = [];
  let level: unknown = x;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
  }
  const values = (x as unknown[]).flat(Infinity as 1) as number[];
  if (values.length !== shape.reduce((a, b) => a * b, 1)) {
    throw new CheckError(`ragged array: shape starts [${shape.join(", ")}] but holds ${values.length} numbers`);
  }
  return { values, shape };
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(7);
}

/**
 * Asserts |actual - expected| <= atol + rtol * |expected| elementwise (numpy's `allclose` rule), with equal
 * shapes. NaN never passes. Returns the largest absolute difference.
 */
export function checkClose(actual: Numeric, expected: Numeric, options: CloseOptions = {}): number {
  const { rtol = 1e-5, atol = 1e-6, name = "value" } = options;
  const a = flatten(actual);
  const e = flatten(expected);
  const sameShape = a.shape.length === e.shape.length && a.shape.every((d, i) => d === e.shape[i]);
  if (!sameShape && !(a.values.length === 1 && e.values.length === 1)) {
    throw new CheckError(`${name}: shape [${a.shape.join(", ")}] differs from expected shape [${e.shape.join(", ")}]`);
  }
  // Report the worst offender; a NaN on either side counts as worst of all.
  let worst = -1;
  let worstDiff = -1;
  for (let i = 0; i < a.values.length; i++) {
    const av = a.values[i]!;
    const ev = e.values[i]!;
    const diff = Math.abs(av - ev);
    if (diff <= atol + rtol * Math.abs(ev)) continue;
    const score = Number.isNaN(diff) ? Infinity : diff;
    if (score > worstDiff) {
      worst = i;
      worstDiff = score;
    }
  }
  if (worst >= 0) {
    const av = a.values[worst]!;
    const ev = e.values[worst]!;
    const where = a.values.length > 1 ? ` at flat index ${worst}` : "";
    throw new CheckError(
      `${name}: expected ${fmt(ev)} but got ${fmt(av)}${where} (|diff| ${fmt(Math.abs(av - ev))} > atol ${atol} + rtol ${rtol} * |expected|)`,
    );
  }
  let maxDiff = 0;
  for (let i = 0; i < a.values.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.values[i]! - e.values[i]!));
  return maxDiff;
}

/** Asserts a tensor's shape; `null` in `expected` matches any size on that axis. */
export function checkShape(tensor: tf.Tensor | { shape: number[] }, expected: (number | null)[], name = "tensor"): void {
  const actual = tensor.shape;
  const ok = actual.length === expected.length && expected.every((d, i) => d === null || d === actual[i]);
  if (!ok) {
    const exp = expected.map((d) => (d === null ? "*" : String(d))).join(", ");
    throw new CheckError(`${name}: expected shape [${exp}] but got [${actual.join(", ")}]`);
  }
}

/** Asserts a condition with a message that says what should have held. */
export function checkThat(condition: boolean, message: string): void {
  if (!condition) throw new CheckError(message);
}

/**
 * Runs a check that must fail (a check shown rejecting a wrong formula) and returns its CheckError's
 * message; throws a CheckError if it passed. Any other error propagates.
 */
export function checkFails(check: () => unknown, what: string): string {
  try {
    check();
  } catch (e) {
    if (e instanceof CheckError) return e.message;
    throw e;
  }
  throw new CheckError(`${what}: the check should have failed, but it passed`);
}

/**
 * Runs `fn` and asserts it leaves `tf.memory().numTensors` as it found it: every tensor it made was disposed
 * or returned inside something it disposed. Works with async functions. Returns what `fn` returned.
 */
export async function checkNoLeak<T>(fn: () => T | Promise<T>, name = "function"): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  const after = tf.memory().numTensors;
  if (after !== before) {
    throw new CheckError(`${name} leaked tensors: tf.memory().numTensors went from ${before} to ${after} (${after - before > 0 ? "+" : ""}${after - before})`);
  }
  return result;
}

/** Asserts that repeated calls of `step` keep the tensor count flat (after a warm-up call). */
export async function checkFlatTensors(step: () => unknown | Promise<unknown>, repeats = 3, name = "step"): Promise<void> {
  await step();
  const counts: number[] = [];
  for (let i = 0; i < repeats; i++) {
    await step();
    counts.push(tf.memory().numTensors);
  }
  if (counts.some((c) => c !== counts[0])) {
    throw new CheckError(`${name}: tf.memory().numTensors is not flat over ${repeats} calls: ${counts.join(" -> ")}`);
  }
}
