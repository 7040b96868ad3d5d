//! Links the wasm32 stack-switch assembly (asm/wasm32/) on wasm32 targets.
//!
//! The archive is prebuilt and committed so that users need no clang;
//! asm/wasm32/rebuild.sh re-assembles it from switch.S. Native targets link
//! nothing here.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=asm/wasm32/libgosched_switch.a");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
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
