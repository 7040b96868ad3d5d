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
        let component = encode(&module::read(&processed)?).map_err(|e| {
            Error::new(format!(
                "cannot make a component of {}: {e}",
                processed.display()
            ))
        })?;
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// gosched embeds its `wasi:cli/run@0.3.0` export's type as prebuilt
    /// bytes (src/wasip3/entry.rs); they must encode the WIT beside them.
    #[test]
    fn gosched_run_export_type_encodes_its_wit() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../src/wasip3");
        let mut resolve = wit_parser::Resolve::default();
        let package = resolve.push_file(dir.join("run-export.wit")).unwrap();
        let world = resolve
            .select_world(&[package], Some("run-export"))
            .unwrap();
        let encoded = wit_component::metadata::encode(
            &resolve,
            world,
            wit_component::StringEncoding::UTF8,
            None,
            false,
        )
        .unwrap();
        let committed = std::fs::read(dir.join("run-export.component-type")).unwrap();
        assert!(
            encoded == committed,
            "run-export.component-type does not encode run-export.wit: write the new bytes \
             ({} of them) with wit_component::metadata::encode",
            encoded.len()
        );
    }
}
