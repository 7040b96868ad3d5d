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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Wake;

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

/// The shared state behind a `block_on` waker.
pub(crate) struct FutureWake {
    remote: Arc<Remote>,
    slot: usize,
    id: u64,
    queued: AtomicBool,
}

/// `Arc` references to a `FutureWake` that `block_on` itself holds while the
/// goroutine is parked: its handle, its waker and the scheduler's list entry.
const OWN_REFERENCES: usize = 3;

impl FutureWake {
    pub(crate) fn new(remote: Arc<Remote>, slot: usize, id: u64) -> FutureWake {
        FutureWake {
            remote,
            slot,
            id,
            queued: AtomicBool::new(false),
        }
    }

    /// Clears the queued flag before a poll; returns whether it was set.
    pub(crate) fn take_woken(&self) -> bool {
        self.queued.swap(false, Ordering::AcqRel)
    }

    /// Whether anything besides `block_on` holds a waker, i.e. whether the
    /// parked goroutine can still be woken. Used by the deadlock check.
    pub(crate) fn may_be_woken(self: &Arc<Self>) -> bool {
        Arc::strong_count(self) > OWN_REFERENCES || self.queued.load(Ordering::Acquire)
    }
}

// Wakers cross threads; the queue they feed is the only shared state.
static_assertions::assert_impl_all!(FutureWake: Send, Sync);
static_assertions::assert_impl_all!(std::task::Waker: Send, Sync);

impl Wake for FutureWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.remote.queue.push((self.slot, self.id));
            self.remote.unparker.unpark();
        }
    }
}
