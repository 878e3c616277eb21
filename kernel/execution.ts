/**
 * Running an execute_request: the execution count, execute_input, the cell run by the engine, its
 * execute_result or error on iopub and the execute_reply; interrupts of the running cell.
 */
import { CommHooks } from "./comms";
import { CellEngine, CellOutcome } from "./engine";
import { Iopub } from "./iopub";
import { resultBundle } from "./results";
import { Incoming } from "./wire";

/** What the kernel installs for kernel-lib (see kernel-lib/src/notebook/display.ts, KernelHooks). */
export interface KernelHooks {
  display(content: Parameters<Iopub["display"]>[0], update: boolean): void;
  interruptRequested: boolean;
  /** Comms with the front end (kernel/comms.ts); kernel-lib's widgets use them. */
  comms: CommHooks;
}

export interface ExecutionOptions {
  engine: CellEngine;
  iopub: Iopub;
  rootDir: string;
  reply: (req: Incoming, msgType: string, content: Record<string, unknown>, metadata?: Record<string, unknown>) => void;
  /** Aborts the execute requests already queued on shell (after a failed cell with stop_on_error). */
  abortQueued: () => Promise<void>;
  comms: CommHooks;
}

export class Execution {
  private executionCount = 0;
  private running = false;
  readonly hooks: KernelHooks;

  constructor(private readonly options: ExecutionOptions) {
    this.hooks = {
      display: (content, update) => options.iopub.display(content, update),
      interruptRequested: false,
      comms: options.comms,
    };
  }

  async execute(msg: Incoming): Promise<void> {
    const { engine, iopub } = this.options;
    const c = msg.content;
    // kernel/validate.ts has checked the types: code is a string, the flags booleans when present.
    const code: string = c.code;
    const silent = c.silent === true;
    const storeHistory = silent ? false : c.store_history !== false;
    if (storeHistory) this.executionCount++;
    const count = this.executionCount;
    iopub.outputParent = msg.header;
    this.hooks.interruptRequested = false;
    if (!silent) iopub.publish("execute_input", { code, execution_count: count }, msg.header);
    const started = new Date().toISOString();
    this.running = true;
    let outcome: CellOutcome;
    try {
      outcome = await engine.run(code, `In[${count}]`);
    } finally {
      this.running = false;
    }
    if (outcome.status === "ok") {
      if (outcome.result && !silent) {
        const bundle = await resultBundle(outcome.result.value, this.options.rootDir, (e) =>
          iopub.writeStream("stderr", `(kernel-lib could not display the result: ${e instanceof Error ? e.message : String(e)})\n`),
        );
        iopub.publish("execute_result", { execution_count: count, data: bundle.data, metadata: bundle.metadata }, msg.header);
      }
      this.options.reply(msg, "execute_reply", { status: "ok", execution_count: count, user_expressions: {}, payload: [] }, { started, status: "ok" });
      return;
    }
    const { ename, evalue, traceback } = outcome;
    if (!silent) iopub.publish("error", { ename, evalue, traceback, execution_count: count }, msg.header);
    if (c.stop_on_error !== false) await this.options.abortQueued();
    this.options.reply(msg, "execute_reply", { status: "error", execution_count: count, ename, evalue, traceback }, { started, status: "error" });
  }

  /**
   * SIGINT (or interrupt_request): raise the flag training loops poll between steps, and fail the
   * running cell's await; after a grace period the engine cancels the cell's timers (kernel/cell-timers.ts).
   * A synchronous loop that never awaits is stopped by V8 only while it runs as the cell's own top-level
   * code (tslab runs cells with breakOnSigint).
   */
  interrupt(): void {
    this.hooks.interruptRequested = true;
    if (this.running) this.options.engine.interrupt();
  }
}
