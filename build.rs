//! Links the wasm32 stack-switch assembly (asm/wasm32/) on wasm32 targets,
//! and on native targets chooses the stack switch (src/coro/mod.rs).
//!
//! The archive is prebuilt and committed so that users need no clang;
//! asm/wasm32/rebuild.sh re-assembles it from switch.S. Native targets link
//! nothing here.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=asm/wasm32/libgosched_switch.a");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    // Our own switch (src/coro/switch/) where it is written for; corosensei
    // elsewhere, and under its sanitizer feature (it tells ASan about stacks).
    println!("cargo:rustc-check-cfg=cfg(gosched_own_switch)");
    let sanitizer = std::env::var_os("CARGO_FEATURE_SANITIZER").is_some();
    if os == "linux" && matches!(arch.as_str(), "x86_64" | "aarch64") && !sanitizer {
        println!("cargo:rustc-cfg=gosched_own_switch");
    }
    if arch == "wasm32" {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("asm/wasm32");
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-lib=static=gosched_switch");
    }
    // WASIp3 (docs/wasip3.md): binaries link to a core module with
    // `-C link-arg=--skip-wit-component`, which cargo-gosched passes (and this
    // repository's .cargo/config.toml), so that Asyncify can still rewrite it.
    // Not from here: the argument may be given only once.
}
