/**
 * The reports in a real browser: `npm start` writes the pages of the lessons below, then Debian's
 * Chromium (driven by puppeteer-core, no browser download) opens each from file:// and checks that every
 * chart was drawn by vega-embed, every formula by KaTeX without errors, and that the console stayed
 * clean. Screenshots land in checks/out/report-browser/ for a person to look at.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import puppeteer, { Browser } from "puppeteer-core";
import { repoRoot } from "../kernel/kernelspec";

/** Lessons whose pages the browser opens; together they must hold at least one chart and one formula. */
const BROWSER_LESSONS = ["00-tour"];

const CHROMIUM = "/usr/bin/chromium";
const root = repoRoot();
const out = path.join(root, "checks", "out", "report-browser");

interface PageCheck {
  charts: number;
  /** Charts whose live view holds no SVG or canvas. */
  undrawn: number[];
  formulas: number;
  katexErrors: string[];
  problems: string[];
}

async function inspect(browser: Browser, file: string, screenshot: string): Promise<PageCheck> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e instanceof Error ? e.message : String(e)}`));
  page.on("requestfailed", (r) => problems.push(`failed to load ${r.url()}: ${r.failure()?.errorText}`));
  try {
    await page.setViewport({ width: 1100, height: 900 });
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
    // vega-embed draws asynchronously: wait until every chart is drawn or has failed (failures log errors).
    await page
      .waitForFunction(() => Array.from(document.querySelectorAll("figure.chart")).every((f) => f.classList.contains("rendered")), { timeout: 20_000 })
      .catch(() => problems.push("not every chart finished drawing within 20 s"));
    await page.evaluate(() => document.fonts.ready);
    const result = await page.evaluate(() => {
      const charts = Array.from(document.querySelectorAll("figure.chart"));
      return {
        charts: charts.length,
        undrawn: charts.filter((f) => !f.querySelector(".chart-live svg, .chart-live canvas")).map((f) => Number((f as HTMLElement).dataset.chart)),
        formulas: document.querySelectorAll(".katex").length,
        katexErrors: Array.from(document.querySelectorAll(".katex-error")).map((e) => e.getAttribute("title") ?? e.textContent ?? ""),
      };
    });
    await page.screenshot({ path: screenshot as `${string}.png`, fullPage: true });
    return { ...result, problems };
  } finally {
    await page.close();
  }
}

test("report pages open from file:// in Chromium with every chart and formula drawn and a clean console", async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium`);
  fs.rmSync(out, { recursive: true, force: true });
  const run = spawnSync(process.execPath, [path.join(root, "build", "scripts", "start.js"), ...BROWSER_LESSONS.flatMap((l) => ["--only", l]), "--out", out], {
    cwd: root,
    encoding: "utf8",
    timeout: 600_000,
  });
  assert.equal(run.status, 0, `npm start failed:\n${run.stdout}${run.stderr}`);

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "aigc-chromium-"));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  try {
    let charts = 0;
    let formulas = 0;
    for (const name of ["index", ...BROWSER_LESSONS]) {
      const check = await inspect(browser, path.join(out, `${name}.html`), path.join(out, `${name}.png`));
      assert.deepEqual(check.problems, [], `${name}.html`);
      assert.deepEqual(check.undrawn, [], `${name}.html: charts not drawn by vega-embed`);
      assert.deepEqual(check.katexErrors, [], `${name}.html: formulas KaTeX could not render`);
      charts += check.charts;
      formulas += check.formulas;
    }
    assert.ok(charts > 0, "the lessons opened hold no chart, so the chart check proved nothing");
    assert.ok(formulas > 0, "the lessons opened hold no formula, so the math check proved nothing");
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
});
