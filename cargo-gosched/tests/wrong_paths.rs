//! Every wrong path a user can take ends with a message that says what to do.
//!
//! The modules are made by hand (wasm-encoder) with the imports that tell the
//! cases apart (see src/module.rs): `asyncify.*` functions before Binaryen's
//! pass, the `gosched` marker global until `--set-globals` resolves it.
//! Node and wasmtime must be installed (scripts/test-all installs them).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use wasm_encoder::{
    CodeSection, EntityType, ExportKind, ExportSection, Function, FunctionSection, GlobalType,
    ImportSection, Instruction, Module, TypeSection, ValType,
};

const BIN: &str = env!("CARGO_BIN_EXE_cargo-gosched");

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cargo-gosched-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A command module exporting an empty `_start`, with an `asyncify` import
/// (Asyncify not applied) and/or the `gosched` marker import (not set).
fn module(asyncify_import: bool, marker_import: bool) -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut imports = ImportSection::new();
    let mut functions_imported = 0;
    if marker_import {
        let global = GlobalType {
            val_type: ValType::I32,
            mutable: false,
            shared: false,
        };
        imports.import(
            "gosched",
            "ERROR.this_module_needs_wasm_opt_asyncify.run_cargo_gosched",
            EntityType::Global(global),
        );
    }
    if asyncify_import {
        imports.import("asyncify", "start_unwind", EntityType::Function(0));
        functions_imported += 1;
    }
    let mut functions = FunctionSection::new();
    functions.function(0);
    let mut exports = ExportSection::new();
    exports.export("_start", ExportKind::Func, functions_imported);
    let mut code = CodeSection::new();
    let mut body = Function::new([]);
    body.instruction(&Instruction::End);
    code.function(&body);
    let mut m = Module::new();
    m.section(&types)
        .section(&imports)
        .section(&functions)
        .section(&exports)
        .section(&code);
    m.finish()
}

fn write_module(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Asserts that `out` failed and printed `want` on stderr.
fn assert_fails_with(out: Output, want: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exited 0; stderr: {stderr}");
    assert!(stderr.contains(want), "no '{want}' in: {stderr}");
}

fn runner(target: &str, module: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["gosched", "runner", "--target", target])
        .arg(module);
    cmd
}

/// Node running `script` (an ES module) with the JS loader at `loader`.
fn node_with_loader(dir: &Path, module: &Path) -> Output {
    let loader = Path::new(env!("CARGO_MANIFEST_DIR")).join("../js/gosched.mjs");
    let script = dir.join("load.mjs");
    std::fs::write(
        &script,
        format!(
            "import {{ run }} from {loader:?};\n\
             import {{ readFileSync }} from 'node:fs';\n\
             await run(readFileSync({module:?}));\n",
            loader = loader.display().to_string(),
            module = module.display().to_string()
        ),
    )
    .unwrap();
    Command::new("node")
        .arg(&script)
        .output()
        .expect("node (>= 20) must be installed")
}

#[test]
fn a_module_that_skipped_asyncify_says_what_to_run_in_the_js_loader() {
    let dir = scratch("js-unprocessed");
    let m = write_module(&dir, "app.wasm", &module(true, true));
    assert_fails_with(
        node_with_loader(&dir, &m),
        "has not been through Binaryen's Asyncify step, which goroutines need: build it with \
         `cargo gosched build --target wasm32-unknown-unknown`",
    );
}

#[test]
fn a_module_that_skipped_asyncify_says_what_to_run_under_node_wasi() {
    let dir = scratch("wasi-unprocessed");
    let m = write_module(&dir, "app.wasm", &module(true, true));
    let wasi_run = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/wasi-run.mjs");
    let script = std::fs::read_to_string(wasi_run).unwrap();
    let out = Command::new("node")
        .args(["--input-type=module", "-e", &script, "--"])
        .arg(&m)
        .output()
        .unwrap();
    assert_fails_with(
        out,
        "has not been through Binaryen's Asyncify step: run it with `cargo gosched run`",
    );
}

#[test]
fn asyncify_without_the_marker_is_named_by_the_runner_and_the_js_loader() {
    let dir = scratch("no-marker");
    let m = write_module(&dir, "app.wasm", &module(false, true));
    for target in ["wasm32-wasip1", "wasm32-wasip2", "wasm32-unknown-unknown"] {
        assert_fails_with(
            runner(target, &m).output().unwrap(),
            "went through wasm-opt --asyncify without gosched's --set-globals gosched_asyncify_marker=1",
        );
    }
    assert_fails_with(
        node_with_loader(&dir, &m),
        "went through wasm-opt --asyncify without --set-globals gosched_asyncify_marker=1",
    );
}

#[test]
fn a_missing_wasm_opt_says_how_to_install_it() {
    let dir = scratch("no-wasm-opt");
    let m = write_module(&dir, "app.wasm", &module(true, true));
    let out = runner("wasm32-wasip1", &m)
        .env("PATH", &dir)
        .env("HOME", &dir)
        .env_remove("XDG_CACHE_HOME")
        .env_remove("WASM_OPT")
        .output()
        .unwrap();
    assert_fails_with(
        out,
        "wasm-opt (Binaryen) not found, which gosched's Asyncify step needs: npm install",
    );
}

#[test]
fn a_missing_wasmtime_says_how_to_install_it() {
    let dir = scratch("no-wasmtime");
    let m = write_module(&dir, "app.wasm", &module(false, false));
    let out = runner("wasm32-wasip1", &m)
        .env("PATH", &dir)
        .env_remove("WASMTIME")
        .output()
        .unwrap();
    assert_fails_with(out, "wasmtime not found: install wasmtime 49 or newer");
}

#[test]
fn a_missing_rustup_target_says_which_to_add() {
    let dir = scratch("no-target");
    // A rustc whose sysroot has no wasm standard library.
    let rustc = dir.join("rustc");
    std::fs::write(
        &rustc,
        format!("#!/bin/sh\necho {}\n", dir.join("sysroot").display()),
    )
    .unwrap();
    std::fs::set_permissions(&rustc, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    for (command, target) in [
        ("build", "wasm32-wasip2"),
        ("test", "wasm32-wasip1"),
        ("run", "wasm32-unknown-unknown"),
    ] {
        let out = Command::new(BIN)
            .args(["gosched", command, "--target", target])
            .env("RUSTC", &rustc)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert_fails_with(
            out,
            &format!("the Rust target {target} is not installed: rustup target add {target}"),
        );
    }
}

#[test]
fn a_component_is_not_given_to_asyncify() {
    let dir = scratch("component");
    // The smallest component: the preamble of layer 1.
    let m = write_module(&dir, "app.wasm", b"\0asm\x0d\0\x01\0");
    assert_fails_with(
        runner("wasm32-wasip1", &m).output().unwrap(),
        "is a component already",
    );
}

#[test]
fn unknown_commands_targets_and_hosts_list_what_exists() {
    let run = |args: &[&str]| Command::new(BIN).args(args).output().unwrap();
    assert_fails_with(
        run(&["gosched", "biuld"]),
        "unknown command 'biuld': use build, run, test",
    );
    assert_fails_with(
        run(&["gosched", "run", "--target", "wasm32-wasip3"]),
        "unsupported target 'wasm32-wasip3'",
    );
    assert_fails_with(
        run(&["gosched", "test", "--host", "deno"]),
        "unknown host 'deno'",
    );
}

#[test]
fn doctor_names_each_missing_tool_and_how_to_get_it() {
    let dir = scratch("doctor");
    let out = Command::new(BIN)
        .args(["gosched", "doctor"])
        .env("PATH", &dir)
        .env("HOME", &dir)
        .env_remove("XDG_CACHE_HOME")
        .env_remove("WASM_OPT")
        .env_remove("WASMTIME")
        .env_remove("NODE")
        .env_remove("RUSTC")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "doctor exited 0 with nothing installed: {stdout}"
    );
    for want in [
        "MISSING  rustup target wasm32-wasip1: cannot run rustc",
        "MISSING  wasm-opt (Asyncify, every target): wasm-opt (Binaryen) not found",
        "npm install --prefix ~/.cache/gosched/binaryen binaryen@132",
        "MISSING  wasmtime (wasm32-wasip1; >= 49 for wasm32-wasip2): wasmtime not found: install wasmtime 49",
        "MISSING  node (wasm32-unknown-unknown; --host node for wasm32-wasip1): node not found: install Node.js 20",
        "6 missing (each line says how to get it)",
    ] {
        assert!(stdout.contains(want), "no '{want}' in:\n{stdout}");
    }
}

#[test]
fn doctor_finds_what_ci_installs() {
    let out = Command::new(BIN)
        .args(["gosched", "doctor"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("ok       wasmtime") && stdout.contains("ok       wasm-opt"),
        "{stdout}"
    );
}
