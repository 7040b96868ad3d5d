//! gosched in a wasm-bindgen app: a goroutine awaits a JS promise through
//! wasm-bindgen-futures' `JsFuture` and `gosched::block_on` (only that
//! goroutine waits), another sleeps, and a `#[wasm_bindgen]` export works
//! beside them. Built and run by tools/wasm-bindgen-demo.

use std::time::Duration;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    /// run.mjs defines it: a promise of `value` after `ms` milliseconds.
    #[wasm_bindgen(js_name = delayValue)]
    fn delay_value(ms: u32, value: &str) -> js_sys::Promise;
}

/// An ordinary wasm-bindgen export.
#[wasm_bindgen]
pub fn add(a: u32, b: u32) -> u32 {
    a + b
}

// gosched's entry, started by the loader's `Instance::start("app_main")`.
gosched::js_main!(app_main, || {
    let sleeper = gosched::go(|| {
        gosched::sleep(Duration::from_millis(10));
        "a goroutine slept"
    });
    let awaited = gosched::block_on(JsFuture::from(delay_value(20, "a JsFuture resolved")))
        .expect("the promise resolves");
    format!(
        "{}; {}; add(2, 3) = {}",
        sleeper.join().unwrap(),
        awaited.as_string().unwrap(),
        add(2, 3)
    )
});
