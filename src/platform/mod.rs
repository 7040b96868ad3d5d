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
//! 4. A platform that finds nothing at all that could end its wait answers
//!    [`Idle::NothingToWaitFor`]: the scheduler reports the deadlock, with its
//!    goroutine dump. Only the scheduler reports deadlocks.
//!
//! Capabilities go down, never calls up: when the runtime starts, it hands
//! the platform a [`Spawner`] ([`Platform::attach`]) for hosts whose events
//! start new work, and takes the platform's [`Unparker`] and
//! [`random_seed`](Platform::random_seed).
//!
//! Each host lives in its own files: native and wasip1 here beside the
//! trait, the JS host in `src/js/` (`gosched::js::JsPlatform`), the WASIp3
//! host in `src/wasip3/` (`gosched::wasip3::Wasip3Platform`).
//! [`Runtime::default_platform`](crate::Runtime::default_platform) picks the
//! target's.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use native::Direction;
#[cfg(not(target_arch = "wasm32"))]
pub use native::{NativePlatform, Netpoller};
#[cfg(all(target_os = "wasi", target_env = "p1"))]
mod wasip1;
#[cfg(all(target_os = "wasi", target_env = "p1"))]
pub use wasip1::Wasip1Platform;
#[cfg(all(target_os = "wasi", target_env = "p1"))]
pub(crate) use wasip1::{read_fd, readable};
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
    /// Nothing the platform knows of can ever end the wait (no deadline, no
    /// event of its own pending): the scheduler reports a deadlock with its
    /// goroutine dump.
    NothingToWaitFor,
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

    /// Hands each goroutine whose I/O event the platform has seen to `wake`,
    /// without blocking. The scheduler calls it after every
    /// [`before_idle`](Self::before_idle) and, while goroutines keep the run
    /// queue busy, every few dozen switches (where it fires timers), so a
    /// busy program still serves its sockets. The default has no I/O.
    fn poll_ready(&mut self, wake: &mut dyn FnMut(Waiter)) {
        let _ = wake;
    }

    /// The native readiness registry that `gosched::net` registers sockets
    /// with; a platform that wraps [`NativePlatform`] forwards it so that
    /// `gosched::net` works on it. The default has none: socket operations
    /// that would block then panic with a message that says so.
    #[cfg(not(target_arch = "wasm32"))]
    fn netpoller(&self) -> Option<std::rc::Rc<Netpoller>> {
        None
    }

    /// A handle that other threads call after queueing a wake-up, to make a
    /// blocked [`before_idle`](Self::before_idle) return. Called once, on the
    /// scheduler's thread, when the runtime starts.
    fn unparker(&self) -> Unparker;

    /// Called once when the runtime starts on this platform, before any
    /// goroutine runs: a host whose events start new work (wit-bindgen's
    /// `spawn_local`) keeps `spawner`. The default drops it.
    fn attach(&mut self, spawner: Spawner) {
        drop(spawner);
    }

    /// A seed for the scheduler's random choices (`select!` among ready
    /// arms), read once when the runtime starts. The default draws one from
    /// std's `RandomState`; a host without an entropy source in std (the JS
    /// host) asks its own.
    fn random_seed(&self) -> u64 {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(0x5eed);
        hasher.finish()
    }
}

/// A boxed platform is a platform, so that wrappers and
/// [`Runtime::default_platform`](crate::Runtime::default_platform)'s box plug
/// in anywhere a platform does.
impl<P: Platform + ?Sized> Platform for Box<P> {
    fn now(&self) -> Duration {
        (**self).now()
    }
    fn before_idle(&mut self, deadline: Option<Duration>) -> Idle {
        (**self).before_idle(deadline)
    }
    fn has_event_sources(&self) -> bool {
        (**self).has_event_sources()
    }
    fn poll_ready(&mut self, wake: &mut dyn FnMut(Waiter)) {
        (**self).poll_ready(wake)
    }
    #[cfg(not(target_arch = "wasm32"))]
    fn netpoller(&self) -> Option<std::rc::Rc<Netpoller>> {
        (**self).netpoller()
    }
    fn unparker(&self) -> Unparker {
        (**self).unparker()
    }
    fn attach(&mut self, spawner: Spawner) {
        (**self).attach(spawner)
    }
    fn random_seed(&self) -> u64 {
        (**self).random_seed()
    }
}

/// A goroutine that waits for an event of the platform (a socket's
/// readiness): an opaque handle that the runtime makes, the platform keeps
/// while the event is pending and hands back through
/// [`Platform::poll_ready`]. A waiter of a goroutine that has since stopped
/// waiting is ignored.
///
/// ```
/// use std::time::Duration;
/// use gosched::platform::{Idle, NativePlatform, Platform, Unparker, Waiter};
///
/// /// Native, plus events of its own: their waiters wait in `ready` until
/// /// the runtime asks.
/// struct WithOwnEvents {
///     native: NativePlatform,
///     ready: Vec<Waiter>,
/// }
///
/// impl Platform for WithOwnEvents {
///     fn now(&self) -> Duration { self.native.now() }
///     fn before_idle(&mut self, deadline: Option<Duration>) -> Idle {
///         self.native.before_idle(deadline)
///     }
///     fn poll_ready(&mut self, wake: &mut dyn FnMut(Waiter)) {
///         self.native.poll_ready(wake);
///         self.ready.drain(..).for_each(|waiter| wake(waiter));
///     }
///     fn has_event_sources(&self) -> bool {
///         self.native.has_event_sources() || !self.ready.is_empty()
///     }
///     fn unparker(&self) -> Unparker { self.native.unparker() }
/// }
///
/// let platform = WithOwnEvents { native: NativePlatform::new(), ready: Vec::new() };
/// gosched::Runtime::new().platform(platform).run(|| gosched::sleep(Duration::from_millis(1)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waiter {
    pub(crate) slot: usize,
    pub(crate) id: u64,
}

/// A future that a [`Spawner`] runs on a goroutine of its own.
pub type SpawnedFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

/// Starts goroutines on the runtime it came from, handed to the platform by
/// [`Platform::attach`]: each future runs on a new goroutine that polls it
/// (as `block_on` does) until it completes. Not `Send`: goroutines belong to
/// their scheduler's thread.
///
/// ```
/// use std::{cell::Cell, rc::Rc, time::Duration};
/// use gosched::platform::{Idle, NativePlatform, Platform, Spawner, Unparker};
///
/// /// Starts one background goroutine of its own when the runtime starts.
/// struct WithBackground(NativePlatform, Rc<Cell<bool>>);
///
/// impl Platform for WithBackground {
///     fn now(&self) -> Duration { self.0.now() }
///     fn before_idle(&mut self, deadline: Option<Duration>) -> Idle { self.0.before_idle(deadline) }
///     fn unparker(&self) -> Unparker { self.0.unparker() }
///     fn attach(&mut self, spawner: Spawner) {
///         let ran = self.1.clone();
///         spawner.spawn(Box::pin(async move { ran.set(true) }));
///     }
/// }
///
/// let ran = Rc::new(Cell::new(false));
/// let platform = WithBackground(NativePlatform::new(), ran.clone());
/// gosched::Runtime::new().platform(platform).run(gosched::yield_now);
/// assert!(ran.get());
/// ```
#[derive(Clone)]
pub struct Spawner(std::rc::Rc<dyn Fn(SpawnedFuture)>);

impl Spawner {
    /// A spawner that runs each future with `spawn`; the runtime makes the
    /// one it hands down.
    ///
    /// ```
    /// let spawner = gosched::platform::Spawner::new(|future| drop(future));
    /// spawner.spawn(Box::pin(async {}));
    /// ```
    pub fn new(spawn: impl Fn(SpawnedFuture) + 'static) -> Spawner {
        Spawner(std::rc::Rc::new(spawn))
    }

    /// Runs `future` on a new goroutine.
    pub fn spawn(&self, future: SpawnedFuture) {
        (self.0)(future)
    }
}

impl fmt::Debug for Spawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Spawner")
    }
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
