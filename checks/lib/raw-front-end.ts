/**
 * A raw front end for kernel tests: its own shell socket (to send comm messages, which get no reply) and
 * iopub subscription (every message, with its binary buffers), signed with the kernel's key. Used by
 * checks/kernel-comms.test.ts beside kernel/client.ts, which runs the cells.
 */
import { createHmac, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as zmq from "zeromq";

export interface RawMessage {
  header: Record<string, any>;
  parent: Record<string, any>;
  metadata: Record<string, any>;
  content: Record<string, any>;
  buffers: Buffer[];
}

const DELIM = "<IDS|MSG>";

export class RawFrontEnd {
  readonly iopub: RawMessage[] = [];
  private readonly shell = new zmq.Dealer({ linger: 0 });
  private readonly sub = new zmq.Subscriber({ linger: 0 });
  private readonly key: string;
  readonly session = randomUUID();

  constructor(connectionFile: string) {
    const c = JSON.parse(fs.readFileSync(connectionFile, "utf8"));
    this.key = c.key;
    this.shell.connect(`tcp://127.0.0.1:${c.shell_port}`);
    this.sub.connect(`tcp://127.0.0.1:${c.iopub_port}`);
    this.sub.subscribe();
    void this.listen();
  }

  private sign(parts: Buffer[]): string {
    const h = createHmac("sha256", this.key);
    for (const p of parts) h.update(p);
    return h.digest("hex");
  }

  private async listen(): Promise<void> {
    try {
      for await (const frames of this.sub) {
        const i = frames.findIndex((f) => f.toString() === DELIM);
        const [h, p, m, c] = frames.slice(i + 2, i + 6) as Buffer[];
        this.iopub.push({ header: JSON.parse(h!.toString()), parent: JSON.parse(p!.toString()), metadata: JSON.parse(m!.toString()), content: JSON.parse(c!.toString()), buffers: frames.slice(i + 6) as Buffer[] });
      }
    } catch {
      // closed
    }
  }

  /** Sends a message on shell (content as given, even a malformed one); returns its msg_id. */
  async send(msgType: string, content: Record<string, unknown>, buffers: Uint8Array[] = []): Promise<string> {
    const header = { msg_id: randomUUID(), msg_type: msgType, session: this.session, username: "test", date: new Date().toISOString(), version: "5.3" };
    const parts = [header, {}, {}, content].map((x) => Buffer.from(JSON.stringify(x)));
    await this.shell.send([Buffer.from(DELIM), Buffer.from(this.sign(parts)), ...parts, ...buffers.map((b) => Buffer.from(b))]);
    return header.msg_id;
  }

  /** The iopub messages from index `from` on that match, once `count` of them have arrived (or the time is up). */
  async waitFor(pred: (m: RawMessage) => boolean, options: { from?: number; count?: number; timeoutMs?: number } = {}): Promise<RawMessage[]> {
    const deadline = Date.now() + (options.timeoutMs ?? 10000);
    for (;;) {
      const found = this.iopub.slice(options.from ?? 0).filter(pred);
      if (found.length >= (options.count ?? 1) || Date.now() > deadline) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Iopub messages whose parent is `msgId`. */
  childrenOf(msgId: string, from = 0): RawMessage[] {
    return this.iopub.slice(from).filter((m) => m.parent.msg_id === msgId);
  }

  close(): void {
    this.shell.close();
    this.sub.close();
  }
}
