//! What a wasm file is, read with wasmparser: a component or a core module,
//! and whether gosched's Asyncify step has been applied to it.
//!
//! gosched's stack-switch code (asm/wasm32/switch.S) imports the global
//! `gosched_asyncify_marker` from module `gosched`; the Asyncify step resolves
//! it with `--set-globals`. Binaryen's Asyncify pass itself removes the
//! `asyncify.*` function imports (start_unwind, ...). So, of a core module:
//! - imports from `asyncify`: the pass has not run;
//! - only the `gosched` marker: the pass ran without `--set-globals`;
//! - neither: processed, or gosched is not linked in.

use crate::{Error, Result};
use std::path::Path;

/// The kind of a wasm file, as far as gosched's pipeline cares.
#[derive(Debug, PartialEq, Eq)]
pub enum Kind {
    Component,
    /// A core module that needs the Asyncify step (gosched is linked in).
    NeedsAsyncify,
    /// A core module Asyncify ran on without `--set-globals` for the marker.
    MarkerNotSet,
    /// A core module ready to run (processed, or without gosched).
    Ready,
}

pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::new(format!("cannot read {}: {e}", path.display())))
}

pub fn kind(bytes: &[u8]) -> Result<Kind> {
    if wasmparser::Parser::is_component(bytes) {
        return Ok(Kind::Component);
    }
    let (mut asyncify, mut marker) = (false, false);
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| Error::new(format!("not a valid wasm module: {e}")))?;
        if let wasmparser::Payload::ImportSection(reader) = payload {
            for import in reader.into_imports() {
                let import = import.map_err(|e| Error::new(format!("bad import section: {e}")))?;
                asyncify |= import.module == "asyncify";
                marker |= import.module == "gosched";
            }
            break;
        }
    }
    Ok(match (asyncify, marker) {
        (true, _) => Kind::NeedsAsyncify,
        (false, true) => Kind::MarkerNotSet,
        (false, false) => Kind::Ready,
    })
}
