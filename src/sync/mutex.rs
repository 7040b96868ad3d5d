//! `Mutex`: mutual exclusion with FIFO hand-off.

use std::cell::{Cell, RefCell, RefMut};
use std::fmt;

use super::waitqueue::WaitQueue;
use crate::runtime::WaitReason;

/// A mutual-exclusion lock for goroutines; Go's `sync.Mutex` holding the data
/// it protects, with [`std::sync::Mutex`]'s shape.
///
/// A goroutine that finds it locked parks (the deadlock dump shows it as
/// `[mutex]`) and the others keep running. Waiters get the lock in the order
/// they asked for it: unlocking hands it straight to the first waiter, so a
/// goroutine that unlocks and locks again cannot overtake them.
///
/// No poisoning: a goroutine that panics while holding the lock releases it
/// as its [`MutexGuard`] is dropped during unwinding, and the lock works on.
///
/// Not `Send` nor `Sync`: it belongs to the thread whose scheduler runs its
/// goroutines. Share it between goroutines with an [`Rc`](std::rc::Rc).
///
/// ```
/// use std::rc::Rc;
/// use gosched::sync::Mutex;
///
/// let total = gosched::run(|| {
///     let counter = Rc::new(Mutex::new(0));
///     let hs: Vec<_> = (0..10)
///         .map(|_| {
///             let counter = counter.clone();
///             gosched::go(move || {
///                 let mut n = counter.lock();
///                 let seen = *n;
///                 gosched::yield_now(); // others run, but cannot get in
///                 *n = seen + 1;
///             })
///         })
///         .collect();
///     hs.into_iter().for_each(|h| h.join().unwrap());
///     let n = *counter.lock();
///     n
/// });
/// assert_eq!(total, 10);
/// ```
pub struct Mutex<T: ?Sized> {
    /// Stays set while the lock passes from one holder to a waiter.
    /// Invariant: `waiters` is empty when it is clear.
    locked: Cell<bool>,
    waiters: WaitQueue,
    /// Borrowed only by the guard of the holder, so the borrow never fails.
    value: RefCell<T>,
}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    ///
    /// ```
    /// let m = gosched::sync::Mutex::new(vec![1, 2]);
    /// assert_eq!(m.into_inner(), [1, 2]);
    /// ```
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            locked: Cell::new(false),
            waiters: WaitQueue::new(),
            value: RefCell::new(value),
        }
    }

    /// Consumes the mutex and returns its value.
    ///
    /// ```
    /// let m = gosched::sync::Mutex::new(String::from("x"));
    /// m.lock().push('y');
    /// assert_eq!(m.into_inner(), "xy");
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, parking the calling goroutine until it is free; the
    /// lock is released when the guard is dropped.
    ///
    /// Locking a mutex the goroutine already holds parks it forever, as in
    /// Go.
    ///
    /// # Panics
    ///
    /// When the mutex is locked and the caller is not a goroutine (nothing
    /// could ever unlock it). An uncontended lock works anywhere.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use gosched::sync::Mutex;
    ///
    /// gosched::run(|| {
    ///     let m = Rc::new(Mutex::new(Vec::new()));
    ///     let m2 = m.clone();
    ///     let guard = m.lock();
    ///     let h = gosched::go(move || m2.lock().push("goroutine"));
    ///     gosched::yield_now(); // the goroutine parks on the lock
    ///     drop(guard);
    ///     h.join().unwrap();
    ///     assert_eq!(*m.lock(), ["goroutine"]);
    /// });
    /// ```
    #[track_caller]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        if self.locked.replace(true) {
            // Held: the holder hands the (still locked) mutex over on unlock.
            self.waiters
                .wait((), WaitReason::Mutex, None, "Mutex::lock", || self.unlock());
        }
        self.guard()
    }

    /// Locks the mutex if it is free, without waiting.
    ///
    /// ```
    /// let m = gosched::sync::Mutex::new(1);
    /// let held = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_none());
    /// drop(held);
    /// assert_eq!(*m.try_lock().unwrap(), 1);
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        if self.locked.replace(true) {
            return None;
        }
        Some(self.guard())
    }

    /// Whether some goroutine holds the lock (or is being handed it).
    ///
    /// ```
    /// let m = gosched::sync::Mutex::new(());
    /// let g = m.lock();
    /// assert!(m.is_locked());
    /// drop(g);
    /// assert!(!m.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.locked.get()
    }

    /// The value, through a unique borrow (no locking needed).
    ///
    /// ```
    /// let mut m = gosched::sync::Mutex::new(1);
    /// *m.get_mut() += 1;
    /// assert_eq!(*m.lock(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    fn guard(&self) -> MutexGuard<'_, T> {
        MutexGuard {
            value: self.value.borrow_mut(),
            lock: Unlock(self),
        }
    }

    /// Hands the lock to the first waiter, or frees it.
    #[inline]
    fn unlock(&self) {
        if !self.waiters.wake_one() {
            self.locked.set(false);
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.field("waiters", &self.waiters.len()).finish()
    }
}

/// Access to the value of a locked [`Mutex`]; unlocks it when dropped.
///
/// ```
/// let m = gosched::sync::Mutex::new(5);
/// {
///     let mut guard = m.lock();
///     *guard += 1;
/// } // unlocked here
/// assert_eq!(*m.lock(), 6);
/// ```
pub struct MutexGuard<'a, T: ?Sized> {
    // Declared first so that the borrow ends before `lock` hands the mutex on.
    value: RefMut<'a, T>,
    lock: Unlock<'a, T>,
}

/// Unlocks on drop, also while unwinding (hence no poisoning).
struct Unlock<'a, T: ?Sized>(&'a Mutex<T>);

impl<T: ?Sized> Drop for Unlock<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.0.unlock();
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard holds, for [`Cond`](super::Cond) to unlock and relock.
    pub(super) fn mutex(guard: &Self) -> &'a Mutex<T> {
        guard.lock.0
    }
}

super::guard_access!(MutexGuard, mut);

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    static_assertions::assert_not_impl_any!(Mutex<u8>: Send, Sync);
    static_assertions::assert_not_impl_any!(MutexGuard<'static, u8>: Send, Sync);

    #[test]
    fn unlock_hands_off_instead_of_freeing() {
        crate::run(|| {
            let m = Rc::new(Mutex::new(0));
            let m2 = m.clone();
            let held = m.lock();
            let h = crate::go(move || *m2.lock() += 1);
            crate::yield_now();
            drop(held);
            // The waiter has not run yet but already owns the lock.
            assert!(m.is_locked());
            assert!(m.try_lock().is_none());
            h.join().unwrap();
            assert!(!m.is_locked());
            assert_eq!(*m.lock(), 1);
        });
    }

    #[test]
    fn debug_shows_value_or_locked() {
        let m = Mutex::new(3);
        assert_eq!(format!("{m:?}"), "Mutex { data: 3, waiters: 0 }");
        let g = m.lock();
        assert_eq!(format!("{m:?}"), "Mutex { data: <locked>, waiters: 0 }");
        assert_eq!(format!("{g:?} {g}"), "3 3");
    }

    #[test]
    fn unsized_value() {
        let m: &Mutex<[u8]> = &Mutex::new([1, 2, 3]);
        m.lock()[0] = 9;
        assert_eq!(&*m.lock(), &[9, 2, 3]);
    }

    #[test]
    #[should_panic(expected = "Mutex::lock must be called inside a goroutine")]
    fn contended_lock_outside_a_goroutine_panics() {
        let m = Mutex::new(());
        let _held = m.lock();
        let _again = m.lock();
    }
}
