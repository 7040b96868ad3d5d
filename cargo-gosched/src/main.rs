//! `cargo gosched`: builds, runs and tests a crate that uses gosched on
//! wasm32-wasip1, as a WASIp3 component (wasm32-wasip2) and in a JS host
//! (wasm32-unknown-unknown), from any directory, with nothing configured.
//!
//! Every gosched wasm module needs Binaryen's Asyncify pass after linking
//! (goroutines switch by unwinding and rewinding the wasm stack), so plain
//! `cargo run` cannot run one. `cargo gosched run|test` is cargo with three
//! additions:
//!
//! 1. `--target` (default wasm32-wasip1), after checking that the rustup
//!    target is installed;
//! 2. `--config target.TRIPLE.runner=[this binary, "gosched", "runner", ...]`,
//!    so cargo hands every module it would run to [`runner`]; for WASIp3 also
//!    the link argument `--skip-wit-component`, so cargo links a core module
//!    that Asyncify can still rewrite;
//! 3. `GOSCHED_WASM_HOST` (from `--host`) for the runner.
//!
//! The runner then (a) applies Asyncify with the removelist and the marker
//! global built in ([`asyncify`]), caching `NAME.asyncify.wasm` next to the
//! module; (b) for WASIp3 builds the component in-process ([`component`]);
//! (c) runs the result under wasmtime or Node ([`hosts`], [`js`]) and exits
//! with its status. `cargo gosched build` does (a) and (b) on each module
//! cargo built and prints their paths; for JS it writes a `dist/` directory.
//! A WASIp3 component that exports wasi:http/handler is served by `wasmtime
//! serve` instead of run ([`hosts::run_component`]); `cargo gosched compose`
//! plugs one component's exports into another's imports ([`compose`]).

mod asyncify;
mod asyncify_state;
mod cargo;
mod component;
mod compose;
mod doctor;
mod hosts;
mod js;
mod module;
mod stack_check;

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
cargo gosched: build, run and test crates that use gosched on wasm

USAGE:
    cargo gosched build  [--target TARGET] [--dist DIR] [CARGO BUILD ARGS...]
    cargo gosched run    [--target TARGET] [--host HOST] [CARGO RUN ARGS...] [-- PROGRAM ARGS...]
    cargo gosched test   [--target TARGET] [--host HOST] [CARGO TEST ARGS...] [-- TEST ARGS...]
    cargo gosched compose CALLER.wasm CALLEE.wasm -o OUT.wasm
                                             WASIp3: one command component whose CALLER's
                                             imports are CALLEE's exports (each a core module
                                             cargo built, or a component)
    cargo gosched doctor                     what is installed, and how to get what is missing
    cargo gosched asyncify IN.wasm OUT.wasm  only the Asyncify step (for other build systems)
    cargo gosched asyncify --print-command IN.wasm OUT.wasm
                                             the wasm-opt command line of that step

TARGET:
    wasm32-wasip1           (default) a WASI preview 1 command
    wasm32-wasip2           a WASIp3 command component (gosched's `wasip3` feature)
    wasm32-unknown-unknown  a JS host: a cdylib using gosched::js_main!, run in Node;
                            `build` writes DIR (default: dist/ beside Cargo.toml) with
                            NAME.wasm, gosched.mjs, index.html and NAME.node.mjs
HOST (run, test):
    wasmtime (default) or node (node:wasi; wasm32-wasip1 only)
    A WASIp3 component that exports wasi:http/handler (gosched::wasip3::http::service!)
    is served by `wasmtime serve` on 127.0.0.1:8080; PROGRAM ARGS are serve's options
    (e.g. -- --addr 127.0.0.1:3000).

ENVIRONMENT:
    WASM_OPT    the wasm-opt to use (else ~/.cache/gosched/binaryen, then PATH)
    WASMTIME    the wasmtime to use (else PATH)
    NODE        the node to use (else PATH)
    GOSCHED_WASM_OPTIMIZE  1: wasm-opt -O3 around Asyncify; 0: Asyncify only
                (default: 0 for debug builds, 1 for release builds)
";

/// The wasm targets gosched runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Wasip1,
    /// wasm32-wasip2 with gosched's `wasip3` feature: a WASIp3 component.
    Wasip3,
    /// wasm32-unknown-unknown in a JS host.
    Js,
}

impl Target {
    pub const ALL: [Target; 3] = [Target::Wasip1, Target::Wasip3, Target::Js];

    pub fn triple(self) -> &'static str {
        match self {
            Target::Wasip1 => "wasm32-wasip1",
            Target::Wasip3 => "wasm32-wasip2",
            Target::Js => "wasm32-unknown-unknown",
        }
    }

    pub fn parse(s: &str) -> Result<Target> {
        Target::ALL
            .into_iter()
            .find(|t| t.triple() == s)
            .ok_or_else(|| {
                Error::new(format!(
                    "unsupported target '{s}': use wasm32-wasip1, wasm32-wasip2 (WASIp3) or \
                     wasm32-unknown-unknown (JS); natively, use plain cargo"
                ))
            })
    }
}

/// Where a wasm32-wasip1 module runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    Wasmtime,
    Node,
}

impl Host {
    fn parse(s: &str) -> Result<Host> {
        match s {
            "wasmtime" => Ok(Host::Wasmtime),
            "node" => Ok(Host::Node),
            _ => Err(Error::new(format!(
                "unknown host '{s}': use wasmtime or node"
            ))),
        }
    }

    /// The host named by `GOSCHED_WASM_HOST` (what `--host` sets for the runner).
    pub fn from_env() -> Result<Host> {
        match std::env::var("GOSCHED_WASM_HOST") {
            Ok(h) => Host::parse(&h).map_err(|e| Error::new(format!("GOSCHED_WASM_HOST: {}", e.0))),
            Err(_) => Ok(Host::Wasmtime),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Host::Wasmtime => "wasmtime",
            Host::Node => "node",
        }
    }
}

/// A failure shown as `cargo gosched: MESSAGE` (exit status 2).
#[derive(Debug)]
pub struct Error(pub String);

impl Error {
    pub fn new(message: impl Into<String>) -> Error {
        Error(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// The options of build, run and test that are ours; the rest goes to cargo.
#[derive(Debug, PartialEq)]
struct Options {
    target: Target,
    host: Option<Host>,
    dist: Option<PathBuf>,
    cargo_args: Vec<OsString>,
}

/// Takes `--target`, `--host` and `--dist` (as `--x V` or `--x=V`) out of
/// `args`, up to a `--` (after which everything is the program's).
fn parse_options(args: Vec<OsString>) -> Result<Options> {
    let mut target = None;
    let mut host = None;
    let mut dist = None;
    let mut cargo_args = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let Some(text) = arg.to_str() else {
            cargo_args.push(arg);
            continue;
        };
        if text == "--" {
            cargo_args.push(arg);
            cargo_args.extend(args);
            break;
        }
        let (name, inline) = match text.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (text, None),
        };
        if !matches!(name, "--target" | "--host" | "--dist") {
            cargo_args.push(arg);
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => args
                .next()
                .and_then(|v| v.into_string().ok())
                .ok_or_else(|| Error::new(format!("{name} needs a value")))?,
        };
        match name {
            "--target" => target = Some(Target::parse(&value)?),
            "--host" => host = Some(Host::parse(&value)?),
            _ => dist = Some(PathBuf::from(value)),
        }
    }
    let target = target.unwrap_or(Target::Wasip1);
    match (target, host) {
        (Target::Wasip3, Some(Host::Node)) => {
            return Err(Error::new(
                "--host node: Node cannot run WASIp3 components; wasm32-wasip2 runs under wasmtime",
            ))
        }
        (Target::Js, Some(Host::Wasmtime)) => {
            return Err(Error::new(
                "--host wasmtime: wasm32-unknown-unknown modules run in a JS host (Node); \
                 use wasm32-wasip1 for wasmtime",
            ))
        }
        _ => {}
    }
    Ok(Options {
        target,
        host,
        dist,
        cargo_args,
    })
}

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    // `cargo gosched X` runs `cargo-gosched gosched X`.
    if args.first().is_some_and(|a| a == "gosched") {
        args.remove(0);
    }
    match dispatch(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cargo gosched: {e}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(mut args: Vec<OsString>) -> Result<ExitCode> {
    if args.is_empty() {
        eprint!("{USAGE}");
        return Ok(ExitCode::from(2));
    }
    let command = args.remove(0);
    match command.to_str().unwrap_or("") {
        "build" => cargo::build(parse_options(args)?),
        "run" => cargo::run(parse_options(args)?),
        "test" => cargo::test(parse_options(args)?),
        "runner" => runner(args),
        "doctor" => Ok(doctor::doctor()),
        "asyncify" => asyncify_command(args),
        "compose" => compose_command(args),
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        "-V" | "--version" => {
            println!("cargo-gosched {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        other => Err(Error::new(format!(
            "unknown command '{other}': use build, run, test, compose, doctor or asyncify (cargo gosched --help)"
        ))),
    }
}

/// `cargo gosched runner --target TRIPLE MODULE ARGS...`: what cargo calls to
/// run a module (the runner set by step 2 of the module header).
fn runner(args: Vec<OsString>) -> Result<ExitCode> {
    let mut args = args.into_iter();
    let target = match (args.next(), args.next()) {
        (Some(flag), Some(t)) if flag == "--target" => Target::parse(&t.to_string_lossy())?,
        _ => {
            return Err(Error::new(
                "usage: cargo-gosched gosched runner --target TRIPLE MODULE [ARGS...]",
            ))
        }
    };
    let module = PathBuf::from(
        args.next()
            .ok_or_else(|| Error::new("runner: no module to run"))?,
    );
    let program_args: Vec<OsString> = args.collect();
    if !module.is_file() {
        return Err(Error::new(format!("no such module: {}", module.display())));
    }
    match target {
        Target::Wasip1 => {
            let host = Host::from_env()?;
            let runnable = asyncify::cached(&module)?;
            hosts::run_wasip1(host, &runnable, &program_args)
        }
        Target::Wasip3 => {
            let runnable = component::cached(&module)?;
            hosts::run_component(&runnable, &program_args)
        }
        Target::Js => {
            let runnable = asyncify::cached(&module)?;
            js::run_main_export(&runnable)
        }
    }
}

fn compose_command(args: Vec<OsString>) -> Result<ExitCode> {
    let usage = || Error::new("usage: cargo gosched compose CALLER.wasm CALLEE.wasm -o OUT.wasm");
    let args: Vec<PathBuf> = args.into_iter().map(PathBuf::from).collect();
    match args.as_slice() {
        [caller, callee, flag, output] if flag.as_os_str() == "-o" => {
            compose::compose(caller, callee, output)?;
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(usage()),
    }
}

fn asyncify_command(args: Vec<OsString>) -> Result<ExitCode> {
    let usage = || Error::new("usage: cargo gosched asyncify [--print-command] IN.wasm OUT.wasm");
    let mut args: Vec<PathBuf> = args.into_iter().map(PathBuf::from).collect();
    let print = args
        .first()
        .is_some_and(|a| a.as_os_str() == "--print-command");
    if print {
        args.remove(0);
    }
    let [input, output] = <[PathBuf; 2]>::try_from(args).map_err(|_| usage())?;
    let wasm_opt = asyncify::WasmOpt::find()?;
    let command = wasm_opt.command(&input, &output, asyncify::optimize_default(&input));
    if print {
        println!("{}", asyncify::shell_words(&command));
    } else {
        asyncify::run(&wasm_opt, &input, &output)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn our_options_are_taken_out_and_the_rest_goes_to_cargo() {
        let o = parse_options(os(&[
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "--dist=out",
            "--example",
            "x",
        ]))
        .unwrap();
        assert_eq!(o.target, Target::Js);
        assert_eq!(o.dist, Some(PathBuf::from("out")));
        assert_eq!(o.cargo_args, os(&["--release", "--example", "x"]));
    }

    #[test]
    fn arguments_after_double_dash_are_the_programs() {
        let o = parse_options(os(&["--host=node", "--", "--target", "x"])).unwrap();
        assert_eq!(o.target, Target::Wasip1);
        assert_eq!(o.host, Some(Host::Node));
        assert_eq!(o.cargo_args, os(&["--", "--target", "x"]));
    }

    #[test]
    fn wrong_targets_and_hosts_say_what_works() {
        let e = parse_options(os(&["--target", "x86_64-unknown-linux-gnu"])).unwrap_err();
        assert!(e.0.contains("use wasm32-wasip1"), "{e}");
        let e = parse_options(os(&["--target", "wasm32-wasip2", "--host", "node"])).unwrap_err();
        assert!(e.0.contains("runs under wasmtime"), "{e}");
        let e = parse_options(os(&["--host", "deno"])).unwrap_err();
        assert!(e.0.contains("use wasmtime or node"), "{e}");
        let e = parse_options(os(&["--target"])).unwrap_err();
        assert!(e.0.contains("needs a value"), "{e}");
    }
}
