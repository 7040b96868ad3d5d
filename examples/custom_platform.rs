//! A custom [`Platform`]: virtual time. When every goroutine is asleep, the
//! clock jumps straight to the next timer instead of waiting for it, so hours
//! of `sleep` take microseconds, and the result is the same on every run
//! (tokio calls this "paused time"). docs/porting.md walks through it.
//!
//! Run with `cargo run --example custom_platform`.

use std::thread;
use std::time::Duration;

use gosched::platform::{Idle, Platform, Unparker};

/// A clock that only moves when the scheduler is idle.
struct VirtualTime {
    now: Duration,
}

impl Platform for VirtualTime {
    fn now(&self) -> Duration {
        self.now
    }

    fn before_idle(&mut self, deadline: Option<Duration>) -> Idle {
        match deadline {
            // Nothing can run before the next timer: be there at once.
            Some(deadline) => self.now = self.now.max(deadline),
            // No timer: only another thread can wake a goroutine (a waker of
            // a `block_on` future), and it calls our unparker when it does.
            None => thread::park(),
        }
        Idle::Resume
    }

    fn unparker(&self) -> Unparker {
        // Called on the scheduler's thread, so this is the thread that parks.
        let scheduler_thread = thread::current();
        Unparker::new(move || scheduler_thread.unpark())
    }
}

// `pub`: tests/examples.rs runs this as a test too.
pub fn main() {
    let platform = VirtualTime {
        now: Duration::ZERO,
    };
    let log = gosched::Runtime::new().platform(platform).run(|| {
        let shifts: Vec<_> = [8u64, 1, 4]
            .into_iter()
            .map(|hours| {
                gosched::go(move || {
                    gosched::sleep(Duration::from_secs(hours * 3600));
                    format!("{hours} h shift over at {:?}", gosched::now())
                })
            })
            .collect();
        // A goroutine woken from another OS thread, with no timer pending.
        let (tx, rx) = std::sync::mpsc::channel::<std::task::Waker>();
        let helper = thread::spawn(move || rx.recv().map(|waker| waker.wake()));
        let mut asked = false;
        gosched::block_on(std::future::poll_fn(|cx| {
            if asked {
                return std::task::Poll::Ready(());
            }
            asked = true;
            tx.send(cx.waker().clone()).expect("helper is listening");
            std::task::Poll::Pending
        }));
        helper.join().unwrap().expect("the waker arrived");
        let mut log: Vec<String> = shifts.into_iter().map(|h| h.join().unwrap()).collect();
        log.push(format!("all done at {:?}", gosched::now()));
        log
    });
    for line in &log {
        println!("{line}");
    }
    // Virtual time is exact: the last sleeper decides when main is done.
    assert_eq!(log.last().unwrap(), "all done at 28800s");
}
