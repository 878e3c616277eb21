/**
 * Checking the parts of a received message before anything uses them: the header (an object with string
 * msg_id and msg_type), parent_header, metadata and content (JSON objects), and the content fields the
 * kernel reads for each request type. Each check gives a problem naming the field, or null when fine.
 */

/** How a JSON value is described in a problem: "null", "an array", "a number", ... */
export function describeJson(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `${/^[aeiou]/.test(typeof value) ? "an" : "a"} ${typeof value}`;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A problem with one of the message's parts that must be a JSON object; null when it is one. */
export function objectProblem(name: string, value: unknown): string | null {
  return isPlainObject(value) ? null : `${name} is ${describeJson(value)}, expected a JSON object`;
}

const HEADER_STRINGS = ["session", "username", "date", "version"] as const;

/** A problem with the header; null when it has the string msg_id and msg_type a reply needs. */
export function headerProblem(header: unknown): string | null {
  const problem = objectProblem("header", header);
  if (problem) return problem;
  const h = header as Record<string, unknown>;
  for (const field of ["msg_id", "msg_type"] as const) {
    if (h[field] === undefined) return `header.${field} is missing`;
    if (typeof h[field] !== "string" || h[field] === "") return `header.${field} is ${h[field] === "" ? "empty" : describeJson(h[field])}, expected a non-empty string`;
  }
  for (const field of HEADER_STRINGS) {
    if (h[field] !== undefined && typeof h[field] !== "string") return `header.${field} is ${describeJson(h[field])}, expected a string`;
  }
  return null;
}

type FieldKind = "string" | "boolean" | "cursor" | "object";

/** The content fields the kernel reads, per request type: required ones first. */
const CONTENT_FIELDS: Record<string, { required: Record<string, FieldKind>; optional: Record<string, FieldKind> }> = {
  execute_request: { required: { code: "string" }, optional: { silent: "boolean", store_history: "boolean", allow_stdin: "boolean", stop_on_error: "boolean" } },
  complete_request: { required: { code: "string", cursor_pos: "cursor" }, optional: {} },
  inspect_request: { required: { code: "string", cursor_pos: "cursor" }, optional: {} },
  is_complete_request: { required: { code: "string" }, optional: {} },
  shutdown_request: { required: {}, optional: { restart: "boolean" } },
  comm_info_request: { required: {}, optional: { target_name: "string" } },
  // Comm messages come from either side and get no reply: a bad one is dropped with a log line.
  comm_open: { required: { comm_id: "string", target_name: "string" }, optional: { data: "object" } },
  comm_msg: { required: { comm_id: "string" }, optional: { data: "object" } },
  comm_close: { required: { comm_id: "string" }, optional: { data: "object" } },
};

function fieldProblem(name: string, value: unknown, kind: FieldKind): string | null {
  if (kind === "cursor") {
    return typeof value === "number" && Number.isInteger(value) && value >= 0 ? null : `content.${name} is ${describeJson(value)}${typeof value === "number" ? ` (${value})` : ""}, expected a non-negative integer`;
  }
  if (kind === "object") return isPlainObject(value) ? null : `content.${name} is ${describeJson(value)}, expected a JSON object`;
  return typeof value === kind ? null : `content.${name} is ${describeJson(value)}, expected a ${kind}`;
}

/** A problem with the content fields a request of `msgType` needs (content is already an object). */
export function contentProblem(msgType: string, content: Record<string, unknown>): string | null {
  const fields = CONTENT_FIELDS[msgType];
  if (!fields) return null;
  for (const [name, kind] of Object.entries(fields.required)) {
    if (content[name] === undefined) return `content.${name} is missing`;
    const problem = fieldProblem(name, content[name], kind);
    if (problem) return problem;
  }
  for (const [name, kind] of Object.entries(fields.optional)) {
    if (content[name] === undefined) continue;
    const problem = fieldProblem(name, content[name], kind);
    if (problem) return problem;
  }
  return null;
}
