/**
 * Who started the kernel, read when the kernel's first module loads: main.ts imports this before anything
 * slow, so that a starter dying during start-up is still noticed. `process.ppid` names the parent (the
 * kernel would be re-parented, and its own ppid would no longer name the starter); our runner also passes
 * its pid in AIGC_KERNEL_RUNNER_PID, which catches a runner killed before the kernel's first line ran
 * (then the ppid read here is already 1, which otherwise means "started detached on purpose").
 */
export const STARTED_BY: number = process.ppid;

const runner = Number(process.env["AIGC_KERNEL_RUNNER_PID"]);
/** The pid of the runner (kernel/client.ts) that started this kernel, when one did. */
export const RUNNER_PID: number | undefined = Number.isInteger(runner) && runner > 1 ? runner : undefined;
// Not for processes the cells start: they have their own runner, or none.
delete process.env["AIGC_KERNEL_RUNNER_PID"];

/** True while `pid` runs (EPERM: it runs under another user). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** True when whatever started the kernel is gone: its parent (`parent`) changed, or its runner died. */
export function starterGone(parent: number = STARTED_BY): boolean {
  if (RUNNER_PID !== undefined && !isRunning(RUNNER_PID)) return true;
  return parent !== 1 && process.ppid !== parent;
}
