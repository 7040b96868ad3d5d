// What wasm-bindgen's glue imports as "gosched_js": one gosched loader
// Instance, whose imports the module gets and which then drives its program.
import { Instance } from "../../js/gosched.mjs";

export const gosched = new Instance({ functions: {} });
export const { now, print, panic, call, get, set, then, dup, release, wake } =
  gosched.imports.gosched_js;
