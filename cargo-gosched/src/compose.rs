//! `cargo gosched compose CALLER CALLEE -o OUT`: one command component from
//! two, the callee's exports plugged into the caller's imports of the same
//! names (what `wasm-tools compose CALLER -d CALLEE` does), in-process with
//! `wasm-compose`, that command's library.
//!
//! 1. Each input, a core module cargo linked or a component, becomes a
//!    component ([`component::cached`]: Asyncify, then wit-component).
//! 2. Both are copied into a scratch directory as `caller.wasm` and
//!    `callee.wasm`: wasm-compose names a definition after its file stem,
//!    which must be a kebab-case name (cargo's `name-HASH.wasm` is not).
//! 3. wasm-compose instantiates the callee, passes its instance for the
//!    caller's imports, and exports the caller's exports; the result is
//!    validated before it is written.

use crate::{component, Error, Result};
use std::path::{Path, PathBuf};

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn compose(caller: &Path, callee: &Path, output: &Path) -> Result<()> {
    let scratch =
        Scratch(std::env::temp_dir().join(format!("cargo-gosched-compose-{}", std::process::id())));
    std::fs::create_dir_all(&scratch.0)
        .map_err(|e| Error::new(format!("cannot create {}: {e}", scratch.0.display())))?;
    let copy = |input: &Path, name: &str| -> Result<PathBuf> {
        let built = component::cached(input)?;
        let to = scratch.0.join(name);
        std::fs::copy(&built, &to)
            .map_err(|e| Error::new(format!("cannot copy {}: {e}", built.display())))?;
        Ok(to)
    };
    let caller = copy(caller, "caller.wasm")?;
    let callee = copy(callee, "callee.wasm")?;
    let config = wasm_compose::config::Config {
        dir: scratch.0.clone(),
        definitions: vec![callee],
        ..Default::default()
    };
    let composed = wasm_compose::composer::ComponentComposer::new(&caller, &config)
        .compose()
        .map_err(|e| Error::new(format!("cannot compose: {e:#}")))?;
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&composed)
        .map_err(|e| Error::new(format!("the composed component is not valid: {e}")))?;
    std::fs::write(output, composed)
        .map_err(|e| Error::new(format!("cannot write {}: {e}", output.display())))
}
