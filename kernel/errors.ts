/**
 * Turns what went wrong in a cell into the ename / evalue / traceback of a Jupyter error: TypeScript
 * diagnostics with the cell's line and column and the offending source line, runtime errors with their
 * stack mapped to cell lines (through a resolver the engine provides) and the kernel's own frames
 * removed.
 */
import { inspect } from "node:util";
import type { Diagnostic } from "tslab/dist/converter";

/** The error fields of an execute_reply and of an iopub `error` message. */
export interface JupyterError {
  ename: string;
  evalue: string;
  traceback: string[];
}

/** Where a generated position of a cell's JavaScript came from. */
export interface CellLocation {
  /** The cell's label, `In[3]`. */
  label: string;
  /** 1-based line and column in the cell's source. */
  line: number;
  column: number;
  /** The cell's source line at `line`, for the excerpt. */
  sourceLine?: string;
}

/**
 * Maps (script filename, 1-based line, 1-based column) to a cell location; null for other scripts,
 * "wrapper" for a position in a cell's script that comes from no cell line.
 */
export type FrameResolver = (file: string, line: number, column: number) => CellLocation | "wrapper" | null;

function excerpt(lineNumber: number, column: number, sourceLine: string | undefined): string[] {
  if (sourceLine === undefined) return [];
  const gutter = String(lineNumber).padStart(5);
  return [`${gutter} | ${sourceLine}`, `${" ".repeat(gutter.length)} | ${" ".repeat(Math.max(0, column - 1))}^`];
}

/** A compile error: one entry per diagnostic, each with its position and the source line under it. */
export function compileError(label: string, source: string, diagnostics: Diagnostic[]): JupyterError {
  const lines = source.split("\n");
  const describe = (d: Diagnostic) => `${d.fileName ? d.fileName : label} line ${d.start.line + 1}, column ${d.start.character + 1}: ${d.messageText} (TS${d.code})`;
  const traceback: string[] = [];
  for (const d of diagnostics) {
    traceback.push(`CompileError: ${describe(d)}`);
    if (!d.fileName) traceback.push(...excerpt(d.start.line + 1, d.start.character + 1, lines[d.start.line]));
  }
  const first = diagnostics[0]!;
  const more = diagnostics.length > 1 ? ` (and ${diagnostics.length - 1} more)` : "";
  return { ename: "CompileError", evalue: `${describe(first)}${more}`, traceback };
}

/** True for the errors tslab and V8 raise when the kernel is interrupted. */
export function isInterruptError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  // tslab's executor rejects the running cell with this message; V8 (breakOnSigint) uses the code.
  return e.message === "Interrupted asynchronously" || (e as NodeJS.ErrnoException).code === "ERR_SCRIPT_EXECUTION_INTERRUPTED";
}

/** The error a cell gets when the user interrupts it. */
export function interruptError(label: string, detail: string): JupyterError {
  const evalue = `${label} was interrupted (${detail})`;
  return { ename: "Interrupted", evalue, traceback: [`Interrupted: ${evalue}`] };
}

const FRAME_LOCATION = /^(.*?)(\(?)([^\s()]+):(\d+):(\d+)(\)?)$/;

/**
 * A runtime error. Stack frames in cells are rewritten to `In[3]:line:column` in cell coordinates;
 * frames of the kernel's machinery (`isInternal`) are dropped; the innermost cell frame's source line
 * is shown under the stack.
 */
export function runtimeError(e: unknown, resolve: FrameResolver, isInternal: (frame: string) => boolean): JupyterError {
  if (!(e instanceof Error)) {
    // `throw "text"` or `throw {code: 1}`: no name, no stack.
    const evalue = inspect(e);
    return { ename: "Error", evalue, traceback: [`Error: ${evalue}`, "(a value that is not an Error was thrown, so there is no stack)"] };
  }
  const ename = e.name || e.constructor?.name || "Error";
  const evalue = e.message;
  const stack = typeof e.stack === "string" ? e.stack.split("\n") : [];
  const frames: string[] = [];
  let innermost: CellLocation | null = null;
  for (const line of stack) {
    if (!/^\s+at /.test(line)) continue;
    if (isInternal(line)) continue;
    const m = FRAME_LOCATION.exec(line);
    const loc = m ? resolve(m[3]!, Number(m[4]), Number(m[5])) : null;
    // A cell position that maps to no cell line is the executor's wrapper around the cell.
    if (loc === "wrapper") continue;
    if (m && loc) {
      innermost ??= loc;
      // Cell functions are called through tslab's exports proxy, which V8 names "Proxy.f".
      frames.push(`${m[1]!.replace(/\bat Proxy\./, "at ")}${m[2]}${loc.label}:${loc.line}:${loc.column}${m[6]}`);
    } else {
      frames.push(line);
    }
  }
  const traceback = [`${ename}: ${evalue}`, ...frames];
  if (innermost) traceback.push(`${innermost.label} line ${innermost.line}:`, ...excerpt(innermost.line, innermost.column, innermost.sourceLine));
  return { ename, evalue, traceback };
}
