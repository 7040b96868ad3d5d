// The browser demo (examples/browser) in headless Chromium: the page loads,
// the worker goroutines fill their bars, clicks reach the program through a
// callback channel and start goroutines, which finish. tools/js-test runs it
// with GOSCHED_BROWSER_DEMO set to the demo's processed module; it saves a
// screenshot to GOSCHED_SCREENSHOT if set (docs/browser-demo.png is one).
// Needs Debian's chromium and npm's playwright-core (tools/install-js-tools).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const wasm = process.env.GOSCHED_BROWSER_DEMO;
assert.ok(wasm, "GOSCHED_BROWSER_DEMO must name the demo's processed module (run tools/js-test)");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Starts examples/browser/serve.mjs on a free port; resolves with [url, process]. */
function serve() {
  const script = fileURLToPath(new URL("../../examples/browser/serve.mjs", import.meta.url));
  const server = spawn(process.execPath, [script, wasm, "0"], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
    server.stdout.once("data", (line) => resolve([String(line).trim(), server]));
  });
}

test("the browser demo runs goroutines and reacts to clicks", async (t) => {
  const [url, server] = await serve();
  const profile = mkdtempSync(join(tmpdir(), "gosched-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 760, height: 430 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  t.after(async () => {
    await context.close();
    server.kill();
    rmSync(profile, { recursive: true, force: true });
  });

  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(url);

  const text = (selector) => page.locator(selector).textContent();
  const pct = (id) => page.locator(`#bar-${id}`).getAttribute("data-pct").then(Number);

  // The four workers and main: five goroutines, bars filling.
  await page.waitForFunction(() => document.getElementById("goroutines").textContent === "5");
  await page.waitForFunction(() => Number(document.querySelector("#bar-1")?.dataset.pct) >= 10);
  const before = await pct(4);
  await page.waitForFunction((p) => Number(document.querySelector("#bar-4").dataset.pct) !== p, before);

  // Each click is one value on the channel and one more goroutine.
  const button = page.locator("#spawn");
  for (let i = 0; i < 3; i++) await button.click();
  await page.waitForFunction(() => document.getElementById("clicks").textContent === "3");
  assert.equal(await page.locator(".bar.click").count(), 3);
  await page.waitForFunction(() => Number(document.getElementById("goroutines").textContent) === 8);
  await page.waitForFunction(() => Number(document.querySelector("#bar-103").dataset.pct) >= 40);
  if (process.env.GOSCHED_SCREENSHOT) {
    await page.screenshot({ path: process.env.GOSCHED_SCREENSHOT });
  }

  // The sprinters finish and their goroutines end.
  await page.waitForFunction(() => document.querySelectorAll(".bar.click.done").length === 3);
  await page.waitForFunction(() => document.getElementById("goroutines").textContent === "5");
  assert.equal(await text("#error"), "");
  assert.deepEqual(errors, []);
});
