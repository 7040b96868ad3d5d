//! Examples that check their own results, run as tests.
#![cfg(not(target_arch = "wasm32"))]

#[path = "../examples/custom_platform.rs"]
mod custom_platform;

#[test]
fn custom_platform_example() {
    custom_platform::main();
}
