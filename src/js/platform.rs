//! JS platform (wasm32-unknown-unknown): the host is a JS event loop.
//!
//! As in Go's js/wasm port (lock_js.go), when no goroutine can run the
//! scheduler returns to JS ([`Idle::ReturnToHost`]) and JS re-enters it when
//! a timer fires, a promise settles or a registered callback delivers a
//! value. The loader (js/gosched.mjs) drives that loop:
//!
//! 1. The loader calls `gosched_js_poll`, which polls the program.
//! 2. When every goroutine waits, [`JsPlatform::before_idle`] arms the host
//!    timer with the scheduler's deadline (Go's `beforeIdle` →
//!    `scheduleTimeoutEvent`) and returns to the host.
//! 3. `gosched_js_poll` hands the armed deadline to the loader, which sets a
//!    JS timer for it; a settled promise or a callback polls again sooner.
//!
//! The platform owns the list of JS event sources (watched promises,
//! registered callbacks): while one is live, goroutines waiting for JS are
//! not deadlocked. The JS API above registers them ([`watch`]).

use std::cell::{Cell, RefCell};
use std::rc::Weak;
use std::time::Duration;

use super::ffi;
use crate::platform::{Idle, Platform, Unparker};

/// The platform of `gosched::run` and [`gosched::js::start`](crate::js::start)
/// on wasm32-unknown-unknown: `performance.now()` as its clock, and a
/// return to the JS event loop whenever goroutines wait.
///
/// ```
/// # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
/// # {
/// let program = gosched::Runtime::new()
///     .platform(gosched::js::JsPlatform::new())
///     .start(|| gosched::sleep(std::time::Duration::from_millis(5)));
/// # drop(program);
/// # }
/// ```
#[derive(Debug, Default)]
pub struct JsPlatform {
    _private: (),
}

impl JsPlatform {
    /// The platform; its clock is the host's `performance.now()`.
    pub fn new() -> JsPlatform {
        JsPlatform { _private: () }
    }
}

/// Something through which JS may still make a goroutine runnable.
pub(crate) trait EventSource {
    /// Whether it may still deliver (a callback whose receivers are all gone
    /// may not).
    fn is_live(&self) -> bool;
}

thread_local! {
    /// Registered event sources; an entry ends when its owner drops it.
    static SOURCES: RefCell<Vec<Weak<dyn EventSource>>> = const { RefCell::new(Vec::new()) };
    /// The deadline step 2 armed, for the loader's timer.
    static ARMED: Cell<Option<Duration>> = const { Cell::new(None) };
}

/// Counts `source` as an event source for as long as it lives and says it is
/// live.
pub(crate) fn watch(source: Weak<dyn EventSource>) {
    SOURCES.with_borrow_mut(|sources| sources.push(source));
}

/// The deadline the last idle armed the host timer with (step 3), on the
/// `performance.now()` clock.
pub(crate) fn armed_deadline() -> Option<Duration> {
    ARMED.get()
}

/// `performance.now()` as a duration since its origin (the start of the page
/// or process), so that deadlines convert back to `performance.now()` values.
fn now() -> Duration {
    Duration::from_secs_f64(ffi::now_ms().max(0.0) / 1000.0)
}

impl Platform for JsPlatform {
    fn now(&self) -> Duration {
        now()
    }

    fn before_idle(&mut self, deadline: Option<Duration>) -> Idle {
        ARMED.set(deadline);
        Idle::ReturnToHost
    }

    fn has_event_sources(&self) -> bool {
        SOURCES.with_borrow_mut(|sources| {
            sources.retain(|s| s.upgrade().is_some_and(|s| s.is_live()));
            !sources.is_empty()
        })
    }

    fn unparker(&self) -> Unparker {
        // Only `block_on` wakers call it (there is one thread): a future
        // woken by JS (a wasm-bindgen `JsFuture`, say) needs a poll.
        Unparker::new(ffi::wake)
    }

    /// std has no entropy source on this target: `Math.random()`.
    fn random_seed(&self) -> u64 {
        ffi::random_u64()
    }
}
