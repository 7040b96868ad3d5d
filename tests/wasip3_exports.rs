//! Async exports served by goroutines, called concurrently: this component
//! imports the `calls` interface that tests/wasip3_export_callee.rs exports
//! through gosched::wasip3::Exports. tools/wasip3-checks composes the two
//! (`cargo gosched compose`) and runs these tests, which are ignored otherwise
//! (alone, this component's import is not satisfied). The callee instance
//! lives through all the tests: its counters carry over.
//!
//! Each call below is an async-lowered import call; goroutines make many at
//! once, as a server's clients would.
#![cfg(all(target_os = "wasi", target_env = "p2", feature = "wasip3"))]

use std::time::Duration;

wit_bindgen::generate!({
    path: "tests/support/wasip3_exports.wit",
    world: "caller",
});

use gosched::wasip3::bindings::clocks::monotonic_clock;
use test::exports::calls;

#[path = "support/first_of.rs"]
mod first_of;
use first_of::first_of;

/// `n` goroutines each make one call; returns the values and the time taken.
fn concurrently<T: 'static>(n: u32, call: fn(u32) -> T) -> (Vec<T>, Duration) {
    let start = gosched::now();
    let handles: Vec<_> = (0..n).map(|i| gosched::go(move || call(i))).collect();
    let values = handles.into_iter().map(|h| h.join().unwrap()).collect();
    (values, gosched::now() - start)
}

#[test]
#[ignore = "needs the callee composed in: run by tools/wasip3-checks"]
fn calls_that_sleep_on_gosched_timers_run_concurrently() {
    let (values, elapsed) =
        gosched::run(|| concurrently(20, |_| gosched::block_on(calls::sleep(200))));
    assert_eq!(values, vec![200; 20]);
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    // One after the other: 4 s.
    assert!(elapsed < Duration::from_millis(1000), "{elapsed:?}");
}

#[test]
#[ignore = "needs the callee composed in: run by tools/wasip3-checks"]
fn calls_that_wait_in_imports_run_concurrently() {
    let (values, elapsed) =
        gosched::run(|| concurrently(20, |_| gosched::block_on(calls::wait_in_import(200))));
    assert_eq!(values, vec![200; 20]);
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1000), "{elapsed:?}");
}

#[test]
#[ignore = "needs the callee composed in: run by tools/wasip3-checks"]
fn calls_with_different_deadlines_each_return_after_their_own() {
    // Started longest first: each new call brings the earliest deadline
    // forward, so the callee's timer moves from task to task.
    let (returns, elapsed) = gosched::run(|| {
        concurrently(10, |i| {
            let ms = 300 - 30 * i;
            let start = gosched::now();
            let value = gosched::block_on(calls::sleep(ms));
            (value, ms, gosched::now() - start)
        })
    });
    for (value, ms, took) in returns {
        assert_eq!(value, ms);
        assert!(
            took >= Duration::from_millis(ms.into()),
            "{ms} ms took {took:?}"
        );
        assert!(
            took < Duration::from_millis(u64::from(ms) + 500),
            "{ms} ms took {took:?}"
        );
    }
    assert!(elapsed < Duration::from_millis(1000), "{elapsed:?}");
}

#[test]
#[ignore = "needs the callee composed in: run by tools/wasip3-checks"]
fn calls_share_the_background_goroutine_of_the_init_hook() {
    let (mut values, _) = gosched::run(|| concurrently(200, |_| gosched::block_on(calls::next())));
    values.sort_unstable();
    values.dedup();
    assert_eq!(values.len(), 200, "distinct counter values");
    assert_eq!(values[199] - values[0], 199, "consecutive: {values:?}");
}

#[test]
#[ignore = "needs the callee composed in: run by tools/wasip3-checks"]
fn a_call_blocked_on_a_channel_returns_when_another_call_sends() {
    let received = gosched::run(|| {
        let receiver = gosched::go(|| gosched::block_on(calls::handoff_receive()));
        gosched::sleep(Duration::from_millis(50));
        // The receiving call's goroutine waits on the callee's channel; it
        // finishes during the sending call's callback, and its value still
        // goes out through its own task.
        gosched::block_on(calls::handoff_send("over the channel".to_owned()));
        receiver.join().unwrap()
    });
    assert_eq!(received, "over the channel");
}

#[test]
#[ignore = "needs the callee composed in: run by tools/wasip3-checks"]
fn a_goroutine_outlives_the_call_that_started_it() {
    let (before, right_after, later, took) = gosched::run(|| {
        let before = gosched::block_on(calls::finished_sleepers());
        let start = gosched::now();
        gosched::block_on(calls::start_sleeper(100));
        let took = gosched::now() - start;
        let right_after = gosched::block_on(calls::finished_sleepers());
        gosched::sleep(Duration::from_millis(300));
        let later = gosched::block_on(calls::finished_sleepers());
        (before, right_after, later, took)
    });
    assert!(
        took < Duration::from_millis(100),
        "start-sleeper waited: {took:?}"
    );
    assert_eq!(right_after, before);
    // Nothing called the callee while the sleeper slept: its timer kept the
    // task that started it alive after its return, and woke it.
    assert_eq!(later, before + 1);
}

#[test]
#[ignore = "needs the callee composed in: run by tools/wasip3-checks"]
fn an_earlier_deadline_takes_the_timer_from_a_task_that_has_returned() {
    let (before, after) = gosched::run(|| {
        let before = gosched::block_on(calls::finished_sleepers());
        // The sleeper's 300 ms timer is in its (returned) task's set...
        gosched::block_on(calls::start_sleeper(300));
        // ...until this call's 50 ms deadline replaces it: that task is poked
        // and exits, and the 300 ms timer is armed again from this one.
        assert_eq!(gosched::block_on(calls::sleep(50)), 50);
        gosched::sleep(Duration::from_millis(400));
        (before, gosched::block_on(calls::finished_sleepers()))
    });
    assert_eq!(after, before + 1);
}

#[test]
#[ignore = "needs the callee composed in: run by tools/wasip3-checks"]
fn a_cancelled_call_hands_what_its_task_held_to_the_other_calls() {
    let wait_ms = |ms: u64| monotonic_clock::wait_for(ms * 1_000_000);
    let (cancelled, other) = gosched::run(move || {
        // The earliest deadline: the callee's timer subtask joins the set of
        // this call's task...
        let first = gosched::go(move || first_of(calls::sleep(300), wait_ms(100)));
        gosched::sleep(Duration::from_millis(20));
        // ...and stays there when this later one arrives. Cancelling the
        // first call must not take the timer away from the second.
        let other = first_of(calls::sleep(500), wait_ms(3000));
        (first.join().unwrap(), other)
    });
    assert_eq!(cancelled, Err(()));
    assert_eq!(
        other,
        Ok(500),
        "the call whose timer sat in the cancelled call's task never woke"
    );
}

#[test]
#[ignore = "needs the callee composed in: run by tools/wasip3-checks"]
fn a_cancelled_call_ends_at_once_and_the_callee_keeps_serving() {
    let (won, elapsed, after) = gosched::run(|| {
        let start = gosched::now();
        // Dropping the pending 10 s call cancels its subtask: the callee's
        // task gets CANCEL and drops the call's future (its goroutine sleeps
        // on, and its value is dropped).
        let won = first_of(calls::sleep(10_000), calls::sleep(20));
        let elapsed = gosched::now() - start;
        (won, elapsed, gosched::block_on(calls::sleep(10)))
    });
    assert_eq!(won, Err(20));
    assert!(elapsed < Duration::from_millis(1000), "{elapsed:?}");
    assert_eq!(after, 10);
}
