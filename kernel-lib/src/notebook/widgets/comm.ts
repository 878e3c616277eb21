/**
 * The comms the aigc-lab kernel offers (kernel/comms.ts), as kernel-lib sees them on the kernel hooks, and
 * the binary-buffer split of widget state (ipywidgets' `_remove_buffers` / `_put_buffers`: a Uint8Array
 * anywhere in the state travels as a buffer frame, named by its path). Outside that kernel (plain tslab,
 * a script, a test) there are no comms and widgets stay local. Taught in notebooks/02-transformer.ipynb.
 */
import { kernelHooks } from "../display";

/** A comm message from the front end. */
export interface CommMessage {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  buffers: Uint8Array[];
  header: { msg_id: string; msg_type: string };
}

export interface SendOptions {
  metadata?: Record<string, unknown>;
  buffers?: Uint8Array[];
}

/** One open comm. */
export interface CommHandle {
  readonly commId: string;
  readonly targetName: string;
  send(data: Record<string, unknown>, options?: SendOptions): void;
  close(data?: Record<string, unknown>): void;
  onMsg: ((msg: CommMessage) => void) | null;
  onClose: ((msg: CommMessage) => void) | null;
}

/** The kernel's comm hooks (`comms` on the kernel hooks). */
export interface KernelComms {
  open(targetName: string, data: Record<string, unknown>, options?: SendOptions & { commId?: string }): CommHandle;
  registerTarget(targetName: string, onOpen: (comm: CommHandle, msg: CommMessage) => void): void;
  openIds(): string[];
}

/** The kernel's comms, when this code runs in the aigc-lab kernel (or a test installs fake hooks). */
export function kernelComms(): KernelComms | undefined {
  return (kernelHooks() as { comms?: KernelComms } | undefined)?.comms;
}

/** A path into a state object: keys and list indices. */
export type BufferPath = (string | number)[];

/**
 * Splits binary values out of `state`: returns a copy without them (a list entry becomes null, an object
 * key is left out), their paths and the buffers, in the same order.
 */
export function removeBuffers(state: Record<string, unknown>): { state: Record<string, unknown>; bufferPaths: BufferPath[]; buffers: Uint8Array[] } {
  const bufferPaths: BufferPath[] = [];
  const buffers: Uint8Array[] = [];
  const walk = (value: unknown, path: BufferPath): unknown => {
    if (value instanceof Uint8Array) {
      bufferPaths.push(path);
      buffers.push(value);
      return null;
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i]));
    if (value && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        const w = walk(v, [...path, k]);
        if (!(v instanceof Uint8Array)) out[k] = w;
      }
      return out;
    }
    return value;
  };
  return { state: walk(state, []) as Record<string, unknown>, bufferPaths, buffers };
}

/** Puts `buffers` back into `state` at `bufferPaths` (in place); throws on a path that does not fit. */
export function putBuffers(state: Record<string, unknown>, bufferPaths: unknown, buffers: Uint8Array[]): void {
  if (bufferPaths === undefined) return;
  if (!Array.isArray(bufferPaths) || bufferPaths.length !== buffers.length) {
    throw new TypeError(`buffer_paths names ${Array.isArray(bufferPaths) ? bufferPaths.length : "no list of"} paths for ${buffers.length} buffers`);
  }
  bufferPaths.forEach((path, i) => {
    if (!Array.isArray(path) || path.length === 0) throw new TypeError(`buffer_paths[${i}] is not a non-empty path`);
    let node: Record<string | number, unknown> = state;
    for (const key of path.slice(0, -1)) {
      const next = node[key as string];
      if (!next || typeof next !== "object") throw new TypeError(`buffer_paths[${i}] = ${JSON.stringify(path)} does not fit the state`);
      node = next as Record<string | number, unknown>;
    }
    node[path[path.length - 1] as string] = buffers[i];
  });
}
