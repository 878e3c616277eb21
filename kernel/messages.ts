/**
 * The Jupyter messaging protocol's (version 5.3) header and, as our client sees it, a whole message on a
 * channel; shared by the kernel (kernel/server.ts) and the client (kernel/client.ts).
 */

/** The header of a message. */
export interface Header {
  msg_id: string;
  msg_type: string;
  session: string;
  username: string;
  date: string;
  version: string;
}

/** The channels a client sends on (iopub only receives). */
export type Channel = "shell" | "control" | "stdin";

/** A message as the client decodes it, with the channel it came on. */
export interface Message {
  header: Header;
  parent_header: Partial<Header>;
  metadata: Record<string, unknown>;
  content: Record<string, any>;
  channel: Channel | "iopub";
}
