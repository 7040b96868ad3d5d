//! JS hosts (wasm32-unknown-unknown): the `dist/` directory that `cargo
//! gosched build` writes, as wasm-pack writes `pkg/`, and the Node runs.
//!
//! `dist/` holds, for a cdylib `NAME` that exports `gosched_main`
//! (`gosched::js_main!`):
//! - `NAME.wasm`, the module after the Asyncify step;
//! - `gosched.mjs`, gosched's loader (the crate's `js/gosched.mjs`);
//! - `NAME.node.mjs`, `node dist/NAME.node.mjs` runs it and prints `=> VALUE`,
//!   the value main returned (a panic: its message, exit status 101);
//! - `index.html`, a page that runs it and shows what it logs (serve the
//!   directory over HTTP: browsers do not fetch wasm from `file:`).

use crate::hosts;
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// gosched's JS loader.
pub const LOADER: &str = include_str!("../assets/gosched.mjs");

fn write(path: &Path, text: impl AsRef<[u8]>) -> Result<()> {
    std::fs::write(path, text)
        .map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))
}

/// Writes `dist` for the processed module `module` of cdylib `name`.
pub fn write_dist(dist: &Path, name: &str, module: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dist)
        .map_err(|e| Error::new(format!("cannot create {}: {e}", dist.display())))?;
    let wasm = dist.join(format!("{name}.wasm"));
    std::fs::copy(module, &wasm)
        .map_err(|e| Error::new(format!("cannot write {}: {e}", wasm.display())))?;
    write(&dist.join("gosched.mjs"), LOADER)?;
    write(&dist.join(format!("{name}.node.mjs")), node_entry(name))?;
    write(&dist.join("index.html"), index_html(name))?;
    Ok(wasm)
}

fn node_entry(name: &str) -> String {
    format!(
        r#"// Runs {name}.wasm, a gosched program for JS hosts, in Node (>= 20):
//   node {name}.node.mjs
// Prints what it logs, then "=> " and the value its main goroutine returned;
// a panic prints its message and exits with status 101.
import {{ readFile }} from "node:fs/promises";
import {{ setFlagsFromString }} from "node:v8";
import {{ run }} from "./gosched.mjs";

// Node 20's V8 can crash when memory.grow meets incremental marking.
setFlagsFromString("--no-incremental-marking");

try {{
  const value = await run(await readFile(new URL("./{name}.wasm", import.meta.url)));
  console.log("=>", value);
}} catch (e) {{
  console.error(e.location ? `panicked at ${{e.location}}:\n${{e.message}}` : String(e?.message ?? e));
  process.exit(101);
}}
"#
    )
}

fn index_html(name: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>{name}</title>
<pre id="log"></pre>
<script type="module">
  // Serve this directory over HTTP (e.g. `python3 -m http.server -d dist`).
  import {{ run }} from "./gosched.mjs";
  const log = document.getElementById("log");
  const print = (stream, text) => {{
    log.textContent += text + "\n";
    (stream === 2 ? console.error : console.log)(text);
  }};
  run(fetch("{name}.wasm"), {{ print }}).then(
    (value) => print(1, `=> ${{value}}`),
    (e) => print(2, e.message),
  );
</script>
</html>
"#
    )
}

/// `node dist/NAME.node.mjs`.
pub fn run_dist(dist: &Path, name: &str) -> Result<ExitCode> {
    let mut cmd = std::process::Command::new(hosts::node()?);
    cmd.args(["--no-warnings", "--no-incremental-marking"])
        .arg(dist.join(format!("{name}.node.mjs")));
    hosts::finish(cmd)
}

/// Runs a processed module's `main` export in Node through the loader (what
/// `cargo gosched test` does with each test binary and doctest) and, if main
/// started a program (`gosched::js::start`), that program to its end. Exit 0
/// on success, 101 on a panic (its message on stderr), as natively.
pub fn run_main_export(module: &Path) -> Result<ExitCode> {
    let loader = module.with_file_name("gosched.mjs");
    if std::fs::read_to_string(&loader).ok().as_deref() != Some(LOADER) {
        write(&loader, LOADER)?;
    }
    const SCRIPT: &str = r#"
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const [loader, module] = process.argv.slice(1);
const { instantiate } = await import(pathToFileURL(loader));
const instance = await instantiate(readFileSync(module));
try {
  await instance.start("main");
} catch (e) {
  // main returned without starting a program: nothing more to run.
  if (String(e.message).startsWith("gosched: no program to poll")) process.exit(0);
  console.error(`panicked at ${e.location ?? "?"}:\n${e.message}`);
  process.exit(101);
}
"#;
    hosts::finish(hosts::node_script(
        SCRIPT,
        [loader.as_os_str(), module.as_os_str()],
    )?)
}
