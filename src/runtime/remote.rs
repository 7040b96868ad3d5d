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

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};

use crossbeam_queue::SegQueue;

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
        self.queued.load(Ordering::Acquire) || self.wakers.load(Ordering::Acquire) > 0
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
