//! A component whose async exports run on goroutines (gosched::wasip3::Exports):
//! the callee that tools/wasip3-checks composes with tests/wasip3_exports.rs.
//! As a test binary of its own it has no tests; only its exports matter.
#![cfg(all(target_os = "wasi", target_env = "p2", feature = "wasip3"))]

use std::cell::{Cell, RefCell};
use std::time::Duration;

use gosched::wasip3::bindings::clocks::monotonic_clock;
use gosched::wasip3::Exports;
use gosched::{chan, Receiver, Sender};

wit_bindgen::generate!({
    path: "tests/support/wasip3_exports.wit",
    world: "callee",
});

thread_local! {
    /// Asks the counter's goroutine for the next value.
    static COUNTER: RefCell<Option<Sender<Sender<u64>>>> = const { RefCell::new(None) };
    static HANDOFF: RefCell<Option<(Sender<String>, Receiver<String>)>> = const { RefCell::new(None) };
    static FINISHED_SLEEPERS: Cell<u32> = const { Cell::new(0) };
}

/// The init hook: one goroutine owns the counter; the hand-off channel.
fn start_background() {
    let (requests, incoming) = chan::<Sender<u64>>(0);
    COUNTER.set(Some(requests));
    gosched::go(move || {
        let mut count = 0;
        for reply in &incoming {
            count += 1;
            let _ = reply.send(count);
        }
    });
    HANDOFF.set(Some(chan(0)));
}

static SERVICE: Exports = Exports::new().init(start_background);

fn millis(ms: u32) -> Duration {
    Duration::from_millis(ms.into())
}

struct Callee;

impl exports::test::exports::calls::Guest for Callee {
    async fn sleep(ms: u32) -> u32 {
        SERVICE
            .call(move || {
                gosched::sleep(millis(ms));
                ms
            })
            .await
    }

    async fn wait_in_import(ms: u32) -> u32 {
        SERVICE
            .call(move || {
                gosched::block_on(monotonic_clock::wait_for(u64::from(ms) * 1_000_000));
                ms
            })
            .await
    }

    async fn next() -> u64 {
        SERVICE
            .call(|| {
                let (reply, answer) = chan(0);
                let counter = COUNTER.with_borrow(|c| c.clone().expect("init ran"));
                counter.send(reply).unwrap();
                answer.recv().unwrap()
            })
            .await
    }

    async fn start_sleeper(ms: u32) {
        SERVICE
            .call(move || {
                gosched::go(move || {
                    gosched::sleep(millis(ms));
                    FINISHED_SLEEPERS.set(FINISHED_SLEEPERS.get() + 1);
                });
            })
            .await
    }

    async fn finished_sleepers() -> u32 {
        SERVICE.call(|| FINISHED_SLEEPERS.get()).await
    }

    async fn handoff_send(message: String) {
        SERVICE
            .call(move || {
                let tx = HANDOFF.with_borrow(|h| h.as_ref().expect("init ran").0.clone());
                tx.send(message).unwrap();
            })
            .await
    }

    async fn handoff_receive() -> String {
        SERVICE
            .call(|| {
                let rx = HANDOFF.with_borrow(|h| h.as_ref().expect("init ran").1.clone());
                rx.recv().unwrap()
            })
            .await
    }

    async fn add_on_goroutine(a: u32, b: u32) -> u32 {
        SERVICE.call(move || a.wrapping_add(b)).await
    }

    async fn add_stackless(a: u32, b: u32) -> u32 {
        a.wrapping_add(b)
    }

    async fn sleep_on_goroutine(ms: u32) {
        SERVICE.call(move || gosched::sleep(millis(ms))).await
    }

    async fn sleep_stackless(ms: u32) {
        monotonic_clock::wait_for(u64::from(ms) * 1_000_000).await
    }
}

export!(Callee);
