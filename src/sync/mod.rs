//! Goroutine-aware synchronisation: Go's `sync` package with std's shapes.
//!
//! | type | Go | parks as |
//! |---|---|---|
//! | [`Mutex<T>`] | `sync.Mutex` | `[mutex]` |
//! | [`RwLock<T>`] | `sync.RWMutex` | `[rwlock]` |
//! | [`WaitGroup`] | `sync.WaitGroup` | `[waitgroup]` |
//! | [`Once`] | `sync.Once` | `[once]` |
//! | [`Semaphore`] | `x/sync/semaphore` | `[semaphore]` |
//! | [`Cond`] | `sync.Cond` | `[cond]` |
//!
//! A goroutine that has to wait parks: the scheduler runs the others, and the
//! deadlock dump shows what it waits for (the right-hand column). Nothing
//! spins or blocks the thread.
//!
//! Waiters are served in arrival order by hand-off: releasing a lock or a
//! permit gives it directly to the first waiter, so a goroutine that releases
//! and asks again cannot overtake those already waiting.
//!
//! # Threads
//!
//! All goroutines of a [`run`](crate::run) share one thread, so none of these
//! types is `Send` or `Sync`: share them between goroutines with an
//! [`Rc`](std::rc::Rc) (a [`WaitGroup`] is one already), and use
//! `std::sync` between threads.
//!
//! # Panics
//!
//! There is no poisoning: a guard dropped while its goroutine panics releases
//! the lock, and the other goroutines go on. Calls that have to wait panic
//! outside a goroutine; uncontended ones work anywhere and never allocate.
//!
//! ```
//! use std::rc::Rc;
//! use gosched::sync::{Mutex, WaitGroup};
//!
//! gosched::run(|| {
//!     let total = Rc::new(Mutex::new(0u64));
//!     let wg = WaitGroup::new();
//!     for i in 1..=100 {
//!         let total = total.clone();
//!         wg.go(move || *total.lock() += i);
//!     }
//!     wg.wait();
//!     assert_eq!(*total.lock(), 5050);
//! });
//! ```

/// Gives a guard type (with a `value` field that derefs to `T`) `Deref`,
/// `Debug` and `Display` to its value, and `DerefMut` with `mut`.
macro_rules! guard_access {
    ($guard:ident) => {
        impl<T: ?Sized> std::ops::Deref for $guard<'_, T> {
            type Target = T;
            fn deref(&self) -> &T {
                &self.value
            }
        }

        impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for $guard<'_, T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&*self.value, f)
            }
        }

        impl<T: ?Sized + std::fmt::Display> std::fmt::Display for $guard<'_, T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&*self.value, f)
            }
        }
    };
    ($guard:ident, mut) => {
        guard_access!($guard);

        impl<T: ?Sized> std::ops::DerefMut for $guard<'_, T> {
            fn deref_mut(&mut self) -> &mut T {
                &mut self.value
            }
        }
    };
}
use guard_access;

mod cond;
mod mutex;
mod once;
mod rwlock;
mod semaphore;
mod waitgroup;
mod waitqueue;

pub use cond::Cond;
pub use mutex::{Mutex, MutexGuard};
pub use once::Once;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Semaphore, SemaphorePermit};
pub use waitgroup::WaitGroup;
