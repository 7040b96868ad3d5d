//! The machinery behind [`select!`](crate::select!) and
//! [`Select`](crate::Select), after Go's `runtime/select.go`.
//!
//! Each operation of a select is an arm behind the [`Arm`] trait. [`run`]:
//!
//! 1. asks every arm whether it is ready; if some are, it completes one,
//!    chosen uniformly at random among them (biased: the first of them);
//! 2. otherwise it queues a waiter on every arm's channel, all sharing one
//!    "fired" cell, and parks;
//! 3. the first channel event fires one waiter, which makes the others stale;
//! 4. when the select goroutine runs again it collects the fired arm's
//!    outcome and withdraws the others' waiters.
//!
//! [`wait_ready`] (`Select::ready`) is the same without completing: in step 2
//! it queues *observers*, which an event only wakes (see `core`), and after
//! step 4 it starts again at step 1, so that it returns an arm that is ready
//! when it returns.
//!
//! As in Go, a send arm's value is evaluated when the select starts, whether
//! or not that arm is chosen (it must be there for a receiver to take while
//! the select is parked).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use super::core::{deadline_after, Chan, Dir, Outcome, SelectCtx, Waiter, NOT_FIRED};
use super::drop_all::run_all;
use super::{Receiver, RecvError, SendError, Sender};
use crate::runtime::{rng, scheduler, GRef, WaitReason};

/// The items the macro's expansion names; not a stable API.
pub mod private {
    pub use super::{drop_unsent, select, Arm, RecvArm, SendArm, Timeout, WaitCtx};
}

/// How long a select may block.
#[derive(Clone, Copy, Debug)]
pub enum Timeout {
    /// Until an arm is ready.
    Never,
    /// Not at all (`default`).
    Now,
    /// At most this long (`default(timeout)`).
    After(Duration),
}

/// The goroutine a blocked select parks and the cell its first event sets.
pub struct WaitCtx {
    g: GRef,
    fired: SelectCtx,
}

/// One operation of a select.
pub trait Arm {
    /// Whether the operation can complete without blocking. May discard
    /// stale waiters of other selects, so it is not free, but asking twice
    /// without anything happening in between gives the same answer.
    fn ready(&mut self) -> bool;
    /// Performs the operation, which `ready` just said can complete.
    fn complete(&mut self);
    /// Queues a waiter for case `case` of the parked select `ctx`.
    fn register(&mut self, ctx: &WaitCtx, case: usize);
    /// After the select wakes: takes the outcome if this arm's waiter fired,
    /// else withdraws the waiter (a send arm gets its value back).
    fn finish(&mut self, fired: bool);
    /// Queues an observer of this operation's readiness for case `case` of
    /// the parked readiness wait `ctx`.
    fn watch(&mut self, ctx: &WaitCtx, case: usize);
    /// After the readiness wait wakes: withdraws the observer (if it did not
    /// fire).
    fn unwatch(&mut self);
    /// Whether this is a send arm whose value was not sent.
    fn has_unsent(&self) -> bool;
    /// Drops a send arm's value that was not sent (no-op for a receive).
    fn drop_unsent(&mut self);
}

/// A list of arms, some possibly switched off (`None`).
pub(crate) trait Arms {
    fn count(&self) -> usize;
    fn arm(&mut self, i: usize) -> Option<&mut dyn Arm>;
}

impl<'r, 'x> Arms for [&'r mut (dyn Arm + 'x)] {
    fn count(&self) -> usize {
        self.len()
    }

    fn arm(&mut self, i: usize) -> Option<&mut dyn Arm> {
        Some(&mut *self[i])
    }
}

/// Runs a select over `arms` (the macros' entry point); returns the index of
/// the completed arm, or `None` if none was ready in time.
///
/// # Panics
///
/// When it has to block outside a goroutine.
pub fn select(arms: &mut [&mut dyn Arm], timeout: Timeout, biased: bool) -> Option<usize> {
    let order = if biased { Order::Biased } else { Order::Random };
    run(arms, timeout, order, "select!")
}

/// Drops the values that the send arms `sends` did not send (the macros call
/// it with their send arms after the select). One value is dropped plainly
/// (its panic is the only one); several go through `run_all`, so that one
/// panicking destructor does not leave the others to be dropped during its
/// unwinding, which would abort.
///
/// # Panics
///
/// With the first panic of the destructors, after dropping every value.
pub fn drop_unsent(sends: &mut [&mut dyn Arm]) {
    let mut holding = sends.iter_mut().filter(|arm| arm.has_unsent());
    let Some(first) = holding.next() else {
        return;
    };
    match holding.next() {
        None => first.drop_unsent(),
        Some(second) => run_all(
            [first, second]
                .into_iter()
                .chain(holding)
                .map(|arm| move || arm.drop_unsent()),
        ),
    }
}

/// Which of several ready arms a select takes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Order {
    /// One chosen uniformly at random (Go's select, `select!`).
    Random,
    /// The first (`select_biased!`).
    Biased,
}

/// Completes one of `arms`, waiting at most `timeout` for one to be ready;
/// returns its index. `what` names the caller in the outside-a-goroutine
/// panic.
pub(crate) fn run<A: Arms + ?Sized>(
    arms: &mut A,
    timeout: Timeout,
    order: Order,
    what: &str,
) -> Option<usize> {
    if let Some(chosen) = pick_ready(arms, order) {
        arms.arm(chosen).expect("a ready arm exists").complete();
        return Some(chosen);
    }
    let deadline = wait_deadline(timeout, what)?;
    let s = scheduler(what);
    let ctx = WaitCtx {
        g: s.current(),
        fired: fired_cell(),
    };
    let n = arms.count();
    for i in register_order(n, order) {
        if let Some(arm) = arms.arm(i) {
            arm.register(&ctx, i);
        }
    }
    loop {
        let timed_out = s.park(WaitReason::Select, deadline);
        let fired = ctx.fired.get();
        if fired != NOT_FIRED || timed_out {
            for i in 0..n {
                if let Some(arm) = arms.arm(i) {
                    arm.finish(i == fired);
                }
            }
            SPARE_FIRED.set(Some(ctx.fired));
            return (fired != NOT_FIRED).then_some(fired);
        }
    }
}

/// Waits at most `timeout` until one of `arms` is ready, without completing
/// it; returns its index. The arm is ready when this returns (the goroutine
/// has not yielded since it checked).
pub(crate) fn wait_ready<A: Arms + ?Sized>(
    arms: &mut A,
    timeout: Timeout,
    order: Order,
    what: &str,
) -> Option<usize> {
    if let Some(ready) = pick_ready(arms, order) {
        return Some(ready);
    }
    let deadline = wait_deadline(timeout, what)?;
    let s = scheduler(what);
    let n = arms.count();
    loop {
        let ctx = WaitCtx {
            g: s.current(),
            fired: fired_cell(),
        };
        for i in 0..n {
            if let Some(arm) = arms.arm(i) {
                arm.watch(&ctx, i);
            }
        }
        let timed_out = loop {
            let timed_out = s.park(WaitReason::Select, deadline);
            if ctx.fired.get() != NOT_FIRED || timed_out {
                break timed_out;
            }
        };
        for i in 0..n {
            if let Some(arm) = arms.arm(i) {
                arm.unwatch();
            }
        }
        SPARE_FIRED.set(Some(ctx.fired));
        // An observer fires when its operation *may* have become ready (a
        // partner that came was perhaps served by someone else): look again.
        let ready = pick_ready(arms, order);
        if ready.is_some() || timed_out {
            return ready;
        }
    }
}

/// The ready arm to take now, if any.
fn pick_ready<A: Arms + ?Sized>(arms: &mut A, order: Order) -> Option<usize> {
    let n = arms.count();
    let is_ready = |arms: &mut A, i| arms.arm(i).is_some_and(|a| a.ready());
    if order == Order::Biased {
        return (0..n).find(|&i| is_ready(arms, i));
    }
    // Ready arms among the first 64, as bits; later ones are asked again.
    let mut mask = 0u64;
    let mut ready = 0;
    for i in 0..n {
        if is_ready(arms, i) {
            ready += 1;
            if i < 64 {
                mask |= 1 << i;
            }
        }
    }
    if ready == 0 {
        return None;
    }
    let mut pick = rng::below(ready);
    let chosen = (0..n)
        .find(|&i| {
            let hit = if i < 64 {
                mask & 1 << i != 0
            } else {
                is_ready(arms, i)
            };
            if hit && pick == 0 {
                return true;
            }
            pick -= usize::from(hit);
            false
        })
        .expect("the ready arms were counted");
    Some(chosen)
}

/// The deadline of a wait with `timeout`: `None` if it must not wait at all,
/// `Some(None)` to wait forever.
fn wait_deadline(timeout: Timeout, what: &str) -> Option<Option<Duration>> {
    match timeout {
        Timeout::Now => None,
        Timeout::Never => Some(None),
        Timeout::After(d) => Some(deadline_after(scheduler(what), d)),
    }
}

/// The order in which a blocked select queues its waiters. Random: from a
/// random arm on, so that arms on one channel queue in random order and
/// which of them a partner meets first is random too (Go's lockorder has the
/// same effect). Biased: in order, so that the first arm a partner meets on
/// a channel is the first written.
fn register_order(n: usize, order: Order) -> impl Iterator<Item = usize> {
    let first = if n > 1 && order == Order::Random {
        rng::below(n)
    } else {
        0
    };
    (first..n).chain(0..first)
}

thread_local! {
    /// The "fired" cell of the last blocked select on this thread, for reuse.
    static SPARE_FIRED: Cell<Option<SelectCtx>> = const { Cell::new(None) };
}

/// A fresh "fired" cell: the spare one if no stale waiter still holds it.
fn fired_cell() -> SelectCtx {
    match SPARE_FIRED.take() {
        Some(cell) if Rc::strong_count(&cell) == 1 => {
            cell.set(NOT_FIRED);
            cell
        }
        _ => Rc::new(Cell::new(NOT_FIRED)),
    }
}

/// A receive operation of a select.
pub struct RecvArm<'a, T> {
    chan: &'a Chan<T>,
    node: Option<Rc<Waiter<T>>>,
    result: Option<Result<T, RecvError>>,
}

impl<'a, T> RecvArm<'a, T> {
    /// An arm receiving from `rx`.
    pub fn new(rx: &'a Receiver<T>) -> Self {
        RecvArm {
            chan: rx.chan(),
            node: None,
            result: None,
        }
    }

    /// Whether this arm completed and its result waits to be taken.
    pub fn is_fired(&self) -> bool {
        self.result.is_some()
    }

    /// The same operation, not started.
    pub(crate) fn fresh(&self) -> Self {
        RecvArm {
            chan: self.chan,
            node: None,
            result: None,
        }
    }

    /// The result of the completed operation.
    pub fn take(&mut self) -> Result<T, RecvError> {
        self.result.take().expect("select arm completed")
    }

    pub(crate) fn result_slot(&mut self) -> &mut Option<Result<T, RecvError>> {
        &mut self.result
    }

    pub(crate) fn chan_addr(&self) -> *const () {
        std::ptr::from_ref(self.chan).cast()
    }
}

impl<T> Arm for RecvArm<'_, T> {
    fn ready(&mut self) -> bool {
        self.chan.recv_ready()
    }

    fn complete(&mut self) {
        let r = self.chan.try_recv();
        debug_assert!(
            !matches!(r, Err(super::TryRecvError::Empty)),
            "completed an unready arm"
        );
        self.result = Some(r.map_err(|_| RecvError));
    }

    fn register(&mut self, ctx: &WaitCtx, case: usize) {
        let select = (ctx.fired.clone(), case);
        self.node = Some(
            self.chan
                .enqueue_select(Dir::Recv, ctx.g.clone(), select, None),
        );
    }

    fn finish(&mut self, fired: bool) {
        let Some(node) = self.node.take() else {
            return;
        };
        if fired {
            self.result = Some(match node.outcome() {
                Outcome::Done => Ok(node.take().expect("a fired receiver holds its value")),
                _ => Err(RecvError),
            });
        } else {
            self.chan.withdraw(Dir::Recv, &node);
        }
        self.chan.recycle(node);
    }

    fn watch(&mut self, ctx: &WaitCtx, case: usize) {
        let select = (ctx.fired.clone(), case);
        self.node = Some(self.chan.observe(Dir::Recv, ctx.g.clone(), select));
    }

    fn unwatch(&mut self) {
        self.chan.unobserve(Dir::Recv, self.node.take());
    }

    fn has_unsent(&self) -> bool {
        false
    }

    fn drop_unsent(&mut self) {}
}

/// A send operation of a select, holding its value until it is sent.
pub struct SendArm<'a, T> {
    chan: &'a Chan<T>,
    value: Option<T>,
    node: Option<Rc<Waiter<T>>>,
    result: Option<Result<(), SendError<T>>>,
}

impl<'a, T> SendArm<'a, T> {
    /// An arm sending `value` on `tx`.
    pub fn new(tx: &'a Sender<T>, value: T) -> Self {
        SendArm {
            chan: tx.chan(),
            value: Some(value),
            node: None,
            result: None,
        }
    }

    /// Whether this arm completed and its result waits to be taken.
    pub fn is_fired(&self) -> bool {
        self.result.is_some()
    }

    /// The same operation, not started, with a clone of the value (none if
    /// it was sent).
    pub(crate) fn fresh(&self) -> Self
    where
        T: Clone,
    {
        SendArm {
            chan: self.chan,
            value: self.value.clone(),
            node: None,
            result: None,
        }
    }

    /// The result of the completed operation.
    pub fn take(&mut self) -> Result<(), SendError<T>> {
        self.result.take().expect("select arm completed")
    }

    pub(crate) fn result_slot(&mut self) -> &mut Option<Result<(), SendError<T>>> {
        &mut self.result
    }

    /// The value of an arm that was not chosen (`Sender::send_ctx` gives it back).
    pub(crate) fn into_unsent(self) -> Option<T> {
        self.value
    }

    pub(crate) fn chan_addr(&self) -> *const () {
        std::ptr::from_ref(self.chan).cast()
    }
}

impl<T> Arm for SendArm<'_, T> {
    /// A send arm whose value is gone (sent) is switched off.
    fn ready(&mut self) -> bool {
        self.value.is_some() && self.chan.send_ready()
    }

    fn complete(&mut self) {
        let value = self.value.take().expect("a ready send arm holds its value");
        self.result = Some(self.chan.try_send(value).map_err(|e| {
            debug_assert!(e.is_closed(), "completed an unready arm");
            SendError(e.into_inner())
        }));
    }

    fn register(&mut self, ctx: &WaitCtx, case: usize) {
        if let Some(value) = self.value.take() {
            let select = (ctx.fired.clone(), case);
            let g = ctx.g.clone();
            self.node = Some(self.chan.enqueue_select(Dir::Send, g, select, Some(value)));
        }
    }

    fn finish(&mut self, fired: bool) {
        let Some(node) = self.node.take() else {
            return;
        };
        if fired {
            self.result = Some(match node.outcome() {
                Outcome::Done => Ok(()),
                _ => Err(SendError(node.take().expect("an unsent value stays"))),
            });
        } else {
            self.chan.withdraw(Dir::Send, &node);
            self.value = node.take();
        }
        self.chan.recycle(node);
    }

    /// A send arm whose value is gone (sent) is switched off.
    fn watch(&mut self, ctx: &WaitCtx, case: usize) {
        if self.value.is_some() {
            let select = (ctx.fired.clone(), case);
            self.node = Some(self.chan.observe(Dir::Send, ctx.g.clone(), select));
        }
    }

    fn unwatch(&mut self) {
        self.chan.unobserve(Dir::Send, self.node.take());
    }

    fn has_unsent(&self) -> bool {
        self.value.is_some()
    }

    fn drop_unsent(&mut self) {
        drop(self.value.take());
    }
}
