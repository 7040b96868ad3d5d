// The browser demo (examples/browser) in headless Chromium: the page loads,
// the worker goroutines fill their bars, clicks reach the program through a
// callback channel and start goroutines, which finish. tools/js-test runs it
// with GOSCHED_BROWSER_DEMO set to the demo's processed module; it saves a
// screenshot to GOSCHED_SCREENSHOT if set (docs/browser-demo.png is one).
// Also: the demo's module as cargo built it (GOSCHED_BROWSER_DEMO_RAW, no
// Asyncify) fails in the loader with a message that says what to run; and the
// dist/ directory `cargo gosched build` wrote for js_hello (GOSCHED_JS_DIST)
// runs from its index.html.
// Needs Debian's chromium and npm's playwright-core (tools/install-js-tools).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const wasm = process.env.GOSCHED_BROWSER_DEMO;
assert.ok(wasm, "GOSCHED_BROWSER_DEMO must name the demo's processed module (run tools/js-test)");
const rawWasm = process.env.GOSCHED_BROWSER_DEMO_RAW;
assert.ok(rawWasm, "GOSCHED_BROWSER_DEMO_RAW must name the demo's module before Asyncify (run tools/js-test)");
const dist = process.env.GOSCHED_JS_DIST;
assert.ok(dist, "GOSCHED_JS_DIST must name the dist/ of js_hello (run tools/js-test)");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Headless Chromium with a fresh profile, closed (with `cleanup`) after test `t`. */
async function browser(t, cleanup = () => {}) {
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
    cleanup();
    rmSync(profile, { recursive: true, force: true });
  });
  return context.pages()[0] ?? (await context.newPage());
}

/** Serves directory `dir` on 127.0.0.1; resolves with [url, server]. */
function serveDir(dir) {
  const types = { ".html": "text/html", ".mjs": "text/javascript", ".wasm": "application/wasm" };
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, "http://localhost").pathname.replace(/^\/+/, "") || "index.html";
    try {
      const body = await readFile(join(dir, path));
      res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve([`http://127.0.0.1:${server.address().port}/`, server])),
  );
}

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
  const page = await browser(t, () => server.kill());
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

test("a module that skipped Asyncify says what to run, in Chromium", async (t) => {
  const [url, server] = await serve();
  const page = await browser(t, () => server.kill());
  await page.goto(url + "gosched.mjs"); // same origin as the loader, no program started
  const message = await page.evaluate(async (bytes) => {
    const { instantiate } = await import("/gosched.mjs");
    try {
      await instantiate(new Uint8Array(bytes));
      return "instantiated";
    } catch (e) {
      return e.message;
    }
  }, [...readFileSync(rawWasm)]);
  assert.match(message, /has not been through Binaryen's Asyncify step.*cargo gosched build --target wasm32-unknown-unknown/);
});

test("the dist/ that cargo gosched build writes runs from its index.html", async (t) => {
  const [url, server] = await serveDir(dist);
  const page = await browser(t, () => server.close());
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById("log").textContent.includes("=> "));
  assert.equal(
    await page.locator("#log").textContent(),
    "goroutine 1 slept 10 ms\ngoroutine 2 slept 20 ms\ngoroutine 3 slept 30 ms\n" +
      'awaited String("a JS promise")\n=> main\'s return value\n',
  );
  assert.deepEqual(errors, []);
});
