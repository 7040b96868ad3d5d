//! Go's `context`: cancellation, deadlines and request-scoped values that
//! flow down a tree of contexts.
//!
//! A [`Context`] is a cheap handle (`Rc`) to a node of the tree. Cancelling
//! one cancels every context derived from it, never its parent:
//!
//! 1. [`with_cancel`], [`with_deadline`] and [`with_timeout`] make a node with
//!    its own cancel state: a `done` channel nobody sends on, an error slot,
//!    and a deadline (its own or its parent's, whichever is earlier). The
//!    state registers with the nearest cancellable ancestor's (weakly), or is
//!    cancelled at once if that ancestor is cancelled already.
//! 2. A deadline arms one scheduler timer, whose callback cancels the state
//!    with [`ContextError::DeadlineExceeded`].
//! 3. Cancelling (the [`CancelHandle`], its drop, or the timer) sets the error
//!    once, closes `done` (so every `recv(ctx.done())` is ready), cancels the
//!    registered children with the same error, stops the timer and leaves the
//!    parent's registry: nothing is left behind, as with Go's `cancel()`.
//! 4. [`with_value`] nodes carry a value keyed by its type and share their
//!    parent's cancel state.
//!
//! # Blocking calls with a context
//!
//! [`Receiver::recv_ctx`](crate::Receiver::recv_ctx),
//! [`Sender::send_ctx`](crate::Sender::send_ctx) and [`sleep_ctx`] give up
//! when the context is done: channel waits and sleeps are where a goroutine
//! blocks for an unbounded time, and where Go code writes
//! `select { ... case <-ctx.Done(): }`. Any other wait combines with a
//! context the same way, in a [`select!`](crate::select!) with
//! `recv(ctx.done())`. The `sync` primitives have no `_ctx` variants (nor
//! have Go's: a lock is held briefly, and a `WaitGroup` or `Cond` wait meets a
//! context through a channel); a future in [`block_on`](crate::block_on) is
//! cancelled by dropping it; gosched has no net API of its own (the WASIp3
//! streams are futures).
//!
//! Contexts belong to their thread's scheduler (not `Send`); [`background`]
//! and [`with_cancel`] need none, [`with_deadline`] and [`with_timeout`] do
//! (for the timer).
//!
//! ```
//! use std::time::Duration;
//! use gosched::context::{self, ContextError};
//!
//! gosched::run(|| {
//!     let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(5));
//!     let (_tx, results) = gosched::chan::<u32>(0);
//!     gosched::select! {
//!         recv(results) -> _ => unreachable!(),
//!         recv(ctx.done()) -> _ => {
//!             assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
//!         }
//!     }
//! });
//! ```

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

use crate::chan::{chan, never, Receiver, Sender};
use crate::runtime::{any_scheduler, try_scheduler, RuntimeTimer};

/// Why a context is done; Go's `context.Canceled` and
/// `context.DeadlineExceeded`.
///
/// ```
/// use gosched::context::ContextError;
/// assert_eq!(ContextError::Canceled.to_string(), "context canceled");
/// assert_eq!(ContextError::DeadlineExceeded.to_string(), "context deadline exceeded");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContextError {
    /// Its [`CancelHandle`] (or an ancestor's) was used or dropped.
    Canceled,
    /// Its deadline (or an ancestor's) passed.
    DeadlineExceeded,
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContextError::Canceled => "context canceled",
            ContextError::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for ContextError {}

/// A node of the context tree; clones share it. See the [module docs](self).
///
/// ```
/// use gosched::context;
/// let ctx = context::background();
/// assert!(ctx.err().is_none() && ctx.deadline().is_none());
/// ```
#[derive(Clone)]
pub struct Context {
    node: Rc<Node>,
}

struct Node {
    parent: Option<Context>,
    /// A value, found by its type.
    value: Option<Box<dyn Any>>,
    /// The nearest cancel state: this node's own, or an ancestor's.
    cancel: Option<Rc<CancelState>>,
}

struct CancelState {
    /// Closed (by dropping it) when the context is cancelled.
    done_tx: RefCell<Option<Sender<()>>>,
    done_rx: Receiver<()>,
    err: Cell<Option<ContextError>>,
    deadline: Option<Duration>,
    /// The nearest cancellable ancestor's state, which lists this one.
    parent: Option<Rc<CancelState>>,
    /// Registered children, by their address (step 1).
    children: RefCell<HashMap<usize, Weak<CancelState>>>,
    /// The deadline's timer (step 2).
    timer: RefCell<Option<Rc<RuntimeTimer>>>,
}

impl CancelState {
    fn key(self: &Rc<Self>) -> usize {
        Rc::as_ptr(self) as usize
    }

    /// Step 3.
    fn cancel(self: &Rc<Self>, err: ContextError) {
        if self.err.get().is_some() {
            return;
        }
        self.err.set(Some(err));
        let done_tx = self.done_tx.borrow_mut().take();
        drop(done_tx);
        let children = std::mem::take(&mut *self.children.borrow_mut());
        for child in children.into_values().filter_map(|c| c.upgrade()) {
            child.cancel(err);
        }
        if let Some(timer) = self.timer.borrow_mut().take() {
            match try_scheduler() {
                Some(s) => {
                    s.stop_timer(&timer);
                }
                None => {
                    timer.disarm_unscheduled();
                }
            }
        }
        if let Some(parent) = &self.parent {
            parent.children.borrow_mut().remove(&self.key());
        }
    }
}

/// The root of every context tree: never cancelled, no deadline, no values;
/// Go's `context.Background()`.
///
/// ```
/// let ctx = gosched::context::background();
/// assert!(ctx.done().try_recv().is_err(), "never done");
/// ```
pub fn background() -> Context {
    Context {
        node: Rc::new(Node {
            parent: None,
            value: None,
            cancel: None,
        }),
    }
}

/// A child of `parent` that is cancelled by its [`CancelHandle`] (or when
/// the handle is dropped) or with `parent`; Go's `context.WithCancel`.
///
/// Unlike Go's `cancel` function, the handle also cancels when dropped (Go's
/// `defer cancel()`): keep it alive as long as the context should live.
///
/// ```
/// use gosched::context::{self, ContextError};
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// let (child, _child_cancel) = context::with_cancel(&ctx);
/// cancel.cancel();
/// assert_eq!(child.err(), Some(ContextError::Canceled));
/// ```
pub fn with_cancel(parent: &Context) -> (Context, CancelHandle) {
    derive(parent, parent.deadline())
}

/// A child of `parent` that is also cancelled, with
/// [`ContextError::DeadlineExceeded`], when the clock ([`gosched::now`](crate::now))
/// reaches `deadline`; Go's `context.WithDeadline`. A parent's earlier
/// deadline wins.
///
/// # Panics
///
/// Outside [`run`](crate::run) (or [`Program::enter`](crate::Program::enter)).
///
/// ```
/// use std::time::Duration;
/// use gosched::context;
/// gosched::run(|| {
///     let at = gosched::now() + Duration::from_millis(2);
///     let (ctx, _cancel) = context::with_deadline(&context::background(), at);
///     assert_eq!(ctx.deadline(), Some(at));
///     assert!(ctx.done().recv().is_err(), "closed at the deadline");
/// });
/// ```
pub fn with_deadline(parent: &Context, deadline: Duration) -> (Context, CancelHandle) {
    let s = any_scheduler("gosched::context::with_deadline");
    if parent.deadline().is_some_and(|earlier| earlier <= deadline) {
        return with_cancel(parent);
    }
    let (ctx, handle) = derive(parent, Some(deadline));
    let state = &handle.state;
    if state.err.get().is_none() {
        if deadline <= s.now() {
            state.cancel(ContextError::DeadlineExceeded);
        } else {
            let weak = Rc::downgrade(state);
            let timer = Rc::new(RuntimeTimer::new(move |_due| {
                if let Some(state) = weak.upgrade() {
                    state.cancel(ContextError::DeadlineExceeded);
                }
            }));
            s.arm_timer(&timer, deadline);
            *state.timer.borrow_mut() = Some(timer);
        }
    }
    (ctx, handle)
}

/// [`with_deadline`] at `timeout` from now; Go's `context.WithTimeout`.
///
/// # Panics
///
/// Outside [`run`](crate::run) (or [`Program::enter`](crate::Program::enter)).
///
/// ```
/// use std::time::Duration;
/// use gosched::context::{self, ContextError};
/// gosched::run(|| {
///     let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(1));
///     gosched::sleep(Duration::from_millis(3));
///     assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
/// });
/// ```
pub fn with_timeout(parent: &Context, timeout: Duration) -> (Context, CancelHandle) {
    let s = any_scheduler("gosched::context::with_timeout");
    with_deadline(parent, s.now().saturating_add(timeout))
}

/// A child of `parent` carrying `value`, which [`Context::value`] finds by
/// its type (the nearest one wins); Go's `context.WithValue`, with the type
/// as the key (Go's idiom of an unexported key type).
///
/// ```
/// use gosched::context;
/// #[derive(Debug, PartialEq)]
/// struct RequestId(u64);
/// let ctx = context::with_value(&context::background(), RequestId(7));
/// let (child, _cancel) = context::with_cancel(&ctx);
/// assert_eq!(child.value::<RequestId>(), Some(&RequestId(7)));
/// assert_eq!(child.value::<String>(), None);
/// ```
pub fn with_value<T: 'static>(parent: &Context, value: T) -> Context {
    Context {
        node: Rc::new(Node {
            parent: Some(parent.clone()),
            value: Some(Box::new(value)),
            cancel: parent.node.cancel.clone(),
        }),
    }
}

/// Step 1: a cancellable child of `parent` with `deadline`.
fn derive(parent: &Context, deadline: Option<Duration>) -> (Context, CancelHandle) {
    let (done_tx, done_rx) = chan(0);
    let state = Rc::new(CancelState {
        done_tx: RefCell::new(Some(done_tx)),
        done_rx,
        err: Cell::new(None),
        deadline,
        parent: parent.node.cancel.clone(),
        children: RefCell::new(HashMap::new()),
        timer: RefCell::new(None),
    });
    if let Some(up) = &state.parent {
        match up.err.get() {
            Some(err) => state.cancel(err),
            None => {
                up.children
                    .borrow_mut()
                    .insert(state.key(), Rc::downgrade(&state));
            }
        }
    }
    let ctx = Context {
        node: Rc::new(Node {
            parent: Some(parent.clone()),
            value: None,
            cancel: Some(state.clone()),
        }),
    };
    (ctx, CancelHandle { state })
}

impl Context {
    /// A receiver that is ready (closed: `recv` returns `Err`) once the
    /// context is done; Go's `ctx.Done()`. For [`select!`](crate::select!):
    /// `recv(ctx.done()) -> _ => ...`. A context that can never be cancelled
    /// returns [`never()`](crate::never()).
    ///
    /// ```
    /// use gosched::context;
    /// let (ctx, cancel) = context::with_cancel(&context::background());
    /// let done = ctx.done();
    /// assert!(done.try_recv().is_err() && !done.is_closed());
    /// drop(cancel);
    /// assert!(done.is_closed());
    /// ```
    pub fn done(&self) -> Receiver<()> {
        match &self.node.cancel {
            Some(state) => state.done_rx.clone(),
            None => never(),
        }
    }

    /// Cancels the context with `err` as its [`CancelHandle`] would (for
    /// cancellers inside the crate, such as `signal::notify_context`).
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn cancel_with(&self, err: ContextError) {
        if let Some(state) = &self.node.cancel {
            state.cancel(err);
        }
    }

    /// Why the context is done, or `None` while it is not; Go's `ctx.Err()`.
    ///
    /// ```
    /// use gosched::context::{self, ContextError};
    /// let (ctx, cancel) = context::with_cancel(&context::background());
    /// assert_eq!(ctx.err(), None);
    /// cancel.cancel();
    /// assert_eq!(ctx.err(), Some(ContextError::Canceled));
    /// ```
    pub fn err(&self) -> Option<ContextError> {
        self.node.cancel.as_ref().and_then(|state| state.err.get())
    }

    /// The instant ([`gosched::now`](crate::now)'s clock) at which the
    /// context will be cancelled by a deadline, if it has one (its own or an
    /// ancestor's); Go's `ctx.Deadline()`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use gosched::context;
    /// gosched::run(|| {
    ///     let (outer, _c1) = context::with_timeout(&context::background(), Duration::from_secs(1));
    ///     let (inner, _c2) = context::with_timeout(&outer, Duration::from_secs(60));
    ///     assert_eq!(inner.deadline(), outer.deadline(), "the earlier deadline wins");
    /// });
    /// ```
    pub fn deadline(&self) -> Option<Duration> {
        self.node.cancel.as_ref().and_then(|state| state.deadline)
    }

    /// The nearest value of type `T` on the way to the root; Go's
    /// `ctx.Value(key)`. See [`with_value`].
    ///
    /// ```
    /// use gosched::context;
    /// let ctx = context::with_value(&context::background(), "user=ann");
    /// let ctx = context::with_value(&ctx, 42u8);
    /// assert_eq!(ctx.value::<&str>(), Some(&"user=ann"));
    /// assert_eq!(ctx.value::<u8>(), Some(&42));
    /// ```
    pub fn value<T: 'static>(&self) -> Option<&T> {
        let mut ctx = self;
        loop {
            if let Some(v) = ctx.node.value.as_ref().and_then(|v| v.downcast_ref()) {
                return Some(v);
            }
            ctx = ctx.node.parent.as_ref()?;
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("err", &self.err())
            .field("deadline", &self.deadline())
            .finish_non_exhaustive()
    }
}

/// Cancels its context (and the contexts derived from it) when
/// [`cancel`](CancelHandle::cancel) is called or when it is dropped; Go's
/// `CancelFunc` with its customary `defer cancel()` built in.
///
/// ```
/// use gosched::context::{self, ContextError};
/// let ctx = {
///     let (ctx, _cancel) = context::with_cancel(&context::background());
///     ctx
/// }; // the handle is dropped here
/// assert_eq!(ctx.err(), Some(ContextError::Canceled));
/// ```
#[must_use = "dropping the handle cancels the context at once"]
pub struct CancelHandle {
    state: Rc<CancelState>,
}

impl CancelHandle {
    /// Cancels the context with [`ContextError::Canceled`], unless it is
    /// done already; Go's `cancel()`. Calling it again does nothing.
    ///
    /// ```
    /// use gosched::context;
    /// let (ctx, cancel) = context::with_cancel(&context::background());
    /// cancel.cancel();
    /// cancel.cancel();
    /// assert!(ctx.err().is_some());
    /// ```
    pub fn cancel(&self) {
        self.state.cancel(ContextError::Canceled);
    }
}

impl Drop for CancelHandle {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle")
            .field("err", &self.state.err.get())
            .finish()
    }
}

// ---- blocking calls that give up when a context is done (module docs) ----

/// Why [`Receiver::recv_ctx`] returned without a value.
///
/// ```
/// use gosched::context::{ContextError, RecvCtxError};
/// let e = RecvCtxError::Done(ContextError::Canceled);
/// assert_eq!(e.to_string(), "context canceled");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvCtxError {
    /// The channel is closed and drained.
    Closed,
    /// The context is done, for this reason.
    Done(ContextError),
}

impl fmt::Display for RecvCtxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvCtxError::Closed => f.write_str("receiving on a closed channel"),
            RecvCtxError::Done(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RecvCtxError {}

/// Why [`Sender::send_ctx`] did not send; the value comes back.
///
/// ```
/// use gosched::context::{ContextError, SendCtxError};
/// let e = SendCtxError::Done(ContextError::DeadlineExceeded, 5);
/// assert_eq!(e.into_inner(), 5);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SendCtxError<T> {
    /// The channel is closed.
    Closed(T),
    /// The context is done, for this reason.
    Done(ContextError, T),
}

impl<T> SendCtxError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// use gosched::context::SendCtxError;
    /// assert_eq!(SendCtxError::Closed('x').into_inner(), 'x');
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendCtxError::Closed(v) | SendCtxError::Done(_, v) => v,
        }
    }
}

impl<T> fmt::Debug for SendCtxError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendCtxError::Closed(_) => f.write_str("Closed(..)"),
            SendCtxError::Done(e, _) => write!(f, "Done({e:?}, ..)"),
        }
    }
}

impl<T> fmt::Display for SendCtxError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendCtxError::Closed(_) => f.write_str("sending on a closed channel"),
            SendCtxError::Done(e, _) => e.fmt(f),
        }
    }
}

impl<T> std::error::Error for SendCtxError<T> {}

/// The reason `ctx` is done, which it is once its `done` channel closed.
fn done_reason(ctx: &Context) -> ContextError {
    ctx.err()
        .expect("a closed done channel means a cancelled context")
}

impl<T> Receiver<T> {
    /// Like [`recv`](Receiver::recv), but gives up when `ctx` is done (at
    /// once if it is done already); Go's
    /// `select { case v := <-ch: ... case <-ctx.Done(): }`.
    ///
    /// # Panics
    ///
    /// When it has to block outside a goroutine.
    ///
    /// ```
    /// use std::time::Duration;
    /// use gosched::context::{self, ContextError, RecvCtxError};
    /// gosched::run(|| {
    ///     let (_tx, rx) = gosched::chan::<u32>(0);
    ///     let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(2));
    ///     assert_eq!(rx.recv_ctx(&ctx), Err(RecvCtxError::Done(ContextError::DeadlineExceeded)));
    /// });
    /// ```
    pub fn recv_ctx(&self, ctx: &Context) -> Result<T, RecvCtxError> {
        if let Some(err) = ctx.err() {
            return Err(RecvCtxError::Done(err));
        }
        let done = ctx.done();
        crate::select! {
            recv(self) -> v => v.map_err(|_| RecvCtxError::Closed),
            recv(done) -> _ => Err(RecvCtxError::Done(done_reason(ctx))),
        }
    }
}

impl<T> Sender<T> {
    /// Like [`send`](Sender::send), but gives up when `ctx` is done (at once
    /// if it is done already) and gives the value back; Go's
    /// `select { case ch <- v: ... case <-ctx.Done(): }`.
    ///
    /// # Panics
    ///
    /// When it has to block outside a goroutine.
    ///
    /// ```
    /// use gosched::context::{self, ContextError, SendCtxError};
    /// gosched::run(|| {
    ///     let (tx, _rx) = gosched::chan::<u32>(0);
    ///     let (ctx, cancel) = context::with_cancel(&context::background());
    ///     gosched::go(move || cancel.cancel());
    ///     assert_eq!(tx.send_ctx(&ctx, 1).unwrap_err().into_inner(), 1);
    /// });
    /// ```
    pub fn send_ctx(&self, ctx: &Context, value: T) -> Result<(), SendCtxError<T>> {
        use crate::chan::__private::{select, RecvArm, SendArm, Timeout};
        if let Some(err) = ctx.err() {
            return Err(SendCtxError::Done(err, value));
        }
        let done = ctx.done();
        let mut send = SendArm::new(self, value);
        let mut cancelled = RecvArm::new(&done);
        let chosen = select(&mut [&mut send, &mut cancelled], Timeout::Never, false);
        if chosen == Some(0) {
            return send
                .take()
                .map_err(|e| SendCtxError::Closed(e.into_inner()));
        }
        let value = send
            .into_unsent()
            .expect("an unchosen send arm keeps its value");
        Err(SendCtxError::Done(done_reason(ctx), value))
    }
}

/// Like [`sleep`](crate::sleep), but wakes early, with the reason, when `ctx`
/// is done (at once if it is done already).
///
/// # Panics
///
/// Outside a goroutine.
///
/// ```
/// use std::time::Duration;
/// use gosched::context::{self, ContextError};
/// gosched::run(|| {
///     let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(1));
///     let slept = context::sleep_ctx(&ctx, Duration::from_secs(3600));
///     assert_eq!(slept, Err(ContextError::DeadlineExceeded));
/// });
/// ```
pub fn sleep_ctx(ctx: &Context, duration: Duration) -> Result<(), ContextError> {
    if let Some(err) = ctx.err() {
        return Err(err);
    }
    let timer = crate::Timer::new(duration);
    let done = ctx.done();
    crate::select! {
        recv(timer.receiver()) -> _ => Ok(()),
        recv(done) -> _ => Err(done_reason(ctx)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(ctx: &Context) -> usize {
        ctx.node.cancel.as_ref().unwrap().children.borrow().len()
    }

    #[test]
    fn cancelled_children_leave_the_registry() {
        let (root, _cancel) = with_cancel(&background());
        let children: Vec<_> = (0..100).map(|_| with_cancel(&root)).collect();
        let through_value = with_cancel(&with_value(&root, 1u8));
        assert_eq!(registered(&root), 101);
        drop(children);
        drop(through_value);
        assert_eq!(registered(&root), 0);
        // A child born cancelled never registers.
        let (parent, cancel) = with_cancel(&root);
        cancel.cancel();
        let _late = with_cancel(&parent);
        assert_eq!(registered(&parent), 0);
        assert_eq!(registered(&root), 0);
    }
}
