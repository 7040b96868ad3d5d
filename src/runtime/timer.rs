//! The timer heap: sleeps, timeouts and Go's stoppable timers, earliest first.
//!
//! Two kinds of entries:
//!
//! - `Wake`: a park's timeout. Cancelling is lazy: a goroutine that wakes
//!   before its timeout bumps its park sequence number, which makes the
//!   entry stale. A stale entry stays in the heap until it reaches the top:
//!   it is skipped when it comes due, or dropped when the scheduler asks for
//!   the next deadline (or in a purge, step 5 below).
//! - `Timer`: a [`RuntimeTimer`] (behind `after`, `tick`, `Timer`, `Ticker`,
//!   `after_func`), which its owner stops and re-arms at will. As in Go's
//!   `runtime/time.go`, the heap holds at most one live entry per timer:
//!   1. arming a timer that has no entry pushes one at its deadline;
//!   2. arming it no earlier than its entry only moves its deadline: when the
//!      entry comes due it is pushed again at the new deadline;
//!   3. arming it earlier pushes a new entry; the old one is a zombie;
//!   4. stopping it clears its deadline: its entry is a zombie;
//!   5. zombies are dropped when they come due, and all at once as soon as
//!      they are more than a quarter of the heap, so stopped timers never
//!      cost more than a third of the live ones in memory and heap depth.

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::rc::Rc;
use std::time::Duration;

use super::goroutine::GRef;

/// A timer its owner can stop and re-arm; one-shot, or periodic (a ticker).
pub(crate) struct RuntimeTimer {
    /// When it fires next; `None` while stopped (or fired, if one-shot).
    when: Cell<Option<Duration>>,
    /// A ticker's period: after each firing it is re-armed on this grid.
    period: Cell<Option<Duration>>,
    /// The `(seq, deadline)` of its live entry in the heap, if it has one.
    entry: Cell<Option<(u64, Duration)>>,
    /// Called with the instant the timer was due; must not block.
    expire: Box<dyn Fn(Duration)>,
}

impl RuntimeTimer {
    /// A stopped timer that calls `expire` each time it fires.
    pub(crate) fn new(expire: impl Fn(Duration) + 'static) -> RuntimeTimer {
        RuntimeTimer {
            when: Cell::new(None),
            period: Cell::new(None),
            entry: Cell::new(None),
            expire: Box::new(expire),
        }
    }

    /// When it fires next, if it is armed.
    pub(crate) fn when(&self) -> Option<Duration> {
        self.when.get()
    }

    pub(crate) fn period(&self) -> Option<Duration> {
        self.period.get()
    }

    /// Runs its callback for a firing that was due at `due`.
    pub(crate) fn expire(&self, due: Duration) {
        (self.expire)(due);
    }

    /// Makes it periodic (`Some`) or one-shot (`None`) from its next firing.
    pub(crate) fn set_period(&self, period: Option<Duration>) {
        self.period.set(period);
    }

    /// Stops it where no scheduler runs (its heap is gone, or not entered:
    /// its entry becomes a zombie all the same); whether it was armed.
    pub(crate) fn disarm_unscheduled(&self) -> bool {
        self.when.take().is_some()
    }

    fn has_live_entry(&self, seq: u64) -> bool {
        self.when.get().is_some() && self.entry.get().is_some_and(|(s, _)| s == seq)
    }
}

/// What a timer entry does when it comes due.
pub(crate) enum TimerAction {
    /// Wake `g` if it is still in the park numbered `park_seq`.
    Wake { g: GRef, park_seq: u64 },
    /// Fire the timer (its deadline has been checked).
    Timer(Rc<RuntimeTimer>),
}

struct Entry {
    when: Duration,
    seq: u64,
    action: TimerAction,
}

impl Entry {
    fn is_stale(&self) -> bool {
        match &self.action {
            TimerAction::Wake { g, park_seq } => !g.is_in_park(*park_seq),
            TimerAction::Timer(t) => !t.has_live_entry(self.seq),
        }
    }
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
    /// Timer entries that will be dropped when they come due (steps 3, 4).
    zombies: usize,
}

impl Timers {
    #[inline]
    fn push(&mut self, when: Duration, action: TimerAction) -> u64 {
        self.seq += 1;
        self.heap.push(Entry {
            when,
            seq: self.seq,
            action,
        });
        self.seq
    }

    /// Wakes `g` at `when` unless its park numbered `park_seq` has ended.
    pub(crate) fn push_wake(&mut self, when: Duration, g: GRef, park_seq: u64) {
        self.push(when, TimerAction::Wake { g, park_seq });
    }

    fn push_timer(&mut self, t: &Rc<RuntimeTimer>, when: Duration) {
        let seq = self.push(when, TimerAction::Timer(t.clone()));
        t.entry.set(Some((seq, when)));
    }

    /// Arms `t` to fire at `when` (steps 1-3).
    pub(crate) fn arm(&mut self, t: &Rc<RuntimeTimer>, when: Duration) {
        let was_stopped = t.when.replace(Some(when)).is_none();
        match t.entry.get() {
            Some((_, at)) if at <= when => {
                if was_stopped {
                    self.zombies = self.zombies.saturating_sub(1);
                }
            }
            Some(_) => {
                if !was_stopped {
                    self.zombies += 1;
                }
                self.push_timer(t, when);
                self.purge_if_crowded();
            }
            None => self.push_timer(t, when),
        }
    }

    /// Stops `t` (step 4); whether it was armed.
    pub(crate) fn disarm(&mut self, t: &RuntimeTimer) -> bool {
        let was_armed = t.when.take().is_some();
        if was_armed && t.entry.get().is_some() {
            self.zombies += 1;
            self.purge_if_crowded();
        }
        was_armed
    }

    /// Step 5: drops every stale entry once zombies are a quarter of the heap.
    fn purge_if_crowded(&mut self) {
        if self.zombies * 4 > self.heap.len() {
            self.heap.retain(|e| {
                if !e.is_stale() {
                    return true;
                }
                if let TimerAction::Timer(t) = &e.action {
                    // A stopped timer's own entry: it has none now.
                    if t.entry.get().is_some_and(|(seq, _)| seq == e.seq) {
                        t.entry.set(None);
                    }
                }
                false
            });
            self.zombies = 0;
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Removes and returns the earliest live action due at `now`.
    pub(crate) fn pop_due(&mut self, now: Duration) -> Option<TimerAction> {
        while self.heap.peek().is_some_and(|e| e.when <= now) {
            if let Some(action) = self.pop_top(now) {
                return Some(action);
            }
        }
        None
    }

    /// Takes the top entry off: its action if it is live and due at `now`;
    /// a timer whose deadline moved later goes back in (step 2).
    #[inline]
    fn pop_top(&mut self, now: Duration) -> Option<TimerAction> {
        let entry = self.heap.pop()?;
        if let TimerAction::Timer(t) = &entry.action {
            if !t.has_live_entry(entry.seq) {
                self.zombies = self.zombies.saturating_sub(1);
                if t.entry.get().is_some_and(|(s, _)| s == entry.seq) {
                    t.entry.set(None);
                }
                return None;
            }
            t.entry.set(None);
            let when = t.when.get().expect("a live entry's timer is armed");
            if when > now {
                self.push_timer(t, when);
                return None;
            }
        } else if entry.is_stale() {
            return None;
        }
        Some(entry.action)
    }

    /// Settles the top of the heap (drops stale entries, moves timers whose
    /// deadline moved) and returns the earliest deadline.
    pub(crate) fn purge_and_next_deadline(&mut self) -> Option<Duration> {
        loop {
            let top = self.heap.peek()?;
            let moved = match &top.action {
                TimerAction::Timer(t) if t.has_live_entry(top.seq) => {
                    t.when.get().is_some_and(|when| when > top.when)
                }
                _ => false,
            };
            if !moved && !top.is_stale() {
                return Some(top.when);
            }
            // Popped as if due at its own deadline: a moved timer goes back
            // in at its new one, a stale entry is dropped.
            let when = top.when;
            let popped = self.pop_top(when);
            debug_assert!(
                popped.is_none(),
                "only moved or stale entries are popped here"
            );
        }
    }

    /// Empties the heap (the scheduler is going away): its timers count as
    /// stopped, so that a later scheduler on this thread may arm them again.
    pub(crate) fn clear(&mut self) {
        for entry in std::mem::take(&mut self.heap) {
            if let TimerAction::Timer(t) = entry.action {
                t.entry.set(None);
                t.when.set(None);
            }
        }
        self.zombies = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timer(fired: &Rc<Cell<u32>>) -> Rc<RuntimeTimer> {
        let fired = fired.clone();
        Rc::new(RuntimeTimer::new(move |_| fired.set(fired.get() + 1)))
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// Fires what is due at `now`, as the scheduler's poll step does.
    fn poll(timers: &mut Timers, now: Duration) {
        while let Some(action) = timers.pop_due(now) {
            let TimerAction::Timer(t) = action else {
                panic!("only timers here")
            };
            timers.disarm(&t);
            t.expire(now);
        }
    }

    #[test]
    fn stopped_timers_leave_the_heap() {
        let fired = Rc::new(Cell::new(0));
        let mut timers = Timers::default();
        let all: Vec<_> = (0..1000).map(|_| timer(&fired)).collect();
        for t in &all {
            timers.arm(t, secs(3600));
        }
        assert_eq!(timers.heap.len(), 1000);
        for t in &all {
            assert!(timers.disarm(t));
        }
        assert!(timers.heap.len() <= 4, "{} entries", timers.heap.len());
        assert_eq!(timers.purge_and_next_deadline(), None);
        assert!(timers.is_empty());
        poll(&mut timers, secs(7200));
        assert_eq!(fired.get(), 0);
    }

    #[test]
    fn resetting_a_timer_keeps_one_entry_or_a_few() {
        let fired = Rc::new(Cell::new(0));
        let mut timers = Timers::default();
        let t = timer(&fired);
        // Later and later (a select loop's idle timeout): the entry stays.
        for i in 0..100_000 {
            timers.disarm(&t);
            timers.arm(&t, secs(10) + Duration::from_micros(i));
        }
        assert_eq!(timers.heap.len(), 1);
        // Earlier and earlier: each push makes a zombie, purged in bulk.
        for i in 0..100_000 {
            timers.arm(&t, secs(100_000 - i));
        }
        assert!(timers.heap.len() <= 2, "{} entries", timers.heap.len());
        poll(&mut timers, Duration::ZERO);
        assert_eq!(fired.get(), 0);
        poll(&mut timers, secs(1));
        assert_eq!(fired.get(), 1, "fired once, at its last deadline");
        assert!(timers.is_empty());
    }

    #[test]
    fn a_moved_timer_fires_at_its_new_deadline_only() {
        let fired = Rc::new(Cell::new(0));
        let mut timers = Timers::default();
        let t = timer(&fired);
        timers.arm(&t, secs(1));
        timers.arm(&t, secs(5));
        assert_eq!(timers.purge_and_next_deadline(), Some(secs(5)));
        poll(&mut timers, secs(4));
        assert_eq!(fired.get(), 0);
        poll(&mut timers, secs(5));
        assert_eq!(fired.get(), 1);
        // Stopped then re-armed later: the zombie comes back to life.
        timers.arm(&t, secs(10));
        timers.disarm(&t);
        timers.arm(&t, secs(12));
        assert_eq!(timers.heap.len(), 1);
        poll(&mut timers, secs(11));
        assert_eq!(fired.get(), 1);
        poll(&mut timers, secs(12));
        assert_eq!(fired.get(), 2);
    }

    #[test]
    fn clear_leaves_timers_stopped_and_armable() {
        let fired = Rc::new(Cell::new(0));
        let mut timers = Timers::default();
        let t = timer(&fired);
        timers.arm(&t, secs(1));
        timers.clear();
        assert_eq!(t.when(), None);
        let mut next = Timers::default();
        next.arm(&t, secs(1));
        poll(&mut next, secs(1));
        assert_eq!(fired.get(), 1);
    }
}
