//! The Asyncify step: Binaryen's `wasm-opt` with gosched's flags, the
//! removelist built in.
//!
//! Why a `wasm-opt` binary found at run time rather than the `wasm-opt`
//! crate (which builds Binaryen from C++ with cargo): the crate pins
//! Binaryen 116 while gosched is tested with 132, and compiling it took
//! minutes on a 2-core machine for every `cargo install` (figures in
//! cargo-gosched/README.md). A `wasm-opt` is searched in `WASM_OPT`, then
//! `~/.cache/gosched/binaryen` (npm's binaryen package, where
//! `cargo gosched doctor` says to put it), then `PATH`.
//!
//! Why these flags (docs/wasm.md has the details):
//! - `--set-globals gosched_asyncify_marker=1` resolves the import that makes
//!   an unprocessed module fail to instantiate with a message saying what to run;
//! - `--no-inline=gosched_asyncify_suspend`: the function that starts the
//!   unwind must stay a function of its own until Asyncify has run (inlined,
//!   its caller would be left uninstrumented and re-run from its start);
//! - `--no-inline=gosched_uninstrumented_frame`: it ends an unwind, and
//!   Asyncify leaves every function that does so uninstrumented; inlined into
//!   a goroutine's entry, the entry would be left so;
//! - `-O3 --asyncify ... -O3`: optimizing first gives smaller, faster frames;
//! - `asyncify-ignore-imports`: no import (WASI, JS) ever switches goroutines;
//! - `asyncify-removelist`: panic, allocation-failure and backtrace paths
//!   never switch goroutines; leaving them uninstrumented halves the size
//!   overhead. Needs the name section (do not strip before this step);
//! - never `asyncify-ignore-indirect`: goroutine bodies are called indirectly.

use crate::module::{self, Kind};
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Functions that never switch goroutines (patterns of mangled names).
pub const REMOVELIST: &str = include_str!("../asyncify-removelist.txt");

/// The Binaryen version gosched is tested with (npm's `binaryen@132`).
pub const BINARYEN_VERSION: u32 = 132;

/// How to get wasm-opt, for the messages that need it.
pub fn install_hint() -> String {
    format!(
        "npm install --prefix ~/.cache/gosched/binaryen binaryen@{BINARYEN_VERSION} \
         (or install Binaryen >= 108 and put wasm-opt on PATH, or set WASM_OPT)"
    )
}

/// A wasm-opt binary and its Binaryen version.
pub struct WasmOpt {
    pub path: PathBuf,
    pub version: u32,
}

impl WasmOpt {
    pub fn find() -> Result<WasmOpt> {
        let path = Self::locate().ok_or_else(|| {
            Error::new(format!(
                "wasm-opt (Binaryen) not found, which gosched's Asyncify step needs: {}",
                install_hint()
            ))
        })?;
        let out = Command::new(&path)
            .arg("--version")
            .output()
            .map_err(|e| Error::new(format!("cannot run {}: {e}", path.display())))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text
            .split(|c: char| !c.is_ascii_digit())
            .find(|s| !s.is_empty())
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                Error::new(format!(
                    "{} --version printed no version: {text}",
                    path.display()
                ))
            })?;
        if version < 108 {
            return Err(Error::new(format!(
                "{} is Binaryen {version}; gosched needs 108 or newer: {}",
                path.display(),
                install_hint()
            )));
        }
        Ok(WasmOpt { path, version })
    }

    fn locate() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("WASM_OPT") {
            return Some(PathBuf::from(p));
        }
        let cached = crate::hosts::cache_dir().join("binaryen/node_modules/.bin/wasm-opt");
        if cached.is_file() {
            return Some(cached);
        }
        crate::hosts::on_path("wasm-opt")
    }

    /// The wasm-opt command that applies the step to `input`.
    pub fn command(&self, input: &Path, output: &Path, optimize: bool) -> Command {
        let removelist: Vec<&str> = REMOVELIST.lines().filter(|l| !l.is_empty()).collect();
        let removelist = format!("--pass-arg=asyncify-removelist@{}", removelist.join(","));
        let mut cmd = Command::new(&self.path);
        cmd.arg(input);
        // The DWARF of the input would describe code that no longer exists.
        cmd.args([
            "--set-globals",
            "--pass-arg=set-globals@gosched_asyncify_marker=1",
            "--strip-dwarf",
        ]);
        if !optimize {
            // Debug builds (tests): Asyncify alone takes seconds where the
            // optimizing pipeline takes half a minute; keep the names for
            // traps' backtraces. Nothing is inlined, so no --no-inline.
            cmd.args(["-g", "--asyncify", "--pass-arg=asyncify-ignore-imports"]);
            cmd.arg(&removelist);
        } else if self.version >= 116 {
            cmd.args([
                "--no-inline=gosched_asyncify_suspend",
                "--no-inline=gosched_uninstrumented_frame",
                "-O3",
                "--asyncify",
                "--pass-arg=asyncify-ignore-imports",
            ]);
            cmd.arg(&removelist).arg("-O3");
        } else {
            // Older Binaryen (Debian's 108) has no --no-inline: Asyncify
            // first, so that nothing is inlined before it.
            cmd.args(["--asyncify", "--pass-arg=asyncify-ignore-imports"]);
            cmd.arg(&removelist).arg("-O2");
        }
        cmd.arg("-o").arg(output);
        cmd
    }
}

/// Whether to optimize around Asyncify: `GOSCHED_WASM_OPTIMIZE`, else only
/// modules that are not under a `debug/` directory (cargo's release profile).
pub fn optimize_default(input: &Path) -> bool {
    match std::env::var("GOSCHED_WASM_OPTIMIZE").as_deref() {
        Ok("0") => false,
        Ok(_) => true,
        Err(_) => !input.components().any(|c| c.as_os_str() == "debug"),
    }
}

/// Whether to add the stack check (crate::stack_check): `GOSCHED_WASM_STACK_CHECK=0`
/// leaves it out (to measure what it costs).
fn stack_check_wanted() -> bool {
    std::env::var("GOSCHED_WASM_STACK_CHECK").as_deref() != Ok("0")
}

/// Applies the step to `input`, writing `output`: the stack check, then
/// wasm-opt, then Asyncify's state in locals.
pub fn run(wasm_opt: &WasmOpt, input: &Path, output: &Path) -> Result<()> {
    let checked = output.with_extension("checked.wasm");
    let mut wasm_opt_input = input;
    if stack_check_wanted() {
        let bytes = module::read(input)?;
        let instrumented = crate::stack_check::instrument(&bytes).map_err(|e| {
            Error::new(format!(
                "cannot add the stack check to {}: {e}",
                input.display()
            ))
        })?;
        if let Some(instrumented) = instrumented {
            std::fs::write(&checked, instrumented)
                .map_err(|e| Error::new(format!("cannot write {}: {e}", checked.display())))?;
            wasm_opt_input = &checked;
        }
    }
    let tmp = output.with_extension("tmp.wasm");
    let out = wasm_opt
        .command(wasm_opt_input, &tmp, optimize_default(input))
        .output()
        .map_err(|e| Error::new(format!("cannot run {}: {e}", wasm_opt.path.display())));
    let _ = std::fs::remove_file(&checked);
    let out = out?;
    // Patterns of the removelist that match nothing in this module only warn.
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        if !line.contains("removelist contained a non-matching pattern") {
            eprintln!("{line}");
        }
    }
    if !out.status.success() {
        return Err(Error::new(format!(
            "wasm-opt failed on {}",
            input.display()
        )));
    }
    if state_locals_wanted() {
        let bytes = module::read(&tmp)?;
        let cached = crate::asyncify_state::cache_in_locals(&bytes).map_err(|e| {
            Error::new(format!(
                "cannot keep Asyncify's state in locals in {}: {e}",
                input.display()
            ))
        })?;
        if let Some(cached) = cached {
            std::fs::write(&tmp, cached)
                .map_err(|e| Error::new(format!("cannot write {}: {e}", tmp.display())))?;
        }
    }
    std::fs::rename(&tmp, output)
        .map_err(|e| Error::new(format!("cannot write {}: {e}", output.display())))
}

/// Whether to read Asyncify's state from locals after wasm-opt
/// (crate::asyncify_state): `GOSCHED_WASM_STATE_LOCALS=0` leaves the module
/// as wasm-opt wrote it (to measure what it saves).
fn state_locals_wanted() -> bool {
    std::env::var("GOSCHED_WASM_STATE_LOCALS").as_deref() != Ok("0")
}

/// `input` ready to run: `NAME.asyncify.wasm` beside it, made unless it is
/// newer than both `input` and this program; `input` itself if it needs no
/// step (gosched is not linked in, or it was processed already).
pub fn cached(input: &Path) -> Result<PathBuf> {
    let bytes = module::read(input)?;
    match module::kind(&bytes)? {
        Kind::Ready => return Ok(input.to_path_buf()),
        Kind::MarkerNotSet => return Err(marker_not_set(input)),
        Kind::Component => {
            return Err(Error::new(format!(
                "{} is a component already: Asyncify must run on the core module (for WASIp3, \
                 use --target wasm32-wasip2, which links a core module first)",
                input.display()
            )))
        }
        Kind::NeedsAsyncify => {}
    }
    let output = input.with_extension("asyncify.wasm");
    if !crate::hosts::is_up_to_date(&output, input) {
        run(&WasmOpt::find()?, input, &output)?;
    }
    Ok(output)
}

pub fn marker_not_set(path: &Path) -> Error {
    Error::new(format!(
        "{} went through wasm-opt --asyncify without gosched's --set-globals \
         gosched_asyncify_marker=1: run `cargo gosched asyncify IN.wasm OUT.wasm` on the module \
         cargo built (`cargo gosched asyncify --print-command` shows the flags)",
        path.display()
    ))
}

/// A command as a shell would take it (for `--print-command`).
pub fn shell_words(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| {
            let a = a.to_string_lossy();
            if a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_=./@,:".contains(c))
            {
                a.into_owned()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_removelist_is_built_in_and_never_empty() {
        assert!(REMOVELIST.lines().any(|l| l.contains("panicking")));
        assert!(
            REMOVELIST.lines().all(|l| !l.contains(',')),
            "commas join the patterns"
        );
    }

    #[test]
    fn every_pipeline_sets_the_marker_and_never_ignores_indirect_calls() {
        for (version, optimize) in [(132, true), (132, false), (108, true)] {
            let w = WasmOpt {
                path: "wasm-opt".into(),
                version,
            };
            let line =
                shell_words(&w.command(Path::new("in.wasm"), Path::new("out.wasm"), optimize));
            assert!(
                line.contains("--pass-arg=set-globals@gosched_asyncify_marker=1"),
                "{line}"
            );
            assert!(
                line.contains("--asyncify --pass-arg=asyncify-ignore-imports"),
                "{line}"
            );
            assert!(!line.contains("ignore-indirect"), "{line}");
            assert_eq!(
                line.contains("--no-inline"),
                optimize && version >= 116,
                "{line}"
            );
        }
    }
}
