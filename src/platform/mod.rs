//! The porting surface: what the scheduler asks of its host.
//!
//! The scheduler is the same everywhere; a [`Platform`] tells it the time and
//! what to do when no goroutine can run. docs/porting.md walks through writing
//! one.
//!
//! The idle protocol, seen from the scheduler:
//!
//! 1. The run queue is empty. The scheduler fires due timers and takes wake-ups
//!    from other threads; if that made goroutines runnable, it runs them.
//! 2. Otherwise, if no timer is pending, no future parked in `block_on` can be
//!    woken, the idle hook (if any) reports nothing outstanding and
//!    [`Platform::has_event_sources`] is `false`, the program is deadlocked.
//! 3. Otherwise it calls [`Platform::before_idle`] with the deadline of the
//!    earliest timer. A blocking platform returns once something may have
//!    happened (an [`Unparker`] was called, the deadline passed, or an event
//!    of its own arrived); the scheduler then goes back to step 1.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(not(target_arch = "wasm32"))]
pub use native::NativePlatform;
#[cfg(all(target_os = "wasi", target_env = "p1"))]
mod wasip1;
#[cfg(all(target_os = "wasi", target_env = "p1"))]
pub use wasip1::Wasip1Platform;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod js;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub(crate) mod js_ffi;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub use js::JsPlatform;

#[cfg(all(target_os = "wasi", target_env = "p2", feature = "wasip3"))]
pub mod wasip3;
#[cfg(all(target_os = "wasi", target_env = "p2", feature = "wasip3"))]
pub use wasip3::Wasip3Platform;
#[cfg(all(target_os = "wasi", target_env = "p2", not(feature = "wasip3")))]
compile_error!(
    "gosched on wasm32-wasip2 runs as a WASIp3 component: enable the `wasip3` feature \
     (docs/wasip3.md), or build for wasm32-wasip1"
);

/// What [`Platform::before_idle`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idle {
    /// The platform waited (or had nothing to wait for); the scheduler looks
    /// at its timers, wake-ups and run queue again.
    Resume,
    /// The host must regain control (a JS event loop, a callback-lifted
    /// component export): the scheduler returns to its caller, which re-enters
    /// it later.
    ReturnToHost,
}

/// A host the scheduler runs on.
///
/// # Example
///
/// A platform that sleeps the thread until the next timer and never waits for
/// anything else (wake-ups from other threads then wait for the next timer):
///
/// ```
/// use std::time::{Duration, Instant};
/// use gosched::platform::{Idle, Platform, Unparker};
///
/// struct Sleepy(Instant);
///
/// impl Platform for Sleepy {
///     fn now(&self) -> Duration {
///         self.0.elapsed()
///     }
///     fn before_idle(&mut self, deadline: Option<Duration>) -> Idle {
///         if let Some(deadline) = deadline {
///             std::thread::sleep(deadline.saturating_sub(self.now()));
///         }
///         Idle::Resume
///     }
///     fn unparker(&self) -> Unparker {
///         Unparker::noop()
///     }
/// }
///
/// let slept = gosched::Runtime::new().platform(Sleepy(Instant::now())).run(|| {
///     let start = gosched::now();
///     gosched::sleep(Duration::from_millis(20));
///     gosched::now() - start
/// });
/// assert!(slept >= Duration::from_millis(20));
/// ```
pub trait Platform: 'static {
    /// The platform's monotonic clock, from an arbitrary fixed origin.
    fn now(&self) -> Duration;

    /// Called when no goroutine is runnable. `deadline` is the [`now`](Self::now)
    /// value at which the earliest timer fires, if any timer is pending.
    ///
    /// A blocking platform waits until the deadline, an [`Unparker`] call or an
    /// event of its own, then returns [`Idle::Resume`]; returning early is
    /// allowed (the scheduler simply asks again).
    fn before_idle(&mut self, deadline: Option<Duration>) -> Idle;

    /// Whether the platform has events outstanding that may make a goroutine
    /// runnable (pending I/O, registered host callbacks). When it has none and
    /// the scheduler has nothing else to wait for, the program is deadlocked.
    fn has_event_sources(&self) -> bool {
        false
    }

    /// A handle that other threads call after queueing a wake-up, to make a
    /// blocked [`before_idle`](Self::before_idle) return. Called once, on the
    /// scheduler's thread, when the runtime starts.
    fn unparker(&self) -> Unparker;
}

/// Makes a blocked [`Platform::before_idle`] return; `Send + Sync`, cloned into
/// every cross-thread waker.
#[derive(Clone)]
pub struct Unparker(Arc<dyn Fn() + Send + Sync>);

impl Unparker {
    /// An unparker that calls `f`.
    ///
    /// ```
    /// let thread = std::thread::current();
    /// let unparker = gosched::platform::Unparker::new(move || thread.unpark());
    /// unparker.unpark();
    /// ```
    pub fn new(f: impl Fn() + Send + Sync + 'static) -> Unparker {
        Unparker(Arc::new(f))
    }

    /// An unparker that does nothing, for single-threaded hosts.
    ///
    /// ```
    /// gosched::platform::Unparker::noop().unpark();
    /// ```
    pub fn noop() -> Unparker {
        Unparker::new(|| {})
    }

    /// Wakes the platform.
    pub fn unpark(&self) {
        (self.0)()
    }
}

impl fmt::Debug for Unparker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Unparker")
    }
}

/// The platform `gosched::run` uses on this target.
pub fn default_platform() -> Box<dyn Platform> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        Box::new(NativePlatform::new())
    }
    #[cfg(all(target_os = "wasi", target_env = "p1"))]
    {
        Box::new(Wasip1Platform::new())
    }
    #[cfg(all(target_os = "wasi", target_env = "p2", feature = "wasip3"))]
    {
        Box::new(Wasip3Platform::new())
    }
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    {
        Box::new(JsPlatform::new())
    }
}
