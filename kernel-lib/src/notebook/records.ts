/**
 * How a lesson shows the record a shipped checkpoint carries: the command that made it, as a learner would
 * type it in this checkout (no lock-file wrapper, no scratch folder of the machine it ran on), and the backend
 * it ran on in one short phrase (the lesson prints the full backend banner once, in its setup cell); and the JSON
 * tables scripts ship, read with an error that says which script writes them. Used by
 * every lesson that loads a shipped checkpoint, from notebooks/02-transformer.ipynb to notebooks/07-latent-diffusion.ipynb.
 */
import * as fs from "node:fs";

/**
 * A recorded command, for a learner: a leading `flock <lock file>` is dropped, and an absolute path (the
 * scratch folder a run wrote to before its file was copied into the checkout) is shown as its file name.
 * `scripts/x.ts` stays as recorded.
 */
export function learnerCommand(recorded: string): string {
  if (typeof recorded !== "string") throw new TypeError(`learnerCommand: the recorded command must be a string, got ${typeof recorded}`);
  const words = recorded.trim().split(/\s+/);
  if (words[0] === "flock") words.splice(0, 2);
  return words
    .map((w) => {
      const m = /^(--[\w-]+=)?(\/[^\s]*)$/.exec(w);
      if (!m) return w;
      const base = m[2]!.replace(/\/+$/, "").split("/").pop() || m[2]!;
      return `${m[1] ?? ""}${base}`;
    })
    .join(" ");
}

/**
 * A backend banner ("kernel-lib backend: wasm+native [SIMD, ...]; skipped tfjs-node-gpu (...), ...") as the
 * short phrase a record needs: "wasm+native [SIMD, ...]". Anything else is returned trimmed.
 */
export function shortBackend(banner: string): string {
  if (typeof banner !== "string") throw new TypeError(`shortBackend: the backend must be a string, got ${typeof banner}`);
  return banner.replace(/^kernel-lib backend:\s*/, "").split(";")[0]!.trim();
}

/**
 * A shipped JSON file (a table a script wrote), parsed, with the error a lesson should show when it is missing
 * (`who: file does not exist (writtenBy)`) or not JSON; checking its fields is the caller's part.
 */
export function readShippedJson(file: string, who: string, writtenBy: string): unknown {
  if (!fs.existsSync(file)) throw new Error(`${who}: ${file} does not exist (${writtenBy})`);
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${who}: ${file} is not JSON (${(e as Error).message})`);
  }
}
