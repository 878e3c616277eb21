/**
 * What a lesson must not show a learner (issue 17, section 5): messages meant for developers, in a cell's
 * source or in its output. Used by checks/lesson-text.test.ts (sources) and checks/notebooks.test.ts (the
 * outputs of the executed lessons).
 */
const DEVELOPER_ONLY: [RegExp, string][] = [
  [/\bflock\b/, "a lock-file command (flock)"],
  [/\/tmp\//, "a scratch path under /tmp/"],
  [/\/work\//, "a path of the development machine (/work/)"],
];

/** What in the texts is meant for developers: "<label>: <what>" per finding. */
export function developerMessagesIn(texts: { label: string; text: string }[]): string[] {
  const found: string[] = [];
  for (const { label, text } of texts) for (const [re, what] of DEVELOPER_ONLY) if (re.test(text)) found.push(`${label}: ${what}`);
  return found;
}

/** The same over notebook cells' sources: "cell N: <what>" per finding. */
export function developerMessages(cells: { source: string | string[] }[]): string[] {
  return developerMessagesIn(cells.map((c, i) => ({ label: `cell ${i + 1}`, text: Array.isArray(c.source) ? c.source.join("") : c.source })));
}
