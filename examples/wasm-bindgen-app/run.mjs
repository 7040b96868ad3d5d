// Runs the app: wasm-bindgen's glue instantiates the module (its import of
// "gosched_js" resolves to gosched_js.mjs, see tools/wasm-bindgen-demo), then
// gosched's loader drives the program.
import { readFileSync } from "node:fs";
import init, { add } from "./pkg/app.js";
import { gosched } from "gosched_js";

globalThis.delayValue = (ms, value) => new Promise((resolve) => setTimeout(resolve, ms, value));
const wasm = await init({ module_or_path: readFileSync(new URL("./pkg/app_bg.wasm", import.meta.url)) });
gosched.attach(wasm);
console.log(`wasm-bindgen export: add(40, 2) = ${add(40, 2)}`);
console.log(`gosched program: ${await gosched.start("app_main")}`);
