/**
 * Letting Node's event loop turn inside long loops. A loop whose awaits all resolve at once (the wasm and
 * cpu backends' data() does) never gives it a turn, and then nothing that needs one happens while the loop
 * runs: the kernel's SIGINT handler and interrupt_request (so the stop button could not stop training), and
 * its iopub sends (ZeroMQ sends 512 messages synchronously, then waits for the event loop: the live progress
 * froze about two minutes into a long training, and the unsent updates piled up in memory).
 * Used by the training loop (train/train.ts) of every lesson, first in notebooks/00-tour.ipynb.
 */

/** The longest a loop runs without letting the event loop turn. */
export const YIELD_EVERY_MS = 20;

/** Lets the event loop turn once. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A function for a loop to await on every pass: it yields when `everyMs` or more have passed since it last did. */
export function eventLoopTurns(everyMs = YIELD_EVERY_MS): () => Promise<void> {
  let last = Date.now();
  return async () => {
    if (Date.now() - last < everyMs) return;
    await yieldToEventLoop();
    last = Date.now();
  };
}
