/**
 * Quick and full mode. Every lesson runs the same code in both: quick mode (`AIGC_MODE=quick`, the
 * default, and what `npm test` uses) takes a few steps and shows the shipped checkpoints; full mode
 * (`AIGC_MODE=full`) trains to the lesson's target. Taught in notebooks/00-tour.ipynb.
 */
export type Mode = "quick" | "full";

let forcedMode: Mode | null = null;

/** The current mode: set by {@link setMode}, else `AIGC_MODE`, else "quick". */
export function mode(): Mode {
  if (forcedMode) return forcedMode;
  const raw = (process.env.AIGC_MODE ?? "quick").trim().toLowerCase();
  if (raw !== "quick" && raw !== "full") throw new Error(`AIGC_MODE="${process.env.AIGC_MODE}" is not a mode; use quick or full`);
  return raw;
}

/** Overrides the mode for this kernel (e.g. `setMode("full")` at the top of a notebook). */
export function setMode(m: Mode): void {
  if (m !== "quick" && m !== "full") throw new Error(`setMode: "${m}" is not a mode; use quick or full`);
  forcedMode = m;
}

/** Picks the quick or the full value of a setting: `steps = byMode({ quick: 20, full: 5000 })`. */
export function byMode<T>(values: { quick: T; full: T }): T {
  return values[mode()];
}
