//! `Cond`: a condition variable over a [`Mutex`].

use std::fmt;
use std::time::Duration;

use super::mutex::{Mutex, MutexGuard};
use super::waitqueue::WaitQueue;
use crate::runtime::WaitReason;

/// A condition variable for goroutines; Go's `sync.Cond` (`Wait`, `Signal`,
/// `Broadcast`) with [`std::sync::Condvar`]'s shape: [`wait`](Cond::wait)
/// takes the guard of a locked [`Mutex`], unlocks it, parks (`[cond]` in the
/// deadlock dump) until [`signal`](Cond::signal) or
/// [`broadcast`](Cond::broadcast) picks it, then locks the mutex again.
///
/// Waiters are picked in the order they started waiting, and a wait never
/// ends spuriously, but another goroutine may change the state between the
/// signal and the relock: check the condition in a loop, as in Go, or use
/// [`wait_while`](Cond::wait_while).
///
/// Not `Send` nor `Sync`: share it between goroutines with an
/// [`Rc`](std::rc::Rc).
///
/// ```
/// use std::{collections::VecDeque, rc::Rc};
/// use gosched::sync::{Cond, Mutex};
///
/// gosched::run(|| {
///     let queue = Rc::new((Mutex::new(VecDeque::new()), Cond::new()));
///     let q = queue.clone();
///     let consumer = gosched::go(move || {
///         let (items, nonempty) = &*q;
///         let mut items = items.lock();
///         while items.is_empty() {
///             items = nonempty.wait(items);
///         }
///         items.pop_front().unwrap()
///     });
///     gosched::yield_now(); // the consumer waits
///     let (items, nonempty) = &*queue;
///     items.lock().push_back("job");
///     nonempty.signal();
///     assert_eq!(consumer.join().unwrap(), "job");
/// });
/// ```
pub struct Cond {
    waiters: WaitQueue,
}

impl Cond {
    /// A condition variable nobody waits on.
    ///
    /// ```
    /// let cond = gosched::sync::Cond::new();
    /// cond.signal(); // wakes nobody
    /// ```
    pub const fn new() -> Cond {
        Cond {
            waiters: WaitQueue::new(),
        }
    }

    /// Unlocks `guard`'s mutex, parks until signalled, and returns once the
    /// mutex is locked again.
    ///
    /// # Panics
    ///
    /// Outside a goroutine.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use gosched::sync::{Cond, Mutex};
    ///
    /// gosched::run(|| {
    ///     let state = Rc::new((Mutex::new(false), Cond::new()));
    ///     let s = state.clone();
    ///     gosched::go(move || {
    ///         *s.0.lock() = true;
    ///         s.1.broadcast();
    ///     });
    ///     let mut ready = state.0.lock();
    ///     while !*ready {
    ///         ready = state.1.wait(ready);
    ///     }
    /// });
    /// ```
    #[track_caller]
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.wait_for(guard, None, "Cond::wait").0
    }

    /// [`wait`](Cond::wait), giving up after `timeout`; the `bool` is `true`
    /// when the timeout ended the wait. The mutex is locked again either way.
    ///
    /// # Panics
    ///
    /// Outside a goroutine.
    ///
    /// ```
    /// use std::time::Duration;
    /// use gosched::sync::{Cond, Mutex};
    ///
    /// gosched::run(|| {
    ///     let (m, cond) = (Mutex::new(0), Cond::new());
    ///     let (guard, timed_out) = cond.wait_timeout(m.lock(), Duration::from_millis(5));
    ///     assert!(timed_out);
    ///     assert_eq!(*guard, 0);
    /// });
    /// ```
    #[track_caller]
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, bool) {
        self.wait_for(guard, Some(timeout), "Cond::wait_timeout")
    }

    /// Waits while `condition` holds for the protected value; returns with
    /// the mutex locked and the condition false.
    ///
    /// # Panics
    ///
    /// When it has to wait and the caller is not a goroutine.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use gosched::sync::{Cond, Mutex};
    ///
    /// gosched::run(|| {
    ///     let pair = Rc::new((Mutex::new(0), Cond::new()));
    ///     let p = pair.clone();
    ///     gosched::go(move || {
    ///         for _ in 0..3 {
    ///             *p.0.lock() += 1;
    ///             p.1.signal();
    ///             gosched::yield_now();
    ///         }
    ///     });
    ///     let n = pair.1.wait_while(pair.0.lock(), |n| *n < 3);
    ///     assert_eq!(*n, 3);
    /// });
    /// ```
    #[track_caller]
    pub fn wait_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        while condition(&mut guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// Wakes the goroutine that has waited longest, if any; Go's `Signal`.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use gosched::sync::{Cond, Mutex};
    ///
    /// gosched::run(|| {
    ///     let pair = Rc::new((Mutex::new(()), Cond::new()));
    ///     let p = pair.clone();
    ///     let h = gosched::go(move || drop(p.1.wait(p.0.lock())));
    ///     gosched::yield_now();
    ///     pair.1.signal();
    ///     h.join().unwrap();
    /// });
    /// ```
    pub fn signal(&self) {
        self.waiters.wake_one();
    }

    /// Wakes every waiting goroutine; Go's `Broadcast`.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use gosched::sync::{Cond, Mutex};
    ///
    /// gosched::run(|| {
    ///     let pair = Rc::new((Mutex::new(()), Cond::new()));
    ///     let hs: Vec<_> = (0..3)
    ///         .map(|_| {
    ///             let p = pair.clone();
    ///             gosched::go(move || drop(p.1.wait(p.0.lock())))
    ///         })
    ///         .collect();
    ///     gosched::yield_now();
    ///     pair.1.broadcast();
    ///     hs.into_iter().for_each(|h| h.join().unwrap());
    /// });
    /// ```
    pub fn broadcast(&self) {
        self.waiters.wake_all();
    }

    #[track_caller]
    fn wait_for<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Option<Duration>,
        what: &str,
    ) -> (MutexGuard<'a, T>, bool) {
        let mutex: &Mutex<T> = MutexGuard::mutex(&guard);
        // No signal is lost between the unlock and the park: no other
        // goroutine runs until `wait` parks.
        drop(guard);
        let picked = self
            .waiters
            .wait((), WaitReason::Cond, timeout, what, || self.signal());
        (mutex.lock(), !picked)
    }
}

impl Default for Cond {
    fn default() -> Cond {
        Cond::new()
    }
}

impl fmt::Debug for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cond")
            .field("waiters", &self.waiters.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    static_assertions::assert_not_impl_any!(Cond: Send, Sync);

    #[test]
    fn signal_wakes_in_wait_order() {
        let order = crate::run(|| {
            let shared = Rc::new((Mutex::new(Vec::new()), Cond::new()));
            let hs: Vec<_> = (0..3)
                .map(|i| {
                    let s = shared.clone();
                    crate::go(move || {
                        let guard = s.1.wait(s.0.lock());
                        drop(guard);
                        s.0.lock().push(i);
                    })
                })
                .collect();
            crate::yield_now();
            for _ in 0..3 {
                shared.1.signal();
                crate::yield_now();
            }
            hs.into_iter().for_each(|h| h.join().unwrap());
            let v = shared.0.lock().clone();
            v
        });
        assert_eq!(order, [0, 1, 2]);
    }

    #[test]
    fn timed_out_waiter_leaves_and_signal_goes_to_the_next() {
        crate::run(|| {
            let shared = Rc::new((Mutex::new(()), Cond::new()));
            let s = shared.clone();
            let quick = crate::go(move || s.1.wait_timeout(s.0.lock(), Duration::from_millis(1)).1);
            let s = shared.clone();
            let patient = crate::go(move || drop(s.1.wait(s.0.lock())));
            assert!(quick.join().unwrap(), "timed out");
            shared.1.signal();
            patient.join().unwrap();
        });
    }
}
