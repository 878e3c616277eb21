/**
 * `npm start`: runs every lesson (notebooks/*.ipynb, in order) through this checkout's kernel and writes
 * the reports: `reports/index.html`, one page per lesson and the executed notebook beside it. Quick mode
 * by default; `--full` trains to the lessons' targets; `--only 02` runs the lessons whose file name starts
 * with 02. Exits 1 when a lesson failed (its page still shows where), 2 on a usage error.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Message } from "../kernel/client";
import { repoRoot, specForThisCheckout } from "../kernel/kernelspec";
import { CellReport, Notebook, NotebookReport, readNotebook, runNotebook } from "../kernel/runner";
import { stripAnsi } from "./report/ansi";
import { packageVersion, writeAssets } from "./report/assets";
import { failureHeadline, formatSeconds, LessonSummary, renderIndex, renderLessonPage } from "./report/html";
import { collectMetrics, fingerprint, notebookTitle } from "./report/outputs";
import { KernelRunInfo, queryRunInfo } from "./report/run-info";
import { clock, Terminal } from "./report/terminal";

/** Options of `npm start`. */
export interface StartOptions {
  mode: "quick" | "full";
  /** File-name prefixes; empty: every lesson. */
  only: string[];
  /** Folder of the lessons. Default: the checkout's notebooks/. */
  notebooks?: string;
  /** Folder of the reports. Default: the checkout's reports/. */
  out?: string;
  help: boolean;
}

/** A command line `npm start` cannot follow. */
export class UsageError extends Error {}

export const USAGE = `usage: npm start [-- [--quick | --full] [--only PREFIX]... [--notebooks DIR] [--out DIR]]

  --quick           a few steps per lesson with the shipped checkpoints (the default; AIGC_MODE=quick)
  --full            train every lesson to its target (AIGC_MODE=full); the report shows the times
  --only PREFIX     run only the lessons whose file name starts with PREFIX (repeatable), e.g. --only 02
  --notebooks DIR   lessons folder (default notebooks/)
  --out DIR         reports folder (default reports/)`;

/** Parses `npm start`'s arguments (after `--`). */
export function parseArgs(argv: string[]): StartOptions {
  const opts: StartOptions = { mode: "quick", only: [], help: false };
  let modeFlag: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === "") throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--quick":
      case "--full":
        if (modeFlag && modeFlag !== flag) throw new UsageError("--quick and --full exclude each other");
        modeFlag = flag;
        opts.mode = flag === "--full" ? "full" : "quick";
        break;
      case "--only":
        opts.only.push(value());
        break;
      case "--notebooks":
        opts.notebooks = value();
        break;
      case "--out":
        opts.out = value();
        break;
      case "-h":
      case "--help":
        opts.help = true;
        break;
      default:
        throw new UsageError(`unknown argument "${arg}"`);
    }
  }
  return opts;
}

function git(root: string, args: string[]): string | null {
  try {
    return execFileSync("git", args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return null;
  }
}

/** The checkout's commit, marked when the working tree has changes the commit lacks. */
function gitCommit(root: string): string {
  const head = git(root, ["rev-parse", "--short=12", "HEAD"]);
  if (!head) return "unknown (not a git checkout)";
  const dirty = git(root, ["status", "--porcelain", "--untracked-files=no"]);
  return dirty ? `${head} + uncommitted changes` : head;
}

const SUMMARIES = "runs.json";

function loadSummaries(outDir: string): Record<string, LessonSummary> {
  try {
    return JSON.parse(fs.readFileSync(path.join(outDir, SUMMARIES), "utf8")).lessons ?? {};
  } catch {
    return {};
  }
}

/** The file's text, or null if there is none. */
function readIfExists(file: string): string | null {
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : null;
}

function writeAtomic(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, file);
}

interface LessonContext {
  file: string;
  notebooksDir: string;
  outDir: string;
  mode: "quick" | "full";
  commit: string;
  term: Terminal;
  prev?: string;
  next?: string;
}

const PROGRESS_LOG_EVERY_MS = 10_000;
const STATUS_EVERY_MS = 250;

/** Runs one lesson, writes its page and executed notebook, and returns its summary. */
async function runLesson(ctx: LessonContext): Promise<LessonSummary> {
  const { term } = ctx;
  const name = ctx.file.replace(/\.ipynb$/, "");
  const source = path.join(ctx.notebooksDir, ctx.file);
  const ipynb = `${name}.ipynb`;
  const executedPath = path.join(ctx.outDir, ipynb);
  const date = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const started = Date.now();

  // 1) live progress: the running cell, its elapsed time and the lesson's own progress lines.
  let current: { codeCell: number; codeCells: number; firstLine: string; t0: number } | null = null;
  const progress = new Map<string, { text: string; cell: number; logged: boolean }>();
  let latestProgress = "";
  let lastStatus = 0;
  let lastProgressLog = Date.now();
  const drawStatus = () => {
    if (!current) return;
    const what = latestProgress || current.firstLine;
    term.status(`  cell ${current.codeCell}/${current.codeCells}  ${clock((Date.now() - current.t0) / 1000)}  ${what}`);
  };
  const ticker = setInterval(drawStatus, 1000);
  const kernelOutput: string[] = [];

  const onIopub = (cell: number, msg: Message) => {
    if (msg.header.msg_type !== "update_display_data") return;
    const id = msg.content.transient?.display_id;
    const plain = msg.content.data?.["text/plain"];
    // kernel-lib's Progress updates its output in place with a text line; a redrawn chart says "[Vega-Lite chart: ...]".
    if (typeof id !== "string" || typeof plain !== "string" || /^\[.*\]$/s.test(plain.trim())) return;
    const text = plain.split("\n")[0]!;
    progress.set(id, { text, cell, logged: false });
    latestProgress = text;
    const now = Date.now();
    if (now - lastStatus >= STATUS_EVERY_MS) {
      lastStatus = now;
      drawStatus();
    }
    if (!term.tty && now - lastProgressLog >= PROGRESS_LOG_EVERY_MS) {
      lastProgressLog = now;
      progress.get(id)!.logged = true;
      const at = current ? `[cell ${current.codeCell}/${current.codeCells} ${clock((now - current.t0) / 1000)}] ` : "";
      term.log(`      ${at}${text}`);
    }
  };
  const onCellStart = (_cell: number, codeCell: number, codeCells: number, firstLine: string) => {
    current = { codeCell, codeCells, firstLine, t0: Date.now() };
    latestProgress = "";
    lastProgressLog = current.t0;
    drawStatus();
  };
  const onCellEnd = (r: CellReport) => {
    const n = current?.codeCells ?? r.codeCell;
    current = null;
    term.endStatus();
    const status = r.status === "ok" ? "ok    " : r.status === "timeout" ? "TIMEOUT" : "FAILED";
    term.log(`  cell ${String(r.codeCell).padStart(2)}/${n}  ${status} ${formatSeconds(r.seconds).padStart(8)}  ${r.firstLine}`);
    // The final state of each progress display this cell updated ("... done in 0:12").
    for (const p of progress.values()) {
      if (p.cell === r.cell && !(p.logged && !term.tty)) term.log(`      ${p.text}`);
      if (p.cell === r.cell) p.logged = true;
    }
    if (r.status !== "ok" && r.error) {
      const lines = stripAnsi(r.error).split("\n").filter((l) => l.trim());
      for (const l of lines.slice(0, 8)) term.log(`      ${l}`);
      if (lines.length > 8) term.log(`      ... (${lines.length - 8} more lines on the lesson's page)`);
    }
  };

  // 2) the run itself; a kernel that cannot start still leaves a page saying why.
  let report: NotebookReport | undefined;
  let runInfo: KernelRunInfo | null = null;
  let fatal: string | undefined;
  let nb: Notebook;
  try {
    report = await runNotebook({
      notebook: source,
      outPath: executedPath,
      spec: specForThisCheckout(),
      env: { AIGC_MODE: ctx.mode },
      onCellStart,
      onCellEnd,
      onIopub,
      onKernelOutput: (t) => {
        kernelOutput.push(t);
        if (kernelOutput.length > 200) kernelOutput.shift();
      },
      afterCells: async (kernel) => {
        try {
          runInfo = await queryRunInfo(kernel);
        } catch {
          runInfo = null;
        }
      },
    });
    nb = readNotebook(executedPath);
  } catch (e) {
    const tail = kernelOutput.join("").slice(-4000).trim();
    fatal = `The lesson could not run: ${(e as Error).message}${tail ? `\n\nKernel output:\n${tail}` : ""}`;
    try {
      nb = readNotebook(source);
    } catch {
      nb = { cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 };
    }
    fs.writeFileSync(executedPath, JSON.stringify(nb, null, 1) + "\n");
  } finally {
    clearInterval(ticker);
    term.endStatus();
  }

  // 3) the summary and the page.
  const info = runInfo as KernelRunInfo | null;
  const failed = report?.failed;
  const summary: LessonSummary = {
    name,
    title: notebookTitle(nb, name),
    status: report?.ok && !fatal ? "ok" : "failed",
    ...(failed ? { failedCell: { cell: failed.cell, codeCell: failed.codeCell }, error: failureHeadline(failed.error ?? failed.status) } : {}),
    ...(fatal ? { error: failureHeadline(fatal) } : {}),
    seconds: report?.seconds ?? (Date.now() - started) / 1000,
    mode: info?.mode ?? ctx.mode,
    date,
    commit: ctx.commit,
    seed: info?.seed ?? null,
    backend: info?.backend ?? null,
    metrics: collectMetrics(nb),
    digest: fingerprint(nb).digest,
    versions: {
      node: process.versions.node,
      "@tensorflow/tfjs": info?.versions.tfjs ?? packageVersion("@tensorflow/tfjs"),
      "kernel-lib": info?.versions["kernel-lib"] ?? packageVersion("kernel-lib"),
      tslab: packageVersion("tslab"),
      vega: packageVersion("vega"),
      "vega-lite": packageVersion("vega-lite"),
      "vega-embed": packageVersion("vega-embed"),
      katex: packageVersion("katex"),
    },
    cells: (report?.cells ?? []).map(({ cell, codeCell, status, seconds, firstLine }) => ({ cell, codeCell, status, seconds, firstLine })),
  };
  const html = renderLessonPage({ summary, notebook: nb, report, fatal, ipynb, prev: ctx.prev, next: ctx.next });
  writeAtomic(path.join(ctx.outDir, `${name}.html`), html);
  return summary;
}

/** Runs `npm start` with the given arguments; resolves to the process exit code. */
export async function start(argv: string[], out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number } = process.stdout): Promise<number> {
  const term = new Terminal(out);
  let opts: StartOptions;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`npm start: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    term.log(USAGE);
    return 0;
  }
  const root = repoRoot();
  const notebooksDir = path.resolve(opts.notebooks ?? path.join(root, "notebooks"));
  const outDir = path.resolve(opts.out ?? path.join(root, "reports"));
  let lessons: string[];
  try {
    lessons = fs
      .readdirSync(notebooksDir)
      .filter((f) => f.endsWith(".ipynb"))
      .sort();
  } catch (e) {
    console.error(`npm start: cannot read the lessons folder ${notebooksDir}: ${(e as Error).message}`);
    return 2;
  }
  const selected = opts.only.length ? lessons.filter((f) => opts.only.some((p) => f.startsWith(p))) : lessons;
  if (selected.length === 0) {
    console.error(`npm start: no lesson in ${notebooksDir} matches ${opts.only.length ? opts.only.map((p) => `"${p}"`).join(", ") : "*.ipynb"}; lessons: ${lessons.join(", ") || "none"}`);
    return 2;
  }
  fs.mkdirSync(outDir, { recursive: true });
  writeAssets(outDir);
  const summaries = loadSummaries(outDir);
  const commit = gitCommit(root);
  const names = lessons.map((f) => f.replace(/\.ipynb$/, ""));
  const writeIndex = () => {
    writeAtomic(path.join(outDir, SUMMARIES), JSON.stringify({ lessons: summaries }, null, 1) + "\n");
    const index = renderIndex({ lessons: names.map((n) => ({ name: n, summary: summaries[n] ?? null })), generated: new Date().toISOString().replace(/\.\d+Z$/, "Z"), commit, imageScoresMarkdown: readIfExists(path.join(notebooksDir, "checkpoints", "image-scores.md")) });
    writeAtomic(path.join(outDir, "index.html"), index);
  };

  let interrupted = false;
  const onSigint = () => {
    // The kernel shares our process group, so it got the interrupt too and its cell stops; finish that page.
    if (interrupted) process.exit(130);
    interrupted = true;
    term.log("Interrupted: writing this lesson's page, then stopping (Ctrl-C again to quit at once).");
  };
  process.on("SIGINT", onSigint);
  const relOut = path.relative(process.cwd(), outDir) || ".";
  term.log(`aigc-lab: ${selected.length} lesson${selected.length === 1 ? "" : "s"} in ${opts.mode} mode (AIGC_MODE=${opts.mode}), reports in ${relOut}/`);
  const t0 = Date.now();
  const done: LessonSummary[] = [];
  try {
    for (let i = 0; i < selected.length && !interrupted; i++) {
      const file = selected[i]!;
      const k = names.indexOf(file.replace(/\.ipynb$/, ""));
      term.log(`[${i + 1}/${selected.length}] ${file}`);
      const summary = await runLesson({ file, notebooksDir, outDir, mode: opts.mode, commit, term, prev: names[k - 1], next: names[k + 1] });
      summaries[summary.name] = summary;
      done.push(summary);
      writeIndex();
      const verdict = summary.status === "ok" ? "ok" : `FAILED${summary.failedCell ? ` at code cell ${summary.failedCell.codeCell}` : ""}`;
      term.log(`  ${verdict} in ${formatSeconds(summary.seconds)} -> ${path.join(relOut, summary.name + ".html")}`);
    }
  } finally {
    process.off("SIGINT", onSigint);
  }

  const failed = done.filter((s) => s.status === "failed");
  term.log("");
  for (const s of done) {
    const metrics = s.metrics.map((m) => `${m.name} ${typeof m.value === "number" ? Number(m.value.toPrecision(4)) : m.value}`).join(", ");
    term.log(`  ${s.name.padEnd(24)} ${(s.status === "ok" ? "ok" : "FAILED").padEnd(7)} ${formatSeconds(s.seconds).padStart(8)}  ${metrics}`);
  }
  term.log(`${done.length} lesson${done.length === 1 ? "" : "s"} in ${formatSeconds((Date.now() - t0) / 1000)} (${opts.mode} mode); ${failed.length ? `${failed.length} FAILED` : "all ok"}. Open ${path.join(relOut, "index.html")}`);
  if (interrupted) return 130;
  return failed.length ? 1 : 0;
}

if (require.main === module) {
  start(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
