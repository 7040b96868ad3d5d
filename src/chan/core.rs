//! The channel proper: a buffer and two FIFO queues of parked goroutines,
//! after Go's `runtime/chan.go`.
//!
//! Invariants:
//! - receivers wait only while the buffer is empty and senders only while it
//!   is full (always, for capacity 0): a live waiter in `recvq` means an empty
//!   buffer, a live waiter in `sendq` a full one;
//! - a waiter is taken out of its queue before it is fired, and fired at most
//!   once; a waiter of a select is live only until one of its select's waiters
//!   fires (the others stay queued, stale, until their select withdraws them or
//!   a channel operation pops them);
//! - no `RefCell` borrow is held across a park, an unpark, or the drop of a
//!   value or waiter (user `Drop` code may use the channel again);
//! - an *observer* (a waiter of [`Select::ready`](crate::Select::ready)) only
//!   wants to know when the operation may have become possible. It is never
//!   live (takes no part in a hand-off, does not count for `send_ready` or
//!   `recv_ready`) but *watching*; it is fired (and so removed) by whatever
//!   may make its side ready: the opposite side popping its queue (an
//!   arriving partner, a buffered value, freed space), a select queuing a
//!   partner, or `close`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::mem;
use std::rc::Rc;
use std::time::Duration;

use super::drop_all::drop_all;
use super::error::{TryRecvError, TrySendError};
use super::timer::ChanTimer;
use crate::runtime::{scheduler, try_scheduler, GRef, Scheduler, WaitReason};

/// `SelectCtx` value while no waiter of the select has fired.
pub(crate) const NOT_FIRED: usize = usize::MAX;

/// Shared by the waiters of one blocked select: the case that fired first.
pub(crate) type SelectCtx = Rc<Cell<usize>>;

/// The platform-clock deadline `timeout` from now; `None` (wait forever) if
/// that is past the clock's range.
pub(crate) fn deadline_after(s: &Scheduler, timeout: Duration) -> Option<Duration> {
    s.now().checked_add(timeout)
}

/// Which side of the channel an operation is on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Dir {
    Send,
    Recv,
}

impl Dir {
    fn other(self) -> Dir {
        match self {
            Dir::Send => Dir::Recv,
            Dir::Recv => Dir::Send,
        }
    }

    fn reason(self) -> WaitReason {
        match self {
            Dir::Send => WaitReason::ChanSend,
            Dir::Recv => WaitReason::ChanReceive,
        }
    }
}

/// How a waiter's wait ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Outcome {
    Waiting,
    /// The value was handed over (into the slot for a receiver, out of it for
    /// a sender).
    Done,
    /// The channel closed; a sender's value is still in the slot.
    Closed,
}

/// A parked goroutine's entry in a channel queue (Go's `sudog`).
pub(crate) struct Waiter<T> {
    g: Option<GRef>,
    /// The select this waiter belongs to, if any.
    select: Option<SelectCase>,
    /// The value in transit: a sender's value, or what a receiver was handed.
    slot: Cell<Option<T>>,
    outcome: Cell<Outcome>,
}

/// A waiter's place in a select: the select's "fired" cell and the case
/// number, whose top bit marks an observer. Packed so that a waiter stays
/// 64 bytes with its `Rc` header (one cache line for a `u64` channel; a
/// separate flag made B7, a ring of 1000 goroutines, 19% slower), and so
/// that plain sends and receives (no select) never look at the flag.
struct SelectCase {
    ctx: SelectCtx,
    case_and_role: usize,
}

impl SelectCase {
    const OBSERVER: usize = 1 << (usize::BITS - 1);

    fn new(ctx: SelectCtx, case: usize, observer: bool) -> SelectCase {
        debug_assert!(case & Self::OBSERVER == 0, "a select has fewer cases");
        let role = if observer { Self::OBSERVER } else { 0 };
        SelectCase {
            ctx,
            case_and_role: case | role,
        }
    }

    /// Only watching for readiness (see the module header).
    fn observer(&self) -> bool {
        self.case_and_role & Self::OBSERVER != 0
    }

    fn case(&self) -> usize {
        self.case_and_role & !Self::OBSERVER
    }
}

impl<T> Waiter<T> {
    /// Whether this waiter can take part in a hand-off now. An observer
    /// never can (see [`is_watching`](Self::is_watching)).
    #[inline(always)]
    fn is_live(&self) -> bool {
        self.outcome.get() == Outcome::Waiting
            && self
                .select
                .as_ref()
                .is_none_or(|sel| !sel.observer() && sel.ctx.get() == NOT_FIRED)
            && self.has_goroutine()
    }

    /// Whether this is an observer whose readiness wait still waits: it is
    /// to be fired, not discarded, when taken out of its queue.
    fn is_watching(&self) -> bool {
        self.outcome.get() == Outcome::Waiting
            && self
                .select
                .as_ref()
                .is_some_and(|sel| sel.observer() && sel.ctx.get() == NOT_FIRED)
            && self.has_goroutine()
    }

    /// A goroutine unwound (or, on wasm, abandoned) at shutdown leaves its
    /// waiter queued; a channel that outlives its runtime must not hand a
    /// value to it, nor take one from it.
    #[inline(always)]
    fn has_goroutine(&self) -> bool {
        self.g.as_ref().is_none_or(|g| !g.is_dead())
    }

    /// Records the outcome and wakes the goroutine at the back of the run
    /// queue (close, observers). The caller has taken the waiter out of its
    /// queue.
    #[inline(always)]
    fn fire(&self, outcome: Outcome) {
        debug_assert!(self.is_live() || self.is_watching());
        self.outcome.set(outcome);
        if let Some(sel) = &self.select {
            sel.ctx.set(sel.case());
        }
        // Without a scheduler the goroutine was unwound with its `run`.
        if let (Some(s), Some(g)) = (try_scheduler(), &self.g) {
            s.unpark(g);
        }
    }

    /// Fires a live waiter whose value was just handed over. A plain send or
    /// receive runs next (the scheduler's `runnext`); a select goes to the
    /// back of the queue, so that its partners, queued meanwhile, are
    /// ready when it looks again (B4: one park per value otherwise).
    #[inline(always)]
    fn hand_off(&self) {
        debug_assert!(self.is_live());
        self.outcome.set(Outcome::Done);
        let run_next = match &self.select {
            Some(sel) => {
                sel.ctx.set(sel.case());
                false
            }
            None => true,
        };
        if let (Some(s), Some(g)) = (try_scheduler(), &self.g) {
            if run_next {
                s.unpark_next(g);
            } else {
                s.unpark(g);
            }
        }
    }

    pub(crate) fn outcome(&self) -> Outcome {
        self.outcome.get()
    }

    pub(crate) fn take(&self) -> Option<T> {
        self.slot.take()
    }
}

type Queue<T> = RefCell<VecDeque<Rc<Waiter<T>>>>;

/// How a blocking wait ended, with the value it concerns (a receiver's value,
/// or a sender's value that was not delivered).
pub(crate) enum Woken<T> {
    Done(Option<T>),
    Closed(Option<T>),
    TimedOut(Option<T>),
}

/// One channel, shared by its senders and receivers.
pub(crate) struct Chan<T> {
    cap: usize,
    buf: RefCell<VecDeque<T>>,
    closed: Cell<bool>,
    recvq: Queue<T>,
    sendq: Queue<T>,
    /// A finished waiter kept for the next wait, so that blocking allocates
    /// nothing in the steady state (one waiter at a time re-blocking).
    spare: Cell<Option<Rc<Waiter<T>>>>,
    senders: Cell<usize>,
    receivers: Cell<usize>,
    /// The timer that feeds a timer channel (`after`, `tick`, `Timer`,
    /// `Ticker`): a receive that finds the channel empty runs it if it is due.
    timer: Option<ChanTimer>,
    /// Whether an observer may be queued: set when one is, cleared when
    /// `fire_observers` finds none. Spares selects the look at the queues.
    observed: Cell<bool>,
}

impl<T> Chan<T> {
    /// A channel with `senders` and `receivers` handles counted; a count that
    /// no handle owns never drops to zero (after/never channels).
    pub(crate) fn new(cap: usize, senders: usize, receivers: usize) -> Chan<T> {
        Chan {
            cap,
            // Grown on demand past this, so a huge capacity costs nothing upfront.
            buf: RefCell::new(VecDeque::with_capacity(cap.min(1024))),
            closed: Cell::new(false),
            recvq: RefCell::new(VecDeque::new()),
            sendq: RefCell::new(VecDeque::new()),
            spare: Cell::new(None),
            senders: Cell::new(senders),
            receivers: Cell::new(receivers),
            timer: None,
            observed: Cell::new(false),
        }
    }

    /// This channel, fed by `timer`.
    pub(crate) fn with_timer(self, timer: ChanTimer) -> Chan<T> {
        Chan {
            timer: Some(timer),
            ..self
        }
    }

    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// The buffered values; an expired timer counts, as in `try_recv`.
    pub(crate) fn len(&self) -> usize {
        if self.timer.is_some() {
            self.fire_timer_if_due();
        }
        self.buf.borrow().len()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.get()
    }

    fn queue(&self, dir: Dir) -> &Queue<T> {
        match dir {
            Dir::Send => &self.sendq,
            Dir::Recv => &self.recvq,
        }
    }

    /// Pops the first live waiter of `q`, discarding stale ones and firing
    /// the observers met on the way (the caller is about to change what they
    /// watch).
    #[inline(always)]
    fn pop_live(q: &Queue<T>) -> Option<Rc<Waiter<T>>> {
        loop {
            // The borrow ends before a stale waiter is dropped.
            let w = q.borrow_mut().pop_front()?;
            if w.is_live() {
                return Some(w);
            }
            Self::discard(w);
        }
    }

    /// Drops a waiter that cannot take part in a hand-off, firing it first
    /// if it is a watching observer. Out of line: `pop_live`, inlined into
    /// every send and receive, stays as small as it was without observers.
    #[cold]
    #[inline(never)]
    fn discard(w: Rc<Waiter<T>>) {
        if w.is_watching() {
            w.fire(Outcome::Done);
        }
    }

    /// Whether `q` has a live waiter (observers are not), discarding stale
    /// ones at its front. Every select asks this of every arm's channel: the
    /// common answers (empty, live front) come first, the rest out of line.
    #[inline(always)]
    fn has_live(q: &Queue<T>) -> bool {
        let front_is_live = match q.borrow().front() {
            None => return false,
            Some(w) => w.is_live(),
        };
        // The borrow has ended: the slow path may pop stale waiters.
        front_is_live || Self::has_live_past_front(q)
    }

    #[cold]
    #[inline(never)]
    fn has_live_past_front(q: &Queue<T>) -> bool {
        loop {
            match q.borrow().front() {
                None => return false,
                Some(w) if w.is_live() => return true,
                // Observers stay queued; a live waiter may follow them.
                Some(w) if w.is_watching() => return q.borrow().iter().any(|w| w.is_live()),
                Some(_) => {}
            }
            // The borrow ends before the stale waiter is dropped.
            let stale = q.borrow_mut().pop_front();
            drop(stale);
        }
    }

    #[inline(always)]
    pub(crate) fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        if self.closed.get() {
            return Err(TrySendError::Closed(value));
        }
        if let Some(w) = Self::pop_live(&self.recvq) {
            // A receiver waits, so the buffer is empty: hand over directly.
            w.slot.set(Some(value));
            w.hand_off();
            return Ok(());
        }
        let mut buf = self.buf.borrow_mut();
        if buf.len() < self.cap {
            buf.push_back(value);
            Ok(())
        } else {
            Err(TrySendError::Full(value))
        }
    }

    #[inline(always)]
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let head = if self.cap > 0 {
            self.buf.borrow_mut().pop_front()
        } else {
            None
        };
        if let Some(value) = head {
            // The buffer was full if a sender waits: its value takes the
            // freed place, keeping FIFO order.
            if let Some(w) = Self::pop_live(&self.sendq) {
                let v = w.slot.take().expect("a waiting sender holds its value");
                self.buf.borrow_mut().push_back(v);
                w.hand_off();
            }
            return Ok(value);
        }
        if let Some(w) = Self::pop_live(&self.sendq) {
            let v = w.slot.take().expect("a waiting sender holds its value");
            w.hand_off();
            return Ok(v);
        }
        if self.closed.get() {
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// `try_recv`, and on an empty timer channel its timer's value if it is
    /// due, even if the scheduler has not fired it yet (`Receiver::try_recv`;
    /// `wait` does the same before it parks). Kept out of `try_recv`, which
    /// is inlined into every receive loop: a branch there costs ordinary
    /// channels 3 instructions per value (B3).
    pub(crate) fn try_recv_or_expire(&self) -> Result<T, TryRecvError> {
        match self.try_recv() {
            Err(TryRecvError::Empty) if self.timer.is_some() => self.try_recv_expired(),
            other => other,
        }
    }

    /// An empty timer channel: its timer's value if it is due. Out of line:
    /// only timer channels pay.
    #[cold]
    #[inline(never)]
    fn try_recv_expired(&self) -> Result<T, TryRecvError> {
        // Firing may hand the value to a receiver that was waiting already.
        if self.fire_timer_if_due() {
            if let Some(value) = self.buf.borrow_mut().pop_front() {
                return Ok(value);
            }
        }
        Err(TryRecvError::Empty)
    }

    /// An empty timer channel: whether its timer is due and, fired now, left
    /// its value here (it may go to a receiver that was waiting already).
    #[cold]
    #[inline(never)]
    fn timer_value_ready(&self) -> bool {
        self.fire_timer_if_due() && !self.buf.borrow().is_empty()
    }

    fn fire_timer_if_due(&self) -> bool {
        self.timer.as_ref().is_some_and(ChanTimer::fire_if_due)
    }

    /// Whether `try_send` would not fail with `Full`.
    pub(crate) fn send_ready(&self) -> bool {
        self.closed.get()
            || (self.cap > 0 && self.buf.borrow().len() < self.cap)
            || Self::has_live(&self.recvq)
    }

    /// Whether `try_recv` would not fail with `Empty`.
    pub(crate) fn recv_ready(&self) -> bool {
        (self.cap > 0 && !self.buf.borrow().is_empty())
            || Self::has_live(&self.sendq)
            || self.closed.get()
            || (self.timer.is_some() && self.timer_value_ready())
    }

    /// Queues a waiter for `g` (a sender's with its value).
    #[inline(always)]
    pub(crate) fn enqueue(
        &self,
        dir: Dir,
        g: GRef,
        select: Option<(SelectCtx, usize)>,
        value: Option<T>,
    ) -> Rc<Waiter<T>> {
        let select = select.map(|(ctx, case)| SelectCase::new(ctx, case, false));
        self.push_waiter(dir, g, select, value)
    }

    /// Queues a waiter of select `ctx`'s case `case`, and fires the observers
    /// of the other side: this waiter is the partner they wait for.
    pub(crate) fn enqueue_select(
        &self,
        dir: Dir,
        g: GRef,
        select: (SelectCtx, usize),
        value: Option<T>,
    ) -> Rc<Waiter<T>> {
        let node = self.enqueue(dir, g, Some(select), value);
        if self.observed.get() {
            self.fire_observers(dir.other());
        }
        node
    }

    /// Queues an observer of `dir`'s readiness for case `case` of the
    /// readiness wait `select`.
    pub(crate) fn observe(&self, dir: Dir, g: GRef, select: (SelectCtx, usize)) -> Rc<Waiter<T>> {
        let (ctx, case) = select;
        let select = SelectCase::new(ctx, case, true);
        self.observed.set(true);
        self.push_waiter(dir, g, Some(select), None)
    }

    #[inline(always)]
    fn push_waiter(
        &self,
        dir: Dir,
        g: GRef,
        select: Option<SelectCase>,
        value: Option<T>,
    ) -> Rc<Waiter<T>> {
        let node = match self.spare.take() {
            Some(mut node) => {
                let w = Rc::get_mut(&mut node).expect("a spare waiter is unshared");
                w.g = Some(g);
                w.select = select;
                *w.slot.get_mut() = value;
                *w.outcome.get_mut() = Outcome::Waiting;
                node
            }
            None => Rc::new(Waiter {
                g: Some(g),
                select,
                slot: Cell::new(value),
                outcome: Cell::new(Outcome::Waiting),
            }),
        };
        self.queue(dir).borrow_mut().push_back(node.clone());
        node
    }

    /// Takes the watching observers out of the `dir` queue and fires them.
    #[cold]
    fn fire_observers(&self, dir: Dir) {
        let q = self.queue(dir);
        let fired: Vec<Rc<Waiter<T>>> = {
            let mut q = q.borrow_mut();
            let mut fired = Vec::new();
            let mut i = 0;
            while i < q.len() {
                if q[i].is_watching() {
                    fired.extend(q.remove(i));
                } else {
                    i += 1;
                }
            }
            fired
        };
        let watching = |q: &Queue<T>| q.borrow().iter().any(|w| w.is_watching());
        self.observed
            .set(watching(&self.sendq) || watching(&self.recvq));
        for w in fired {
            // An observer fired earlier in this loop may have been of the
            // same wait, which makes this one stale.
            if w.is_watching() {
                w.fire(Outcome::Done);
            }
        }
    }

    /// Takes a waiter whose wait ended without it firing out of its queue
    /// (a stale waiter may have been discarded already).
    pub(crate) fn withdraw(&self, dir: Dir, node: &Rc<Waiter<T>>) {
        let removed = {
            let mut q = self.queue(dir).borrow_mut();
            // Searching from the back: a select's waiters are usually recent.
            let at = q.iter().rposition(|w| Rc::ptr_eq(w, node));
            at.and_then(|at| q.remove(at))
        };
        drop(removed);
    }

    /// Withdraws an observer queued by [`observe`](Self::observe) (if it did
    /// not fire) and keeps it for reuse.
    pub(crate) fn unobserve(&self, dir: Dir, node: Option<Rc<Waiter<T>>>) {
        if let Some(node) = node {
            self.withdraw(dir, &node);
            self.recycle(node);
        }
    }

    /// Keeps a finished waiter (no longer queued, slot emptied) for reuse.
    #[inline(always)]
    pub(crate) fn recycle(&self, mut node: Rc<Waiter<T>>) {
        if let Some(w) = Rc::get_mut(&mut node) {
            // The goroutine record holds its closure and result: let it go.
            w.g = None;
            w.select = None;
            // Replaces (frees) an older spare: an empty node, no user code.
            self.spare.set(Some(node));
        }
    }

    /// Parks the running goroutine on the `dir` queue until its operation
    /// completes, the channel closes, or `deadline` passes.
    #[inline(always)]
    pub(crate) fn wait(&self, dir: Dir, value: Option<T>, deadline: Option<Duration>) -> Woken<T> {
        let s = scheduler(match dir {
            Dir::Send => "Sender::send",
            Dir::Recv => "Receiver::recv",
        });
        if dir == Dir::Recv && self.timer.is_some() {
            if let Ok(v) = self.try_recv_expired() {
                return Woken::Done(Some(v));
            }
        }
        let node = self.enqueue(dir, s.current(), None, value);
        let woken = loop {
            let timed_out = s.park(dir.reason(), deadline);
            match node.outcome.get() {
                Outcome::Done => break Woken::Done(node.take()),
                Outcome::Closed => break Woken::Closed(node.take()),
                Outcome::Waiting if timed_out => {
                    self.withdraw(dir, &node);
                    break Woken::TimedOut(node.take());
                }
                // Woken by someone else: not our business, wait on.
                Outcome::Waiting => {}
            }
        };
        self.recycle(node);
        woken
    }

    /// Closes the channel and wakes every waiter; false if it was closed.
    pub(crate) fn close(&self) -> bool {
        if self.closed.replace(true) {
            return false;
        }
        // Receivers first, then senders, each in FIFO order. The queues are
        // taken out whole: firing never re-enters them, nothing can enqueue
        // on a closed channel.
        for dir in [Dir::Recv, Dir::Send] {
            let waiters = mem::take(&mut *self.queue(dir).borrow_mut());
            for w in waiters {
                if w.is_live() || w.is_watching() {
                    w.fire(Outcome::Closed);
                }
            }
        }
        true
    }

    pub(crate) fn add_sender(&self) {
        self.senders.set(self.senders.get() + 1);
    }

    pub(crate) fn add_receiver(&self) {
        self.receivers.set(self.receivers.get() + 1);
    }

    /// Receivers (if any) still drain what was buffered.
    pub(crate) fn drop_sender(&self) {
        let n = self.senders.get() - 1;
        self.senders.set(n);
        if n == 0 {
            self.close();
        }
    }

    /// With no receiver left nothing can be received: close, and drop what
    /// was buffered now rather than when the last sender goes.
    pub(crate) fn drop_receiver(&self) {
        let n = self.receivers.get() - 1;
        self.receivers.set(n);
        if n == 0 {
            self.close();
            let buffered = mem::take(&mut *self.buf.borrow_mut());
            drop_all(buffered);
        }
    }
}
