//! What the tests ported from crossbeam-channel need around gosched: its
//! channel constructors, its `ms`, and a `scope` whose spawned closures are
//! goroutines, all joined (and their panics re-raised) when the scope ends.
//!
//! crossbeam's scoped threads borrow the channel ends; goroutines are
//! `'static`, so a ported test moves an end into the goroutine, or shares it
//! in an `Rc` (cloning a `Sender` would keep the channel open longer).

#![allow(dead_code)]

use std::any::Any;
use std::cell::RefCell;
use std::time::Duration;

use gosched::{chan, go, JoinHandle, Receiver, Sender};

pub fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Added to crossbeam's upper bounds on elapsed time ("at most 550 ms"):
/// the test machines are shared, and a goroutine woken on time may wait that
/// long for a core (a wasm run at a load average of 18 on 2 cores went past
/// 550 ms).
/// Lower bounds are kept as they are.
pub const LOAD_SLACK: Duration = Duration::from_millis(1000);

/// crossbeam's `unbounded()`: a buffer that never fills.
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    chan(usize::MAX)
}

/// crossbeam's `bounded(cap)`: Go's `make(chan T, cap)`.
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    chan(cap)
}

/// The goroutines a [`scope`] started.
#[derive(Default)]
pub struct Scope {
    handles: RefCell<Vec<JoinHandle<()>>>,
}

impl Scope {
    /// Starts `f` as a goroutine (the argument stands for crossbeam's
    /// nested scope, which the ported tests do not use).
    pub fn spawn(&self, f: impl FnOnce(()) + 'static) {
        self.handles.borrow_mut().push(go(move || f(())));
    }
}

/// Runs `f`, then joins every goroutine it spawned; `Err` holds the first
/// goroutine panic, as crossbeam's `scope` does for its threads.
pub fn scope<R>(f: impl FnOnce(&Scope) -> R) -> Result<R, Box<dyn Any + Send>> {
    let scope = Scope::default();
    let r = f(&scope);
    let mut first_panic = None;
    for h in scope.handles.take() {
        if let Err(panic) = h.join() {
            first_panic.get_or_insert(panic);
        }
    }
    first_panic.map_or(Ok(r), Err)
}
