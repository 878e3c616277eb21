/**
 * What the JupyterLab check's page (clients/lab/page.ts, in Chromium) and its driver
 * (clients/jupyterlab.test.ts, in Node) pass each other through puppeteer: plain JSON, no DOM types.
 */

/** Where the page finds jupyter-server. */
export interface ServerInfo {
  baseUrl: string;
  token: string;
}

/** One output of a cell as JupyterLab's OutputArea shows it after the cell ran. */
export interface OutputRecord {
  outputType: string;
  /** The output's MIME types (for a stream or error: the type JupyterLab renders it as). */
  mimeTypes: string[];
  /** The MIME type the RenderMimeRegistry chose (preferredMimeType), or null when it had none. */
  chosen: string | null;
  /** The renderer widget's jp-Rendered* classes in the output node, e.g. ["jp-RenderedVegaCommon5", "jp-RenderedVegaLite"]. */
  renderer: string[];
  /** For a Vega/Vega-Lite output: whether the node holds the drawn <svg> or <canvas>. */
  chartDrawn?: boolean;
  /** For a chart: whether the Vega renderer wrote an image/png into the output model after drawing. */
  pngWrittenBack?: boolean;
  /** For an image output: whether its <img> loaded with a non-zero size. */
  imageShown?: boolean;
  /** The first 120 characters of text/plain (or the stream/error text). */
  text: string;
}

/** A display the kernel updated in place (update_display_data with a display_id). */
export interface DisplayRecord {
  displayId: string;
  /** display_data messages with this id (outputs it should create). */
  created: number;
  /** update_display_data messages with this id. */
  updates: number;
  /** Outputs in the area whose text/plain is the last state sent. */
  finalStateOutputs: number;
  /** Outputs in the area whose text/plain is an earlier state that differs from the last. */
  staleOutputs: number;
}

export interface CellRecord {
  /** 1-based index among all cells of the notebook. */
  cell: number;
  /** execute_reply status: ok, error or abort. */
  status: string;
  ms: number;
  outputs: OutputRecord[];
  displays: DisplayRecord[];
  /** console.error calls and uncaught errors in the page while the cell ran and drew. */
  consoleErrors: string[];
  /** The cell's outputs as JupyterLab would save them (OutputAreaModel.toJSON()). */
  saved: unknown[];
}

export interface LessonRecord {
  lesson: string;
  kernel: string;
  cells: CellRecord[];
  ms: number;
}

/** A code cell to run: its 1-based index in the notebook and its source. */
export interface CodeCell {
  cell: number;
  source: string;
}

/** What the interrupt-and-restart scenario saw. */
export interface InterruptRecord {
  /** The training cell: status, ename of its error output, and whether its progress display had appeared before the interrupt. */
  training: { status: string; errorNames: string[]; progressSeen: boolean; ms: number };
  /** The cell run right after the interrupt. */
  after: { status: string; text: string };
  /** A name defined before the restart, looked up after it. */
  afterRestart: { status: string; text: string };
  /** The value defined before the restart, read before it (proves the lookup works). */
  beforeRestart: { status: string; text: string };
  consoleErrors: string[];
}

/** What the page puts on `window.aigcLab` for the driver. */
export interface LabApi {
  ready: true;
  runLesson(server: ServerInfo, lesson: string, cells: CodeCell[]): Promise<LessonRecord>;
  interruptAndRestart(server: ServerInfo): Promise<InterruptRecord>;
  saveNotebook(server: ServerInfo, path: string, content: unknown): Promise<string>;
}

/** A control of a widget-view output, as its model in the page says. */
export interface ControlRecord {
  /** The model's name, e.g. IntSliderModel. */
  model: string;
  description: string;
  value: number;
  min: number;
  max: number;
}

/** One cell run by the widgets page (clients/lab/widgets-page.ts). */
export interface WidgetCellRecord {
  cell: number;
  status: string;
  ms: number;
  outputs: { outputType: string; mimeTypes: string[]; text: string }[];
  /** Widget views drawn in the cell (an output widget inside each). */
  widgetViews: number;
  controls: ControlRecord[];
  consoleErrors: string[];
}

/** What the widgets page puts on `window.aigcWidgets` for clients/widgets.test.ts. */
export interface WidgetsApi {
  ready: true;
  open(server: ServerInfo, lesson: string): Promise<void>;
  run(cell: number, source: string): Promise<WidgetCellRecord>;
  /** The live output widget of a cell: a hash of its DOM, the kind drawn (image, chart, text), its model's text/plain. */
  liveOutput(cell: number): Promise<{ hash: string; kind: string; text: string }>;
  /** A digest of the cell's outputs other than the widget view. */
  staticOutputs(cell: number): string;
  close(): Promise<void>;
  consoleErrors(): string[];
}
