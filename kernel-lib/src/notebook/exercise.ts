/**
 * Exercises that tell the learner what is wrong, and a little more each time. An exercise is a code cell the
 * learner completes (its cell metadata holds `"aigc": {"exercise": "<id>"}`), followed by a one-line check cell
 * calling kernel-lib's `checkExercise(id, answer)` (models/exercises/check.ts), which runs the exercise's
 * {@link Exercise} here. A reference solution for each id lives in notebooks/solutions/<notebook>/<id>.ts.
 *
 * Hints come in levels. The first failure says what is wrong conceptually, diagnosed from the value the
 * learner's code returned (a {@link Miss}: "your weights sum to 1 per column, not per row"); each further
 * failure of the same exercise adds the next level (the diagnosis's own follow-ups, then the exercise's
 * general hints, the last nearly the answer). In a normal run an unfinished exercise prints "not yet" and the
 * notebook goes on; with `AIGC_EXERCISES=strict` (what the test of the solutions uses) a failing check throws.
 * Every lesson ends with exercises, the first in notebooks/00-tour.ipynb.
 */
import { CheckError, checkClose, Numeric } from "./check";

/**
 * A wrong answer, with hints in order: hints[0] says what is wrong conceptually, later ones say more. With
 * `ownHintsOnly` the exercise's general hints are not appended (a wrong prediction needs no coding hints).
 */
export class Miss extends Error {
  readonly hints: string[];
  readonly ownHintsOnly: boolean;
  constructor(hints: string[], ownHintsOnly = false) {
    super(hints[0] ?? "not yet");
    this.name = "Miss";
    this.hints = hints;
    this.ownHintsOnly = ownHintsOnly;
  }
}

/** Throws a {@link Miss} with these hint levels. */
export function miss(...hints: string[]): never {
  throw new Miss(hints);
}

/**
 * One exercise's check: `check` throws a {@link Miss} (or any error) when `answer` is wrong; it may return a
 * line saying what was measured, printed after "correct".
 */
export interface Exercise<A> {
  id: string;
  check: (answer: A) => void | string | Promise<void | string>;
  /** General hints, shown after a diagnosis's own levels; the last comes close to the answer. */
  hints: string[];
}

/** What the checks said so far in this kernel, by exercise id: the verdict, failures so far, hints shown. */
export const exerciseResults: Record<string, { passed: boolean; message: string; failures: number; hints: string[] }> = {};

/** Forgets an exercise's failures, so its hints start again at the first level. */
export function resetExercise(id: string): void {
  delete exerciseResults[id];
}

/** Thrown by an exercise's placeholder so an untouched exercise fails its check with a clear message. */
export function todo(what: string): never {
  throw new Error(`TODO: ${what} (replace the todo(...) call with your code)`);
}

const isTodo = (e: unknown) => e instanceof Error && e.message.startsWith("TODO:");

/**
 * Runs `exercise.check(answer)` and prints the verdict: "correct", or "not yet" with the diagnosis and, on the
 * n-th failure, n - 1 further hint levels. Nothing is returned (a check cell shows only the verdict); the verdict
 * is kept in {@link exerciseResults}. An untouched placeholder (todo()) does not count as a failure.
 */
export async function runExercise<A>(exercise: Exercise<A>, answer: A): Promise<void> {
  const { id } = exercise;
  const before = exerciseResults[id]?.failures ?? 0;
  try {
    const said = await exercise.check(answer);
    exerciseResults[id] = { passed: true, message: "correct", failures: before, hints: [] };
    console.log(`Exercise ${id}: correct.${typeof said === "string" ? ` ${said}` : ""}`);
  } catch (e) {
    const todoLeft = isTodo(e);
    const failures = todoLeft ? before : before + 1;
    const levels = e instanceof Miss ? [...e.hints] : [e instanceof Error ? e.message : String(e)];
    const more = [...levels.slice(1), ...(e instanceof Miss && e.ownHintsOnly ? [] : exercise.hints)];
    const shown = [levels[0]!, ...more.slice(0, Math.max(0, failures - 1))];
    exerciseResults[id] = { passed: false, message: levels[0]!, failures, hints: shown };
    const extra = shown.slice(1).map((h, i) => `\nHint ${i + 1}: ${h}`).join("");
    const left = more.length - (shown.length - 1);
    const tail = todoLeft ? "" : left > 0 ? `\n(${left} more hint${left > 1 ? "s" : ""}: run the check again)` : "";
    const text = `Exercise ${id}: not yet. ${levels[0]}${extra}${tail}`;
    if ((process.env.AIGC_EXERCISES ?? "").toLowerCase() === "strict") throw new Error(text);
    console.log(text);
  }
}

/** A wrong answer the check recognises: its value, and the hints that say what went wrong. */
export interface Suspect {
  value: Numeric;
  hints: string[];
}

export interface ExpectOptions {
  /** What is compared, for the messages. */
  name: string;
  rtol?: number;
  atol?: number;
  /** Known wrong answers: the first the actual value matches (to the same tolerance) gives the diagnosis. */
  suspects?: Suspect[];
  /** Said when the value is wrong but matches no suspect, after "expected ... but got ...". */
  otherwise?: string[];
}

const matches = (actual: Numeric, expected: Numeric, rtol: number, atol: number): boolean => {
  try {
    checkClose(actual, expected, { rtol, atol });
    return true;
  } catch (e) {
    if (e instanceof CheckError) return false;
    throw e;
  }
};

const hasNonFinite = (x: Numeric): boolean => {
  const flat = typeof x === "number" ? [x] : x instanceof Float32Array || x instanceof Int32Array ? Array.from(x) : "dataSync" in x ? Array.from(x.dataSync()) : (x as unknown[]).flat(Infinity as 1);
  return (flat as number[]).some((v) => !Number.isFinite(v));
};

/**
 * Passes when `actual` is close to `expected` (checkClose's rule); otherwise throws a {@link Miss}: the hints of
 * the first suspect it matches, a non-finite diagnosis for NaN or Infinity, or "expected ... but got ..." and
 * `otherwise`.
 */
export function expectValue(actual: Numeric, expected: Numeric, options: ExpectOptions): void {
  const { name, rtol = 1e-5, atol = 1e-6, suspects = [], otherwise = [] } = options;
  try {
    checkClose(actual, expected, { rtol, atol, name });
    return;
  } catch (e) {
    if (!(e instanceof CheckError)) throw e;
    for (const s of suspects) if (matches(actual, s.value, rtol, atol)) throw new Miss(s.hints);
    if (hasNonFinite(actual) && !hasNonFinite(expected)) {
      throw new Miss([`${name} holds NaN or Infinity where every true value is finite: something overflowed or divided 0 by 0.`, e.message, ...otherwise]);
    }
    throw new Miss([e.message, ...otherwise]);
  }
}
