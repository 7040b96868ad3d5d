// Runs a wasm32-wasip1 command module under Node's WASI (node:wasi):
//   node tools/wasi-run.mjs MODULE.wasm [ARGS...]
// The module must already have been through wasm-opt --asyncify (tools/wasm-run
// does that). The current directory is preopened; the environment is passed on.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import { argv, env, exit } from 'node:process';
import { setFlagsFromString } from 'node:v8';

// Node 20's V8 can crash (a segfault, or `Check failed:
// heap()->concurrent_marking()->IsStopped()`) when a memory.grow reports
// external memory pressure while incremental marking is under way; a module
// whose goroutines grow memory hits it when CPUs are idle. Marking all at once
// avoids that path.
setFlagsFromString('--no-incremental-marking');

const [file, ...args] = argv.slice(2);
const wasi = new WASI({
  version: 'preview1',
  args: [file, ...args],
  env,
  preopens: { '.': '.' },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(file));
if (WebAssembly.Module.imports(module).some((i) => i.module === 'gosched' || i.module === 'asyncify')) {
  console.error(`gosched: ${file} has not been through wasm-opt --asyncify: run it through ` +
    'tools/wasm-run (the cargo runner), or see docs/wasm.md for the wasm-opt command');
  exit(2);
}
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
exit(wasi.start(instance));
