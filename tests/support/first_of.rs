//! `first_of`: Go's `select` on two futures, for the WASIp3 tests that race
//! an import against a timer.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

/// Polls both futures until one is ready; the other is dropped (cancelling
/// what it had in flight).
pub fn first_of<A: Future, B: Future>(a: A, b: B) -> Result<A::Output, B::Output> {
    let (mut a, mut b) = (pin!(a), pin!(b));
    gosched::block_on(std::future::poll_fn(move |cx| {
        if let Poll::Ready(v) = a.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        b.as_mut().poll(cx).map(Err)
    }))
}
