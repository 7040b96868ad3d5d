//! Channels: Go's `chan`, with crossbeam-channel's API shape.
//!
//! [`chan`] makes a channel and returns its two ends. Capacity 0 is Go's
//! unbuffered channel: a send completes only when a receiver takes the value.
//! Both ends can be cloned (many senders, many receivers); blocked senders and
//! receivers are served in FIFO order, and a value passes straight from the
//! sender to a waiting receiver without touching the buffer.
//!
//! ```
//! gosched::run(|| {
//!     let (tx, rx) = gosched::chan::<u32>(0);
//!     gosched::go(move || {
//!         for i in 1..=3 {
//!             tx.send(i).unwrap();
//!         }
//!         // Dropping the last sender closes the channel.
//!     });
//!     let got: Vec<u32> = rx.iter().collect();
//!     assert_eq!(got, [1, 2, 3]);
//! });
//! ```
//!
//! # Closing
//!
//! A channel closes when [`Sender::close`] is called or the last [`Sender`]
//! is dropped. Receivers then get the values still buffered, and after those
//! `Err(RecvError)`. Sending on a closed channel returns the value in the
//! error (Go panics instead).
//!
//! When the last [`Receiver`] is dropped the channel closes too and its
//! buffered values are dropped: sends fail instead of blocking forever. Go has
//! no such moment (its channels are garbage collected); we follow
//! crossbeam-channel, because a sender that can never be heard is a bug the
//! error reports, where a send that blocks forever would hang the program.
//! If some of those values' destructors panic, every value is still dropped
//! and the first panic propagates from the `Receiver`'s drop (crossbeam
//! leaks the values after the first panic; dropping them one by one in the
//! usual way would abort the process at the second).
//!
//! # Threads
//!
//! [`Sender`] and [`Receiver`] are neither `Send` nor `Sync`: the scheduler is
//! single-threaded and the channel lives on its thread, without atomics.
//!
//! # Select
//!
//! [`select!`](crate::select!) waits on several operations at once; when more
//! than one can proceed it picks one uniformly at random, as Go does
//! ([`select_biased!`](crate::select_biased!) takes the first, as
//! crossbeam-channel's does). [`Select`] does the same for a set of
//! operations built at run time, and can also wait until one is ready
//! without performing it ([`Select::ready`]).
//!
//! The repository's docs/channels.md has a table of every place where these
//! channels follow Go and where crossbeam-channel.

mod core;
mod drop_all;
mod error;
mod select;
mod select_builder;
mod select_macro;
mod timer;

use std::fmt;
use std::marker::PhantomData;
use std::rc::Rc;
use std::time::Duration;

use self::core::{deadline_after, Chan, Dir, Woken};
pub use self::error::{
    ReadyTimeoutError, RecvError, RecvTimeoutError, SelectTimeoutError, SendError,
    SendTimeoutError, TryReadyError, TryRecvError, TrySelectError, TrySendError,
};
#[doc(hidden)]
pub use self::select::private as __private;
pub use self::select_builder::{Select, SelectedOperation};
pub use self::timer::{after, after_func, tick, FuncTimer, Ticker, Timer};
use crate::runtime::scheduler;

/// Makes a channel of capacity `cap` and returns its sending and receiving
/// ends; Go's `make(chan T, cap)`. Capacity 0 is unbuffered.
///
/// Making a channel needs no running scheduler; blocking on one does.
///
/// ```
/// gosched::run(|| {
///     let (tx, rx) = gosched::chan(2);
///     tx.send("a").unwrap();
///     tx.send("b").unwrap(); // buffered: nobody has to be receiving yet
///     assert_eq!((rx.recv(), rx.recv()), (Ok("a"), Ok("b")));
/// });
/// ```
pub fn chan<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let chan = Rc::new(Chan::new(cap, 1, 1));
    (
        Sender {
            chan: chan.clone(),
            _not_send: PhantomData,
        },
        Receiver {
            chan,
            _not_send: PhantomData,
        },
    )
}

/// A receiver that never receives anything: the role of Go's nil channel,
/// e.g. to switch off an arm of [`select!`](crate::select!). Receiving on it
/// blocks forever.
///
/// ```
/// use std::time::Duration;
/// gosched::run(|| {
///     let rx = gosched::never::<i32>();
///     assert!(rx.recv_timeout(Duration::from_millis(1)).is_err());
///     assert!(!rx.is_closed());
/// });
/// ```
pub fn never<T>() -> Receiver<T> {
    // One sender counted that no handle owns: it never closes.
    Receiver::from_chan(Rc::new(Chan::new(0, 1, 1)))
}

/// The sending end of a channel. Clone it for more senders; the channel
/// closes when the last one is dropped (or on [`close`](Sender::close)).
///
/// ```
/// gosched::run(|| {
///     let (tx, rx) = gosched::chan(4);
///     let tx2 = tx.clone();
///     tx.send(1).unwrap();
///     tx2.send(2).unwrap();
///     drop((tx, tx2));
///     assert_eq!(rx.iter().sum::<i32>(), 3);
/// });
/// ```
pub struct Sender<T> {
    chan: Rc<Chan<T>>,
    _not_send: PhantomData<*const ()>,
}

/// The receiving end of a channel. Clone it for more receivers; each value
/// goes to exactly one of them.
///
/// ```
/// gosched::run(|| {
///     let (tx, rx) = gosched::chan(1);
///     gosched::go(move || tx.send("hi").unwrap());
///     assert_eq!(rx.recv(), Ok("hi"));
/// });
/// ```
pub struct Receiver<T> {
    chan: Rc<Chan<T>>,
    _not_send: PhantomData<*const ()>,
}

impl<T> Sender<T> {
    /// Sends `value`, parking until a receiver takes it or buffer space frees
    /// up. Fails, giving the value back, if the channel is or gets closed.
    ///
    /// # Panics
    ///
    /// When it has to block outside a goroutine.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let (tx, rx) = gosched::chan(0);
    ///     let h = gosched::go(move || rx.recv().unwrap());
    ///     tx.send(5).unwrap(); // returns once the goroutine took it
    ///     assert_eq!(h.join().unwrap(), 5);
    /// });
    /// ```
    // Always inlined: a goroutine resumed after a switch returns through every
    // frame between the switch and its own code, and each such return is
    // mispredicted; inlining removes those frames (docs/benchmarks.md).
    #[inline(always)]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        match self.chan.try_send(value) {
            Ok(()) => Ok(()),
            Err(TrySendError::Closed(v)) => Err(SendError(v)),
            Err(TrySendError::Full(v)) => match self.chan.wait(Dir::Send, Some(v), None) {
                Woken::Done(_) => Ok(()),
                Woken::Closed(v) | Woken::TimedOut(v) => Err(SendError(unsent(v))),
            },
        }
    }

    /// Sends `value` if that can be done without blocking: a receiver is
    /// waiting, or the buffer has room.
    ///
    /// ```
    /// let (tx, rx) = gosched::chan(1);
    /// assert!(tx.try_send(1).is_ok());
    /// assert_eq!(tx.try_send(2), Err(gosched::TrySendError::Full(2)));
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.try_send(value)
    }

    /// Like [`send`](Sender::send), but gives up after `timeout`.
    ///
    /// # Panics
    ///
    /// When it has to block outside a goroutine.
    ///
    /// ```
    /// use std::time::Duration;
    /// gosched::run(|| {
    ///     let (tx, rx) = gosched::chan(0);
    ///     let r = tx.send_timeout('x', Duration::from_millis(2));
    ///     assert_eq!(r, Err(gosched::SendTimeoutError::Timeout('x')));
    ///     drop(rx);
    ///     let r = tx.send_timeout('y', Duration::from_millis(2));
    ///     assert_eq!(r, Err(gosched::SendTimeoutError::Closed('y')));
    /// });
    /// ```
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        match self.chan.try_send(value) {
            Ok(()) => Ok(()),
            Err(TrySendError::Closed(v)) => Err(SendTimeoutError::Closed(v)),
            Err(TrySendError::Full(v)) => {
                let deadline = deadline_after(scheduler("Sender::send_timeout"), timeout);
                match self.chan.wait(Dir::Send, Some(v), deadline) {
                    Woken::Done(_) => Ok(()),
                    Woken::Closed(v) => Err(SendTimeoutError::Closed(unsent(v))),
                    Woken::TimedOut(v) => Err(SendTimeoutError::Timeout(unsent(v))),
                }
            }
        }
    }

    /// Closes the channel; Go's `close(ch)`. Blocked senders get their values
    /// back in errors, blocked receivers get [`RecvError`] once the buffer is
    /// drained. Returns whether this call closed it (false if it already was).
    ///
    /// ```
    /// let (tx, rx) = gosched::chan(1);
    /// tx.send(1).unwrap();
    /// assert!(tx.close());
    /// assert!(!tx.close());
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(rx.try_recv(), Err(gosched::TryRecvError::Closed));
    /// ```
    pub fn close(&self) -> bool {
        self.chan.close()
    }

    /// Whether the channel is closed: by [`close`](Sender::close), or because
    /// every receiver is gone.
    ///
    /// ```
    /// let (tx, rx) = gosched::chan::<()>(0);
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// The number of buffered values.
    ///
    /// ```
    /// let (tx, _rx) = gosched::chan(3);
    /// tx.send(1).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether no value is buffered.
    ///
    /// ```
    /// let (tx, _rx) = gosched::chan::<i32>(3);
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the buffer is full (always true for an unbuffered channel).
    ///
    /// ```
    /// let (tx, _rx) = gosched::chan(1);
    /// tx.send(1).unwrap();
    /// assert!(tx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() == self.cap()
    }

    /// The buffer's capacity, as given to [`chan`].
    ///
    /// ```
    /// let (tx, _rx) = gosched::chan::<u8>(16);
    /// assert_eq!(tx.cap(), 16);
    /// ```
    pub fn cap(&self) -> usize {
        self.chan.cap()
    }

    /// Whether both handles belong to the same channel.
    ///
    /// ```
    /// let (tx, _rx) = gosched::chan::<u8>(0);
    /// let (other, _) = gosched::chan::<u8>(0);
    /// assert!(tx.same_channel(&tx.clone()));
    /// assert!(!tx.same_channel(&other));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Rc::ptr_eq(&self.chan, &other.chan)
    }

    pub(crate) fn chan(&self) -> &Chan<T> {
        &self.chan
    }
}

impl<T> Receiver<T> {
    fn from_chan(chan: Rc<Chan<T>>) -> Receiver<T> {
        Receiver {
            chan,
            _not_send: PhantomData,
        }
    }

    /// Receives a value, parking until one arrives. Fails once the channel
    /// is closed and drained.
    ///
    /// # Panics
    ///
    /// When it has to block outside a goroutine.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let (tx, rx) = gosched::chan(0);
    ///     gosched::go(move || tx.send(9).unwrap());
    ///     assert_eq!(rx.recv(), Ok(9));
    ///     assert_eq!(rx.recv(), Err(gosched::RecvError)); // sender gone
    /// });
    /// ```
    // Always inlined: see `Sender::send`.
    #[inline(always)]
    pub fn recv(&self) -> Result<T, RecvError> {
        match self.chan.try_recv() {
            Ok(v) => Ok(v),
            Err(TryRecvError::Closed) => Err(RecvError),
            Err(TryRecvError::Empty) => match self.chan.wait(Dir::Recv, None, None) {
                Woken::Done(v) => Ok(received(v)),
                Woken::Closed(_) | Woken::TimedOut(_) => Err(RecvError),
            },
        }
    }

    /// Receives a value if one is buffered or a sender is waiting.
    ///
    /// ```
    /// let (tx, rx) = gosched::chan(1);
    /// assert_eq!(rx.try_recv(), Err(gosched::TryRecvError::Empty));
    /// tx.send(3).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(3));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.chan.try_recv_or_expire()
    }

    /// Like [`recv`](Receiver::recv), but gives up after `timeout`.
    ///
    /// # Panics
    ///
    /// When it has to block outside a goroutine.
    ///
    /// ```
    /// use std::time::Duration;
    /// gosched::run(|| {
    ///     let (tx, rx) = gosched::chan::<i32>(0);
    ///     let r = rx.recv_timeout(Duration::from_millis(2));
    ///     assert_eq!(r, Err(gosched::RecvTimeoutError::Timeout));
    ///     drop(tx);
    ///     let r = rx.recv_timeout(Duration::from_millis(2));
    ///     assert_eq!(r, Err(gosched::RecvTimeoutError::Closed));
    /// });
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        match self.chan.try_recv() {
            Ok(v) => Ok(v),
            Err(TryRecvError::Closed) => Err(RecvTimeoutError::Closed),
            Err(TryRecvError::Empty) => {
                let deadline = deadline_after(scheduler("Receiver::recv_timeout"), timeout);
                match self.chan.wait(Dir::Recv, None, deadline) {
                    Woken::Done(v) => Ok(received(v)),
                    Woken::Closed(_) => Err(RecvTimeoutError::Closed),
                    Woken::TimedOut(_) => Err(RecvTimeoutError::Timeout),
                }
            }
        }
    }

    /// A blocking iterator over received values; it ends when the channel is
    /// closed and drained.
    ///
    /// ```
    /// gosched::run(|| {
    ///     let (tx, rx) = gosched::chan(0);
    ///     gosched::go(move || (0..4).for_each(|i| tx.send(i).unwrap()));
    ///     assert_eq!(rx.iter().collect::<Vec<_>>(), [0, 1, 2, 3]);
    /// });
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the values that can be received without blocking.
    ///
    /// ```
    /// let (tx, rx) = gosched::chan(3);
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// Whether the channel is closed (its buffer may still hold values).
    ///
    /// ```
    /// let (tx, rx) = gosched::chan::<()>(0);
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// The number of buffered values.
    ///
    /// ```
    /// let (tx, rx) = gosched::chan(3);
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether no value is buffered.
    ///
    /// ```
    /// let (_tx, rx) = gosched::chan::<i32>(3);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the buffer is full (always true for an unbuffered channel).
    ///
    /// ```
    /// let (_tx, rx) = gosched::chan::<i32>(0);
    /// assert!(rx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() == self.cap()
    }

    /// The buffer's capacity, as given to [`chan`].
    ///
    /// ```
    /// let (_tx, rx) = gosched::chan::<u8>(16);
    /// assert_eq!(rx.cap(), 16);
    /// ```
    pub fn cap(&self) -> usize {
        self.chan.cap()
    }

    /// Whether both handles belong to the same channel.
    ///
    /// ```
    /// let (_tx, rx) = gosched::chan::<u8>(0);
    /// assert!(rx.same_channel(&rx.clone()));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Rc::ptr_eq(&self.chan, &other.chan)
    }

    pub(crate) fn chan(&self) -> &Chan<T> {
        &self.chan
    }
}

/// The value a completed receive was handed.
fn received<T>(v: Option<T>) -> T {
    v.expect("a receiver woken with Done holds its value")
}

/// The value a failed send still holds.
fn unsent<T>(v: Option<T>) -> T {
    v.expect("a sender woken without Done still holds its value")
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        Sender {
            chan: self.chan.clone(),
            _not_send: PhantomData,
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.add_receiver();
        Receiver::from_chan(self.chan.clone())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.drop_receiver();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("len", &self.len())
            .field("cap", &self.cap())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.len())
            .field("cap", &self.cap())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Blocking iterator over a [`Receiver`]'s values; see [`Receiver::iter`].
///
/// ```
/// gosched::run(|| {
///     let (tx, rx) = gosched::chan(2);
///     tx.send(1).unwrap();
///     drop(tx);
///     let mut it = rx.iter();
///     assert_eq!((it.next(), it.next()), (Some(1), None));
/// });
/// ```
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;

    #[inline(always)]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// Non-blocking iterator over a [`Receiver`]'s values; see
/// [`Receiver::try_iter`].
///
/// ```
/// let (tx, rx) = gosched::chan(2);
/// tx.send(1).unwrap();
/// let mut it = rx.try_iter();
/// assert_eq!((it.next(), it.next()), (Some(1), None));
/// ```
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// Owning blocking iterator over a [`Receiver`]'s values.
///
/// ```
/// gosched::run(|| {
///     let (tx, rx) = gosched::chan(0);
///     gosched::go(move || tx.send(7).unwrap());
///     for v in rx {
///         assert_eq!(v, 7);
///     }
/// });
/// ```
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    #[inline(always)]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}
