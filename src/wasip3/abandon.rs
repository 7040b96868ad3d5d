//! Closing what the pending operations of abandoned goroutines hold.
//!
//! When `main` returns, goroutines parked in a host operation are abandoned
//! (wasm cannot unwind them) and their goroutine-locals are dropped
//! (src/runtime/mod.rs, `teardown`), while their stacks are still intact and
//! the reactor still attached. `gosched::net` keeps, in a goroutine-local,
//! which socket the goroutine waits on and which waitables its operation
//! registered; its drop closes them here:
//!
//! 1. [`noting_registrations`] tells which waitables an operation's poll
//!    registered (a stream end, an import subtask, a timeout's clock).
//! 2. [`forget`](super::reactor::forget) takes a still-pending one out of the
//!    set and the reactor without calling its callback (its data lives on
//!    the abandoned stack).
//! 3. Then the operation is cancelled, synchronously (`stream.cancel-read`,
//!    `stream.cancel-write`, `subtask.cancel`: each traps on a waitable still
//!    in a set, hence step 2 first), and the stream end or subtask dropped.
//!
//! The socket resource itself is then dropped by `gosched::net`.

use ::wasip3::wit_stream::StreamPayload;

use super::{abi, reactor};

/// Runs `f` (one poll of an operation) and returns the waitables it
/// registered for the first time.
pub(crate) fn noting_registrations<R>(f: impl FnOnce() -> R) -> (R, Vec<u32>) {
    reactor::noting_registrations(f)
}

/// Cancels the read pending on `stream` (a readable end of `stream<T>`), if
/// any, and drops that end.
///
/// # Safety
///
/// `stream` is a readable end that nothing will use or drop again: its
/// owner was abandoned with the goroutine and is never dropped.
pub(crate) unsafe fn drop_readable<T: StreamPayload>(stream: u32) {
    // SAFETY: the vtable's built-ins for `stream<T>`, on a live handle of
    // that type that has left every set (the caller's contract, `forget`).
    unsafe {
        if reactor::forget(stream) {
            (T::VTABLE.cancel_read)(stream);
        }
        (T::VTABLE.drop_readable)(stream);
    }
}

/// As [`drop_readable`], for the writable end of `stream<T>`.
///
/// # Safety
///
/// As [`drop_readable`].
pub(crate) unsafe fn drop_writable<T: StreamPayload>(stream: u32) {
    // SAFETY: as in `drop_readable`.
    unsafe {
        if reactor::forget(stream) {
            (T::VTABLE.cancel_write)(stream);
        }
        (T::VTABLE.drop_writable)(stream);
    }
}

/// Cancels and drops `subtask` if it is still pending (registered); a
/// subtask whose end was delivered is its future's to drop.
pub(crate) fn cancel_subtask(subtask: u32) {
    if reactor::forget(subtask) {
        abi::cancel_subtask(subtask);
    }
}
