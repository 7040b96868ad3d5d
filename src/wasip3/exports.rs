//! Async exports served by goroutines: a component whose export calls each
//! run a blocking-style function on a goroutine of one shared scheduler.
//!
//! The export itself is what wit-bindgen generates for an `async func` (the
//! callback lift: `[async-lift]NAME` and `[callback][async-lift]NAME`, with
//! its `task.return`); its body hands the work to [`Exports::call`]. One
//! call, as the component model and wit-bindgen's executor see it:
//!
//! 1. The host calls `[async-lift]NAME`. wit-bindgen creates the call's task
//!    state (its waitable-set, stored with `context.set 0`), polls the
//!    export's future, and that future calls [`Exports::call`].
//! 2. The first call of the instance starts the runtime (reactor start: no
//!    `run` export): one scheduler on a [`Wasip3Platform`] in exports mode,
//!    whose main goroutine only waits, then each [`Exports`] static's init
//!    hook on a goroutine of its own, once.
//! 3. The call's function starts on a new goroutine, and the scheduler runs
//!    (the pump) inside this callback until no goroutine can run. Waitables
//!    that goroutines wait for meanwhile (import calls, streams, futures,
//!    the timer subtask) are registered with *this* task's record, so they
//!    join this task's set (see `super::reactor`).
//! 4. Idle, the platform returns to the host instead of blocking; the future
//!    is pending, so wit-bindgen's callback returns `WAIT | set << 4` with
//!    the task's set.
//! 5. An event in a task's set comes back as `[callback]` with
//!    (event, waitable, code): wit-bindgen hands it to the reactor, which
//!    wakes the goroutine and runs the scheduler again. The task in whose
//!    callback this happens need not be the one whose goroutine is woken:
//!    all calls share the scheduler, goroutines, channels and globals.
//! 6. When a call's goroutine returns, its value is stored and the call's
//!    waker is woken. `task.return` acts on the *current* task, so the value
//!    must be returned from its own task's callback: if the goroutine
//!    finished during its own task's callback, the future is ready at once;
//!    otherwise the wake writes to that task's inter-task stream (wit-bindgen's
//!    `inter-task-wakeup`, a `stream<_>` in its set), the host calls that
//!    task back, and its future is ready then. wit-bindgen lowers the value,
//!    calls `task.return` and answers `EXIT`, or `WAIT` while waitables that
//!    goroutines registered with this task are still pending (a goroutine may
//!    outlive the call that started it; the task lives on, after its return,
//!    until those events have come).
//!
//! All of this runs on the component's one thread; nothing here is `Send`.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

use super::platform::Wasip3Platform;
use super::reactor;
use crate::{Program, Runtime};

thread_local! {
    /// The exports' runtime once the first call started it; `None` before,
    /// and while a pump runs it.
    static PROGRAM: RefCell<Option<Program<()>>> = const { RefCell::new(None) };
    static STARTED: Cell<bool> = const { Cell::new(false) };
}

/// The goroutine runtime behind a component's async exports: each
/// [`call`](Exports::call) runs a blocking-style function on a goroutine and
/// is the future a wit-bindgen `async fn` export awaits. Declare one
/// `static`, with an optional init hook that starts background goroutines
/// before the first call runs.
///
/// All calls share one scheduler: goroutines, channels and globals started by
/// one call are there for the next, and a goroutine may outlive the call that
/// started it. The calls of a component run concurrently: a call whose
/// goroutine waits (a channel, [`sleep`](crate::sleep), an import) lets the
/// host start or finish others.
///
/// The export is wit-bindgen's own (`generate!` with an `async func`, or a
/// crate of pre-generated bindings such as `wasip3`); wit-bindgen must have
/// its `inter-task-wakeup` feature (gosched turns it on for the 0.62 that the
/// `wasip3` crate uses; with another version, enable it on your
/// `wit-bindgen` dependency).
///
/// ```no_run
/// # #[cfg(all(target_env = "p2", feature = "wasip3"))]
/// # mod component {
/// wit_bindgen::generate!({
///     inline: "
///         package example:counter;
///         interface counter { next: async func() -> u64; }
///         world service { export counter; }
///     ",
///     world: "service",
/// });
///
/// use std::cell::RefCell;
/// use gosched::{chan, Sender};
///
/// thread_local! {
///     static REQUESTS: RefCell<Option<Sender<Sender<u64>>>> = RefCell::new(None);
/// }
///
/// /// One goroutine owns the counter; calls ask it over a channel.
/// fn start_counter() {
///     let (requests, incoming) = chan::<Sender<u64>>(0);
///     REQUESTS.set(Some(requests));
///     gosched::go(move || {
///         let mut count = 0;
///         for reply in &incoming {
///             count += 1;
///             let _ = reply.send(count);
///         }
///     });
/// }
///
/// static SERVICE: gosched::wasip3::Exports = gosched::wasip3::Exports::new().init(start_counter);
///
/// struct Counter;
///
/// impl exports::example::counter::counter::Guest for Counter {
///     async fn next() -> u64 {
///         SERVICE
///             .call(|| {
///                 let (reply, answer) = chan(0);
///                 let requests = REQUESTS.with_borrow(|r| r.clone().unwrap());
///                 requests.send(reply).unwrap();
///                 answer.recv().unwrap()
///             })
///             .await
///     }
/// }
///
/// export!(Counter);
/// # }
/// ```
#[derive(Debug)]
pub struct Exports {
    init: Option<fn()>,
    init_started: AtomicBool,
    /// The call goroutines' stack size; `None`: the runtime's default.
    stack_size: Option<usize>,
}

impl Default for Exports {
    fn default() -> Self {
        Exports::new()
    }
}

impl Exports {
    /// Exports with no init hook.
    ///
    /// ```
    /// # #[cfg(all(target_env = "p2", feature = "wasip3"))]
    /// static SERVICE: gosched::wasip3::Exports = gosched::wasip3::Exports::new();
    /// ```
    pub const fn new() -> Exports {
        Exports {
            init: None,
            init_started: AtomicBool::new(false),
            stack_size: None,
        }
    }

    /// Runs `init` on a goroutine of its own before the first call's
    /// function, once: the place to start background goroutines (a counter's
    /// owner, a cache refresher) that the calls talk to.
    ///
    /// ```
    /// # #[cfg(all(target_env = "p2", feature = "wasip3"))]
    /// # mod component {
    /// fn start_background() {
    ///     gosched::go(|| { /* serve the calls over channels */ });
    /// }
    /// static SERVICE: gosched::wasip3::Exports =
    ///     gosched::wasip3::Exports::new().init(start_background);
    /// # }
    /// ```
    pub const fn init(mut self, init: fn()) -> Exports {
        self.init = Some(init);
        self
    }

    /// The stack size of the goroutines that run the calls, in bytes (rounded
    /// up to 4 KiB); without it they get the runtime's default, 256 KiB. The
    /// init hook and goroutines started with [`go`](crate::go) keep the
    /// default.
    ///
    /// A call goroutine's stack is taken from a pool when the call starts, so
    /// a component serving N calls at once holds N stacks; the pages a call
    /// touches stay in the instance's memory. A function that needs more than
    /// its stack aborts the instance with
    /// `fatal error: stack overflow in goroutine N "export call"`.
    ///
    /// ```
    /// # #[cfg(all(target_env = "p2", feature = "wasip3"))]
    /// static SERVICE: gosched::wasip3::Exports =
    ///     gosched::wasip3::Exports::new().stack_size(64 * 1024);
    /// ```
    pub const fn stack_size(mut self, bytes: usize) -> Exports {
        self.stack_size = Some(bytes);
        self
    }

    /// Starts `f` on a new goroutine and returns the future of its value: the
    /// body of a wit-bindgen `async fn` export. The first call of the
    /// component starts the runtime (and this static's init hook). Polling
    /// the future runs the scheduler until no goroutine can run.
    ///
    /// Dropping the future (the host cancelled the call) does not stop the
    /// goroutine: it runs to its end and its value is dropped.
    ///
    /// # Panics
    ///
    /// Outside a wit-bindgen export task (the future must be polled by its
    /// executor), or inside a program started by [`crate::run`].
    ///
    /// ```no_run
    /// # #[cfg(all(target_env = "p2", feature = "wasip3"))]
    /// # async fn export_body() -> u32 {
    /// static SERVICE: gosched::wasip3::Exports = gosched::wasip3::Exports::new();
    /// SERVICE
    ///     .call(|| {
    ///         gosched::sleep(std::time::Duration::from_millis(10));
    ///         42
    ///     })
    ///     .await
    /// # }
    /// ```
    pub fn call<T: 'static>(&self, f: impl FnOnce() -> T + 'static) -> Call<T> {
        self.call_replying(move |reply| reply.send(f()))
    }

    /// [`call`](Exports::call) for a function that hands its value over
    /// through `reply` and may then go on running on the same goroutine (an
    /// HTTP handler's goroutine writes the body after the response is
    /// returned), which saves a goroutine per call.
    pub(super) fn call_replying<T: 'static>(&self, f: impl FnOnce(Reply<T>) + 'static) -> Call<T> {
        start_runtime();
        if let Some(init) = self.init {
            if !self.init_started.swap(true, Ordering::Relaxed) {
                spawn("init", None, init);
            }
        }
        let slot = Rc::new(Slot {
            value: RefCell::new(None),
            waker: RefCell::new(None),
            polling: Cell::new(false),
        });
        let reply = Reply { slot: slot.clone() };
        spawn("export call", self.stack_size, move || f(reply));
        Call { slot }
    }
}

/// Hands a call's value to its [`Call`] future (see
/// [`Exports::call_replying`]).
pub(super) struct Reply<T> {
    slot: Rc<Slot<T>>,
}

impl<T> Reply<T> {
    /// Stores the value and wakes the call's task, which returns it to the
    /// host (step 6).
    pub(super) fn send(self, value: T) {
        *self.slot.value.borrow_mut() = Some(value);
        if self.slot.polling.get() {
            // Its own poll looks at the slot when the pump is done. A wake
            // now would make wit-bindgen's executor answer YIELD and be
            // called back once more for nothing.
            return;
        }
        // Taken first: waking may run the waiting task's code.
        let waker = self.slot.waker.borrow_mut().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Where a call's goroutine leaves its value, and who waits for it.
struct Slot<T> {
    value: RefCell<Option<T>>,
    waker: RefCell<Option<Waker>>,
    /// The call's own future is polling (running the pump).
    polling: Cell<bool>,
}

/// The future of one [`Exports::call`]: ready when the call's goroutine has
/// returned. Not `Send`.
///
/// ```no_run
/// # #[cfg(all(target_env = "p2", feature = "wasip3"))]
/// # async fn export_body() {
/// static SERVICE: gosched::wasip3::Exports = gosched::wasip3::Exports::new();
/// let call: gosched::wasip3::Call<u32> = SERVICE.call(|| 6 * 7);
/// assert_eq!(call.await, 42);
/// # }
/// ```
#[must_use = "the export's value comes from awaiting the call"]
pub struct Call<T> {
    slot: Rc<Slot<T>>,
}

impl<T> Future for Call<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        *self.slot.waker.borrow_mut() = Some(cx.waker().clone());
        self.slot.polling.set(true);
        pump();
        self.slot.polling.set(false);
        match self.slot.value.borrow_mut().take() {
            Some(value) => Poll::Ready(value),
            None => Poll::Pending,
        }
    }
}

impl<T> Drop for Call<T> {
    fn drop(&mut self) {
        // A cancelled call's task is gone: its goroutine must not wake it.
        self.slot.waker.borrow_mut().take();
    }
}

impl<T> std::fmt::Debug for Call<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("returned", &self.slot.value.borrow().is_some())
            .finish()
    }
}

/// Step 2: the first call creates the scheduler; its main goroutine only
/// keeps the program alive (a component serving exports has no `main`).
fn start_runtime() {
    if STARTED.replace(true) {
        return;
    }
    let program = Runtime::new()
        .platform(Wasip3Platform::for_exports())
        .start(|| {
            // Go's `select {}`: a receive that nothing will ever satisfy.
            let (never_sent, never) = crate::chan::<std::convert::Infallible>(0);
            std::mem::forget(never_sent);
            let _ = never.recv();
        });
    reactor::set_pump(pump);
    PROGRAM.set(Some(program));
}

/// Starts `f` on a named goroutine of the exports' scheduler, with a stack
/// of `stack_size` bytes or the runtime's default.
fn spawn(name: &str, stack_size: Option<usize>, f: impl FnOnce() + 'static) {
    let start = move || {
        let builder = crate::Builder::new().name(name.to_owned());
        let builder = match stack_size {
            Some(bytes) => builder.stack_size(bytes),
            None => builder,
        };
        builder
            .spawn(f)
            .expect("gosched: no stack for an export call's goroutine");
    };
    // Inside a pump (an export called from a goroutine) the scheduler is
    // active already.
    PROGRAM.with_borrow(|program| match program {
        Some(program) => program.enter(start),
        None => start(),
    });
}

/// Steps 3 and 5: runs goroutines until none can run, with waitables
/// delegated to the task whose callback is running. Does nothing when the
/// scheduler runs already (a nested call).
fn pump() {
    let Some(mut program) = PROGRAM.take() else {
        return;
    };
    let polled = reactor::with_host_task(|| program.poll());
    PROGRAM.set(Some(program));
    assert!(
        polled.is_pending(),
        "gosched: the exports' main goroutine returned"
    );
}
