/**
 * What the kernel broadcasts on iopub: status and other messages, the cells' stdout and stderr coalesced
 * into stream messages (in order with everything else), and display_data / update_display_data.
 */
import { setImmediate } from "node:timers";
import { Header } from "./messages";
import { SendQueue, Wire } from "./wire";

export interface DisplayContent {
  data: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  transient?: { display_id?: string };
}

/** Writes that go to the kernel process's own stdout and stderr (Jupyter's log), not to a cell. */
export interface ProcessWrites {
  stdout: (text: string) => boolean;
  stderr: (text: string) => boolean;
}

export class Iopub {
  /** The request whose outputs background writes belong to: the running or last execute_request. */
  outputParent: Header | null = null;
  private stream: { name: string; text: string; parent: Header } | null = null;
  private streamFlushScheduled = false;

  constructor(
    private readonly wire: Wire,
    private readonly queue: SendQueue,
    private readonly kernelId: string,
    private readonly processWrites: ProcessWrites,
    private readonly closing: () => boolean,
  ) {}

  /** Sends a message on iopub (after any buffered stream text, so order is kept), with binary `buffers` if any. */
  publish(msgType: string, content: unknown, parent: Header | null, buffers: Uint8Array[] = [], metadata: Record<string, unknown> = {}): void {
    // Once shutting down, iopub is flushed and closing: later messages have nowhere to go.
    if (this.closing()) return;
    if (msgType !== "stream") this.flushStream();
    void this.queue.send(this.wire.frames([Buffer.from(`kernel.${this.kernelId}.${msgType}`)], msgType, content, parent, metadata, buffers));
  }

  writeStream(name: string, text: string): void {
    const parent = this.outputParent;
    if (!parent || this.closing()) {
      (name === "stderr" ? this.processWrites.stderr : this.processWrites.stdout)(text);
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

  flushStream(): void {
    const s = this.stream;
    if (!s) return;
    this.stream = null;
    this.publish("stream", { name: s.name, text: s.text }, s.parent);
  }

  display(content: DisplayContent, update: boolean): void {
    const data: Record<string, unknown> = {};
    for (const [mime, value] of Object.entries(content.data ?? {})) {
      // Binary payloads travel as base64 in JSON.
      data[mime] = value instanceof Uint8Array ? Buffer.from(value).toString("base64") : value;
    }
    const msg = { data, metadata: content.metadata ?? {}, transient: content.transient ?? {} };
    this.publish(update ? "update_display_data" : "display_data", msg, this.outputParent);
  }
}
