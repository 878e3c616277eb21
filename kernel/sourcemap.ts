/**
 * Just enough of source maps (v3) to map a runtime error back to a cell line: decode the mappings and
 * look a generated position up. A cell goes through two compilations (tslab's emit of the cell as an ES
 * module, then a re-transpile to CommonJS), so the kernel keeps both maps and looks positions up
 * through one and then the other.
 */

/** A 0-based position. */
export interface Position {
  line: number;
  column: number;
}

/** One mapping segment: generated column -> original line and column (all 0-based). */
interface Segment {
  column: number;
  sourceLine: number;
  sourceColumn: number;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64_VALUE = new Map<string, number>([...BASE64].map((c, i) => [c, i]));

/** Decodes one segment's base64 VLQ fields. */
export function decodeVlq(segment: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const c of segment) {
    const digit = BASE64_VALUE.get(c);
    if (digit === undefined) throw new Error(`source map: bad VLQ character "${c}"`);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      // The lowest bit is the sign.
      values.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return values;
}

/** A decoded single-source map: for each generated line, its segments sorted by column. */
export class SourceMap {
  private readonly lines: Segment[][];

  constructor(mappings: string) {
    this.lines = [];
    // Source line and column are deltas across the whole map; the generated column restarts per line.
    let sourceLine = 0;
    let sourceColumn = 0;
    for (const lineText of mappings.split(";")) {
      const segments: Segment[] = [];
      let column = 0;
      for (const text of lineText.split(",")) {
        if (text === "") continue;
        const f = decodeVlq(text);
        column += f[0] ?? 0;
        if (f.length < 4) continue;
        sourceLine += f[2]!;
        sourceColumn += f[3]!;
        segments.push({ column, sourceLine, sourceColumn });
      }
      segments.sort((a, b) => a.column - b.column);
      this.lines.push(segments);
    }
  }

  /** Parses a source map's JSON text. */
  static fromJson(json: string): SourceMap {
    const parsed = JSON.parse(json) as { version?: number; mappings?: unknown };
    if (parsed.version !== 3 || typeof parsed.mappings !== "string") throw new Error("source map: not a version 3 map with mappings");
    return new SourceMap(parsed.mappings);
  }

  /**
   * The original position of a generated one: the last segment at or before the column on that line
   * (or the line's first segment when the column comes before it); null when the line has no mapping.
   */
  originalPosition(pos: Position): Position | null {
    const segments = this.lines[pos.line];
    if (!segments || segments.length === 0) return null;
    let best = segments[0]!;
    for (const s of segments) {
      if (s.column > pos.column) break;
      best = s;
    }
    return { line: best.sourceLine, column: best.sourceColumn };
  }
}

const INLINE_MAP = /\n?\/\/# sourceMappingURL=data:application\/json;(?:charset=utf-8;)?base64,([A-Za-z0-9+/=]+)\s*$/;

/** Splits JavaScript ending in an inline source map comment into the code and the decoded map. */
export function splitInlineSourceMap(js: string): { code: string; map: SourceMap | null } {
  const m = INLINE_MAP.exec(js);
  if (!m) return { code: js, map: null };
  return { code: js.slice(0, m.index), map: SourceMap.fromJson(Buffer.from(m[1]!, "base64").toString("utf8")) };
}

/** Removes a trailing `//# sourceMappingURL=...` comment that names a file. */
export function stripSourceMapComment(js: string): string {
  return js.replace(/\n?\/\/# sourceMappingURL=[^\n]*\s*$/, "");
}

/** Maps through several maps in turn (generated -> intermediate -> original); null if any step has no mapping. */
export function mapThrough(pos: Position, maps: SourceMap[]): Position | null {
  let p: Position | null = pos;
  for (const m of maps) {
    if (!p) return null;
    p = m.originalPosition(p);
  }
  return p;
}
