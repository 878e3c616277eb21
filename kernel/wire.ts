/**
 * The kernel's wire format: the connection file, HMAC signing and checking, turning ZeroMQ frames into a
 * message and a message into frames, and the per-socket send queue.
 */
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import * as fs from "node:fs";
import type * as zmq from "zeromq";
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

/** The channels that carry requests. */
export type RequestChannel = "shell" | "control";

/** A request as received. */
export interface Incoming {
  identities: Buffer[];
  header: Header;
  parent: Record<string, unknown>;
  metadata: Record<string, unknown>;
  content: Record<string, any>;
  socket: RequestChannel;
}

export const DELIM = Buffer.from("<IDS|MSG>");
export const PROTOCOL_VERSION = "5.3";

/** Reads a connection file. */
export function readConnectionFile(file: string): ConnectionInfo {
  const info = JSON.parse(fs.readFileSync(file, "utf8")) as ConnectionInfo;
  for (const k of ["shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"] as const) {
    if (typeof info[k] !== "number") throw new Error(`${file}: ${k} is missing`);
  }
  return info;
}

/** Signs, checks, parses and builds messages for one kernel session. */
export class Wire {
  readonly session = randomUUID();
  private readonly key: string;
  private readonly hmacAlgorithm: string;

  constructor(
    connection: ConnectionInfo,
    private readonly log: (text: string) => void,
  ) {
    this.key = connection.key ?? "";
    const scheme = connection.signature_scheme ?? "hmac-sha256";
    if (!scheme.startsWith("hmac-")) throw new Error(`unsupported signature scheme ${scheme}`);
    this.hmacAlgorithm = scheme.slice("hmac-".length);
  }

  private sign(parts: Buffer[]): string {
    if (!this.key) return "";
    const h = createHmac(this.hmacAlgorithm, this.key);
    for (const p of parts) h.update(p);
    return h.digest("hex");
  }

  parse(frames: Buffer[], socket: RequestChannel): Incoming | null {
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

  header(msgType: string): Header {
    return { msg_id: randomUUID(), msg_type: msgType, session: this.session, username: "kernel", date: new Date().toISOString(), version: PROTOCOL_VERSION };
  }

  frames(prefix: Buffer[], msgType: string, content: unknown, parent: Header | null, metadata: Record<string, unknown> = {}): Buffer[] {
    const parts = [this.header(msgType), parent ?? {}, metadata, content].map((x) => Buffer.from(JSON.stringify(x)));
    return [...prefix, DELIM, Buffer.from(this.sign(parts)), ...parts];
  }
}

/** Serialises sends on one socket: zeromq allows one pending send per socket. */
export class SendQueue {
  private chain: Promise<void> = Promise.resolve();
  constructor(
    private readonly socket: zmq.Router | zmq.Publisher | zmq.Reply,
    private readonly log: (text: string) => void,
  ) {}

  send(frames: Buffer[]): Promise<void> {
    this.chain = this.chain.then(() => this.socket.send(frames)).catch((e: unknown) => this.log(`aigc-lab kernel: send failed: ${String(e)}\n`));
    return this.chain;
  }

  /** Resolves when every send so far has been handed to ZeroMQ. */
  flushed(): Promise<void> {
    return this.chain;
  }
}
