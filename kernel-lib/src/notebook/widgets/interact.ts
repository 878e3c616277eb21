/**
 * `interact(render, controls)`: one rendering (a chart, an image grid, a tensor, text: anything a cell's
 * last value may be) redrawn when a control changes, debounced, with what each render makes disposed.
 * The cell shows the rendering for the controls' first values as a normal output (so nbconvert, the HTML
 * reports and clients without widgets show the lesson complete), then the controls with their live
 * output. Taught in notebooks/02-transformer.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { sendDisplay } from "../display";
import { isTensor, resultBundle } from "../rich";
import { Box, Control, Output, WidgetOutput } from "./controls";

/** The values of a record of controls, typed. */
export type ValuesOf<C extends Record<string, Control<unknown>>> = { [K in keyof C]: C[K] extends Control<infer T> ? T : never };

export interface InteractOptions {
  /** Milliseconds without a change before the output is redrawn. Default 150. */
  debounceMs?: number;
}

/** What `interact` returns: the widgets, and ways for a test to wait for and count renders. */
export interface Interaction<C extends Record<string, Control<unknown>>> {
  readonly controls: C;
  readonly output: Output;
  readonly box: Box;
  /** The controls' current values. */
  values(): ValuesOf<C>;
  /** Renders done so far (the first, static one included). */
  readonly renders: number;
  /** Resolves once no render is due or running. */
  idle(): Promise<void>;
  /** Stops watching the controls and closes the widgets. */
  close(): void;
}

function newTensorsIn(value: unknown, firstId: number): tf.Tensor[] {
  const found: tf.Tensor[] = [];
  const seen = new Set<unknown>();
  const walk = (v: unknown): void => {
    if (!v || typeof v !== "object" || seen.has(v)) return;
    seen.add(v);
    if (isTensor(v)) {
      if (v.id >= firstId && !v.isDisposed) found.push(v);
      return;
    }
    for (const x of Array.isArray(v) ? v : Object.values(v)) walk(x);
  };
  walk(value);
  return found;
}

/**
 * Runs `render` once inside tf.tidy and turns its value into a display bundle; the tensors the value holds
 * that the render made are disposed once drawn (tensors it only passes on, made earlier, are kept).
 */
export async function renderOnce<V>(render: (values: V) => unknown, values: V): Promise<WidgetOutput> {
  const mark = tf.scalar(0);
  const firstId = mark.id;
  mark.dispose();
  let value: unknown;
  try {
    value = tf.tidy(() => render(values) as tf.TensorContainer);
    // Text is shown as it is, not as a quoted string literal.
    const bundle = typeof value === "string" ? { data: { "text/plain": value }, metadata: {} } : await resultBundle(value);
    return { output_type: "display_data", data: bundle?.data ?? { "text/plain": "" }, metadata: bundle?.metadata ?? {} };
  } catch (e) {
    return { output_type: "stream", name: "stderr", text: `render failed: ${e instanceof Error ? e.message : String(e)}\n` };
  } finally {
    tf.dispose(newTensorsIn(value, firstId));
  }
}

/**
 * Shows `render(values)` for the controls' values now, as a normal output, then the controls above a live
 * output that `render` redraws (debounced) whenever one changes. `render` runs synchronously inside
 * tf.tidy. Where no front end answers (nbconvert, `npm start`), the cell still ends at once.
 */
export async function interact<C extends Record<string, Control<unknown>>>(render: (values: ValuesOf<C>) => unknown, controls: C, options: InteractOptions = {}): Promise<Interaction<C>> {
  const debounceMs = options.debounceMs ?? 150;
  const values = () => Object.fromEntries(Object.entries(controls).map(([k, c]) => [k, c.value])) as ValuesOf<C>;
  const first = await renderOnce(render, values());
  if (first.output_type === "display_data") sendDisplay({ data: first.data, metadata: first.metadata });
  else process.stderr.write(first.text);
  const output = new Output([first]);
  const box = new Box([...Object.values(controls), output]);
  const lines = Object.values(controls).map((c) => c.describe());
  // What a client without widgets shows in place of the controls.
  box.display(`[controls: ${lines.join("; ")}; as sliders in JupyterLab, Notebook 7 or VS Code, which redraw the output]`);

  let renders = 1;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running: Promise<void> | null = null;
  let due = false;
  const waiters: (() => void)[] = [];
  const settle = () => {
    if (timer === null && running === null && !due) for (const w of waiters.splice(0)) w();
  };
  const run = (): void => {
    timer = null;
    if (running) {
      due = true;
      return;
    }
    due = false;
    running = renderOnce(render, values()).then((out) => {
      renders++;
      if (!output.closed) output.show([out]);
      running = null;
      if (due) run();
      else settle();
    });
  };
  const schedule = (): void => {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(run, debounceMs);
  };
  const stops = Object.values(controls).map((c) => c.onChange(schedule));
  return {
    controls,
    output,
    box,
    values,
    get renders() {
      return renders;
    },
    idle: () => new Promise<void>((resolve) => {
      waiters.push(resolve);
      settle();
    }),
    close: () => {
      for (const s of stops) s();
      if (timer !== null) clearTimeout(timer);
      timer = null;
      box.close();
      output.close();
      settle();
    },
  };
}
