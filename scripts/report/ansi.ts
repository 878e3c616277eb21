/**
 * ANSI escape sequences (as in tracebacks and coloured logs) to HTML: SGR colours, bold, dim, italic and
 * underline become spans with classes the report's CSS styles; every other escape sequence is dropped.
 */

const ESCAPE = /\x1b\[([0-9;?]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Za-z0-9]|\x1b[=>]/g;

const COLORS = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"];

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** Removes every ANSI escape sequence. */
export function stripAnsi(text: string): string {
  return text.replace(ESCAPE, "");
}

interface Style {
  fg: string | null;
  bg: string | null;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
}

const PLAIN: Style = { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false };

function applySgr(style: Style, params: string): Style {
  const codes = params === "" ? [0] : params.split(";").map((p) => Number(p || 0));
  let s = { ...style };
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]!;
    if (c === 0) s = { ...PLAIN };
    else if (c === 1) s.bold = true;
    else if (c === 2) s.dim = true;
    else if (c === 3) s.italic = true;
    else if (c === 4) s.underline = true;
    else if (c === 22) s.bold = s.dim = false;
    else if (c === 23) s.italic = false;
    else if (c === 24) s.underline = false;
    else if (c >= 30 && c <= 37) s.fg = COLORS[c - 30]!;
    else if (c >= 90 && c <= 97) s.fg = "bright-" + COLORS[c - 90]!;
    else if (c === 39) s.fg = null;
    else if (c >= 40 && c <= 47) s.bg = COLORS[c - 40]!;
    else if (c >= 100 && c <= 107) s.bg = "bright-" + COLORS[c - 100]!;
    else if (c === 49) s.bg = null;
    // 256-colour and true-colour forms carry extra parameters; skip them rather than misread them as codes.
    else if ((c === 38 || c === 48) && codes[i + 1] === 5) i += 2;
    else if ((c === 38 || c === 48) && codes[i + 1] === 2) i += 4;
  }
  return s;
}

function classesOf(s: Style): string[] {
  const classes: string[] = [];
  if (s.fg) classes.push(`ansi-fg-${s.fg}`);
  if (s.bg) classes.push(`ansi-bg-${s.bg}`);
  if (s.bold) classes.push("ansi-bold");
  if (s.dim) classes.push("ansi-dim");
  if (s.italic) classes.push("ansi-italic");
  if (s.underline) classes.push("ansi-underline");
  return classes;
}

/** Converts text with ANSI escapes to escaped HTML with styled spans. */
export function ansiToHtml(text: string): string {
  let html = "";
  let style = { ...PLAIN };
  let last = 0;
  const emit = (chunk: string) => {
    if (!chunk) return;
    const classes = classesOf(style);
    html += classes.length ? `<span class="${classes.join(" ")}">${escapeHtml(chunk)}</span>` : escapeHtml(chunk);
  };
  for (const m of text.matchAll(ESCAPE)) {
    emit(text.slice(last, m.index));
    last = m.index! + m[0].length;
    if (m[2] === "m") style = applySgr(style, m[1] ?? "");
  }
  emit(text.slice(last));
  return html;
}
