/**
 * The aigc-lab kernel's Jupyter server: the messaging protocol (v5.3) over ZeroMQ with HMAC signing,
 * around tslab's executor (kernel/engine.ts). What it adds over tslab's own server: errors with ename,
 * evalue and traceback on the reply and on iopub; no abort window after an error (only execute requests
 * already queued when a cell fails with stop_on_error are aborted, as ipykernel does); execute_input
 * and execute_result; a complete kernel_info_reply; interrupts that stop training loops between steps;
 * clean shutdown; exit when the process that started the kernel dies.
 */
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import * as fs from "node:fs";
import * as zmq from "zeromq";
import { CellEngine, CellOutcome } from "./engine";
import { tslabTs } from "./converter";
import { repoRoot } from "./kernelspec";
import { resultBundle } from "./results";
import { Header } from "./messages";

/** The connection file Jupyter writes for a kernel. */
export interface ConnectionInfo {
  transport: string;
  ip: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  key: string;
  signature_scheme?: string;
}

interface Incoming {
  identities: Buffer[];
  header: Header;
  parent: Record<string, unknown>;
  metadata: Record<string, unknown>;
  content: Record<string, any>;
  socket: "shell" | "control";
}

const DELIM = Buffer.from("<IDS|MSG>");
const PROTOCOL_VERSION = "5.3";
/** What the kernel installs for kernel-lib (see kernel-lib/src/display.ts, KernelHooks). */
const KERNEL_HOOKS = Symbol.for("aigc-lab.kernel");

interface DisplayContent {
  data: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  transient?: { display_id?: string };
}

/** Converts a Jupyter cursor position (Unicode code points) to a JavaScript string offset, and back. */
export function codePointsToUtf16(text: string, cursor: number): number {
  let offset = 0;
  for (let cp = 0; cp < cursor && offset < text.length; cp++) offset += text.codePointAt(offset)! > 0xffff ? 2 : 1;
  return offset;
}

/** Converts a JavaScript string offset back to a Jupyter cursor position (Unicode code points). */
export function utf16ToCodePoints(text: string, offset: number): number {
  return [...text.slice(0, offset)].length;
}

function version(): string {
  try {
    return JSON.parse(fs.readFileSync(`${repoRoot()}/package.json`, "utf8")).version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

/** Serialises sends on one socket: zeromq allows one pending send per socket. */
class SendQueue {
  private chain: Promise<void> = Promise.resolve();
  constructor(private readonly socket: zmq.Router | zmq.Publisher | zmq.Reply, private readonly log: (text: string) => void) {}

  send(frames: Buffer[]): Promise<void> {
    this.chain = this.chain.then(() => this.socket.send(frames)).catch((e: unknown) => this.log(`aigc-lab kernel: send failed: ${String(e)}\n`));
    return this.chain;
  }

  /** Resolves when every send so far has been handed to ZeroMQ. */
  flushed(): Promise<void> {
    return this.chain;
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
  private readonly session = randomUUID();
  private readonly kernelId = randomUUID();
  private readonly key: string;
  private readonly hmacAlgorithm: string;
  private readonly shell = new zmq.Router();
  private readonly control = new zmq.Router();
  private readonly stdin = new zmq.Router();
  private readonly iopub = new zmq.Publisher();
  private readonly hb = new zmq.Reply();
  private readonly sends: Map<string, SendQueue>;
  private readonly engine: CellEngine;
  private readonly rootDir: string;
  private readonly shellQueue: Incoming[] = [];
  private shellWaiter: (() => void) | null = null;
  private executionCount = 0;
  /** The request whose outputs background writes belong to: the running or last execute_request. */
  private outputParent: Header | null = null;
  private stream: { name: string; text: string; parent: Header } | null = null;
  private streamFlushScheduled = false;
  private closing = false;
  private readonly hooks: { display(content: DisplayContent, update: boolean): void; interruptRequested: boolean };
  private readonly originalWrite = { stdout: process.stdout.write.bind(process.stdout), stderr: process.stderr.write.bind(process.stderr) };
  private readonly onExit: (code: number) => void;
  private running = false;

  constructor(private readonly options: ServerOptions) {
    const c = options.connection;
    this.key = c.key ?? "";
    const scheme = c.signature_scheme ?? "hmac-sha256";
    if (!scheme.startsWith("hmac-")) throw new Error(`unsupported signature scheme ${scheme}`);
    this.hmacAlgorithm = scheme.slice("hmac-".length);
    this.rootDir = options.rootDir ?? process.cwd();
    this.onExit = options.onExit ?? ((code) => process.exit(code));
    const log = (t: string) => this.log(t);
    this.sends = new Map<string, SendQueue>([
      ["shell", new SendQueue(this.shell, log)],
      ["control", new SendQueue(this.control, log)],
      ["iopub", new SendQueue(this.iopub, log)],
      ["hb", new SendQueue(this.hb, log)],
    ]);
    this.engine = new CellEngine({ rootDir: this.rootDir, stderr: (text) => this.writeStream("stderr", text) });
    this.hooks = {
      display: (content, update) => this.display(content, update),
      interruptRequested: false,
    };
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
      this.iopub.bind(url(c.iopub_port)),
      this.hb.bind(url(c.hb_port)),
    ]);
    this.installProcessHooks();
    void this.receive(this.shell, "shell");
    void this.receive(this.control, "control");
    void this.heartbeat();
    void this.processShell();
    this.publish("status", { execution_state: "starting" }, null);
  }

  private installProcessHooks(): void {
    (globalThis as Record<symbol, unknown>)[KERNEL_HOOKS] = this.hooks;
    // Plain tslab's display API (require("tslab").display, newDisplay) writes through this variable.
    const tslabJupyter = require("tslab/dist/jupyter") as { lastWriteDisplayData: unknown };
    tslabJupyter.lastWriteDisplayData = (content: DisplayContent, update: boolean) => this.display(content, update);
    const redirect = (name: "stdout" | "stderr") =>
      ((chunk: string | Uint8Array, encoding?: BufferEncoding | ((err?: Error | null) => void), cb?: (err?: Error | null) => void): boolean => {
        // `encoding` describes a string chunk; Node writes strings as UTF-8 unless told otherwise.
        const text = typeof chunk === "string" ? Buffer.from(chunk, typeof encoding === "string" ? encoding : "utf8").toString("utf8") : Buffer.from(chunk).toString("utf8");
        this.writeStream(name, text);
        const callback = typeof encoding === "function" ? encoding : cb;
        callback?.();
        return true;
      }) as typeof process.stdout.write;
    process.stdout.write = redirect("stdout");
    process.stderr.write = redirect("stderr");
    process.on("SIGINT", () => this.interrupt());
    process.on("SIGTERM", () => void this.shutdown(0));
    // A callback that throws later (a timer, an event) must not take the kernel down with it.
    process.on("uncaughtException", (e) => this.writeStream("stderr", `Uncaught exception: ${e instanceof Error ? e.stack : String(e)}\n`));
    process.on("unhandledRejection", (e) => this.writeStream("stderr", `Unhandled promise rejection: ${e instanceof Error ? e.stack : String(e)}\n`));
    // When whatever started the kernel dies without shutting it down, the kernel is re-parented: exit
    // then instead of running on as an orphan.
    const parent = this.options.parentPid;
    // A parent of 1 means the kernel was started detached on purpose: nothing to watch.
    if (parent !== undefined && parent !== 1) {
      const check = () => {
        if (process.ppid !== parent) void this.shutdown(0);
      };
      check();
      setInterval(check, 1000).unref();
    }
  }

  private sign(parts: Buffer[]): string {
    if (!this.key) return "";
    const h = createHmac(this.hmacAlgorithm, this.key);
    for (const p of parts) h.update(p);
    return h.digest("hex");
  }

  private parse(frames: Buffer[], socket: "shell" | "control"): Incoming | null {
    const i = frames.findIndex((f) => f.equals(DELIM));
    if (i < 0 || frames.length < i + 6) {
      this.log(`aigc-lab kernel: dropped a malformed ${socket} message\n`);
      return null;
    }
    const [sig, header, parent, metadata, content] = frames.slice(i + 1, i + 6) as [Buffer, Buffer, Buffer, Buffer, Buffer];
    const expected = Buffer.from(this.sign([header, parent, metadata, content]));
    if (this.key && (sig.length !== expected.length || !timingSafeEqual(sig, expected))) {
      this.log(`aigc-lab kernel: dropped a ${socket} message with a bad signature\n`);
      return null;
    }
    try {
      return {
        identities: frames.slice(0, i),
        header: JSON.parse(header.toString()),
        parent: JSON.parse(parent.toString()),
        metadata: JSON.parse(metadata.toString()),
        content: JSON.parse(content.toString()),
        socket,
      };
    } catch (e) {
      this.log(`aigc-lab kernel: dropped a ${socket} message that is not JSON: ${String(e)}\n`);
      return null;
    }
  }

  private header(msgType: string): Header {
    return { msg_id: randomUUID(), msg_type: msgType, session: this.session, username: "kernel", date: new Date().toISOString(), version: PROTOCOL_VERSION };
  }

  private frames(prefix: Buffer[], msgType: string, content: unknown, parent: Header | null, metadata: Record<string, unknown> = {}): Buffer[] {
    const parts = [this.header(msgType), parent ?? {}, metadata, content].map((x) => Buffer.from(JSON.stringify(x)));
    return [...prefix, DELIM, Buffer.from(this.sign(parts)), ...parts];
  }

  /** Sends a message on iopub (after any buffered stream text, so order is kept). */
  private publish(msgType: string, content: unknown, parent: Header | null): void {
    if (msgType !== "stream") this.flushStream();
    void this.sends.get("iopub")!.send(this.frames([Buffer.from(`kernel.${this.kernelId}.${msgType}`)], msgType, content, parent));
  }

  private reply(req: Incoming, msgType: string, content: Record<string, unknown>, metadata: Record<string, unknown> = {}): void {
    void this.sends.get(req.socket)!.send(this.frames(req.identities, msgType, content, req.header, metadata));
  }

  private writeStream(name: string, text: string): void {
    const parent = this.outputParent;
    if (!parent || this.closing) {
      (name === "stderr" ? this.originalWrite.stderr : this.originalWrite.stdout)(text);
      return;
    }
    if (this.stream && (this.stream.name !== name || this.stream.parent !== parent)) this.flushStream();
    if (this.stream) this.stream.text += text;
    else this.stream = { name, text, parent };
    // Coalesce a burst of writes into one message, but keep a long burst from growing without bound.
    if (this.stream.text.length > 65536) this.flushStream();
    else if (!this.streamFlushScheduled) {
      this.streamFlushScheduled = true;
      setImmediate(() => {
        this.streamFlushScheduled = false;
        this.flushStream();
      });
    }
  }

  private flushStream(): void {
    const s = this.stream;
    if (!s) return;
    this.stream = null;
    this.publish("stream", { name: s.name, text: s.text }, s.parent);
  }

  private display(content: DisplayContent, update: boolean): void {
    const data: Record<string, unknown> = {};
    for (const [mime, value] of Object.entries(content.data ?? {})) {
      // Binary payloads travel as base64 in JSON.
      data[mime] = value instanceof Uint8Array ? Buffer.from(value).toString("base64") : value;
    }
    const msg = { data, metadata: content.metadata ?? {}, transient: content.transient ?? {} };
    this.publish(update ? "update_display_data" : "display_data", msg, this.outputParent);
  }

  private async receive(socket: zmq.Router, name: "shell" | "control"): Promise<void> {
    try {
      for await (const frames of socket) {
        const msg = this.parse(frames as Buffer[], name);
        if (!msg) continue;
        if (name === "control") {
          // Control requests are answered at once, even while a cell runs.
          void this.handle(msg);
        } else {
          this.shellQueue.push(msg);
          this.shellWaiter?.();
        }
      }
    } catch (e) {
      if (!this.closing) this.log(`aigc-lab kernel: ${name} socket failed: ${String(e)}\n`);
    }
  }

  private async heartbeat(): Promise<void> {
    try {
      for await (const frames of this.hb) await this.sends.get("hb")!.send(frames as Buffer[]);
    } catch (e) {
      if (!this.closing) this.log(`aigc-lab kernel: heartbeat socket failed: ${String(e)}\n`);
    }
  }

  /** Shell requests run one at a time, in order. */
  private async processShell(): Promise<void> {
    while (!this.closing) {
      const msg = this.shellQueue.shift();
      if (!msg) {
        await new Promise<void>((resolve) => (this.shellWaiter = resolve));
        this.shellWaiter = null;
        continue;
      }
      await this.handle(msg);
    }
  }

  private async handle(msg: Incoming): Promise<void> {
    this.publish("status", { execution_state: "busy" }, msg.header);
    try {
      await this.dispatch(msg);
    } catch (e) {
      this.log(`aigc-lab kernel: ${msg.header.msg_type} failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    } finally {
      this.publish("status", { execution_state: "idle" }, msg.header);
    }
  }

  private async dispatch(msg: Incoming): Promise<void> {
    const c = msg.content;
    switch (msg.header.msg_type) {
      case "kernel_info_request":
        return this.reply(msg, "kernel_info_reply", this.kernelInfo());
      case "execute_request":
        return this.execute(msg);
      case "complete_request":
        return this.reply(msg, "complete_reply", this.complete(String(c.code ?? ""), Number(c.cursor_pos ?? 0)));
      case "inspect_request":
        return this.reply(msg, "inspect_reply", this.inspect(String(c.code ?? ""), Number(c.cursor_pos ?? 0)));
      case "is_complete_request": {
        const r = this.engine.isComplete(String(c.code ?? ""));
        return this.reply(msg, "is_complete_reply", r.complete ? { status: "complete" } : { status: "incomplete", indent: r.indent ?? "" });
      }
      case "comm_info_request":
        return this.reply(msg, "comm_info_reply", { status: "ok", comms: {} });
      case "history_request":
        return this.reply(msg, "history_reply", { status: "ok", history: [] });
      case "interrupt_request":
        this.interrupt();
        return this.reply(msg, "interrupt_reply", { status: "ok" });
      case "shutdown_request": {
        const restart = Boolean(c.restart);
        this.reply(msg, "shutdown_reply", { status: "ok", restart });
        // Reply and idle go out first; Jupyter restarts a kernel by starting a new process.
        setImmediate(() => void this.shutdown(0));
        return;
      }
      default:
        // comm_open and other requests this kernel has no use for: ignored, as ipykernel does.
        this.log(`aigc-lab kernel: ignored ${msg.header.msg_type}\n`);
    }
  }

  /** kernel_info_reply content. */
  kernelInfo(): Record<string, unknown> {
    const v = version();
    return {
      status: "ok",
      protocol_version: PROTOCOL_VERSION,
      implementation: "aigc-lab",
      implementation_version: v,
      language_info: {
        name: "typescript",
        version: tslabTs.version,
        mimetype: "text/typescript",
        file_extension: ".ts",
        // Classic Notebook needs name + typescript, JupyterLab reads mode (as tslab found).
        codemirror_mode: { name: "javascript", mode: "typescript", typescript: true },
        pygments_lexer: "typescript",
        nbconvert_exporter: "script",
      },
      banner: `aigc-lab ${v}: strict TypeScript ${tslabTs.version} (tslab ${tslabVersion()}) on Node ${process.version}`,
      help_links: [
        { text: "TensorFlow.js API", url: "https://js.tensorflow.org/api/latest/" },
        { text: "TypeScript handbook", url: "https://www.typescriptlang.org/docs/handbook/intro.html" },
      ],
    };
  }

  private async execute(msg: Incoming): Promise<void> {
    const c = msg.content;
    const code = String(c.code ?? "");
    const silent = Boolean(c.silent);
    const storeHistory = silent ? false : c.store_history !== false;
    if (storeHistory) this.executionCount++;
    const count = this.executionCount;
    this.outputParent = msg.header;
    this.hooks.interruptRequested = false;
    if (!silent) this.publish("execute_input", { code, execution_count: count }, msg.header);
    const started = new Date().toISOString();
    this.running = true;
    let outcome: CellOutcome;
    try {
      outcome = await this.engine.run(code, `In[${count}]`);
    } finally {
      this.running = false;
    }
    if (outcome.status === "ok") {
      if (outcome.result && !silent) {
        const bundle = await resultBundle(outcome.result.value, this.rootDir, (e) =>
          this.writeStream("stderr", `(kernel-lib could not display the result: ${e instanceof Error ? e.message : String(e)})\n`),
        );
        this.publish("execute_result", { execution_count: count, data: bundle.data, metadata: bundle.metadata }, msg.header);
      }
      this.reply(msg, "execute_reply", { status: "ok", execution_count: count, user_expressions: {}, payload: [] }, { started, status: "ok" });
      return;
    }
    const { ename, evalue, traceback } = outcome;
    if (!silent) this.publish("error", { ename, evalue, traceback, execution_count: count }, msg.header);
    if (c.stop_on_error !== false) await this.abortQueuedExecutes();
    this.reply(msg, "execute_reply", { status: "error", execution_count: count, ename, evalue, traceback }, { started, status: "error" });
  }

  /**
   * After a failed cell, execute requests that were already waiting (Run All sent them before the error)
   * are aborted, as ipykernel does; requests that arrive after the error reply run normally.
   */
  private async abortQueuedExecutes(): Promise<void> {
    // A synchronous cell kept the event loop busy: let the sockets deliver what arrived meanwhile.
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    const keep: Incoming[] = [];
    for (const m of this.shellQueue.splice(0)) {
      if (m.header.msg_type !== "execute_request") {
        keep.push(m);
        continue;
      }
      this.publish("status", { execution_state: "busy" }, m.header);
      this.reply(m, "execute_reply", { status: "aborted", execution_count: null }, { status: "aborted" });
      this.publish("status", { execution_state: "idle" }, m.header);
    }
    this.shellQueue.unshift(...keep);
  }

  private complete(code: string, cursor: number): Record<string, unknown> {
    try {
      const info = this.engine.complete(code, codePointsToUtf16(code, cursor));
      return {
        status: "ok",
        matches: info.candidates,
        cursor_start: utf16ToCodePoints(code, info.start),
        cursor_end: utf16ToCodePoints(code, info.end),
        metadata: {},
      };
    } catch (e) {
      this.log(`aigc-lab kernel: completion failed: ${String(e)}\n`);
      return { status: "ok", matches: [], cursor_start: cursor, cursor_end: cursor, metadata: {} };
    }
  }

  private inspect(code: string, cursor: number): Record<string, unknown> {
    try {
      const text = this.engine.inspect(code, codePointsToUtf16(code, cursor));
      return text === null ? { status: "ok", found: false, data: {}, metadata: {} } : { status: "ok", found: true, data: { "text/plain": text }, metadata: {} };
    } catch (e) {
      this.log(`aigc-lab kernel: inspection failed: ${String(e)}\n`);
      return { status: "ok", found: false, data: {}, metadata: {} };
    }
  }

  /**
   * SIGINT (or interrupt_request): raise the flag training loops poll between steps, and fail the
   * running cell's await. A synchronous loop that never awaits is stopped by V8 only while it runs as
   * the cell's own top-level code (tslab runs cells with breakOnSigint).
   */
  interrupt(): void {
    this.hooks.interruptRequested = true;
    if (this.running) this.engine.interrupt();
  }

  /** Stops serving: closes the compiler, flushes pending messages, closes the sockets, exits. */
  async shutdown(code: number): Promise<void> {
    if (this.closing) return;
    this.flushStream();
    this.closing = true;
    this.shellWaiter?.();
    try {
      this.engine.close();
    } catch (e) {
      this.log(`aigc-lab kernel: closing the compiler failed: ${String(e)}\n`);
    }
    await Promise.all([...this.sends.values()].map((s) => s.flushed()));
    for (const s of [this.shell, this.control, this.stdin, this.iopub, this.hb]) {
      // Let queued replies reach the client before the sockets go.
      s.linger = 500;
      s.close();
    }
    process.stdout.write = this.originalWrite.stdout;
    process.stderr.write = this.originalWrite.stderr;
    this.onExit(code);
  }
}

function tslabVersion(): string {
  try {
    return (require("tslab/package.json") as { version: string }).version;
  } catch {
    return "?";
  }
}

/** Reads a connection file. */
export function readConnectionFile(file: string): ConnectionInfo {
  const info = JSON.parse(fs.readFileSync(file, "utf8")) as ConnectionInfo;
  for (const k of ["shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"] as const) {
    if (typeof info[k] !== "number") throw new Error(`${file}: ${k} is missing`);
  }
  return info;
}
