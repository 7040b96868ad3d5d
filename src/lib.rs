//! Go-style goroutines for Rust: `go`, `sleep`, `yield_now`, `block_on`, on
//! one cooperative scheduler per thread.
//!
//! Goroutines are stackful coroutines: they block in plain function calls,
//! with no `async` colouring, and the scheduler switches to another goroutine
//! when one parks. When none can run, the scheduler asks its
//! [`Platform`](platform::Platform) to wait for the outside world (Go's
//! `beforeIdle`).
//!
//! ```
//! use std::time::Duration;
//!
//! let total = gosched::run(|| {
//!     let workers: Vec<_> = (1..=10u64)
//!         .map(|i| {
//!             gosched::go(move || {
//!                 gosched::sleep(Duration::from_millis(20));
//!                 i * i
//!             })
//!         })
//!         .collect();
//!     workers.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
//! });
//! assert_eq!(total, 385);
//! ```
//!
//! # Threads
//!
//! [`run`] starts a scheduler on the calling thread; its goroutines never leave
//! that thread, so they may share `Rc` and `RefCell` freely, and handles such
//! as [`JoinHandle`] are not `Send`. Several threads may each call `run`.
//! Wakers given to futures in [`block_on`] are `Send + Sync`.
//!
//! # Misuse
//!
//! Blocking calls outside a goroutine, `run` inside `run`, deadlocks and stack
//! overflows end in a panic or an abort with a message that says what
//! happened, never in undefined behaviour.
#![warn(missing_docs)]
// docs.rs (package.metadata.docs.rs) builds with `--cfg docsrs` on nightly:
// items of one host get a badge naming the target they need.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod block_on;
pub mod chan;
pub mod context;
mod coro;
#[cfg(any(
    not(target_arch = "wasm32"),
    all(target_os = "wasi", target_env = "p1"),
    all(target_env = "p2", feature = "wasip3")
))]
pub mod io;
// A native `cargo doc` shows it too (cfg(doc)); it is built only for JS hosts.
#[cfg(any(doc, all(target_arch = "wasm32", target_os = "unknown")))]
#[cfg_attr(docsrs, doc(cfg(all(target_arch = "wasm32", target_os = "unknown"))))]
pub mod js;
pub mod local;
// Where a host has sockets: natively (the netpoller) and in WASIp3 components.
#[cfg(any(
    not(target_arch = "wasm32"),
    all(target_env = "p2", feature = "wasip3")
))]
pub mod net;
pub mod platform;
mod program;
mod runtime;
#[cfg(not(target_arch = "wasm32"))]
pub mod signal;
mod spawn;
pub mod sync;
mod time;
#[cfg(not(target_arch = "wasm32"))]
mod unblock;
// A native `cargo doc --features wasip3` shows it too; it is built only for
// wasm32-wasip2.
#[cfg(all(
    feature = "wasip3",
    any(doc, all(target_os = "wasi", target_env = "p2"))
))]
#[cfg_attr(
    docsrs,
    doc(cfg(all(target_os = "wasi", target_env = "p2", feature = "wasip3")))
)]
pub mod wasip3;

use std::time::Duration;

pub use block_on::block_on;
pub use chan::{
    after, after_func, chan, never, tick, FuncTimer, ReadyTimeoutError, Receiver, RecvError,
    RecvTimeoutError, Select, SelectTimeoutError, SelectedOperation, SendError, SendTimeoutError,
    Sender, Ticker, Timer, TryReadyError, TryRecvError, TrySelectError, TrySendError,
};
pub use program::{Program, Runtime};
pub use spawn::{go, spawn, Builder, JoinHandle};
pub use time::{now, sleep, system_time};
#[cfg(not(target_arch = "wasm32"))]
pub use unblock::unblock;

/// Runs `main` as the main goroutine of a new scheduler on this thread and
/// returns its value; see [`Runtime::run`].
///
/// ```
/// assert_eq!(gosched::run(|| "done"), "done");
/// ```
pub fn run<T: 'static>(main: impl FnOnce() -> T + 'static) -> T {
    Runtime::new().run(main)
}

/// Lets the other runnable goroutines run first; Go's `runtime.Gosched`.
///
/// # Panics
///
/// Outside a goroutine.
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// gosched::run(|| {
///     let flag = Rc::new(Cell::new(false));
///     let f = flag.clone();
///     gosched::go(move || f.set(true));
///     gosched::yield_now();
///     assert!(flag.get());
/// });
/// ```
#[inline]
pub fn yield_now() {
    runtime::scheduler("gosched::yield_now").yield_now()
}

/// The number of goroutines that exist, the running one included; Go's
/// `runtime.NumGoroutine`.
///
/// ```
/// gosched::run(|| {
///     assert_eq!(gosched::num_goroutines(), 1);
///     let h = gosched::go(|| ());
///     assert_eq!(gosched::num_goroutines(), 2);
///     h.join().unwrap();
///     assert_eq!(gosched::num_goroutines(), 1);
/// });
/// ```
pub fn num_goroutines() -> usize {
    runtime::scheduler("gosched::num_goroutines").num_goroutines()
}

/// The running goroutine's id (the main goroutine is 1).
///
/// ```
/// gosched::run(|| assert_eq!(gosched::current_id(), 1));
/// ```
pub fn current_id() -> u64 {
    runtime::scheduler("gosched::current_id").current().id
}

/// The running goroutine's name, if it has one (the main goroutine is "main").
///
/// ```
/// gosched::run(|| assert_eq!(gosched::current_name().as_deref(), Some("main")));
/// ```
pub fn current_name() -> Option<String> {
    runtime::scheduler("gosched::current_name")
        .current()
        .name
        .as_deref()
        .map(str::to_owned)
}

/// The goroutine dump of this thread's scheduler: one line per live
/// goroutine, by id, with its name and what it waits for, as the deadlock
/// report prints it (`goroutine 4 "reader" [IO wait]`). The calling
/// goroutine is `[running]`. For a program that hangs but is not deadlocked
/// (goroutines wait for sockets or stdin): what Go prints on `SIGQUIT` or
/// `runtime.Stack(buf, true)`, without the stacks. Beyond 100 goroutines the
/// rest are counted by state.
///
/// # Panics
///
/// Outside a goroutine.
///
/// ```
/// gosched::run(|| {
///     let (tx, rx) = gosched::chan::<()>(0);
///     gosched::Builder::new()
///         .name("waiter".into())
///         .spawn(move || rx.recv())
///         .unwrap();
///     gosched::yield_now();
///     assert_eq!(
///         gosched::goroutine_dump(),
///         "goroutine 1 \"main\" [running]\ngoroutine 2 \"waiter\" [chan receive]"
///     );
///     drop(tx);
/// });
/// ```
pub fn goroutine_dump() -> String {
    runtime::scheduler("gosched::goroutine_dump").goroutine_dump()
}

/// Registers `hook` to run each time the scheduler goes idle, before it asks
/// the platform to wait (the role of Go's proposed `runtime.wasiOnIdle`).
///
/// The hook gets the time until the next timer, if one is pending. It returns
/// `true` if it may have made goroutines runnable or still has work of its own
/// outstanding: the scheduler then looks at its run queue again instead of
/// waiting, and does not report a deadlock. Returning `false` lets the
/// scheduler go on idling (or report a deadlock). A new hook replaces the old.
///
/// # Panics
///
/// Outside a goroutine.
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// gosched::run(|| {
///     let calls = Rc::new(Cell::new(0));
///     let c = calls.clone();
///     gosched::set_idle_hook(move |_until_next_timer| {
///         c.set(c.get() + 1);
///         false
///     });
///     gosched::sleep(std::time::Duration::from_millis(5));
///     assert!(calls.get() >= 1);
/// });
/// ```
pub fn set_idle_hook(hook: impl FnMut(Option<Duration>) -> bool + 'static) {
    runtime::scheduler("gosched::set_idle_hook").set_idle_hook(Box::new(hook))
}

/// docs/from-go.md's examples, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/from-go.md")]
struct FromGoGuide;
