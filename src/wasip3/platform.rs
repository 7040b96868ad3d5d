//! The WASIp3 platform: the scheduler's clock is `wasi:clocks/monotonic-clock`;
//! when idle, a command blocks in `waitable-set.wait` on the reactor's one
//! set, and a component serving exports returns to its host (see
//! [`super::reactor`]).

use std::time::Duration;

use super::reactor::{self, Mode};
use crate::platform::{Idle, Platform, Spawner, Unparker, Waiter};
use ::wasip3 as bindings;

/// The platform `gosched::run` uses on wasm32-wasip2 with the `wasip3`
/// feature. Creating one creates the scheduler's waitable-set and installs
/// its wit-bindgen task record (once per thread, however many exist).
///
/// ```
/// # #[cfg(all(target_env = "p2", feature = "wasip3"))]
/// # {
/// use std::time::Duration;
/// let slept = gosched::Runtime::new()
///     .platform(gosched::wasip3::Wasip3Platform::new())
///     .run(|| {
///         let start = gosched::now();
///         gosched::sleep(Duration::from_millis(5));
///         gosched::now() - start
///     });
/// assert!(slept >= Duration::from_millis(5));
/// # }
/// ```
#[derive(Debug)]
pub struct Wasip3Platform {
    /// Monotonic clock reading at creation, in nanoseconds.
    epoch_ns: u64,
    mode: Mode,
}

impl Wasip3Platform {
    /// A platform whose clock starts now, for a command: when idle it blocks
    /// the instance in `waitable-set.wait`.
    pub fn new() -> Wasip3Platform {
        Wasip3Platform::with_mode(Mode::Command)
    }

    /// A platform for a component that serves async exports
    /// ([`super::Exports`]): when idle it returns to the export task's
    /// callback, which returns to the host.
    pub(super) fn for_exports() -> Wasip3Platform {
        Wasip3Platform::with_mode(Mode::Exports)
    }

    fn with_mode(mode: Mode) -> Wasip3Platform {
        reactor::attach(mode);
        Wasip3Platform {
            epoch_ns: bindings::clocks::monotonic_clock::now(),
            mode,
        }
    }
}

impl Default for Wasip3Platform {
    fn default() -> Self {
        Wasip3Platform::new()
    }
}

impl Drop for Wasip3Platform {
    fn drop(&mut self) {
        reactor::detach();
    }
}

impl Platform for Wasip3Platform {
    fn now(&self) -> Duration {
        let now = bindings::clocks::monotonic_clock::now();
        Duration::from_nanos(now.saturating_sub(self.epoch_ns))
    }

    fn before_idle(&mut self, deadline: Option<Duration>) -> Idle {
        let deadline_ns = deadline.map(|d| {
            let d = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
            self.epoch_ns.saturating_add(d)
        });
        reactor::wait_for_events(deadline_ns)
    }

    /// A component serving exports always may be woken: by its next call.
    fn has_event_sources(&self) -> bool {
        self.mode == Mode::Exports || reactor::waiter_count() > 0
    }

    /// Delivers the set's ready events (their Wakers unpark the goroutines;
    /// `wake` is not needed).
    fn poll_ready(&mut self, _wake: &mut dyn FnMut(Waiter)) {
        reactor::poll_events();
    }

    fn unparker(&self) -> Unparker {
        // One thread: every wake-up happens on the scheduler's own stack.
        Unparker::noop()
    }

    /// wit-bindgen's `spawn_local` starts its futures with `spawner`.
    fn attach(&mut self, spawner: Spawner) {
        reactor::set_spawner(spawner);
    }
}
