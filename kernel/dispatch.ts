/**
 * Routing requests: the shell and control receive loops, the shell queue (one request at a time, in
 * order), busy/idle around each request, and the answer to each message type (kernel_info, complete,
 * inspect, is_complete, comm_info, history, interrupt, shutdown; execute goes to kernel/execution.ts). Comm
 * messages skip the queue (kernel/comms.ts): a widget event runs while a cell awaits.
 */
import * as fs from "node:fs";
import { setImmediate } from "node:timers";
import type * as zmq from "zeromq";
import { tslabTs } from "./converter";
import { COMM_MESSAGES, Comms } from "./comms";
import { CellEngine } from "./engine";
import { Iopub } from "./iopub";
import { repoRoot } from "./kernelspec";
import { Incoming, PROTOCOL_VERSION, RequestChannel, Wire } from "./wire";

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

function tslabVersion(): string {
  try {
    return (require("tslab/package.json") as { version: string }).version;
  } catch {
    return "?";
  }
}

/** kernel_info_reply content. */
export function kernelInfo(): Record<string, unknown> {
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

export interface DispatcherOptions {
  wire: Wire;
  engine: CellEngine;
  iopub: Iopub;
  /** Runs an execute_request (kernel/execution.ts). */
  execute: (msg: Incoming) => Promise<void>;
  reply: (req: Incoming, msgType: string, content: Record<string, unknown>, metadata?: Record<string, unknown>) => void;
  interrupt: () => void;
  shutdown: (code: number) => Promise<void>;
  log: (text: string) => void;
  closing: () => boolean;
  comms: Comms;
}

export class Dispatcher {
  private readonly shellQueue: Incoming[] = [];
  private shellWaiter: (() => void) | null = null;
  /** Requests between their busy and their idle status (a running cell among them). */
  private active = 0;

  constructor(private readonly options: DispatcherOptions) {}

  async receive(socket: zmq.Router, name: RequestChannel): Promise<void> {
    try {
      for await (const frames of socket) {
        // Nothing one message holds may stop the channel: whatever goes wrong is logged and dropped.
        try {
          this.accept(frames as Buffer[], name);
        } catch (e) {
          this.options.log(`aigc-lab kernel: dropped a ${name} message that failed: ${e instanceof Error ? e.message : String(e)}\n`);
        }
      }
    } catch (e) {
      if (!this.options.closing()) this.options.log(`aigc-lab kernel: ${name} socket failed: ${String(e)}\n`);
    }
  }

  private accept(frames: Buffer[], name: RequestChannel): void {
    const msg = this.options.wire.parse(frames, name);
    if (!msg) return;
    if (msg.problem && !msg.header.msg_type.endsWith("_request")) {
      // Only a request has a reply to carry the error.
      this.options.log(`aigc-lab kernel: dropped a ${name} ${msg.header.msg_type}: ${msg.problem}\n`);
      return;
    }
    if (name === "control") {
      // Control requests are answered at once, even while a cell runs.
      void this.handle(msg);
    } else if (COMM_MESSAGES.has(msg.header.msg_type)) {
      // Comm messages too (a slider moved): their handlers run between a cell's awaits.
      this.handleComm(msg);
    } else {
      this.shellQueue.push(msg);
      this.shellWaiter?.();
    }
  }

  /** Wakes the shell loop so that it sees the kernel is closing. */
  stop(): void {
    this.shellWaiter?.();
  }

  /** Shell requests run one at a time, in order. */
  async processShell(): Promise<void> {
    while (!this.options.closing()) {
      const msg = this.shellQueue.shift();
      if (!msg) {
        await new Promise<void>((resolve) => (this.shellWaiter = resolve));
        this.shellWaiter = null;
        continue;
      }
      await this.handle(msg);
    }
  }

  /** The error reply to a request whose message is wrong (kernel/validate.ts named the field). */
  private replyError(msg: Incoming, ename: string, evalue: string): void {
    const type = msg.header.msg_type.replace(/_request$/, "_reply");
    const content: Record<string, unknown> = { status: "error", ename, evalue, traceback: [`${ename}: ${evalue}`] };
    if (type === "execute_reply") content["execution_count"] = null;
    this.options.reply(msg, type, content);
  }

  /**
   * A comm message, at once and synchronously. Busy and idle around it only when no request is between its
   * own busy and idle: a front end must not see the kernel idle in the middle of a cell.
   */
  private handleComm(msg: Incoming): void {
    const { iopub, comms } = this.options;
    if (this.active > 0) return comms.handle(msg);
    iopub.publish("status", { execution_state: "busy" }, msg.header);
    try {
      comms.handle(msg);
    } finally {
      iopub.publish("status", { execution_state: "idle" }, msg.header);
    }
  }

  /** Busy, the answer, idle; never rejects. */
  private async handle(msg: Incoming): Promise<void> {
    const { iopub } = this.options;
    this.active++;
    try {
      iopub.publish("status", { execution_state: "busy" }, msg.header);
      try {
        if (msg.problem) this.replyError(msg, "InvalidMessage", msg.problem);
        else await this.dispatch(msg);
      } finally {
        iopub.publish("status", { execution_state: "idle" }, msg.header);
        this.active--;
      }
    } catch (e) {
      this.options.log(`aigc-lab kernel: ${msg.header.msg_type} failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    }
  }

  private async dispatch(msg: Incoming): Promise<void> {
    const c = msg.content;
    const reply = this.options.reply;
    switch (msg.header.msg_type) {
      case "kernel_info_request":
        return reply(msg, "kernel_info_reply", kernelInfo());
      case "execute_request":
        // Control carries shutdown, interrupt and debug: a cell sent there would run beside the shell's.
        if (msg.socket === "control") {
          return this.replyError(msg, "UnsupportedOnControl", "execute_request is not accepted on the control channel (it carries shutdown, interrupt and debug requests); send it on shell");
        }
        return this.options.execute(msg);
      case "complete_request":
        return reply(msg, "complete_reply", this.complete(c.code, c.cursor_pos));
      case "inspect_request":
        return reply(msg, "inspect_reply", this.inspect(c.code, c.cursor_pos));
      case "is_complete_request": {
        const r = this.options.engine.isComplete(c.code);
        return reply(msg, "is_complete_reply", r.complete ? { status: "complete" } : { status: "incomplete", indent: r.indent ?? "" });
      }
      case "comm_info_request":
        return reply(msg, "comm_info_reply", this.options.comms.info(c.target_name));
      case "comm_open":
      case "comm_msg":
      case "comm_close":
        return this.options.comms.handle(msg);
      case "history_request":
        return reply(msg, "history_reply", { status: "ok", history: [] });
      case "interrupt_request":
        this.options.interrupt();
        return reply(msg, "interrupt_reply", { status: "ok" });
      case "shutdown_request": {
        const restart = c.restart === true;
        reply(msg, "shutdown_reply", { status: "ok", restart });
        // Reply and idle go out first; Jupyter restarts a kernel by starting a new process.
        setImmediate(() => void this.options.shutdown(0));
        return;
      }
      default:
        // Requests this kernel has no use for: ignored, as ipykernel does.
        this.options.log(`aigc-lab kernel: ignored ${msg.header.msg_type}\n`);
    }
  }

  /**
   * After a failed cell, execute requests that were already waiting (Run All sent them before the error)
   * are aborted, as ipykernel does; requests that arrive after the error reply run normally.
   */
  async abortQueuedExecutes(): Promise<void> {
    const { iopub, reply } = this.options;
    // A synchronous cell kept the event loop busy: let the sockets deliver what arrived meanwhile.
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    const keep: Incoming[] = [];
    for (const m of this.shellQueue.splice(0)) {
      if (m.header.msg_type !== "execute_request") {
        keep.push(m);
        continue;
      }
      iopub.publish("status", { execution_state: "busy" }, m.header);
      reply(m, "execute_reply", { status: "aborted", execution_count: null }, { status: "aborted" });
      iopub.publish("status", { execution_state: "idle" }, m.header);
    }
    this.shellQueue.unshift(...keep);
  }

  private complete(code: string, cursor: number): Record<string, unknown> {
    try {
      const info = this.options.engine.complete(code, codePointsToUtf16(code, cursor));
      return {
        status: "ok",
        matches: info.candidates,
        cursor_start: utf16ToCodePoints(code, info.start),
        cursor_end: utf16ToCodePoints(code, info.end),
        metadata: {},
      };
    } catch (e) {
      this.options.log(`aigc-lab kernel: completion failed: ${String(e)}\n`);
      return { status: "ok", matches: [], cursor_start: cursor, cursor_end: cursor, metadata: {} };
    }
  }

  private inspect(code: string, cursor: number): Record<string, unknown> {
    try {
      const text = this.options.engine.inspect(code, codePointsToUtf16(code, cursor));
      return text === null ? { status: "ok", found: false, data: {}, metadata: {} } : { status: "ok", found: true, data: { "text/plain": text }, metadata: {} };
    } catch (e) {
      this.options.log(`aigc-lab kernel: inspection failed: ${String(e)}\n`);
      return { status: "ok", found: false, data: {}, metadata: {} };
    }
  }
}
