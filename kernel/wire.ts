/**
 * The kernel's wire format: the connection file, HMAC signing and checking, turning ZeroMQ frames into a
 * message and a message into frames, and the per-socket send queue.
 */
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import * as fs from "node:fs";
import type * as zmq from "zeromq";
import { Header } from "./messages";
import { contentProblem, headerProblem, objectProblem } from "./validate";

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
  /** Binary buffers: the frames after the four signed parts (comm messages carry them). */
  buffers: Buffer[];
  /**
   * Set when a part other than the header is wrong (the part is then left empty): names the field, for
   * an error reply (see kernel/validate.ts).
   */
  problem?: string;
}

export const DELIM = Buffer.from("<IDS|MSG>");
export const PROTOCOL_VERSION = "5.3";

/** Reads a connection file. */
export function readConnectionFile(file: string): ConnectionInfo {
  const info = JSON.parse(fs.readFileSync(file, "utf8")) as ConnectionInfo;
  for (const k of ["shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"] as const) {
    if (typeof info[k] !== "number") throw new Error(`${file}: ${k} is missing`);
  }
  if (info.key !== undefined && typeof info.key !== "string") throw new Error(`${file}: key must be a string`);
  return info;
}

/**
 * The one-line start-up warning for a connection without a key (null when it has one): the protocol
 * allows unsigned messages, but then the ports are the only protection.
 */
export function unsignedWarning(info: ConnectionInfo, file: string): string | null {
  if (info.key) return null;
  const what = info.key === undefined ? "has no key" : 'has an empty key ("key": "")';
  const ports = [info.shell_port, info.iopub_port, info.stdin_port, info.control_port, info.hb_port].join(", ");
  return (
    `aigc-lab kernel: WARNING: the connection file ${file} ${what}, so messages are not signed: the Jupyter protocol allows unsigned messages, ` +
    `but anyone who can reach ports ${ports} on ${info.ip} can run code in this kernel as this user`
  );
}

function parseJson(frame: Buffer): { value: unknown; error?: undefined } | { value?: undefined; error: string } {
  try {
    return { value: JSON.parse(frame.toString("utf8")) };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * The signatures of the last `limit` accepted messages (jupyter_client keeps 2**16 and culls the oldest
 * tenth; here the oldest one goes as each new one comes).
 */
export class SignatureHistory {
  private readonly signatures = new Set<string>();
  constructor(private readonly limit = 10000) {}

  /** True when `signature` was seen before; otherwise records it. */
  check(signature: string): boolean {
    if (this.signatures.has(signature)) return true;
    this.signatures.add(signature);
    // A Set iterates in insertion order: the first entry is the oldest.
    if (this.signatures.size > this.limit) this.signatures.delete(this.signatures.values().next().value as string);
    return false;
  }

  get size(): number {
    return this.signatures.size;
  }
}

/** Signs, checks, parses and builds messages for one kernel session. */
export class Wire {
  readonly session = randomUUID();
  private readonly key: string;
  private readonly hmacAlgorithm: string;
  private readonly seen = new SignatureHistory();

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

  /**
   * The message in `frames`, or null when it must be dropped (logged here): no delimiter, a bad or
   * replayed signature, or no usable header (without msg_id and msg_type no reply is possible). A message
   * with a usable header whose other parts are wrong comes back with `problem` set, for an error reply.
   */
  parse(frames: Buffer[], socket: RequestChannel): Incoming | null {
    const drop = (why: string) => {
      this.log(`aigc-lab kernel: dropped a ${socket} message: ${why}\n`);
      return null;
    };
    const i = frames.findIndex((f) => f.equals(DELIM));
    if (i < 0) return drop("no <IDS|MSG> delimiter");
    const sig = frames[i + 1];
    if (sig === undefined) return drop("the signature frame is missing");
    // The signature covers the four parts; extra frames after them are binary buffers.
    const parts = frames.slice(i + 2, i + 6);
    if (this.key) {
      const expected = Buffer.from(this.sign(parts));
      if (sig.length !== expected.length || !timingSafeEqual(sig, expected)) return drop("bad signature");
      // As jupyter_client's Session does: a signature seen before is a replayed message.
      if (this.seen.check(sig.toString("latin1"))) {
        this.log(`aigc-lab kernel: dropped a replayed ${socket} message (its signature was seen before)\n`);
        return null;
      }
    }
    const [headerFrame, ...rest] = parts;
    if (headerFrame === undefined) return drop("the header frame is missing");
    const header = parseJson(headerFrame);
    if (header.error) return drop(`header is not JSON (${header.error})`);
    const headerIssue = headerProblem(header.value);
    if (headerIssue) return drop(headerIssue);
    const msg: Incoming = { identities: frames.slice(0, i), header: header.value as Header, parent: {}, metadata: {}, content: {}, socket, buffers: frames.slice(i + 6) };
    const names = ["parent_header", "metadata", "content"] as const;
    const values: Record<string, unknown>[] = [];
    for (let k = 0; k < names.length; k++) {
      const frame = rest[k];
      if (frame === undefined) return { ...msg, problem: `the ${names[k]} frame is missing` };
      const part = parseJson(frame);
      if (part.error) return { ...msg, problem: `${names[k]} is not JSON (${part.error})` };
      const issue = objectProblem(names[k]!, part.value);
      if (issue) return { ...msg, problem: issue };
      values.push(part.value as Record<string, unknown>);
    }
    const [parent, metadata, content] = values as [Record<string, unknown>, Record<string, unknown>, Record<string, any>];
    const issue = contentProblem(msg.header.msg_type, content);
    return { ...msg, parent, metadata, content, ...(issue ? { problem: issue } : {}) };
  }

  header(msgType: string): Header {
    return { msg_id: randomUUID(), msg_type: msgType, session: this.session, username: "kernel", date: new Date().toISOString(), version: PROTOCOL_VERSION };
  }

  /** The frames of a message; `buffers` follow the signed parts unsigned, as the protocol has it. */
  frames(prefix: Buffer[], msgType: string, content: unknown, parent: Header | null, metadata: Record<string, unknown> = {}, buffers: Uint8Array[] = []): Buffer[] {
    const parts = [this.header(msgType), parent ?? {}, metadata, content].map((x) => Buffer.from(JSON.stringify(x)));
    return [...prefix, DELIM, Buffer.from(this.sign(parts)), ...parts, ...buffers.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength))];
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
