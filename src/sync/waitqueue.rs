//! The queue every primitive of this module parks its goroutines in.
//!
//! A primitive keeps its own state in `Cell`s and asks the queue only to park
//! and to wake. Waking is a hand-off: `wake_one`/`wake_all` remove the entry,
//! and a waiter knows it was picked because its entry is gone. The waker can
//! therefore transfer what the waiter waited for (a lock, a permit) before the
//! waiter runs, so no late-comer can barge in, and spurious returns from
//! `park` are harmless: the waiter looks for its entry and parks again.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::time::Duration;

use crate::runtime::{scheduler, try_scheduler, GRef, WaitReason};

struct Entry<K> {
    /// Strictly increasing in push order. Removals keep the order, so the
    /// queue stays sorted by ticket and a waiter finds its entry by binary
    /// search.
    ticket: u64,
    kind: K,
    g: GRef,
}

/// A FIFO of parked goroutines, each tagged with a `K` (what it waits for,
/// for primitives that have several kinds of waiters).
pub(super) struct WaitQueue<K = ()> {
    entries: RefCell<VecDeque<Entry<K>>>,
    next_ticket: Cell<u64>,
}

impl<K: Copy> WaitQueue<K> {
    pub(super) const fn new() -> Self {
        WaitQueue {
            entries: RefCell::new(VecDeque::new()),
            next_ticket: Cell::new(0),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.borrow().is_empty()
    }

    pub(super) fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    /// The kind of the longest-waiting goroutine.
    pub(super) fn front(&self) -> Option<K> {
        self.entries.borrow().front().map(|e| e.kind)
    }

    /// Hands off to the longest-waiting goroutine: removes it and makes it
    /// runnable; its `wait` returns `true`. `false` when nobody waits.
    #[inline]
    pub(super) fn wake_one(&self) -> bool {
        let first = self.entries.borrow_mut().pop_front();
        match first {
            Some(entry) => {
                unpark(&entry.g);
                true
            }
            None => false,
        }
    }

    /// `wake_one` for every waiter.
    pub(super) fn wake_all(&self) {
        // Cheap exit: `WaitGroup::add` calls this at every return to zero.
        if self.is_empty() {
            return;
        }
        // Holding the borrow is fine: unpark only queues, it never switches.
        for entry in self.entries.borrow_mut().drain(..) {
            unpark(&entry.g);
        }
    }

    /// Parks the running goroutine at the back of the queue until a `wake_*`
    /// picks it (`true`) or `timeout` passes (`false`; it has then left the
    /// queue). `what` names the operation in the panic outside a goroutine.
    ///
    /// If the runtime unwinds the goroutine here (at shutdown) after it was
    /// picked, `pass_on` runs so that what was handed to it is not lost (the
    /// lock is released, the permit returned...).
    #[track_caller]
    pub(super) fn wait(
        &self,
        kind: K,
        reason: WaitReason,
        timeout: Option<Duration>,
        what: &str,
        pass_on: impl FnOnce(),
    ) -> bool {
        let s = scheduler(what);
        let deadline = timeout.map(|t| s.now().saturating_add(t));
        let ticket = self.next_ticket.get();
        self.next_ticket.set(ticket + 1);
        let g = s.current();
        self.entries
            .borrow_mut()
            .push_back(Entry { ticket, kind, g });
        let mut leave = Leave {
            queue: self,
            ticket,
            pass_on: Some(pass_on),
        };
        let picked = loop {
            let timed_out = s.park(reason, deadline);
            if !self.contains(ticket) {
                break true;
            }
            if timed_out || deadline.is_some_and(|d| s.now() >= d) {
                break false;
            }
        };
        // Returning normally: the caller takes what it was handed.
        leave.pass_on = None;
        picked
    }

    fn contains(&self, ticket: u64) -> bool {
        self.position(ticket).is_some()
    }

    fn position(&self, ticket: u64) -> Option<usize> {
        self.entries
            .borrow()
            .binary_search_by_key(&ticket, |e| e.ticket)
            .ok()
    }

    /// Removes the entry with `ticket`; `false` if it was not there.
    fn remove(&self, ticket: u64) -> bool {
        match self.position(ticket) {
            Some(at) => {
                self.entries.borrow_mut().remove(at);
                true
            }
            None => false,
        }
    }
}

/// Takes a waiter out of the queue when `wait` ends by a timeout or an unwind,
/// and on an unwind after the hand-off runs `pass_on`.
struct Leave<'q, K: Copy, F: FnOnce()> {
    queue: &'q WaitQueue<K>,
    ticket: u64,
    pass_on: Option<F>,
}

impl<K: Copy, F: FnOnce()> Drop for Leave<'_, K, F> {
    fn drop(&mut self) {
        if !self.queue.remove(self.ticket) {
            if let Some(pass_on) = self.pass_on.take() {
                pass_on();
            }
        }
    }
}

impl<K: Copy> Default for WaitQueue<K> {
    fn default() -> Self {
        WaitQueue::new()
    }
}

fn unpark(g: &GRef) {
    // Entries exist only inside `run` (the runtime unwinds every waiter before
    // `run` returns, and `Leave` removes it), so the scheduler is there.
    if let Some(s) = try_scheduler() {
        s.unpark(g);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn wakes_in_fifo_order_and_reports_the_pick() {
        let order = crate::run(|| {
            let q = Rc::new(WaitQueue::<u32>::new());
            let log = Rc::new(RefCell::new(Vec::new()));
            let hs: Vec<_> = (0..4u32)
                .map(|i| {
                    let (q, log) = (q.clone(), log.clone());
                    crate::go(move || {
                        let picked = q.wait(i, WaitReason::Cond, None, "test", || ());
                        log.borrow_mut().push((i, picked));
                    })
                })
                .collect();
            crate::yield_now();
            assert_eq!(q.len(), 4);
            assert_eq!(q.front(), Some(0));
            while q.wake_one() {}
            hs.into_iter().for_each(|h| h.join().unwrap());
            let v = log.borrow().clone();
            v
        });
        assert_eq!(order, [(0, true), (1, true), (2, true), (3, true)]);
    }

    #[test]
    fn stray_unpark_does_not_end_the_wait() {
        crate::run(|| {
            let q = Rc::new(WaitQueue::<()>::new());
            let waiter = Rc::new(RefCell::new(None));
            let done = Rc::new(Cell::new(false));
            let (q2, w2, d2) = (q.clone(), waiter.clone(), done.clone());
            let h = crate::go(move || {
                *w2.borrow_mut() = Some(scheduler("test").current());
                q2.wait((), WaitReason::Cond, None, "test", || ());
                d2.set(true);
            });
            crate::yield_now();
            let g = waiter.borrow_mut().take().unwrap();
            scheduler("test").unpark(&g);
            crate::yield_now();
            assert!(!done.get(), "an unpark that is not a hand-off is ignored");
            assert!(q.wake_one());
            h.join().unwrap();
            assert!(done.get());
        });
    }

    #[test]
    fn timeout_leaves_the_queue() {
        crate::run(|| {
            let q = WaitQueue::<()>::new();
            let picked = q.wait(
                (),
                WaitReason::Cond,
                Some(Duration::from_millis(5)),
                "test",
                || (),
            );
            assert!(!picked);
            assert!(q.is_empty());
            assert!(!q.wake_one());
        });
    }

    #[test]
    #[cfg_attr(target_arch = "wasm32", ignore = "panics abort on wasm")]
    fn unwind_after_hand_off_passes_it_on() {
        let passed = Rc::new(Cell::new(0));
        let p = passed.clone();
        crate::run(move || {
            let q = Rc::new(WaitQueue::<()>::new());
            let q2 = q.clone();
            crate::go(move || {
                q2.wait((), WaitReason::Cond, None, "test", move || {
                    p.set(p.get() + 1)
                });
            });
            crate::yield_now();
            // Picked but never run: main returns, the runtime unwinds it.
            assert!(q.wake_one());
        });
        assert_eq!(passed.get(), 1);
    }
}
