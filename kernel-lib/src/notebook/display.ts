/**
 * Sending outputs to the notebook: display bundles (and updates in place by display id) through the aigc-lab
 * kernel's hooks or plain tslab, Markdown, and the interrupt flag the kernel raises. Outside a kernel
 * (scripts, unit tests) everything falls back to text on the console. Charts, image grids and progress
 * build on it (charts.ts, images.ts, progress.ts). Taught in notebooks/00-tour.ipynb.
 */

/** The content of a display_data or update_display_data message. */
export interface DisplayContent {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  transient?: { display_id?: string };
}

/**
 * What the aigc-lab kernel installs on `globalThis[Symbol.for("aigc-lab.kernel")]` while it runs a cell:
 * a way to send display messages, and the interrupt flag a training loop polls between steps.
 */
export interface KernelHooks {
  display(content: DisplayContent, update: boolean): void;
  /** Set by the kernel when the user interrupts; reset when the next cell starts. */
  interruptRequested: boolean;
}

export const KERNEL_HOOKS = Symbol.for("aigc-lab.kernel");

/** The hooks of the aigc-lab kernel, when this code runs inside it. */
export function kernelHooks(): KernelHooks | undefined {
  return (globalThis as Record<symbol, KernelHooks | undefined>)[KERNEL_HOOKS];
}

type TslabWrite = (content: DisplayContent, update: boolean) => void;

function tslabWriter(): TslabWrite | undefined {
  // Plain tslab exposes the current cell's display writer as a module variable.
  try {
    const jupyter = require("tslab/dist/jupyter") as { lastWriteDisplayData?: TslabWrite | null };
    // tslab sets it to null outside a kernel (a script, a test): that is "no writer", not a writer.
    return jupyter.lastWriteDisplayData ?? undefined;
  } catch {
    return undefined;
  }
}

/** True when a Jupyter kernel (ours or plain tslab) will receive display messages. */
export function inKernel(): boolean {
  return kernelHooks() !== undefined || tslabWriter() !== undefined;
}

/** True when the user interrupted the kernel since the current cell started. */
export function interruptRequested(): boolean {
  return kernelHooks()?.interruptRequested ?? false;
}

/** Sends one display bundle (or updates the output with the same display id). Outside a kernel, prints its text/plain. */
export function sendDisplay(content: DisplayContent, update = false): void {
  const hooks = kernelHooks();
  if (hooks) return hooks.display(content, update);
  const write = tslabWriter();
  if (write) return write(content, update);
  const text = content.data["text/plain"];
  if (typeof text === "string") console.log(text);
}

let displayCounter = 0;

/** A fresh display id for outputs that will be updated in place. */
export function newDisplayId(prefix = "aigc"): string {
  displayCounter += 1;
  return `${prefix}-${process.pid}-${displayCounter}`;
}

/** Shows Markdown (rendered by the front end), with the same text as text/plain. */
export function showMarkdown(markdown: string): void {
  sendDisplay({ data: { "text/markdown": markdown, "text/plain": markdown }, metadata: {} });
}
