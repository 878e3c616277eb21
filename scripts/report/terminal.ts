/**
 * Terminal progress for `npm start`: permanent lines (cell k of n done, in how long) and, on a TTY, one
 * status line rewritten in place (the running cell, its elapsed time and the lesson's latest progress
 * line). Without a TTY (CI logs) the status is not drawn; progress lines are printed now and then instead.
 */

/** Seconds as m:ss (or h:mm:ss). */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const pad = (x: number) => String(x).padStart(2, "0");
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** Where `npm start` writes; a TTY gets a live status line. */
export class Terminal {
  private statusLine = "";

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    readonly tty: boolean = out.isTTY === true,
  ) {}

  private clearStatus(): void {
    if (this.tty && this.statusLine) this.out.write("\r\x1b[K");
  }

  private drawStatus(): void {
    if (!this.tty || !this.statusLine) return;
    const width = Math.max(20, (this.out.columns || 100) - 1);
    const line = this.statusLine.length > width ? this.statusLine.slice(0, width - 1) + "…" : this.statusLine;
    this.out.write(line);
  }

  /** Prints a permanent line (the status line, if any, is redrawn below it). */
  log(line: string): void {
    this.clearStatus();
    this.out.write(line + "\n");
    this.drawStatus();
  }

  /** Replaces the status line (drawn only on a TTY). */
  status(line: string): void {
    if (!this.tty) return;
    this.clearStatus();
    this.statusLine = line;
    this.drawStatus();
  }

  /** Removes the status line. */
  endStatus(): void {
    this.clearStatus();
    this.statusLine = "";
  }
}
