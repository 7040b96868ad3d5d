//! The timer heap: sleeps, timeouts and timer callbacks, earliest first.
//!
//! Cancelling is lazy: a goroutine that wakes before its timeout bumps its
//! park sequence number, which makes the timer entry stale. A stale entry
//! stays in the heap until it reaches the top: it is skipped when it comes
//! due, or dropped when the scheduler asks for the next deadline.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Duration;

use super::goroutine::GRef;

/// What a timer does when it comes due.
pub(crate) enum TimerAction {
    /// Wake `g` if it is still in the park numbered `park_seq`.
    Wake { g: GRef, park_seq: u64 },
    /// Run a callback on the scheduler's stack; it must not block.
    Call(Box<dyn FnOnce()>),
}

impl TimerAction {
    fn is_stale(&self) -> bool {
        match self {
            TimerAction::Wake { g, park_seq } => !g.is_in_park(*park_seq),
            TimerAction::Call(_) => false,
        }
    }
}

struct Entry {
    when: Duration,
    seq: u64,
    action: TimerAction,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.when, self.seq) == (other.when, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // Reversed: BinaryHeap is a max-heap and we want the earliest (then the
    // first added) on top.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.when, other.seq).cmp(&(self.when, self.seq))
    }
}

#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

impl Timers {
    pub(crate) fn push(&mut self, when: Duration, action: TimerAction) {
        self.seq += 1;
        self.heap.push(Entry {
            when,
            seq: self.seq,
            action,
        });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Removes and returns the earliest live action due at `now`.
    pub(crate) fn pop_due(&mut self, now: Duration) -> Option<TimerAction> {
        while self.heap.peek().is_some_and(|e| e.when <= now) {
            let entry = self.heap.pop().expect("peeked");
            if !entry.action.is_stale() {
                return Some(entry.action);
            }
        }
        None
    }

    /// Drops the stale entries on top and returns the earliest live deadline.
    pub(crate) fn purge_and_next_deadline(&mut self) -> Option<Duration> {
        while self.heap.peek().is_some_and(|e| e.action.is_stale()) {
            self.heap.pop();
        }
        self.heap.peek().map(|e| e.when)
    }

    pub(crate) fn clear(&mut self) {
        self.heap.clear();
    }
}
