/** Types for markdown-it-texmath 1.x, which ships none: a markdown-it plugin (the options the report uses). */
declare module "markdown-it-texmath" {
  import type MarkdownIt from "markdown-it";
  interface TexmathOptions {
    /** The math engine, e.g. the katex module. */
    engine?: { renderToString(tex: string, options?: object): string };
    /** Delimiter sets: "dollars", "brackets", "doxygen", ... */
    delimiters?: string | string[];
    katexOptions?: Record<string, unknown>;
    outerSpace?: boolean;
  }
  /** One delimiter rule: `rex` (sticky) captures the TeX; the rest is passed through as texmath defines it. */
  interface TexmathRule {
    name: string;
    rex: RegExp;
    [key: string]: unknown;
  }
  interface TexmathStatic {
    /** The delimiter sets by name; a set added here can be named in `delimiters`. */
    rules: Record<string, { inline: TexmathRule[]; block: TexmathRule[] }>;
  }
  const texmath: MarkdownIt.PluginWithOptions<TexmathOptions> & TexmathStatic;
  export = texmath;
}
