//! Wake-ups that may come from other OS threads.
//!
//! A `block_on` future's [`Waker`](std::task::Waker) must be `Send + Sync`,
//! but goroutine records are `Rc` and belong to the scheduler's thread. So a
//! waker carries only the goroutine's table slot and id:
//!
//! 1. `wake` sets the handle's `queued` flag; if it was clear, it pushes
//!    `(slot, id)` onto the lock-free queue and calls the platform's
//!    [`Unparker`], which ends a blocked `before_idle`.
//! 2. The scheduler drains the queue in its poll step, looks each slot up,
//!    and unparks the goroutine if the slot still holds that id.
//! 3. `block_on` clears `queued` before each poll, so a wake that arrives
//!    during or after the poll queues a new wake-up.
//! 4. Each poll gets a fresh waker that only the future's clones keep alive.
//!    While none is alive and no wake is queued, nothing can wake the
//!    goroutine: the deadlock check counts it as stuck. Dropping the last
//!    clone unparks the scheduler, so an idle scheduler notices.

use std::sync::Arc;
use std::task::{Wake, Waker};

// Under `--cfg loom` the shared primitives are loom's, so that the models in
// `loom_tests` explore every interleaving of wakers and scheduler.
#[cfg(not(loom))]
use crossbeam_queue::SegQueue;
#[cfg(loom)]
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
#[cfg(loom)]
use loom_queue::SegQueue;
#[cfg(not(loom))]
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::platform::Unparker;

/// The per-scheduler queue of cross-thread wake-ups.
pub(crate) struct Remote {
    queue: SegQueue<(usize, u64)>,
    unparker: Unparker,
}

impl Remote {
    pub(crate) fn new(unparker: Unparker) -> Remote {
        Remote {
            queue: SegQueue::new(),
            unparker,
        }
    }

    pub(crate) fn has_pending(&self) -> bool {
        !self.queue.is_empty()
    }

    pub(crate) fn drain(&self, mut unpark: impl FnMut(usize, u64)) {
        while let Some((slot, id)) = self.queue.pop() {
            unpark(slot, id);
        }
    }
}

/// The shared state behind a `block_on` goroutine's wakers.
pub(crate) struct FutureWake {
    remote: Arc<Remote>,
    slot: usize,
    id: u64,
    queued: AtomicBool,
    /// Live wakers handed to the future ([`FutureWaker`]s).
    wakers: AtomicUsize,
}

impl FutureWake {
    pub(crate) fn new(remote: Arc<Remote>, slot: usize, id: u64) -> FutureWake {
        FutureWake {
            remote,
            slot,
            id,
            queued: AtomicBool::new(false),
            wakers: AtomicUsize::new(0),
        }
    }

    /// A fresh waker for one poll. `block_on` drops its own copy right after
    /// the poll, so that only the future's clones keep it alive.
    pub(crate) fn waker(self: &Arc<Self>) -> Waker {
        self.wakers.fetch_add(1, Ordering::AcqRel);
        Waker::from(Arc::new(FutureWaker(self.clone())))
    }

    /// Clears the queued flag before a poll; returns whether it was set.
    pub(crate) fn take_woken(&self) -> bool {
        self.queued.swap(false, Ordering::AcqRel)
    }

    /// Whether the parked goroutine can still be woken: a wake is queued, or
    /// the future still holds a waker. Used by the deadlock check.
    pub(crate) fn may_be_woken(&self) -> bool {
        // `wakers` first: a waker's last drop comes after its wake set
        // `queued`, so reading 0 guarantees the `queued` load below sees that
        // wake. In the other order both loads can miss it (loom found this).
        self.wakers.load(Ordering::Acquire) > 0 || self.queued.load(Ordering::Acquire)
    }

    fn wake(&self) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.remote.queue.push((self.slot, self.id));
            self.remote.unparker.unpark();
        }
    }
}

/// The waker a future gets. When the last clone is dropped without waking,
/// the scheduler is unparked so that its idle loop re-checks for a deadlock
/// (it may be blocked waiting for exactly this waker).
struct FutureWaker(Arc<FutureWake>);

impl Wake for FutureWaker {
    fn wake(self: Arc<Self>) {
        self.0.wake();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.wake();
    }
}

impl Drop for FutureWaker {
    fn drop(&mut self) {
        if self.0.wakers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.remote.unparker.unpark();
        }
    }
}

// Wakers cross threads; the queue they feed is the only shared state.
static_assertions::assert_impl_all!(FutureWake: Send, Sync);
static_assertions::assert_impl_all!(Waker: Send, Sync);

/// A loom stand-in for `SegQueue` (whose lock-free internals loom cannot
/// see): the same three operations on a loom `Mutex<VecDeque>`.
#[cfg(loom)]
mod loom_queue {
    use loom::sync::Mutex;
    use std::collections::VecDeque;

    pub(crate) struct SegQueue<T>(Mutex<VecDeque<T>>);

    impl<T> SegQueue<T> {
        pub(crate) fn new() -> Self {
            SegQueue(Mutex::new(VecDeque::new()))
        }
        pub(crate) fn push(&self, value: T) {
            self.0.lock().unwrap().push_back(value);
        }
        pub(crate) fn pop(&self) -> Option<T> {
            self.0.lock().unwrap().pop_front()
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.0.lock().unwrap().is_empty()
        }
    }
}

/// Model checks of the cross-thread wake path, the only code that crosses
/// threads: `RUSTFLAGS="--cfg loom" cargo test --release --lib loom_`.
///
/// Each model runs `block_on`'s loop and, where it parks, the scheduler's
/// poll step (drain the queue) and idle step (deadlock check, then park the
/// thread: a wait that keeps a token, as `NativePlatform::before_idle`'s
/// eventfd does) on loom's main thread,
/// against wakers used on other loom threads. Loom fails a model in which a
/// wake-up is lost (the scheduler thread parks for good) or an assertion fails
/// in any interleaving. The wakers' threads are not joined: loom runs every
/// thread to its end anyway, and its `join` asserts when the joiner got a
/// stray `unpark` (loom issue #249), which ours do.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::platform::Unparker;
    use loom::thread;

    #[derive(Debug, PartialEq)]
    enum Outcome {
        Ready,
        /// The idle step found nothing that could wake the goroutine.
        Deadlock,
    }

    /// `block_on` of a future that `poll` stands for (true: ready), for the
    /// goroutine in slot 0 with id 1 of a scheduler on this loom thread.
    fn block_on(mut poll: impl FnMut(&Waker) -> bool) -> Outcome {
        let me = thread::current();
        let remote = Arc::new(Remote::new(Unparker::new(move || me.unpark())));
        let wake = Arc::new(FutureWake::new(remote.clone(), 0, 1));
        loop {
            wake.take_woken();
            let waker = wake.waker();
            let ready = poll(&waker);
            drop(waker);
            if ready {
                return Outcome::Ready;
            }
            if wake.take_woken() {
                continue;
            }
            let mut unparked = false;
            while !unparked {
                remote.drain(|slot, id| unparked |= (slot, id) == (wake.slot, wake.id));
                if !unparked {
                    if !remote.has_pending() && !wake.may_be_woken() {
                        return Outcome::Deadlock;
                    }
                    thread::park();
                }
            }
        }
    }

    /// A future that, at its first poll, hands a clone of its waker to each
    /// of `threads` loom threads, which run `event` then wake it; it is ready
    /// once `ready` holds.
    fn wake_from_threads(
        threads: usize,
        event: impl Fn() + Send + Sync + 'static,
        ready: impl Fn() -> bool,
    ) -> Outcome {
        let event = Arc::new(event);
        let mut started = false;
        block_on(|waker| {
            if !started {
                started = true;
                for _ in 0..threads {
                    let (waker, event) = (waker.clone(), event.clone());
                    thread::spawn(move || {
                        event();
                        waker.wake();
                    });
                }
            }
            ready()
        })
    }

    #[test]
    fn loom_wake_from_another_thread_is_never_lost() {
        loom::model(|| {
            let done = Arc::new(AtomicBool::new(false));
            let d = done.clone();
            let outcome = wake_from_threads(
                1,
                move || d.store(true, Ordering::Release),
                || done.load(Ordering::Acquire),
            );
            assert_eq!(outcome, Outcome::Ready);
        });
    }

    #[test]
    fn loom_concurrent_wakers_of_one_future_are_both_seen() {
        loom::model(|| {
            let events = Arc::new(AtomicUsize::new(0));
            let e = events.clone();
            let outcome = wake_from_threads(
                2,
                move || {
                    e.fetch_add(1, Ordering::Release);
                },
                || events.load(Ordering::Acquire) == 2,
            );
            assert_eq!(outcome, Outcome::Ready);
        });
    }

    #[test]
    fn loom_a_wake_during_or_after_a_poll_queues_a_new_wake_up() {
        loom::model(|| {
            let stage = Arc::new(AtomicUsize::new(0));
            let s = stage.clone();
            let mut started = false;
            let outcome = block_on(|waker| {
                if !started {
                    started = true;
                    let (waker, s) = (waker.clone(), s.clone());
                    thread::spawn(move || {
                        for next in 1..=2 {
                            s.store(next, Ordering::Release);
                            waker.wake_by_ref();
                        }
                    });
                }
                stage.load(Ordering::Acquire) == 2
            });
            assert_eq!(outcome, Outcome::Ready);
        });
    }

    #[test]
    fn loom_a_dropped_waker_ends_in_a_deadlock_report_not_a_hang() {
        loom::model(|| {
            let mut started = false;
            let outcome = block_on(|waker| {
                if !started {
                    started = true;
                    let waker = waker.clone();
                    thread::spawn(move || drop(waker));
                }
                false
            });
            assert_eq!(outcome, Outcome::Deadlock);
        });
    }
}
