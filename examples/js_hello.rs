//! Goroutines in a JS host: three goroutines sleep and report on a channel,
//! then main awaits a JS promise and returns a value to JS. Natively this
//! example is empty.
//!
//! Run with `cargo gosched run --target wasm32-unknown-unknown --example
//! js_hello` (builds it, applies Asyncify, runs it under Node with
//! js/gosched.mjs).

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
gosched::js_main!(|| {
    use gosched::js::{self, Promise};
    use std::time::Duration;

    let (tx, rx) = gosched::chan(0);
    for id in [3u64, 1, 2] {
        let tx = tx.clone();
        gosched::go(move || {
            gosched::sleep(Duration::from_millis(10 * id));
            tx.send(format!("goroutine {id} slept {} ms", 10 * id))
                .unwrap();
        });
    }
    drop(tx);
    for line in &rx {
        js::log(line);
    }
    // Only this goroutine waits for the promise; JS's event loop runs meanwhile.
    let promise = js::call("Promise.resolve", &["a JS promise".into()]).unwrap();
    let resolved = Promise::from(promise).wait().unwrap();
    js::log(format_args!("awaited {resolved:?}"));
    "main's return value"
});
