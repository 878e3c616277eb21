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
  const texmath: MarkdownIt.PluginWithOptions<TexmathOptions>;
  export = texmath;
}
