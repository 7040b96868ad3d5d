//! The WASIp3 pipeline's last step: a core module (linked with
//! `--skip-wit-component`, then through Asyncify) becomes a command
//! component, in-process with `wit-component`, the library behind
//! `wasm-tools component new`. The component's types come from the
//! `component-type` custom sections that std, the `wasip3` crate and gosched's
//! run export embed; no adapter is needed (docs/wasip3.md).

use crate::module::{self, Kind};
use crate::{asyncify, Error, Result};
use std::path::{Path, PathBuf};

/// `core` as a runnable component: `NAME.component.wasm` beside it, rebuilt
/// unless newer than `core` and this program; a component is returned as is.
pub fn cached(core: &Path) -> Result<PathBuf> {
    let bytes = module::read(core)?;
    if module::kind(&bytes)? == Kind::Component {
        return Ok(core.to_path_buf());
    }
    let output = core.with_extension("component.wasm");
    if !crate::hosts::is_up_to_date(&output, core) {
        let processed = asyncify::cached(core)?;
        let component = encode(&module::read(&processed)?)
            .map_err(|e| Error::new(format!("cannot make a component of {}: {e}", processed.display())))?;
        std::fs::write(&output, component)
            .map_err(|e| Error::new(format!("cannot write {}: {e}", output.display())))?;
    }
    Ok(output)
}

/// The component of a core module, as `wasm-tools component new` makes it.
pub fn encode(core: &[u8]) -> std::result::Result<Vec<u8>, String> {
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(core)
        .and_then(|e| e.encode())
        .map_err(|e| format!("{e:#}"))
}
