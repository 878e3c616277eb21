/** The Jupyter messaging protocol's message header (version 5.3), shared by our kernel and our client. */
export interface Header {
  msg_id: string;
  msg_type: string;
  session: string;
  username: string;
  date: string;
  version: string;
}
