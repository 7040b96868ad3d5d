//! The machinery behind [`select!`](crate::select!) and
//! [`Select`](crate::Select), after Go's `runtime/select.go`.
//!
//! Each operation of a select is an arm behind the [`Arm`] trait. [`run`]
//! asks every arm whether it is ready; if some are, it completes one chosen
//! uniformly at random among them. Otherwise it queues a waiter on every
//! arm's channel, all sharing one "fired" cell, and parks: the first channel
//! event fires one waiter, which makes the others stale; when the select
//! goroutine runs again it collects the fired arm's outcome and withdraws the
//! others' waiters.
//!
//! As in Go, a send arm's value is evaluated when the select starts, whether
//! or not that arm is chosen (it must be there for a receiver to take while
//! the select is parked).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use super::core::{deadline_after, Chan, Dir, Outcome, SelectCtx, Waiter, NOT_FIRED};
use super::{Receiver, RecvError, SendError, Sender};
use crate::runtime::{rng, scheduler, GRef, WaitReason};

/// The items the macro's expansion names; not a stable API.
pub mod private {
    pub use super::{select, Arm, AsReceiver, AsSender, RecvArm, SendArm, Timeout, WaitCtx};
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

/// Runs a select over `arms` (the macro's entry point); returns the index of
/// the completed arm, or `None` if none was ready in time.
///
/// # Panics
///
/// When it has to block outside a goroutine.
pub fn select(arms: &mut [&mut dyn Arm], timeout: Timeout) -> Option<usize> {
    run(arms, timeout, "select!")
}

/// See [`select`]; `what` names the caller in the outside-a-goroutine panic.
pub(crate) fn run<A: Arms + ?Sized>(arms: &mut A, timeout: Timeout, what: &str) -> Option<usize> {
    let n = arms.count();
    let is_ready = |arms: &mut A, i| arms.arm(i).is_some_and(|a| a.ready());
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
    if ready > 0 {
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
        arms.arm(chosen).expect("a ready arm exists").complete();
        return Some(chosen);
    }
    if let Timeout::Now = timeout {
        return None;
    }
    let s = scheduler(what);
    let deadline = match timeout {
        Timeout::After(d) => deadline_after(s, d),
        Timeout::Now | Timeout::Never => None,
    };
    let ctx = WaitCtx {
        g: s.current(),
        fired: fired_cell(),
    };
    // From a random arm on: arms on one channel queue in random order, so
    // that which of them a partner meets first is random too (Go's lockorder
    // has the same effect).
    let first = if n > 1 { rng::below(n) } else { 0 };
    for i in (first..n).chain(0..first) {
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

/// What `recv(x)` accepts: a [`Receiver`] or a reference to one.
pub trait AsReceiver {
    /// The channel's element type.
    type Item;
    /// The receiver.
    fn as_receiver(&self) -> &Receiver<Self::Item>;
}

impl<T> AsReceiver for Receiver<T> {
    type Item = T;
    fn as_receiver(&self) -> &Receiver<T> {
        self
    }
}

impl<R: AsReceiver + ?Sized> AsReceiver for &R {
    type Item = R::Item;
    fn as_receiver(&self) -> &Receiver<R::Item> {
        (**self).as_receiver()
    }
}

/// What `send(x, v)` accepts: a [`Sender`] or a reference to one.
pub trait AsSender {
    /// The channel's element type.
    type Item;
    /// The sender.
    fn as_sender(&self) -> &Sender<Self::Item>;
}

impl<T> AsSender for Sender<T> {
    type Item = T;
    fn as_sender(&self) -> &Sender<T> {
        self
    }
}

impl<S: AsSender + ?Sized> AsSender for &S {
    type Item = S::Item;
    fn as_sender(&self) -> &Sender<S::Item> {
        (**self).as_sender()
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
        let select = Some((ctx.fired.clone(), case));
        self.node = Some(self.chan.enqueue(Dir::Recv, ctx.g.clone(), select, None));
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
            let select = Some((ctx.fired.clone(), case));
            let g = ctx.g.clone();
            self.node = Some(self.chan.enqueue(Dir::Send, g, select, Some(value)));
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
}
