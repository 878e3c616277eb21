/**
 * Executes a notebook through a real kernel, cell by cell, like nbclient: collects streams, displays
 * (updated in place by display id), results and errors; stops at the first failing cell; enforces a
 * per-cell timeout; always shuts the kernel down; writes the executed notebook.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { KernelClient, KernelTimeoutError, Message, Output, OutputCollector } from "./client";
import { kernelSpecForRun, KernelSpec } from "./kernelspec";

export interface NotebookCell {
  cell_type: "code" | "markdown" | "raw";
  source: string | string[];
  metadata: Record<string, unknown>;
  outputs?: Output[];
  execution_count?: number | null;
  id?: string;
}

export interface Notebook {
  cells: NotebookCell[];
  metadata: Record<string, any>;
  nbformat: number;
  nbformat_minor: number;
}

export type CellStatus = "ok" | "error" | "timeout" | "not run";

export interface CellReport {
  /** 1-based position among all cells of the notebook. */
  cell: number;
  /** 1-based position among the code cells. */
  codeCell: number;
  status: CellStatus;
  seconds: number;
  /** The error text (ename: evalue and traceback) for a failed cell. */
  error?: string;
  /** The first line of the cell's source, to recognise it. */
  firstLine: string;
}

export interface NotebookReport {
  notebook: string;
  ok: boolean;
  cells: CellReport[];
  failed?: CellReport;
  seconds: number;
  /** Where the executed notebook was written. */
  executedPath?: string;
  kernelName: string;
}

export interface RunOptions {
  /** Path of the .ipynb to run. */
  notebook: string;
  /** Where to write the executed notebook. Default: not written. */
  outPath?: string;
  /** Kernelspec to use. Default: the one the notebook's metadata names, found on Jupyter's path. */
  spec?: KernelSpec;
  /** Extra environment for the kernel (e.g. AIGC_MODE). */
  env?: Record<string, string>;
  /**
   * Per-cell timeout in milliseconds. Default: AIGC_CELL_TIMEOUT seconds, else 900 s in quick mode and
   * 4 hours in full mode (AIGC_MODE=full in `env` or this process's environment), where one cell trains a
   * model to its target.
   */
  cellTimeoutMs?: number;
  /** Progress callbacks. */
  onCellStart?: (cell: number, codeCell: number, codeCells: number, firstLine: string) => void;
  onCellEnd?: (report: CellReport) => void;
  /** Runs in the same kernel after each code cell that succeeded, before the next one (e.g. to count live tensors after the setup cell). */
  afterCell?: (kernel: KernelClient, report: CellReport) => Promise<void>;
  onIopub?: (cell: number, msg: Message) => void;
  onKernelOutput?: (text: string) => void;
  /** Runs after the last cell, before the kernel shuts down (e.g. to execute extra checks in the same kernel). */
  beforeShutdown?: (kernel: KernelClient, nb: Notebook) => Promise<void>;
  /** Runs after the cells whether or not one failed, before beforeShutdown (the report asks the kernel for seed and backend). */
  afterCells?: (kernel: KernelClient) => Promise<void>;
  /** Replaces a code cell's source before it runs (e.g. an exercise by its reference solution). */
  transformSource?: (cell: NotebookCell, source: string) => string;
}

export function cellSource(cell: NotebookCell): string {
  return Array.isArray(cell.source) ? cell.source.join("") : cell.source;
}

/** Reads and minimally validates a notebook file. */
export function readNotebook(file: string): Notebook {
  let nb: Notebook;
  try {
    nb = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file}: not a readable notebook (${(e as Error).message})`);
  }
  if (!Array.isArray(nb.cells) || nb.nbformat !== 4) throw new Error(`${file}: not an nbformat 4 notebook`);
  return nb;
}

/** Splits text into nbformat's list-of-lines form. */
export function toLines(text: string): string[] {
  const lines = text.split(/(?<=\n)/);
  return lines.length === 1 && lines[0] === "" ? [] : lines;
}

function errorText(outputs: Output[], status: string): string {
  const errors = outputs.filter((o): o is Extract<Output, { output_type: "error" }> => o.output_type === "error");
  if (errors.length) {
    return errors.map((e) => [`${e.ename}: ${e.evalue}`, ...e.traceback.filter((t) => !t.startsWith(`${e.ename}: ${e.evalue}`))].join("\n")).join("\n");
  }
  // A kernel that sends no error message (plain tslab) writes the details to stderr.
  const stderr = outputs
    .filter((o): o is Extract<Output, { output_type: "stream" }> => o.output_type === "stream" && o.name === "stderr")
    .map((o) => o.text)
    .join("");
  return stderr.trim() || `execute_reply status "${status}" with no error details`;
}

function firstLineOf(src: string): string {
  const line = src.split("\n").find((l) => l.trim() !== "") ?? "";
  return line.length > 72 ? line.slice(0, 69) + "..." : line;
}

/** The per-cell timeout when none is given: see {@link RunOptions.cellTimeoutMs}. */
export function defaultCellTimeoutMs(env: Record<string, string | undefined> = {}, processEnv: NodeJS.ProcessEnv = process.env): number {
  const fromEnv = env["AIGC_CELL_TIMEOUT"] ?? processEnv["AIGC_CELL_TIMEOUT"];
  if (fromEnv !== undefined && fromEnv !== "") {
    const seconds = Number(fromEnv);
    if (!(seconds > 0)) throw new RangeError(`AIGC_CELL_TIMEOUT must be a positive number of seconds, got ${JSON.stringify(fromEnv)}`);
    return seconds * 1000;
  }
  const mode = env["AIGC_MODE"] ?? processEnv["AIGC_MODE"];
  return (mode === "full" ? 4 * 3600 : 900) * 1000;
}

/** Runs every code cell of a notebook in order; see the module comment. */
export async function runNotebook(options: RunOptions): Promise<NotebookReport> {
  const file = path.resolve(options.notebook);
  const nb = readNotebook(file);
  const kernelName: string = nb.metadata?.kernelspec?.name ?? "aigc-lab";
  const spec = options.spec ?? kernelSpecForRun(kernelName);
  const timeoutMs = options.cellTimeoutMs ?? defaultCellTimeoutMs(options.env);
  const codeCells = nb.cells.filter((c) => c.cell_type === "code").length;
  const started = Date.now();
  const reports: CellReport[] = [];
  for (const cell of nb.cells) {
    if (cell.cell_type === "code") {
      cell.outputs = [];
      cell.execution_count = null;
    }
  }
  const kernel = await KernelClient.start({ spec, cwd: path.dirname(file), env: options.env, onProcessOutput: options.onKernelOutput });
  let failed: CellReport | undefined;
  try {
    let codeIndex = 0;
    for (let i = 0; i < nb.cells.length; i++) {
      const cell = nb.cells[i]!;
      if (cell.cell_type !== "code") continue;
      codeIndex++;
      const src = options.transformSource ? options.transformSource(cell, cellSource(cell)) : cellSource(cell);
      const first = firstLineOf(src);
      if (failed) {
        reports.push({ cell: i + 1, codeCell: codeIndex, status: "not run", seconds: 0, firstLine: first });
        continue;
      }
      options.onCellStart?.(i + 1, codeIndex, codeCells, first);
      const t0 = Date.now();
      const collector = new OutputCollector(kernel.displays);
      let report: CellReport;
      try {
        const result = await kernel.execute(src, { timeoutMs, collector, onIopub: (m) => options.onIopub?.(i + 1, m) });
        cell.execution_count = result.executionCount;
        const seconds = (Date.now() - t0) / 1000;
        report =
          result.status === "ok"
            ? { cell: i + 1, codeCell: codeIndex, status: "ok", seconds, firstLine: first }
            : { cell: i + 1, codeCell: codeIndex, status: "error", seconds, firstLine: first, error: errorText(collector.outputs, result.status) };
      } catch (e) {
        const seconds = (Date.now() - t0) / 1000;
        const timedOut = e instanceof KernelTimeoutError;
        report = { cell: i + 1, codeCell: codeIndex, status: timedOut ? "timeout" : "error", seconds, firstLine: first, error: (e as Error).message };
        if (timedOut) {
          collector.outputs.push({ output_type: "error", ename: "CellTimeout", evalue: report.error!, traceback: [`CellTimeout: ${report.error}`] });
        }
      }
      cell.outputs = collector.outputs;
      cell.metadata = { ...cell.metadata, execution: { seconds: Number(report.seconds.toFixed(3)) } };
      reports.push(report);
      options.onCellEnd?.(report);
      if (report.status !== "ok") failed = report;
      else await options.afterCell?.(kernel, report);
    }
    await options.afterCells?.(kernel);
    if (!failed && options.beforeShutdown) await options.beforeShutdown(kernel, nb);
  } finally {
    await kernel.shutdown();
  }
  const report: NotebookReport = { notebook: file, ok: !failed, cells: reports, failed, seconds: (Date.now() - started) / 1000, kernelName };
  if (options.outPath) {
    fs.mkdirSync(path.dirname(options.outPath), { recursive: true });
    const tmp = `${options.outPath}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(nb, null, 1) + "\n");
    fs.renameSync(tmp, options.outPath);
    report.executedPath = options.outPath;
  }
  return report;
}

/** One line naming the notebook, the cell and the error, for test failures and the terminal. */
export function describeFailure(report: NotebookReport): string {
  const f = report.failed;
  if (!f) return `${path.basename(report.notebook)}: ok`;
  return `${path.basename(report.notebook)}: cell ${f.cell} (code cell ${f.codeCell}: ${f.firstLine}) ${f.status === "timeout" ? "timed out" : "failed"}:\n${f.error}`;
}

/** The exercise id of a cell (`metadata.aigc.exercise`), if it is an exercise. */
export function exerciseId(cell: NotebookCell): string | undefined {
  const aigc = cell.metadata?.["aigc"] as { exercise?: unknown } | undefined;
  return typeof aigc?.exercise === "string" ? aigc.exercise : undefined;
}

/**
 * A transform that swaps every exercise cell for its reference solution in
 * notebooks/solutions/<notebook name>/<exercise id>.ts; throws if a solution is missing.
 */
export function solutionsTransform(notebookPath: string): (cell: NotebookCell, source: string) => string {
  const dir = path.join(path.dirname(notebookPath), "solutions", path.basename(notebookPath, ".ipynb"));
  return (cell, source) => {
    const id = exerciseId(cell);
    if (!id) return source;
    const file = path.join(dir, `${id}.ts`);
    if (!fs.existsSync(file)) throw new Error(`exercise "${id}" has no reference solution at ${file}`);
    return fs.readFileSync(file, "utf8");
  };
}
