/**
 * The pid of the process that started the kernel, read when the kernel's first module loads: main.ts
 * imports this before anything slow, so that a parent dying during start-up is still noticed (the
 * kernel would be re-parented, and its own `process.ppid` would no longer name the starter).
 */
export const STARTED_BY: number = process.ppid;
