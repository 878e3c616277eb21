/**
 * A small Jupyter client: starts a kernel from its kernelspec, speaks the messaging protocol (v5.3) over
 * ZeroMQ, and turns iopub traffic into nbformat outputs. Used by the notebook runner (`npm test`,
 * `npm start`) and by the kernel conformance test. Connection files: kernel/connection-files.ts.
 */
import { ChildProcess, spawn } from "node:child_process";
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zmq from "zeromq";
import { freePort, writeConnectionFile } from "./connection-files";
import { KernelSpec } from "./kernelspec";
import { Channel, Header, Message } from "./messages";
import { Output, OutputCollector } from "./outputs";

export type { Channel, Header, Message } from "./messages";
export { Output, OutputCollector } from "./outputs";

export interface ExecuteResult {
  reply: Message;
  /** All iopub messages whose parent was this request, in order. */
  iopub: Message[];
  outputs: Output[];
  executionCount: number | null;
  /** "aborted" (the protocol's word, ipykernel and aigc-lab) or "abort" (tslab): the request was skipped after an earlier error. */
  status: "ok" | "error" | "aborted" | "abort";
}

export interface StartOptions {
  spec: KernelSpec;
  /** Working directory of the kernel (Jupyter uses the notebook's folder). */
  cwd: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Milliseconds to wait for the first kernel_info_reply. Default 30000. */
  startTimeoutMs?: number;
  /** Called with the kernel process's own stdout/stderr text (not cell output). */
  onProcessOutput?: (text: string) => void;
}

const DELIM = Buffer.from("<IDS|MSG>");

interface Pending {
  reply?: Message;
  iopub: Message[];
  idle: boolean;
  onIopub?: (msg: Message) => void;
  done: () => void;
}

/** A running kernel and the sockets to talk to it. */
export class KernelClient {
  readonly session = randomUUID();
  private readonly key: string;
  private readonly shell = new zmq.Dealer();
  private readonly control = new zmq.Dealer();
  private readonly stdin = new zmq.Dealer();
  private readonly iopub = new zmq.Subscriber();
  private readonly pending = new Map<string, Pending>();
  private closed = false;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly exited: Promise<void>;
  /** Display-id registry shared by every execute of this kernel (updates may target earlier cells). */
  readonly displays = new Map<string, Output[]>();

  private constructor(
    readonly process: ChildProcess,
    readonly connectionFile: string,
    connection: Record<string, any>,
  ) {
    this.key = connection.key;
    this.exited = new Promise((resolve) => {
      process.on("exit", (code, signal) => {
        this.exitInfo = { code, signal };
        resolve();
      });
    });
  }

  /** Starts the kernel described by `spec` and waits until it answers kernel_info. */
  static async start(options: StartOptions): Promise<KernelClient> {
    const connection = {
      transport: "tcp",
      ip: "127.0.0.1",
      signature_scheme: "hmac-sha256",
      key: randomBytes(16).toString("hex"),
      shell_port: await freePort(),
      iopub_port: await freePort(),
      stdin_port: await freePort(),
      control_port: await freePort(),
      hb_port: await freePort(),
      kernel_name: "aigc-lab",
    };
    const connectionFile = writeConnectionFile(connection);
    const argv = options.spec.argv.map((a) => a.replace("{connection_file}", connectionFile));
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: options.cwd,
      // The kernel exits when this runner dies (kernel/parent.ts), even if it dies before the kernel's first line runs.
      env: { ...process.env, ...(options.spec.env ?? {}), ...(options.env ?? {}), AIGC_KERNEL_RUNNER_PID: String(process.pid) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const client = new KernelClient(child, connectionFile, connection);
    const forward = (b: Buffer) => options.onProcessOutput?.(b.toString());
    child.stdout!.on("data", forward);
    child.stderr!.on("data", forward);
    const url = (port: number) => `tcp://127.0.0.1:${port}`;
    client.shell.connect(url(connection.shell_port));
    client.control.connect(url(connection.control_port));
    client.stdin.connect(url(connection.stdin_port));
    client.iopub.connect(url(connection.iopub_port));
    client.iopub.subscribe();
    client.listen(client.shell, "shell");
    client.listen(client.control, "control");
    client.listen(client.iopub, "iopub");
    client.listen(client.stdin, "stdin");
    const deadline = Date.now() + (options.startTimeoutMs ?? 30000);
    // Until the subscription has joined, iopub messages are lost: repeat kernel_info until its idle status arrives too.
    for (;;) {
      if (client.exitInfo) {
        await client.close();
        throw new Error(`kernel exited during start-up (code ${client.exitInfo.code}, signal ${client.exitInfo.signal}); argv: ${argv.join(" ")}`);
      }
      if (Date.now() > deadline) {
        await client.shutdown();
        throw new Error(`kernel did not answer kernel_info within ${options.startTimeoutMs ?? 30000} ms; argv: ${argv.join(" ")}`);
      }
      try {
        const r = await client.request("shell", "kernel_info_request", {}, { timeoutMs: 1000 });
        if (r.iopub.some((m) => m.header.msg_type === "status" && m.content.execution_state === "idle")) return client;
      } catch {
        // not up yet
      }
    }
  }

  private sign(parts: Buffer[]): string {
    const h = createHmac("sha256", this.key);
    for (const p of parts) h.update(p);
    return h.digest("hex");
  }

  private async listen(sock: zmq.Dealer | zmq.Subscriber, channel: Channel | "iopub"): Promise<void> {
    try {
      for await (const frames of sock) {
        const i = frames.findIndex((f) => f.equals(DELIM));
        if (i < 0) continue;
        const [sig, header, parent, metadata, content] = frames.slice(i + 1, i + 6) as Buffer[];
        if (!sig || !header || !parent || !metadata || !content) continue;
        if (this.sign([header, parent, metadata, content]) !== sig.toString()) {
          console.error(`jupyter client: dropped a ${channel} message with a bad signature`);
          continue;
        }
        const msg: Message = {
          header: JSON.parse(header.toString()),
          parent_header: JSON.parse(parent.toString()),
          metadata: JSON.parse(metadata.toString()),
          content: JSON.parse(content.toString()),
          channel,
        };
        this.dispatch(msg);
      }
    } catch (e) {
      if (!this.closed) console.error(`jupyter client: ${channel} socket failed:`, e);
    }
  }

  private dispatch(msg: Message): void {
    const parentId = msg.parent_header.msg_id;
    const p = parentId ? this.pending.get(parentId) : undefined;
    if (!p) return;
    if (msg.channel === "iopub") {
      p.iopub.push(msg);
      p.onIopub?.(msg);
      if (msg.header.msg_type === "status" && msg.content.execution_state === "idle") p.idle = true;
    } else {
      p.reply = msg;
    }
    // A kernel may publish idle before it sends the reply: wait for both.
    if (p.reply && p.idle) p.done();
  }

  /** Sends a request and waits for its reply and its iopub idle status. */
  async request(
    channel: Channel,
    msgType: string,
    content: Record<string, unknown>,
    options: { timeoutMs?: number; onIopub?: (msg: Message) => void } = {},
  ): Promise<{ reply: Message; iopub: Message[] }> {
    const header: Header = {
      msg_id: randomUUID(),
      msg_type: msgType,
      session: this.session,
      username: "aigc-lab",
      date: new Date().toISOString(),
      version: "5.3",
    };
    const parts = [header, {}, {}, content].map((x) => Buffer.from(JSON.stringify(x)));
    const sock = channel === "shell" ? this.shell : channel === "control" ? this.control : this.stdin;
    const entry: Pending = { iopub: [], idle: false, onIopub: options.onIopub, done: () => {} };
    const finished = new Promise<void>((resolve) => (entry.done = resolve));
    this.pending.set(header.msg_id, entry);
    try {
      await sock.send([DELIM, Buffer.from(this.sign(parts)), ...parts]);
      const timeoutMs = options.timeoutMs ?? 60000;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
      const exit = this.exited.then(() => "exit" as const);
      const outcome = await Promise.race([finished.then(() => "done" as const), timeout, exit]);
      clearTimeout(timer);
      if (outcome === "timeout") throw new KernelTimeoutError(msgType, timeoutMs);
      if (outcome === "exit" && !(entry.reply && entry.idle)) {
        throw new Error(`kernel died while handling ${msgType} (code ${this.exitInfo?.code}, signal ${this.exitInfo?.signal})`);
      }
      return { reply: entry.reply!, iopub: entry.iopub };
    } finally {
      this.pending.delete(header.msg_id);
    }
  }

  /** Runs code and collects its outputs (nbformat), updating earlier outputs that share a display id. */
  async execute(code: string, options: { timeoutMs?: number; onIopub?: (msg: Message) => void; collector?: OutputCollector } = {}): Promise<ExecuteResult> {
    const collector = options.collector ?? new OutputCollector(this.displays);
    const { reply, iopub } = await this.request(
      "shell",
      "execute_request",
      { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true },
      {
        timeoutMs: options.timeoutMs,
        onIopub: (m) => {
          collector.add(m);
          options.onIopub?.(m);
        },
      },
    );
    return {
      reply,
      iopub,
      outputs: collector.outputs,
      executionCount: typeof reply.content.execution_count === "number" ? reply.content.execution_count : null,
      status: reply.content.status,
    };
  }

  /** Interrupts the running cell the way the kernelspec says (signal by default). */
  async interrupt(mode: "signal" | "message" = "signal"): Promise<void> {
    if (mode === "message") await this.request("control", "interrupt_request", {}, { timeoutMs: 10000 });
    else this.process.kill("SIGINT");
  }

  /** True while the kernel process runs. */
  get alive(): boolean {
    return this.exitInfo === null;
  }

  /** Asks the kernel to shut down, waits for it to exit (killing it after `graceMs`), and closes the sockets. */
  async shutdown(graceMs = 5000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.alive) {
      try {
        await this.request("control", "shutdown_request", { restart: false }, { timeoutMs: graceMs });
      } catch {
        // fall through to the kill below
      }
      const t = setTimeout(() => this.process.kill("SIGKILL"), graceMs);
      await this.exited;
      clearTimeout(t);
    }
    await this.close();
    return this.exitInfo!;
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Messages still queued for a kernel that has exited can never be delivered; without a linger of 0,
    // ZeroMQ would keep this whole process alive waiting for them (a failed start hung `npm test`).
    for (const s of [this.shell, this.control, this.stdin, this.iopub]) {
      s.linger = this.exitInfo ? 0 : 1000;
      s.close();
    }
    fs.rmSync(path.dirname(this.connectionFile), { recursive: true, force: true });
  }
}

export class KernelTimeoutError extends Error {
  constructor(msgType: string, timeoutMs: number) {
    super(`no answer to ${msgType} within ${(timeoutMs / 1000).toFixed(0)} s`);
    this.name = "KernelTimeoutError";
  }
}
