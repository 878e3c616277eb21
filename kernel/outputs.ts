/**
 * nbformat 4 outputs, and the collector that turns a cell's iopub messages into them the way nbclient does
 * (update_display_data rewrites every output with that display id in place). Used by the notebook runner
 * (kernel/runner.ts) through the client (kernel/client.ts).
 */
import type { Message } from "./messages";

/** nbformat 4 output. */
export type Output =
  | { output_type: "stream"; name: string; text: string }
  | { output_type: "display_data"; data: Record<string, unknown>; metadata: Record<string, unknown> }
  | { output_type: "execute_result"; execution_count: number | null; data: Record<string, unknown>; metadata: Record<string, unknown> }
  | { output_type: "error"; ename: string; evalue: string; traceback: string[] };

/** Tracks outputs the way nbclient does: update_display_data rewrites every output with that display id. */
export class OutputCollector {
  readonly outputs: Output[] = [];
  private readonly byDisplayId = new Map<string, Output[]>();
  private clearPending = false;

  constructor(private readonly shared?: Map<string, Output[]>) {}

  private displays(): Map<string, Output[]> {
    return this.shared ?? this.byDisplayId;
  }

  add(msg: Message): void {
    const c = msg.content;
    const type = msg.header.msg_type;
    if (this.clearPending && ["stream", "display_data", "execute_result", "error"].includes(type)) {
      this.outputs.length = 0;
      this.clearPending = false;
    }
    switch (type) {
      case "stream": {
        const last = this.outputs[this.outputs.length - 1];
        if (last && last.output_type === "stream" && last.name === c.name) last.text += c.text;
        else this.outputs.push({ output_type: "stream", name: c.name, text: c.text });
        break;
      }
      case "display_data": {
        const out: Output = { output_type: "display_data", data: c.data ?? {}, metadata: c.metadata ?? {} };
        this.outputs.push(out);
        const id = c.transient?.display_id;
        if (typeof id === "string") {
          const list = this.displays().get(id) ?? [];
          list.push(out);
          this.displays().set(id, list);
        }
        break;
      }
      case "update_display_data": {
        const id = c.transient?.display_id;
        for (const out of (typeof id === "string" && this.displays().get(id)) || []) {
          if (out.output_type === "display_data") {
            out.data = c.data ?? {};
            out.metadata = c.metadata ?? {};
          }
        }
        break;
      }
      case "execute_result":
        this.outputs.push({ output_type: "execute_result", execution_count: c.execution_count ?? null, data: c.data ?? {}, metadata: c.metadata ?? {} });
        break;
      case "error":
        this.outputs.push({ output_type: "error", ename: String(c.ename ?? ""), evalue: String(c.evalue ?? ""), traceback: (c.traceback ?? []).map(String) });
        break;
      case "clear_output":
        if (c.wait) this.clearPending = true;
        else this.outputs.length = 0;
        break;
    }
  }
}
