//! OS signals as a channel: Go's `os/signal.Notify`, natively (Unix).
//!
//! Signal handlers run at any moment on any thread, so they cannot touch a
//! scheduler; [signal-hook](https://crates.io/crates/signal-hook) (chosen for
//! being the maintained, widely used crate for exactly this) installs
//! async-signal-safe handlers that write to a pipe. From there:
//!
//! 1. [`notify`] registers the signals and starts an OS thread that reads
//!    them (`Signals::forever`).
//! 2. The thread pushes each signal onto a lock-free inbox and wakes the
//!    inbox's waker. That waker is a [`block_on`](crate::block_on) waker, so
//!    the wake-up goes through the scheduler's cross-thread path
//!    (`src/runtime/remote.rs`) and ends its idle wait, as a future woken by
//!    another thread does.
//! 3. A forwarding goroutine named "signal.notify" waits on the inbox in
//!    `block_on` and sends each signal on the channel `notify` returned
//!    (capacity 16, then it blocks: no signal is dropped, a burst of one
//!    signal may arrive as one, as with any Unix signal).
//! 4. [`stop`], or the end of `run` (which unwinds the goroutine), closes the
//!    signal-hook handle: the thread ends, and the goroutine drops its sender,
//!    so the channel closes. A dropped receiver is noticed at the next signal.
//!
//! While a `notify` channel is open the scheduler is never "deadlocked": a
//! signal may still come, as in Go. [`notify_context`] is Go's
//! `signal.NotifyContext` on top of it: a context cancelled by a signal.
//!
//! Not on wasm: WASI and JS hosts have no signals, so this module does not
//! exist there.
//!
//! ```
//! use gosched::signal::{self, SIGUSR1};
//! gosched::run(|| {
//!     let signals = signal::notify(&[SIGUSR1]).unwrap();
//!     unsafe { libc::raise(SIGUSR1) };
//!     assert_eq!(signals.recv(), Ok(SIGUSR1));
//!     signal::stop(&signals);
//!     assert!(signals.recv().is_err(), "closed by stop");
//! });
//! ```

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use crossbeam_queue::SegQueue;
use signal_hook::consts::FORBIDDEN;
use signal_hook::iterator::{Handle, Signals};

pub use signal_hook::consts::signal::*;

use crate::chan::{chan, Receiver};
use crate::context::{self, CancelHandle, Context, ContextError};

/// Capacity of a `notify` channel (step 3).
const BUFFER: usize = 16;

/// Past the largest signal number signal-hook can register (it panics
/// there); the OS rejects numbers in range that are not signals.
const MAX_SIGNAL: i32 = 128;

/// Where the reader thread leaves signals for the forwarding goroutine.
#[derive(Default)]
struct Inbox {
    signals: SegQueue<i32>,
    /// The forwarding goroutine's `block_on` waker while it waits.
    waker: Mutex<Option<Waker>>,
    /// The reader thread has ended.
    closed: AtomicBool,
}

impl Inbox {
    fn wake(&self) {
        let waker = self.waker.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The next signal, `None` once the reader thread has ended.
    fn next(&self) -> Poll<Option<i32>> {
        if let Some(signal) = self.signals.pop() {
            return Poll::Ready(Some(signal));
        }
        if self.closed.load(Ordering::Acquire) {
            // Signals pushed before the close come first.
            return Poll::Ready(self.signals.pop());
        }
        Poll::Pending
    }
}

thread_local! {
    /// The open `notify` channels of this thread, by channel address, with
    /// their signal-hook handles (for [`stop`]).
    static OPEN: RefCell<Vec<(usize, Handle)>> = const { RefCell::new(Vec::new()) };
}

fn key(rx: &Receiver<i32>) -> usize {
    std::ptr::from_ref(rx.chan()) as usize
}

/// Closes the signal-hook handle when the forwarding goroutine ends or is
/// unwound (step 4).
struct CloseOnDrop {
    handle: Handle,
    key: usize,
}

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.handle.close();
        OPEN.with_borrow_mut(|open| open.retain(|(k, _)| *k != self.key));
    }
}

/// A channel that receives the listed signals; Go's `signal.Notify`. The
/// signal numbers are the re-exported constants ([`SIGINT`], [`SIGTERM`],
/// [`SIGHUP`], [`SIGUSR1`], ...). Once a signal is registered here its
/// default action (for `SIGINT`, ending the process) no longer happens,
/// also after [`stop`] (signal-hook keeps its handler installed; Go restores
/// the default action instead).
///
/// # Errors
///
/// `InvalidInput` for a signal that cannot be caught
/// ([`signal_hook::consts::FORBIDDEN`]: `SIGKILL`, `SIGSTOP`, `SIGSEGV`,
/// `SIGILL`, `SIGFPE`) or a number that is not a signal; the OS's error if
/// the handler cannot be installed or the thread cannot be started.
///
/// # Panics
///
/// Outside [`run`](crate::run) (or [`Program::enter`](crate::Program::enter)).
///
/// ```
/// use gosched::signal::{self, SIGKILL, SIGUSR2};
/// gosched::run(|| {
///     assert!(signal::notify(&[SIGKILL]).is_err(), "cannot be caught");
///     let signals = signal::notify(&[SIGUSR2]).unwrap();
///     std::thread::spawn(|| unsafe { libc::raise(SIGUSR2) });
///     gosched::select! {
///         recv(signals) -> s => assert_eq!(s, Ok(SIGUSR2)),
///         recv(gosched::after(std::time::Duration::from_secs(10))) -> _ => panic!("no signal"),
///     }
/// });
/// ```
pub fn notify(signals: &[i32]) -> io::Result<Receiver<i32>> {
    // signal-hook panics on these; they are errors the caller can handle.
    for s in signals {
        let why = if FORBIDDEN.contains(s) {
            "cannot be caught"
        } else if !(1..MAX_SIGNAL).contains(s) {
            "is not a signal number"
        } else {
            continue;
        };
        let message = format!("gosched::signal::notify: signal {s} {why}");
        return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
    }
    let mut registered = Signals::new(signals)?;
    let handle = registered.handle();
    let inbox = Arc::new(Inbox::default());
    let reader_inbox = inbox.clone();
    std::thread::Builder::new()
        .name("gosched-signals".to_owned())
        .spawn(move || {
            for signal in registered.forever() {
                reader_inbox.signals.push(signal);
                reader_inbox.wake();
            }
            reader_inbox.closed.store(true, Ordering::Release);
            reader_inbox.wake();
        })?;
    let (tx, rx) = chan(BUFFER);
    let key = key(&rx);
    OPEN.with_borrow_mut(|open| open.push((key, handle.clone())));
    let guard = CloseOnDrop { handle, key };
    crate::Builder::new()
        .name("signal.notify".to_owned())
        .spawn(move || {
            let _guard = guard;
            loop {
                let next = crate::block_on(poll_fn(|cx| {
                    *inbox.waker.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(cx.waker().clone());
                    // Polled after storing the waker: a signal pushed in
                    // between is seen here or wakes us.
                    inbox.next()
                }));
                let Some(signal) = next else { break };
                if tx.send(signal).is_err() {
                    break; // every receiver is gone
                }
            }
        })?;
    Ok(rx)
}

/// Stops delivering signals to `rx`, a channel from [`notify`]; Go's
/// `signal.Stop`. The channel closes once the signals already received are
/// drained (unlike Go's, which stays open). Does nothing for another channel.
///
/// ```
/// use gosched::signal;
/// gosched::run(|| {
///     let signals = signal::notify(&[signal::SIGHUP]).unwrap();
///     signal::stop(&signals);
///     assert!(signals.recv().is_err());
/// });
/// ```
pub fn stop(rx: &Receiver<i32>) {
    let key = key(rx);
    OPEN.with_borrow(|open| {
        for (_, handle) in open.iter().filter(|(k, _)| *k == key) {
            handle.close();
        }
    });
}

/// A child of `parent` that is cancelled when one of `signals` arrives (or by
/// its handle, or with `parent`); Go's `signal.NotifyContext`. Its error is
/// then [`ContextError::Canceled`], as in Go. The signals stop being watched
/// once the context is done; before that they do not have their default
/// effect (see [`notify`]).
///
/// # Errors
///
/// As [`notify`].
///
/// # Panics
///
/// Outside [`run`](crate::run) (or [`Program::enter`](crate::Program::enter)).
///
/// ```
/// use gosched::context::{self, ContextError};
/// use gosched::signal::{self, SIGWINCH};
/// gosched::run(|| {
///     let (ctx, _stop) = signal::notify_context(&context::background(), &[SIGWINCH]).unwrap();
///     std::thread::spawn(|| unsafe { libc::raise(SIGWINCH) });
///     ctx.done().recv().unwrap_err(); // closed: the signal came
///     assert_eq!(ctx.err(), Some(ContextError::Canceled));
/// });
/// ```
pub fn notify_context(parent: &Context, signals: &[i32]) -> io::Result<(Context, CancelHandle)> {
    let rx = notify(signals)?;
    let (ctx, handle) = context::with_cancel(parent);
    let watched = ctx.clone();
    crate::Builder::new()
        .name("signal.notify_context".to_owned())
        .spawn(move || {
            let done = watched.done();
            crate::select! {
                recv(rx) -> _ => watched.cancel_with(ContextError::Canceled),
                recv(done) -> _ => {}
            }
            stop(&rx);
        })?;
    Ok((ctx, handle))
}
