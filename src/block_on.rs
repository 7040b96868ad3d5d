//! Running a `Future` to completion inside a goroutine.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::runtime::remote::FutureWake;
use crate::runtime::{scheduler, WaitReason};

/// Polls `future` to completion on the calling goroutine. While the future is
/// pending only this goroutine waits; the others keep running.
///
/// The waker is `Send + Sync`: waking it from another OS thread unparks the
/// scheduler's thread. A goroutine parked here counts as "can be woken" (no
/// deadlock) only while the future (or whoever it gave it to) holds a waker.
///
/// # Panics
///
/// Outside a goroutine.
///
/// ```
/// use std::sync::mpsc;
/// use std::task::Poll;
///
/// let answer = gosched::run(|| {
///     let (tx, rx) = mpsc::channel::<std::task::Waker>();
///     let helper = std::thread::spawn(move || rx.recv().unwrap().wake());
///     let mut polled = false;
///     gosched::block_on(std::future::poll_fn(move |cx| {
///         if polled {
///             return Poll::Ready(42);
///         }
///         polled = true;
///         tx.send(cx.waker().clone()).unwrap();
///         Poll::Pending
///     }))
///     .to_owned()
///     + helper.join().map(|_| 0).unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    block_on_as(WaitReason::Future, "gosched::block_on", future)
}

/// [`block_on`] for gosched's own waits, whose goroutine dump line says what
/// they wait for (`[IO wait]` for a socket or stdin, as in Go) rather than
/// `[future]`. `what` names the call in the panic outside a goroutine.
pub(crate) fn block_on_as<F: Future>(reason: WaitReason, what: &str, future: F) -> F::Output {
    let s = scheduler(what);
    let g = s.current();
    let wake = Arc::new(FutureWake::new(s.remote().clone(), g.slot.get(), g.id));
    drop(g);
    let mut future = pin!(future);
    loop {
        wake.take_woken();
        let waker = wake.waker();
        let poll = future.as_mut().poll(&mut Context::from_waker(&waker));
        drop(waker);
        if let Poll::Ready(output) = poll {
            return output;
        }
        if !wake.take_woken() {
            s.park_on_future(&wake, reason);
        }
    }
}
