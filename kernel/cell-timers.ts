/**
 * Each cell's timers, so that an interrupt can stop a cell's async code: the global setTimeout,
 * setInterval and setImmediate, called from a cell's code or from anything it started (its callbacks and
 * awaits carry the cell's AsyncLocalStorage context), are tracked per cell. Cancelling a cell clears its
 * pending timers (an await on one never resumes) and makes every timer it asks for afterwards throw
 * {@link CellInterruptedError} (so `await new Promise((r) => setTimeout(r, 10))` rejects). Calls from
 * outside any cell (the kernel itself) go straight to Node's timers.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { promisify } from "node:util";

type Timer = NodeJS.Timeout | NodeJS.Immediate;

/** What an interrupted cell's code gets when it asks for a timer after the interrupt. */
export class CellInterruptedError extends Error {
  constructor(label: string) {
    super(`${label} was interrupted: its code cannot start new timers`);
    this.name = "Interrupted";
  }
}

/** The timers of one cell run. */
export class CellScope {
  cancelled = false;
  readonly timeouts = new Set<NodeJS.Timeout>();
  readonly intervals = new Set<NodeJS.Timeout>();
  readonly immediates = new Set<NodeJS.Immediate>();
  constructor(readonly label: string) {}

  get pending(): number {
    return this.timeouts.size + this.intervals.size + this.immediates.size;
  }
}

/** Node's own timers, as they were before {@link installCellTimers}. */
export const nodeTimers = {
  setTimeout: globalThis.setTimeout,
  clearTimeout: globalThis.clearTimeout,
  setInterval: globalThis.setInterval,
  clearInterval: globalThis.clearInterval,
  setImmediate: globalThis.setImmediate,
  clearImmediate: globalThis.clearImmediate,
};

const storage = new AsyncLocalStorage<CellScope>();
const owners = new WeakMap<Timer, CellScope>();

/** Runs `fn` (a cell's script) in `scope`: the timers it and its continuations ask for belong to the cell. */
export function runInCell<T>(scope: CellScope, fn: () => T): T {
  return storage.run(scope, fn);
}

/** Clears the cell's pending timers and refuses it new ones. */
export function cancelCell(scope: CellScope): void {
  scope.cancelled = true;
  for (const t of scope.timeouts) nodeTimers.clearTimeout(t);
  for (const t of scope.intervals) nodeTimers.clearInterval(t);
  for (const t of scope.immediates) nodeTimers.clearImmediate(t);
  scope.timeouts.clear();
  scope.intervals.clear();
  scope.immediates.clear();
}

/** The scope a timer is asked for in; throws when that cell was cancelled. */
function scopeForNewTimer(): CellScope | undefined {
  const scope = storage.getStore();
  if (scope?.cancelled) throw new CellInterruptedError(scope.label);
  return scope;
}

function forget(timer: unknown): void {
  if (typeof timer !== "object" || timer === null) return;
  const scope = owners.get(timer as Timer);
  if (!scope) return;
  scope.timeouts.delete(timer as NodeJS.Timeout);
  scope.intervals.delete(timer as NodeJS.Timeout);
  scope.immediates.delete(timer as NodeJS.Immediate);
}

let installed = false;

/** Replaces the global timer functions with tracking ones (once per process). */
export function installCellTimers(): void {
  if (installed) return;
  installed = true;
  type Callback = (...args: unknown[]) => void;

  const setTimeoutTracked = function (callback: Callback, ms?: number, ...args: unknown[]): NodeJS.Timeout {
    const scope = scopeForNewTimer();
    if (!scope || typeof callback !== "function") return nodeTimers.setTimeout(callback, ms, ...args);
    const timer: NodeJS.Timeout = nodeTimers.setTimeout(function (this: unknown, ...a: unknown[]) {
      scope.timeouts.delete(timer);
      callback.apply(this, a);
    }, ms, ...args);
    scope.timeouts.add(timer);
    owners.set(timer, scope);
    return timer;
  };
  const setIntervalTracked = function (callback: Callback, ms?: number, ...args: unknown[]): NodeJS.Timeout {
    const scope = scopeForNewTimer();
    if (!scope || typeof callback !== "function") return nodeTimers.setInterval(callback, ms, ...args);
    const timer = nodeTimers.setInterval(callback, ms, ...args);
    scope.intervals.add(timer);
    owners.set(timer, scope);
    return timer;
  };
  const setImmediateTracked = function (callback: Callback, ...args: unknown[]): NodeJS.Immediate {
    const scope = scopeForNewTimer();
    if (!scope || typeof callback !== "function") return nodeTimers.setImmediate(callback, ...args);
    const timer: NodeJS.Immediate = nodeTimers.setImmediate(function (this: unknown, ...a: unknown[]) {
      scope.immediates.delete(timer);
      callback.apply(this, a);
    }, ...args);
    scope.immediates.add(timer);
    owners.set(timer, scope);
    return timer;
  };
  // util.promisify(setTimeout) and (setImmediate) keep working (untracked, as timers/promises is).
  for (const [tracked, original] of [
    [setTimeoutTracked, nodeTimers.setTimeout],
    [setImmediateTracked, nodeTimers.setImmediate],
  ] as const) {
    Object.defineProperty(tracked, promisify.custom, { value: (original as unknown as Record<symbol, unknown>)[promisify.custom] });
  }
  const g = globalThis as unknown as Record<string, unknown>;
  g["setTimeout"] = setTimeoutTracked;
  g["setInterval"] = setIntervalTracked;
  g["setImmediate"] = setImmediateTracked;
  g["clearTimeout"] = (t: unknown) => {
    forget(t);
    nodeTimers.clearTimeout(t as NodeJS.Timeout);
  };
  g["clearInterval"] = (t: unknown) => {
    forget(t);
    nodeTimers.clearInterval(t as NodeJS.Timeout);
  };
  g["clearImmediate"] = (t: unknown) => {
    forget(t);
    nodeTimers.clearImmediate(t as NodeJS.Immediate);
  };
}
