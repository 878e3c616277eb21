/**
 * Runs cells with tslab's executor and reports what happened in a form the protocol needs: the value of
 * the last expression, or an error with ename / evalue / traceback. tslab's executor reports failures
 * only by printing them and returning false, so the engine hands it a console of its own and wraps its
 * converter to keep the structured results: the diagnostics, the last-expression variable and the
 * source maps of each cell (kernel/sourcemap.ts) for mapping stack frames back to cell lines.
 */
import * as path from "node:path";
import { format } from "node:util";
import type * as vm from "node:vm";
import { cancelCell, CellScope, installCellTimers, nodeTimers, runInCell } from "./cell-timers";
import { createNotebookConverter, tsHooks, tslabConverter } from "./converter";
import { CellLocation, compileError, interruptError, isInterruptError, JupyterError, runtimeError } from "./errors";
import { mapThrough, SourceMap, splitInlineSourceMap, stripSourceMapComment } from "./sourcemap";
import type { CompletionInfo, ConvertResult, Converter } from "tslab/dist/converter";
import type { ConverterSet, Executor } from "tslab/dist/executor";
import type * as TS from "@tslab/typescript-for-tslab";

const { createExecutor } = require("tslab/dist/executor") as typeof import("tslab/dist/executor");
const { printQuickInfo } = require("tslab/dist/inspect") as typeof import("tslab/dist/inspect");
/** The vm module object itself (not an import namespace copy): the executor calls runInThisContext on it. */
const vmModule = require("node:vm") as { runInThisContext: typeof vm.runInThisContext };

/** What running one cell gave. */
export type CellOutcome = { status: "ok"; result: { value: unknown } | null } | ({ status: "error" } & JupyterError);

/** Options of {@link CellEngine}. */
export interface EngineOptions {
  /** Where imports resolve from (the kernel's working directory, i.e. the notebook's folder). */
  rootDir: string;
  /** Receives text the executor prints that belongs to no result (diagnostics of tslab module cells). */
  stderr: (text: string) => void;
  /** After an interrupt, how long to let the cell's own code wind down before replying. Default 3000 ms. */
  interruptGraceMs?: number;
}

interface CellRecord {
  label: string;
  sourceLines: string[];
  /** CommonJS -> ES module -> cell source (with tslab's one-line prefix). */
  maps: SourceMap[];
  /** Characters the executor's wrapper adds before the code on the first line. */
  prefixLength: number;
}

/** Per-run captures, reset when a cell starts. */
interface Capture {
  convert?: ConvertResult;
  maps?: SourceMap[];
  value?: { value: unknown };
  errors: unknown[];
  /** The cell's own promise (cells with top-level await); settles when its code has really finished. */
  settled?: Promise<void>;
}

/** Kernel frames are hidden from tracebacks: this folder (the built kernel), tslab, Node's vm and internals. */
const KERNEL_DIR = __dirname;

function isInternalFrame(frame: string): boolean {
  return frame.includes("node:vm") || frame.includes("node:internal") || frame.includes(`${path.sep}tslab${path.sep}dist${path.sep}`) || frame.includes(KERNEL_DIR + path.sep);
}

/** tslab's executor, driven one cell at a time. */
export class CellEngine {
  private readonly executor: Executor;
  private readonly node: Converter;
  private browser: Converter | null = null;
  private readonly cells = new Map<string, CellRecord>();
  /** Source maps of the CommonJS texts transpiled since the last convert, keyed by that text. */
  private readonly pendingMaps = new Map<string, SourceMap[]>();
  private capture: Capture = { errors: [] };
  private runs = 0;
  private readonly graceMs: number;

  constructor(private readonly options: EngineOptions) {
    this.graceMs = options.interruptGraceMs ?? 3000;
    installCellTimers();
    tsHooks.transpileModule = (input, opts, original) => this.transpile(input, opts, original);
    this.node = createNotebookConverter({ cwd: options.rootDir, sourceMaps: true });
    const engine = this;
    const node = this.node;
    const wrapped: Converter = {
      ...node,
      convert(prevDecl, src) {
        engine.pendingMaps.clear();
        const result = node.convert(prevDecl, src);
        engine.capture.convert = result;
        engine.capture.maps = result.output !== undefined ? engine.pendingMaps.get(result.output) : undefined;
        engine.pendingMaps.clear();
        return result;
      },
    };
    const convs: ConverterSet = {
      node: wrapped,
      // Browser cells (`//%browser`) are rare: build that converter only when one appears.
      get browser() {
        engine.browser ??= createNotebookConverter({ cwd: options.rootDir, browser: true });
        return engine.browser;
      },
      close: () => {
        node.close();
        engine.browser?.close();
      },
    };
    this.executor = createExecutor(options.rootDir, convs, {
      log: (...args: unknown[]) => {
        // The executor logs exactly one thing: the value of the cell's last expression.
        if (args.length === 1) this.capture.value = { value: args[0] };
        else this.options.stderr(format(...args) + "\n");
      },
      error: (...args: unknown[]) => {
        // One argument: the error that stopped the cell. Several: a formatted diagnostic, which we also
        // have in structured form from the converter (except for tslab's module cells).
        if (args.length === 1) this.capture.errors.push(args[0]);
        else if (!this.capture.convert?.diagnostics.length) this.options.stderr(format(...args) + "\n");
      },
    });
  }

  /** tslab turns each emitted ES module into CommonJS with transpileModule: keep both source maps. */
  private transpile(input: string, opts: TS.TranspileOptions, original: (input: string, opts: TS.TranspileOptions) => TS.TranspileOutput): TS.TranspileOutput {
    if (opts.fileName !== "custom.js") return original(input, opts);
    const { code, map } = splitInlineSourceMap(input);
    if (!map) return original(input, opts);
    const out = original(code, { ...opts, compilerOptions: { ...opts.compilerOptions, sourceMap: true } });
    const outputText = stripSourceMapComment(out.outputText);
    if (out.sourceMapText) this.pendingMaps.set(outputText, [SourceMap.fromJson(out.sourceMapText), map]);
    return { ...out, outputText, sourceMapText: undefined };
  }

  /**
   * Runs one cell. `label` names it in tracebacks (`In[3]`). Never throws: a failure of the kernel's own
   * machinery comes back as an error outcome too.
   */
  async run(code: string, label: string): Promise<CellOutcome> {
    const filename = `aigc-lab-cell-${++this.runs}`;
    const capture: Capture = { errors: [] };
    this.capture = capture;
    const scope = new CellScope(label);
    const restore = this.nameNextScript(filename, code, label, capture, scope);
    let ok: boolean;
    try {
      const running = this.executor.execute(code);
      // The executor compiles and starts the cell synchronously; only its own script gets the name.
      restore();
      ok = await running;
    } catch (e) {
      restore();
      return { status: "error", ename: "KernelError", evalue: `the kernel failed to run ${label}: ${e instanceof Error ? e.message : String(e)}`, traceback: [String(e instanceof Error ? e.stack : e)] };
    }
    if (ok) return { status: "ok", result: this.lastValue(capture) };
    const diagnostics = capture.convert?.diagnostics ?? [];
    if (diagnostics.length > 0) return { status: "error", ...compileError(label, code, diagnostics) };
    const error = capture.errors[capture.errors.length - 1];
    if (capture.errors.length === 0) {
      return { status: "error", ename: "Error", evalue: `${label} failed without an error message`, traceback: [`Error: ${label} failed without an error message`] };
    }
    if (isInterruptError(error)) {
      // The cell's await was cut short, but its code goes on until it next checks the interrupt flag
      // (a training loop does between steps). Give it a moment so it has stopped when we reply.
      if (capture.settled) await Promise.race([capture.settled, new Promise((r) => nodeTimers.setTimeout(r, this.graceMs).unref())]);
      // Whatever still runs of it stops now: its pending timers are cleared, and new ones throw.
      cancelCell(scope);
      return { status: "error", ...interruptError(label, "SIGINT") };
    }
    return { status: "error", ...runtimeError(error, (file, line, column) => this.resolve(file, line, column), isInternalFrame) };
  }

  /**
   * The traceback text of an error thrown outside a cell's run (a late timer, an unhandled rejection),
   * with frames in cells mapped to `In[n]:line:col` as for errors during the cell.
   */
  describeError(e: unknown): string {
    return runtimeError(e, (file, line, column) => this.resolve(file, line, column), isInternalFrame).traceback.join("\n");
  }

  /** Interrupts the running cell's await (tslab's executor.interrupt). */
  interrupt(): void {
    this.executor.interrupt();
  }

  /**
   * Makes the next `vm.runInThisContext` call (the executor running the cell) name its script, so stack
   * frames say which cell they are in, records the cell's source maps under that name, and runs the
   * script in the cell's timer scope (kernel/cell-timers.ts).
   */
  private nameNextScript(filename: string, code: string, label: string, capture: Capture, scope: CellScope): () => void {
    const original = vmModule.runInThisContext;
    let restored = false;
    const restore = () => {
      if (!restored) vmModule.runInThisContext = original;
      restored = true;
    };
    vmModule.runInThisContext = ((source: string, options?: vm.RunningScriptOptions) => {
      restore();
      const output = capture.convert?.output;
      if (capture.maps && output !== undefined) {
        const at = source.indexOf(output);
        this.cells.set(filename, { label, sourceLines: code.split("\n"), maps: capture.maps, prefixLength: Math.max(0, at) });
      }
      const result: unknown = runInCell(scope, () => original(source, { ...(typeof options === "object" ? options : {}), filename }));
      if (result instanceof Promise) capture.settled = result.then(() => undefined, () => undefined);
      return result;
    }) as typeof vm.runInThisContext;
    return restore;
  }

  private resolve(file: string, line: number, column: number): CellLocation | "wrapper" | null {
    const cell = this.cells.get(file);
    if (!cell) return null;
    const generated = { line: line - 1, column: column - 1 - (line === 1 ? cell.prefixLength : 0) };
    const original = mapThrough(generated, cell.maps);
    // Line 0 of the compiled source is tslab's `export {};` prefix; cell line n is source line n.
    if (!original || original.line < 1) return "wrapper";
    return { label: cell.label, line: original.line, column: original.column + 1, sourceLine: cell.sourceLines[original.line - 1] };
  }

  private lastValue(capture: Capture): { value: unknown } | null {
    if (capture.value) return capture.value;
    // The executor logs only non-null values and leaves a null or undefined result in its exports.
    const name = capture.convert?.lastExpressionVar;
    const locals = this.executor.locals;
    if (!name || !Object.prototype.hasOwnProperty.call(locals, name)) return null;
    const value = locals[name];
    delete locals[name];
    return value === null ? { value: null } : null;
  }

  /** Completions at a UTF-16 offset. */
  complete(code: string, offset: number): CompletionInfo {
    return this.executor.complete(code, offset);
  }

  /** Quick info (type and docs) at a UTF-16 offset, as text; null when there is none. */
  inspect(code: string, offset: number): string | null {
    const info = this.executor.inspect(code, offset);
    return info ? printQuickInfo(info) : null;
  }

  /** Whether `code` is a complete cell, and the indent for the next line when it is not. */
  isComplete(code: string): { complete: boolean; indent?: string } {
    const r = tslabConverter.isCompleteCode(code);
    return r.completed ? { complete: true } : { complete: false, indent: r.indent ?? "" };
  }

  /** Closes the compiler's file watchers. */
  close(): void {
    tsHooks.transpileModule = null;
    this.executor.close();
  }
}
