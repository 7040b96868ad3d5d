//! Futures polled to their end without a goroutine: the waker polls them.
//!
//! For work that only waits for the host and has nothing to do in between,
//! such as an HTTP response's bytes that the host reads after the response
//! has been returned: a goroutine parked on it would be unwound and rewound
//! by Asyncify for nothing.
//!
//! 1. [`detach`] stores the future in this thread's table and polls it once.
//! 2. Its waker holds only the table index (so it is `Send`); a wake polls
//!    the future again, on the spot: wakes come from the reactor's event
//!    delivery, which holds no borrow of anything the future touches.
//! 3. A wake while the future is being polled (it is out of the table then)
//!    is remembered, and the poll is repeated before the future goes back.
//! 4. A finished future leaves the table; its slot is reused.
//!
//! Waitables the future registers join the set of the export task whose
//! callback polls it, as wit-bindgen's own (`reactor::as_host_task`): their
//! events wake the future from that task's callback, without a scheduler
//! run.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

type Detached = Pin<Box<dyn Future<Output = ()>>>;

/// A table slot: the future while it is not being polled, and whether a
/// wake came while it was.
#[derive(Default)]
struct Slot {
    future: Option<Detached>,
    polling: bool,
    woken: bool,
}

thread_local! {
    static TABLE: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
}

/// Runs `future` to its end, polled by its own wakes (steps 1-4).
pub(super) fn detach(future: impl Future<Output = ()> + 'static) {
    let index = TABLE.with_borrow_mut(|table| {
        let index = match table
            .iter()
            .position(|slot| slot.future.is_none() && !slot.polling)
        {
            Some(free) => free,
            None => {
                table.push(Slot::default());
                table.len() - 1
            }
        };
        table[index].future = Some(Box::pin(future));
        index
    });
    poll(index);
}

/// How many detached futures have not finished yet.
pub(super) fn pending() -> usize {
    TABLE.with_borrow(|table| {
        table
            .iter()
            .filter(|slot| slot.future.is_some() || slot.polling)
            .count()
    })
}

/// The waker of the future in slot `index`.
struct DetachedWake(usize);

impl Wake for DetachedWake {
    fn wake(self: Arc<Self>) {
        poll(self.0);
    }
}

/// Polls the future in slot `index` until it is pending with no wake
/// missed, or finished.
fn poll(index: usize) {
    let taken = TABLE.with_borrow_mut(|table| {
        let slot = &mut table[index];
        if slot.polling {
            // Step 3: the poll running now repeats.
            slot.woken = true;
            return None;
        }
        let future = slot.future.take()?;
        slot.polling = true;
        Some(future)
    });
    let Some(mut future) = taken else { return };
    let waker = Waker::from(Arc::new(DetachedWake(index)));
    loop {
        let done = super::reactor::as_host_task(|| {
            future
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_ready()
        });
        let again = TABLE.with_borrow_mut(|table| {
            let slot = &mut table[index];
            let again = !done && std::mem::take(&mut slot.woken);
            if !again {
                slot.polling = false;
                slot.woken = false;
            }
            again
        });
        if done {
            return;
        }
        if !again {
            break;
        }
    }
    TABLE.with_borrow_mut(|table| table[index].future = Some(future));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;
    use std::task::Poll;

    /// Pending `rounds` times; each poll stores its waker, and the first also
    /// wakes itself while being polled.
    struct Steps {
        polls: Rc<Cell<u32>>,
        rounds: u32,
        waker: Rc<RefCell<Option<Waker>>>,
    }

    impl Future for Steps {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let n = self.polls.get() + 1;
            self.polls.set(n);
            if n == 1 {
                cx.waker().wake_by_ref(); // step 3: a wake during its own poll
            }
            if n > self.rounds {
                return Poll::Ready(());
            }
            *self.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    #[test]
    fn a_detached_future_runs_to_its_end_on_its_wakes() {
        let polls = Rc::new(Cell::new(0));
        let waker = Rc::new(RefCell::new(None::<Waker>));
        detach(Steps {
            polls: polls.clone(),
            rounds: 3,
            waker: waker.clone(),
        });
        // Polled at once, and again for the wake during that poll.
        assert_eq!(polls.get(), 2);
        assert_eq!(pending(), 1);
        let wake = || waker.borrow_mut().take().expect("a stored waker");
        wake().wake();
        assert_eq!(polls.get(), 3);
        wake().wake();
        assert_eq!(polls.get(), 4, "the fourth poll finishes it");
        assert!(waker.borrow().is_none());
        assert_eq!(pending(), 0);
        // Its slot is free for the next one.
        detach(async {});
        TABLE.with_borrow(|table| assert!(table.iter().all(|slot| slot.future.is_none())));
    }
}
