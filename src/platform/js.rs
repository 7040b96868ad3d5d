//! JS platform (wasm32-unknown-unknown): the host is a JS event loop.
//!
//! As in Go's js/wasm port, when no goroutine can run the scheduler returns
//! to JS ([`Idle::ReturnToHost`]) and JS re-enters it when a timer fires, a
//! promise settles or a registered callback delivers a value. The loader
//! (js/gosched.mjs) drives that loop; [`crate::js`] is the Rust side of it.

use std::time::Duration;

use super::js_ffi;
use super::{Idle, Platform, Unparker};

/// The platform of `gosched::run` and [`gosched::js::start`](crate::js::start)
/// on wasm32-unknown-unknown: `performance.now()` as its clock, and a
/// return to the JS event loop whenever goroutines wait.
///
/// ```
/// # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
/// # {
/// let program = gosched::Runtime::new()
///     .platform(gosched::platform::JsPlatform::new())
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

/// `performance.now()` as a duration since its origin (the start of the page
/// or process), so that deadlines convert back to `performance.now()` values.
fn now() -> Duration {
    Duration::from_secs_f64(js_ffi::now_ms().max(0.0) / 1000.0)
}

impl Platform for JsPlatform {
    fn now(&self) -> Duration {
        now()
    }

    fn before_idle(&mut self, _deadline: Option<Duration>) -> Idle {
        // The loader sets a timer for `Program::next_deadline` itself.
        Idle::ReturnToHost
    }

    fn has_event_sources(&self) -> bool {
        crate::js::has_event_sources()
    }

    fn unparker(&self) -> Unparker {
        // Only `block_on` wakers call it (there is one thread): a future
        // woken by JS (a wasm-bindgen `JsFuture`, say) needs a poll.
        Unparker::new(js_ffi::wake)
    }
}
