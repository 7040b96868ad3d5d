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
    // WASIp3 (docs/wasip3.md): this package's binaries, tests and examples
    // link to a core module; cargo-gosched applies Asyncify and only then
    // makes it a component (and passes this argument for any crate).
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if env == "p2" && std::env::var_os("CARGO_FEATURE_WASIP3").is_some() {
        println!("cargo:rustc-link-arg=--skip-wit-component");
    }
}
