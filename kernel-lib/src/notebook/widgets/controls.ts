/**
 * Typed controls on ipywidgets 8's models (@jupyter-widgets/controls 2.0.0, @jupyter-widgets/base 2.0.0,
 * @jupyter-widgets/output 1.0.0): IntSlider, FloatSlider, Dropdown, Checkbox, Button, an Output area,
 * VBox / HBox, each with its Layout and style model as ipywidgets makes them. A control's `value` is typed;
 * what the front end sends is checked (a slider clamps to its range and refuses what is not a number).
 * Taught in notebooks/02-transformer.ipynb.
 */
import { WidgetModel, ref } from "./model";

const CONTROLS = "@jupyter-widgets/controls";
const BASE = "@jupyter-widgets/base";

function header(model: string, view: string, module = CONTROLS, version = "2.0.0", viewModule = module): Record<string, unknown> {
  return { _model_module: module, _model_module_version: version, _model_name: model, _view_module: viewModule, _view_module_version: version, _view_name: view };
}

function layoutModel(): WidgetModel {
  return new WidgetModel(header("LayoutModel", "LayoutView", BASE));
}

function styleModel(name: string, extra: Record<string, unknown> = {}): WidgetModel {
  return new WidgetModel({ ...header(name, "StyleView"), _view_module: BASE, description_width: "", ...extra });
}

/** A widget with a view: the state every DOM widget has, its layout and (when it has one) its style. */
export class DomWidget extends WidgetModel {
  constructor(model: string, view: string, state: Record<string, unknown>, style: WidgetModel | null, coerce?: (key: string, value: unknown) => unknown, module = CONTROLS, version = "2.0.0") {
    const layout = layoutModel();
    super({ ...header(model, view, module, version), _dom_classes: [], tabbable: null, tooltip: null, layout: ref(layout), ...(style ? { style: ref(style) } : {}), ...state }, coerce);
  }
}

/** A control with a typed value: what `interact` reads and watches. */
export abstract class Control<T> extends DomWidget {
  get value(): T {
    return this.fromState();
  }

  set value(v: T) {
    this.set(this.toState(v));
  }

  /** The description (label) shown beside the control. */
  get description(): string {
    return String(this.get("description") ?? "");
  }

  /** Calls `handler` with the new and old value after each change; returns the function that stops it. */
  onChange(handler: (value: T, old: T) => void): () => void {
    let old = this.value;
    return this.observe("*", () => {
      const now = this.value;
      if (now === old) return;
      const before = old;
      old = now;
      handler(now, before);
    });
  }

  /** One line for clients without widgets: `temperature = 0.8 (0.1 to 2)`. */
  abstract describe(): string;
  protected abstract fromState(): T;
  protected abstract toState(v: T): Record<string, unknown>;
}

export interface SliderOptions {
  value: number;
  min: number;
  max: number;
  /** Default 1 (IntSlider), (max - min) / 100 (FloatSlider). */
  step?: number;
  description?: string;
  /** False: the kernel hears of the value only when the handle is released. Default true. */
  continuousUpdate?: boolean;
}

function numberCoerce(integer: boolean, min: () => number, max: () => number) {
  return (key: string, v: unknown): unknown => {
    if (key !== "value") return v;
    if (typeof v !== "number" || !Number.isFinite(v) || (integer && !Number.isInteger(v))) throw new TypeError(`value must be ${integer ? "an integer" : "a finite number"}`);
    return Math.min(max(), Math.max(min(), v));
  };
}

abstract class Slider extends Control<number> {
  constructor(model: string, view: string, o: SliderOptions, integer: boolean) {
    const step = o.step ?? (integer ? 1 : (o.max - o.min) / 100);
    if (!(o.min <= o.value && o.value <= o.max)) throw new RangeError(`${model}: value ${o.value} is outside [${o.min}, ${o.max}]`);
    const bounds = { min: o.min, max: o.max };
    const state = { value: o.value, ...bounds, step, description: o.description ?? "", description_allow_html: false, disabled: false, continuous_update: o.continuousUpdate ?? true, orientation: "horizontal", readout: true, readout_format: integer ? "d" : ".2f", behavior: "drag-tap" };
    super(model, view, state, styleModel("SliderStyleModel", { handle_color: null }), numberCoerce(integer, () => bounds.min, () => bounds.max));
  }
  protected fromState(): number {
    return this.get("value") as number;
  }
  protected toState(v: number): Record<string, unknown> {
    return { value: v };
  }
  describe(): string {
    return `${this.description || "value"} = ${this.value} (${this.get("min")} to ${this.get("max")})`;
  }
}

/** An integer slider (ipywidgets' IntSlider). */
export class IntSlider extends Slider {
  constructor(options: SliderOptions) {
    super("IntSliderModel", "IntSliderView", options, true);
  }
}

/** A float slider (ipywidgets' FloatSlider). */
export class FloatSlider extends Slider {
  constructor(options: SliderOptions) {
    super("FloatSliderModel", "FloatSliderView", options, false);
  }
}

/** A drop-down list of labelled choices; the front end sends the index, `value` is the choice's value. */
export class Dropdown<T = string> extends Control<T> {
  private readonly choices: [string, T][];
  constructor(options: { options: readonly (T & string)[] | readonly [string, T][]; value?: T; description?: string }) {
    const choices = options.options.map((o) => (Array.isArray(o) ? (o as [string, T]) : ([String(o), o as T] as [string, T])));
    if (choices.length === 0) throw new RangeError("Dropdown: no options");
    const index = options.value === undefined ? 0 : choices.findIndex(([, v]) => v === options.value);
    if (index < 0) throw new RangeError(`Dropdown: value ${String(options.value)} is not one of the options`);
    const coerce = (key: string, v: unknown): unknown => {
      if (key === "index" && !(typeof v === "number" && Number.isInteger(v) && v >= 0 && v < choices.length)) throw new RangeError("index out of range");
      return v;
    };
    super("DropdownModel", "DropdownView", { _options_labels: choices.map(([l]) => l), index, description: options.description ?? "", description_allow_html: false, disabled: false }, styleModel("DescriptionStyleModel"), coerce);
    this.choices = choices;
  }
  protected fromState(): T {
    return this.choices[this.get("index") as number]![1];
  }
  protected toState(v: T): Record<string, unknown> {
    const index = this.choices.findIndex(([, c]) => c === v);
    if (index < 0) throw new RangeError(`Dropdown: ${String(v)} is not one of the options`);
    return { index };
  }
  describe(): string {
    return `${this.description || "choice"} = ${this.choices[this.get("index") as number]![0]} (one of ${this.choices.map(([l]) => l).join(", ")})`;
  }
}

/** A checkbox. */
export class Checkbox extends Control<boolean> {
  constructor(options: { value?: boolean; description?: string }) {
    const coerce = (key: string, v: unknown): unknown => {
      if (key === "value" && typeof v !== "boolean") throw new TypeError("value must be a boolean");
      return v;
    };
    super("CheckboxModel", "CheckboxView", { value: options.value ?? false, description: options.description ?? "", description_allow_html: false, disabled: false, indent: true }, styleModel("CheckboxStyleModel", { background: null }), coerce);
  }
  protected fromState(): boolean {
    return this.get("value") as boolean;
  }
  protected toState(v: boolean): Record<string, unknown> {
    return { value: v };
  }
  describe(): string {
    return `${this.description || "checkbox"} = ${this.value}`;
  }
}

/** A button; `onClick` handlers run when it is pressed in the front end. */
export class Button extends DomWidget {
  constructor(options: { description: string; tooltip?: string }) {
    super("ButtonModel", "ButtonView", { description: options.description, tooltip: options.tooltip ?? null, disabled: false, icon: "", button_style: "" }, styleModel("ButtonStyleModel"));
  }
  onClick(handler: () => void): () => void {
    return this.onCustom((content) => {
      if ((content as { event?: unknown } | null)?.event === "click") handler();
    });
  }
}

/** nbformat output of the kind an Output widget holds. */
export type WidgetOutput = { output_type: "display_data"; data: Record<string, unknown>; metadata: Record<string, unknown> } | { output_type: "stream"; name: "stdout" | "stderr"; text: string };

/** An output area whose outputs the kernel sets (ipywidgets 8's Output, through its `outputs` state). */
export class Output extends DomWidget {
  constructor(outputs: WidgetOutput[] = []) {
    super("OutputModel", "OutputView", { msg_id: "", outputs }, null, undefined, "@jupyter-widgets/output", "1.0.0");
  }
  /** Replaces what the area shows. */
  show(outputs: WidgetOutput[]): void {
    this.set({ outputs });
  }
}

/** A vertical (VBox) or horizontal (HBox) box of widgets. */
export class Box extends DomWidget {
  constructor(children: WidgetModel[], direction: "vertical" | "horizontal" = "vertical") {
    const name = direction === "vertical" ? "VBox" : "HBox";
    super(`${name}Model`, `${name}View`, { children: children.map(ref), box_style: "" }, null);
  }
}
