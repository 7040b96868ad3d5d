//! The error types of channel operations, shaped like std's and
//! crossbeam-channel's: the value of a failed send always comes back.

use std::error::Error;
use std::fmt;

/// [`Sender::send`](crate::Sender::send) failed because the channel is closed
/// (or every [`Receiver`](crate::Receiver) is gone); the value comes back.
///
/// ```
/// gosched::run(|| {
///     let (tx, rx) = gosched::chan::<i32>(1);
///     drop(rx);
///     assert_eq!(tx.send(7), Err(gosched::SendError(7)));
/// });
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

/// [`Receiver::recv`](crate::Receiver::recv) failed because the channel is
/// closed and drained.
///
/// ```
/// gosched::run(|| {
///     let (tx, rx) = gosched::chan::<i32>(0);
///     tx.close();
///     assert_eq!(rx.recv(), Err(gosched::RecvError));
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvError;

/// Why [`Sender::try_send`](crate::Sender::try_send) failed; the value comes back.
///
/// ```
/// let (tx, _rx) = gosched::chan::<i32>(1);
/// assert_eq!(tx.try_send(1), Ok(()));
/// assert_eq!(tx.try_send(2), Err(gosched::TrySendError::Full(2)));
/// tx.close();
/// assert_eq!(tx.try_send(3), Err(gosched::TrySendError::Closed(3)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// No receiver is waiting and the buffer is full (or the channel is unbuffered).
    Full(T),
    /// The channel is closed.
    Closed(T),
}

/// Why [`Receiver::try_recv`](crate::Receiver::try_recv) failed.
///
/// ```
/// let (tx, rx) = gosched::chan::<i32>(1);
/// assert_eq!(rx.try_recv(), Err(gosched::TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(gosched::TryRecvError::Closed));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing is buffered and no sender is waiting.
    Empty,
    /// The channel is closed and drained.
    Closed,
}

/// Why [`Receiver::recv_timeout`](crate::Receiver::recv_timeout) failed.
///
/// ```
/// use std::time::Duration;
/// gosched::run(|| {
///     let (_tx, rx) = gosched::chan::<i32>(0);
///     let r = rx.recv_timeout(Duration::from_millis(1));
///     assert_eq!(r, Err(gosched::RecvTimeoutError::Timeout));
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvTimeoutError {
    /// Nothing arrived in time.
    Timeout,
    /// The channel is closed and drained.
    Closed,
}

/// Why [`Sender::send_timeout`](crate::Sender::send_timeout) failed; the value
/// comes back.
///
/// ```
/// use std::time::Duration;
/// gosched::run(|| {
///     let (tx, _rx) = gosched::chan::<i32>(0);
///     let r = tx.send_timeout(5, Duration::from_millis(1));
///     assert_eq!(r, Err(gosched::SendTimeoutError::Timeout(5)));
/// });
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SendTimeoutError<T> {
    /// No receiver took the value in time.
    Timeout(T),
    /// The channel is closed.
    Closed(T),
}

/// [`Select::try_select`](crate::Select::try_select) found no operation ready.
///
/// ```
/// let (_tx, rx) = gosched::chan::<i32>(1);
/// let mut sel = gosched::Select::new();
/// sel.recv(&rx);
/// assert!(matches!(sel.try_select(), Err(gosched::TrySelectError)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrySelectError;

/// [`Select::select_timeout`](crate::Select::select_timeout) timed out.
///
/// ```
/// use std::time::Duration;
/// gosched::run(|| {
///     let (_tx, rx) = gosched::chan::<i32>(1);
///     let mut sel = gosched::Select::new();
///     sel.recv(&rx);
///     let r = sel.select_timeout(Duration::from_millis(1));
///     assert!(matches!(r, Err(gosched::SelectTimeoutError)));
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SelectTimeoutError;

/// [`Select::try_ready`](crate::Select::try_ready) found no operation ready.
///
/// ```
/// let (_tx, rx) = gosched::chan::<i32>(1);
/// let mut sel = gosched::Select::new();
/// sel.recv(&rx);
/// assert_eq!(sel.try_ready(), Err(gosched::TryReadyError));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TryReadyError;

/// [`Select::ready_timeout`](crate::Select::ready_timeout) timed out.
///
/// ```
/// use std::time::Duration;
/// gosched::run(|| {
///     let (_tx, rx) = gosched::chan::<i32>(1);
///     let mut sel = gosched::Select::new();
///     sel.recv(&rx);
///     let r = sel.ready_timeout(Duration::from_millis(1));
///     assert_eq!(r, Err(gosched::ReadyTimeoutError));
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadyTimeoutError;

impl<T> SendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// assert_eq!(gosched::SendError("x").into_inner(), "x");
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// assert_eq!(gosched::TrySendError::Full(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }

    /// Whether the send failed because the buffer was full.
    ///
    /// ```
    /// assert!(gosched::TrySendError::Full(3).is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// Whether the send failed because the channel is closed.
    ///
    /// ```
    /// assert!(gosched::TrySendError::Closed(3).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }
}

impl<T> SendTimeoutError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// assert_eq!(gosched::SendTimeoutError::Timeout(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(v) | SendTimeoutError::Closed(v) => v,
        }
    }

    /// Whether the send timed out.
    ///
    /// ```
    /// assert!(gosched::SendTimeoutError::Timeout(3).is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, SendTimeoutError::Timeout(_))
    }

    /// Whether the send failed because the channel is closed.
    ///
    /// ```
    /// assert!(gosched::SendTimeoutError::Closed(3).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, SendTimeoutError::Closed(_))
    }
}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(SendError(v): SendError<T>) -> Self {
        TrySendError::Closed(v)
    }
}

impl<T> From<SendError<T>> for SendTimeoutError<T> {
    fn from(SendError(v): SendError<T>) -> Self {
        SendTimeoutError::Closed(v)
    }
}

impl From<RecvError> for TryRecvError {
    fn from(_: RecvError) -> Self {
        TryRecvError::Closed
    }
}

impl From<RecvError> for RecvTimeoutError {
    fn from(_: RecvError) -> Self {
        RecvTimeoutError::Closed
    }
}

// Debug without `T: Debug`, as std does: the value is elided.
impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError { .. }")
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "Full(..)",
            TrySendError::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendTimeoutError::Timeout(_) => "Timeout(..)",
            SendTimeoutError::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a closed channel")
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("receiving on a closed and empty channel")
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "sending on a full channel",
            TrySendError::Closed(_) => "sending on a closed channel",
        })
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryRecvError::Empty => "receiving on an empty channel",
            TryRecvError::Closed => "receiving on a closed and empty channel",
        })
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecvTimeoutError::Timeout => "timed out waiting on a channel receive",
            RecvTimeoutError::Closed => "receiving on a closed and empty channel",
        })
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendTimeoutError::Timeout(_) => "timed out waiting on a channel send",
            SendTimeoutError::Closed(_) => "sending on a closed channel",
        })
    }
}

impl fmt::Display for TrySelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no select operation was ready")
    }
}

impl fmt::Display for SelectTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting on select")
    }
}

impl fmt::Display for TryReadyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no select operation was ready")
    }
}

impl fmt::Display for ReadyTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting for a select operation to be ready")
    }
}

impl<T> Error for SendError<T> {}
impl Error for RecvError {}
impl<T> Error for TrySendError<T> {}
impl Error for TryRecvError {}
impl Error for RecvTimeoutError {}
impl<T> Error for SendTimeoutError<T> {}
impl Error for TrySelectError {}
impl Error for SelectTimeoutError {}
impl Error for TryReadyError {}
impl Error for ReadyTimeoutError {}
