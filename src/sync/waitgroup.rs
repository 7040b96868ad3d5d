//! `WaitGroup`: wait for a collection of goroutines to finish.

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;

use super::waitqueue::WaitQueue;
use crate::runtime::WaitReason;
use crate::JoinHandle;

/// Waits for a collection of goroutines to finish; Go's `sync.WaitGroup`.
///
/// [`add`](WaitGroup::add) raises a counter (by the number of goroutines to
/// wait for), each goroutine calls [`done`](WaitGroup::done) when it
/// finishes, and [`wait`](WaitGroup::wait) parks until the counter is zero
/// (`[waitgroup]` in the deadlock dump). Clones share the counter: give each
/// goroutine its own clone.
///
/// Not `Send` nor `Sync` (it is an [`Rc`] inside).
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// use gosched::sync::WaitGroup;
///
/// gosched::run(|| {
///     let wg = WaitGroup::new();
///     let sum = Rc::new(Cell::new(0));
///     for i in 1..=4 {
///         wg.add(1);
///         let (wg, sum) = (wg.clone(), sum.clone());
///         gosched::go(move || {
///             gosched::sleep(std::time::Duration::from_millis(1));
///             sum.set(sum.get() + i);
///             wg.done();
///         });
///     }
///     wg.wait();
///     assert_eq!(sum.get(), 10);
/// });
/// ```
#[derive(Clone, Default)]
pub struct WaitGroup {
    inner: Rc<Inner>,
}

#[derive(Default)]
struct Inner {
    count: Cell<usize>,
    /// Goroutines in `wait`; all released when `count` reaches zero.
    waiters: WaitQueue,
}

impl WaitGroup {
    /// A wait group with a zero counter.
    ///
    /// ```
    /// let wg = gosched::sync::WaitGroup::new();
    /// wg.wait(); // nothing to wait for
    /// ```
    pub fn new() -> WaitGroup {
        WaitGroup::default()
    }

    /// Adds `delta`, which may be negative as in Go's `Add`, to the counter.
    /// When the counter reaches zero, every goroutine in
    /// [`wait`](WaitGroup::wait) is released.
    ///
    /// # Panics
    ///
    /// With `sync: negative WaitGroup counter` (Go's message) when the counter
    /// would go below zero, and when it would overflow.
    ///
    /// ```
    /// let wg = gosched::sync::WaitGroup::new();
    /// wg.add(3);
    /// wg.add(-2);
    /// assert_eq!(wg.count(), 1);
    /// ```
    #[track_caller]
    pub fn add(&self, delta: isize) {
        let count = self.inner.count.get();
        let new = match count.checked_add_signed(delta) {
            Some(new) => new,
            None if delta < 0 => panic!("sync: negative WaitGroup counter"),
            None => panic!("sync: WaitGroup counter overflow"),
        };
        self.inner.count.set(new);
        if new == 0 {
            self.inner.waiters.wake_all();
        }
    }

    /// Decrements the counter by one: `add(-1)`.
    ///
    /// # Panics
    ///
    /// When the counter is already zero.
    ///
    /// ```
    /// let wg = gosched::sync::WaitGroup::new();
    /// wg.add(1);
    /// wg.done();
    /// assert_eq!(wg.count(), 0);
    /// ```
    #[track_caller]
    pub fn done(&self) {
        self.add(-1);
    }

    /// Parks the calling goroutine until the counter is zero; returns at once
    /// if it is.
    ///
    /// # Panics
    ///
    /// When it would have to wait and the caller is not a goroutine.
    ///
    /// ```
    /// use gosched::sync::WaitGroup;
    ///
    /// gosched::run(|| {
    ///     let wg = WaitGroup::new();
    ///     wg.add(1);
    ///     let wg2 = wg.clone();
    ///     gosched::go(move || wg2.done());
    ///     wg.wait();
    ///     assert_eq!(wg.count(), 0);
    /// });
    /// ```
    #[track_caller]
    pub fn wait(&self) {
        if self.inner.count.get() > 0 {
            // Released only by `add` at zero; a later `add` does not hold us.
            self.inner
                .waiters
                .wait((), WaitReason::WaitGroup, None, "WaitGroup::wait", || ());
        }
    }

    /// Starts `f` in a new goroutine counted by this group: `add(1)` now,
    /// `done()` when `f` returns or panics. Go 1.25's `WaitGroup.Go`.
    ///
    /// # Panics
    ///
    /// Outside a goroutine.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    ///
    /// gosched::run(|| {
    ///     let wg = gosched::sync::WaitGroup::new();
    ///     let hits = Rc::new(Cell::new(0));
    ///     for _ in 0..5 {
    ///         let hits = hits.clone();
    ///         wg.go(move || hits.set(hits.get() + 1));
    ///     }
    ///     wg.wait();
    ///     assert_eq!(hits.get(), 5);
    /// });
    /// ```
    pub fn go<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        self.add(1);
        let done = Done(self.clone());
        crate::go(move || {
            let _done = done;
            f()
        })
    }

    /// The current value of the counter.
    ///
    /// ```
    /// let wg = gosched::sync::WaitGroup::new();
    /// wg.add(2);
    /// assert_eq!(wg.count(), 2);
    /// ```
    pub fn count(&self) -> usize {
        self.inner.count.get()
    }
}

/// Calls `done` on drop: when the goroutine returns, panics or is unwound.
struct Done(WaitGroup);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.done();
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .field("waiters", &self.inner.waiters.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static_assertions::assert_not_impl_any!(WaitGroup: Send, Sync);

    #[test]
    #[should_panic(expected = "sync: negative WaitGroup counter")]
    fn negative_counter_panics() {
        WaitGroup::new().done();
    }

    #[test]
    #[should_panic(expected = "sync: WaitGroup counter overflow")]
    fn overflow_panics() {
        let wg = WaitGroup::new();
        wg.add(isize::MAX);
        wg.add(isize::MAX);
        wg.add(2);
    }

    #[test]
    fn released_waiters_return_even_if_the_counter_rises_again() {
        crate::run(|| {
            let wg = WaitGroup::new();
            wg.add(1);
            let w = wg.clone();
            let h = crate::go(move || w.wait());
            crate::yield_now();
            wg.done();
            wg.add(1); // before the waiter runs
            h.join().unwrap();
            assert_eq!(wg.count(), 1);
        });
    }

    #[test]
    #[cfg_attr(target_arch = "wasm32", ignore = "panics abort on wasm")]
    fn go_counts_a_panicking_goroutine_done() {
        crate::run(|| {
            let wg = WaitGroup::new();
            let h = wg.go(|| panic!("expected test panic"));
            wg.wait();
            assert!(h.join().is_err());
        });
    }
}
