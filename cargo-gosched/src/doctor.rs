//! `cargo gosched doctor`: what each target needs, what is found (with
//! versions), and the command that gets what is missing.

use crate::{asyncify, cargo, hosts, Target};
use std::path::Path;
use std::process::{Command, ExitCode};

/// The first line `program --version` prints.
fn version_of(program: &Path) -> Option<String> {
    let out = Command::new(program).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().next().map(|l| l.trim().to_string())
}

/// The first number in `text` (a major version).
fn major(text: &str) -> Option<u32> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())?
        .parse()
        .ok()
}

pub fn doctor() -> ExitCode {
    let mut missing = 0;
    let mut report = |what: &str, found: Result<String, String>| match found {
        Ok(version) => println!("ok       {what}: {version}"),
        Err(fix) => {
            missing += 1;
            println!("MISSING  {what}: {fix}");
        }
    };

    println!("cargo-gosched {}", env!("CARGO_PKG_VERSION"));
    for target in Target::ALL {
        report(
            &format!("rustup target {}", target.triple()),
            cargo::check_target_installed(target)
                .map(|()| "installed".into())
                .map_err(|e| e.0),
        );
    }
    report(
        "wasm-opt (Asyncify, every target)",
        asyncify::WasmOpt::find()
            .map(|w| format!("Binaryen {} at {}", w.version, w.path.display()))
            .map_err(|e| e.0),
    );
    report(
        "wasmtime (wasm32-wasip1; >= 49 for wasm32-wasip2)",
        hosts::wasmtime().map_err(|e| e.0).and_then(|p| {
            let v = version_of(&p).ok_or_else(|| format!("{} --version failed", p.display()))?;
            match major(&v) {
                Some(m) if m >= hosts::WASMTIME_P3 => Ok(v),
                _ => Err(format!(
                    "{v} at {} runs wasm32-wasip1 only; for WASIp3: {}",
                    p.display(),
                    hosts::wasmtime_hint()
                )),
            }
        }),
    );
    report(
        "node (wasm32-unknown-unknown; --host node for wasm32-wasip1)",
        hosts::node().map_err(|e| e.0).and_then(|p| {
            let v = version_of(&p).ok_or_else(|| format!("{} --version failed", p.display()))?;
            match major(&v) {
                Some(m) if m >= 20 => Ok(v),
                _ => Err(format!("{v} is too old: install Node.js 20 or newer")),
            }
        }),
    );
    if missing == 0 {
        println!("everything cargo gosched uses is there");
        ExitCode::SUCCESS
    } else {
        println!("{missing} missing (each line says how to get it)");
        ExitCode::FAILURE
    }
}
