/**
 * Exercises that tell the learner when they are right. An exercise is a code cell the learner completes
 * (its cell metadata holds `"aigc": {"exercise": "<id>"}`), followed by a check cell calling
 * {@link checkExercise}. A reference solution for each id lives in notebooks/solutions/<notebook>/<id>.ts.
 *
 * In a normal run an unfinished exercise prints "not yet" and a hint and the notebook goes on; with
 * `AIGC_EXERCISES=strict` (what the test of the solutions uses) a failing check throws, so a wrong
 * solution fails the run. Every lesson ends with exercises, the first in notebooks/00-tour.ipynb.
 */

/** Results of the checks run so far in this kernel, by exercise id. */
export const exerciseResults: Record<string, { passed: boolean; message: string }> = {};

/**
 * Runs `test` (which throws when the learner's answer is wrong) and prints a verdict: "correct", or
 * "not yet" with what was wrong and the hint. The verdict is kept in {@link exerciseResults}; nothing is
 * returned, so a check cell shows only the verdict.
 */
export async function checkExercise(id: string, test: () => void | Promise<void>, hint: string): Promise<void> {
  try {
    await test();
    exerciseResults[id] = { passed: true, message: "correct" };
    console.log(`Exercise ${id}: correct.`);
  } catch (e) {
    const what = e instanceof Error ? e.message : String(e);
    exerciseResults[id] = { passed: false, message: what };
    const text = `Exercise ${id}: not yet. ${what}\nHint: ${hint}`;
    if ((process.env.AIGC_EXERCISES ?? "").toLowerCase() === "strict") throw new Error(text);
    console.log(text);
  }
}

/** Thrown by an exercise's placeholder so an untouched exercise fails its check with a clear message. */
export function todo(what: string): never {
  throw new Error(`TODO: ${what} (replace the todo(...) call with your code)`);
}
