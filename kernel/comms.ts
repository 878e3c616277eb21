/**
 * Comms (the Jupyter messaging protocol's custom messages): comm_open, comm_msg and comm_close in both
 * directions, with binary buffers, the comm targets code in the kernel registers, and the answer to
 * comm_info_request. The kernel knows no widget: kernel-lib registers the `jupyter.widget` and
 * `jupyter.widget.control` targets through the hooks (kernel-lib/src/notebook/widgets/comm.ts) and speaks
 * the widget protocol itself; until it does, `jupyter.widget.control` answers that there are no widgets
 * (what JupyterLab's widget manager asks first when it connects). Messages from the front end are handled as they arrive, between cells and
 * while a cell awaits (kernel/dispatch.ts). Taught in notebooks/02-transformer.ipynb (its sliders).
 */
import { randomUUID } from "node:crypto";
import { Iopub } from "./iopub";
import { Header } from "./messages";
import { Incoming } from "./wire";

/** A comm message from the front end, as a comm's owner receives it. */
export interface CommMessage {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  buffers: Uint8Array[];
  header: Header;
}

export interface SendOptions {
  metadata?: Record<string, unknown>;
  buffers?: Uint8Array[];
}

/** One open comm, seen from the kernel side. */
export interface CommHandle {
  readonly commId: string;
  readonly targetName: string;
  /** Sends a comm_msg to the front end. */
  send(data: Record<string, unknown>, options?: SendOptions): void;
  /** Closes the comm (comm_close to the front end); later sends are dropped. */
  close(data?: Record<string, unknown>): void;
  /** Called with each comm_msg from the front end. */
  onMsg: ((msg: CommMessage) => void) | null;
  /** Called when the front end closes the comm. */
  onClose: ((msg: CommMessage) => void) | null;
}

/** What the kernel offers cells for comms (on the kernel hooks, as `comms`). */
export interface CommHooks {
  /** Opens a comm from the kernel: comm_open to the front end, to `targetName`. */
  open(targetName: string, data: Record<string, unknown>, options?: SendOptions & { commId?: string }): CommHandle;
  /** Makes comm_open messages from the front end to `targetName` call `onOpen`. */
  registerTarget(targetName: string, onOpen: (comm: CommHandle, msg: CommMessage) => void): void;
  /** The open comms' ids (for tests and for the widget control target). */
  openIds(): string[];
}

export const COMM_MESSAGES = new Set(["comm_open", "comm_msg", "comm_close"]);

class Comm implements CommHandle {
  onMsg: ((msg: CommMessage) => void) | null = null;
  onClose: ((msg: CommMessage) => void) | null = null;
  closed = false;

  constructor(
    readonly commId: string,
    readonly targetName: string,
    private readonly comms: Comms,
  ) {}

  send(data: Record<string, unknown>, options: SendOptions = {}): void {
    if (this.closed) return;
    this.comms.publish("comm_msg", { comm_id: this.commId, data }, options);
  }

  close(data: Record<string, unknown> = {}): void {
    if (this.closed) return;
    this.closed = true;
    this.comms.forget(this.commId);
    this.comms.publish("comm_close", { comm_id: this.commId, data }, {});
  }
}

/** The kernel's comms: the open ones by id, the targets, and the messages in both directions. */
export class Comms {
  private readonly open = new Map<string, Comm>();
  private readonly targets = new Map<string, (comm: CommHandle, msg: CommMessage) => void>();
  /** The front-end message being handled: what the kernel sends meanwhile is its answer (its parent). */
  private answering: Header | null = null;
  readonly hooks: CommHooks;

  constructor(
    private readonly iopub: Iopub,
    private readonly log: (text: string) => void,
  ) {
    this.hooks = {
      open: (targetName, data, options = {}) => {
        const comm = new Comm(options.commId ?? randomUUID().replace(/-/g, ""), targetName, this);
        this.open.set(comm.commId, comm);
        this.publish("comm_open", { comm_id: comm.commId, target_name: targetName, data }, options);
        return comm;
      },
      registerTarget: (targetName, onOpen) => void this.targets.set(targetName, onOpen),
      openIds: () => [...this.open.keys()],
    };
    this.hooks.registerTarget("jupyter.widget.control", (comm) => {
      comm.onMsg = (msg) => {
        if (msg.data["method"] === "request_states") comm.send({ method: "update_states", states: {}, buffer_paths: [] });
      };
    });
  }

  /** Sends on iopub with the parent the protocol wants: the front-end message being answered, else the cell. */
  publish(msgType: string, content: Record<string, unknown>, options: SendOptions): void {
    this.iopub.publish(msgType, content, this.answering ?? this.iopub.outputParent, options.buffers ?? [], options.metadata ?? {});
  }

  forget(commId: string): void {
    this.open.delete(commId);
  }

  /** comm_info_reply content: the open comms, of one target when `targetName` is given. */
  info(targetName?: string): Record<string, unknown> {
    const comms: Record<string, { target_name: string }> = {};
    for (const [id, c] of this.open) if (targetName === undefined || c.targetName === targetName) comms[id] = { target_name: c.targetName };
    return { status: "ok", comms };
  }

  /** A comm_open, comm_msg or comm_close from the front end (kernel/validate.ts checked the fields). */
  handle(msg: Incoming): void {
    const c = msg.content;
    const commId: string = c.comm_id;
    const message: CommMessage = { data: c.data ?? {}, metadata: msg.metadata, buffers: msg.buffers, header: msg.header };
    this.answering = msg.header;
    try {
      switch (msg.header.msg_type) {
        case "comm_open":
          return this.opened(commId, c.target_name, message);
        case "comm_msg": {
          const comm = this.open.get(commId);
          if (!comm) return this.log(`aigc-lab kernel: ignored a comm_msg for comm ${commId}, which is not open\n`);
          this.call(comm, "comm_msg", () => comm.onMsg?.(message));
          return;
        }
        case "comm_close": {
          const comm = this.open.get(commId);
          if (!comm) return this.log(`aigc-lab kernel: ignored a comm_close for comm ${commId}, which is not open\n`);
          comm.closed = true;
          this.open.delete(commId);
          this.call(comm, "comm_close", () => comm.onClose?.(message));
          return;
        }
      }
    } finally {
      this.answering = null;
    }
  }

  private opened(commId: string, targetName: string, message: CommMessage): void {
    if (this.open.has(commId)) return this.log(`aigc-lab kernel: ignored a comm_open for comm ${commId}, which is already open\n`);
    const onOpen = this.targets.get(targetName);
    if (!onOpen) {
      // As the protocol asks: an unknown target is answered with comm_close, so both sides agree it is closed.
      this.log(`aigc-lab kernel: no comm target ${JSON.stringify(targetName)}: closed comm ${commId}\n`);
      this.publish("comm_close", { comm_id: commId, data: {} }, {});
      return;
    }
    const comm = new Comm(commId, targetName, this);
    this.open.set(commId, comm);
    if (!this.call(comm, "comm_open", () => onOpen(comm, message))) comm.close();
  }

  /** Runs a comm owner's handler: what it throws is logged, never taken down the kernel. */
  private call(comm: Comm, what: string, fn: () => void): boolean {
    try {
      fn();
      return true;
    } catch (e) {
      this.log(`aigc-lab kernel: the ${what} handler of comm ${comm.commId} (${comm.targetName}) failed: ${e instanceof Error ? e.stack : String(e)}\n`);
      return false;
    }
  }
}
