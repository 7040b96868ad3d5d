// A tiny static server for the browser demo: serves index.html from this
// directory, the loader from js/, and the demo module from the path given.
//
//   node examples/browser/serve.mjs DEMO.wasm [PORT=8080]
// Prints the URL once it listens (port 0: any free port).
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const [wasm, port = "8080"] = process.argv.slice(2);
if (!wasm) {
  console.error("usage: node examples/browser/serve.mjs DEMO.wasm [PORT]");
  process.exit(2);
}
const files = {
  "/": [here("./index.html"), "text/html; charset=utf-8"],
  "/index.html": [here("./index.html"), "text/html; charset=utf-8"],
  "/gosched.mjs": [here("../../js/gosched.mjs"), "text/javascript; charset=utf-8"],
  "/demo.wasm": [wasm, "application/wasm"],
};

const server = createServer(async (req, res) => {
  const file = files[new URL(req.url, "http://localhost").pathname];
  if (!file) {
    res.writeHead(404).end("not found");
    return;
  }
  try {
    const body = await readFile(file[0]);
    res.writeHead(200, { "content-type": file[1], "cache-control": "no-store" }).end(body);
  } catch (e) {
    res.writeHead(500).end(String(e));
  }
});
server.listen(Number(port), "127.0.0.1", () => {
  console.log(`http://127.0.0.1:${server.address().port}/`);
});
