//! The WASIp3 platform under `wasmtime run`: goroutines that wait in
//! component-model async imports block only themselves.
//!
//! `cargo test --target wasm32-wasip2 --features wasip3 --test wasip3`.
//! Tests that end the component on purpose are `#[ignore]`d and run one by one
//! by tools/wasip3-checks, which checks how they ended.
#![cfg(all(target_os = "wasi", target_env = "p2", feature = "wasip3"))]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use gosched::wasip3::bindings::clocks::monotonic_clock;
use gosched::wasip3::bindings::wit_bindgen::StreamResult;
use gosched::wasip3::bindings::wit_stream;
use gosched::wasip3::{self, EventKind};

#[path = "support/first_of.rs"]
mod first_of;
use first_of::first_of;

const MS: u64 = 1_000_000;

/// Sleeps in the WASIp3 clock import (not a gosched timer).
fn wait_for_ms(ms: u64) {
    gosched::block_on(monotonic_clock::wait_for(ms * MS));
}

#[test]
fn ten_goroutines_wait_for_200ms_together() {
    let elapsed = gosched::run(|| {
        let start = gosched::now();
        let handles: Vec<_> = (0..10)
            .map(|i| {
                gosched::go(move || {
                    wait_for_ms(200);
                    i
                })
            })
            .collect();
        let ids: Vec<i32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(ids, (0..10).collect::<Vec<_>>());
        gosched::now() - start
    });
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    // One after the other they would take 2 s.
    assert!(elapsed < Duration::from_millis(1000), "{elapsed:?}");
}

#[test]
fn goroutines_compute_and_exchange_values_while_others_wait_in_io() {
    let log = gosched::run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        // Two goroutines blocked in the clock import...
        let sleepers: Vec<_> = (0..2)
            .map(|i| {
                let log = log.clone();
                gosched::go(move || {
                    wait_for_ms(100);
                    log.borrow_mut().push(format!("io {i} done"));
                })
            })
            .collect();
        // ...while a pipeline of goroutines computes over unbuffered channels.
        let (numbers_tx, numbers_rx) = gosched::chan::<u64>(0);
        let (squares_tx, squares_rx) = gosched::chan::<u64>(0);
        gosched::go(move || {
            for n in 1..=1000 {
                numbers_tx.send(n).unwrap();
            }
        });
        gosched::go(move || {
            for n in &numbers_rx {
                squares_tx.send(n * n).unwrap();
            }
        });
        let sum: u64 = squares_rx.iter().sum();
        log.borrow_mut().push(format!("sum {sum}"));
        for h in sleepers {
            h.join().unwrap();
        }
        Rc::try_unwrap(log).unwrap().into_inner()
    });
    // The pipeline never waited for the sleepers: its result came first.
    assert_eq!(log[0], "sum 333833500");
    assert_eq!(log.len(), 3);
}

#[test]
fn dropping_a_pending_import_future_cancels_its_subtask() {
    gosched::run(|| {
        let start = gosched::now();
        // The 10 s wait is in flight (a subtask in the set) when the 20 ms one
        // wins; dropping it cancels the subtask and takes it out of the set.
        let won = first_of(
            monotonic_clock::wait_for(10_000 * MS),
            monotonic_clock::wait_for(20 * MS),
        );
        assert!(won.is_err(), "the 20 ms wait must win");
        assert_eq!(wasip3::registered_waitables(), 0);
        // The set still works, and nothing is left to wake anyone.
        wait_for_ms(10);
        assert!(gosched::now() - start < Duration::from_millis(1000));
    });
}

#[test]
fn main_returning_abandons_goroutines_blocked_in_imports() {
    let start = std::time::Instant::now();
    gosched::run(|| {
        gosched::go(|| wait_for_ms(10_000));
        gosched::go(|| wait_for_ms(10_000));
        wait_for_ms(10);
        assert_eq!(wasip3::registered_waitables(), 2);
    });
    // Their subtasks left the set with the scheduler; a new one starts clean.
    gosched::run(|| {
        assert_eq!(wasip3::registered_waitables(), 0);
        wait_for_ms(10);
    });
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn gosched_timers_and_import_waits_mix() {
    gosched::run(|| {
        let start = gosched::now();
        let (tx, rx) = gosched::chan(2);
        let tx2 = tx.clone();
        gosched::go(move || {
            gosched::sleep(Duration::from_millis(150));
            tx.send("timer").unwrap();
        });
        gosched::go(move || {
            wait_for_ms(50);
            tx2.send("import").unwrap();
        });
        assert_eq!(rx.recv().unwrap(), "import");
        assert_eq!(rx.recv().unwrap(), "timer");
        let elapsed = gosched::now() - start;
        assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(1000), "{elapsed:?}");
    });
}

#[link(wasm_import_module = "wasi:clocks/monotonic-clock@0.3.0")]
unsafe extern "C" {
    /// Returns `status | subtask << 4`.
    #[link_name = "[async-lower]wait-for"]
    fn raw_wait_for(ns: u64) -> u32;
}

#[link(wasm_import_module = "$root")]
unsafe extern "C" {
    #[link_name = "[subtask-drop]"]
    fn raw_subtask_drop(subtask: u32);
}

#[test]
fn raw_wait_delivers_the_subtask_event() {
    gosched::run(|| {
        let start = gosched::now();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                gosched::go(|| {
                    // SAFETY: canonical ABI call with a scalar argument.
                    let packed = unsafe { raw_wait_for(50 * MS) };
                    assert_eq!(packed & 0xf, 1, "STARTED");
                    let subtask = packed >> 4;
                    let event = wasip3::wait(subtask);
                    assert_eq!(event.kind, EventKind::Subtask);
                    assert_eq!(event.waitable, subtask);
                    assert_eq!(event.code, 2, "RETURNED");
                    // SAFETY: the subtask has returned and is ours.
                    unsafe { raw_subtask_drop(subtask) };
                })
            })
            .collect();
        for h in waiters {
            h.join().unwrap();
        }
        let elapsed = gosched::now() - start;
        assert!(elapsed < Duration::from_millis(140), "{elapsed:?}");
    });
}

#[test]
fn stream_between_goroutines() {
    let received = gosched::run(|| {
        let (mut tx, mut rx) = wit_stream::new::<u8>();
        let writer = gosched::go(move || {
            for chunk in 0..10u8 {
                let rest = gosched::block_on(tx.write_all(vec![chunk; 1000]));
                assert!(rest.is_empty());
            }
        });
        let mut received = Vec::new();
        loop {
            let (result, buf) = gosched::block_on(rx.read(Vec::with_capacity(4096)));
            received.extend_from_slice(&buf);
            if result == StreamResult::Dropped {
                break;
            }
        }
        writer.join().unwrap();
        received
    });
    let expected: Vec<u8> = (0..10u8).flat_map(|c| vec![c; 1000]).collect();
    assert_eq!(received, expected);
}

#[test]
#[ignore = "aborts on purpose; run by tools/wasip3-checks"]
fn deadlock_on_channels_is_reported() {
    gosched::run(|| {
        // A goroutine waited in an import before; nothing is pending now.
        wait_for_ms(1);
        let (tx, rx) = gosched::chan::<i32>(0);
        gosched::Builder::new()
            .name("stuck receiver".into())
            .spawn(move || rx.recv())
            .unwrap();
        let (_keep, never) = gosched::chan::<i32>(0);
        never.recv().unwrap();
        drop(tx);
    });
}

#[test]
fn spawn_local_of_a_newer_wit_bindgen_runs_on_a_goroutine() {
    gosched::run(|| {
        let before = gosched::num_goroutines();
        // wit-bindgen 0.63 finds the scheduler's task record (version 3) and
        // hands the future to its spawn hook.
        let handle = wit_bindgen::spawn_local(async {
            monotonic_clock::wait_for(10 * MS).await;
            gosched::current_id()
        });
        assert_eq!(gosched::num_goroutines(), before + 1);
        let ran_on = gosched::block_on(handle).expect("not cancelled");
        assert_ne!(ran_on, gosched::current_id());
    });
}
