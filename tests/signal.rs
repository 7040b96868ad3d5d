//! gosched::signal (native only): OS signals delivered on a channel through
//! the scheduler's cross-thread wake path. One test function per signal
//! number: the tests of this binary share the process's signal handlers.
#![cfg(not(target_arch = "wasm32"))]

use std::time::{Duration, Instant};

use gosched::context::{self, ContextError};
use gosched::signal::{self, SIGKILL, SIGUSR1, SIGUSR2, SIGWINCH};
use gosched::{after, go, run, select};

fn raise(signal: i32) {
    // SAFETY: raise only sends a signal to this thread; signal-hook's handler
    // for it is installed.
    assert_eq!(unsafe { libc::raise(signal) }, 0);
}

#[test]
fn a_signal_wakes_an_idle_scheduler_and_arrives_on_the_channel() {
    run(|| {
        let signals = signal::notify(&[SIGUSR1]).unwrap();
        // Raised from another OS thread while every goroutine waits: the
        // scheduler is parked in its idle wait, and only the cross-thread
        // wake path can end it.
        let raiser = std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            raise(SIGUSR1);
        });
        select! {
            recv(signals) -> s => assert_eq!(s, Ok(SIGUSR1)),
            recv(after(Duration::from_secs(20))) -> _ => panic!("no signal"),
        }
        raiser.join().unwrap();
        // Raised on this thread, received by another goroutine.
        let rx = signals.clone();
        let h = go(move || rx.recv());
        raise(SIGUSR1);
        assert_eq!(h.join().unwrap(), Ok(SIGUSR1));
        signal::stop(&signals);
        assert!(signals.recv().is_err(), "stop closes the channel");
        assert_eq!(
            gosched::num_goroutines(),
            1,
            "the forwarding goroutine ended"
        );
    });
}

#[test]
fn uncatchable_signals_are_an_error_and_run_ends_with_notify_open() {
    run(|| {
        let err = signal::notify(&[SIGKILL]).unwrap_err();
        assert!(err.to_string().contains("cannot be caught"), "{err}");
        assert!(signal::notify(&[100_000]).is_err(), "not a signal");
        // Left open: run still returns (the goroutine is unwound, the reader
        // thread ends).
        let _open = signal::notify(&[SIGUSR2]).unwrap();
    });
    run(|| {
        let signals = signal::notify(&[SIGUSR2]).unwrap();
        raise(SIGUSR2);
        assert_eq!(signals.recv(), Ok(SIGUSR2));
    });
}

#[test]
fn notify_context_is_cancelled_by_a_signal_and_stops_watching_when_done() {
    run(|| {
        let before = gosched::num_goroutines();
        let (ctx, _stop) = signal::notify_context(&context::background(), &[SIGWINCH]).unwrap();
        assert_eq!(ctx.err(), None);
        raise(SIGWINCH);
        select! {
            recv(ctx.done()) -> _ => {}
            recv(after(Duration::from_secs(20))) -> _ => panic!("not cancelled"),
        }
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
        // Cancelled by its handle instead: the watcher and the forwarding
        // goroutine end too.
        let (ctx, stop) = signal::notify_context(&context::background(), &[SIGWINCH]).unwrap();
        drop(stop);
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
        // They end once the signal thread has seen the stop: wait for it,
        // boundedly, since a loaded machine may take longer than a tick.
        let give_up = Instant::now() + Duration::from_secs(10);
        while gosched::num_goroutines() != before && Instant::now() < give_up {
            gosched::sleep(Duration::from_millis(5));
        }
        assert_eq!(gosched::num_goroutines(), before);
    });
}
