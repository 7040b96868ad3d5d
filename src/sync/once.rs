//! `Once`: run an initialisation exactly once.

use std::cell::Cell;
use std::fmt;

use super::waitqueue::WaitQueue;
use crate::runtime::WaitReason;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    New,
    Running,
    Done,
}

/// Runs a function once, however many goroutines ask; Go's `sync.Once`.
///
/// The first [`call_once`](Once::call_once) runs its function; callers that
/// come while it runs (it may park, e.g. on I/O or a channel) park until it
/// has finished (`[once]` in the deadlock dump); later callers return at once.
///
/// As in Go, a function that panics counts as having run: the panic goes on
/// in its goroutine, waiting callers are released and later calls do nothing.
///
/// Not `Send` nor `Sync`: share it between goroutines with an
/// [`Rc`](std::rc::Rc).
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// use gosched::sync::Once;
///
/// gosched::run(|| {
///     let once = Rc::new(Once::new());
///     let runs = Rc::new(Cell::new(0));
///     let hs: Vec<_> = (0..3)
///         .map(|_| {
///             let (once, runs) = (once.clone(), runs.clone());
///             gosched::go(move || once.call_once(|| runs.set(runs.get() + 1)))
///         })
///         .collect();
///     hs.into_iter().for_each(|h| h.join().unwrap());
///     assert_eq!(runs.get(), 1);
/// });
/// ```
pub struct Once {
    state: Cell<State>,
    /// Callers that came while `state` was `Running`.
    waiters: WaitQueue,
}

impl Once {
    /// A `Once` whose function has not run.
    ///
    /// ```
    /// assert!(!gosched::sync::Once::new().is_completed());
    /// ```
    pub const fn new() -> Once {
        Once {
            state: Cell::new(State::New),
            waiters: WaitQueue::new(),
        }
    }

    /// Runs `f` if no call has run a function yet; otherwise waits until the
    /// call that runs one has finished, and returns without calling `f`.
    ///
    /// Calling `call_once` on the same `Once` from inside `f` parks forever,
    /// as in Go.
    ///
    /// # Panics
    ///
    /// With `f`'s panic; when it would have to wait and the caller is not a
    /// goroutine.
    ///
    /// ```
    /// let once = gosched::sync::Once::new();
    /// let mut calls = 0;
    /// once.call_once(|| calls += 1);
    /// once.call_once(|| calls += 1);
    /// assert_eq!(calls, 1);
    /// ```
    #[track_caller]
    pub fn call_once(&self, f: impl FnOnce()) {
        match self.state.get() {
            State::Done => {}
            State::Running => {
                // Woken only by `Finish`, which has set `Done`.
                self.waiters
                    .wait((), WaitReason::Once, None, "Once::call_once", || ());
            }
            State::New => {
                self.state.set(State::Running);
                let _finish = Finish(self);
                f();
            }
        }
    }

    /// Whether a call has finished running its function (also when it
    /// panicked).
    ///
    /// ```
    /// let once = gosched::sync::Once::new();
    /// once.call_once(|| ());
    /// assert!(once.is_completed());
    /// ```
    pub fn is_completed(&self) -> bool {
        self.state.get() == State::Done
    }
}

/// Marks the `Once` done and releases the waiters, also when `f` unwinds.
struct Finish<'a>(&'a Once);

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        self.0.state.set(State::Done);
        self.0.waiters.wake_all();
    }
}

impl Default for Once {
    fn default() -> Once {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("state", &self.state.get())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static_assertions::assert_not_impl_any!(Once: Send, Sync);

    #[test]
    #[cfg_attr(target_arch = "wasm32", ignore = "panics abort on wasm")]
    fn panic_counts_as_done() {
        let once = Once::new();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            once.call_once(|| panic!("expected test panic"))
        }));
        assert!(r.is_err());
        assert!(once.is_completed());
        once.call_once(|| unreachable!("the Once is done"));
    }
}
