/**
 * The aigc-lab kernel's Jupyter server: binds the five sockets, wires the parts together (wire.ts,
 * dispatch.ts, execution.ts, iopub.ts, around tslab's executor in engine.ts) and owns the process:
 * stdout/stderr redirection, signals, late errors, process.exit, orphan watch and shutdown.
 */
import { randomUUID } from "node:crypto";
import * as zmq from "zeromq";
import { CellInterruptedError } from "./cell-timers";
import { Comms } from "./comms";
import { Dispatcher, kernelInfo } from "./dispatch";
import { CellEngine } from "./engine";
import { Execution } from "./execution";
import { DisplayContent, Iopub } from "./iopub";
import { RUNNER_PID, starterGone } from "./parent";
import { ConnectionInfo, Incoming, SendQueue, Wire } from "./wire";

export { codePointsToUtf16, utf16ToCodePoints } from "./dispatch";
export { readConnectionFile } from "./wire";
export type { ConnectionInfo } from "./wire";

/** What the kernel installs for kernel-lib (see kernel-lib/src/notebook/display.ts, KernelHooks). */
const KERNEL_HOOKS = Symbol.for("aigc-lab.kernel");

/** What process.exit() throws in a cell while the kernel flushes its output and exits. */
export class ProcessExitError extends Error {
  constructor(readonly code: number) {
    super(`process.exit(${code}) was called: the kernel exits once the output so far is sent`);
    this.name = "ProcessExit";
  }
}

/** Options of {@link KernelServer}. */
export interface ServerOptions {
  connection: ConnectionInfo;
  /** Where cells resolve imports from. Default: the working directory. */
  rootDir?: string;
  /** Called once the server has shut down; default exits the process. */
  onExit?: (code: number) => void;
  /**
   * The pid of the process that started the kernel, read as early as possible (main.ts). When the
   * kernel's parent changes from it, the starter died: the kernel shuts down. Default: no watch.
   */
  parentPid?: number;
}

/** A running kernel. */
export class KernelServer {
  private readonly kernelId = randomUUID();
  private readonly wire: Wire;
  private readonly shell = new zmq.Router();
  private readonly control = new zmq.Router();
  private readonly stdin = new zmq.Router();
  private readonly iopubSocket = new zmq.Publisher();
  private readonly hb = new zmq.Reply();
  private readonly sends: Map<string, SendQueue>;
  private readonly engine: CellEngine;
  private readonly rootDir: string;
  private readonly iopub: Iopub;
  private readonly execution: Execution;
  private readonly dispatcher: Dispatcher;
  private readonly comms: Comms;
  private closing = false;
  private readonly originalWrite = { stdout: process.stdout.write.bind(process.stdout), stderr: process.stderr.write.bind(process.stderr) };
  private readonly onExit: (code: number) => void;
  private readonly realExit: (code: number) => never = process.exit.bind(process);

  constructor(private readonly options: ServerOptions) {
    const log = (t: string) => this.log(t);
    this.wire = new Wire(options.connection, log);
    this.rootDir = options.rootDir ?? process.cwd();
    this.onExit = options.onExit ?? ((code) => this.realExit(code));
    this.sends = new Map<string, SendQueue>([
      ["shell", new SendQueue(this.shell, log)],
      ["control", new SendQueue(this.control, log)],
      ["iopub", new SendQueue(this.iopubSocket, log)],
      ["hb", new SendQueue(this.hb, log)],
    ]);
    this.iopub = new Iopub(this.wire, this.sends.get("iopub")!, this.kernelId, this.originalWrite, () => this.closing);
    this.comms = new Comms(this.iopub, log);
    this.engine = new CellEngine({ rootDir: this.rootDir, stderr: (text) => this.iopub.writeStream("stderr", text) });
    const reply = (req: Incoming, msgType: string, content: Record<string, unknown>, metadata: Record<string, unknown> = {}) => {
      // Once shutting down, the sockets are flushed and closing: later replies have nowhere to go.
      if (!this.closing) void this.sends.get(req.socket)!.send(this.wire.frames(req.identities, msgType, content, req.header, metadata));
    };
    this.dispatcher = new Dispatcher({
      wire: this.wire,
      engine: this.engine,
      iopub: this.iopub,
      execute: (msg) => this.execution.execute(msg),
      reply,
      interrupt: () => this.interrupt(),
      shutdown: (code) => this.shutdown(code),
      log,
      closing: () => this.closing,
      comms: this.comms,
    });
    this.execution = new Execution({ engine: this.engine, iopub: this.iopub, rootDir: this.rootDir, reply, abortQueued: () => this.dispatcher.abortQueuedExecutes(), comms: this.comms.hooks });
  }

  /** Writes to the kernel process's own stderr (Jupyter's log), not to a cell. */
  private log(text: string): void {
    this.originalWrite.stderr(text);
  }

  /** Binds the sockets and starts serving. */
  async start(): Promise<void> {
    const c = this.options.connection;
    const url = (port: number) => `${c.transport}://${c.ip}:${port}`;
    await Promise.all([
      this.shell.bind(url(c.shell_port)),
      this.control.bind(url(c.control_port)),
      this.stdin.bind(url(c.stdin_port)),
      this.iopubSocket.bind(url(c.iopub_port)),
      this.hb.bind(url(c.hb_port)),
    ]);
    this.installProcessHooks();
    void this.dispatcher.receive(this.shell, "shell");
    void this.dispatcher.receive(this.control, "control");
    void this.heartbeat();
    void this.dispatcher.processShell();
    this.iopub.publish("status", { execution_state: "starting" }, null);
  }

  private installProcessHooks(): void {
    (globalThis as Record<symbol, unknown>)[KERNEL_HOOKS] = this.execution.hooks;
    // Plain tslab's display API (require("tslab").display, newDisplay) writes through this variable.
    const tslabJupyter = require("tslab/dist/jupyter") as { lastWriteDisplayData: unknown };
    tslabJupyter.lastWriteDisplayData = (content: DisplayContent, update: boolean) => this.iopub.display(content, update);
    const redirect = (name: "stdout" | "stderr") =>
      ((chunk: string | Uint8Array, encoding?: BufferEncoding | ((err?: Error | null) => void), cb?: (err?: Error | null) => void): boolean => {
        // `encoding` describes a string chunk; Node writes strings as UTF-8 unless told otherwise.
        const text = typeof chunk === "string" ? Buffer.from(chunk, typeof encoding === "string" ? encoding : "utf8").toString("utf8") : Buffer.from(chunk).toString("utf8");
        this.iopub.writeStream(name, text);
        const callback = typeof encoding === "function" ? encoding : cb;
        callback?.();
        return true;
      }) as typeof process.stdout.write;
    process.stdout.write = redirect("stdout");
    process.stderr.write = redirect("stderr");
    process.on("SIGINT", () => this.interrupt());
    process.on("SIGTERM", () => void this.shutdown(0));
    // A callback that throws later (a timer, an event) must not take the kernel down with it. Its frames
    // in cells are mapped to In[n]:line:col, as for errors during the cell.
    process.on("uncaughtException", (e) => this.lateError("Uncaught exception", e));
    process.on("unhandledRejection", (e) => this.lateError("Unhandled promise rejection", e));
    this.interceptExit();
    // When whatever started the kernel dies without shutting it down, the kernel is re-parented (or its
    // runner is gone): exit then instead of running on as an orphan.
    const parent = this.options.parentPid;
    // A parent of 1 and no runner means the kernel was started detached on purpose: nothing to watch.
    if (parent !== undefined && (parent !== 1 || RUNNER_PID !== undefined)) {
      const check = () => {
        if (starterGone(parent)) void this.shutdown(0);
      };
      check();
      setInterval(check, 1000).unref();
    }
  }

  private lateError(what: string, e: unknown): void {
    // An interrupted cell's code that asked for a timer, or a cell's process.exit(): expected, not news.
    if (e instanceof CellInterruptedError || e instanceof ProcessExitError) {
      this.log(`aigc-lab kernel: ${what.toLowerCase()} after ${e.message}\n`);
      return;
    }
    let text: string;
    try {
      text = this.engine.describeError(e);
    } catch {
      text = e instanceof Error ? String(e.stack) : String(e);
    }
    this.iopub.writeStream("stderr", `${what}: ${text}\n`);
  }

  /**
   * process.exit() in a cell would end the process before the cell's buffered output is sent: the kernel
   * shuts down instead (flushing iopub) and exits with the code once that is done. The call throws
   * {@link ProcessExitError} meanwhile, so the rest of the cell does not run.
   */
  private interceptExit(): void {
    const exit = this.realExit;
    process.exit = ((code?: number | string | null) => {
      const n = Number(code ?? process.exitCode ?? 0);
      const status = Number.isInteger(n) ? n : 1;
      if (this.closing) exit(status);
      void this.shutdown(status);
      throw new ProcessExitError(status);
    }) as typeof process.exit;
  }

  private async heartbeat(): Promise<void> {
    try {
      for await (const frames of this.hb) await this.sends.get("hb")!.send(frames as Buffer[]);
    } catch (e) {
      if (!this.closing) this.log(`aigc-lab kernel: heartbeat socket failed: ${String(e)}\n`);
    }
  }

  /** kernel_info_reply content. */
  kernelInfo(): Record<string, unknown> {
    return kernelInfo();
  }

  /** SIGINT or interrupt_request: see {@link Execution.interrupt}. */
  interrupt(): void {
    this.execution.interrupt();
  }

  /** Stops serving: closes the compiler, flushes pending messages, closes the sockets, exits. */
  async shutdown(code: number): Promise<void> {
    if (this.closing) return;
    this.iopub.flushStream();
    this.closing = true;
    this.dispatcher.stop();
    try {
      this.engine.close();
    } catch (e) {
      this.log(`aigc-lab kernel: closing the compiler failed: ${String(e)}\n`);
    }
    await Promise.all([...this.sends.values()].map((s) => s.flushed()));
    for (const s of [this.shell, this.control, this.stdin, this.iopubSocket, this.hb]) {
      // Let queued replies reach the client before the sockets go.
      s.linger = 500;
      s.close();
    }
    process.stdout.write = this.originalWrite.stdout;
    process.stderr.write = this.originalWrite.stderr;
    this.onExit(code);
  }
}
