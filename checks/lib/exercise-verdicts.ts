/**
 * Runs an exercise's check the way a check cell does (kernel-lib's checkExercise) and returns the verdict,
 * with the console quiet: for the tests of the diagnoses (checks/exercise-hints*.test.ts).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import * as kernelLib from "kernel-lib";
import { repoRoot } from "../../kernel/kernelspec";
import { solutionFunction } from "./exercises";

export const checkpointsDir = path.join(repoRoot(), "notebooks", "checkpoints");

type Verdict = (typeof kernelLib.exerciseResults)[string];

/** One run of the check of `id` on `answer`, keeping earlier failures (so hints escalate) unless `fresh`. */
export async function verdict(id: string, answer: unknown, fresh = true): Promise<Verdict> {
  if (fresh) kernelLib.resetExercise(id);
  const saved = process.env["AIGC_EXERCISES"];
  process.env["AIGC_EXERCISES"] = "";
  const log = console.log;
  console.log = () => {};
  try {
    await kernelLib.checkExercise(id as keyof kernelLib.Exercises, answer as never);
  } finally {
    console.log = log;
    if (saved === undefined) delete process.env["AIGC_EXERCISES"];
    else process.env["AIGC_EXERCISES"] = saved;
  }
  return kernelLib.exerciseResults[id]!;
}

/** The check passes on `answer`. */
export async function passes(id: string, answer: unknown): Promise<void> {
  const v = await verdict(id, answer);
  assert.ok(v.passed, `${id}: expected "correct", got: ${v.message}`);
}

/** The check fails on `answer`, and its first hint (the diagnosis) matches `diagnosis`. */
export async function diagnoses(id: string, answer: unknown, diagnosis: RegExp, what: string): Promise<void> {
  const v = await verdict(id, answer);
  assert.ok(!v.passed, `${id}: ${what} should fail, but passed`);
  assert.match(v.hints[0]!, diagnosis, `${id}: ${what}: the first hint should say what is wrong`);
}

/** A lesson's reference solution as a function. */
export const solved = (stem: string, id: string, extra: Record<string, unknown> = {}) => solutionFunction(stem, id, extra);

/** An experiment's answer built from the reference solution's measurement and a prediction. */
export const experiment = (stem: string, id: string, prediction: unknown, extra: Record<string, unknown> = {}) => ({ prediction, measure: solved(stem, id), ...extra });
