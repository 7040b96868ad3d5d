// Runs examples/compare_js.rs (built and processed by tools/js-bench) in this
// Node: one module instance per benchmark, as the anchors run one process per
// benchmark, printing the RESULT lines of shared/anchors/README.md.
//
//   node benches/compare_js.mjs MODULE.wasm [BENCH|all|list] [REPS=3] [SYSTEM=gosched-js]
import { setFlagsFromString } from "node:v8";
// Node 20's V8 can crash when wasm memory grows during incremental marking
// (see cargo-gosched/assets/wasi-run.mjs); mark all at once.
setFlagsFromString("--no-incremental-marking");
import { readFileSync } from "node:fs";
import { compile, instantiate } from "../js/gosched.mjs";

const [path, which = "all", reps = "3", system = "gosched-js"] = process.argv.slice(2);
if (!path) {
  console.error("usage: node benches/compare_js.mjs MODULE.wasm [BENCH|all] [REPS] [SYSTEM]");
  process.exit(2);
}
const module = await compile(readFileSync(path));
const print = (stream, text) => (stream === 2 ? process.stderr : process.stdout).write(text + "\n");

async function run(bench) {
  const functions = { bench, reps: Number(reps), system };
  const instance = await instantiate(module, { functions, print, entry: "compare_main" });
  return instance.start();
}

const names = which === "all" || which === "list" ? (await run("list")).split(" ") : [which];
if (which === "list") console.log(names.join("\n"));
else for (const bench of names) await run(bench);
