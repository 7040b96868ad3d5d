//! `Semaphore`: a counted set of permits, handed out in arrival order.

use std::cell::Cell;
use std::fmt;

use super::waitqueue::WaitQueue;
use crate::runtime::WaitReason;

/// A counting semaphore for goroutines: at most `n` permits are out at once;
/// a goroutine that asks for one when none is left parks (`[semaphore]` in
/// the deadlock dump) until one is returned. Permits go to waiters in the
/// order they asked. Go code gets this from a buffered channel or
/// `golang.org/x/sync/semaphore`.
///
/// Not `Send` nor `Sync`: share it between goroutines with an
/// [`Rc`](std::rc::Rc).
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// use gosched::sync::Semaphore;
///
/// gosched::run(|| {
///     let sem = Rc::new(Semaphore::new(2));
///     let inside = Rc::new(Cell::new(0));
///     let hs: Vec<_> = (0..6)
///         .map(|_| {
///             let (sem, inside) = (sem.clone(), inside.clone());
///             gosched::go(move || {
///                 let _permit = sem.acquire();
///                 inside.set(inside.get() + 1);
///                 assert!(inside.get() <= 2);
///                 gosched::yield_now();
///                 inside.set(inside.get() - 1);
///             })
///         })
///         .collect();
///     hs.into_iter().for_each(|h| h.join().unwrap());
/// });
/// ```
pub struct Semaphore {
    /// Invariant: zero while anyone waits (a returned permit goes to the
    /// first waiter, not back here).
    permits: Cell<usize>,
    waiters: WaitQueue,
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    ///
    /// ```
    /// let sem = gosched::sync::Semaphore::new(3);
    /// assert_eq!(sem.available_permits(), 3);
    /// ```
    pub const fn new(permits: usize) -> Semaphore {
        Semaphore {
            permits: Cell::new(permits),
            waiters: WaitQueue::new(),
        }
    }

    /// Takes a permit, parking the calling goroutine until one is free; the
    /// permit is returned when the guard is dropped.
    ///
    /// # Panics
    ///
    /// When no permit is free and the caller is not a goroutine.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use gosched::sync::Semaphore;
    ///
    /// gosched::run(|| {
    ///     let sem = Rc::new(Semaphore::new(1));
    ///     let permit = sem.acquire();
    ///     let s2 = sem.clone();
    ///     let h = gosched::go(move || drop(s2.acquire()));
    ///     gosched::yield_now();
    ///     assert!(!h.is_finished(), "no permit left");
    ///     drop(permit);
    ///     h.join().unwrap();
    ///     assert_eq!(sem.available_permits(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        if !self.take() {
            // Handed a permit directly by `add_permits`.
            self.waiters.wait(
                (),
                WaitReason::Semaphore,
                None,
                "Semaphore::acquire",
                || self.add_permits(1),
            );
        }
        SemaphorePermit(self)
    }

    /// Takes a permit if one is free.
    ///
    /// ```
    /// let sem = gosched::sync::Semaphore::new(1);
    /// let p = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_none());
    /// drop(p);
    /// assert!(sem.try_acquire().is_some());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        // Not `then_some`: an unused permit would be dropped, i.e. returned.
        self.take().then(|| SemaphorePermit(self))
    }

    /// The number of free permits.
    ///
    /// ```
    /// let sem = gosched::sync::Semaphore::new(2);
    /// let _p = sem.acquire();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.permits.get()
    }

    /// Adds `n` permits: they go to waiting goroutines first, in arrival
    /// order, and the rest become free. With `Semaphore::new(0)` this makes a
    /// counting signal.
    ///
    /// # Panics
    ///
    /// When the number of free permits would overflow `usize`.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use gosched::sync::Semaphore;
    ///
    /// gosched::run(|| {
    ///     let ready = Rc::new(Semaphore::new(0));
    ///     let r = ready.clone();
    ///     let h = gosched::go(move || r.acquire().forget());
    ///     ready.add_permits(3);
    ///     h.join().unwrap();
    ///     assert_eq!(ready.available_permits(), 2);
    /// });
    /// ```
    pub fn add_permits(&self, mut n: usize) {
        while n > 0 && self.waiters.wake_one() {
            n -= 1;
        }
        let free = self.permits.get().checked_add(n);
        self.permits
            .set(free.expect("gosched::sync::Semaphore: permit count overflow"));
    }

    fn take(&self) -> bool {
        match self.permits.get().checked_sub(1) {
            Some(left) => {
                self.permits.set(left);
                true
            }
            None => false,
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.permits.get())
            .field("waiters", &self.waiters.len())
            .finish()
    }
}

/// A permit of a [`Semaphore`]; returned to it when dropped.
///
/// ```
/// let sem = gosched::sync::Semaphore::new(1);
/// {
///     let _permit = sem.acquire();
///     assert_eq!(sem.available_permits(), 0);
/// }
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[must_use = "the permit is returned at once if it is not kept"]
pub struct SemaphorePermit<'a>(&'a Semaphore);

impl SemaphorePermit<'_> {
    /// Keeps the permit out of the semaphore for good (it is not returned).
    ///
    /// ```
    /// let sem = gosched::sync::Semaphore::new(1);
    /// sem.acquire().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.0.add_permits(1);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    static_assertions::assert_not_impl_any!(Semaphore: Send, Sync);
    static_assertions::assert_not_impl_any!(SemaphorePermit<'static>: Send, Sync);

    #[test]
    fn returned_permit_skips_the_free_count_while_someone_waits() {
        crate::run(|| {
            let sem = Rc::new(Semaphore::new(1));
            let p = sem.acquire();
            let s2 = sem.clone();
            let h = crate::go(move || drop(s2.acquire()));
            crate::yield_now();
            drop(p);
            // Handed to the waiter: not free, so not takeable by us.
            assert_eq!(sem.available_permits(), 0);
            assert!(sem.try_acquire().is_none());
            h.join().unwrap();
            assert_eq!(sem.available_permits(), 1);
        });
    }

    #[test]
    #[should_panic(expected = "permit count overflow")]
    fn overflow_panics() {
        Semaphore::new(usize::MAX).add_permits(1);
    }
}
