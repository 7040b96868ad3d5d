//! [`Select`]: a select over a set of operations built at run time (the
//! `select!` macro needs them written out).

use std::any::Any;
use std::fmt;
use std::time::Duration;

use super::drop_all::drop_all;
use super::select::{self, Arm, Arms, Order, RecvArm, SendArm, Timeout};
use super::{
    ReadyTimeoutError, Receiver, RecvError, SelectTimeoutError, SendError, Sender, TryReadyError,
    TrySelectError,
};

/// An arm whose result the builder hands out by type.
trait DynArm<'a>: Arm {
    fn as_arm(&mut self) -> &mut dyn Arm;
    fn chan_addr(&self) -> *const ();
    /// The arm's `Option<Result<..>>` result, to be downcast.
    fn result(&mut self) -> &mut dyn Any;
    /// The same operation, not started (a send arm with a clone of its
    /// value, or switched off if its value is sent).
    fn clone_arm(&self) -> Box<dyn DynArm<'a> + 'a>;
}

impl<'a, T: 'static> DynArm<'a> for RecvArm<'a, T> {
    fn as_arm(&mut self) -> &mut dyn Arm {
        self
    }
    fn chan_addr(&self) -> *const () {
        RecvArm::chan_addr(self)
    }
    fn result(&mut self) -> &mut dyn Any {
        self.result_slot()
    }
    fn clone_arm(&self) -> Box<dyn DynArm<'a> + 'a> {
        Box::new(self.fresh())
    }
}

impl<'a, T: Clone + 'static> DynArm<'a> for SendArm<'a, T> {
    fn as_arm(&mut self) -> &mut dyn Arm {
        self
    }
    fn chan_addr(&self) -> *const () {
        SendArm::chan_addr(self)
    }
    fn result(&mut self) -> &mut dyn Any {
        self.result_slot()
    }
    fn clone_arm(&self) -> Box<dyn DynArm<'a> + 'a> {
        Box::new(self.fresh())
    }
}

impl<'a> Arms for Vec<Option<Box<dyn DynArm<'a> + 'a>>> {
    fn count(&self) -> usize {
        self.len()
    }

    fn arm(&mut self, i: usize) -> Option<&mut dyn Arm> {
        self[i].as_mut().map(|a| a.as_arm())
    }
}

/// A select over operations added at run time: crossbeam-channel's `Select`
/// for gosched channels. Add receive and send operations, then
/// [`select`](Select::select) completes one (chosen uniformly at random among
/// the ready ones) and returns a [`SelectedOperation`] that hands out its
/// result.
///
/// A `Select` can be used again: receive operations stay in it, a send
/// operation stays until its value has been sent (or refused by a closed
/// channel). Element types must be `'static` (results are handed out by type).
///
/// [`ready`](Select::ready) and its variants wait until an operation *can*
/// complete without completing it; [`new_biased`](Select::new_biased) makes a
/// select that prefers the operation added first. A clone has the same
/// operations, not yet started, each send operation with a clone of its
/// value.
///
/// ```
/// gosched::run(|| {
///     let chans: Vec<_> = (0..5).map(|_| gosched::chan::<usize>(1)).collect();
///     chans[3].0.send(33).unwrap();
///     let mut sel = gosched::Select::new();
///     for (_, rx) in &chans {
///         sel.recv(rx);
///     }
///     let op = sel.select();
///     let i = op.index();
///     assert_eq!(i, 3);
///     assert_eq!(op.recv(&chans[i].1), Ok(33));
/// });
/// ```
pub struct Select<'a> {
    arms: Vec<Option<Box<dyn DynArm<'a> + 'a>>>,
    order: Order,
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("operations", &self.arms.iter().flatten().count())
            .field("biased", &(self.order == Order::Biased))
            .finish()
    }
}

impl Default for Select<'_> {
    fn default() -> Self {
        Select::new()
    }
}

/// The operations, each not started, with clones of the unsent values.
///
/// ```
/// gosched::run(|| {
///     let (tx, rx) = gosched::chan::<i32>(2);
///     let mut sel = gosched::Select::new();
///     sel.send(&tx, 7);
///     let mut copy = sel.clone();
///     copy.select().send(&tx).unwrap();
///     sel.select().send(&tx).unwrap();
///     assert_eq!(rx.try_iter().collect::<Vec<_>>(), [7, 7]);
/// });
/// ```
impl Clone for Select<'_> {
    fn clone(&self) -> Self {
        let arms = self
            .arms
            .iter()
            .map(|arm| arm.as_ref().map(|arm| arm.clone_arm()))
            .collect();
        Select {
            arms,
            order: self.order,
        }
    }
}

/// Drops the unsent values one by one: if destructors panic, every value is
/// still dropped and the first panic propagates.
impl Drop for Select<'_> {
    fn drop(&mut self) {
        drop_all(self.arms.drain(..));
    }
}

impl<'a> Select<'a> {
    /// An empty select.
    ///
    /// ```
    /// let sel = gosched::Select::new();
    /// # drop(sel);
    /// ```
    pub fn new() -> Select<'a> {
        Select {
            arms: Vec::new(),
            order: Order::Random,
        }
    }

    /// An empty select that, when several operations are ready, takes the
    /// one added first (crossbeam-channel's `Select::new_biased`; Go has no
    /// such select). See [`select_biased!`](crate::select_biased!).
    ///
    /// ```
    /// let (tx1, rx1) = gosched::chan::<i32>(1);
    /// let (tx2, rx2) = gosched::chan::<i32>(1);
    /// tx1.send(1).unwrap();
    /// tx2.send(2).unwrap();
    /// let mut sel = gosched::Select::new_biased();
    /// let first = sel.recv(&rx1);
    /// sel.recv(&rx2);
    /// assert_eq!(sel.try_ready(), Ok(first));
    /// ```
    pub fn new_biased() -> Select<'a> {
        Select {
            arms: Vec::new(),
            order: Order::Biased,
        }
    }

    /// Adds a receive operation on `rx`; returns its index.
    ///
    /// ```
    /// let (_tx, rx) = gosched::chan::<i32>(0);
    /// let mut sel = gosched::Select::new();
    /// assert_eq!(sel.recv(&rx), 0);
    /// assert_eq!(sel.recv(&rx), 1);
    /// ```
    pub fn recv<T: 'static>(&mut self, rx: &'a Receiver<T>) -> usize {
        self.arms.push(Some(Box::new(RecvArm::new(rx))));
        self.arms.len() - 1
    }

    /// Adds an operation sending `value` on `tx`; returns its index. The
    /// value is dropped with the `Select` if it is never sent.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let (tx, rx) = gosched::chan::<i32>(1);
    ///     let mut sel = gosched::Select::new();
    ///     let i = sel.send(&tx, 4);
    ///     let op = sel.select();
    ///     assert_eq!(op.index(), i);
    ///     assert_eq!(op.send(&tx), Ok(()));
    ///     assert_eq!(rx.recv(), Ok(4));
    /// });
    /// ```
    ///
    /// `T: Clone` because a clone of the `Select` gets a clone of the value.
    pub fn send<T: Clone + 'static>(&mut self, tx: &'a Sender<T>, value: T) -> usize {
        self.arms.push(Some(Box::new(SendArm::new(tx, value))));
        self.arms.len() - 1
    }

    /// Removes the operation with `index` (other indices stay valid).
    ///
    /// # Panics
    ///
    /// If there is no such operation.
    ///
    /// ```
    /// let (tx, rx) = gosched::chan::<i32>(1);
    /// tx.send(1).unwrap();
    /// let mut sel = gosched::Select::new();
    /// let i = sel.recv(&rx);
    /// sel.remove(i);
    /// assert!(sel.try_select().is_err());
    /// ```
    pub fn remove(&mut self, index: usize) {
        let removed = self.arms.get_mut(index).and_then(Option::take);
        assert!(removed.is_some(), "Select::remove: no operation {index}");
    }

    /// Parks until an operation completes; returns it.
    ///
    /// # Panics
    ///
    /// When it has to block outside a goroutine.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let (tx, rx) = gosched::chan::<&str>(0);
    ///     gosched::go(move || tx.send("late").unwrap());
    ///     let mut sel = gosched::Select::new();
    ///     sel.recv(&rx);
    ///     assert_eq!(sel.select().recv(&rx), Ok("late"));
    /// });
    /// ```
    pub fn select(&mut self) -> SelectedOperation<'_, 'a> {
        let index = select::run(&mut self.arms, Timeout::Never, self.order, "Select::select")
            .expect("a select without timeout completes an operation");
        self.selected(index)
    }

    /// Completes an operation if one is ready now.
    ///
    /// ```
    /// let (tx, rx) = gosched::chan::<i32>(1);
    /// let mut sel = gosched::Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.try_select().is_err());
    /// tx.send(1).unwrap();
    /// assert_eq!(sel.try_select().unwrap().recv(&rx), Ok(1));
    /// ```
    pub fn try_select(&mut self) -> Result<SelectedOperation<'_, 'a>, TrySelectError> {
        match select::run(
            &mut self.arms,
            Timeout::Now,
            self.order,
            "Select::try_select",
        ) {
            Some(index) => Ok(self.selected(index)),
            None => Err(TrySelectError),
        }
    }

    /// Parks until an operation completes or `timeout` passes.
    ///
    /// # Panics
    ///
    /// When it has to block outside a goroutine.
    ///
    /// ```
    /// use std::time::Duration;
    /// gosched::run(|| {
    ///     let (_tx, rx) = gosched::chan::<i32>(0);
    ///     let mut sel = gosched::Select::new();
    ///     sel.recv(&rx);
    ///     assert!(sel.select_timeout(Duration::from_millis(2)).is_err());
    /// });
    /// ```
    pub fn select_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<SelectedOperation<'_, 'a>, SelectTimeoutError> {
        match select::run(
            &mut self.arms,
            Timeout::After(timeout),
            self.order,
            "Select::select_timeout",
        ) {
            Some(index) => Ok(self.selected(index)),
            None => Err(SelectTimeoutError),
        }
    }

    /// Parks until an operation can complete without blocking; returns its
    /// index without performing it (crossbeam-channel's `Select::ready`).
    /// The operation is ready when this returns; it stays ready until the
    /// goroutine blocks or yields (another goroutine may take the value or
    /// the space then). A closed channel counts as ready.
    ///
    /// # Panics
    ///
    /// When it has to block outside a goroutine.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let (tx, rx) = gosched::chan::<i32>(0);
    ///     gosched::go(move || tx.send(3).unwrap());
    ///     let mut sel = gosched::Select::new();
    ///     let i = sel.recv(&rx);
    ///     assert_eq!(sel.ready(), i);
    ///     assert_eq!(rx.try_recv(), Ok(3)); // the sender waits: ready indeed
    /// });
    /// ```
    pub fn ready(&mut self) -> usize {
        select::wait_ready(&mut self.arms, Timeout::Never, self.order, "Select::ready")
            .expect("a readiness wait without timeout finds an operation")
    }

    /// The index of an operation that can complete now, if any.
    ///
    /// ```
    /// let (tx, rx) = gosched::chan::<i32>(1);
    /// let mut sel = gosched::Select::new();
    /// let r = sel.recv(&rx);
    /// assert_eq!(sel.try_ready(), Err(gosched::TryReadyError));
    /// tx.send(1).unwrap();
    /// assert_eq!(sel.try_ready(), Ok(r));
    /// ```
    pub fn try_ready(&mut self) -> Result<usize, TryReadyError> {
        select::wait_ready(
            &mut self.arms,
            Timeout::Now,
            self.order,
            "Select::try_ready",
        )
        .ok_or(TryReadyError)
    }

    /// Like [`ready`](Select::ready), but gives up after `timeout`.
    ///
    /// # Panics
    ///
    /// When it has to block outside a goroutine.
    ///
    /// ```
    /// use std::time::Duration;
    /// gosched::run(|| {
    ///     let (_tx, rx) = gosched::chan::<i32>(0);
    ///     let mut sel = gosched::Select::new();
    ///     sel.recv(&rx);
    ///     let r = sel.ready_timeout(Duration::from_millis(2));
    ///     assert_eq!(r, Err(gosched::ReadyTimeoutError));
    /// });
    /// ```
    pub fn ready_timeout(&mut self, timeout: Duration) -> Result<usize, ReadyTimeoutError> {
        select::wait_ready(
            &mut self.arms,
            Timeout::After(timeout),
            self.order,
            "Select::ready_timeout",
        )
        .ok_or(ReadyTimeoutError)
    }

    fn selected(&mut self, index: usize) -> SelectedOperation<'_, 'a> {
        SelectedOperation {
            select: self,
            index,
            taken: false,
        }
    }
}

/// The operation a [`Select`] completed; take its result with
/// [`recv`](SelectedOperation::recv) or [`send`](SelectedOperation::send).
///
/// # Panics
///
/// Dropping it without taking the result panics (the received value would be
/// lost silently), as crossbeam-channel's does.
///
/// ```
/// let (tx, rx) = gosched::chan::<i32>(1);
/// tx.send(8).unwrap();
/// let mut sel = gosched::Select::new();
/// let i = sel.recv(&rx);
/// let op = sel.try_select().unwrap();
/// assert_eq!(op.index(), i);
/// assert_eq!(op.recv(&rx), Ok(8));
/// ```
#[must_use = "the result of the selected operation must be taken with recv or send"]
pub struct SelectedOperation<'s, 'a> {
    select: &'s mut Select<'a>,
    index: usize,
    taken: bool,
}

impl fmt::Debug for SelectedOperation<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectedOperation")
            .field("index", &self.index)
            .finish()
    }
}

impl SelectedOperation<'_, '_> {
    /// The index [`Select::recv`] or [`Select::send`] returned for the
    /// completed operation.
    ///
    /// ```
    /// let (tx, rx) = gosched::chan::<i32>(1);
    /// let mut sel = gosched::Select::new();
    /// sel.recv(&rx);
    /// let i = sel.send(&tx, 1);
    /// let op = sel.try_select().unwrap();
    /// assert_eq!(op.index(), i);
    /// op.send(&tx).unwrap();
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// The result of the completed receive on `rx`.
    ///
    /// # Panics
    ///
    /// If the completed operation is not a receive on `rx`'s channel.
    ///
    /// ```
    /// let (tx, rx) = gosched::chan::<i32>(0);
    /// drop(tx);
    /// let mut sel = gosched::Select::new();
    /// sel.recv(&rx);
    /// assert_eq!(sel.try_select().unwrap().recv(&rx), Err(gosched::RecvError));
    /// ```
    pub fn recv<T: 'static>(mut self, rx: &Receiver<T>) -> Result<T, RecvError> {
        let addr = std::ptr::from_ref(rx.chan()).cast();
        self.take::<Result<T, RecvError>>(addr, "a receive on this channel")
    }

    /// The result of the completed send on `tx`: `Err` holds the value if
    /// the channel was closed.
    ///
    /// # Panics
    ///
    /// If the completed operation is not a send on `tx`'s channel.
    ///
    /// ```
    /// let (tx, rx) = gosched::chan::<i32>(0);
    /// drop(rx);
    /// let mut sel = gosched::Select::new();
    /// sel.send(&tx, 3);
    /// let op = sel.try_select().unwrap();
    /// assert_eq!(op.send(&tx), Err(gosched::SendError(3)));
    /// ```
    pub fn send<T: 'static>(mut self, tx: &Sender<T>) -> Result<(), SendError<T>> {
        let addr = std::ptr::from_ref(tx.chan()).cast();
        self.take::<Result<(), SendError<T>>>(addr, "a send on this channel")
    }

    fn take<R: 'static>(&mut self, chan_addr: *const (), what: &str) -> R {
        let arm = self.select.arms[self.index]
            .as_mut()
            .expect("a completed operation is in its select");
        let result = (arm.chan_addr() == chan_addr)
            .then(|| arm.result().downcast_mut::<Option<R>>())
            .flatten()
            .and_then(Option::take);
        match result {
            Some(r) => {
                self.taken = true;
                r
            }
            None => panic!("SelectedOperation: operation {} is not {what}", self.index),
        }
    }
}

impl Drop for SelectedOperation<'_, '_> {
    fn drop(&mut self) {
        if !self.taken && !std::thread::panicking() {
            panic!(
                "SelectedOperation {} dropped without taking its result (recv or send)",
                self.index
            );
        }
    }
}
