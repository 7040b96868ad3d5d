//! `cargo gosched build|run|test`: cargo with the target, the runner and the
//! link arguments of the module header's steps 1-3.

use crate::{asyncify, component, hosts, js, Error, Options, Result, Target};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// WASIp3: cargo must link a core module, which Asyncify can still rewrite;
/// [`component`] makes the component afterwards.
const SKIP_WIT_COMPONENT: &str = "link-arg=--skip-wit-component";

/// Stops early, with the command that fixes it, if the standard library for
/// `target` is not installed.
pub fn check_target_installed(target: Target) -> Result<()> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| Error::new(format!("cannot run rustc ({e}): install Rust with rustup")))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if sysroot
        .join("lib/rustlib")
        .join(target.triple())
        .join("lib")
        .is_dir()
    {
        Ok(())
    } else {
        Err(Error::new(format!(
            "the Rust target {t} is not installed: rustup target add {t}",
            t = target.triple()
        )))
    }
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `cargo SUBCOMMAND --target T` with this program as the runner.
fn cargo(subcommand: &str, o: &Options) -> Result<Command> {
    check_target_installed(o.target)?;
    let exe =
        std::env::current_exe().map_err(|e| Error::new(format!("cannot find myself: {e}")))?;
    let triple = o.target.triple();
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.arg(subcommand).args(["--target", triple]);
    let runner = [
        &*exe.to_string_lossy(),
        "gosched",
        "runner",
        "--target",
        triple,
    ]
    .map(toml_string)
    .join(", ");
    cmd.arg("--config")
        .arg(format!("target.{triple}.runner = [{runner}]"));
    if o.target == Target::Wasip3 {
        // RUSTFLAGS, when set, replaces every config's rustflags: add ours to
        // it. Else build.rustflags: a crate's own target.wasm32-wasip2.rustflags
        // take precedence (gosched's repository passes the argument there; it
        // may be given only once).
        // Doctests are linked by rustdoc, which takes rustdocflags instead
        // (no config of the repository sets those).
        for (env, key) in [("RUSTFLAGS", "rustflags"), ("RUSTDOCFLAGS", "rustdocflags")] {
            match std::env::var(env) {
                Ok(flags) => {
                    cmd.env(env, format!("{flags} -C {SKIP_WIT_COMPONENT}"));
                }
                Err(_) => {
                    cmd.arg("--config")
                        .arg(format!("build.{key} = [\"-C\", \"{SKIP_WIT_COMPONENT}\"]"));
                }
            }
        }
    }
    if let Some(host) = o.host {
        cmd.env("GOSCHED_WASM_HOST", host.name());
    }
    Ok(cmd)
}

pub fn test(o: Options) -> Result<ExitCode> {
    let mut cmd = cargo("test", &o)?;
    cmd.args(&o.cargo_args);
    hosts::finish(cmd)
}

pub fn run(o: Options) -> Result<ExitCode> {
    if o.target != Target::Js {
        let mut cmd = cargo("run", &o)?;
        cmd.args(&o.cargo_args);
        return hosts::finish(cmd);
    }
    // A cdylib cannot be `cargo run`: build, then run what was built.
    let (cargo_args, program_args) = split_program_args(&o.cargo_args);
    if !program_args.is_empty() {
        return Err(Error::new(
            "a JS host passes no command-line arguments to the program",
        ));
    }
    let built = built_modules(&o, cargo_args)?;
    let module = match built.as_slice() {
        [one] => one,
        [] => {
            return Err(Error::new(
                "cargo built no wasm module: a JS program is a cdylib (crate-type = [\"cdylib\"]) \
                 that calls gosched::js_main!, or a bin",
            ))
        }
        many => {
            let names: Vec<&str> = many.iter().map(|m| m.name.as_str()).collect();
            return Err(Error::new(format!(
                "cargo built several modules ({}): pick one with --lib, --bin NAME or --example NAME",
                names.join(", ")
            )));
        }
    };
    let processed = asyncify::cached(&module.path)?;
    if module.is_cdylib {
        let dist = dist_dir(&o, module);
        js::write_dist(&dist, &module.name, &processed)?;
        js::run_dist(&dist, &module.name)
    } else {
        js::run_main_export(&processed)
    }
}

pub fn build(o: Options) -> Result<ExitCode> {
    for module in built_modules(&o, &o.cargo_args)? {
        let out = match o.target {
            Target::Wasip1 => asyncify::cached(&module.path)?,
            Target::Wasip3 => component::cached(&module.path)?,
            Target::Js if module.is_cdylib => {
                let processed = asyncify::cached(&module.path)?;
                js::write_dist(&dist_dir(&o, &module), &module.name, &processed)?
            }
            Target::Js => asyncify::cached(&module.path)?,
        };
        println!("{}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn dist_dir(o: &Options, module: &Module) -> PathBuf {
    o.dist
        .clone()
        .unwrap_or_else(|| module.package_dir.join("dist"))
}

fn split_program_args(args: &[OsString]) -> (&[OsString], &[OsString]) {
    match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[]),
    }
}

/// A wasm module cargo built.
struct Module {
    path: PathBuf,
    /// The cargo target's name (`-` as `_`, as in the file name).
    name: String,
    is_cdylib: bool,
    package_dir: PathBuf,
}

/// Runs `cargo build` and returns the wasm modules it made.
fn built_modules(o: &Options, cargo_args: &[OsString]) -> Result<Vec<Module>> {
    let mut cmd = cargo("build", o)?;
    cmd.arg("--message-format=json-render-diagnostics")
        .args(cargo_args);
    cmd.stdout(Stdio::piped());
    let out = cmd
        .spawn()
        .and_then(|c| c.wait_with_output())
        .map_err(|e| Error::new(format!("cannot run cargo: {e}")))?;
    if !out.status.success() {
        return Err(Error::new("cargo build failed"));
    }
    let mut modules = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let is_cdylib = msg["target"]["crate_types"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == "cdylib"));
        let path = match msg["executable"].as_str() {
            Some(exe) => Some(PathBuf::from(exe)),
            None if is_cdylib => msg["filenames"]
                .as_array()
                .and_then(|f| {
                    f.iter()
                        .filter_map(|f| f.as_str())
                        .find(|f| f.ends_with(".wasm"))
                })
                .map(PathBuf::from),
            None => None,
        };
        let Some(path) = path else { continue };
        let manifest = PathBuf::from(msg["manifest_path"].as_str().unwrap_or_default());
        modules.push(Module {
            name: msg["target"]["name"]
                .as_str()
                .unwrap_or_default()
                .replace('-', "_"),
            path,
            is_cdylib,
            package_dir: manifest.parent().map(Path::to_path_buf).unwrap_or_default(),
        });
    }
    Ok(modules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_strings_escape_quotes_and_backslashes() {
        assert_eq!(toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
    }
}
