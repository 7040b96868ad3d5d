//! The WASIp3 platform's exit paths under `wasmtime run`: `main` returns while
//! other goroutines still wait (on a gosched timer, an import subtask, a
//! stream read), after its own last wake came from an import or a timer.
//! Each test checks that the code after `run` runs and that a new `run`
//! starts clean; `cargo test` checks that the component exits with 0 (a trap
//! in the platform's teardown ends it with 134).
//!
//! `cargo test --target wasm32-wasip2 --features wasip3 --test wasip3_exit`.
#![cfg(all(target_os = "wasi", target_env = "p2", feature = "wasip3"))]

use std::time::{Duration, Instant};

use gosched::wasip3::bindings::clocks::monotonic_clock;
use gosched::wasip3::bindings::wit_stream;
use gosched::wasip3::registered_waitables;

const MS: u64 = 1_000_000;

/// Sleeps in the WASIp3 clock import (not a gosched timer).
fn wait_for_ms(ms: u64) {
    gosched::block_on(monotonic_clock::wait_for(ms * MS));
}

/// A second `run` after the first one: its timers and imports work, and
/// nothing of the first one is left in the set.
fn run_again() {
    let slept = gosched::run(|| {
        assert_eq!(registered_waitables(), 0);
        let start = gosched::now();
        gosched::sleep(Duration::from_millis(5));
        wait_for_ms(5);
        gosched::now() - start
    });
    assert!(slept >= Duration::from_millis(10), "{slept:?}");
}

/// The program: a goroutine sleeps on a gosched timer (the platform's
/// `wait-until` subtask is pending) while main's last wake is an import.
#[test]
fn main_returns_after_an_import_while_a_goroutine_sleeps_on_a_timer() {
    let start = Instant::now();
    gosched::run(|| {
        gosched::go(|| gosched::sleep(Duration::from_secs(5)));
        wait_for_ms(20);
    });
    run_again();
    assert!(start.elapsed() < Duration::from_secs(4));
}

#[test]
fn main_returns_after_a_timer_while_a_goroutine_waits_in_an_import() {
    let start = Instant::now();
    gosched::run(|| {
        gosched::go(|| wait_for_ms(5_000));
        gosched::sleep(Duration::from_millis(20));
        assert_eq!(registered_waitables(), 1);
    });
    run_again();
    assert!(start.elapsed() < Duration::from_secs(4));
}

#[test]
fn main_returns_after_a_timer_while_goroutines_wait_on_a_timer_and_an_import() {
    let start = Instant::now();
    gosched::run(|| {
        gosched::go(|| wait_for_ms(5_000));
        gosched::go(|| gosched::sleep(Duration::from_secs(5)));
        gosched::sleep(Duration::from_millis(20));
    });
    run_again();
    assert!(start.elapsed() < Duration::from_secs(4));
}

#[test]
fn main_returns_after_an_import_while_a_goroutine_waits_on_a_stream_read() {
    let start = Instant::now();
    gosched::run(|| {
        let (tx, mut rx) = wit_stream::new::<u8>();
        gosched::go(move || {
            let _ = gosched::block_on(rx.read(Vec::with_capacity(16)));
        });
        gosched::go(|| gosched::sleep(Duration::from_secs(5)));
        wait_for_ms(20);
        assert_eq!(registered_waitables(), 1);
        // The writer stays open: the read is still pending at exit.
        std::mem::forget(tx);
    });
    run_again();
    assert!(start.elapsed() < Duration::from_secs(4));
}

#[test]
fn main_returns_after_a_timer_while_a_goroutine_waits_on_a_stream_read() {
    gosched::run(|| {
        let (tx, mut rx) = wit_stream::new::<u8>();
        gosched::go(move || {
            let _ = gosched::block_on(rx.read(Vec::with_capacity(16)));
        });
        gosched::sleep(Duration::from_millis(20));
        std::mem::forget(tx);
    });
    run_again();
}
