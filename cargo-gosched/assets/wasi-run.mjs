// Runs a wasm32-wasip1 command module under Node's WASI (node:wasi); cargo
// gosched runs it as `node --input-type=module -e THIS -- MODULE ARGS...`
// after the Asyncify step. The current directory is preopened; the
// environment is passed on.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import { argv, env, exit } from 'node:process';

// Node is started with --no-incremental-marking: Node 20's V8 can crash (a
// segfault, or `Check failed: heap()->concurrent_marking()->IsStopped()`)
// when a memory.grow reports external memory pressure while incremental
// marking is under way; a module whose goroutines grow memory hits it when
// CPUs are idle.

const [file, ...args] = argv.slice(1);
const wasi = new WASI({
  version: 'preview1',
  args: [file, ...args],
  env,
  preopens: { '.': '.' },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(file));
const imports = WebAssembly.Module.imports(module);
if (imports.some((i) => i.module === 'asyncify')) {
  console.error(`gosched: ${file} has not been through Binaryen's Asyncify step: run it with ` +
    '`cargo gosched run` / `cargo gosched test`, or `cargo gosched asyncify IN.wasm OUT.wasm`');
  exit(2);
}
if (imports.some((i) => i.module === 'gosched')) {
  console.error(`gosched: ${file} went through wasm-opt --asyncify without gosched's ` +
    '--set-globals gosched_asyncify_marker=1: use `cargo gosched asyncify IN.wasm OUT.wasm`');
  exit(2);
}
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
exit(wasi.start(instance));
