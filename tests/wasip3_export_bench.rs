//! The benchmark's caller (tools/wasip3-export-bench composes it with
//! tests/wasip3_export_callee.rs): the same export calls served on goroutines
//! (gosched::wasip3::Exports) and by stackless wit-bindgen `async fn`s, made
//! from many goroutines at once. Prints `RESULT` lines; asserts only that
//! the calls return what they should. Ignored unless the script runs it.
#![cfg(all(target_os = "wasi", target_env = "p2", feature = "wasip3"))]

wit_bindgen::generate!({
    path: "tests/support/wasip3_exports.wit",
    world: "caller",
});

use test::exports::calls;

/// `calls` calls of `call` from `concurrency` goroutines; calls per second.
fn rate(concurrency: u32, calls: u32, call: fn(u32)) -> f64 {
    let per_goroutine = calls / concurrency;
    let start = gosched::now();
    let handles: Vec<_> = (0..concurrency)
        .map(|g| {
            gosched::go(move || {
                for i in 0..per_goroutine {
                    call(g * per_goroutine + i);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let elapsed = gosched::now() - start;
    f64::from(per_goroutine * concurrency) / elapsed.as_secs_f64()
}

fn report(what: &str, concurrency: u32, calls: u32, goroutine: fn(u32), stackless: fn(u32)) {
    // Interleaved rounds; the best of each side (least disturbed by the
    // machine's other load).
    let (mut on_goroutines, mut by_stackless) = (0f64, 0f64);
    for _ in 0..3 {
        on_goroutines = on_goroutines.max(rate(concurrency, calls, goroutine));
        by_stackless = by_stackless.max(rate(concurrency, calls, stackless));
    }
    println!(
        "RESULT wasip3-export {what} concurrency={concurrency}: goroutine {on_goroutines:.0} calls/s, \
         stackless {by_stackless:.0} calls/s, ratio {:.2}",
        on_goroutines / by_stackless
    );
}

#[test]
#[ignore = "a benchmark: run by tools/wasip3-export-bench"]
fn export_calls_on_goroutines_vs_stackless() {
    gosched::run(|| {
        for concurrency in [1, 16, 64] {
            report(
                "add",
                concurrency,
                6400,
                |i| assert_eq!(gosched::block_on(calls::add_on_goroutine(i, 1)), i + 1),
                |i| assert_eq!(gosched::block_on(calls::add_stackless(i, 1)), i + 1),
            );
        }
        for concurrency in [16, 64] {
            report(
                "sleep-10ms",
                concurrency,
                concurrency * 20,
                |_| gosched::block_on(calls::sleep_on_goroutine(10)),
                |_| gosched::block_on(calls::sleep_stackless(10)),
            );
        }
    });
}
